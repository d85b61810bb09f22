//! The workflow's templates: one DAG over the stages, where each stage is three tasks —
//! `plan-<stage>` (the shim lists the datums that are not cached and prints their shard numbers),
//! `run-<stage>` (one pod per shard through `withParam`; none when nothing changed) and
//! `commit-<stage>` (the shim merges every datum's outputs into the stage's output commit). A
//! stage's plan waits for the commits of the stages it reads. A `torchx.ddp` stage's `run` is a
//! resource template creating its Volcano Job, skipped when its plan is empty.
//!
//! A pipeline with a `trigger` wraps that DAG: `main` runs `trigger` (the shim checks the
//! watched inputs and prints `run` or `skip`) and then, unless it printed `skip`, the `stages`
//! DAG; a tick with nothing new is that one pod.
//!
//! Takes the IR and the stage specs (in the same, topological, order); gives Argo templates.
//! Task names are `plan-`, `run-`, `commit-` plus the stage's name, so they never collide.

use crate::model::{Arguments, Dag, DagTask, Inputs, Parameter, Resource, RetryStrategy, Template, parameter};
use crate::names::label;
use crate::pod;
use crate::{Options, volcano};
use pipe_core::ir::Kind;
use pipe_core::ir::{Pipeline, Stage};
use pipe_spec::StageSpec;

/// The entrypoint template's name.
pub(crate) const MAIN: &str = "main";
/// A triggered pipeline's check step, and the DAG of its stages.
const TRIGGER: &str = "trigger";
const STAGES: &str = "stages";
/// The ConfigMap key of the trigger spec (no stage's spec file: `.` is in no stage name).
pub(crate) const TRIGGER_FILE: &str = "pipe.trigger.json";
const PLAN: &str = "plan";
const COMMIT: &str = "commit";
/// The exit handler of a pipeline with gangs, and its step.
pub(crate) const EXIT: &str = "exit";
const STOP_GANGS: &str = "stop-gangs";

fn task_name(step: &str, stage: &str) -> String {
    label(&format!("{step}-{stage}"))
}

/// `stage-<name>`: the template of a ddp stage's Volcano Job (shard templates are shared by shape:
/// [`shard_template`]).
fn stage_template_name(stage: &str) -> String {
    label(&format!("stage-{stage}"))
}

/// Every template: `main` (the DAG), the shared `plan` and `commit` steps, then one per stage,
/// and, for a pipeline with ddp stages, the exit handler [`EXIT`] and its [`STOP_GANGS`] step.
pub(crate) fn templates(p: &Pipeline, specs: &[StageSpec], opts: &Options, config_map: &str) -> Vec<Template> {
    let params: Vec<String> = p.params.iter().map(|q| q.name.clone()).collect();
    // Stages whose shard pods differ only in the stage they run share one template.
    let mut shapes: Vec<Template> = Vec::new();
    let mut run_templates = Vec::new();
    let mut gangs = Vec::new();
    for (stage, spec) in p.stages.iter().zip(specs) {
        if stage.kind == Kind::Ddp {
            let t = ddp_template(opts, p, stage, spec, config_map);
            run_templates.push(t.name.clone());
            gangs.push(t);
        } else {
            let t = shard_template(opts, stage, spec);
            if !shapes.iter().any(|s| s.name == t.name) {
                shapes.push(t.clone());
            }
            run_templates.push(t.name);
        }
    }
    let mut out = match &p.trigger {
        None => vec![main(MAIN, p, specs, &run_templates)],
        Some(_) => vec![triggered(), main(STAGES, p, specs, &run_templates), trigger_step(opts)],
    };
    out.extend([shim_step(opts, PLAN, &params), shim_step(opts, COMMIT, &params)]);
    if has_gangs(p) {
        out.extend(exit_handler());
    }
    out.extend(shapes);
    out.extend(gangs);
    out
}

/// Whether the pipeline has `torchx.ddp` stages, which run as Volcano Jobs.
pub(crate) fn has_gangs(p: &Pipeline) -> bool {
    p.stages.iter().any(|s| s.kind == Kind::Ddp)
}

