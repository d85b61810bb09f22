//! `pipe compile --target spec` and `pipe-shim plan|run|commit`: the cluster's steps, run here
//! as processes on a local store. The same outputs as `pipe run`; a changed datum schedules one
//! shard, not all.

use pipe_tests::copy_dir;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shim_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_pipe")).with_file_name("pipe-shim");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p pipe-shim` (the test suite builds the workspace)",
        path.display()
    );
    path
}

fn check(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "{what} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pipe(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(args)
        .current_dir(dir)
        .env("HF_TOKEN", "x")
        .env_remove("PIPE_STORE")
        .output()
        .expect("pipe");
    check(out, &format!("pipe {args:?}"))
}

fn shim(dir: &Path, run: &str, args: &[&str]) -> Output {
    pipe_tests::shim_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir, run)
        .args(args)
        .env("HF_TOKEN", "x")
        .output()
        .expect("pipe-shim")
}

/// The shard numbers of `pipe-shim plan`'s output (`[{"shard": "0", …}, …]`).
fn shard_numbers(stdout: &str) -> Vec<String> {
    let items: Vec<Value> = serde_json::from_str(stdout).expect("a JSON list of shards");
    items.iter().map(|i| i["shard"].as_str().expect("a shard number").to_owned()).collect()
}

/// Runs every stage through plan → run each shard → commit; gives each stage's shard count.
fn run_on_shim(dir: &Path, run: &str) -> Vec<(String, usize)> {
    let mut shards = Vec::new();
    for stage in ["preprocess", "train", "evaluate"] {
        let spec = format!("spec/{stage}.json");
        let planned = shard_numbers(&check(shim(dir, run, &["plan", "--spec", &spec]), "plan"));
        for k in &planned {
            check(shim(dir, run, &["run", "--spec", &spec, "--shard", k]), "run");
        }
        check(shim(dir, run, &["commit", "--spec", &spec]), "commit");
        shards.push((stage.to_owned(), planned.len()));
    }
    shards
}

fn example(tmp: &Path, name: &str) -> PathBuf {
    example_with(tmp, name, 0)
}

/// The mnist example with `extra` small files beside its data (under `data/notes/`, which no glob
/// reads): 32 or more make its put pack every small file, the shards' inputs included.
fn example_with(tmp: &Path, name: &str, extra: usize) -> PathBuf {
    let dir = tmp.join(name);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mnist"), &dir);
    for i in 0..extra {
        pipe_tests::write_file(&dir, &format!("data/notes/{i:03}.txt"), format!("note {i}\n").as_bytes());
    }
    let text = std::fs::read_to_string(dir.join("pipeline.pipe")).expect("read");
    std::fs::write(dir.join("pipeline.pipe"), text.replace("@ \"v2\"", "")).expect("write");
    pipe(&dir, &["data", "--store", ".pipe", "init", "mnist"]);
    pipe(&dir, &["data", "--store", ".pipe", "put", "mnist", "data"]);
    dir
}

fn files_of(dir: &Path, repo: &str) -> Value {
    let ls: Value =
        serde_json::from_str(&pipe(dir, &["data", "--store", ".pipe", "ls", repo, "--json"])).expect("JSON");
    ls
}

