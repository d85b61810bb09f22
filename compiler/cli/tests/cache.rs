//! The cache is never wrong: each way an incremental `pipe run` once differed from a run from
//! scratch, as a user would hit it. Overlapping datums of a union, a stage gaining an input, a
//! runner killed with `SIGKILL` while its command runs, and a file replaced by one of the same
//! size and mtime. (The differential test explores the same classes at random.)

use pipe_tests::write_file;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn pipe(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PIPE_STORE")
        .env_remove("PIPE_STATE_DIR")
        .output()
        .expect("pipe runs")
}

/// `pipe run --json` of `dir/pipeline.pipe`: (processed, skipped) per stage.
fn run(dir: &Path) -> Vec<(u64, u64)> {
    let out = pipe(dir, &["run", "pipeline.pipe", "--json", "--jobs", "2"]);
    assert!(out.status.success(), "pipe run failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    let stages = doc["stages"].as_array().expect("stages");
    stages.iter().map(|s| (s["processed"].as_u64().expect("n"), s["skipped"].as_u64().expect("n"))).collect()
}

/// The files of `repo@main` in the store under `dir`, with their contents.
fn output(dir: &Path, repo: &str) -> Vec<(String, String)> {
    let to = dir.join(format!("got-{repo}"));
    let _ = std::fs::remove_dir_all(&to);
    let out = pipe(dir, &["data", "--store", ".pipe", "get", repo, to.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<(String, String)> = walkdir(&to)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&to).expect("under").to_string_lossy().into_owned();
            (rel, std::fs::read_to_string(&p).expect("utf-8 output"))
        })
        .collect();
    files.sort();
    let _ = std::fs::remove_dir_all(&to);
    files
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() { out.extend(walkdir(&p)) } else { out.push(p) }
    }
    out
}

fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p");
    for (path, text) in files {
        write_file(&dir, path, text.as_bytes());
    }
    (tmp, dir)
}

/// The same pipeline and data run once in a fresh folder: what an incremental run must equal.
fn from_scratch(dir: &Path, repo: &str) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fresh = tmp.path().join("p");
    pipe_tests::copy_dir(dir, &fresh);
    let _ = std::fs::remove_dir_all(fresh.join(".pipe"));
    run(&fresh);
    output(&fresh, repo)
}

#[test]
fn overlapping_globs_of_a_union_run_each_datum_once_in_a_folder_of_its_own() {
    // `/a` is matched by both globs. It used to run twice at once in one work folder: one copy
    // deleted the other's `in/`, and what the copy without inputs wrote was cached for good.
    let pipeline = r#"use torchx

input raw = dir("raw")

stage s: torchx.shell {
  image  = "busybox"
  script = "sleep 0.3; cd $PIPE_IN_RAW && for f in *; do cat $f > $PIPE_OUT/$f; done"
  datums = union(glob(raw, "/*"), glob(raw, "/a*"))
}
"#;
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "A"), ("raw/ab", "AB"), ("raw/b", "B")]);
    assert_eq!(run(&dir), [(3, 0)], "three distinct datums, each run once");
    let expected = [("a", "A"), ("ab", "AB"), ("b", "B")].map(|(p, t)| (p.to_owned(), t.to_owned())).to_vec();
    assert_eq!(output(&dir, "pipeline.s"), expected);
    assert_eq!(run(&dir), [(0, 3)]);
    let listed =
        String::from_utf8_lossy(&pipe(&dir, &["run", "pipeline.pipe", "--explain-datums", "s"]).stdout).lines().count();
    assert_eq!(listed, 3, "`--explain-datums` lists each datum once");
}