/// The exit handler of a pipeline with ddp stages: a Job a resource template created outlives its
/// step (`argo stop` ends the step's pod, not the Job; the owner reference collects it only when
/// the Workflow itself is deleted), so when the workflow ends other than by succeeding, every
/// gang of this workflow is deleted, and Volcano's controller deletes its pods. Argo runs exit
/// handlers after `argo stop` and on failure, not after `argo terminate` (`ShouldExecute` of the
/// shutdown strategy, `workflow/controller/operator.go`).
fn exit_handler() -> [Template; 2] {
    let task = DagTask {
        name: STOP_GANGS.into(),
        template: STOP_GANGS.into(),
        when: Some("{{workflow.status}} != Succeeded".into()),
        ..Default::default()
    };
    let stop = Template {
        name: STOP_GANGS.into(),
        // `kubectl delete --ignore-not-found jobs.batch.volcano.sh --selector …` (Argo's executor,
        // `getKubectlArguments` in `workflow/executor/resource.go`: flags, no `-f` without a
        // manifest). A delete needs no manifest (`validateResource`, `workflow/validate`).
        resource: Some(Resource {
            action: "delete",
            set_owner_reference: false,
            success_condition: None,
            failure_condition: None,
            flags: vec![
                "jobs.batch.volcano.sh".into(),
                "--selector".into(),
                format!("{}={{{{workflow.name}}}}", volcano::WORKFLOW_LABEL),
            ],
            manifest: None,
        }),
        ..Default::default()
    };
    [Template { name: EXIT.into(), dag: Some(Dag { tasks: vec![task] }), ..Default::default() }, stop]
}

/// `main` of a triggered pipeline: the check, then the stages unless it printed `skip`. A task
/// whose `when` is false gets a Skipped node and its template is never executed
/// (`executeDAGTask` in `workflow/controller/dag.go` continues before `executeTemplate`), so the
/// stages' DAG starts none of its tasks and a check that finds nothing new is the workflow's one
/// pod. Both sides of the `when` are quoted: newer controllers evaluate it with expr
/// (`argoexpr.EvalBool`), where a bare word is an undefined name, not a string.
fn triggered() -> Template {
    let tasks = vec![
        DagTask { name: TRIGGER.into(), template: TRIGGER.into(), ..Default::default() },
        DagTask {
            name: STAGES.into(),
            template: STAGES.into(),
            depends: Some(TRIGGER.into()),
            when: Some(format!("'{{{{tasks.{TRIGGER}.outputs.result}}}}' != 'skip'")),
            ..Default::default()
        },
    ];
    Template { name: MAIN.into(), dag: Some(Dag { tasks }), ..Default::default() }
}

/// The check: `pipe-shim --spec …/pipe.trigger.json trigger`, in the shim's own image.
fn trigger_step(opts: &Options) -> Template {
    Template {
        name: TRIGGER.into(),
        container: Some(pod::shim_step(vec![TRIGGER.to_owned()], TRIGGER_FILE, &[], opts)),
        retry_strategy: Some(RetryStrategy { limit: "2".into(), retry_policy: "OnError" }),
        ..Default::default()
    }
}

