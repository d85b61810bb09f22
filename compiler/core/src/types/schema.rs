//! Field schemas: what a stage, a template and the `pipeline` block accept.
//!
//! Takes nothing; gives the builtin stage fields every stage has, the pipeline block's fields and
//! the [`Schema`] type templates extend. Each field has a type, an optional default, whether it is
//! required, and a doc that reaches hover and generated code.

use crate::ir::{Kind, Ty, Value};
use crate::source::Span;
use indexmap::IndexMap;

/// Every stage field the compiler itself reads: the builtin ones every stage has and those of the
/// standard templates (`stdlib/torchx.pipe`). Their names are spelled here once; targets and the
/// checker read fields through this, never by string ([`crate::ir::Stage::field`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageField {
    Image,
    Command,
    Args,
    Env,
    Cpu,
    Memory,
    Gpu,
    GpuType,
    NodeSelector,
    Tolerations,
    Retries,
    Timeout,
    Parallelism,
    RequireDatums,
    Datums,
    Metrics,
    /// `torchx.python`, `torchx.shell`, `torchx.ddp`.
    Script,
    /// `torchx.python`.
    Interpreter,
    /// `torchx.ddp`.
    Nnodes,
    NprocPerNode,
    RdzvBackend,
    RdzvPort,
    MaxRestarts,
}

impl StageField {
    /// The field's name as a pipeline spells it.
    pub const fn name(self) -> &'static str {
        match self {
            StageField::Image => "image",
            StageField::Command => "command",
            StageField::Args => "args",
            StageField::Env => "env",
            StageField::Cpu => "cpu",
            StageField::Memory => "memory",
            StageField::Gpu => "gpu",
            StageField::GpuType => "gpu_type",
            StageField::NodeSelector => "node_selector",
            StageField::Tolerations => "tolerations",
            StageField::Retries => "retries",
            StageField::Timeout => "timeout",
            StageField::Parallelism => "parallelism",
            StageField::RequireDatums => "require_datums",
            StageField::Datums => "datums",
            StageField::Metrics => "metrics",
            StageField::Script => "script",
            StageField::Interpreter => "interpreter",
            StageField::Nnodes => "nnodes",
            StageField::NprocPerNode => "nproc_per_node",
            StageField::RdzvBackend => "rdzv_backend",
            StageField::RdzvPort => "rdzv_port",
            StageField::MaxRestarts => "max_restarts",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    pub ty: Ty,
    pub default: Option<Value>,
    pub required: bool,
    pub doc: String,
    /// Where a template declared it; `None` for builtin fields.
    pub declared: Option<Span>,
}

/// The fields a stage of some template accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// `torchx.ddp`, `finetune`, or `stage` for plain stages.
    pub name: String,
    pub kind: Kind,
    pub fields: IndexMap<String, FieldInfo>,
    pub doc: Option<String>,
    pub declared: Option<Span>,
}

fn field(ty: Ty, required: bool, doc: &str) -> FieldInfo {
    FieldInfo { ty, default: None, required, doc: doc.to_string(), declared: None }
}

fn strings() -> Ty {
    Ty::List(Box::new(Ty::String))
}

