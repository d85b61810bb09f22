//! `pipe run` end to end, as a process on real files: only changed datums run, code and param
//! changes invalidate exactly their stage, identical outputs do not invalidate consumers, failures
//! are retried, reported and resumed, and runs leave provenance.

use pipe_tests::copy_dir;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn pipe(dir: &Path, args: &[&str]) -> Output {
    pipe_with(dir, args, &[])
}

/// `pipe ARGS` in `dir`, with `env` added to the tests' environment.
fn pipe_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HF_TOKEN", "not-a-real-token")
        .env_remove("PIPE_STORE")
        .env_remove("PIPE_STATE_DIR")
        .envs(env.iter().copied())
        .output()
        .expect("pipe runs");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = pipe(dir, args);
    assert!(out.status.success(), "pipe {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `pipe run --json`, as (stage, processed, skipped) triples.
fn run(dir: &Path, extra: &[&str]) -> Vec<(String, u64, u64)> {
    let args = [&["run", "pipeline.pipe", "--json"], extra].concat();
    let doc: Value = serde_json::from_str(&ok(dir, &args)).expect("JSON summary");
    doc["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_owned(),
                s["processed"].as_u64().expect("n"),
                s["skipped"].as_u64().expect("n"),
            )
        })
        .collect()
}

fn triples(t: &[(&str, u64, u64)]) -> Vec<(String, u64, u64)> {
    t.iter().map(|(s, p, k)| ((*s).to_owned(), *p, *k)).collect()
}

/// The mnist example in a temp folder, reading `mnist@main` so data can change.
fn mnist() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("mnist");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mnist"), &dir);
    let text = std::fs::read_to_string(dir.join("pipeline.pipe")).expect("read");
    std::fs::write(dir.join("pipeline.pipe"), text.replace("repo(\"mnist\") @ \"v2\"", "repo(\"mnist\")"))
        .expect("write");
    ok(&dir, &["data", "--store", ".pipe", "init", "mnist"]);
    ok(&dir, &["data", "--store", ".pipe", "put", "mnist", "data"]);
    (tmp, dir)
}

#[test]
fn only_what_changed_runs() {
    let (_tmp, dir) = mnist();
    assert_eq!(run(&dir, &[]), triples(&[("preprocess", 3, 0), ("train", 1, 0), ("evaluate", 2, 0)]));
    assert_eq!(
        run(&dir, &[]),
        triples(&[("preprocess", 0, 3), ("train", 0, 1), ("evaluate", 0, 2)]),
        "nothing changed"
    );

    let shard = dir.join("data/train/shard-1.csv");
    let mut text = std::fs::read_to_string(&shard).expect("read");
    let row = text.lines().nth(1).expect("a row").to_owned();
    text.push_str(&row);
    text.push('\n');
    std::fs::write(&shard, text).expect("write");
    ok(&dir, &["data", "--store", ".pipe", "put", "mnist", "data"]);
    assert_eq!(
        run(&dir, &[]),
        triples(&[("preprocess", 1, 2), ("train", 1, 0), ("evaluate", 2, 0)]),
        "one changed shard: one preprocess datum, then everything downstream of it"
    );

    let prep = dir.join("prep.py");
    let code = std::fs::read_to_string(&prep).expect("read");
    std::fs::write(&prep, format!("{code}\n# a comment changes the code, not the output\n")).expect("write");
    assert_eq!(
        run(&dir, &[]),
        triples(&[("preprocess", 3, 0), ("train", 0, 1), ("evaluate", 0, 2)]),
        "a code change reruns its stage; identical outputs do not invalidate consumers"
    );

    assert_eq!(
        run(&dir, &["--param", "epochs=3"]),
        triples(&[("preprocess", 0, 3), ("train", 1, 0), ("evaluate", 2, 0)]),
        "a param reruns the stages that use it, and what their output feeds"
    );

    let ddp = std::fs::read_to_string(dir.join("pipeline.pipe")).expect("read");
    std::fs::write(
        dir.join("pipeline.pipe"),
        ddp.replace(
            "HF_TOKEN = secret(\"hf\", \"token\")",
            "HF_TOKEN = secret(\"hf\", \"token\")\n    MODE = \"strict\"",
        ),
    )
    .expect("write");
    assert_eq!(
        run(&dir, &["--param", "epochs=3"]),
        triples(&[("preprocess", 0, 3), ("train", 0, 1), ("evaluate", 2, 0)]),
        "env is code"
    );
}

#[test]
fn runs_record_provenance_and_outputs_are_datasets() {
    let (_tmp, dir) = mnist();
    let doc: Value = serde_json::from_str(&ok(&dir, &["run", "pipeline.pipe", "--json"])).expect("JSON");
    let run_id = doc["run_id"].as_str().expect("run id");
    let commit = doc["inputs"][0]["commit"].as_str().expect("input commit");
    let record_path = dir.join(".pipe/runs").join(run_id);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).expect("run record")).expect("JSON");
    assert_eq!(record["inputs"][0]["commit"], commit);
    assert_eq!(record["stages"][0]["datums"].as_array().expect("datums").len(), 3);
    assert_eq!(record["stages"][0]["datums"][0]["status"], "processed");
    assert!(record["stages"][1]["fingerprint"].as_str().is_some_and(|f| f.len() == 64));

    let runs = ok(&dir, &["log", "pipeline.pipe"]);
    assert!(runs.starts_with(run_id) && runs.contains("preprocess 3/0/0"), "{runs}");
    let detail = ok(&dir, &["log", "pipeline.pipe", run_id]);
    assert!(detail.contains(&format!("input  digits       mnist@main = {commit}")), "{detail}");
    assert!(detail.contains("processed digits:/train/shard-0.csv"), "{detail}");
    let log = ok(&dir, &["data", "--store", ".pipe", "log", "pipeline.evaluate"]);
    assert!(log.contains(&format!("stage evaluate of run {run_id}")), "{log}");
    let out = dir.join("scores");
    ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.evaluate", out.to_str().expect("utf-8")]);
    let score: f64 =
        std::fs::read_to_string(out.join("shard-0.accuracy")).expect("score").trim().parse().expect("a number");
    assert!((0.0..=1.0).contains(&score));
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

