//! Every example, compiled for Argo, run end to end on the cluster stand-in (`pipe_tests::cluster`:
//! Argo's controller and pod construction, the API server's pod checks, Volcano's webhook and job
//! controller, a kubelet in `bubblewrap`, `torchrun` for ddp gangs, S3 on loopback), as a user
//! would after `pipe deploy`: the first run processes every datum, a run with nothing changed
//! starts no stage pod, one changed file starts one shard of the first stage; and a `pipe run` on
//! this machine against the same store reuses every datum the cluster made (the same keys
//! everywhere). Then the same through TorchX: each stage's component dry-run for Kubernetes by
//! TorchX itself, the Job it would submit run as a gang. And `argo stop` of a run whose gang is
//! training leaves no gang running.
//!
//! Needs Debian's bubblewrap and PyPI's `moto[server]` and `torchx` (scripts/test.sh installs
//! them).

use pipe_tests::cluster::Cluster;
use pipe_tests::sandbox::{Node, Root};
use pipe_tests::servers::Moto;
use pipe_tests::volcano::Gang;
use pipe_tests::{copy_dir, repo_root, write_file};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const PIPE: &str = env!("CARGO_BIN_EXE_pipe");

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("emitted YAML parses")
}

/// The `torchrun` stand-in (tests/torchrun), which images of ddp stages carry.
fn torchrun() -> PathBuf {
    repo_root().join("tests/torchrun/torchrun")
}

/// A value a stage's `env` takes from a cluster Secret: `secret(name, key)` for variable `var`.
struct Secret {
    name: &'static str,
    key: &'static str,
    var: &'static str,
    value: &'static str,
}

/// A pipeline in a folder, its store on S3 and what it compiles to.
struct Deployed {
    dir: PathBuf,
    moto: Moto,
    store: String,
}

impl Deployed {
    fn new(dir: &Path) -> Deployed {
        let moto = Moto::start("cluster");
        let store = moto.url("team");
        Deployed { dir: dir.to_owned(), moto, store }
    }

    fn pipe(&self, args: &[&str]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(["--store", &self.store]);
        self.moto.pipe(Path::new(PIPE), &self.dir, &all)
    }

    /// `pipe compile --target argo --store S3` (which pins the inputs to their commits now) onto
    /// a cluster: every user image is this host's system with `torchrun`, as PyTorch images have.
    fn cluster(&self, out: &str, secrets: &[Secret]) -> Cluster {
        self.pipe(&["compile", "pipeline.pipe", "--target", "argo", "-o", out]);
        let read = |f: &str| yaml(&std::fs::read_to_string(self.dir.join(out).join(f)).expect("emitted"));
        let (template, config) = (read("workflow-template.yaml"), read("configmap.yaml"));
        let images = images(&template).into_iter().map(|i| (i, Root::HostWith(vec![torchrun()]))).collect();
        let mut secret = self.moto.env();
        secret.push(("PIPE_STORE".into(), self.store.clone()));
        let mut cluster = Cluster::new(&self.dir.join(out), Path::new(PIPE), &template, &config, secret, images);
        for s in secrets {
            cluster.add_secret(s.name, &[(s.key, s.value)]);
        }
        cluster
    }
}

/// The images of a template's stage containers and its Jobs' containers.
fn images(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for t in template["spec"]["templates"].as_array().expect("templates") {
        if let Some(image) = t["container"]["image"].as_str() {
            out.push(image.to_owned());
        }
        if let Some(manifest) = t["resource"]["manifest"].as_str() {
            let job: Value = serde_json::from_str(manifest).expect("JSON");
            for task in job["spec"]["tasks"].as_array().into_iter().flatten() {
                out.push(task["template"]["spec"]["containers"][0]["image"].as_str().expect("image").to_owned());
            }
        }
    }
    out.retain(|i| !i.contains("pipe-shim"));
    out
}

/// Stage name → datums processed and skipped (reused), from `pipe run --json`.
fn local_run(d: &Deployed) -> BTreeMap<String, (u64, u64)> {
    let out = d.pipe(&["run", "pipeline.pipe", "--json"]);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("--json is JSON");
    summary["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            let n = |f: &str| s[f].as_u64().unwrap_or_else(|| panic!("`{f}` in {s}"));
            (s["name"].as_str().expect("name").to_owned(), (n("processed"), n("skipped")))
        })
        .collect()
}

