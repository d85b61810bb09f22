//! `pipe run --watch` end to end: a triggered pipeline runs once per new set of commits of its
//! watched inputs, whatever the number of checks, and a check that finds nothing new runs nothing.
//! (The cluster's side, the CronWorkflow's `trigger` step, is in `cluster.rs`.)

use pipe_tests::pipe_command;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn pipe(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir).args(args).output().expect("pipe runs");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = pipe(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pipe {args:?} failed:\n{stderr}");
    stderr
}

/// The ids of the pipeline's runs.
fn runs(dir: &Path) -> Vec<String> {
    let out = pipe(dir, &["log", "pipeline.pipe", "--json"]);
    let records: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    records.as_array().expect("runs").iter().map(|r| r["run_id"].as_str().expect("id").to_owned()).collect()
}

fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("pipeline.pipe"), pipe_tests::TRIGGERED_PIPELINE).expect("write");
    std::fs::create_dir_all(dir.join("models")).expect("mkdir");
    std::fs::write(dir.join("models/a.bin"), "weights 1").expect("write");
    ok(dir, &["data", "init", "models"]);
    ok(dir, &["data", "put", "models", "models"]);
    tmp
}

#[test]
fn a_watch_runs_once_per_new_commit() {
    let tmp = project();
    let dir = tmp.path();
    let said = ok(dir, &["run", "pipeline.pipe", "--watch", "--every", "100ms", "--checks", "3"]);
    assert_eq!(runs(dir).len(), 1, "three checks of one commit, one run:\n{said}");
    assert!(said.contains("first check: models@"), "{said}");
    assert_eq!(said.matches("no new commit").count(), 2, "{said}");
    let log = String::from_utf8(pipe(dir, &["log", "pipeline.pipe"]).stdout).expect("utf-8");
    assert!(log.contains("last trigger check") && log.contains("skipped, no new commit"), "{log}");

    // A watch in the background, checking often; one new commit while it watches.
    let watching = pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir)
        .args(["run", "pipeline.pipe", "--watch", "--every", "100ms", "--checks", "40"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pipe runs");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(dir.join("models/b.bin"), "weights 2").expect("write");
    ok(dir, &["data", "put", "models", "models"]);
    let started = Instant::now();
    while runs(dir).len() < 2 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = watching.wait_with_output().expect("the watch ends after its checks");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(runs(dir).len(), 2, "forty checks, one new commit, one more run:\n{stderr}");
    assert_eq!(stderr.matches("new commits: models moved").count(), 1, "{stderr}");
}

#[test]
fn watching_a_pipeline_without_a_trigger_says_how_to_add_one() {
    let tmp = project();
    let dir = tmp.path();
    let text = std::fs::read_to_string(dir.join("pipeline.pipe")).expect("read");
    let plain = text.replace("  trigger = [models]\n  poll    = 1m\n", "");
    std::fs::write(dir.join("pipeline.pipe"), plain).expect("write");
    let out = pipe(dir, &["run", "pipeline.pipe", "--watch", "--checks", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has no trigger to watch") && stderr.contains("trigger = [INPUT]"), "{stderr}");
}
