//! The runtime: runs stages datum by datum, reusing every datum whose key is cached.
//!
//! Takes `pipe-spec` stage specs and a `pipe-store` store; gives stage outputs as commits, cache
//! entries per processed datum, and a provenance record per run. Never depends on the language:
//! the compiler's stage spec is the whole contract. `pipe run` drives it on one machine;
//! `pipe-shim` drives the same steps inside containers.

pub mod code;
pub mod datums;
pub mod exec;
pub mod export;
pub mod glob;
pub mod guard;
pub mod lookup;
pub mod metrics;
pub mod pin;
pub mod points;
pub mod record;
pub mod run;
pub mod sandbox;
pub mod shim;
pub mod trigger;