#[test]
fn a_failing_datum_is_retried_reported_and_the_rest_is_kept() {
    let pipeline = r#"use torchx

input raw = dir("raw")

stage check: torchx.shell {
  image   = "busybox"
  script  = "for f in $PIPE_IN_RAW/*; do grep -q bad $f && { echo \"bad data in $f\" >&2; exit 3; }; cp $f $PIPE_OUT/; done"
  datums  = glob(raw, "/*")
  retries = 1
}

stage after: torchx.shell {
  image  = "busybox"
  script = "ls $PIPE_IN_CHECK > $PIPE_OUT/list"
  datums = glob(check, "/")
}
"#;
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "good"), ("raw/b", "bad"), ("raw/c", "good")]);
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("datum `raw:/b` failed after 2 attempt(s): the command exited with code 3"), "{stderr}");
    assert!(stderr.contains("bad data in"), "the tail of stderr is shown:\n{stderr}");
    assert!(stderr.contains("help: rerun this datum alone: cd "), "{stderr}");
    assert!(stderr.contains("blocked"), "the stage reading a failed stage does not run:\n{stderr}");
    // The failure is kept with the run, for `pipe log` after the terminal is gone.
    let run_id = stderr.lines().rev().find_map(|l| l.strip_prefix("run ")).expect("run id").to_owned();
    let logged = ok(&dir, &["log", "pipeline.pipe", &run_id]);
    assert!(logged.contains("failed    raw:/b") && logged.contains("the command exited with code 3"), "{logged}");
    assert!(logged.contains("| bad data in"), "the stderr tail is in the record:\n{logged}");

    let reproduce = stderr.lines().find_map(|l| l.trim().strip_prefix("help: rerun this datum alone: ")).expect("line");
    let again = Command::new("sh").arg("-c").arg(reproduce).output().expect("sh");
    assert_eq!(again.status.code(), Some(3), "the reproduce line runs the datum alone");

    std::fs::write(dir.join("raw/b"), "fixed").expect("write");
    assert_eq!(run(&dir, &[]), triples(&[("check", 1, 2), ("after", 1, 0)]), "finished datums were kept");
}

/// A failed datum's folder is kept for its reproduce line until its stage runs again, under any
/// fingerprint: folders of failures from before a fix piled up and slowed every later datum, each
/// of which lists the stage's folder (10,000 of them made a datum 14 ms instead of 2.4 ms).
#[test]
fn a_failed_datum_s_folder_lasts_until_its_stage_runs_again() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage check: torchx.shell {\n  image  = \"busybox\"\n  script = \"exit 3\"\n  datums = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1"), ("raw/b", "2")]);
    let kept = |out: &std::process::Output| -> Vec<PathBuf> {
        let stderr = String::from_utf8_lossy(&out.stderr);
        stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("help: rerun this datum alone: cd "))
            .map(|l| PathBuf::from(l.split(" && ").next().expect("a folder")))
            .collect()
    };
    let first = kept(&pipe(&dir, &["run", "pipeline.pipe"]));
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|f| f.is_dir()), "kept for the reproduce line: {first:?}");
    // Another command is another fingerprint: other datum keys, other folders.
    let text = std::fs::read_to_string(dir.join("pipeline.pipe")).expect("read");
    std::fs::write(dir.join("pipeline.pipe"), text.replace("exit 3", "exit 4")).expect("write");
    let second = kept(&pipe(&dir, &["run", "pipeline.pipe"]));
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|f| f.is_dir()), "this run's failures are kept: {second:?}");
    assert!(first.iter().all(|f| !f.exists()), "the earlier run's are gone: {first:?}");
    let stage_dir = second[0].parent().expect("the stage's folder");
    assert_eq!(std::fs::read_dir(stage_dir).expect("list").count(), 2, "only this run's folders remain");
}

#[test]
fn two_datums_writing_one_output_path_is_an_error_naming_both() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage s: torchx.shell {\n  image  = \"busybox\"\n  script = \"echo x > $PIPE_OUT/same\"\n  datums = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1"), ("raw/b", "2")]);
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("datums `raw:/a` and `raw:/b` both wrote `out/same`"), "{stderr}");
}

