//! The typed pipeline: what every target compiles and the runtime runs.
//!
//! Takes nothing; gives the checked form of a pipeline file and its vocabulary (types, values,
//! datum trees, stage kinds), which the checker builds and every target reads. Every stage field
//! is resolved (the template's defaults applied) into a typed member, every name is a plain string
//! that is known to exist, and stages are in topological order. Built even when there are errors,
//! with `Value::Error` (and defaults in typed members) in the broken places, so tools can show what
//! is known; targets emit only from an error-free analysis. Imports nothing from the checker.

mod kind;
mod stage;
mod value;

pub use kind::Kind;
pub use stage::{EnvValue, Field, Gang, Placement, Program, Resources, Stage, Text, Toleration};
pub use value::{Axis, Datums, GroupArg, JoinArg, Piece, Quantity, Ty, Value};

use crate::source::Span;
use indexmap::IndexMap;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Pipeline {
    /// DNS-1123 name: the `pipeline` block's `name`, or derived from the file name.
    pub name: String,
    pub schedule: Option<String>,
    /// The inputs whose new commits start a run, and how often that is checked.
    pub trigger: Option<Trigger>,
    pub service_account: Option<String>,
    pub namespace: Option<String>,
    pub labels: IndexMap<String, String>,
    pub store: Option<String>,
    pub params: Vec<Param>,
    pub inputs: Vec<Input>,
    /// In topological order: a stage comes after every stage it reads.
    pub stages: Vec<Stage>,
}

/// `trigger = [models]` and `poll = 5m` of the `pipeline` block: repo inputs only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    pub inputs: Vec<String>,
    pub poll_seconds: u64,
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

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

#[cfg(test)]
mod gang_tests {
    use super::*;
    use crate::types::StageField;

    /// `Gang::default()` says again what `stdlib/torchx.pipe` says; the two must agree.
    #[test]
    fn gang_defaults_are_the_stdlibs() {
        let text = "use torchx\n\nstage t: torchx.ddp {\n  image  = \"pytorch\"\n  script = \"train.py\"\n}\n";
        let a = crate::analyze(&crate::resolve::NoFiles, "p.pipe", text);
        assert!(!a.has_errors(), "{:?}", a.diagnostics);
        let stage = &a.pipeline().stages[0];
        let d = Gang::default();
        let field = |f: StageField| stage.fields.get(f.name());
        let from_stdlib = |f: StageField| {
            field(f).and_then(Value::as_int).unwrap_or_else(|| panic!("the stdlib gives `{}` a default", f.name()))
        };
        assert_eq!(from_stdlib(StageField::Nnodes), d.nnodes);
        assert_eq!(from_stdlib(StageField::NprocPerNode), d.nproc_per_node);
        assert_eq!(from_stdlib(StageField::RdzvPort), d.rdzv_port);
        assert_eq!(from_stdlib(StageField::MaxRestarts), d.max_restarts);
        let backend = field(StageField::RdzvBackend).and_then(Value::as_plain_str);
        assert_eq!(backend.as_deref(), Some(d.rdzv_backend.as_str()));
        assert_eq!(stage.gang(), Some(&d), "the typed gang is the stdlib's");
    }
}
