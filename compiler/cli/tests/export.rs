//! `pipe run` sending runs to the tools teams already run: a real `mlflow server` (PyPI
//! `mlflow==3.17.2`, queried back through its own REST API) and OpenLineage consumers (events
//! checked with the official 2-0-2 schema and facets in `../shared/schemas/openlineage`, by
//! `tests/validators/validate_openlineage.py`). A server that is silent, refuses or stops midway
//! neither fails nor holds up a run, and what it missed is sent by the next run, once.

use pipe_tests::servers::Mlflow;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn pipe(dir: &Path, args: &[&str]) -> Output {
    pipe_tests::pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir).args(args).output().expect("pipe runs")
}

fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p");
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    (tmp, dir)
}

/// The run ids of the pipeline's runs, oldest first.
fn run_ids(dir: &Path) -> Vec<String> {
    let out = pipe(dir, &["log", "pipeline.pipe", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut ids: Vec<String> =
        runs.as_array().expect("runs").iter().map(|r| r["run_id"].as_str().expect("id").to_owned()).collect();
    ids.sort();
    ids
}

/// A stage that scores each file of `raw` and reports it as metrics.
const SCORED: &str = r#"use torchx

param scale: int = 1

input raw = dir("raw")

stage score: torchx.shell {
  image   = "busybox"
  script  = "name=$(basename $PIPE_IN_RAW/*); mkdir $PIPE_OUT/$name; echo '{\"acc\": '$(( $(cat $PIPE_IN_RAW/*) * ${scale}))', \"eval\": {\"loss\": 0.25}}' > $PIPE_OUT/$name/metrics.json"
  datums  = glob(raw, "/*")
  metrics = "metrics.json"
}
"#;

fn tag<'a>(run: &'a Value, key: &str) -> Option<&'a str> {
    run["data"]["tags"].as_array()?.iter().find(|t| t["key"] == key)?["value"].as_str()
}

/// A run becomes an MLflow run: its params, its metrics (one value each, by the columns of
/// `pipe log --table`) and tags naming the pipe run, the input commit and the stage's code;
/// FINISHED. A second run is a second MLflow run, and neither is sent twice.
#[test]
fn a_run_becomes_an_mlflow_run_with_its_params_metrics_and_provenance() {
    let mlflow = Mlflow::start();
    let experiment = format!("pipe-test-{}", fastrand::u64(..));
    let (_tmp, dir) = project(&[("pipeline.pipe", SCORED), ("raw/a", "2"), ("raw/b", "5")]);
    let send = ["--mlflow", &mlflow.url, "--mlflow-experiment", &experiment];
    let out = pipe(&dir, &[&["run", "pipeline.pipe", "--param", "scale=3"][..], &send].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // By default the run is sent by a process of its own, so the run does not wait for it.
    assert!(stderr.contains("note: sending the run to its tracking servers in the background (log: "), "{stderr}");
    // Sent once it is FINISHED: the run appears on the server as the sender creates it, a moment
    // before its metrics and its end are logged.
    let finished = |r: &Vec<Value>| !r.is_empty() && r.iter().all(|x| x["info"]["status"] == "FINISHED");
    let runs = eventually(|| Some(mlflow.runs(&experiment)).filter(finished));
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    let ids = run_ids(&dir);
    assert_eq!(tag(run, "pipe.run"), Some(ids[0].as_str()));
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["run_name"], ids[0].as_str());
    let params: Vec<(&str, &str)> = run["data"]["params"]
        .as_array()
        .expect("params")
        .iter()
        .map(|p| (p["key"].as_str().expect("key"), p["value"].as_str().expect("value")))
        .collect();
    assert_eq!(params, [("scale", "3")]);
    let metrics: std::collections::BTreeMap<&str, f64> = run["data"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| (m["key"].as_str().expect("key"), m["value"].as_f64().expect("value")))
        .collect();
    let expected = [
        ("score.raw:/a:acc", 6.0),
        ("score.raw:/a:eval.loss", 0.25),
        ("score.raw:/b:acc", 15.0),
        ("score.raw:/b:eval.loss", 0.25),
    ];
    assert_eq!(metrics, expected.into_iter().collect());
    let record: Value =
        serde_json::from_slice(&pipe(&dir, &["log", "pipeline.pipe", "latest", "--json"]).stdout).expect("JSON");
    let input = &record[0]["inputs"][0];
    assert_eq!(
        tag(run, "pipe.input.raw"),
        Some(
            format!("{}@{}", input["repo"].as_str().expect("repo"), input["commit"].as_str().expect("commit")).as_str()
        )
    );
    assert_eq!(tag(run, "pipe.stage.score.fingerprint"), record[0]["stages"][0]["fingerprint"].as_str());
    assert_eq!(tag(run, "pipe.stage.score.image"), Some("busybox"));
    let id = run["info"]["run_id"].as_str().expect("run id");
    let (code, history) =
        mlflow.get(&format!("/api/2.0/mlflow/metrics/get-history?run_id={id}&metric_key=score.raw:/a:acc"));
    assert_eq!(code, 200, "{history}");
    let history: Value = serde_json::from_str(&history).expect("JSON");
    assert_eq!(history["metrics"].as_array().map(Vec::len), Some(1), "{history}");

    let out = pipe(&dir, &[&["run", "pipeline.pipe", "--export-wait"][..], &send].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("note: sent to mlflow: run "), "{stderr}");
    assert!(stderr.contains(&format!("in experiment `{experiment}`")), "{stderr}");
    let runs = mlflow.runs(&experiment);
    let mut sent: Vec<&str> = runs.iter().filter_map(|r| tag(r, "pipe.run")).collect();
    sent.sort_unstable();
    assert_eq!(sent, run_ids(&dir), "each pipe run is one MLflow run");
}