#[test]
fn join_and_group_datums_see_the_right_files() {
    let pipeline = r#"use torchx

input img = dir("img")
input lbl = dir("lbl")

stage pair: torchx.shell {
  image  = "busybox"
  script = "cd $PIPE_IN_IMG && for f in *; do cat $f $PIPE_IN_LBL/$PIPE_CAPTURE_1.txt > $PIPE_OUT/$PIPE_CAPTURE_1; done"
  datums = join(glob(img, "/(*)-*.png"), glob(lbl, "/(*).txt"))
}

stage by_year: torchx.shell {
  image  = "busybox"
  script = "ls $PIPE_IN_PAIR | tr '\n' ' ' > $PIPE_OUT/$PIPE_CAPTURE_1"
  datums = group(glob(pair, "/(*)"), by = "$1")
}
"#;
    let (_tmp, dir) = project(&[
        ("pipeline.pipe", pipeline),
        ("img/cat-1.png", "C"),
        ("img/dog-2.png", "D"),
        ("img/eel-3.png", "E"),
        ("lbl/cat.txt", "c"),
        ("lbl/dog.txt", "d"),
    ]);
    assert_eq!(run(&dir, &[]), triples(&[("pair", 2, 0), ("by_year", 2, 0)]));
    let out = dir.join("got");
    ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.pair", out.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(out.join("cat")).expect("joined"), "Cc");
    assert!(!out.join("eel").exists(), "a datum with no partner is not joined");

    let listed = ok(&dir, &["run", "pipeline.pipe", "--explain-datums", "pair"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.lines().all(|l| l.starts_with("cached")), "{listed}");
}

#[test]
fn a_killed_run_resumes_from_what_finished() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage slow: torchx.shell {\n  image  = \"busybox\"\n  script = \"sleep 0.2; cp $PIPE_IN_RAW/* $PIPE_OUT/\"\n  datums = glob(raw, \"/*\")\n}\n";
    let files: Vec<(String, String)> = (0..12).map(|i| (format!("raw/{i:02}"), format!("{i}"))).collect();
    let mut all: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    all.push(("pipeline.pipe", pipeline));
    let (_tmp, dir) = project(&all);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["run", "pipeline.pipe", "--jobs", "2"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let cache = dir.join(".pipe/cache");
    // Cache entries, not the staging files (`<key>#<n>`) a killed write can leave behind.
    let entries = || {
        std::fs::read_dir(&cache).map_or(0, |d| {
            d.flat_map(|e| std::fs::read_dir(e.expect("e").path()).expect("dir"))
                .filter(|e| !e.as_ref().expect("entry").file_name().to_string_lossy().contains('#'))
                .count()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while entries() < 3 {
        assert!(child.try_wait().expect("wait").is_none(), "the run finished before it could be killed");
        assert!(Instant::now() < deadline, "no datum finished in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let done = entries();
    assert!(done < 12, "killed midway");
    let resumed = run(&dir, &[]);
    assert_eq!(resumed[0].2 as usize, done, "every datum that finished is reused");
    assert_eq!(resumed[0].1 + resumed[0].2, 12);
}

#[test]
fn writing_outside_out_or_into_inputs_is_an_error() {
    let pipeline = r#"use torchx

input raw = dir("raw")

stage stray: torchx.shell {
  image  = "busybox"
  script = "cp $PIPE_IN_RAW/* $PIPE_OUT/; echo oops > result.txt"
  datums = glob(raw, "/*")
}

stage scribble: torchx.shell {
  image  = "busybox"
  script = "echo more >> $PIPE_IN_RAW/a; cp $PIPE_IN_RAW/a $PIPE_OUT/"
  datums = glob(raw, "/a")
}
"#;
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1")]);
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stage `stray`, datum `raw:/a` failed after 1 attempt(s): the command wrote `result.txt` in its work folder, outside `out/`"), "{stderr}");
    assert!(
        stderr.contains(
            "stage `scribble`, datum `raw:/a` failed after 1 attempt(s): the command changed files under `in/`"
        ),
        "{stderr}"
    );
    assert!(!dir.join("result.txt").exists(), "commands run in their work folder, not the project");
    assert_eq!(std::fs::read_to_string(dir.join("raw/a")).expect("read"), "1", "the user's data is untouched");
}

#[test]
fn every_example_runs_end_to_end_and_then_reuses_everything() {
    // Each example's repo inputs, and the folder (and tag) its README puts into them.
    type Repo<'a> = (&'a str, &'a str, Option<&'a str>);
    let repos: &[(&str, &[Repo])] = &[
        ("mnist", &[("mnist", "data", Some("v2"))]),
        ("faces", &[]),
        ("distill", &[("corpus", "corpus", None), ("teacher-weights", "teacher", Some("v3.1"))]),
        ("sweep", &[("tabular", "data", None)]),
        ("hpo", &[("hpo-points", "data", None)]),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    for (example, inputs) in repos {
        let dir = tmp.path().join(example);
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(example), &dir);
        for (repo, folder, tag) in *inputs {
            ok(&dir, &["data", "init", repo]);
            ok(&dir, &["data", "put", repo, folder]);
            if let Some(tag) = tag {
                ok(&dir, &["data", "tag", repo, tag]);
            }
        }
        let first = run(&dir, &[]);
        assert!(first.iter().all(|(_, processed, _)| *processed > 0), "{example}: {first:?}");
        let second = run(&dir, &[]);
        assert!(second.iter().all(|(_, processed, _)| *processed == 0), "{example}: {second:?}");
    }
}

#[test]
fn pipe_log_names_a_record_it_cannot_read_instead_of_showing_blanks() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage s: torchx.shell {\n  image  = \"busybox\"\n  script = \"cp $PIPE_IN_RAW/* $PIPE_OUT/\"\n  datums = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1")]);
    let doc: Value = serde_json::from_str(&ok(&dir, &["run", "pipeline.pipe", "--json"])).expect("JSON");
    let id = doc["run_id"].as_str().expect("a run id").to_owned();
    let detail = ok(&dir, &["log", "pipeline.pipe", &id]);
    assert!(detail.contains("stage  s") && detail.contains("processed 1"), "{detail}");
    // A record from a newer pipe (or damaged): said so, with the run's id.
    let path = dir.join(".pipe/runs").join(&id);
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("record")).expect("JSON");
    record["format"] = 9.into();
    std::fs::write(&path, record.to_string()).expect("write");
    let out = pipe(&dir, &["log", "pipeline.pipe", &id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("the record of run `{id}` cannot be read: it has format 9")), "{stderr}");
    let listed = pipe(&dir, &["log", "pipeline.pipe"]);
    assert!(String::from_utf8_lossy(&listed.stderr).contains("skipping run"), "the list goes on without it");
}

/// A glob that matches nothing runs no datum: the run says so, in the summary and in `--json`,
/// instead of exiting 0 without a word.
#[test]
fn a_stage_whose_glob_matches_nothing_is_a_warning() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    pipe_tests::write_file(dir, "data/a.txt", b"a\n");
    let text = "input d = dir(\"data\")\n\nstage s {\n  image   = \"busybox\"\n  datums  = glob(d, \"/*.csv\")\n  command = [\"true\"]\n}\n";
    pipe_tests::write_file(dir, "p.pipe", text.as_bytes());
    let doc: serde_json::Value = serde_json::from_str(&ok(dir, &["run", "p.pipe", "--json"])).expect("JSON");
    assert_eq!(doc["stages"][0]["datums"], 0);
    assert!(doc["warnings"][0].as_str().is_some_and(|w| w.contains("stage `s` has no datums")), "{doc}");
    let human = pipe(dir, &["run", "p.pipe"]);
    assert!(String::from_utf8_lossy(&human.stderr).contains("warning: stage `s` has no datums"));
}

/// `--explain-datums` of a stage reading a `dir(…)` input lists the folder as it is now: on a
/// fresh project (it refused: no snapshot yet) and after a file was added (it listed the previous
/// run's snapshot).
#[test]
fn explain_datums_reads_a_dir_input_as_it_is_now() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    pipe_tests::write_file(dir, "data/a.txt", b"a\n");
    let text = "input d = dir(\"data\")\n\nstage s {\n  image   = \"busybox\"\n  datums  = glob(d, \"/*\")\n  command = [\"sh\", \"-c\", \"cat $PIPE_IN_D/* > $PIPE_OUT/x\"]\n}\n";
    pipe_tests::write_file(dir, "p.pipe", text.as_bytes());
    let explain = || ok(dir, &["run", "p.pipe", "--explain-datums", "s"]);
    let fresh = explain();
    assert!(fresh.contains("process d:/a.txt"), "{fresh}");
    ok(dir, &["run", "p.pipe"]);
    pipe_tests::write_file(dir, "data/b.txt", b"b\n");
    let now = explain();
    assert!(now.contains("cached  d:/a.txt") && now.contains("process d:/b.txt"), "{now}");
}

