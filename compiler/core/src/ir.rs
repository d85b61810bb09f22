//! The typed pipeline: what every target compiles and the runtime runs.
//!
//! Takes nothing; gives the checked form of a pipeline file. Every stage field is resolved (the
//! template's defaults applied), every name is a plain string that is known to exist, and stages
//! are in topological order. Built even when there are errors, with `Value::Error` in the broken
//! places, so tools can show what is known; targets emit only from an error-free analysis.

use crate::source::Span;
use crate::types::{Datums, Kind, StageField, Ty, Value};
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
    /// The value of `field`, as written or defaulted.
    pub fn field(&self, field: StageField) -> Option<&Value> {
        self.fields.get(field.name())
    }

    /// `field`'s value when it is an int literal.
    pub fn int(&self, field: StageField) -> Option<i64> {
        self.field(field).and_then(Value::as_int)
    }

    /// How a `torchx.ddp` stage's gang meets, read once for every target; `None` for other kinds.
    pub fn gang(&self) -> Option<Gang> {
        if self.kind != Kind::Ddp {
            return None;
        }
        let int = |field: StageField, default: i64| self.int(field).unwrap_or(default);
        let d = Gang::default();
        Some(Gang {
            nnodes: int(StageField::Nnodes, d.nnodes).max(1),
            nproc_per_node: int(StageField::NprocPerNode, d.nproc_per_node).max(1),
            rdzv_port: int(StageField::RdzvPort, d.rdzv_port),
            rdzv_backend: self.field(StageField::RdzvBackend).and_then(Value::as_plain_str).unwrap_or(d.rdzv_backend),
            max_restarts: int(StageField::MaxRestarts, d.max_restarts),
        })
    }
}

/// A ddp stage's gang: `nnodes` nodes of `nproc_per_node` processes, meeting through `torchrun`'s
/// rendezvous on node 0. Params are refused in these fields (E3017), so each is a value.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// `Gang::default()` says again what `stdlib/torchx.pipe` says; the two must agree.
    #[test]
    fn gang_defaults_are_the_stdlibs() {
        let text = "use torchx\n\nstage t: torchx.ddp {\n  image  = \"pytorch\"\n  script = \"train.py\"\n}\n";
        let a = crate::analyze(&crate::resolve::NoFiles, "p.pipe", text);
        assert!(!a.has_errors(), "{:?}", a.diagnostics);
        let stage = &a.pipeline().stages[0];
        let d = Gang::default();
        let from_stdlib =
            |f: StageField| stage.int(f).unwrap_or_else(|| panic!("the stdlib gives `{}` a default", f.name()));
        assert_eq!(from_stdlib(StageField::Nnodes), d.nnodes);
        assert_eq!(from_stdlib(StageField::NprocPerNode), d.nproc_per_node);
        assert_eq!(from_stdlib(StageField::RdzvPort), d.rdzv_port);
        assert_eq!(from_stdlib(StageField::MaxRestarts), d.max_restarts);
        let backend = stage.field(StageField::RdzvBackend).and_then(Value::as_plain_str);
        assert_eq!(backend, Some(d.rdzv_backend));
        let gang = stage.gang().expect("a ddp stage has a gang");
        assert_eq!((gang.nnodes, gang.rdzv_port, gang.rdzv_backend.as_str()), (1, 29_500, "c10d"));
    }
}
