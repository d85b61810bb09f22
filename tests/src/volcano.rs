//! Volcano's admission webhook and job controller, for the Jobs pipe's `torchx.ddp` stages create:
//! a Job is admitted or refused, its pods are made the way the controller and its `env` and `svc`
//! plugins make them, and they run all at once on a [`Node`] (a gang), each on a loopback address
//! of its own, reaching the others by name.
//!
//! Takes a Job (JSON, with its name already given) and a node; gives a running [`Gang`] that can be
//! waited for (its phase) or deleted (its pods killed). Reproduces, from volcano-sh/volcano:
//! - `pkg/webhooks/admission/jobs/validate/admit_job.go`, `validateJobCreate`: task names unique
//!   DNS-1123 labels, `minAvailable` at most the replicas, every pod name within 63 characters
//!   (`validateK8sPodNameLength`);
//! - `pkg/controllers/job/job_controller_util.go`, `createJobPod` and `MakePodName`: one pod
//!   `<job>-<task>-<index>` per replica, from the task's template;
//! - `pkg/controllers/job/plugins/env/env.go`: `VK_TASK_INDEX` and `VC_TASK_INDEX` in every
//!   container and init container;
//! - `pkg/controllers/job/plugins/svc/svc.go`: the pod's hostname (its name) and subdomain (the
//!   Job's), the ConfigMap `<job>-svc` from `GenerateHosts` (`VC_<TASK>_HOSTS`, `VC_<TASK>_NUM`,
//!   `<task>.host`), its keys as `configMapKeyRef` env in every container, mounted at
//!   `/etc/volcano`; hosts `<pod>.<job>` resolve to their pods (the headless service);
//! - the Job's phase: `Completed` when every pod succeeded, `Failed` when one failed (what the
//!   resource template's conditions read); deleting the Job deletes its pods.
//!
//! Does not: schedule (all pods start at once), restart (`maxRetry`, policies), or model queues.

use crate::argo_pod::{is_dns1123_label, validate_pod_spec};
use crate::sandbox::{Identity, Node};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How a pod ended: its main container's stdout and stderr, or why it failed.
type PodResult = Result<(String, String), String>;

/// A Job's pods, running.
#[derive(Debug)]
pub struct Gang {
    pub labels: BTreeMap<String, String>,
    /// Process ids of the pods' main containers, as they start, and whether the Job was deleted
    /// (a container starting after that is killed at once).
    pids: Arc<Mutex<(bool, Vec<u32>)>>,
    pods: Vec<(String, JoinHandle<PodResult>)>,
}

/// Where a Job's phase ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Completed,
    /// A pod failed: which, and why.
    Failed(String),
}

/// A loopback address for each pod this process starts: `127.<pid>.<n>`, so pods of tests running
/// side by side never share one.
fn next_address() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    Ipv4Addr::new(127, (pid >> 8) as u8 | 1, pid as u8, (n % 250 + 2) as u8)
}

/// The pods the controller makes for `job` (named `name`): (pod name, pod spec), or why the
/// webhook refuses the Job.
pub fn admit(job: &Value, name: &str) -> Result<Vec<(String, Value)>, Vec<String>> {
    let mut problems = Vec::new();
    let tasks = job["spec"]["tasks"].as_array().cloned().unwrap_or_default();
    let mut seen = Vec::new();
    let mut total = 0;
    let svc = format!("{name}-svc");
    let host_env: Vec<Value> = tasks
        .iter()
        .flat_map(|t| {
            let key = t["name"].as_str().unwrap_or_default().replace('-', "_").to_uppercase();
            [format!("VC_{key}_HOSTS"), format!("VC_{key}_NUM")]
        })
        .map(|var| json!({"name": var, "valueFrom": {"configMapKeyRef": {"name": svc, "key": var}}}))
        .collect();
    let mut pods = Vec::new();
    for task in &tasks {
        let task_name = task["name"].as_str().unwrap_or_default();
        if seen.contains(&task_name) {
            problems.push(format!("duplicated task name {task_name}"));
        }
        seen.push(task_name);
        if !is_dns1123_label(task_name) {
            problems.push(format!("task name `{task_name}` is not a DNS-1123 label"));
        }
        let replicas = task["replicas"].as_i64().unwrap_or(0);
        total += replicas;
        if task["minAvailable"].as_i64().unwrap_or(0) > replicas {
            problems.push(format!("task {task_name}: minAvailable is greater than replicas"));
        }
        for i in 0..replicas {
            let pod_name = format!("{name}-{task_name}-{i}");
            if pod_name.len() > 63 {
                problems.push(format!(
                    "create pod with name {pod_name} validate failed: must be no more than 63 characters"
                ));
            }
            let mut spec = task["template"]["spec"].clone();
            spec["hostname"] = pod_name.clone().into();
            spec["subdomain"] = name.into();
            for list in ["containers", "initContainers"] {
                for c in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                    let env = c["env"].as_array().cloned().unwrap_or_default();
                    let mut env = env;
                    env.push(json!({"name": "VK_TASK_INDEX", "value": i.to_string()}));
                    env.push(json!({"name": "VC_TASK_INDEX", "value": i.to_string()}));
                    env.extend(host_env.iter().cloned());
                    c["env"] = Value::Array(env);
                    let mut mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
                    mounts.push(json!({"name": svc, "mountPath": "/etc/volcano"}));
                    c["volumeMounts"] = Value::Array(mounts);
                }
            }
            let mut volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
            volumes.push(json!({"name": svc, "configMap": {"name": svc}}));
            spec["volumes"] = Value::Array(volumes);
            problems.extend(validate_pod_spec(&spec).into_iter().map(|p| format!("pod {pod_name}: {p}")));
            pods.push((pod_name, spec));
        }
    }
    if job["spec"]["minAvailable"].as_i64().unwrap_or(0) > total {
        problems.push("job 'minAvailable' should not be greater than total replicas in tasks".into());
    }
    if problems.is_empty() { Ok(pods) } else { Err(problems) }
}