/// `require_datums = true` turns an empty glob from a warning into a failed stage, with what to
/// check: what a scheduled production run wants.
#[test]
fn require_datums_makes_an_empty_glob_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    pipe_tests::write_file(dir, "data/a.txt", b"a\n");
    let text = "input d = dir(\"data\")\n\nstage s {\n  image          = \"busybox\"\n  datums         = glob(d, \"/*.csv\")\n  command        = [\"true\"]\n  require_datums = true\n}\n";
    pipe_tests::write_file(dir, "p.pipe", text.as_bytes());
    let out = pipe(dir, &["run", "p.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("matched nothing") && stderr.contains("require_datums = true"), "{stderr}");
}

/// A stage output damaged in the store is not served from the cache: once the damage is known
/// (found by `pipe data fsck`, or by a stage reading it), the datum that made it runs again and
/// its snapshot rewrites the object. Before, the cache kept vouching for the damaged output and
/// every reader failed until the store was repaired by hand.
#[test]
fn a_damaged_output_is_made_again_instead_of_reused() {
    let pipeline = |reader: &str| {
        format!(
            "use torchx\n\ninput raw = dir(\"raw\")\n\nstage copy: torchx.shell {{\n  image  = \"busybox\"\n  script = \"for f in $PIPE_IN_RAW/*; do tr a-z A-Z < $f > $PIPE_OUT/$(basename $f); done\"\n  datums = glob(raw, \"/*\")\n}}\n\nstage after: torchx.shell {{\n  image  = \"busybox\"\n  script = \"{reader}\"\n  datums = glob(copy, \"/\")\n}}\n"
        )
    };
    let (_tmp, dir) = project(&[
        ("pipeline.pipe", &pipeline("cat $PIPE_IN_COPY/* > $PIPE_OUT/all")),
        ("raw/a", "alpha"),
        ("raw/b", "bravo"),
    ]);
    assert_eq!(run(&dir, &[]), triples(&[("copy", 2, 0), ("after", 1, 0)]));
    let files: Value =
        serde_json::from_str(&ok(&dir, &["data", "--store", ".pipe", "ls", "pipeline.copy", "--json"])).expect("JSON");
    let hash = files.as_array().expect("files").iter().find(|f| f["path"] == "a").expect("a")["hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let object = dir.join(".pipe/objects").join(&hash[..2]).join(&hash);
    // Not the input's bytes (an input snapshot holding them would repair the object first).
    let damage = || std::fs::write(&object, "ALPHX").expect("damage");

    // Found by fsck: the next run makes that datum again, and nothing else.
    damage();
    assert_eq!(pipe(&dir, &["data", "--store", ".pipe", "fsck"]).status.code(), Some(1));
    assert_eq!(run(&dir, &[]), triples(&[("copy", 1, 1), ("after", 0, 1)]));
    ok(&dir, &["data", "--store", ".pipe", "fsck"]);

    // Found by a reader: that run fails naming the damage, the next one repairs and goes on.
    damage();
    std::fs::write(dir.join("pipeline.pipe"), pipeline("cat $PIPE_IN_COPY/* $PIPE_IN_COPY/* > $PIPE_OUT/all"))
        .expect("write");
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert_eq!(run(&dir, &[]), triples(&[("copy", 1, 1), ("after", 1, 0)]));
    let all = ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.after", "got"]);
    assert!(!all.is_empty());
    assert_eq!(std::fs::read_to_string(dir.join("got/all")).expect("read"), "ALPHABRAVOALPHABRAVO");
}

/// A command writing outside its datum's folder — up through `$PIPE_OUT/../..`, or by absolute
/// path into the store or the project — made side effects the cache never saw. Under bubblewrap
/// those folders are read-only to it and the datum fails naming why; without it, what lands next
/// to the datum's folder is still found.
#[test]
fn writing_outside_the_datum_folder_is_refused() {
    assert!(
        std::process::Command::new("bwrap").arg("--version").output().is_ok(),
        "this test needs bubblewrap: `apt-get install bubblewrap` (scripts/test.sh does)"
    );
    let (_tmp, dir) = project(&[("raw/a", "1")]);
    let abs = dir.canonicalize().expect("absolute");
    let stage = |name: &str, script: &str| {
        format!(
            "stage {name}: torchx.shell {{\n  image  = \"busybox\"\n  script = \"{script} && cp $PIPE_IN_RAW/a $PIPE_OUT/\"\n  datums = glob(raw, \"/a\")\n}}\n\n"
        )
    };
    let pipeline = format!(
        "use torchx\n\ninput raw = dir(\"raw\")\n\n{}{}{}",
        stage("climb", "echo x > $PIPE_OUT/../../climbed"),
        stage("store", &format!("echo x > {}/.pipe/planted", abs.display())),
        stage("project", &format!("echo x >> {}/raw/a", abs.display())),
    );
    std::fs::write(dir.join("pipeline.pipe"), &pipeline).expect("write");
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for name in ["climb", "store", "project"] {
        assert!(
            stderr.contains(&format!(
                "stage `{name}`, datum `raw:/a` failed after 1 attempt(s): the command exited with code"
            )) && stderr.contains("where the project, the store and other datums' folders are read-only"),
            "{name}: {stderr}"
        );
    }
    assert!(!dir.join(".pipe/planted").exists() && !dir.join(".pipe/state/work/climbed").exists());
    assert_eq!(std::fs::read_to_string(dir.join("raw/a")).expect("read"), "1", "the project is untouched");

    // Without the sandbox, the climb is still found (after the fact); the others are not.
    let off = pipe_with(&dir, &["run", "pipeline.pipe"], &[("PIPE_SANDBOX", "off")]);
    let stderr = String::from_utf8_lossy(&off.stderr);
    assert!(
        stderr.contains("stage `climb`, datum `raw:/a` failed after 1 attempt(s): the command wrote `")
            && stderr.contains("climbed` next to its work folder"),
        "{stderr}"
    );
    assert!(stderr.contains("note: commands ran without a sandbox (PIPE_SANDBOX=off)"), "{stderr}");
}

/// Pachyderm's examples/joins, ported: stores' purchases and returns joined with `outer` on
/// purchases (a store with no returns still gets a datum, with its purchases alone), and a join
/// whose arguments capture the same parts in different orders (`on`). Before, neither could be
/// written, and a direct port of the second paired nothing.
#[test]
fn outer_joins_and_keys_in_another_order_run_as_in_pachyderm() {
    let pipeline = r#"use torchx

input purchases = dir("purchases")
input returns = dir("returns")

stage net: torchx.shell {
  image  = "busybox"
  script = "cat $PIPE_IN_PURCHASES/* > $PIPE_OUT/$PIPE_CAPTURE_1; [ -d $PIPE_IN_RETURNS ] && cat $PIPE_IN_RETURNS/* >> $PIPE_OUT/$PIPE_CAPTURE_1; true"
  datums = join(glob(purchases, "/(*).txt"), glob(returns, "/(*).txt"), outer = [true, false])
}

input by_day = dir("by_day")
input by_store = dir("by_store")

stage swapped: torchx.shell {
  image  = "busybox"
  script = "cat $PIPE_IN_BY_DAY/* $PIPE_IN_BY_STORE/* > $PIPE_OUT/$PIPE_CAPTURE_1-$PIPE_CAPTURE_2"
  datums = join(glob(by_day, "/(*)-(*).csv"), glob(by_store, "/(*)_(*).csv"), on = ["$1$2", "$2$1"])
}
"#;
    let (_tmp, dir) = project(&[
        ("pipeline.pipe", pipeline),
        ("purchases/store1.txt", "p1 "),
        ("purchases/store2.txt", "p2 "),
        ("returns/store2.txt", "r2"),
        ("returns/store3.txt", "r3"),
        ("by_day/mon-store1.csv", "a"),
        ("by_day/tue-store1.csv", "b"),
        ("by_store/store1_mon.csv", "c"),
    ]);
    assert_eq!(run(&dir, &[]), triples(&[("net", 2, 0), ("swapped", 1, 0)]));
    let pairs = dir.join("pairs");
    ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.swapped", pairs.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(pairs.join("mon-store1")).expect("joined"), "ac", "captures meet swapped");
    let out = dir.join("got");
    ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.net", out.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(out.join("store1")).expect("outer datum"), "p1 ", "purchases alone");
    assert_eq!(std::fs::read_to_string(out.join("store2")).expect("joined"), "p2 r2");
    assert!(!out.join("store3").exists(), "returns is not outer: its lone datum is dropped");
}

/// What can be checked before anything runs is: a `dir(…)` that is not there (named with its
/// input and line, not as a bare "No such file"), a list param given a value that is no list of
/// its type (accepted unchecked before), a secret missing from the environment (found only after
/// every stage upstream of the one that needs it had run).
#[test]
fn bad_inputs_params_and_secrets_stop_the_run_before_it_starts() {
    let pipeline = r#"use torchx

param lrs: list[float] = [0.1, 0.01]

input raw = dir("raw")
input gone = dir("nodir")

stage first: torchx.shell {
  image  = "busybox"
  script = "cp $PIPE_IN_RAW/* $PIPE_OUT/"
  datums = glob(raw, "/*")
}

stage second: torchx.shell {
  image  = "busybox"
  script = "echo ${lrs} > $PIPE_OUT/lrs; ls $PIPE_IN_GONE $PIPE_IN_FIRST"
  datums = cross(glob(first, "/"), glob(gone, "/"))
  env    = { TOKEN = secret("hf", "token") }
}
"#;
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1")]);
    let fails = |args: &[&str], code: i32| {
        let out = pipe(&dir, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(!dir.join(".pipe/runs").exists(), "{args:?}: nothing ran");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = fails(&["run", "pipeline.pipe"], 1);
    assert!(
        missing.contains("input `gone` reads the folder `nodir` (pipeline.pipe:6:7), which is not there"),
        "{missing}"
    );
    std::fs::create_dir_all(dir.join("nodir")).expect("mkdir");
    std::fs::write(dir.join("nodir/x"), "x").expect("write");
    let secret = fails(&["run", "pipeline.pipe"], 1);
    assert!(secret.contains("stage `second` needs `TOKEN`, from secret `hf` (key `token`)"), "{secret}");
    let run_with_token = |extra: &[&str], code: i32| {
        let out = pipe_with(&dir, &[&["run", "pipeline.pipe"], extra].concat(), &[("TOKEN", "t")]);
        assert_eq!(out.status.code(), Some(code), "{extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let list = run_with_token(&["--param", "lrs=abc"], 2);
    assert!(list.contains("param `lrs` is list[float], and `abc` is not"), "{list}");
    run_with_token(&["--param", "lrs=[0.3, 0.1]"], 0);
    // Once the stage has run, a run that reuses it whole needs no secret.
    let again = pipe(&dir, &["run", "pipeline.pipe", "--param", "lrs=0.3,0.1"]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
}

/// One rule finds the store for every command: `pipe data` in a project's root and `pipe run
/// sub/pipeline.pipe` (or `pipe run` inside `sub/`) meet in the root's `.pipe`. Before, `pipe run`
/// looked beside the pipeline only, said "no repo `tabular`… create it with `pipe data init`", and
/// that created a second store.
#[test]
fn data_and_run_find_one_store_from_the_root_or_the_pipelines_folder() {
    let pipeline = "use torchx\n\ninput table = repo(\"tabular\")\n\nstage rows: torchx.shell {\n  image  = \"busybox\"\n  script = \"wc -l $PIPE_IN_TABLE/* > $PIPE_OUT/count\"\n  datums = glob(table, \"/\")\n}\n";
    let (_tmp, root) =
        project(&[("proj/pipeline.pipe", pipeline), ("proj/data/t.csv", "a\nb\n"), (".git/HEAD", "ref")]);
    ok(&root, &["data", "init", "tabular"]);
    ok(&root, &["data", "put", "tabular", "proj/data"]);
    let doc: Value = serde_json::from_str(&ok(&root, &["run", "proj/pipeline.pipe", "--json"])).expect("JSON");
    assert_eq!(doc["stages"][0]["processed"], 1, "{doc}");
    assert!(!root.join("proj/.pipe").exists(), "no second store beside the pipeline");
    // From the pipeline's own folder: the same store, so nothing runs again.
    assert_eq!(run(&root.join("proj"), &[]), triples(&[("rows", 0, 1)]));
    // `pipe data` from the subfolder finds it too.
    let log = ok(&root.join("proj"), &["data", "log", "tabular"]);
    assert!(!log.is_empty());
}

/// Without a terminal (CI, a pod) a run shows life: a plain line when each stage starts and
/// ends (and every 10 s between), with what was reused; before, nothing until the summary.
#[test]
fn without_a_terminal_each_stage_says_when_it_starts_and_ends() {
    let (_tmp, dir) = mnist();
    let first = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("stage `preprocess`: 3 datums\n"), "{stderr}");
    assert!(stderr.contains("stage `preprocess`: finished, 3/3 datums (0 reused)"), "{stderr}");
    let again = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("stage `preprocess`: finished, 3/3 datums (3 reused)"), "{stderr}");
    let json = pipe(&dir, &["run", "pipeline.pipe", "--json"]);
    assert!(!String::from_utf8_lossy(&json.stderr).contains("stage `"), "no lines with --json");
}

/// Two runs of one pipeline on one store at once both succeed: each attempt has a folder of its
/// own, the cache is shared, and a stage output's branch moved by the other run meanwhile is read
/// again (the same files: that commit; else this one on top) instead of failing with a put
/// conflict that tells the user to rerun a put they never ran.
#[test]
fn two_runs_of_one_pipeline_at_once_both_succeed() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage copy: torchx.shell {\n  image  = \"busybox\"\n  script = \"sleep 0.05; cp $PIPE_IN_RAW/* $PIPE_OUT/\"\n  datums = glob(raw, \"/*\")\n}\n\nstage all: torchx.shell {\n  image  = \"busybox\"\n  script = \"cat $PIPE_IN_COPY/* > $PIPE_OUT/all\"\n  datums = glob(copy, \"/\")\n}\n";
    let files: Vec<(String, String)> = (0..6).map(|i| (format!("raw/f{i}"), format!("{i}\n"))).collect();
    let mut all: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    all.push(("pipeline.pipe", pipeline));
    let (_tmp, dir) = project(&all);
    for round in 0..4 {
        std::fs::write(dir.join(format!("raw/f{round}")), format!("changed {round}\n")).expect("write");
        let start = || {
            Command::new(env!("CARGO_BIN_EXE_pipe"))
                .args(["run", "pipeline.pipe", "--json"])
                .current_dir(&dir)
                .env_remove("PIPE_STORE")
                .env_remove("PIPE_STATE_DIR")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("pipe runs")
        };
        let (a, b) = (start(), start());
        for out in [a.wait_with_output().expect("wait"), b.wait_with_output().expect("wait")] {
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let got = dir.join("got");
    ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.all", got.to_str().expect("utf-8")]);
    assert_eq!(
        std::fs::read_to_string(got.join("all")).expect("read"),
        "changed 0\nchanged 1\nchanged 2\nchanged 3\n4\n5\n"
    );
}

/// A successful datum's stdout and stderr outlive its work folder: stored with its cache entry and
/// the run record, and printed by `pipe log FILE RUN --logs DATUM`, also for a later run that
/// reused the datum. Before, they were deleted with the folder.
#[test]
fn a_datums_output_is_kept_and_shown_by_pipe_log() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage talk: torchx.shell {\n  image  = \"busybox\"\n  script = \"echo said $(cat $PIPE_IN_RAW/*); echo warned >&2; cp $PIPE_IN_RAW/* $PIPE_OUT/\"\n  datums = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "hello")]);
    let run_id = |out: &Output| {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("run "))
            .expect("run id")
            .to_owned()
    };
    let first = run_id(&pipe(&dir, &["run", "pipeline.pipe"]));
    let second = run_id(&pipe(&dir, &["run", "pipeline.pipe"]));
    for id in [&first, &second] {
        let logs = ok(&dir, &["log", "pipeline.pipe", id, "--logs", "raw:/a"]);
        assert!(logs.contains("-- stdout.log\nsaid hello") && logs.contains("-- stderr.log\nwarned"), "{id}: {logs}");
    }
    assert!(ok(&dir, &["log", "pipeline.pipe", &second, "--logs", "raw:/a"]).contains("(reused)"));
}

/// A datum's log is kept bounded: of a 3 MiB stdout, a line saying how much was dropped and the
/// last 1 MiB, where the end of the story is. Before, every byte was stored, for every datum.
#[test]
fn a_long_log_keeps_its_last_mebibyte() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage talk: torchx.shell {\n  image  = \"busybox\"\n  script = \"head -c 3145728 /dev/zero | tr '\\\\0' x; echo; echo the end; cp $PIPE_IN_RAW/* $PIPE_OUT/\"\n  datums = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "hello")]);
    ok(&dir, &["run", "pipeline.pipe"]);
    let logs = ok(&dir, &["log", "pipeline.pipe", "latest", "--logs", "raw:/a"]);
    let stdout = logs.split_once("-- stdout.log\n").expect("stdout kept").1;
    assert!(
        stdout.starts_with("[pipe: the first 2097161 bytes of this log were dropped; its last 1048576 bytes follow]\n"),
        "{}",
        &stdout[..200.min(stdout.len())]
    );
    assert!(stdout.ends_with("x\nthe end\n"));
    assert!(stdout.len() < (1 << 20) + 200, "{} bytes kept", stdout.len());
}

/// A run is named by its id, a unique prefix of it, `latest` or `latest~N`, its record shows the
/// params it ran with, and two runs compare. Before, only a whole id worked (`pipe log FILE
/// latest` said "no run") and `pipe log FILE RUN1 RUN2` was refused.
#[test]
fn runs_are_named_by_prefix_latest_and_latest_n() {
    let pipeline = "use torchx\n\nparam greeting: string = \"hi\"\n\ninput raw = dir(\"raw\")\n\nstage talk: torchx.shell {\n  image  = \"busybox\"\n  script = \"echo ${greeting} > $PIPE_OUT/said\"\n  datums = glob(raw, \"/\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1")]);
    let run_id = |out: Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        stderr.lines().rev().find_map(|l| l.strip_prefix("run ")).expect("run id").to_owned()
    };
    let first = run_id(pipe(&dir, &["run", "pipeline.pipe"]));
    let second = run_id(pipe(&dir, &["run", "pipeline.pipe", "--param", "greeting=hello"]));
    let shown = |name: &str| ok(&dir, &["log", "pipeline.pipe", name]);
    assert!(shown("latest").starts_with(&format!("run {second}")), "{}", shown("latest"));
    assert!(shown("latest~1").starts_with(&format!("run {first}")));
    assert!(shown("latest").contains("param  greeting     hello"), "{}", shown("latest"));
    assert!(shown(&second[..second.len() - 3]).starts_with(&format!("run {second}")), "a unique prefix names it");
    let out = pipe(&dir, &["log", "pipeline.pipe", "latest~2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run `latest~2`"));
    // Both ids start with the year: a prefix of two runs is refused, naming them.
    let out = pipe(&dir, &["log", "pipeline.pipe", "20"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`20` is the start of 2 runs' ids") && stderr.contains(&first), "{stderr}");
    // Two runs compared: what changed and, through the param, the stage's code and output.
    let compared = shown_two(&dir, "latest~1", "latest");
    assert!(compared.starts_with(&format!("from run {first} to run {second}")), "{compared}");
    assert!(compared.contains("param   greeting       hi → hello"), "{compared}");
    assert!(compared.lines().any(|l| l.starts_with("stage   talk ")), "the param is in the stage's code: {compared}");
    assert!(compared.lines().any(|l| l.starts_with("output  talk ")), "{compared}");
    assert!(!compared.contains("input "), "the input did not change: {compared}");
    let same: Value =
        serde_json::from_str(&ok(&dir, &["log", "pipeline.pipe", "latest", &second, "--json"])).expect("JSON");
    assert_eq!(same, serde_json::json!([]), "a run compared with itself: no change");
    // Two runs listed are a list, and a table, not a comparison (they were, whenever the
    // pipeline had run exactly twice).
    let listed: Value = serde_json::from_str(&ok(&dir, &["log", "pipeline.pipe", "--json"])).expect("JSON");
    let ids: Vec<&str> = listed.as_array().expect("runs").iter().filter_map(|r| r["run_id"].as_str()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "{listed}");
    let table: Value = serde_json::from_str(&ok(&dir, &["log", "pipeline.pipe", "--table", "--json"])).expect("JSON");
    assert_eq!(table.as_array().map(Vec::len), Some(2), "{table}");
}

fn shown_two(dir: &Path, a: &str, b: &str) -> String {
    ok(dir, &["log", "pipeline.pipe", a, b])
}

/// A stage's `metrics`: each datum's JSON numbers (nested ones by dotted path) are recorded with
/// the run, shown by `pipe log` and compared between runs with their change; a datum whose file is
/// not JSON is a warning and the run still commits; a table over every run sorts them by a metric.
/// Before, numbers a script printed or wrote were thrown away with its work folder.
#[test]
fn metrics_are_recorded_shown_and_compared() {
    let pipeline = r#"use torchx

param scale: int = 1

input raw = dir("raw")

stage score: torchx.shell {
  image   = "busybox"
  script  = "name=$(basename $PIPE_IN_RAW/*); mkdir $PIPE_OUT/$name; v=$(cat $PIPE_IN_RAW/*); if [ $v = bad ]; then echo nope; else echo '{\"acc\": '$((v * ${scale}))', \"eval\": {\"loss\": 0.5}}'; fi > $PIPE_OUT/$name/metrics.json"
  datums  = glob(raw, "/*")
  metrics = "metrics.json"
}
"#;
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "2"), ("raw/b", "bad")]);
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a bad metrics file does not fail the run:\n{stderr}");
    assert!(stderr.contains("warning: stage `score`: datum `raw:/b`: `out/b/metrics.json` is not JSON"), "{stderr}");
    let shown = ok(&dir, &["log", "pipeline.pipe", "latest"]);
    assert!(shown.contains("acc = 2\n") && shown.contains("eval.loss = 0.5"), "{shown}");
    let record: Value = serde_json::from_str(&ok(&dir, &["log", "pipeline.pipe", "latest", "--json"])).expect("JSON");
    assert_eq!(record[0]["stages"][0]["datums"][0]["metrics"], serde_json::json!({"acc": 2.0, "eval.loss": 0.5}));
    ok(&dir, &["run", "pipeline.pipe", "--param", "scale=3"]);
    let compared = ok(&dir, &["log", "pipeline.pipe", "latest~1", "latest"]);
    assert!(compared.contains("metric  score.acc      2 → 6 (+4)"), "{compared}");
    assert!(!compared.contains("eval.loss"), "unchanged metrics are not listed: {compared}");
    // Every run as a row, best first: which scored best and with what params.
    ok(&dir, &["run", "pipeline.pipe", "--param", "scale=2"]);
    let table = ok(&dir, &["log", "pipeline.pipe", "--table", "--sort", "score.acc", "--desc"]);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["run", "scale", "score.acc", "score.eval.loss"], "{table}");
    let by_rank: Vec<(&str, &str)> = rows[1..].iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(by_rank, [("3", "6"), ("2", "4"), ("1", "2")], "{table}");
    let json: Value =
        serde_json::from_str(&ok(&dir, &["log", "pipeline.pipe", "--table", "--sort", "scale", "--json"]))
            .expect("JSON");
    assert_eq!(json[0]["params"]["scale"], "1");
    assert_eq!(json[2]["metrics"]["score.acc"], 6.0);
    let out = pipe(&dir, &["log", "pipeline.pipe", "--table", "--sort", "accuracy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no run has a param or metric `accuracy` (columns: scale, score.acc, score.eval.loss)")
    );
}

