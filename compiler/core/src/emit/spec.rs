//! Stage specs: each stage's command, env, inputs and datums, with params substituted
//! ([`stage_spec`], for runs on this machine) or left as `${name}` for a cluster to bind when the
//! run is submitted ([`stage_spec_template`], for Argo and TorchX); and the pipeline's trigger
//! ([`trigger_spec`]).

use super::params::render;
use crate::ir::{self, Datums, Kind, Piece, Pipeline, Program, Source, Stage, Text, Ty, Value};
use crate::types::StageField;
use indexmap::IndexMap;
use pipe_spec::{
    DatumSpec, EnvValue, EnvVar, GridAxis, GroupPart, InputSource, JoinPart, ParamType, PointParam, STAGE_SPEC_FORMAT,
    StageInput, StageKind, StageSpec, TRIGGER_SPEC_FORMAT, TriggerInput, TriggerSpec,
};

/// The pipeline's trigger, for a runtime to check: each watched input's repo and the branch (or
/// tag) it reads, resolved when each check runs.
pub fn trigger_spec(p: &Pipeline) -> Option<TriggerSpec> {
    let trigger = p.trigger.as_ref()?;
    let inputs = trigger
        .inputs
        .iter()
        .filter_map(|name| match p.input(name).map(|i| &i.source) {
            Some(Source::Repo { repo, reference }) => {
                Some(TriggerInput { name: name.clone(), repo: repo.clone(), reference: reference.clone() })
            }
            _ => None,
        })
        .collect();
    Some(TriggerSpec {
        format: TRIGGER_SPEC_FORMAT,
        pipeline: p.name.clone(),
        inputs,
        poll_seconds: trigger.poll_seconds,
    })
}

/// The spec of every stage, in topological order.
pub fn stage_specs(p: &Pipeline, params: &IndexMap<String, String>) -> Vec<StageSpec> {
    p.stages.iter().map(|s| stage_spec(p, s, params)).collect()
}

/// One stage's spec. A stage that sweeps params keeps them as `${name}` (and literal `$` as `$$`)
/// for each datum to fill ([`StageSpec::datum_params`]).
pub fn stage_spec(p: &Pipeline, stage: &Stage, params: &IndexMap<String, String>) -> StageSpec {
    let swept = swept(stage);
    if swept.is_empty() {
        return build(p, stage, params, &|t| bound_text(t, params));
    }
    let text = |t: &Text| {
        t.render(
            |lit| lit.replace('$', "$$"),
            |name| match swept.iter().any(|s| s == name) {
                true => format!("${{{name}}}"),
                false => params.get(name).cloned().unwrap_or_default().replace('$', "$$"),
            },
        )
    };
    let mut spec = build(p, stage, params, &text);
    spec.datum_params = swept;
    spec
}

/// One stage's spec with its params left as `${name}` (and literal `$` as `$$`), listed in
/// [`StageSpec::params`]: what a cluster binds to the values a run is submitted with. Swept params
/// stay for each datum ([`StageSpec::datum_params`]); a sweep's values are those of `params` (the
/// values the pipeline is compiled with), fixed like its globs.
pub fn stage_spec_template(p: &Pipeline, stage: &Stage, params: &IndexMap<String, String>) -> StageSpec {
    let swept = swept(stage);
    let mut used = Vec::new();
    for (name, value) in &stage.fields {
        if name != StageField::Datums.name() {
            params_in(value, &mut used);
        }
    }
    used.retain(|n| !swept.contains(n));
    if used.is_empty() && swept.is_empty() {
        // Nothing to bind: the spec is plain, `$` as written.
        return build(p, stage, params, &|t| bound_text(t, &IndexMap::new()));
    }
    let mut spec = build(p, stage, params, &template_text);
    spec.params = p.params.iter().map(|q| q.name.clone()).filter(|n| used.contains(n)).collect();
    spec.param_types = p
        .params
        .iter()
        .filter(|q| used.contains(&q.name))
        .filter_map(|q| Some((q.name.clone(), param_type(&q.ty)?)))
        .collect();
    spec.datum_params = swept;
    spec
}