#[test]
fn a_stage_that_gains_an_input_runs_its_datums_again() {
    // The command sees one `in/<input>` folder and one `PIPE_IN_<INPUT>` per input of its stage;
    // datums cached before `aux` joined had seen neither.
    let before = r#"use torchx

input raw = dir("raw")
input aux = dir("aux")

stage s: torchx.shell {
  image  = "busybox"
  script = "echo $(env | grep -c '^PIPE_IN_') $(ls $PIPE_IN_RAW/.. | tr '\n' ' ') > $PIPE_OUT/$(basename $PIPE_DATUM_LABEL)"
  datums = glob(raw, "/*")
}
"#;
    let after = before.replace("glob(raw, \"/*\")", "union(glob(raw, \"/*\"), glob(aux, \"/*\"))");
    let (_tmp, dir) = project(&[("pipeline.pipe", before), ("raw/r1", "1"), ("raw/r2", "2"), ("aux/x", "x")]);
    assert_eq!(run(&dir), [(2, 0)]);
    write_file(&dir, "pipeline.pipe", after.as_bytes());
    assert_eq!(run(&dir), [(3, 0)], "every datum runs again: its command now sees `in/aux`");
    let incremental = output(&dir, "pipeline.s");
    assert_eq!(incremental.first().map(|(_, t)| t.as_str()), Some("2 aux raw\n"), "{incremental:?}");
    assert_eq!(incremental, from_scratch(&dir, "pipeline.s"));
}

/// A one-stage project over `raw/a` whose shell stage runs `script` (`MARKS` replaced by a folder
/// outside the project, where the command leaves marks that outlive any run) with `extra` fields;
/// gives the temp folder, the project and the marks folder.
fn marked_project(script: &str, extra: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let marks = tmp.path().join("marks");
    std::fs::create_dir_all(&marks).expect("mkdir");
    let script = script.replace("MARKS", &marks.display().to_string());
    let pipeline = format!(
        "use torchx\n\ninput raw = dir(\"raw\")\n\nstage slow: torchx.shell {{\n  image  = \"busybox\"\n  script = \"{script}\"\n  datums = glob(raw, \"/*\")\n{extra}}}\n"
    );
    let dir = tmp.path().join("p");
    write_file(&dir, "pipeline.pipe", pipeline.as_bytes());
    write_file(&dir, "raw/a", b"A");
    (tmp, dir, marks)
}

/// `pipe run` in `dir`, in a process group of its own (as a shell's job would be), returned once
/// its command has left the mark `started` in `marks`.
fn runner_with_a_command_running(dir: &Path, marks: &Path) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let runner = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["run", "pipeline.pipe"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marks.join("started").exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    runner
}

/// The marks left in `marks` 3 s later: time for anything still running to leave its own.
fn marks_after_a_while(marks: &Path) -> Vec<String> {
    std::thread::sleep(Duration::from_millis(3000));
    let mut left: Vec<String> =
        std::fs::read_dir(marks).expect("marks").map(|e| e.expect("e").file_name().to_string_lossy().into()).collect();
    left.sort();
    left
}

#[test]
fn a_runner_killed_by_sigkill_takes_its_commands_with_it() {
    // An OOM kill of `pipe run` used to leave the datum's command (and what it started) running;
    // the orphan then wrote into the next attempt's `out/` through its absolute $PIPE_OUT.
    let (_tmp, dir, marks) = marked_project(
        "touch MARKS/started; (sleep 2; echo orphan > $PIPE_OUT/orphan; touch MARKS/grandchild-lived) & sleep 2; touch MARKS/command-lived; cp $PIPE_IN_RAW/* $PIPE_OUT/; wait",
        "",
    );
    let mut runner = runner_with_a_command_running(&dir, &marks);
    runner.kill().expect("SIGKILL the runner alone, as the OOM killer does");
    runner.wait().expect("wait");
    assert_eq!(marks_after_a_while(&marks), ["started"], "a command outlived its runner");

    assert_eq!(run(&dir), [(1, 0)]);
    let files: Vec<String> = output(&dir, "pipeline.slow").into_iter().map(|(p, _)| p).collect();
    assert_eq!(files, ["a", "orphan"], "the new attempt's own background job, nothing from the killed one");
}

