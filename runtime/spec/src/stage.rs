//! The stage spec: everything the runtime needs to run one stage, and nothing of the language.
//!
//! The compiler emits one per stage (`pipe run` in memory; Argo and TorchX as a file for
//! `pipe-shim`); the runtime reads it. Param values are already substituted, so the spec says
//! exactly what runs, and its [`StageSpec::fingerprint`] changes exactly when that does.

use crate::hash::Hash;
use crate::manifest::{CommitId, FileEntry};
use serde::{Deserialize, Serialize};

/// The format number of [`StageSpec`].
pub const STAGE_SPEC_FORMAT: u32 = 1;

/// The version of the datum and caching rules; part of every fingerprint, so a change to how
/// datums are processed invalidates what older rules cached.
pub const RUNTIME_RULES_VERSION: &str = "pipe-runtime-1";

/// One stage, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    pub format: u32,
    pub pipeline: String,
    pub stage: String,
    /// `container`, `python`, `shell` or `ddp`: how the command was built (and, for `ddp`, that
    /// targets launch it as a gang).
    pub kind: String,
    pub image: String,
    /// The full argv, params substituted.
    pub command: Vec<String>,
    pub env: Vec<EnvVar>,
    /// The datasets the stage reads, by the names its datum expression uses.
    pub inputs: Vec<StageInput>,
    /// `None`: the stage runs once, with no input.
    pub datums: Option<DatumSpec>,
    pub retries: u32,
    pub timeout_seconds: Option<u64>,
    /// At most this many datums at once (`None`: as many as the runner allows).
    pub parallelism: Option<u32>,
}

impl StageSpec {
    /// blake3 of everything that decides what the stage computes: image, command, env (secret
    /// references by name, never values), kind and the runtime's rules. Not the stage's name or
    /// datums: renaming a stage or regrouping its inputs keeps results whose inputs are the same.
    pub fn fingerprint(&self) -> Hash {
        #[derive(Serialize)]
        struct Fingerprinted<'a> {
            rules: &'a str,
            kind: &'a str,
            image: &'a str,
            command: &'a [String],
            env: &'a [EnvVar],
        }
        let f = Fingerprinted {
            rules: RUNTIME_RULES_VERSION,
            kind: &self.kind,
            image: &self.image,
            command: &self.command,
            env: &self.env,
        };
        Hash::of(&serde_json::to_vec(&f).expect("fingerprints serialise"))
    }
}

/// An environment variable of the stage's command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
}

/// A literal value, or a reference to a secret the cluster (or the local environment) holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvValue {
    Literal(String),
    Secret { name: String, key: String },
}

/// A dataset a stage reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInput {
    /// The name the datum expression uses (an input or an upstream stage).
    pub name: String,
    pub source: InputSource,
}

/// Where a stage's input comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSource {
    /// A commit of a data repo (resolved from a branch or tag when the pipeline was compiled or
    /// started).
    Repo { repo: String, reference: String, commit: Option<CommitId> },
    /// The output of an upstream stage, in this run.
    Stage { stage: String },
    /// A local folder, snapshotted when the run starts.
    Dir { path: String },
    /// A file or archive downloaded when the run starts.
    Url { url: String },
}

/// How a stage's inputs split into datums. See GRAMMAR.md, "Datums".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatumSpec {
    Glob { input: String, pattern: String },
    Cross(Vec<DatumSpec>),
    Union(Vec<DatumSpec>),
    Join(Vec<DatumSpec>),
    Group { inner: Box<DatumSpec>, by: Vec<usize> },
}

/// The format number of [`CacheEntry`].
pub const CACHE_FORMAT: u32 = 1;

/// What one processed datum produced: stored at `cache/<stage fingerprint>/<datum key>`, written
/// only after every output object is stored, and only for a datum whose command succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub format: u32,
    pub stage: String,
    pub datum: String,
    /// The datum's outputs, paths relative to `out/`.
    pub files: Vec<FileEntry>,
    pub seconds: f64,
}