#[test]
fn the_shim_computes_what_pipe_run_computes_and_schedules_only_changed_datums() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cluster = example(tmp.path(), "cluster");
    let local = example(tmp.path(), "local");

    pipe(&cluster, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(cluster.join("spec/preprocess.json")).expect("spec"))
            .expect("JSON");
    let head: Value =
        serde_json::from_str(&pipe(&cluster, &["data", "--store", ".pipe", "log", "mnist", "--json"])).expect("JSON");
    assert_eq!(spec["inputs"][0]["source"]["repo"]["commit"], head[0]["commit"], "compiled specs pin the commit");
    let again = tempfile::tempdir().expect("tempdir");
    pipe(&cluster, &["compile", "pipeline.pipe", "--target", "spec", "-o", again.path().to_str().expect("utf-8")]);
    for stage in ["preprocess", "train", "evaluate"] {
        let a = std::fs::read(cluster.join(format!("spec/{stage}.json"))).expect("spec");
        assert_eq!(a, std::fs::read(again.path().join(format!("{stage}.json"))).expect("spec"), "deterministic output");
    }

    assert_eq!(run_on_shim(&cluster, "run-1"), [("preprocess".into(), 3), ("train".into(), 1), ("evaluate".into(), 2)]);
    pipe(&local, &["run", "pipeline.pipe"]);
    for stage in ["preprocess", "train", "evaluate"] {
        let repo = format!("pipeline.{stage}");
        assert_eq!(files_of(&cluster, &repo), files_of(&local, &repo), "{stage}: same outputs as `pipe run`");
    }
    assert_eq!(
        run_on_shim(&cluster, "run-2"),
        [("preprocess".into(), 0), ("train".into(), 0), ("evaluate".into(), 0)],
        "nothing changed: no shards"
    );

    let shard = cluster.join("data/train/shard-2.csv");
    let text = std::fs::read_to_string(&shard).expect("read");
    std::fs::write(&shard, text.replacen(",0,", ",1,", 1)).expect("write");
    pipe(&cluster, &["data", "--store", ".pipe", "put", "mnist", "data"]);
    pipe(&cluster, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    assert_eq!(
        run_on_shim(&cluster, "run-3"),
        [("preprocess".into(), 1), ("train".into(), 1), ("evaluate".into(), 2)],
        "one changed datum schedules one shard, not three"
    );
}

/// Inputs stored in packs (see the store's `pack`) are read by the shim's shards as by `pipe run`:
/// the same outputs, and a second run schedules nothing.
#[test]
fn packed_inputs_are_read_by_the_shim_as_by_pipe_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cluster = example_with(tmp.path(), "cluster", 40);
    let local = example_with(tmp.path(), "local", 40);
    let packs = std::fs::read_dir(cluster.join(".pipe/packs")).map(Iterator::count).unwrap_or(0);
    assert!(packs > 0, "the input's small files were packed");
    assert!(!cluster.join(".pipe/objects").exists(), "and none is stored loose");

    pipe(&cluster, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    assert_eq!(run_on_shim(&cluster, "run-1"), [("preprocess".into(), 3), ("train".into(), 1), ("evaluate".into(), 2)]);
    pipe(&local, &["run", "pipeline.pipe"]);
    for stage in ["preprocess", "train", "evaluate"] {
        let repo = format!("pipeline.{stage}");
        assert_eq!(files_of(&cluster, &repo), files_of(&local, &repo), "{stage}: same outputs as `pipe run`");
    }
    assert_eq!(run_on_shim(&cluster, "run-2"), [("preprocess".into(), 0), ("train".into(), 0), ("evaluate".into(), 0)]);
}

/// A plan and a commit with nothing to do read the stage index (one object, written by the
/// commit) instead of a cache entry per datum: with the entries gone, a second run still plans no
/// shard and commits. Before, each plan read every datum's entry (a million reads for a million
/// datums, 34 s of a plan) and the commit did again.
#[test]
fn a_no_change_plan_and_commit_read_the_stage_index_not_each_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cluster = example(tmp.path(), "cluster");
    pipe(&cluster, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    assert_eq!(run_on_shim(&cluster, "run-1"), [("preprocess".into(), 3), ("train".into(), 1), ("evaluate".into(), 2)]);
    let before = files_of(&cluster, "pipeline.evaluate");
    std::fs::remove_dir_all(cluster.join(".pipe/cache")).expect("remove the cache entries");
    assert_eq!(
        run_on_shim(&cluster, "run-2"),
        [("preprocess".into(), 0), ("train".into(), 0), ("evaluate".into(), 0)],
        "the index vouches for every datum"
    );
    assert_eq!(files_of(&cluster, "pipeline.evaluate"), before, "the commit is the same");
}