/// Ctrl-C in a terminal sends SIGINT to the runner's whole process group. The runner dies; the
/// commands, each in a group of their own, get nothing from the terminal: the watchdog, in a group
/// of its own too, must end them.
#[test]
fn a_runner_interrupted_from_its_terminal_takes_its_commands_with_it() {
    let (_tmp, dir, marks) = marked_project(
        "touch MARKS/started; (sleep 2; touch MARKS/grandchild-lived) & sleep 2; touch MARKS/command-lived; wait",
        "",
    );
    let mut runner = runner_with_a_command_running(&dir, &marks);
    let group = format!("-{}", runner.id());
    let sent = Command::new("kill").args(["-INT", "--", &group]).status().expect("kill runs");
    assert!(sent.success());
    runner.wait().expect("wait");
    assert_eq!(marks_after_a_while(&marks), ["started"], "a command outlived its interrupted runner");
}

#[test]
fn a_timeout_kills_what_the_command_started() {
    let (_tmp, dir, marks) = marked_project("(sleep 3; touch MARKS/survived) & sleep 30", "  timeout = 1s\n");
    let started = Instant::now();
    let out = pipe(&dir, &["run", "pipeline.pipe"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timed out after 1 s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "the run waited for the background job");
    std::thread::sleep(Duration::from_millis(3500));
    assert!(!marks.join("survived").exists(), "the command's background job outlived its timeout");
}

#[test]
fn a_file_replaced_with_equal_size_and_mtime_is_read_again() {
    let pipeline = "use torchx\n\ninput raw = dir(\"raw\")\n\nstage s: torchx.shell {\n  image  = \"busybox\"\n  script = \"cp $PIPE_IN_RAW/* $PIPE_OUT/\"\n  datums = glob(raw, \"/*\")\n}\n";
    let (_tmp, dir) = project(&[("pipeline.pipe", pipeline), ("raw/a", "version 1"), ("raw/b", "unchanged")]);
    let stamp = std::time::SystemTime::now() - Duration::from_secs(3600);
    let set_mtime =
        |p: &Path| std::fs::File::options().write(true).open(p).expect("open").set_modified(stamp).expect("mtime");
    set_mtime(&dir.join("raw/a"));
    // Past the stat cache's racy window, so the first run records both files.
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(run(&dir), [(2, 0)]);
    // `tar x` of a new version: same size, same mtime, maybe even the same inode.
    std::fs::write(dir.join("raw/a"), "version 2").expect("write");
    set_mtime(&dir.join("raw/a"));
    assert_eq!(run(&dir), [(1, 1)]);
    let files = output(&dir, "pipeline.s");
    assert_eq!(files[0], ("a".to_owned(), "version 2".to_owned()));
}

/// A param given as `2.0` is the value its default `2.0` is: one key, so nothing runs again (it
/// used to rerun every datum that read the param, and a stage TorchX ran, which writes `2.0`,
/// ran again under `pipe run`).
#[test]
fn a_param_given_as_its_default_value_reruns_nothing() {
    let (_tmp, dir) = project(&[
        ("data/a.txt", "a\n"),
        (
            "pipeline.pipe",
            "param t: float = 2.0\nparam n: int = 3\n\ninput d = dir(\"data\")\n\nstage s {\n  image   = \"busybox\"\n  datums  = glob(d, \"/*\")\n  command = [\"sh\", \"-c\", \"echo ${t} ${n} > $PIPE_OUT/x\"]\n}\n",
        ),
    ]);
    assert_eq!(run(&dir), [(1, 0)]);
    for given in [["--param", "t=2.0"], ["--param", "t=2.00"], ["--param", "n=+3"]] {
        let args = [&["run", "pipeline.pipe", "--json"][..], &given[..]].concat();
        let out = pipe(&dir, &args);
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
        assert_eq!(doc["stages"][0]["processed"], 0, "{given:?} is the default value");
    }
    assert_eq!(output(&dir, "pipeline.s"), [("x".to_owned(), "2 3\n".to_owned())]);
}