/// The TorchX path: every stage's component dry-run for Kubernetes (TorchX's own scheduler writes
/// the Volcano Job), its pods run as a gang (`pipe_tests::volcano`) in images holding `pipe-shim`
/// and `torchrun`, with the store's credentials and `secrets` in the image's environment (workload
/// identity: TorchX has no secret references), each under its variable's name. Gives stage →
/// (processed, reused), from rank 0.
fn torchx_runs(d: &Deployed, out: &str, secrets: &[Secret]) -> BTreeMap<String, (u64, u64)> {
    d.pipe(&["compile", "pipeline.pipe", "--target", "torchx", "-o", out]);
    let dir = d.dir.join(out);
    // `<pipeline>.py`: the pipeline's name, which `pipeline { name = … }` may set.
    let file = std::fs::read_dir(&dir)
        .expect("the output folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|f| f.ends_with(".py"))
        .expect("the components");
    let source = std::fs::read_to_string(dir.join(&file)).expect("the components");
    let stages: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("def ")?.split_once('(').map(|(name, _)| name))
        .filter(|name| !name.starts_with('_'))
        .collect();
    let shim = pipe_tests::sandbox::static_shim(Path::new(PIPE));
    let mut env = d.moto.env();
    env.extend(secrets.iter().map(|s| (s.var.to_owned(), s.value.to_owned())));
    let node = Arc::new(node_with_images(&dir.join("node"), &source, &shim, &env));
    let mut report = BTreeMap::new();
    for stage in stages {
        let out = pipe_tests::succeeded(
            Command::new("torchx")
                .args(["run", "--workspace", "", "--dryrun", "-s", "kubernetes", &format!("./{file}:{stage}")])
                .current_dir(&dir)
                .output()
                .expect("torchx runs (pip install torchx)"),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let job: Value = serde_saphyr::from_str(&stdout[stdout.find("apiVersion").expect("the Job")..]).expect("YAML");
        let name = job["metadata"]["name"].as_str().expect("TorchX names its Jobs").to_owned();
        let gang = Gang::start(&node, &job, &name).unwrap_or_else(|p| panic!("Volcano refuses `{stage}`: {p:?}"));
        let pods = gang.finish().unwrap_or_else(|why| panic!("TorchX's Job for `{stage}` failed: {why}"));
        let stderr = &pods[0].1;
        let line = stderr.lines().find(|l| l.contains("(rank 0):")).unwrap_or_else(|| panic!("no report: {stderr}"));
        let count = |what: &str| -> u64 {
            let at = line.find(&format!(" {what}")).unwrap_or_else(|| panic!("`{what}` in {line}"));
            line[..at].rsplit([' ', ',']).next().and_then(|n| n.parse().ok()).expect("a count")
        };
        report.insert(stage.to_owned(), (count("processed"), count("reused")));
    }
    report
}

/// A node (its pods' volumes under `dir`) with every image the components in `source` name: this
/// host's system with `pipe-shim` and `torchrun`, and `env` as what the image's environment holds.
fn node_with_images(dir: &Path, source: &str, shim: &Path, env: &[(String, String)]) -> Node {
    let mut out = Node::new(dir);
    for line in source.lines() {
        if let Some(image) = line.trim().strip_prefix("image: str = \"").and_then(|r| r.strip_suffix("\",")) {
            out.images.insert(image.to_owned(), Root::HostWith(vec![shim.to_owned(), torchrun()]));
            out.image_env.insert(image.to_owned(), env.to_vec());
        }
    }
    out
}

/// One example on both cluster paths: `setup` puts its repos, `change` edits one file of its first
/// stage's input (and puts it again), `first` is that stage.
/// Gives the pods each task of the first Argo run started.
fn example_runs_on_the_cluster(
    name: &str,
    first: &str,
    secrets: &[Secret],
    setup: impl Fn(&Deployed),
    change: impl Fn(&Deployed),
) -> BTreeMap<String, usize> {
    // Argo.
    let tmp = tempfile::tempdir().expect("tmp");
    copy_dir(&repo_root().join("examples").join(name), tmp.path());
    let d = Deployed::new(tmp.path());
    setup(&d);
    let first_task = format!("run-{}", first.replace('_', "-"));

    let mut cluster = d.cluster("out-1", secrets);
    let run1 = cluster.submit("run-1");
    let argo_first = run1.clone();
    let stages: Vec<&String> = run1.keys().filter(|k| k.starts_with("run-")).collect();
    assert!(stages.len() >= 3, "{name}: every stage ran pods: {run1:?}");
    let again = cluster.submit("run-2");
    assert!(again.keys().all(|k| !k.starts_with("run-")), "{name}: nothing changed, no stage pod: {again:?}");
    assert_eq!(cluster.gangs(), 0, "{name}: no Job left behind");
    // Each workflow left a whole run record, as `pipe run` does: every stage, none pending.
    let records: Value = serde_json::from_slice(&d.pipe(&["log", "pipeline.pipe", "--json"]).stdout).expect("JSON");
    let records = records.as_array().expect("runs");
    assert_eq!(records.len(), 2, "{name}: a record per workflow: {records:?}");
    for r in records {
        assert!(r.get("pending").is_none(), "{name}: every stage committed: {r}");
        assert_eq!(r["stages"].as_array().map(Vec::len), Some(stages.len()), "{name}: {r}");
    }
    same_keys_here(&d, name);
    change(&d);
    let mut cluster = d.cluster("out-2", secrets);
    let third = cluster.submit("run-3");
    assert_eq!(third.get(&first_task), Some(&1), "{name}: one file changed, one shard of `{first}`: {third:?}");

    // TorchX on Kubernetes.
    let tmp = tempfile::tempdir().expect("tmp");
    copy_dir(&repo_root().join("examples").join(name), tmp.path());
    let d = Deployed::new(tmp.path());
    setup(&d);
    let run1 = torchx_runs(&d, "tx-1", secrets);
    assert!(run1.values().all(|(processed, _)| *processed > 0), "{name}: every stage processed datums: {run1:?}");
    let again = torchx_runs(&d, "tx-1", secrets);
    assert!(again.values().all(|(processed, _)| *processed == 0), "{name}: nothing changed, nothing ran: {again:?}");
    same_keys_here(&d, name);
    change(&d);
    let third = torchx_runs(&d, "tx-2", secrets);
    assert_eq!(third[first].0, 1, "{name}: one file changed, one datum of `{first}`: {third:?}");
    argo_first
}

/// The same keys everywhere: `pipe run` on this machine reuses every datum the cluster made.
fn same_keys_here(d: &Deployed, name: &str) {
    let local = local_run(d);
    for (stage, (processed, _)) in &local {
        assert_eq!(*processed, 0, "{name}: `pipe run` reprocessed {stage} after the cluster ran it: {local:?}");
    }
}

#[test]
fn mnist_runs_on_the_cluster() {
    example_runs_on_the_cluster(
        "mnist",
        "preprocess",
        &[Secret { name: "hf", key: "token", var: "HF_TOKEN", value: "a-token" }],
        |d| {
            d.pipe(&["data", "init", "mnist"]);
            d.pipe(&["data", "put", "mnist", "data"]);
            d.pipe(&["data", "tag", "mnist", "v2"]);
        },
        |d| {
            let shard = d.dir.join("data/train/shard-1.csv");
            let text = std::fs::read_to_string(&shard).expect("shard");
            let row = text.lines().nth(1).expect("a row");
            std::fs::write(&shard, format!("{text}{row}\n")).expect("write");
            d.pipe(&["data", "put", "mnist", "data"]);
            // Tags never move: the pipeline moves to a new one.
            d.pipe(&["data", "tag", "mnist", "v3"]);
            let file = d.dir.join("pipeline.pipe");
            let text = std::fs::read_to_string(&file).expect("pipeline");
            std::fs::write(&file, text.replace("@ \"v2\"", "@ \"v3\"")).expect("write");
        },
    );
}

#[test]
fn distill_runs_on_the_cluster() {
    example_runs_on_the_cluster(
        "distill",
        "teacher_logits",
        &[],
        |d| {
            d.pipe(&["data", "init", "corpus"]);
            d.pipe(&["data", "put", "corpus", "corpus"]);
            d.pipe(&["data", "init", "teacher-weights"]);
            d.pipe(&["data", "put", "teacher-weights", "teacher"]);
            d.pipe(&["data", "tag", "teacher-weights", "v3.1"]);
        },
        |d| {
            let shards = d.dir.join("corpus/shards");
            let first = std::fs::read_dir(&shards).expect("shards").filter_map(Result::ok).map(|e| e.path()).min();
            let shard = first.expect("a shard");
            let text = std::fs::read_to_string(&shard).expect("shard");
            let line = text.lines().next().expect("a line");
            std::fs::write(&shard, format!("{text}{line}\n")).expect("write");
            d.pipe(&["data", "put", "corpus", "corpus"]);
        },
    );
}

#[test]
fn faces_runs_on_the_cluster() {
    example_runs_on_the_cluster(
        "faces",
        "download",
        &[],
        |_| {},
        |d| {
            let batch = d.dir.join("photos/batch-2.txt");
            let text = std::fs::read_to_string(&batch).expect("batch");
            let first = text.lines().next().expect("a line").to_owned();
            std::fs::write(&batch, format!("{text}{first}\n")).expect("write");
        },
    );
}

#[test]
fn sweep_runs_on_the_cluster() {
    example_runs_on_the_cluster(
        "sweep",
        "split",
        &[],
        |d| {
            d.pipe(&["data", "init", "tabular"]);
            d.pipe(&["data", "put", "tabular", "data"]);
        },
        |d| {
            let table = d.dir.join("data/table.csv");
            let text = std::fs::read_to_string(&table).expect("table");
            let row = text.lines().nth(1).expect("a row").to_owned();
            std::fs::write(&table, format!("{text}{row}\n")).expect("write");
            d.pipe(&["data", "put", "tabular", "data"]);
        },
    );
}

/// Sweeps on a cluster: every point of `search`'s and `refine`'s grids is a datum of their plans,
/// sharded like files, with the keys `pipe run` gives them here; roles name the inputs the same
/// way in a pod.
#[test]
fn hpo_runs_on_the_cluster() {
    let first = example_runs_on_the_cluster(
        "hpo",
        "split",
        &[],
        |d| {
            d.pipe(&["data", "init", "hpo-points"]);
            d.pipe(&["data", "put", "hpo-points", "data"]);
        },
        |d| {
            let table = d.dir.join("data/points.csv");
            let text = std::fs::read_to_string(&table).expect("points");
            let row = text.lines().nth(1).expect("a row").to_owned();
            std::fs::write(&table, format!("{text}{row}\n")).expect("write");
            d.pipe(&["data", "put", "hpo-points", "data"]);
        },
    );
    // Grid points are sharded like files: the search's 15 points in its `parallelism` of 4 pods,
    // the refinement's 5 in 5 (fewer than the 32 shards a stage gets without one).
    assert_eq!(first.get("run-search"), Some(&4), "{first:?}");
    assert_eq!(first.get("run-refine"), Some(&5), "{first:?}");
}

/// A pipeline run by new commits, through Argo's path: the CronWorkflow's ticks each run the
/// `trigger` step (`pipe_runtime::trigger` in the shim), and the `stages` DAG only when it says
/// `run`. Five replays of one tick start one run; a tick with nothing new is one pod in all; a
/// new commit runs again; a retried tick (the same workflow) goes ahead. The stand-in submits
/// ticks by hand; what it does not model, Argo's cron controller decides
/// (`workflow/cron/operator.go`: `Forbid` skips a tick while one is active, a missed tick runs
/// within `startingDeadlineSeconds`), so the CronWorkflow's fields are asserted here.
#[test]
fn a_triggered_pipeline_runs_once_per_new_set_of_commits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write_file(dir, "pipeline.pipe", pipe_tests::TRIGGERED_PIPELINE.as_bytes());
    write_file(dir, "models/a.bin", b"weights 1");
    let d = Deployed::new(dir);
    d.pipe(&["data", "init", "models"]);
    d.pipe(&["data", "put", "models", "models"]);
    let mut cluster = d.cluster("out", &[]);
    let cron = yaml(&std::fs::read_to_string(dir.join("out/cron-workflow.yaml")).expect("a CronWorkflow"));
    assert_eq!(cron["spec"]["schedules"][0], "* * * * *");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(cron["spec"]["startingDeadlineSeconds"], 60);

    let ticks: Vec<BTreeMap<String, usize>> = (1..=5).map(|i| cluster.submit(&format!("tick-{i}"))).collect();
    assert_eq!(ticks[0].get("run-check"), Some(&1), "the first tick runs: {:?}", ticks[0]);
    for replay in &ticks[1..] {
        assert_eq!(replay, &BTreeMap::from([("trigger".to_owned(), 1)]), "a replay is the check's one pod");
    }
    let runs = |d: &Deployed| -> Vec<String> {
        let records: Value = serde_json::from_slice(&d.pipe(&["log", "pipeline.pipe", "--json"]).stdout).expect("JSON");
        records.as_array().expect("runs").iter().map(|r| r["run_id"].as_str().expect("id").to_owned()).collect()
    };
    assert_eq!(runs(&d), ["tick-1"]);

    write_file(dir, "models/b.bin", b"weights 2");
    d.pipe(&["data", "put", "models", "models"]);
    let moved = cluster.submit("tick-6");
    assert_eq!(moved.get("run-check"), Some(&1), "one new file, one shard: {moved:?}");
    assert_eq!(cluster.submit("tick-7"), BTreeMap::from([("trigger".to_owned(), 1)]));
    let retried = cluster.submit("tick-6");
    assert_eq!(retried.get("plan-check"), Some(&1), "a retried tick goes ahead: {retried:?}");
    assert_eq!(retried.get("run-check"), None, "and finds its datums done: {retried:?}");
    let mut ids = runs(&d);
    ids.sort();
    assert_eq!(ids, ["tick-1", "tick-6"]);
    let log = String::from_utf8(d.pipe(&["log", "pipeline.pipe"]).stdout).expect("utf-8");
    assert!(log.contains("last trigger check") && log.contains("tick-6"), "{log}");
}

