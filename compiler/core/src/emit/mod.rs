//! From a checked pipeline to what targets and the runtime consume.
//!
//! Takes an error-free [`Pipeline`](crate::ir::Pipeline) and param values; gives `pipe-spec`
//! stage specs (the contract with the runtime). Does no IO.

pub mod params;
pub mod spec;
