//! A compiled workflow run here as a cluster would run it: Argo's controller walking the `main`
//! DAG, each task's pod built in Argo's order and checked as the API server checks it
//! ([`crate::argo_pod`]), run as a kubelet would ([`crate::sandbox`]), resource templates creating
//! Volcano Jobs that run as gangs ([`crate::volcano`]), and the exit handler at the end.
//!
//! Takes the files `pipe compile --target argo` wrote, the store Secret's data and the `pipe`
//! binary (beside which the static shim is built); gives, per run, the pods started per template,
//! the workflow's phase and the gangs still running. Argo's rules it follows:
//! `workflow/controller/dag.go` (tasks in order, each after its `depends`; `expandTask` makes one
//! node per `withParam` item, none for an empty list, `{{item.KEY}}` for object items; a false
//! `when` skips the task, and with it every task of a DAG template it would run (`executeDAGTask`
//! marks the node Skipped and never calls `executeTemplate`); a task whose template is a DAG runs
//! that DAG in place; a failed task fails the DAG and starts nothing after
//! it),
//! `util/template` (`{{…}}` replaced in the template's JSON text, `{{workflow.*}}`,
//! `{{inputs.parameters.*}}`, `{{tasks.*.outputs.result}}`), `workflow/executor/resource.go`
//! (`create` of the manifest, `generateName` completed by the API server with 5 characters; the
//! success and failure conditions read off the Job's phase; `delete` with flags and a label
//! selector) and `workflow/controller/operator.go` (the `onExit` template runs after the DAG, with
//! `{{workflow.status}}`, whether the run succeeded, failed or was stopped). A pod's stdout is its
//! task's `outputs.result`.
//!
//! Does not: run independent tasks side by side, retry, or model `argo terminate` (which skips
//! exit handlers).

use crate::argo_pod;
use crate::sandbox::{Node, Root, shim_image_root};
use crate::volcano::{Gang, Phase};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Cluster {
    spec: Value,
    node: Arc<Node>,
    /// Volcano Jobs created and not deleted.
    gangs: Vec<Gang>,
}

/// How a submitted workflow went.
#[derive(Debug, Default)]
pub struct Run {
    /// Pods started per DAG task (`plan-<stage>`, `run-<stage>`, …; a ddp stage's gang counts each
    /// of its pods).
    pub pods: BTreeMap<String, usize>,
    /// `Succeeded` or `Failed`, as `{{workflow.status}}` says it.
    pub status: String,
    /// Why the run failed.
    pub failure: Option<String>,
}

/// `value` as it goes inside a JSON string.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_owned()
}

/// The API server's completion of a `generateName`: 5 characters of `utilrand.String`'s alphabet
/// (`k8s.io/apimachinery/pkg/util/rand`, `SimpleNameGenerator`).
fn generated_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect();
    format!("{base}{suffix}")
}

/// `text` with Argo's `{{…}}` variables from `vars`, each escaped for a JSON string when `json`.
fn fill(text: &str, vars: &BTreeMap<String, String>, json: bool) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        let value = if json { json_escaped(value) } else { value.clone() };
        out = out.replace(&format!("{{{{{name}}}}}"), &value);
    }
    assert!(!out.contains("{{"), "an Argo variable was left unfilled: {out}");
    out
}

/// A `when` of the form `A != B` (all pipe writes), after substitution.
fn holds(when: &str) -> bool {
    let (left, right) = when.split_once(" != ").expect("`A != B`");
    left.trim() != right.trim()
}

impl Cluster {
    /// A cluster with the compiled `template` (WorkflowTemplate) and `config_map` applied, the
    /// shim image built from `runtime/shim/Dockerfile`, the store Secret `pipe-store` holding
    /// `store_secret`, and `images` (image name → root) beside it.
    pub fn new(
        dir: &Path,
        pipe: &Path,
        template: &Value,
        config_map: &Value,
        store_secret: Vec<(String, String)>,
        images: BTreeMap<String, Root>,
    ) -> Cluster {
        let mut node = Node::new(&dir.join("node"));
        let shim_root = shim_image_root(&dir.join("shim-image"), pipe, None);
        let patch: Value =
            serde_json::from_str(template["spec"]["podSpecPatch"].as_str().expect("patch")).expect("JSON");
        let shim_image = patch["initContainers"][0]["image"].as_str().expect("the shim image").to_owned();
        node.images.insert(shim_image, Root::Image(shim_root));
        node.images.extend(images);
        let data = config_map["data"].as_object().expect("data");
        node.config_maps.insert(
            config_map["metadata"]["name"].as_str().expect("name").to_owned(),
            data.iter().map(|(k, v)| (k.clone(), v.as_str().expect("text").to_owned())).collect(),
        );
        node.secrets.insert("pipe-store".into(), store_secret.into_iter().collect());
        Cluster { spec: template["spec"].clone(), node: Arc::new(node), gangs: Vec::new() }
    }

