//! Pod-level parts, as `k8s-openapi` types: the shim's install step, the containers that run
//! `pipe-shim`, resources, node selection, tolerations and the restrictive security defaults.
//!
//! Takes a stage of the IR and its stage spec; gives containers and pod settings. Where a value
//! is a param it becomes `{{workflow.parameters.NAME}}`, which Argo fills in when the run starts.
//! Secrets appear only as `secretKeyRef`; the store's location and credentials come from one
//! Secret through `envFrom`.

use crate::Options;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvFromSource, EnvVar, EnvVarSource, PodSecurityContext, PodSpec, ResourceRequirements,
    SeccompProfile, SecretEnvSource, SecretKeySelector, SecurityContext, Toleration, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pipe_core::ir::{self, Field, Stage, Text};
use pipe_spec::{EnvValue, StageSpec};
use std::collections::BTreeMap;

/// The `emptyDir` every pipe container mounts: the shim binary and the work folders.
pub(crate) const RUN_DIR: &str = "/pipe/run";
/// Where the shim binary is shared between the init container and the stage's container.
pub(crate) const BIN_DIR: &str = "/pipe/run/bin";
/// Where the stage specs (the ConfigMap) are mounted.
pub(crate) const SPEC_DIR: &str = "/pipe/spec";
/// Where datums' work folders go (in the `emptyDir`, so any user can write there).
pub(crate) const WORK_DIR: &str = "/pipe/run/work";
/// The shim's path inside its own image.
pub(crate) const SHIM_IN_IMAGE: &str = "/pipe-shim";
/// Volume names, declared once on the workflow and mounted by each pod that needs them.
/// Two volumes, not three: each template's container mounts them itself (see [`workflow_patch`]),
/// so every mount is paid for once per stage in the WorkflowTemplate's size.
pub(crate) const SPEC_VOLUME: &str = "pipe-spec";
pub(crate) const RUN_VOLUME: &str = "pipe-run";
/// The node label GPU feature discovery puts on each node: the GPU model.
pub(crate) const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";
pub(crate) const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// The user and group pods run as unless the image says otherwise (the distroless `nonroot`).
pub(crate) const RUN_AS: i64 = 65_532;

/// The Argo expression for a param's value.
pub(crate) fn param_ref(name: &str) -> String {
    format!("{{{{workflow.parameters.{name}}}}}")
}

/// Text as Argo reads it: literal pieces as written, params as `{{workflow.parameters.…}}`.
pub(crate) fn argo_text(text: &Text) -> String {
    text.render(str::to_owned, param_ref)
}

/// A literal or a param as an Argo quantity.
fn argo_quantity<T>(field: &Field<T>, literal: impl Fn(&T) -> String) -> Quantity {
    Quantity(match field {
        Field::Literal(value) => literal(value),
        Field::Param(name) => param_ref(name),
    })
}

/// The stage spec with its params bound to Argo's expressions for them: what the container runs.
pub(crate) fn argo_bound(spec: &StageSpec) -> StageSpec {
    spec.with_placeholders(param_ref)
}

/// The pod-level security context: non-root, the runtime's default seccomp profile.
pub(crate) fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
        ..Default::default()
    }
}

/// The container-level security context: no privilege escalation, every capability dropped.
pub(crate) fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), ..Default::default() }
}

/// `PIPE_PARAM_<name>` for each param in `params`: how the shared `plan` and `commit` steps,
/// which serve every stage, receive the values of the params the stage's spec leaves open.
pub(crate) fn param_env(params: &[String]) -> Vec<EnvVar> {
    params.iter().map(|p| env(&format!("PIPE_PARAM_{p}"), param_ref(p))).collect()
}

/// The store's location and credentials: every key of the store Secret as a variable.
pub(crate) fn store_env(opts: &Options) -> Vec<EnvFromSource> {
    vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource { name: opts.store_secret.clone(), optional: Some(false) }),
        ..Default::default()
    }]
}

/// The init container that copies the shim into the shared `emptyDir`, as Argo's executor does.
pub(crate) fn install_container(opts: &Options) -> Container {
    Container {
        name: "pipe-shim".into(),
        image: Some(opts.shim_image.clone()),
        command: Some(vec![SHIM_IN_IMAGE.into(), "install".into(), BIN_DIR.into()]),
        volume_mounts: Some(vec![mount(RUN_VOLUME, RUN_DIR, false)]),
        // It writes only into the shared `emptyDir`.
        security_context: Some(SecurityContext { read_only_root_filesystem: Some(true), ..container_security() }),
        resources: Some(small_resources()),
        ..Default::default()
    }
}

