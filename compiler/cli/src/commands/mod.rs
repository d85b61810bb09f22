//! One module per subcommand; each `run` returns the process exit code.

pub mod check;
pub mod compile;
pub mod data;
pub mod deploy;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod log;
pub mod run;
