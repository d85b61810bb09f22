//! A checked stage: the typed members every target reads.
//!
//! Takes nothing; gives [`Stage`], whose members (image, command, env, resources, placement,
//! retries, timeout, parallelism, datums, gang) are typed, each default already applied by the
//! checker, which builds them from the stage's fields in one place (`types::members`). A member
//! that may be a param is a [`Text`] (text with `${param}` pieces) or a [`Field`] (a literal or a
//! param); members that lay a run out before it starts (retries, timeout, parallelism, the gang)
//! are plain values, since the checker refuses params there. Does not render anything:
//! each target turns params into its own syntax.

use super::kind::Kind;
use super::value::{Datums, Piece, Quantity, Value};
use crate::source::Span;
use indexmap::IndexMap;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub kind: Kind,
    /// The template as written (`torchx.ddp`), if any.
    pub template: Option<String>,
    pub doc: Option<String>,
    /// Every field of the stage's schema that has a value, defaults included, as checked: what
    /// tools show, and the only home of fields a user's template adds.
    pub fields: IndexMap<String, Value>,
    /// The container image.
    pub image: Text,
    /// What runs in the image, by kind.
    pub program: Program,
    /// Arguments after the program's own words.
    pub args: Vec<Text>,
    pub env: IndexMap<String, EnvValue>,
    pub resources: Resources,
    pub placement: Placement,
    /// Extra attempts of a failed datum.
    pub retries: u32,
    /// How long one attempt of a datum may run, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The most shards (pods) a cluster run processes the stage with.
    pub parallelism: Option<u32>,
    /// Whether a stage whose datums match nothing fails instead of warning.
    pub require_datums: bool,
    pub datums: Option<Datums>,
    /// The JSON file of numbers each datum writes under `out/` (a path relative to it).
    pub metrics: Option<String>,
    /// The inputs and stages this stage reads, in order of appearance.
    pub reads: Vec<String>,
    /// Where each of `reads` is first named in the stage.
    #[serde(skip)]
    pub read_spans: Vec<Span>,
    /// The span of the stage's name.
    #[serde(skip)]
    pub span: Span,
}

impl Stage {
    /// How a `torchx.ddp` stage's gang meets; `None` for other kinds.
    pub fn gang(&self) -> Option<&Gang> {
        match &self.program {
            Program::Ddp { gang, .. } => Some(gang),
            _ => None,
        }
    }
}

/// What a stage runs, with what only its kind has.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Program {
    /// `command` then `args`.
    Container { command: Vec<Text> },
    /// `INTERPRETER SCRIPT ARGS…`.
    Python { interpreter: Text, script: Text },
    /// `sh -c SCRIPT sh ARGS…`.
    Shell { script: Text },
    /// `python SCRIPT ARGS…` in every process of a `torchrun` gang.
    Ddp { script: Text, gang: Gang },
}

/// A ddp stage's gang: `nnodes` nodes of `nproc_per_node` processes, meeting through `torchrun`'s
/// rendezvous on node 0. The checker refuses params in these fields, so each is a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gang {
    pub nnodes: i64,
    pub nproc_per_node: i64,
    pub rdzv_port: i64,
    pub rdzv_backend: String,
    pub max_restarts: i64,
}

impl Default for Gang {
    /// The defaults `stdlib/torchx.pipe` gives every ddp stage (which the checker fills in; a test
    /// holds the two together), for a stage that somehow lacks one.
    fn default() -> Gang {
        Gang { nnodes: 1, nproc_per_node: 1, rdzv_port: 29_500, rdzv_backend: "c10d".into(), max_restarts: 0 }
    }
}

/// A value the pipeline writes, or a param whose value the run is given.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field<T> {
    Literal(T),
    Param(String),
}

/// Text that may hold params: `"pytorch:${tag}"` is the text `pytorch:` then the param `tag`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Text(pub Vec<Piece>);

impl Text {
    pub fn plain(text: impl Into<String>) -> Text {
        Text(vec![Piece::Text(text.into())])
    }

    /// The text when it holds no param.
    pub fn as_plain(&self) -> Option<String> {
        Value::Str(self.0.clone()).as_plain_str()
    }

    /// The params it refers to, in order (repeats kept).
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Piece::Param(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// The text with literal pieces passed through `text` and params through `param`.
    pub fn render(&self, text: impl Fn(&str) -> String, param: impl Fn(&str) -> String) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => text(t),
                Piece::Param(name) => param(name),
            })
            .collect()
    }
}

/// The value of an environment variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvValue {
    Text(Text),
    /// `secret("NAME", "KEY")`: a key of a Kubernetes Secret.
    Secret {
        name: String,
        key: String,
    },
}

/// What a stage asks a node for.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Resources {
    pub cpu: Option<Field<Quantity>>,
    /// Bytes, as a Kubernetes quantity.
    pub memory: Option<Field<Quantity>>,
    pub gpu: Option<Field<i64>>,
}

impl Resources {
    /// Whether the stage asks for GPUs (a param counts: it may).
    pub fn wants_gpu(&self) -> bool {
        !matches!(self.gpu, None | Some(Field::Literal(0)))
    }
}

/// Which nodes a stage may run on.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Placement {
    /// Node labels the node must have.
    pub node_selector: IndexMap<String, Text>,
    /// The GPU model (the `nvidia.com/gpu.product` node label).
    pub gpu_type: Option<Text>,
    pub tolerations: Vec<Toleration>,
}

/// A Kubernetes toleration of a node taint.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Toleration {
    pub key: Option<Text>,
    pub operator: Option<Text>,
    pub value: Option<Text>,
    pub effect: Option<Text>,
}
