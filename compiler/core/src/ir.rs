//! The typed pipeline: what every target compiles and the runtime runs.
//!
//! Takes nothing; gives the checked form of a pipeline file. Every stage field is resolved (the
//! template's defaults applied), every name is a plain string that is known to exist, and stages
//! are in topological order. Built even when there are errors, with `Value::Error` in the broken
//! places, so tools can show what is known; targets emit only from an error-free analysis.

use crate::source::Span;
use crate::types::{Datums, Kind, Ty, Value};
use indexmap::IndexMap;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Pipeline {
    /// DNS-1123 name: the `pipeline` block's `name`, or derived from the file name.
    pub name: String,
    pub schedule: Option<String>,
    pub service_account: Option<String>,
    pub namespace: Option<String>,
    pub labels: IndexMap<String, String>,
    pub store: Option<String>,
    pub params: Vec<Param>,
    pub inputs: Vec<Input>,
    /// In topological order: a stage comes after every stage it reads.
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    pub ty: Ty,
    pub default: Option<Value>,
    pub doc: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub name: String,
    pub source: Source,
    pub doc: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

/// Where an input's data comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Source {
    /// A data repo at a branch, tag or commit (`main` when not pinned).
    Repo { repo: String, reference: String },
    /// A local folder, snapshotted into a commit when the pipeline runs.
    Dir { path: String },
    /// A file or archive downloaded when the pipeline runs.
    Url { url: String },
    /// The source was malformed (already reported).
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub kind: Kind,
    /// The template as written (`torchx.ddp`), if any.
    pub template: Option<String>,
    pub doc: Option<String>,
    /// Every field of the stage's schema that has a value, defaults included.
    pub fields: IndexMap<String, Value>,
    pub datums: Option<Datums>,
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
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.field(name).and_then(Value::as_int)
    }
}

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }
}