#[test]
fn a_failed_shard_fails_the_commit_naming_a_missing_datum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = example(tmp.path(), "p");
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let planned = shard_numbers(&check(shim(&dir, "r", &["plan", "--spec", "spec/preprocess.json"]), "plan"));
    assert_eq!(planned.len(), 3);
    check(shim(&dir, "r", &["run", "--spec", "spec/preprocess.json", "--shard", "0"]), "shard 0");
    let failed = shim(
        &dir,
        "r",
        &["run", "--spec", "spec/preprocess.json", "--shard", "1", "--", "sh", "-c", "echo broken >&2; exit 4"],
    );
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("exited with code 4"));
    let commit = shim(&dir, "r", &["commit", "--spec", "spec/preprocess.json"]);
    let stderr = String::from_utf8_lossy(&commit.stderr);
    assert_eq!(commit.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("datum(s) have no result, e.g. `digits:/train/shard-"), "{stderr}");
    let usage = shim(&dir, "r", &["plan"]);
    assert_eq!(usage.status.code(), Some(2), "no spec is a usage error");
}

/// Regression: `run` and `commit` resolved their inputs again instead of reading the commits the
/// plan recorded, so with an unpinned ref that moved during the run (a scheduled pipeline, a new
/// put) a changed datum's new key was in no shard and `commit` failed, or worse, mixed data.
#[test]
fn shards_and_commit_read_the_commits_their_plan_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = example(tmp.path(), "p");
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec", "--unpinned"]);
    let spec = "spec/preprocess.json";
    let planned = shard_numbers(&check(shim(&dir, "r", &["plan", "--spec", spec]), "plan"));
    assert_eq!(planned.len(), 3);
    let planned_data = files_of(&dir, "mnist");
    // The branch moves after the plan: one shard's file changes.
    let shard = dir.join("data/train/shard-2.csv");
    let text = std::fs::read_to_string(&shard).expect("read");
    std::fs::write(&shard, text.replacen(",0,", ",1,", 1)).expect("write");
    pipe(&dir, &["data", "--store", ".pipe", "put", "mnist", "data"]);
    assert_ne!(files_of(&dir, "mnist"), planned_data, "the head moved");
    for k in &planned {
        check(shim(&dir, "r", &["run", "--spec", spec, "--shard", k]), "run");
    }
    check(shim(&dir, "r", &["commit", "--spec", spec]), "commit of what was planned");

    // The same outputs as a run over the data the plan saw.
    let local = example(tmp.path(), "local");
    pipe(&local, &["run", "pipeline.pipe"]);
    assert_eq!(files_of(&dir, "pipeline.preprocess"), files_of(&local, "pipeline.preprocess"));
}

/// The scripts a command names are code everywhere: `pipe compile` stores them with the spec, the
/// shim runs the command beside its own copy (a stock image does not hold `prep.py`), and a datum
/// has one key on a laptop and on a cluster, so what `pipe run` computed is not computed again.
#[test]
fn scripts_travel_with_the_spec_and_keys_are_the_same_locally_and_on_the_cluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = example(tmp.path(), "p");
    pipe(&dir, &["run", "pipeline.pipe"]);
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spec/preprocess.json")).expect("spec")).expect("JSON");
    assert_eq!(spec["code"][0]["arg"], "prep.py", "the script goes with the spec: {spec}");
    let planned = shard_numbers(&check(shim(&dir, "r1", &["plan", "--spec", "spec/preprocess.json"]), "plan"));
    assert!(planned.is_empty(), "every datum `pipe run` computed has the same key on the cluster: {planned:?}");

    // A changed datum runs in a pod whose folder has no script: the shim brings its own copy.
    let shard = dir.join("data/train/shard-2.csv");
    let text = std::fs::read_to_string(&shard).expect("read");
    std::fs::write(&shard, text.replacen(",0,", ",1,", 1)).expect("write");
    pipe(&dir, &["data", "--store", ".pipe", "put", "mnist", "data"]);
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let elsewhere = tmp.path().join("pod");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let in_pod = |args: &[&str]| {
        Command::new(Path::new(env!("CARGO_BIN_EXE_pipe")).with_file_name("pipe-shim"))
            .args(args)
            .current_dir(&elsewhere)
            .env("PIPE_STORE", dir.join(".pipe"))
            .env("PIPE_RUN", "r2")
            .env("PIPE_WORK", elsewhere.join("work"))
            .output()
            .expect("pipe-shim")
    };
    let spec_file = dir.join("spec/preprocess.json");
    let spec_arg = spec_file.to_str().expect("utf-8");
    let planned = shard_numbers(&check(in_pod(&["plan", "--spec", spec_arg]), "plan"));
    assert_eq!(planned.len(), 1);
    check(in_pod(&["run", "--spec", spec_arg, "--shard", &planned[0]]), "a shard with no script in its folder");
    check(in_pod(&["commit", "--spec", spec_arg]), "commit");
    let again = shard_numbers(&check(shim(&dir, "r3", &["plan", "--spec", "spec/preprocess.json"]), "plan"));
    assert!(again.is_empty());
    let local: Value = serde_json::from_str(&pipe(&dir, &["run", "pipeline.pipe", "--json"])).expect("JSON");
    assert_eq!(local["stages"][0]["name"], "preprocess");
    assert_eq!(local["stages"][0]["processed"], 0, "`pipe run` reuses what the cluster computed: {local}");
}

