//! One module per subcommand; each `run` returns the process exit code.

pub(crate) mod check;
pub(crate) mod compile;
pub(crate) mod data;
pub(crate) mod deploy;
pub(crate) mod explain;
pub(crate) mod export;
pub(crate) mod fmt;
pub(crate) mod graph;
pub(crate) mod log;
pub(crate) mod run;