fn main(name: &str, p: &Pipeline, specs: &[StageSpec], run_templates: &[String]) -> Template {
    let mut tasks = Vec::new();
    for ((stage, spec), run_template) in p.stages.iter().zip(specs).zip(run_templates) {
        let (plan, run, commit) =
            (task_name("plan", &stage.name), task_name("run", &stage.name), task_name("commit", &stage.name));
        let upstream: Vec<String> =
            stage.reads.iter().filter(|r| p.stage(r).is_some()).map(|r| task_name("commit", r)).collect();
        let ddp = stage.kind == Kind::Ddp;
        let timed = spec.timeout_seconds.is_some();
        // The shim bounds the shards by the spec's `parallelism` (one for ddp).
        let step_args = || Arguments { parameters: vec![parameter("stage", &stage.name)] };
        tasks.push(DagTask {
            name: plan.clone(),
            template: PLAN.into(),
            depends: (!upstream.is_empty()).then(|| upstream.join(" && ")),
            arguments: Some(step_args()),
            ..Default::default()
        });
        let result = format!("{{{{tasks.{plan}.outputs.result}}}}");
        tasks.push(if ddp {
            DagTask {
                name: run.clone(),
                template: run_template.clone(),
                depends: Some(plan),
                when: Some(format!("'{result}' != '[]'")),
                ..Default::default()
            }
        } else {
            DagTask {
                name: run.clone(),
                template: run_template.clone(),
                depends: Some(plan),
                with_param: Some(result),
                arguments: Some(Arguments {
                    parameters: [
                        Some(parameter("stage", &stage.name)),
                        Some(parameter("shard", "{{item.shard}}")),
                        timed.then(|| parameter("deadline", "{{item.deadline}}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                }),
                ..Default::default()
            }
        });
        tasks.push(DagTask {
            name: commit,
            template: COMMIT.into(),
            depends: Some(run),
            arguments: Some(step_args()),
            ..Default::default()
        });
    }
    Template { name: name.into(), dag: Some(Dag { tasks }), ..Default::default() }
}

fn input(name: &str) -> Parameter {
    Parameter { name: name.into(), ..Parameter::default() }
}

/// `plan` or `commit`: the shim in its own image, for the stage named by the `stage` input.
fn shim_step(opts: &Options, step: &str, params: &[String]) -> Template {
    let container = pod::shim_step(vec![step.to_owned()], "{{inputs.parameters.stage}}.json", params, opts);
    Template {
        name: step.into(),
        inputs: Some(Inputs { parameters: vec![input("stage")] }),
        container: Some(container),
        retry_strategy: Some(RetryStrategy { limit: "2".into(), retry_policy: "OnError" }),
        ..Default::default()
    }
}

fn retry(spec: &StageSpec) -> Option<RetryStrategy> {
    // The shim retries a failing command `retries` times itself; Argo retries the pod when it
    // was lost (evicted, node gone), which the shim cannot see.
    (spec.retries > 0).then(|| RetryStrategy { limit: spec.retries.to_string(), retry_policy: "OnError" })
}

/// The template of a stage's shard pods, named by its content (`shard-<8 hex>`): the stage comes
/// as an input, and the shim runs the command of the stage's spec, so stages whose pods differ
/// only in that (same image, secrets, resources, placement, retries, timeout, params) share it. A
/// WorkflowTemplate holds one per such shape instead of one per stage.
fn shard_template(opts: &Options, stage: &Stage, spec: &StageSpec) -> Template {
    let mut shape = spec.clone();
    shape.stage = "{{inputs.parameters.stage}}".into();
    let shard = vec!["--shard".into(), "{{inputs.parameters.shard}}".into()];
    let mut container = pod::stage_container(opts, stage, &shape, shard, Vec::new(), pod::Shared::FromPatch);
    let (resources, pod_spec_patch) = pod::split_resources(stage);
    container.resources = Some(resources);
    // The plan knows how many datums each shard got: the pod's deadline comes with its item.
    let timed = spec.timeout_seconds.is_some();
    let mut inputs = vec![input("stage"), input("shard")];
    if timed {
        inputs.push(input("deadline"));
    }
    let mut template = Template {
        pod_spec_patch,
        active_deadline_seconds: timed.then(|| "{{inputs.parameters.deadline}}".to_owned()),
        name: String::new(),
        inputs: Some(Inputs { parameters: inputs }),
        container: Some(container),
        node_selector: pod::node_selector(stage),
        tolerations: pod::tolerations(stage),
        retry_strategy: retry(spec),
        ..Default::default()
    };
    let content = serde_json::to_vec(&template).expect("templates serialise");
    template.name = format!("shard-{}", &blake3::hash(&content).to_hex()[..8]);
    template
}

fn ddp_template(opts: &Options, p: &Pipeline, stage: &Stage, spec: &StageSpec, config_map: &str) -> Template {
    let job = volcano::job(opts, &p.name, stage, spec, config_map);
    // Compact JSON (which is YAML): a job repeats its pod template per node, so this is the
    // largest part of a pipeline with many ddp stages.
    let manifest = serde_json::to_string(&job).expect("jobs serialise");
    Template {
        name: stage_template_name(&stage.name),
        resource: Some(Resource {
            action: "create",
            set_owner_reference: true,
            success_condition: Some("status.state.phase = Completed".into()),
            failure_condition: Some("status.state.phase in (Failed, Terminated, Aborted)".into()),
            flags: Vec::new(),
            manifest: Some(manifest),
        }),
        // One datum: the stage's timeout bounds the whole job.
        active_deadline_seconds: spec.timeout_seconds.map(|s| s.to_string()),
        ..Default::default()
    }
}