/// A run records the code it ran: the git commit of the pipeline's folder (and whether it had
/// changes), each stage's image and the content hash of each script its command names; a
/// comparison names what changed. Before, a run said which fingerprint it had, not which code.
#[test]
fn a_run_records_its_git_commit_image_and_scripts() {
    let pipeline = "input raw = dir(\"raw\")\n\nstage step {\n  image   = \"python:3.12-slim\"\n  command = [\"sh\", \"step.sh\"]\n  datums  = glob(raw, \"/\")\n}\n";
    let (_tmp, dir) =
        project(&[("pipeline.pipe", pipeline), ("step.sh", "cp -r $PIPE_IN_RAW/. $PIPE_OUT/\n"), ("raw/a", "1")]);
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).current_dir(&dir).output().expect("git is installed");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q"]);
    std::fs::write(dir.join(".gitignore"), ".pipe/\n").expect("write");
    git(&["add", "."]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first"]);
    let head = git(&["rev-parse", "HEAD"]);
    ok(&dir, &["run", "pipeline.pipe"]);
    let shown = ok(&dir, &["log", "pipeline.pipe", "latest"]);
    assert!(shown.contains(&format!("code   git {head}\n")), "{shown}");
    assert!(shown.contains("image python:3.12-slim") && shown.contains("script step.sh "), "{shown}");
    std::fs::write(dir.join("step.sh"), "cp -r $PIPE_IN_RAW/. $PIPE_OUT/ # edited\n").expect("write");
    ok(&dir, &["run", "pipeline.pipe"]);
    assert!(ok(&dir, &["log", "pipeline.pipe", "latest"]).contains("with changes not committed"));
    let compared = ok(&dir, &["log", "pipeline.pipe", "latest~1", "latest"]);
    assert!(
        compared.contains(&format!("code    git            {} → {}+changes", &head[..12], &head[..12])),
        "{compared}"
    );
    assert!(compared.lines().any(|l| l.starts_with("script  step/step.sh ")), "{compared}");
}

