//! Stage specs: each stage's command, env, inputs and datums, with params substituted
//! ([`stage_spec`], for runs on this machine) or left as `${name}` for a cluster to bind when the
//! run is submitted ([`stage_spec_template`], for Argo and TorchX).

use super::params::render;
use crate::ir::{Pipeline, Source, Stage};
use crate::types::{Datums, Kind, Piece, StageField, Ty, Value};
use indexmap::IndexMap;
use pipe_spec::{
    DatumSpec, EnvValue, EnvVar, GroupPart, InputSource, JoinPart, ParamType, STAGE_SPEC_FORMAT, StageInput, StageKind,
    StageSpec,
};

/// The spec of every stage, in topological order.
pub fn stage_specs(p: &Pipeline, params: &IndexMap<String, String>) -> Vec<StageSpec> {
    p.stages.iter().map(|s| stage_spec(p, s, params)).collect()
}

/// One stage's spec.
pub fn stage_spec(p: &Pipeline, stage: &Stage, params: &IndexMap<String, String>) -> StageSpec {
    build(p, stage, &|v| render(v, params))
}

/// One stage's spec with its params left as `${name}` (and literal `$` as `$$`), listed in
/// [`StageSpec::params`]: what a cluster binds to the values a run is submitted with.
pub fn stage_spec_template(p: &Pipeline, stage: &Stage) -> StageSpec {
    let mut used = Vec::new();
    for (name, value) in &stage.fields {
        if name != StageField::Datums.name() {
            params_in(value, &mut used);
        }
    }
    if used.is_empty() {
        // Nothing to bind: the spec is plain, `$` as written.
        return build(p, stage, &|v| render(v, &IndexMap::new()));
    }
    let mut spec = build(p, stage, &render_template);
    spec.params = p.params.iter().map(|q| q.name.clone()).filter(|n| used.contains(n)).collect();
    spec.param_types = p
        .params
        .iter()
        .filter(|q| used.contains(&q.name))
        .filter_map(|q| Some((q.name.clone(), param_type(&q.ty)?)))
        .collect();
    spec
}

/// How a run reads a value given for a param of type `ty`; `None` for text.
pub fn param_type(ty: &Ty) -> Option<ParamType> {
    match ty {
        Ty::Int => Some(ParamType::Int),
        Ty::Float => Some(ParamType::Float),
        Ty::Bool => Some(ParamType::Bool),
        _ => None,
    }
}

/// The text of a value with params as `${name}` and literal `$` doubled.
pub fn render_template(v: &Value) -> String {
    match v {
        Value::Str(pieces) => pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.replace('$', "$$"),
                Piece::Param(name) => format!("${{{name}}}"),
            })
            .collect(),
        Value::Param(name) => format!("${{{name}}}"),
        Value::List(items) => items.iter().map(render_template).collect::<Vec<_>>().join(" "),
        other => render(other, &IndexMap::new()).replace('$', "$$"),
    }
}

/// Every param `v` refers to, added to `out` once.
pub fn params_in(v: &Value, out: &mut Vec<String>) {
    let mut add = |name: &String| {
        if !out.contains(name) {
            out.push(name.clone());
        }
    };
    match v {
        Value::Param(name) => add(name),
        Value::Str(pieces) => pieces.iter().for_each(|p| {
            if let Piece::Param(name) = p {
                add(name);
            }
        }),
        Value::List(items) => items.iter().for_each(|i| params_in(i, out)),
        Value::Map(entries) => entries.values().for_each(|i| params_in(i, out)),
        _ => {}
    }
}

fn build(p: &Pipeline, stage: &Stage, render: &dyn Fn(&Value) -> String) -> StageSpec {
    let text = |field: StageField| stage.field(field).map(render);
    let list = |field: StageField| match stage.field(field) {
        Some(Value::List(items)) => items.iter().map(render).collect(),
        _ => Vec::new(),
    };
    let args = list(StageField::Args);
    let script = || text(StageField::Script).unwrap_or_default();
    let command = match stage.kind {
        Kind::Container => [list(StageField::Command), args].concat(),
        Kind::Python => {
            let interpreter = text(StageField::Interpreter).unwrap_or_else(|| "python".into());
            [vec![interpreter, script()], args].concat()
        }
        Kind::Ddp => [vec!["python".into(), script()], args].concat(),
        Kind::Shell => [vec!["sh".into(), "-c".into(), script(), "sh".into()], args].concat(),
    };
    let env = match stage.field(StageField::Env) {
        Some(Value::Map(vars)) => vars
            .iter()
            .map(|(name, v)| EnvVar {
                name: name.clone(),
                value: match v {
                    Value::Secret { name, key } => EnvValue::Secret { name: name.clone(), key: key.clone() },
                    other => EnvValue::Literal(render(other)),
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    let inputs = stage
        .reads
        .iter()
        .map(|name| StageInput {
            name: name.clone(),
            source: match p.input(name).map(|i| &i.source) {
                Some(Source::Repo { repo, reference }) => {
                    InputSource::Repo { repo: repo.clone(), reference: reference.clone(), commit: None }
                }
                Some(Source::Dir { path }) => InputSource::Dir { path: path.clone() },
                Some(Source::Url { url }) => InputSource::Url { url: url.clone() },
                Some(Source::Error) | None => InputSource::Stage { stage: name.clone() },
            },
        })
        .collect();
    StageSpec {
        format: STAGE_SPEC_FORMAT,
        pipeline: p.name.clone(),
        stage: stage.name.clone(),
        kind: match stage.kind {
            Kind::Container => StageKind::Container,
            Kind::Python => StageKind::Python,
            Kind::Shell => StageKind::Shell,
            Kind::Ddp => StageKind::Ddp,
        },
        image: text(StageField::Image).unwrap_or_default(),
        command,
        env,
        inputs,
        datums: stage.datums.as_ref().map(datum_spec),
        retries: stage.int(StageField::Retries).map_or(0, |n| u32::try_from(n).unwrap_or(0)),
        timeout_seconds: match stage.field(StageField::Timeout) {
            Some(Value::Duration(ms)) => Some(ms.div_ceil(1000)),
            _ => None,
        },
        parallelism: stage.int(StageField::Parallelism).and_then(|n| u32::try_from(n).ok()),
        require_datums: matches!(stage.field(StageField::RequireDatums), Some(Value::Bool(true))),
        params: Vec::new(),
        param_types: Default::default(),
        code: Vec::new(),
    }
}

fn datum_spec(d: &Datums) -> DatumSpec {
    match d {
        Datums::Glob { dataset, pattern, .. } => DatumSpec::Glob { input: dataset.clone(), pattern: pattern.clone() },
        Datums::Cross(parts) => DatumSpec::Cross(parts.iter().map(datum_spec).collect()),
        Datums::Union(parts) => DatumSpec::Union(parts.iter().map(datum_spec).collect()),
        Datums::Join(parts) => DatumSpec::Join(
            parts
                .iter()
                .map(|p| JoinPart { datums: datum_spec(&p.datums), on: p.on.clone(), outer: p.outer })
                .collect(),
        ),
        Datums::Group(parts) => DatumSpec::Group(
            parts.iter().map(|p| GroupPart { datums: datum_spec(&p.datums), by: p.by.clone() }).collect(),
        ),
    }
}