/// What `probe` gives once it gives something, asked every 100 ms for up to 60 s.
fn eventually<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "not there within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A listener that takes connections and never answers.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(64) {
            open.push(stream);
        }
    });
    (port, held)
}

/// A tracking server that is silent, or not there at all, costs a run at most its export timeout
/// and never fails it; the runs it missed stay owed in the store and the next run that reaches a
/// server sends them, each once.
#[test]
fn a_silent_or_missing_server_does_not_hold_up_the_run_and_what_it_missed_is_sent_once_later() {
    let mlflow = Mlflow::start();
    let experiment = format!("pipe-test-{}", fastrand::u64(..));
    let (_tmp, dir) = project(&[("pipeline.pipe", SCORED), ("raw/a", "2")]);
    let (silent, _held) = silent_server();
    let silent = format!("http://127.0.0.1:{silent}");
    let started = Instant::now();
    let wait = ["--mlflow-experiment", &experiment, "--export-wait"];
    let out =
        pipe(&dir, &[&["run", "pipeline.pipe", "--mlflow", &silent, "--export-timeout", "2s"][..], &wait].concat());
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a silent server does not fail the run:\n{stderr}");
    assert!(stderr.contains("not sent: no answer within 2s; it stays owed: `pipe export FILE`"), "{stderr}");
    assert!(took < Duration::from_secs(12), "the run waited {took:?} for a silent server");

    let missing = format!("http://127.0.0.1:{}", pipe_tests::servers::free_port());
    let out = pipe(&dir, &[&["run", "pipeline.pipe", "--mlflow", &missing][..], &wait].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: mlflow: run ") && stderr.contains("Connection refused"), "{stderr}");
    assert!(mlflow.runs(&experiment).is_empty());

    // `pipe export` sends what is owed, then finds nothing owed.
    let export = ["export", "pipeline.pipe", "--mlflow", &mlflow.url, "--mlflow-experiment", &experiment];
    let out = pipe(&dir, &export);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("MLflow run ").count(), 2, "{stdout}");
    assert_eq!(String::from_utf8_lossy(&pipe(&dir, &export).stdout), "nothing owed\n");
    assert_eq!(mlflow.runs(&experiment).len(), 2);

    // A run in the background and one that waits, at once: each run sent, none twice.
    let send = ["--mlflow", &mlflow.url, "--mlflow-experiment", &experiment];
    assert!(pipe(&dir, &[&["run", "pipeline.pipe"][..], &send].concat()).status.success());
    assert!(pipe(&dir, &[&["run", "pipeline.pipe", "--export-wait"][..], &send].concat()).status.success());
    let ids = run_ids(&dir);
    assert_eq!(ids.len(), 4);
    let sent = eventually(|| {
        let mut sent: Vec<String> =
            mlflow.runs(&experiment).iter().filter_map(|r| tag(r, "pipe.run")).map(str::to_owned).collect();
        sent.sort();
        (sent.len() >= ids.len()).then_some(sent)
    });
    assert_eq!(sent, ids, "every run sent, none twice");

    let out = pipe(&dir, &["run", "pipeline.pipe", "--mlflow", "file:./mlruns"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an http(s) server"));
}

/// Two stages, the second failing for one datum: the events are valid OpenLineage 2-0-2 run
/// events with valid facets, in order, each stage's run a child of the pipeline's, its datasets
/// versioned by the commits the run read and made, the failure's reason in its FAIL event.
#[test]
fn openlineage_events_are_valid_and_name_datasets_by_commit() {
    let pipeline = r#"use torchx

input raw = dir("raw")

stage prep: torchx.shell {
  image  = "busybox"
  script = "cp -r $PIPE_IN_RAW/. $PIPE_OUT/"
  datums = glob(raw, "/*")
}

stage score: torchx.shell {
  image  = "busybox"
  script = "if grep -q bad $PIPE_IN_PREP/*; then echo refused >&2; exit 3; fi; cp $PIPE_IN_PREP/* $PIPE_OUT/"
  datums = glob(prep, "/*")
}
"#;
    let (tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1"), ("raw/b", "bad")]);
    let events_file = tmp.path().join("events.jsonl");
    let out =
        pipe(&dir, &["run", "pipeline.pipe", "--export-wait", "--openlineage", events_file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let validated = Command::new("python3")
        .arg(pipe_tests::repo_root().join("tests/validators/validate_openlineage.py"))
        .arg(pipe_tests::repo_root().join("../shared/schemas"))
        .arg(&events_file)
        .output()
        .expect("python3 runs (install jsonschema, referencing, rfc3986-validator: scripts/test.sh does)");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    let events: Vec<Value> = std::fs::read_to_string(&events_file)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let order: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["eventType"].as_str().expect("type"), e["job"]["name"].as_str().expect("job")))
        .collect();
    assert_eq!(
        order,
        [
            ("START", "pipeline"),
            ("START", "pipeline.prep"),
            ("COMPLETE", "pipeline.prep"),
            ("START", "pipeline.score"),
            ("FAIL", "pipeline.score"),
            ("FAIL", "pipeline"),
        ]
    );
    let record: Value =
        serde_json::from_slice(&pipe(&dir, &["log", "pipeline.pipe", "latest", "--json"]).stdout).expect("JSON");
    let parent = &events[0]["run"]["runId"];
    for e in &events[1..5] {
        assert_eq!(&e["run"]["facets"]["parent"]["run"]["runId"], parent);
        assert_eq!(e["run"]["facets"]["parent"]["job"]["name"], "pipeline");
    }
    let version = |d: &Value| d["facets"]["version"]["datasetVersion"].clone();
    assert_eq!(events[2]["inputs"][0]["name"], record[0]["inputs"][0]["repo"]);
    assert_eq!(version(&events[2]["inputs"][0]), record[0]["inputs"][0]["commit"]);
    let prep_output = &record[0]["stages"][0]["output"];
    assert_eq!(version(&events[2]["outputs"][0]), *prep_output);
    assert_eq!(events[4]["inputs"][0]["name"], "pipeline.prep");
    assert_eq!(version(&events[4]["inputs"][0]), *prep_output, "score read prep's output at the commit prep made");
    let error = events[4]["run"]["facets"]["errorMessage"]["message"].as_str().expect("a FAIL says why");
    assert!(error.contains("datum prep:/b") && error.contains("refused"), "{error}");
}

/// An OpenLineage endpoint that records what it takes: it answers 200 to the first `take`
/// events, then 503 until `take` is raised.
struct Collector {
    port: u16,
    events: Arc<Mutex<Vec<Value>>>,
    take: Arc<AtomicUsize>,
}

impl Collector {
    fn start(take: usize) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let events = Arc::new(Mutex::new(Vec::new()));
        let take = Arc::new(AtomicUsize::new(take));
        let (kept, limit) = (events.clone(), take.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let mut events = kept.lock().expect("lock");
                let status = if events.len() < limit.load(Ordering::SeqCst) {
                    events.push(serde_json::from_slice(&body).expect("an event is JSON"));
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Collector { port, events, take }
    }
}

/// An endpoint that stops taking events midway: the run still succeeds; the next run sends the
/// rest of the first run's events from where the endpoint stopped, then its own: every event
/// arrives exactly once.
#[test]
fn openlineage_over_http_resumes_where_the_endpoint_stopped() {
    let collector = Collector::start(2);
    let (_tmp, dir) = project(&[("pipeline.pipe", SCORED), ("raw/a", "2")]);
    let url = format!("http://127.0.0.1:{}", collector.port);
    let out = pipe(&dir, &["run", "pipeline.pipe", "--export-wait", "--openlineage", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: openlineage: run ") && stderr.contains("503"), "{stderr}");
    assert_eq!(collector.events.lock().expect("lock").len(), 2);
    collector.take.store(usize::MAX, Ordering::SeqCst);
    let out = pipe(&dir, &["run", "pipeline.pipe", "--export-wait", "--openlineage", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains(": 4 OpenLineage events to"), "{stderr}");
    let events = collector.events.lock().expect("lock");
    let mut seen: Vec<(String, String, String)> = events
        .iter()
        .map(|e| (e["run"]["runId"].to_string(), e["job"]["name"].to_string(), e["eventType"].to_string()))
        .collect();
    assert_eq!(seen.len(), 8, "two runs of four events each");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8, "no event twice");
}

/// A run on a cluster is sent once it is whole: each stage's `pipe-shim commit` adds itself to
/// the run's record, and the commit that completes it claims the run in the store and sends it
/// to the tracking server its environment names (on Argo, a key of the store's Secret). A commit
/// retried after that sends nothing again.
#[test]
fn a_cluster_run_is_sent_once_when_its_last_stage_commits() {
    let mlflow = Mlflow::start();
    let experiment = format!("pipe-test-{}", fastrand::u64(..));
    let pipeline = SCORED.replace("input raw = dir(\"raw\")", "input raw = repo(\"raw\")")
        + "\nstage total: torchx.shell {\n  image  = \"busybox\"\n  script = \"cat $PIPE_IN_SCORE/*/metrics.json > $PIPE_OUT/all\"\n  datums = glob(score, \"/\")\n}\n";
    let (tmp, dir) = project(&[("pipeline.pipe", &pipeline), ("raw/a", "2")]);
    let events = tmp.path().join("events.jsonl");
    for args in [
        &["data", "--store", ".pipe", "init", "raw"][..],
        &["data", "--store", ".pipe", "put", "raw", "raw"],
        &["compile", "pipeline.pipe", "--target", "spec", "-o", "spec"],
    ] {
        let out = pipe(&dir, args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let shim = |args: &[&str]| {
        let out = pipe_tests::shim_command(Path::new(env!("CARGO_BIN_EXE_pipe")), &dir, "wf-1")
            .args(args)
            .env("MLFLOW_TRACKING_URI", &mlflow.url)
            .env("MLFLOW_EXPERIMENT_NAME", &experiment)
            .env("OPENLINEAGE_URL", &events)
            .output()
            .expect("pipe-shim");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "pipe-shim {args:?}: {stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    };
    let stage = |name: &str| {
        let spec = format!("spec/{name}.json");
        let (planned, _) = shim(&["plan", "--spec", &spec]);
        let items: Vec<Value> = serde_json::from_str(&planned).expect("shards");
        for item in items {
            shim(&["run", "--spec", &spec, "--shard", item["shard"].as_str().expect("shard")]);
        }
        shim(&["commit", "--spec", &spec]).1
    };
    stage("score");
    assert!(mlflow.runs(&experiment).is_empty(), "half a run is not sent");
    let record: Value =
        serde_json::from_slice(&pipe(&dir, &["log", "pipeline.pipe", "wf-1", "--json"]).stdout).expect("JSON");
    assert_eq!(record[0]["pending"], serde_json::json!(["total"]));
    let said = stage("total");
    assert!(said.contains("sent to mlflow: run wf-1: MLflow run "), "{said}");
    let runs = mlflow.runs(&experiment);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(tag(&runs[0], "pipe.run"), Some("wf-1"));
    assert_eq!(runs[0]["info"]["status"], "FINISHED");
    let metrics = runs[0]["data"]["metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), 2, "{metrics:?}");
    assert!(metrics.iter().any(|m| m["key"] == "score.acc" && m["value"] == 2.0), "{metrics:?}");
    let order: Vec<(String, String)> = std::fs::read_to_string(&events)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .map(|e| (e["eventType"].as_str().unwrap_or("").to_owned(), e["job"]["name"].as_str().unwrap_or("").to_owned()))
        .collect();
    let expected = [
        ("START", "pipeline"),
        ("START", "pipeline.score"),
        ("COMPLETE", "pipeline.score"),
        ("START", "pipeline.total"),
        ("COMPLETE", "pipeline.total"),
        ("COMPLETE", "pipeline"),
    ];
    assert_eq!(order, expected.map(|(a, b)| (a.to_owned(), b.to_owned())), "the whole run's events, once");
    // Argo retries a commit pod it lost: the run is not sent again.
    let (_, again) = shim(&["commit", "--spec", "spec/total.json"]);
    assert!(again.contains("sent by the stage that claimed it"), "{again}");
    assert_eq!(mlflow.runs(&experiment).len(), 1);
    assert_eq!(std::fs::read_to_string(&events).expect("events").lines().count(), 6);
}

/// A metric name MLflow's validation would refuse (a datum label with `+`, by the rules of
/// mlflow/utils/validation.py) is made one it takes: the real server stores it, and the run is
/// sent whole instead of refused for ever.
#[test]
fn metric_names_mlflow_would_refuse_are_sent_as_names_it_takes() {
    let mlflow = Mlflow::start();
    let experiment = format!("pipe-test-{}", fastrand::u64(..));
    let (_tmp, dir) = project(&[("pipeline.pipe", SCORED), ("raw/odd+name", "3"), ("raw/plain", "4")]);
    let send = ["--export-wait", "--mlflow", &mlflow.url, "--mlflow-experiment", &experiment];
    let out = pipe(&dir, &[&["run", "pipeline.pipe"][..], &send].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("note: sent to mlflow: run "), "{stderr}");
    let runs = mlflow.runs(&experiment);
    let mut keys: Vec<&str> =
        runs[0]["data"]["metrics"].as_array().expect("metrics").iter().filter_map(|m| m["key"].as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "score.raw:/odd_name:acc",
            "score.raw:/odd_name:eval.loss",
            "score.raw:/plain:acc",
            "score.raw:/plain:eval.loss"
        ]
    );
}
