//! Following a Workflow: its phase and each step's (plan, every shard, commit) as they change,
//! from a watch that resumes from the last resourceVersion it saw when the server ends it.

use super::cluster::{Cluster, DeployError};
use crate::report::{Failure, Outcome};
use futures::TryStreamExt;
use kube::api::{Api, DynamicObject, WatchEvent, WatchParams};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a Workflow says about itself.
pub(super) struct View {
    pub phase: String,
    pub message: String,
    /// Steps by node id: display name, phase, message.
    pub steps: BTreeMap<String, (String, String, String)>,
    /// A triggered pipeline's check: what its `trigger` step said (`run` or `skip`).
    pub trigger: Option<String>,
}

impl View {
    pub(super) fn of(workflow: &DynamicObject) -> View {
        let status = workflow.data.get("status").cloned().unwrap_or(Value::Null);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let steps = status
            .get("nodes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, n)| matches!(n.get("type").and_then(Value::as_str), Some("Pod" | "Skipped")))
            .map(|(id, n)| (id.clone(), (text(n, "displayName"), text(n, "phase"), text(n, "message"))))
            .collect();
        let trigger = status
            .get("nodes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .find(|(_, n)| n.get("displayName").and_then(Value::as_str) == Some("trigger"))
            .and_then(|(_, n)| n.pointer("/outputs/result").and_then(Value::as_str))
            .map(str::to_owned);
        View {
            phase: status.get("phase").and_then(Value::as_str).unwrap_or("Pending").to_owned(),
            message: text(&status, "message"),
            steps,
            trigger,
        }
    }

    /// The trigger check in words, for a triggered pipeline's workflow.
    pub(super) fn trigger_line(&self) -> Option<String> {
        self.trigger.as_deref().map(|said| match said {
            "run" => "trigger: ran, on commits no run had taken".to_owned(),
            "skip" => "trigger: skipped, no new commit (`pipe log FILE` says which run took them)".to_owned(),
            other => format!("trigger: said `{other}`"),
        })
    }

    pub(super) fn finished(&self) -> bool {
        matches!(self.phase.as_str(), "Succeeded" | "Failed" | "Error")
    }

    /// The first failed step: its name and message.
    pub(super) fn failure(&self) -> Option<(String, String)> {
        self.steps
            .values()
            .find(|(_, phase, _)| matches!(phase.as_str(), "Failed" | "Error"))
            .map(|(name, _, message)| (name.clone(), message.clone()))
    }

    /// Prints the workflow's lines, or (given the previous view) only what changed.
    pub(super) fn print(&self, name: &str, before: Option<&View>) {
        if before.is_none_or(|b| b.phase != self.phase) {
            println!("{name}: {}", self.phase);
        }
        if let Some(line) = self.trigger_line().filter(|_| before.is_none_or(|b| b.trigger != self.trigger)) {
            println!("  {line}");
        }
        let mut steps: Vec<&(String, String, String)> = self
            .steps
            .iter()
            .filter(|(id, step)| before.is_none_or(|b| b.steps.get(*id) != Some(*step)))
            .map(|(_, step)| step)
            .collect();
        steps.sort();
        for (step, phase, message) in steps {
            let message = if message.is_empty() { String::new() } else { format!(": {message}") };
            println!("  {step:<40} {phase}{message}");
        }
    }
}

/// A finished view's outcome: its failing step's message unless it succeeded.
pub(super) fn outcome(name: &str, view: &View) -> Outcome {
    if view.phase == "Succeeded" {
        return Ok(());
    }
    let message = match view.failure() {
        Some((step, message)) => {
            format!("workflow `{name}` {}: step `{step}` failed: {message}", view.phase.to_lowercase())
        }
        None => format!("workflow `{name}` {}: {}", view.phase.to_lowercase(), view.message),
    };
    Err(Failure::with_help(
        message,
        format!("`pipe status {name}` shows every step; `argo logs {name}` shows their output"),
    ))
}

/// Follows `name` until it finishes; gives its last view.
pub(super) async fn follow(cluster: &Cluster, api: &Api<DynamicObject>, name: &str) -> Result<View, DeployError> {
    let get = || async { api.get(name).await.map_err(|e| cluster.classify(e, "get", "workflows", name)) };
    let current = get().await?;
    let mut version = current.metadata.resource_version.clone().unwrap_or_default();
    let mut view = View::of(&current);
    view.print(name, None);
    while !view.finished() {
        let params = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(290);
        let stream = api.watch(&params, &version).await.map_err(|e| cluster.classify(e, "watch", "workflows", name))?;
        futures::pin_mut!(stream);
        loop {
            let event = match stream.try_next().await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("warning: the watch of `{name}` broke ({e}); resuming from version {version}");
                    break;
                }
            };
            match event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                    version = o.metadata.resource_version.clone().unwrap_or(version);
                    let next = View::of(&o);
                    next.print(name, Some(&view));
                    view = next;
                    if view.finished() {
                        return Ok(view);
                    }
                }
                WatchEvent::Deleted(_) => {
                    return Err(DeployError::Other(format!("workflow `{name}` was deleted while being watched")));
                }
                WatchEvent::Bookmark(b) => version = b.metadata.resource_version,
                WatchEvent::Error(e) if e.code == 410 => {
                    // The version is too old to resume from: read the object again.
                    let current = get().await?;
                    version = current.metadata.resource_version.clone().unwrap_or_default();
                    let next = View::of(&current);
                    next.print(name, Some(&view));
                    view = next;
                    break;
                }
                WatchEvent::Error(e) => return Err(DeployError::Other(format!("watching `{name}`: {}", e.message))),
            }
        }
    }
    Ok(view)
}
