//! What a running Workflow of the pipeline stores beside the template's spec: the status of its
//! nodes, as Argo's controller writes them, for the size budget of [`crate::limits`].
//!
//! Takes the pipeline and its specs; gives the bytes Argo would store for the node status of the
//! smallest complete run (every stage plans, runs one shard or its gang, and commits), compressed
//! as Argo compresses it when the Workflow is over `MAX_WORKFLOW_SIZE`. Reproduces, from
//! argo-workflows: `pkg/apis/workflow/v1alpha1/workflow_types.go` (`NodeStatus`'s fields, `NodeID`:
//! `<workflow>-<fnv32a of the node name>`), `workflow/controller/operator.go` (`initializeNode`;
//! a task with a `retryStrategy` is a `Retry` node with one `Pod` child per attempt;
//! `withParam` makes a `TaskGroup` whose children are `<task>(<i>:<item>)`), and
//! `workflow/packer/packer.go` with `util/file` (`compressWorkflow`: the nodes as JSON, gzipped,
//! base64). Does not model more shards than one per stage, failed attempts or offloading to a
//! database: each only adds to what a run stores.

use crate::names::label;
use flate2::Compression;
use flate2::write::GzEncoder;
use pipe_core::ir::Kind;
use pipe_core::ir::Pipeline;
use pipe_spec::StageSpec;
use serde_json::{Map, Value, json};
use std::io::Write;

/// Argo's `NodeID`: the workflow's name and the FNV-1a (32-bit) hash of the node's name.
fn node_id(workflow: &str, name: &str) -> String {
    if name == workflow {
        return workflow.to_owned();
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{workflow}-{h}")
}

/// Nodes as Argo's controller initialises and completes them.
struct Nodes {
    workflow: String,
    all: Map<String, Value>,
    /// Seconds since the run started.
    clock: u64,
}

impl Nodes {
    /// Adds node `name` (a task's name, or `<task>(<i>)` for an attempt); gives its id.
    fn add(&mut self, name: &str, kind: &str, template: &str, stage: &str, children: Vec<String>) -> String {
        let wf = &self.workflow;
        let full = format!("{wf}.{name}");
        let id = node_id(wf, &full);
        // Times, durations and hosts differ from node to node, as they do in a real run (equal
        // ones would compress far better than a real status does).
        let h = blake3::hash(full.as_bytes());
        let n32 = |i: usize| u32::from_le_bytes(h.as_bytes()[i..i + 4].try_into().expect("4 bytes"));
        self.clock += u64::from(n32(0) % 90);
        let (start, took) = (self.clock, u64::from(n32(4) % 900));
        let time = |s: u64| format!("2026-12-06T{:02}:{:02}:{:02}Z", 3 + s / 3600 % 20, s / 60 % 60, s % 60);
        let mut n = json!({
            "id": id, "name": full, "displayName": name, "type": kind, "templateName": template,
            "templateScope": format!("local/{wf}"), "phase": "Succeeded", "boundaryID": wf,
            "startedAt": time(start), "finishedAt": time(start + took), "estimatedDuration": took,
            "progress": "1/1", "resourcesDuration": {"cpu": n32(8) % 2000, "memory": n32(12) % 20_000},
            "inputs": {"parameters": [{"name": "stage", "value": stage}]},
        });
        if kind == "Pod" {
            n["hostNodeName"] =
                format!("gke-pipe-pool-{}-{:08x}-{:04x}", n32(16) % 4, n32(20) % 64, n32(24) % 0xffff).into();
            n["taskResultSynced"] = true.into();
            n["outputs"] = json!({"exitCode": "0", "result": "[{\"shard\":\"0\"}]"});
        }
        if !children.is_empty() {
            n["children"] = children.into();
        }
        self.all.insert(id.clone(), n);
        id
    }

    /// A task with a `retryStrategy`: a `Retry` node and its one attempt.
    fn retried(&mut self, task: &str, template: &str, stage: &str, next: Vec<String>) -> String {
        let pod = self.add(&format!("{task}(0)"), "Pod", template, stage, next);
        self.add(task, "Retry", template, stage, vec![pod])
    }
}

#[cfg(test)]
pub(crate) fn node_id_for_tests(workflow: &str, name: &str) -> String {
    node_id(workflow, name)
}

/// The nodes of the smallest complete run of `p`, in a Workflow named after it.
fn nodes(p: &Pipeline, specs: &[StageSpec]) -> Map<String, Value> {
    let mut nodes = Nodes { workflow: format!("{}-x7k2q", p.name), all: Map::new(), clock: 0 };
    let mut children = Vec::new();
    // Backwards, so that each node can name the next as its child, as Argo links a DAG's tasks.
    let mut next: Vec<String> = Vec::new();
    for (stage, spec) in p.stages.iter().zip(specs).rev() {
        let task = |step: &str| label(&format!("{step}-{}", stage.name));
        let template = label(&format!("stage-{}", stage.name));
        let commit = nodes.retried(&task("commit"), "commit", &stage.name, next.clone());
        let run = if stage.kind == Kind::Ddp {
            // The resource template's executor pod.
            nodes.add(&task("run"), "Pod", &template, &stage.name, vec![commit])
        } else {
            let item = format!("{}(0:shard:0)", task("run"));
            let shard = if spec.retries > 0 {
                nodes.retried(&item, &template, &stage.name, vec![commit])
            } else {
                nodes.add(&item, "Pod", &template, &stage.name, vec![commit])
            };
            nodes.add(&task("run"), "TaskGroup", &template, &stage.name, vec![shard])
        };
        let plan = nodes.retried(&task("plan"), "plan", &stage.name, vec![run]);
        next = vec![plan.clone()];
        children.push(plan);
    }
    let wf = nodes.workflow.clone();
    let mut root = json!({
        "id": wf, "name": wf, "displayName": wf, "type": "DAG", "templateName": crate::dag::MAIN,
        "templateScope": format!("local/{wf}"), "phase": "Succeeded",
        "startedAt": "2026-12-06T03:00:00Z", "finishedAt": "2026-12-06T03:41:00Z", "progress": "1/1",
    });
    root["children"] = children.into_iter().rev().take(1).collect::<Vec<_>>().into();
    nodes.all.insert(wf, root);
    nodes.all
}

/// The bytes the node status of the smallest complete run of `p` takes in its Workflow: gzipped
/// and base64-encoded, as Argo stores it once the Workflow is over `MAX_WORKFLOW_SIZE`.
pub(crate) fn stored_bytes(p: &Pipeline, specs: &[StageSpec]) -> usize {
    let json = serde_json::to_vec(&nodes(p, specs)).expect("nodes serialise");
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json).expect("writing to memory");
    let compressed = gz.finish().expect("writing to memory").len();
    compressed.div_ceil(3) * 4
}