fn swept(stage: &Stage) -> Vec<String> {
    stage.datums.as_ref().map(Datums::swept).unwrap_or_default()
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

fn build(p: &Pipeline, stage: &Stage, params: &IndexMap<String, String>, text: &dyn Fn(&Text) -> String) -> StageSpec {
    let words = |texts: &[Text]| texts.iter().map(text).collect::<Vec<_>>();
    let args = words(&stage.args);
    let command = match &stage.program {
        Program::Container { command } => [words(command), args].concat(),
        Program::Python { interpreter, script } => [vec![text(interpreter), text(script)], args].concat(),
        Program::Ddp { script, .. } => [vec!["python".into(), text(script)], args].concat(),
        Program::Shell { script } => [vec!["sh".into(), "-c".into(), text(script), "sh".into()], args].concat(),
    };
    let env = stage
        .env
        .iter()
        .map(|(name, v)| EnvVar {
            name: name.clone(),
            value: match v {
                ir::EnvValue::Secret { name, key } => EnvValue::Secret { name: name.clone(), key: key.clone() },
                ir::EnvValue::Text(t) => EnvValue::Literal(text(t)),
            },
        })
        .collect();
    let roles = stage.datums.as_ref().map(Datums::roles).unwrap_or_default();
    let inputs = roles
        .into_iter()
        .map(|(role, dataset)| StageInput {
            source: match p.input(&dataset).map(|i| &i.source) {
                Some(Source::Repo { repo, reference }) => {
                    InputSource::Repo { repo: repo.clone(), reference: reference.clone(), commit: None }
                }
                Some(Source::Dir { path }) => InputSource::Dir { path: path.clone() },
                Some(Source::Url { url }) => InputSource::Url { url: url.clone() },
                Some(Source::Error) | None => InputSource::Stage { stage: dataset.clone() },
            },
            dataset: (role != dataset).then_some(dataset),
            name: role,
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
        image: text(&stage.image),
        command,
        env,
        inputs,
        datums: stage.datums.as_ref().map(|d| datum_spec(p, d, params)),
        retries: stage.retries,
        timeout_seconds: stage.timeout_ms.map(|ms| ms.div_ceil(1000)),
        parallelism: stage.parallelism,
        require_datums: stage.require_datums,
        metrics: stage.metrics.clone(),
        params: Vec::new(),
        param_types: Default::default(),
        code: Vec::new(),
        pipeline_stages: p.stages.iter().map(|s| s.name.clone()).collect(),
        datum_params: Vec::new(),
    }
}

/// `text` with each param substituted from `params`.
pub fn bound_text(text: &Text, params: &IndexMap<String, String>) -> String {
    text.render(str::to_owned, |name| params.get(name).cloned().unwrap_or_default())
}

/// `text` with its params as `${name}` and literal `$` doubled, as a cluster binds it.
pub fn template_text(text: &Text) -> String {
    text.render(|t| t.replace('$', "$$"), |name| format!("${{{name}}}"))
}

fn datum_spec(p: &Pipeline, d: &Datums, params: &IndexMap<String, String>) -> DatumSpec {
    let datum_spec = |d: &Datums| datum_spec(p, d, params);
    match d {
        Datums::Glob { dataset, pattern, role, .. } => {
            DatumSpec::Glob { input: role.clone().unwrap_or_else(|| dataset.clone()), pattern: pattern.clone() }
        }
        Datums::Cross(parts) => DatumSpec::Cross(parts.iter().map(&datum_spec).collect()),
        Datums::Union(parts) => DatumSpec::Union(parts.iter().map(&datum_spec).collect()),
        Datums::Join(parts) => DatumSpec::Join(
            parts
                .iter()
                .map(|j| JoinPart { datums: datum_spec(&j.datums), on: j.on.clone(), outer: j.outer })
                .collect(),
        ),
        Datums::Group(parts) => DatumSpec::Group(
            parts.iter().map(|g| GroupPart { datums: datum_spec(&g.datums), by: g.by.clone() }).collect(),
        ),
        Datums::Grid(axes) => DatumSpec::Grid(axes.iter().map(|a| grid_axis(p, a, params)).collect()),
        Datums::Points { dataset, path, params: swept } => DatumSpec::Points {
            input: dataset.clone(),
            path: path.clone(),
            params: swept
                .iter()
                .map(|name| PointParam {
                    param: name.clone(),
                    ty: p
                        .params
                        .iter()
                        .find(|q| &q.name == name)
                        .and_then(|q| param_type(&q.ty))
                        .unwrap_or(ParamType::Text),
                })
                .collect(),
            loaded: None,
        },
        Datums::Sample { axes, n, seed } => {
            DatumSpec::Sample { axes: axes.iter().map(|a| grid_axis(p, a, params)).collect(), n: *n, seed: *seed }
        }
    }
}

/// An axis with its values as the text `${param}` becomes: each literal rendered, or a list
/// param's items (its default's, rendered one by one, when the run did not override it; else the
/// given list's canonical items).
fn grid_axis(p: &Pipeline, a: &ir::Axis, params: &IndexMap<String, String>) -> GridAxis {
    let values = match &a.values {
        Value::List(items) => items.iter().map(|i| render(i, params)).collect(),
        Value::Param(name) => {
            let resolved = params.get(name).cloned().unwrap_or_default();
            let default = p.params.iter().find(|q| &q.name == name).and_then(|q| q.default.as_ref());
            match default {
                Some(Value::List(items)) if render(&Value::List(items.clone()), params) == resolved => {
                    items.iter().map(|i| render(i, params)).collect()
                }
                _ => resolved.split_whitespace().map(str::to_owned).collect(),
            }
        }
        _ => Vec::new(),
    };
    GridAxis { param: a.param.clone(), values }
}