/// What every pod of the workflow shares, as the workflow's `podSpecPatch` (Argo merges it into
/// each pod by container name): the shim's init container, and on the `main` container the store
/// Secret and the restrictive security context. Said once here instead of in every template, so a
/// pipeline of 1,000 stages stays within Kubernetes' object size limit. The volume mounts cannot
/// be here: Argo copies a workflow volume into a pod only when the template's own containers
/// mount it (`addVolumeReferences` in `workflow/controller/workflowpod.go`), before it applies
/// any patch, so each template's container mounts them ([`main_mounts`]).
pub(crate) fn workflow_patch(opts: &Options) -> String {
    let patch = PodSpec {
        init_containers: Some(vec![install_container(opts)]),
        containers: vec![Container {
            name: "main".into(),
            env: Some(run_env()),
            env_from: Some(store_env(opts)),
            security_context: Some(container_security()),
            ..Default::default()
        }],
        ..Default::default()
    };
    serde_json::to_string(&patch).expect("pod specs serialise")
}

/// The spec volume and the shim-and-work volume, mounted by every container that runs the shim.
fn main_mounts() -> Vec<VolumeMount> {
    vec![mount(SPEC_VOLUME, SPEC_DIR, true), mount(RUN_VOLUME, RUN_DIR, false)]
}

/// `PIPE_RUN` (the workflow's name) and `PIPE_WORK`: the same for every step of a run.
fn run_env() -> Vec<EnvVar> {
    vec![env("PIPE_RUN", "{{workflow.name}}"), env("PIPE_WORK", WORK_DIR)]
}

/// `--spec FILE`: the argument every shim step starts with.
fn shim_globals(spec_file: &str) -> Vec<String> {
    vec!["--spec".into(), format!("{SPEC_DIR}/{spec_file}")]
}

/// A container of the shim's own image running `pipe-shim --spec … ARGS…` for stage spec
/// `spec_file`, with the values of `params` in its environment.
pub(crate) fn shim_step(args: Vec<String>, spec_file: &str, params: &[String], opts: &Options) -> Container {
    Container {
        name: "main".into(),
        image: Some(opts.shim_image.clone()),
        command: Some([vec![SHIM_IN_IMAGE.to_owned()], shim_globals(spec_file), args].concat()),
        env: (!params.is_empty()).then(|| param_env(params)),
        volume_mounts: Some(main_mounts()),
        resources: Some(small_resources()),
        ..Default::default()
    }
}

fn small_resources() -> ResourceRequirements {
    let q = |s: &str| Quantity(s.to_owned());
    ResourceRequirements {
        requests: Some(BTreeMap::from([("cpu".into(), q("100m")), ("memory".into(), q("128Mi"))])),
        limits: Some(BTreeMap::from([("memory".into(), q("512Mi"))])),
        ..Default::default()
    }
}

/// Whether a container carries what every pipe pod needs itself ([`Shared::Inline`], for pods
/// Argo does not create, such as a Volcano Job's) or gets it from [`workflow_patch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shared {
    Inline,
    FromPatch,
}

