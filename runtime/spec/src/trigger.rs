//! The trigger spec: which inputs' new commits start a run of a pipeline, and how often a cluster
//! looks. The compiler emits one per pipeline with a `trigger` (beside its stage specs); the
//! runtime (`pipe run --watch`, `pipe-shim trigger`) reads it. Plain data.

use serde::{Deserialize, Serialize};

/// The format number of [`TriggerSpec`].
pub const TRIGGER_SPEC_FORMAT: u32 = 1;

/// A pipeline's trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSpec {
    pub format: u32,
    pub pipeline: String,
    /// The inputs whose new commits start a run, each resolved when a check runs.
    pub inputs: Vec<TriggerInput>,
    /// How often a check runs, in seconds (at least 60).
    pub poll_seconds: u64,
}

/// One input a trigger watches: its name in the pipeline, its repo and the branch (or tag) read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerInput {
    pub name: String,
    pub repo: String,
    pub reference: String,
}