    /// Adds a Secret (before the first run).
    pub fn add_secret(&mut self, name: &str, data: &[(&str, &str)]) {
        let node = Arc::get_mut(&mut self.node).expect("secrets are added before pods run");
        node.secrets.insert(name.into(), data.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    }

    /// Gangs (Volcano Jobs) that exist: created and not deleted.
    pub fn gangs(&self) -> usize {
        self.gangs.len()
    }

    /// Runs workflow `workflow` to its end, panicking when it fails; gives the pods per task.
    pub fn submit(&mut self, workflow: &str) -> BTreeMap<String, usize> {
        let run = self.run(workflow, None);
        if let Some(why) = run.failure {
            panic!("workflow {workflow} failed: {why}");
        }
        run.pods
    }

    /// Runs workflow `workflow`; with `stop_after`, stops it (`argo stop`) once that long has
    /// passed while a resource step waits for its Job.
    pub fn run(&mut self, workflow: &str, stop_after: Option<Duration>) -> Run {
        let started = Instant::now();
        let templates: BTreeMap<String, Value> = self.spec["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .map(|t| (t["name"].as_str().expect("name").to_owned(), t.clone()))
            .collect();
        let mut global = BTreeMap::from([
            ("workflow.name".to_owned(), workflow.to_owned()),
            ("workflow.uid".to_owned(), format!("uid-{workflow}")),
        ]);
        for p in self.spec["arguments"]["parameters"].as_array().into_iter().flatten() {
            global.insert(
                format!("workflow.parameters.{}", p["name"].as_str().expect("name")),
                p["value"].as_str().expect("value").to_owned(),
            );
        }
        let mut run = Run::default();
        let deadline = stop_after.map(|d| started + d);
        let entry = self.spec["entrypoint"].as_str().unwrap_or("main").to_owned();
        run.failure = self.dag(&templates, &templates[&entry], &mut global, &mut run.pods, deadline).err();
        run.status = if run.failure.is_some() { "Failed" } else { "Succeeded" }.to_owned();
        if let Some(exit) = self.spec["onExit"].as_str() {
            global.insert("workflow.status".into(), run.status.clone());
            if let Err(why) = self.dag(&templates, &templates[exit], &mut global, &mut run.pods, None) {
                run.failure.get_or_insert(format!("the exit handler failed: {why}"));
            }
        }
        run
    }

    fn dag(
        &mut self,
        templates: &BTreeMap<String, Value>,
        dag: &Value,
        global: &mut BTreeMap<String, String>,
        pods: &mut BTreeMap<String, usize>,
        deadline: Option<Instant>,
    ) -> Result<(), String> {
        for task in dag["dag"]["tasks"].as_array().expect("a DAG template") {
            if let Some(when) = task["when"].as_str()
                && !holds(&fill(when, global, false))
            {
                continue;
            }
            let items: Vec<Option<Value>> = match task["withParam"].as_str() {
                Some(expr) => {
                    let list: Vec<Value> =
                        serde_json::from_str(&fill(expr, global, false)).map_err(|e| format!("withParam: {e}"))?;
                    list.into_iter().map(Some).collect()
                }
                None => vec![None],
            };
            let name = task["template"].as_str().expect("template");
            let task_name = task["name"].as_str().expect("name");
            for item in items {
                let mut vars = global.clone();
                // `{{item.KEY}}` for each key of an object item, as Argo does.
                for (k, v) in item.as_ref().and_then(Value::as_object).into_iter().flatten() {
                    vars.insert(format!("item.{k}"), v.as_str().expect("item values are strings").to_owned());
                }
                for a in task["arguments"]["parameters"].as_array().into_iter().flatten() {
                    let value = fill(a["value"].as_str().expect("value"), &vars, false);
                    vars.insert(format!("inputs.parameters.{}", a["name"].as_str().expect("name")), value);
                }
                // A DAG's own tasks are filled as each runs, after the tasks they refer to.
                if templates[name].get("dag").is_some() {
                    self.dag(templates, &templates[name], global, pods, deadline)?;
                    continue;
                }
                let filled: Value =
                    serde_json::from_str(&fill(&templates[name].to_string(), &vars, true)).expect("JSON");
                let result = if filled.get("resource").is_some() {
                    self.resource(&filled["resource"], name, task_name, pods, deadline)?
                } else {
                    self.pod(&filled, name, task_name, &vars, pods)?
                };
                global.insert(format!("tasks.{}.outputs.result", task["name"].as_str().expect("name")), result);
            }
        }
        Ok(())
    }

    /// A container template's pod, built as Argo builds it and run; its stdout.
    fn pod(
        &self,
        filled: &Value,
        name: &str,
        task: &str,
        vars: &BTreeMap<String, String>,
        pods: &mut BTreeMap<String, usize>,
    ) -> Result<String, String> {
        let mut spec = self.spec.clone();
        spec["templates"] = Value::Array(vec![filled.clone()]);
        spec["podSpecPatch"] = Value::String(fill(self.spec["podSpecPatch"].as_str().expect("patch"), vars, false));
        let pod = match argo_pod::build(&spec, name) {
            Ok(Some(pod)) => pod,
            Ok(None) => return Err(format!("template `{name}` makes no pod")),
            Err(problems) => return Err(format!("the API server refuses the pod of `{name}`: {problems:?}")),
        };
        *pods.entry(task.to_owned()).or_insert(0) += 1;
        let (stdout, _) = self.node.run_pod(&pod).map_err(|e| format!("pod of `{task}` failed: {e}"))?;
        Ok(stdout.trim().to_owned())
    }

    /// A resource template: `kubectl create` of a Volcano Job, then its conditions; or `kubectl
    /// delete --selector` of Jobs.
    fn resource(
        &mut self,
        resource: &Value,
        name: &str,
        task: &str,
        pods: &mut BTreeMap<String, usize>,
        deadline: Option<Instant>,
    ) -> Result<String, String> {
        match resource["action"].as_str() {
            Some("create") => {
                // pipe writes manifests as compact JSON, which is YAML.
                let job: Value = serde_json::from_str(resource["manifest"].as_str().expect("a manifest"))
                    .map_err(|e| format!("the manifest of `{name}` is not JSON: {e}"))?;
                assert_eq!(job["kind"], "Job", "only Volcano Jobs are created");
                let job_name = generated_name(job["metadata"]["generateName"].as_str().expect("generateName"));
                let gang = Gang::start(&self.node, &job, &job_name)
                    .map_err(|p| format!("Volcano refuses the Job of `{name}`: {p:?}"))?;
                *pods.entry(task.to_owned()).or_insert(0) += gang.size();
                while !gang.ended() {
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        // `argo stop`: the step's pod ends; the Job is another object and stays.
                        self.gangs.push(gang);
                        return Err(format!("`{name}` was stopped"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                match gang.wait() {
                    Phase::Completed => Ok(String::new()),
                    Phase::Failed(why) => Err(format!("the Job of `{name}` failed: {why}")),
                }
            }
            Some("delete") => {
                let flags: Vec<&str> =
                    resource["flags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                assert_eq!(flags.first(), Some(&"jobs.batch.volcano.sh"), "only Volcano Jobs are deleted: {flags:?}");
                let selector = flags.windows(2).find(|w| w[0] == "--selector").map(|w| w[1]).expect("a selector");
                let (key, value) = selector.split_once('=').expect("KEY=VALUE");
                let (matched, kept) = std::mem::take(&mut self.gangs)
                    .into_iter()
                    .partition::<Vec<_>, _>(|g| g.labels.get(key).map(String::as_str) == Some(value));
                self.gangs = kept;
                matched.into_iter().for_each(Gang::delete);
                Ok(String::new())
            }
            other => Err(format!("resource action {other:?} is not modelled")),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        std::mem::take(&mut self.gangs).into_iter().for_each(Gang::delete);
    }
}