/// The stage's container, in its own image: `pipe-shim --spec … [--param …] run ARGS… --
/// COMMAND…`, its secrets as `secretKeyRef`s, its resources.
pub(crate) fn stage_container(
    opts: &Options,
    stage: &Stage,
    spec: &StageSpec,
    run_args: Vec<String>,
    command: Vec<String>,
    shared: Shared,
) -> Container {
    let bound = argo_bound(spec);
    let mut argv = [vec![format!("{BIN_DIR}/pipe-shim")], shim_globals(&spec_file(&spec.stage))].concat();
    for p in &spec.params {
        argv.extend(["--param".to_owned(), format!("{p}={}", param_ref(p))]);
    }
    argv.push("run".into());
    argv.extend(run_args);
    // No command: the shim runs the one in the stage's spec.
    if !command.is_empty() {
        argv.push("--".to_owned());
        argv.extend(command);
    }
    let inline = shared == Shared::Inline;
    let base = if inline { run_env() } else { Vec::new() };
    let vars: Vec<EnvVar> = base
        .into_iter()
        .chain(spec.env.iter().filter_map(|v| match &v.value {
            EnvValue::Secret { name, key } => Some(EnvVar {
                name: v.name.clone(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector { name: name.clone(), key: key.clone(), optional: None }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            // Literal values reach the command through the spec; the container needs only secrets.
            EnvValue::Literal(_) => None,
        }))
        .collect();
    Container {
        name: "main".into(),
        image: Some(bound.image.clone()),
        command: Some(argv),
        env: (!vars.is_empty()).then_some(vars),
        env_from: inline.then(|| store_env(opts)),
        volume_mounts: Some(main_mounts()),
        resources: Some(resources(stage)),
        security_context: inline.then(container_security),
        ..Default::default()
    }
}

/// The file of `stage`'s spec in the specs ConfigMap.
pub(crate) fn spec_file(stage: &str) -> String {
    format!("{stage}.json")
}

/// Requests and limits from `cpu`, `memory` and `gpu`: memory and GPUs limited to what is
/// requested (GPUs cannot be overcommitted; memory overcommit ends in OOM kills), CPU not limited
/// (throttling slows data loaders for nothing).
pub(crate) fn resources(stage: &Stage) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let asked = &stage.resources;
    let text = |q: &ir::Quantity| q.text.clone();
    if let Some(cpu) = &asked.cpu {
        requests.insert("cpu".to_owned(), argo_quantity(cpu, text));
    }
    if let Some(memory) = &asked.memory {
        requests.insert("memory".to_owned(), argo_quantity(memory, text));
        limits.insert("memory".to_owned(), argo_quantity(memory, text));
    }
    if let Some(gpu) = asked.gpu.as_ref().filter(|_| asked.wants_gpu()) {
        requests.insert(GPU_RESOURCE.to_owned(), argo_quantity(gpu, i64::to_string));
        limits.insert(GPU_RESOURCE.to_owned(), argo_quantity(gpu, i64::to_string));
    }
    ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    }
}

/// [`resources`] without the quantities that are params, and those as an Argo `podSpecPatch`:
/// Argo's CRD checks each quantity's syntax when the template is stored, before any
/// `{{workflow.parameters.…}}` is filled in, while the patch is text that Argo fills in first.
pub(crate) fn split_resources(stage: &Stage) -> (ResourceRequirements, Option<String>) {
    let all = resources(stage);
    let split = |m: Option<BTreeMap<String, Quantity>>| {
        let (param, literal): (BTreeMap<_, _>, BTreeMap<_, _>) =
            m.unwrap_or_default().into_iter().partition(|(_, q)| q.0.contains("{{"));
        ((!literal.is_empty()).then_some(literal), param)
    };
    let (requests, param_requests) = split(all.requests);
    let (limits, param_limits) = split(all.limits);
    let patch = (!param_requests.is_empty() || !param_limits.is_empty()).then(|| {
        let to_json = |m: BTreeMap<String, Quantity>| -> serde_json::Map<String, serde_json::Value> {
            m.into_iter().map(|(k, q)| (k, serde_json::Value::String(q.0))).collect()
        };
        let mut resources = serde_json::Map::new();
        if !param_requests.is_empty() {
            resources.insert("requests".into(), to_json(param_requests).into());
        }
        if !param_limits.is_empty() {
            resources.insert("limits".into(), to_json(param_limits).into());
        }
        serde_json::json!({ "containers": [{ "name": "main", "resources": resources }] }).to_string()
    });
    (ResourceRequirements { requests, limits, ..Default::default() }, patch)
}

/// `node_selector`, plus the GPU model as `nvidia.com/gpu.product` when `gpu_type` is set.
pub(crate) fn node_selector(stage: &Stage) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let placement = &stage.placement;
    out.extend(placement.node_selector.iter().map(|(k, v)| (k.clone(), argo_text(v))));
    if let Some(model) = &placement.gpu_type {
        out.insert(GPU_PRODUCT_LABEL.to_owned(), argo_text(model));
    }
    out
}

/// The stage's `tolerations`; a GPU stage without any tolerates the usual `nvidia.com/gpu` taint.
pub(crate) fn tolerations(stage: &Stage) -> Vec<Toleration> {
    let text = |t: &Option<Text>| t.as_ref().map(argo_text);
    match &stage.placement.tolerations {
        given if !given.is_empty() => given
            .iter()
            .map(|t| Toleration {
                key: text(&t.key),
                operator: text(&t.operator),
                value: text(&t.value),
                effect: text(&t.effect),
                toleration_seconds: None,
            })
            .collect(),
        _ if stage.resources.wants_gpu() => vec![Toleration {
            key: Some(GPU_RESOURCE.into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }],
        _ => Vec::new(),
    }
}