/// `svc`'s `GenerateHosts`: per task, its hosts `<pod>.<job>` as a list and their number.
fn hosts_config_map(job: &Value, name: &str) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    for task in job["spec"]["tasks"].as_array().into_iter().flatten() {
        let task_name = task["name"].as_str().unwrap_or_default();
        let hosts: Vec<String> =
            (0..task["replicas"].as_i64().unwrap_or(0)).map(|i| format!("{name}-{task_name}-{i}.{name}")).collect();
        let key = task_name.replace('-', "_");
        data.insert(format!("{key}.host"), hosts.join("\n"));
        data.insert(format!("VC_{}_HOSTS", key.to_uppercase()), hosts.join(","));
        data.insert(format!("VC_{}_NUM", key.to_uppercase()), hosts.len().to_string());
    }
    data
}

impl Gang {
    /// Admits `job` as `name` and starts all its pods on `node`.
    pub fn start(node: &Arc<Node>, job: &Value, name: &str) -> Result<Gang, Vec<String>> {
        let pods = admit(job, name)?;
        let addresses: Vec<Ipv4Addr> = pods.iter().map(|_| next_address()).collect();
        let mut peers = BTreeMap::new();
        for ((pod, _), address) in pods.iter().zip(&addresses) {
            peers.insert(format!("{pod}.{name}"), *address);
        }
        let config_maps = BTreeMap::from([(format!("{name}-svc"), hosts_config_map(job, name))]);
        let pids = Arc::new(Mutex::new((false, Vec::new())));
        let running = pods
            .into_iter()
            .zip(addresses)
            .map(|((pod_name, spec), address)| {
                let who = Identity {
                    hostname: pod_name.clone(),
                    address,
                    peers: peers.clone(),
                    config_maps: config_maps.clone(),
                };
                let (node, pids) = (Arc::clone(node), Arc::clone(&pids));
                let handle = std::thread::spawn(move || {
                    node.run_pod_as(&spec, &who, &|pid| {
                        let mut pids = pids.lock().expect("pids");
                        if pids.0 {
                            kill(pid);
                        }
                        pids.1.push(pid);
                    })
                });
                (pod_name, handle)
            })
            .collect();
        let labels = job["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        Ok(Gang { labels, pids, pods: running })
    }

    /// How many pods the gang has.
    pub fn size(&self) -> usize {
        self.pods.len()
    }

    /// Whether every pod has ended.
    pub fn ended(&self) -> bool {
        self.pods.iter().all(|(_, h)| h.is_finished())
    }

    /// Waits for every pod; the Job's phase.
    pub fn wait(self) -> Phase {
        match self.finish() {
            Ok(_) => Phase::Completed,
            Err(why) => Phase::Failed(why),
        }
    }

    /// Waits for every pod; each pod's stdout and stderr in task order when all succeeded (the
    /// Job `Completed`), else why the first that failed did.
    pub fn finish(self) -> Result<Vec<(String, String)>, String> {
        let mut outputs = Vec::new();
        let mut failed = None;
        for (pod, handle) in self.pods {
            match handle.join().unwrap_or_else(|_| Err("the pod's thread panicked".into())) {
                Ok(out) => outputs.push(out),
                Err(why) => {
                    failed.get_or_insert(format!("pod {pod}: {why}"));
                }
            }
        }
        failed.map_or(Ok(outputs), Err)
    }

    /// Deletes the Job: the garbage collector deletes its pods, whose containers are killed.
    pub fn delete(self) {
        {
            let mut pids = self.pids.lock().expect("pids");
            pids.0 = true;
            pids.1.iter().copied().for_each(kill);
        }
        let _ = self.wait();
    }
}

/// Ends a container: its sandbox, and with it every process in it.
fn kill(pid: u32) {
    let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}
