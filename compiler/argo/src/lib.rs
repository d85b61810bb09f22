//! `pipe compile --target argo`: a checked pipeline as Argo Workflows objects.
//!
//! Takes the IR of an error-free analysis, each stage's spec template
//! ([`pipe_core::emit::spec::stage_spec_template`], repo inputs pinned or not) and the param values
//! the run is submitted with; gives YAML files: the `ServiceAccount` pods run as with the least
//! `Role` they need and its `RoleBinding` ([`rbac`]), a `ConfigMap` of stage specs, a
//! `WorkflowTemplate`, a `Workflow` that submits it and, for a pipeline with a `schedule`, a
//! `CronWorkflow`. Output is byte-identical for equal input. Does no IO and talks to no cluster.
//!
//! Every pod gets the shim the way Argo's executor gets into pods: an init container copies the
//! static `pipe-shim` from its image into an `emptyDir`, and the stage's container runs
//! `pipe-shim run … -- COMMAND`. Objects over Argo's and Kubernetes' size limits are compile errors
//! (E5007), as is text Argo would read as one of its variables (E5008).

mod dag;
mod limits;
pub mod model;
pub mod names;
mod pod;
pub mod rbac;
mod status;
mod volcano;
pub mod yaml;

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use model::{
    API_VERSION, Arguments, CronWorkflowSpec, Object, Parameter, PodGc, TemplateRef, TtlStrategy, WorkflowSpec,
};
use pipe_core::diag::Diagnostic;
use pipe_core::ir::Pipeline;
use pipe_core::ir::Ty;
use pipe_spec::StageSpec;
use std::collections::BTreeMap;

/// What the cluster side looks like; every field has a default that works out of the box.
#[derive(Debug, Clone)]
pub struct Options {
    /// The image holding the static `pipe-shim` at `/pipe-shim`.
    pub shim_image: String,
    /// The Secret whose keys become every pipe container's environment: `PIPE_STORE` (the store's
    /// URL) and the store's credentials (`AWS_ACCESS_KEY_ID`, …).
    pub store_secret: String,
    /// The Volcano queue gang-scheduled stages go to.
    pub volcano_queue: String,
    /// The service account pods run as: the pipeline's `service_account`, or `<pipeline>-pipe`;
    /// either way `pipe compile` emits it with the Role it needs ([`rbac`]).
    pub service_account: Option<String>,
}

impl Options {
    pub fn new(p: &Pipeline) -> Options {
        Options {
            shim_image: format!("ghcr.io/pipe-dev/pipe-shim:{}", env!("CARGO_PKG_VERSION")),
            store_secret: "pipe-store".into(),
            volcano_queue: "default".into(),
            service_account: Some(rbac::account_name(p)),
        }
    }
}

/// One emitted file: its name, its YAML and the object itself (what `pipe deploy` applies).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub file: String,
    pub text: String,
    pub object: serde_json::Value,
}

/// How long finished workflows stay, in seconds: a day after success, a week after failure.
const TTL_SUCCESS: i32 = 86_400;
const TTL_FAILURE: i32 = 604_800;