/// The fields of every stage.
pub fn stage_schema() -> Schema {
    let fields = [
        (
            StageField::Image.name(),
            field(Ty::String, true, "The container image the stage runs in, e.g. `\"python:3.11-slim\"`."),
        ),
        (
            StageField::Command.name(),
            field(strings(), false, "The command to run, as a list; the image's entrypoint if absent."),
        ),
        (
            StageField::Args.name(),
            field(strings(), false, "Arguments appended to the command (or passed to a template's script)."),
        ),
        (
            StageField::Env.name(),
            field(
                Ty::Map(Box::new(Ty::EnvValue)),
                false,
                "Environment variables: strings, or `secret(NAME, KEY)` references that never appear in manifests.",
            ),
        ),
        (StageField::Cpu.name(), field(Ty::Quantity, false, "CPU cores requested per replica: `2`, `0.5` or `500m`.")),
        (StageField::Memory.name(), field(Ty::Quantity, false, "Memory requested per replica: `512Mi`, `64Gi`.")),
        (StageField::Gpu.name(), field(Ty::Int, false, "GPUs per replica (`nvidia.com/gpu`).")),
        (
            StageField::GpuType.name(),
            field(Ty::String, false, "The GPU model, e.g. `\"nvidia-a100-80gb\"`; becomes a node selector."),
        ),
        (
            StageField::NodeSelector.name(),
            field(Ty::Map(Box::new(Ty::String)), false, "Node labels the stage's pods must match."),
        ),
        (
            StageField::Tolerations.name(),
            field(
                Ty::List(Box::new(Ty::Toleration)),
                false,
                "Taints the stage's pods tolerate: `{ key = \"nvidia.com/gpu\", operator = \"Exists\", effect = \"NoSchedule\" }`.",
            ),
        ),
        (
            StageField::Retries.name(),
            field(Ty::Int, false, "How many times a failed datum is retried before the stage fails."),
        ),
        (
            StageField::Timeout.name(),
            field(Ty::Duration, false, "How long one datum may run before it is stopped: `30m`, `6h`."),
        ),
        (StageField::Parallelism.name(), field(Ty::Int, false, "At most this many datums (or shards) run at once.")),
        (
            StageField::RequireDatums.name(),
            field(
                Ty::Bool,
                false,
                "Fail the stage when its `datums` match nothing (a typo in a path, an empty folder), instead of a warning: what a scheduled production run wants.",
            ),
        ),
        (
            StageField::Datums.name(),
            field(
                Ty::Datums,
                false,
                "How the stage's inputs split into datums: `glob`, `cross`, `union`, `join`, `group`. Without it the stage runs once with no input.",
            ),
        ),
        (
            StageField::Metrics.name(),
            field(
                Ty::String,
                false,
                "A JSON file of numbers each datum's command writes under `out/` (e.g. `\"metrics.json\"`, or in a folder of its own: `out/<name>/metrics.json`); recorded with the run, shown and compared by `pipe log`.",
            ),
        ),
    ];
    Schema {
        name: "stage".into(),
        kind: Kind::Container,
        fields: fields.into_iter().map(|(n, f)| (n.to_string(), f)).collect(),
        doc: None,
        declared: None,
    }
}

/// The fields of the optional `pipeline { … }` block.
pub fn pipeline_schema() -> IndexMap<String, FieldInfo> {
    [
        ("name", field(Ty::String, false, "The pipeline's name on the cluster; the file's name by default.")),
        ("schedule", field(Ty::String, false, "A cron schedule (`\"0 3 * * *\"`) to run the pipeline on.")),
        (
            "trigger",
            field(
                Ty::List(Box::new(Ty::Dataset)),
                false,
                "Repo inputs whose new commits start a run (`[models]`): a cluster checks every `poll`, `pipe run --watch` as often.",
            ),
        ),
        ("poll", field(Ty::Duration, false, "How often a `trigger` is checked: at least 1m (5m by default).")),
        ("service_account", field(Ty::String, false, "The Kubernetes service account the pipeline's pods run as.")),
        ("namespace", field(Ty::String, false, "The Kubernetes namespace to deploy into.")),
        ("labels", field(Ty::Map(Box::new(Ty::String)), false, "Labels put on every object the pipeline creates.")),
        (
            "store",
            field(Ty::String, false, "Where data and cache live: `s3://bucket/prefix`, `gs://…`, `az://…` or a path."),
        ),
    ]
    .into_iter()
    .map(|(n, f)| (n.to_string(), f))
    .collect()
}

/// The fields of a toleration record, with their allowed values (empty: any string).
pub const TOLERATION_FIELDS: [(&str, &[&str]); 4] = [
    ("key", &[]),
    ("operator", &["Exists", "Equal"]),
    ("value", &[]),
    ("effect", &["NoSchedule", "PreferNoSchedule", "NoExecute"]),
];
