//! A stage's checked fields as the IR's typed members.
//!
//! Takes a stage's kind and its fields (checked, defaults applied); gives [`Members`], read here
//! through the [`StageField`] table once, so no target spells a field's name. Raises nothing: the
//! checker has already reported every wrong value, which becomes the member's default here (a
//! broken analysis is never emitted). Params reach only members that can carry them; the checker
//! refuses them in the others.

use super::schema::{StageField, TOLERATION_FIELDS};
use crate::ir::{
    Datums, EnvValue, Field, Gang, Kind, Piece, Placement, Program, Quantity, Resources, Text, Toleration, Value,
};
use indexmap::IndexMap;

/// The typed members of one stage.
pub(super) struct Members {
    pub(super) image: Text,
    pub(super) program: Program,
    pub(super) args: Vec<Text>,
    pub(super) env: IndexMap<String, EnvValue>,
    pub(super) resources: Resources,
    pub(super) placement: Placement,
    pub(super) retries: u32,
    pub(super) timeout_ms: Option<u64>,
    pub(super) parallelism: Option<u32>,
    pub(super) require_datums: bool,
    pub(super) datums: Option<Datums>,
    pub(super) metrics: Option<String>,
}

pub(super) fn members(kind: Kind, fields: &IndexMap<String, Value>) -> Members {
    let get = |f: StageField| fields.get(f.name());
    let text_of = |f: StageField| get(f).and_then(text);
    let texts = |f: StageField| match get(f) {
        Some(Value::List(items)) => items.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let int = |f: StageField| get(f).and_then(Value::as_int);
    let script = || text_of(StageField::Script).unwrap_or_default();
    let program = match kind {
        Kind::Container => Program::Container { command: texts(StageField::Command) },
        Kind::Python => Program::Python {
            interpreter: text_of(StageField::Interpreter).unwrap_or_else(|| Text::plain("python")),
            script: script(),
        },
        Kind::Shell => Program::Shell { script: script() },
        Kind::Ddp => {
            let d = Gang::default();
            let int_or = |f: StageField, default: i64| int(f).unwrap_or(default);
            let gang = Gang {
                nnodes: int_or(StageField::Nnodes, d.nnodes).max(1),
                nproc_per_node: int_or(StageField::NprocPerNode, d.nproc_per_node).max(1),
                rdzv_port: int_or(StageField::RdzvPort, d.rdzv_port),
                rdzv_backend: text_of(StageField::RdzvBackend).and_then(|t| t.as_plain()).unwrap_or(d.rdzv_backend),
                max_restarts: int_or(StageField::MaxRestarts, d.max_restarts),
            };
            Program::Ddp { script: script(), gang }
        }
    };
    let env = match get(StageField::Env) {
        Some(Value::Map(vars)) => vars
            .iter()
            .filter_map(|(name, v)| {
                let value = match v {
                    Value::Secret { name, key } => EnvValue::Secret { name: name.clone(), key: key.clone() },
                    other => EnvValue::Text(text(other)?),
                };
                Some((name.clone(), value))
            })
            .collect(),
        _ => IndexMap::new(),
    };
    let resources = Resources {
        cpu: get(StageField::Cpu).and_then(quantity),
        memory: get(StageField::Memory).and_then(quantity),
        gpu: get(StageField::Gpu).and_then(|v| match v {
            Value::Int(n) => Some(Field::Literal(*n)),
            Value::Param(name) => Some(Field::Param(name.clone())),
            _ => None,
        }),
    };
    let placement = Placement {
        node_selector: match get(StageField::NodeSelector) {
            Some(Value::Map(labels)) => labels.iter().filter_map(|(k, v)| Some((k.clone(), text(v)?))).collect(),
            _ => IndexMap::new(),
        },
        gpu_type: text_of(StageField::GpuType),
        tolerations: match get(StageField::Tolerations) {
            Some(Value::List(items)) => items.iter().filter_map(toleration).collect(),
            _ => Vec::new(),
        },
    };
    Members {
        image: text_of(StageField::Image).unwrap_or_default(),
        program,
        args: texts(StageField::Args),
        env,
        resources,
        placement,
        retries: int(StageField::Retries).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        timeout_ms: match get(StageField::Timeout) {
            Some(Value::Duration(ms)) => Some(*ms),
            _ => None,
        },
        parallelism: int(StageField::Parallelism).and_then(|n| u32::try_from(n).ok()),
        require_datums: matches!(get(StageField::RequireDatums), Some(Value::Bool(true))),
        datums: match get(StageField::Datums) {
            Some(Value::Datums(d)) => Some(d.clone()),
            _ => None,
        },
        metrics: text_of(StageField::Metrics).and_then(|t| t.as_plain()),
    }
}

/// A string value (or a direct reference to a string param) as text.
fn text(v: &Value) -> Option<Text> {
    match v {
        Value::Str(pieces) => Some(Text(pieces.clone())),
        Value::Param(name) => Some(Text(vec![Piece::Param(name.clone())])),
        _ => None,
    }
}

/// A quantity (a plain number in a quantity field is one already) or a param.
fn quantity(v: &Value) -> Option<Field<Quantity>> {
    match v {
        Value::Quantity(q) => Some(Field::Literal(q.clone())),
        Value::Int(n) => Some(Field::Literal(Quantity { text: n.to_string(), milli: i128::from(*n) * 1000 })),
        Value::Param(name) => Some(Field::Param(name.clone())),
        _ => None,
    }
}

/// A `{ key, operator, value, effect }` record, read in the order of [`TOLERATION_FIELDS`].
fn toleration(v: &Value) -> Option<Toleration> {
    let Value::Map(record) = v else { return None };
    let [key, operator, value, effect] = TOLERATION_FIELDS.map(|(name, _)| record.get(name).and_then(text));
    Some(Toleration { key, operator, value, effect })
}
