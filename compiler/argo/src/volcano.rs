//! `torchx.ddp` stages as the gang-scheduled Volcano `Job` that TorchX's Kubernetes scheduler
//! submits for `dist.ddp`, but with one task of a replica per node instead of a task per node:
//! `torchrun` meeting on node 0 through Volcano's `svc` and `env` plugins, every replica's command
//! wrapped by `pipe-shim run`.
//!
//! Takes a ddp stage and its spec; gives the Job as a typed object (pod templates are
//! `k8s-openapi` types). Where TorchX fills in `${app_id}` and `${rank0_env}` at submit time,
//! this fills in Argo expressions and Volcano's variables.

use crate::Options;
use crate::names::fit;
use crate::pod::{self, RUN_VOLUME, SPEC_VOLUME};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, ContainerPort, EmptyDirVolumeSource, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pipe_core::ir::{Gang, Stage};
use pipe_spec::StageSpec;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Job {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: JobSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobSpec {
    pub scheduler_name: &'static str,
    pub queue: String,
    pub min_available: i32,
    pub max_retry: i32,
    pub plugins: BTreeMap<&'static str, Vec<String>>,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Task {
    pub name: String,
    pub replicas: i32,
    pub min_available: i32,
    pub max_retry: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
    pub template: PodTemplateSpec,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Policy {
    pub event: &'static str,
    pub action: &'static str,
}

/// How long the Job's `generateName` base and a role (task name stem) may be. Volcano names each
/// pod `<job>-<task>-<index>` (`MakePodName`, `pkg/controllers/job/helpers`), its webhook refuses a
/// pod name longer than 63 characters (`validateK8sPodNameLength`,
/// `pkg/webhooks/admission/jobs/validate/admit_job.go`), and its `svc` plugin makes that name the
/// pod's hostname, a DNS label. With the API server's 5 random characters after `<base>-`, the
/// task `<role>` and the rank as index: 20 + 1 + 5 + 1 + 20 + 1 + digits ≤ 63 for any rank below
/// 10^15.
pub(crate) const JOB_BASE_MAX: usize = 20;
/// How long past the stage's `timeout` a gang's pods may run: installing the shim and fetching
/// inputs and code before the command starts, storing outputs after it ends.
pub(crate) const GANG_GRACE_SECONDS: i64 = 300;
pub(crate) const ROLE_MAX: usize = 20;
/// The label naming the workflow that created a Job, which its exit handler deletes by.
pub(crate) const WORKFLOW_LABEL: &str = "pipe.dev/workflow";

/// The Volcano Job for ddp stage `stage`, created by Argo in workflow `{{workflow.name}}`: one
/// task of `nnodes` replicas, each pod's rank its index in the task (`VC_TASK_INDEX`, from
/// Volcano's `env` plugin). One pod template for every node keeps the Job, which the
/// WorkflowTemplate holds, the size of one node's (TorchX writes a task per node instead).
pub(crate) fn job(opts: &Options, pipeline: &str, stage: &Stage, spec: &StageSpec, config_map: &str) -> Job {
    let gang = stage.gang().expect("Volcano Jobs are made for ddp stages");
    let nnodes = gang.nnodes;
    let role = fit(&stage.name, ROLE_MAX);
    let retries = i32::try_from(spec.retries).unwrap_or(0);
    let replicas = i32::try_from(nnodes).unwrap_or(1);
    let task = Task {
        name: role.clone(),
        replicas,
        min_available: replicas,
        max_retry: retries,
        policies: if retries > 0 {
            vec![
                Policy { event: "PodEvicted", action: "RestartJob" },
                Policy { event: "PodFailed", action: "RestartJob" },
            ]
        } else {
            Vec::new()
        },
        template: replica(opts, pipeline, stage, spec, &role, gang, config_map),
    };
    Job {
        api_version: "batch.volcano.sh/v1alpha1",
        kind: "Job",
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", fit(&format!("{pipeline}-{}", stage.name), JOB_BASE_MAX))),
            labels: Some({
                let mut l = labels(pipeline, stage);
                l.insert(WORKFLOW_LABEL.into(), "{{workflow.name}}".into());
                l
            }),
            ..Default::default()
        },
        spec: JobSpec {
            scheduler_name: "volcano",
            queue: opts.volcano_queue.clone(),
            min_available: replicas,
            max_retry: retries,
            plugins: BTreeMap::from([("env", Vec::new()), ("svc", vec!["--publish-not-ready-addresses".into()])]),
            tasks: vec![task],
        },
    }
}

fn labels(pipeline: &str, stage: &Stage) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_owned(), "pipe".to_owned()),
        ("app.kubernetes.io/name".to_owned(), fit(pipeline, 63)),
        ("pipe.dev/stage".to_owned(), fit(&stage.name, 63)),
    ])
}