#[test]
fn a_plan_that_cannot_be_read_or_belongs_to_another_spec_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = example(tmp.path(), "p");
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let spec = "spec/preprocess.json";
    check(shim(&dir, "r", &["plan", "--spec", spec]), "plan");
    let stored = dir.join(".pipe/plans/r/preprocess");
    assert!(stored.is_file(), "the plan is stored at {}", stored.display());
    let original = std::fs::read(&stored).expect("plan");

    std::fs::write(&stored, b"{\"format\": 1, \"run\": 3}").expect("damage");
    for args in [vec!["run", "--spec", spec, "--shard", "0"], vec!["commit", "--spec", spec]] {
        let out = shim(&dir, "r", &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("the plan of run `r` cannot be read"), "{stderr}");
    }
    let rank1 = shim(&dir, "r", &["stage", "--spec", spec, "--rank", "1", "--wait", "10m"]);
    let stderr = String::from_utf8_lossy(&rank1.stderr);
    assert_eq!(rank1.status.code(), Some(1), "a follower fails at once instead of waiting:\n{stderr}");
    assert!(stderr.contains("cannot be read"), "{stderr}");

    std::fs::write(&stored, original).expect("restore");
    let text = std::fs::read_to_string(dir.join(spec)).expect("spec");
    std::fs::write(dir.join("other.json"), text.replace("prep.py", "prep2.py")).expect("write");
    let out = shim(&dir, "r", &["run", "--spec", "other.json", "--shard", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("planned with another stage spec"), "{stderr}");
}

#[test]
fn a_follower_replica_runs_the_command_but_records_nothing_and_install_copies_the_shim() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = example(tmp.path(), "p");
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let spec = "spec/preprocess.json";
    let planned = shard_numbers(&check(shim(&dir, "r", &["plan", "--spec", spec]), "plan"));
    // Rank 1 of a gang: the command runs (it leaves a mark outside the store), nothing is cached.
    let marks = dir.join("marks");
    std::fs::create_dir_all(&marks).expect("marks");
    let mark = format!("touch {}/$PIPE_DATUM; cp -r $PIPE_IN_DIGITS/. $PIPE_OUT/", marks.display());
    for k in &planned {
        check(
            shim(&dir, "r", &["run", "--spec", spec, "--shard", k, "--rank", "1", "--", "sh", "-c", &mark]),
            "follower",
        );
    }
    assert_eq!(std::fs::read_dir(&marks).expect("marks").count(), 3, "the follower ran every datum");
    let commit = shim(&dir, "r", &["commit", "--spec", spec]);
    assert_eq!(commit.status.code(), Some(1), "a follower's results are not the stage's");
    // The leader then records them.
    for k in &planned {
        check(shim(&dir, "r", &["run", "--spec", spec, "--shard", k, "--rank", "0"]), "leader");
    }
    check(shim(&dir, "r", &["commit", "--spec", spec]), "commit after the leader");

    let bin = tmp.path().join("bin");
    check(shim(&dir, "r", &["install", bin.to_str().expect("utf-8")]), "install");
    let copied = bin.join("pipe-shim");
    let out = Command::new(&copied).arg("--version").output().expect("the copy runs");
    assert!(out.status.success());
    assert_eq!(std::fs::read(&copied).expect("copy"), std::fs::read(shim_binary()).expect("shim"));
}