/// `argo stop` while a ddp stage trains: the step's pod ends, but the Volcano Job is an object of
/// its own; the exit handler pipe emits deletes it (and with it its pods), instead of leaving it to
/// hold its GPUs until the Workflow is deleted.
#[test]
fn stopping_a_run_stops_its_gang() {
    let tmp = tempfile::tempdir().expect("tmp");
    let token = format!("pipe-stop-test-{}", fastrand::u64(..));
    let text = format!(
        "use torchx\n\ninput letters = repo(\"letters\") @ \"main\"\n\nstage train: torchx.ddp {{\n  image   = \"pytorch/pytorch\"\n  script  = \"train.py\"\n  datums  = glob(letters, \"/\")\n  args    = [\"--token\", \"{token}\"]\n  nnodes  = 2\n}}\n"
    );
    write_file(tmp.path(), "pipeline.pipe", text.as_bytes());
    write_file(tmp.path(), "train.py", b"import time\ntime.sleep(600)\n");
    write_file(tmp.path(), "data/a.txt", b"a\n");
    let d = Deployed::new(tmp.path());
    d.pipe(&["data", "init", "letters"]);
    d.pipe(&["data", "put", "letters", "data"]);
    let mut cluster = d.cluster("out", &[]);
    let run = cluster.run("run-1", Some(Duration::from_secs(8)));
    assert_eq!(run.status, "Failed", "{run:?}");
    assert!(run.failure.as_deref().is_some_and(|f| f.contains("stopped")), "{run:?}");
    let training = || {
        let out = std::process::Command::new("pgrep").args(["-f", &token]).output().expect("pgrep runs");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(cluster.gangs(), 0, "the exit handler deleted the Job");
    assert_eq!(training(), 0, "no replica of the stopped run is still training");
}