/// Two pipelines of one name in one store: every example is `pipeline.pipe`, and running one then
/// another against one store made `pipeline.train@main` the second's model and listed its runs
/// under the first. The first to run holds the name; another file is refused, saying how to name
/// it, and nothing of the first is touched.
#[test]
fn a_second_pipeline_of_the_same_name_is_refused_in_one_store() {
    let stage = |script: &str| {
        format!(
            "use torchx\n\ninput raw = dir(\"raw\")\n\nstage train: torchx.shell {{\n  image  = \"busybox\"\n  script = \"{script}\"\n  datums = glob(raw, \"/\")\n}}\n"
        )
    };
    let (_tmp, dir) = project(&[
        ("a/pipeline.pipe", &stage("echo a > $PIPE_OUT/model")),
        ("a/raw/x", "1"),
        ("b/pipeline.pipe", &stage("echo b > $PIPE_OUT/model")),
        ("b/raw/x", "1"),
    ]);
    let store = dir.join("shared");
    let store = store.to_str().expect("utf-8");
    ok(&dir, &["run", "a/pipeline.pipe", "--store", store]);
    let out = pipe(&dir, &["run", "b/pipeline.pipe", "--store", store]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pipeline name `pipeline` belongs to `") && stderr.contains("a/pipeline.pipe"), "{stderr}");
    assert!(stderr.contains("pipeline { name ="), "{stderr}");
    let got = dir.join("got");
    ok(&dir, &["data", "--store", store, "get", "pipeline.train", got.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(got.join("model")).expect("read"), "a\n");
    // Named apart, it runs beside the first; the first runs again as before.
    let named = format!("pipeline {{\n  name = \"b\"\n}}\n\n{}", stage("echo b > $PIPE_OUT/model"));
    std::fs::write(dir.join("b/pipeline.pipe"), named).expect("write");
    ok(&dir, &["run", "b/pipeline.pipe", "--store", store]);
    ok(&dir, &["run", "a/pipeline.pipe", "--store", store]);
}

/// A no-change run trusts the stage index's output commit only while it is the repo's head: an
/// output repo moved by hand (another put, a run of an older version) is committed again.
#[test]
fn an_output_repo_moved_since_the_last_run_is_committed_again() {
    let pipeline = "input raw = dir(\"raw\")\n\nstage copy {\n  image   = \"busybox\"\n  command = [\"sh\", \"-c\", \"cp $PIPE_IN_RAW/* $PIPE_OUT/\"]\n  datums  = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "1"), ("raw/b", "2"), ("other/x", "not mine")]);
    assert_eq!(run(&dir, &[]), triples(&[("copy", 2, 0)]));
    let head = |dir: &Path| {
        let log = ok(dir, &["data", "--store", ".pipe", "log", "pipeline.copy", "--json"]);
        let commits: Value = serde_json::from_str(&log).expect("JSON");
        commits[0]["id"].as_str().or(commits[0]["commit"].as_str()).expect("a commit id").to_owned()
    };
    let made = head(&dir);
    assert_eq!(run(&dir, &[]), triples(&[("copy", 0, 2)]));
    assert_eq!(head(&dir), made, "nothing changed, nothing committed");
    ok(&dir, &["data", "--store", ".pipe", "put", "pipeline.copy", "other"]);
    assert_ne!(head(&dir), made);
    assert_eq!(run(&dir, &[]), triples(&[("copy", 0, 2)]));
    let out = dir.join("got");
    ok(&dir, &["data", "--store", ".pipe", "get", "pipeline.copy", out.to_str().expect("utf-8")]);
    let mut names: Vec<String> =
        std::fs::read_dir(&out).expect("got").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
    names.sort();
    assert_eq!(names, ["a", "b"], "the stage's outputs are the head again");
}