/// A cluster's run has a record, as a local run does: each stage's `commit` stores its share and
/// writes the run's record from every share so far, so `pipe log` lists the run with each stage's
/// datums (processed by this run's shards, or reused), metrics, output, and the commits it read.
/// Two stages committing at once both end up in the record. Before, a run on a cluster left no
/// record: `pipe log` knew nothing of it.
#[test]
fn a_cluster_run_is_recorded_as_its_stages_commit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p");
    std::fs::create_dir_all(dir.join("raw")).expect("mkdir");
    std::fs::write(dir.join("raw/a"), "2").expect("write");
    std::fs::write(dir.join("raw/b"), "5").expect("write");
    std::fs::write(
        dir.join("pipeline.pipe"),
        r#"use torchx

input raw = repo("raw")

stage score: torchx.shell {
  image   = "busybox"
  script  = "n=$(basename $PIPE_IN_RAW/*); mkdir $PIPE_OUT/$n; echo '{\"acc\": '$(cat $PIPE_IN_RAW/*)'}' > $PIPE_OUT/$n/metrics.json"
  datums  = glob(raw, "/*")
  metrics = "metrics.json"
}

stage copy: torchx.shell {
  image  = "busybox"
  script = "cp $PIPE_IN_RAW/* $PIPE_OUT/"
  datums = glob(raw, "/*")
}

stage total: torchx.shell {
  image  = "busybox"
  script = "cat $PIPE_IN_SCORE/*/metrics.json > $PIPE_OUT/all"
  datums = glob(score, "/")
}
"#,
    )
    .expect("write");
    pipe(&dir, &["data", "--store", ".pipe", "init", "raw"]);
    pipe(&dir, &["data", "--store", ".pipe", "put", "raw", "raw"]);
    pipe(&dir, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let stage = |run: &str, name: &str| {
        let spec = format!("spec/{name}.json");
        for k in shard_numbers(&check(shim(&dir, run, &["plan", "--spec", &spec]), "plan")) {
            check(shim(&dir, run, &["run", "--spec", &spec, "--shard", &k]), "run");
        }
    };
    for run in ["wf-1", "wf-2"] {
        stage(run, "score");
        stage(run, "copy");
        // `score` and `copy` commit at once, as parallel branches of a DAG do.
        let commits: Vec<_> = ["score", "copy"]
            .iter()
            .map(|s| {
                pipe_tests::shim_command(Path::new(env!("CARGO_BIN_EXE_pipe")), &dir, run)
                    .args(["commit", "--spec", &format!("spec/{s}.json")])
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("pipe-shim")
            })
            .collect();
        for mut c in commits {
            assert!(c.wait().expect("wait").success());
        }
        stage(run, "total");
        check(shim(&dir, run, &["commit", "--spec", "spec/total.json"]), "commit");
    }
    let records: Value = serde_json::from_str(&pipe(&dir, &["log", "pipeline.pipe", "--json"])).expect("JSON");
    let records = records.as_array().expect("runs");
    assert_eq!(records.len(), 2, "{records:?}");
    let first = records.iter().find(|r| r["run_id"] == "wf-1").expect("wf-1 recorded");
    let mut stages: Vec<&str> =
        first["stages"].as_array().expect("stages").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(stages.pop(), Some("total"), "stages in the order they committed");
    stages.sort_unstable();
    assert_eq!(stages, ["copy", "score"], "both stages that committed at once");
    let stage_of = |r: &Value, name: &str| {
        r["stages"].as_array().expect("stages").iter().find(|s| s["name"] == name).cloned().expect("stage")
    };
    let score = stage_of(first, "score");
    assert_eq!((score["processed"].as_u64(), score["skipped"].as_u64()), (Some(2), Some(0)));
    let acc: Vec<f64> =
        score["datums"].as_array().expect("datums").iter().filter_map(|d| d["metrics"]["acc"].as_f64()).collect();
    assert_eq!(acc, [2.0, 5.0], "each datum's metrics");
    let head: Value =
        serde_json::from_str(&pipe(&dir, &["data", "--store", ".pipe", "log", "raw", "--json"])).expect("JSON");
    assert_eq!(first["inputs"][0]["repo"], "raw");
    assert_eq!(first["inputs"][0]["commit"], head[0]["commit"]);
    assert_eq!(first["inputs"].as_array().map(Vec::len), Some(1), "an upstream stage is not an input");
    let total = stage_of(first, "total");
    assert_eq!(total["reads"][0]["repo"], "pipeline.score");
    assert_eq!(total["reads"][0]["commit"], score["output"], "total read score's output at the commit it made");
    let second = records.iter().find(|r| r["run_id"] == "wf-2").expect("wf-2 recorded");
    let again = stage_of(second, "score");
    assert_eq!((again["processed"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(2)), "nothing changed");
    assert_eq!(again["datums"][0]["metrics"]["acc"], 2.0, "a reused datum's metrics are recorded too");
    let shown = pipe(&dir, &["log", "pipeline.pipe", "wf-1", "wf-2"]);
    assert!(shown.starts_with("from run wf-1 to run wf-2"), "{shown}");
}

/// `points(…)` on the cluster's path: the plan, each shard and the commit read the points file
/// the upstream stage committed, and the outputs are `pipe run`'s.
#[test]
fn a_points_file_is_read_by_the_plan_the_shards_and_the_commit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let make = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(dir.join("seed")).expect("mkdir");
        std::fs::write(dir.join("seed/points.json"), r#"[{"lr": 0.1}, {"lr": 0.01}, {"lr": 0.5}]"#).expect("write");
        std::fs::write(
            dir.join("pipeline.pipe"),
            "param lr: float = 1.0\ninput seed = repo(\"seed\")\n\nstage propose {\n  image   = \"busybox\"\n  command = [\"sh\", \"-c\", \"cp $PIPE_IN_SEED/points.json $PIPE_OUT/grid.json\"]\n  datums  = glob(seed, \"/\")\n}\n\nstage refine {\n  image   = \"busybox\"\n  command = [\"sh\", \"-c\", \"echo ${lr} > $PIPE_OUT/lr${lr}\"]\n  datums  = points(propose, \"/grid.json\", params = [lr])\n  parallelism = 2\n}\n",
        )
        .expect("write");
        pipe(&dir, &["data", "--store", ".pipe", "init", "seed"]);
        pipe(&dir, &["data", "--store", ".pipe", "put", "seed", "seed"]);
        dir
    };
    let (cluster, local) = (make("cluster"), make("local"));
    pipe(&cluster, &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"]);
    let mut shards = Vec::new();
    for stage in ["propose", "refine"] {
        let spec = format!("spec/{stage}.json");
        let planned = shard_numbers(&check(shim(&cluster, "r1", &["plan", "--spec", &spec]), "plan"));
        for k in &planned {
            check(shim(&cluster, "r1", &["run", "--spec", &spec, "--shard", k]), "run");
        }
        check(shim(&cluster, "r1", &["commit", "--spec", &spec]), "commit");
        shards.push(planned.len());
    }
    assert_eq!(shards, [1, 2], "three points in the refine's two shards");
    pipe(&local, &["run", "pipeline.pipe"]);
    assert_eq!(files_of(&cluster, "pipeline.refine"), files_of(&local, "pipeline.refine"));
    assert_eq!(files_of(&local, "pipeline.refine").as_array().map(Vec::len), Some(3));
}