/// `torchrun …` as `dist.ddp` builds it. Node 0 serves the rendezvous on `localhost`; the others
/// meet it at the first host of the task (`VC_<ROLE>_HOSTS`, from Volcano's `svc` plugin).
fn torchrun(spec: &StageSpec, role: &str, gang: &Gang) -> String {
    let bound = pod::argo_bound(spec);
    let hosts = format!("VC_{}_HOSTS", role.to_uppercase().replace('-', "_"));
    // `python SCRIPT ARGS…` in the spec: torchrun takes the script and its arguments. The shim
    // runs commands in the datum's work folder and says where the stage's scripts are in
    // `PIPE_CODE`; inside a shell string, only the script's path can say so.
    let script_and_args = bound
        .command
        .iter()
        .skip(1)
        .enumerate()
        .map(|(i, a)| if i == 0 { format!("\"$PIPE_CODE\"/{}", quote(a)) } else { quote(a) })
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "rank0=${{{hosts}%%,*}}; [ \"$VC_TASK_INDEX\" = 0 ] && rank0=localhost; exec torchrun --rdzv_backend {} --rdzv_endpoint \"$rank0\":{} --rdzv_id '{{{{workflow.uid}}}}-{role}' --nnodes {} --nproc_per_node {} --max_restarts {} --tee 3 --role '' {script_and_args}",
        quote(&gang.rdzv_backend),
        gang.rdzv_port,
        gang.nnodes,
        gang.nproc_per_node,
        gang.max_restarts,
    )
}

/// A shell word: as is when safe, otherwise single-quoted.
fn quote(s: &str) -> String {
    let safe = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

fn replica(
    opts: &Options,
    pipeline: &str,
    stage: &Stage,
    spec: &StageSpec,
    role: &str,
    gang: &Gang,
    config_map: &str,
) -> PodTemplateSpec {
    // The kubelet expands `$(VC_TASK_INDEX)` in a container's command from its environment.
    let shim_args = vec!["--shard".into(), "0".into(), "--rank".into(), "$(VC_TASK_INDEX)".into()];
    let command = vec!["bash".into(), "-c".into(), torchrun(spec, role, gang)];
    let mut main = pod::stage_container(opts, stage, spec, shim_args, command, pod::Shared::Inline);
    main.name = role.to_owned();
    main.ports = Some(vec![ContainerPort {
        container_port: i32::try_from(gang.rdzv_port).unwrap_or(i32::MAX),
        name: Some("c10d".into()),
        ..Default::default()
    }]);
    main.volume_mounts.get_or_insert_with(Vec::new).push(VolumeMount {
        name: "dshm".into(),
        mount_path: "/dev/shm".into(),
        ..Default::default()
    });
    let empty = |name: &str, medium: Option<&str>| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource { medium: medium.map(str::to_owned), size_limit: None }),
        ..Default::default()
    };
    let node_selector = pod::node_selector(stage);
    let tolerations = pod::tolerations(stage);
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(pipeline, stage)), ..Default::default() }),
        spec: Some(PodSpec {
            init_containers: Some(vec![pod::install_container(opts)]),
            containers: vec![main],
            restart_policy: Some("Never".into()),
            // A Job a resource template created outlives the step: when the step times out, its
            // gang would keep its GPUs. The kubelet ends each replica by this deadline instead.
            active_deadline_seconds: spec
                .timeout_seconds
                .map(|t| i64::try_from(t).unwrap_or(i64::MAX).saturating_add(GANG_GRACE_SECONDS)),
            service_account_name: opts.service_account.clone(),
            // Nothing in a gang's pods calls the API server (Argo's executor is not in them).
            automount_service_account_token: Some(false),
            security_context: Some(pod::pod_security()),
            node_selector: (!node_selector.is_empty()).then_some(node_selector),
            tolerations: (!tolerations.is_empty()).then_some(tolerations),
            volumes: Some(vec![
                Volume {
                    name: SPEC_VOLUME.into(),
                    config_map: Some(ConfigMapVolumeSource { name: config_map.to_owned(), ..Default::default() }),
                    ..Default::default()
                },
                empty(RUN_VOLUME, None),
                empty("dshm", Some("Memory")),
            ]),
            ..Default::default()
        }),
    }
}