/// Compiles `p` (with `specs`, one per stage in order) to Argo objects. `values` are the params
/// given at compile time (`--param`), which the `Workflow` submits with.
pub fn compile(
    p: &Pipeline,
    specs: &[StageSpec],
    values: &IndexMap<String, String>,
    opts: &Options,
) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
    limits::check_text(p, specs)?;
    let labels = labels(p);
    let meta = |name: Option<String>, generate: Option<String>| ObjectMeta {
        name,
        generate_name: generate,
        namespace: p.namespace.clone(),
        labels: Some(labels.clone()),
        ..Default::default()
    };

    let mut data = BTreeMap::new();
    for spec in specs {
        let mut json = serde_json::to_string(spec).expect("specs serialise");
        json.push('\n');
        data.insert(pod::spec_file(&spec.stage), json);
    }
    if let Some(trigger) = pipe_core::emit::spec::trigger_spec(p) {
        let mut json = serde_json::to_string(&trigger).expect("trigger specs serialise");
        json.push('\n');
        data.insert(dag::TRIGGER_FILE.to_owned(), json);
    }
    let config_map_name = config_map_name(&p.name, &data);
    let config_map =
        ConfigMap { metadata: meta(Some(config_map_name.clone()), None), data: Some(data), ..Default::default() };

    let volume = |name: &str| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    };
    let template_spec = WorkflowSpec {
        entrypoint: Some(dag::MAIN.into()),
        arguments: Some(Arguments { parameters: p.params.iter().map(workflow_param).collect() }),
        service_account_name: opts.service_account.clone(),
        security_context: Some(pod::pod_security()),
        pod_gc: Some(PodGc { strategy: "OnPodSuccess" }),
        on_exit: dag::has_gangs(p).then(|| dag::EXIT.to_owned()),
        ttl_strategy: Some(TtlStrategy { seconds_after_success: TTL_SUCCESS, seconds_after_failure: TTL_FAILURE }),
        pod_spec_patch: Some(pod::workflow_patch(opts)),
        volumes: vec![
            Volume {
                name: pod::SPEC_VOLUME.into(),
                config_map: Some(ConfigMapVolumeSource { name: config_map_name.clone(), ..Default::default() }),
                ..Default::default()
            },
            volume(pod::RUN_VOLUME),
        ],
        templates: dag::templates(p, specs, opts, &config_map_name),
        ..Default::default()
    };
    let template = Object {
        api_version: API_VERSION,
        kind: "WorkflowTemplate",
        metadata: meta(Some(p.name.clone()), None),
        spec: template_spec,
    };
    let submit = || WorkflowSpec {
        workflow_template_ref: Some(TemplateRef { name: p.name.clone() }),
        arguments: (!values.is_empty())
            .then(|| Arguments { parameters: values.iter().map(|(n, v)| model::parameter(n, v.clone())).collect() }),
        ..Default::default()
    };
    let workflow = Object {
        api_version: API_VERSION,
        kind: "Workflow",
        metadata: meta(None, Some(format!("{}-", p.name))),
        spec: submit(),
    };

    let ddp = dag::has_gangs(p);
    let (account, role, binding) = rbac::objects(p, opts, ddp, |name| meta(Some(name), None));
    let entry = |file: &'static str, object: serde_json::Value, text: String| (file, text, object);
    let mut out = vec![
        entry("service-account.yaml", to_value(&account), yaml::to_yaml(&account)),
        entry("role.yaml", to_value(&role), yaml::to_yaml(&role)),
        entry("role-binding.yaml", to_value(&binding), yaml::to_yaml(&binding)),
        entry("configmap.yaml", to_value(&config_map), yaml::to_yaml(&config_map)),
        entry("workflow-template.yaml", to_value(&template), yaml::to_yaml(&template)),
        entry("workflow.yaml", to_value(&workflow), yaml::to_yaml(&workflow)),
    ];
    // A schedule's ticks each run; a trigger's each check, and run only on new commits. Either
    // way a tick waits for the one before (`Forbid`); a trigger's tick that cannot start within
    // an interval is dropped, since the next one checks the same commits. Argo's cron controller
    // (`workflow/cron/operator.go`): `enforceRuntimePolicy` skips a tick under `Forbid` while
    // `status.active` holds a workflow, and `shouldOutstandingWorkflowsBeRun` runs a missed tick
    // only within `startingDeadlineSeconds` (0 or unset: always), so the deadline is set, not 0.
    let cron = match (&p.schedule, &p.trigger) {
        (Some(schedule), _) => Some((schedule.clone(), None)),
        (None, Some(t)) => Some((poll_schedule(t.poll_seconds), Some(t.poll_seconds))),
        (None, None) => None,
    };
    if let Some((schedule, deadline)) = cron {
        let cron = Object {
            api_version: API_VERSION,
            kind: "CronWorkflow",
            metadata: meta(Some(p.name.clone()), None),
            spec: CronWorkflowSpec {
                schedules: vec![schedule],
                concurrency_policy: "Forbid",
                starting_deadline_seconds: deadline,
                workflow_spec: submit(),
            },
        };
        out.push(entry("cron-workflow.yaml", to_value(&cron), yaml::to_yaml(&cron)));
    }
    let sizes: Vec<(&str, usize)> = out.iter().map(|(f, _, object)| (*f, limits::json_size(object))).collect();
    limits::check_sizes(p, specs, sizes.into_iter())?;
    limits::check_run(p, specs, limits::json_size(&template.spec))?;
    Ok(out.into_iter().map(|(file, text, object)| Manifest { file: file.into(), text, object }).collect())
}

/// The cron schedule of a check every `seconds` (whole minutes dividing an hour, or whole hours
/// dividing a day, as the checker requires): `*/5 * * * *`, `0 */6 * * *`, `0 0 * * *`.
fn poll_schedule(seconds: u64) -> String {
    let minutes = (seconds / 60).max(1);
    match minutes {
        1 => "* * * * *".into(),
        m if m < 60 => format!("*/{m} * * * *"),
        60 => "0 * * * *".into(),
        m if m < 1440 => format!("0 */{} * * *", m / 60),
        _ => "0 0 * * *".into(),
    }
}

/// `<pipeline>-specs-<8 hex of the specs>`: named by content, so deploying new specs while a run
/// is in flight (an overlapping cron tick) never changes what that run's later pods read. A
/// Workflow keeps the template spec it started with (`status.storedWorkflowSpec`, set once by
/// `setExecWorkflow` in Argo's `workflow/controller/operator.go`), and with it the name of its
/// ConfigMap; deploys add ConfigMaps and never rewrite one.
fn config_map_name(pipeline: &str, data: &BTreeMap<String, String>) -> String {
    let mut h = blake3::Hasher::new();
    for (file, text) in data {
        for part in [file, text] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    let hash = h.finalize().to_hex();
    format!("{}-{}", names::fit(&format!("{pipeline}-specs"), 54), &hash[..8])
}

fn to_value<T: serde::Serialize>(object: &T) -> serde_json::Value {
    serde_json::to_value(object).expect("manifests serialise")
}

fn labels(p: &Pipeline) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = p.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    l.insert("app.kubernetes.io/name".into(), p.name.clone());
    l.insert("app.kubernetes.io/managed-by".into(), "pipe".into());
    l
}

/// A pipeline param as a workflow argument: its default as text, `true`/`false` as the choices of
/// a bool, its doc comment as the description.
fn workflow_param(q: &pipe_core::ir::Param) -> Parameter {
    Parameter {
        name: q.name.clone(),
        value: q.default.as_ref().map(|d| pipe_core::emit::params::render(d, &IndexMap::new())),
        allowed: if q.ty == Ty::Bool { vec!["true".into(), "false".into()] } else { Vec::new() },
        description: q.doc.clone(),
    }
}
