//! The `pipe` binary end to end: exit codes (0 clean, 1 user errors, 2 usage), JSON diagnostics,
//! `fmt`, `graph` and `explain`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pipe(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("pipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "pipe {args:?} panicked:\n{stderr}");
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_exit_codes() {
    let r = root();
    let clean = pipe(&["check", "examples/mnist/pipeline.pipe", "examples/sweep/pipeline.pipe"], &r);
    assert_eq!(code(&clean), 0, "{}", stderr(&clean));
    assert!(stderr(&clean).contains("ok: 2 files checked"));

    let warnings = pipe(&["check", "tests/cases/lint/unused_param/main.pipe"], &r);
    assert_eq!(code(&warnings), 0, "warnings alone do not fail");
    assert!(stderr(&warnings).contains("W2001"));

    let errors = pipe(&["check", "tests/cases/types/unknown_field/main.pipe"], &r);
    assert_eq!(code(&errors), 1);
    let text = stderr(&errors);
    assert!(text.contains("E3002") && text.contains("did you mean `gpu`?"), "{text}");
    assert!(text.contains("error: 2 errors in 1 file"), "{text}");

    let missing = pipe(&["check", "no/such/file.pipe"], &r);
    assert_eq!(code(&missing), 2);
    assert!(stderr(&missing).contains("cannot read `no/such/file.pipe`"));

    let usage = pipe(&["check", "--frmat", "json"], &r);
    assert_eq!(code(&usage), 2);
}

#[test]
fn check_json_reports_every_field_tools_need() {
    let o = pipe(&["check", "--format", "json", "tests/cases/syntax/many_errors_in_one_pass/main.pipe"], &root());
    assert_eq!(code(&o), 1);
    let all: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is JSON");
    let all = all.as_array().expect("an array");
    assert_eq!(all.len(), 6, "every syntax error of the file, in one pass: {all:#?}");
    let first = &all[0];
    for key in
        ["code", "severity", "message", "file", "span", "line", "column", "end_line", "end_column", "help", "labels"]
    {
        assert!(first.get(key).is_some(), "missing `{key}` in {first}");
    }
    assert_eq!(first["code"], "E1004");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "tests/cases/syntax/many_errors_in_one_pass/main.pipe");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(1), Some(23)));
    assert_eq!((first["span"]["start"].as_u64(), first["span"]["end"].as_u64()), (Some(22), Some(23)));
    let codes: Vec<&str> = all.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E1004", "E1004", "E1001", "E1004", "E1003", "E1005"]);
}

#[test]
fn check_follows_used_files_relative_to_the_pipeline() {
    let o = pipe(&["check", "pipeline.pipe"], &root().join("examples/sweep"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn fmt_check_rewrite_and_refusal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("p.pipe");
    std::fs::write(&file, "stage a{image=\"alpine:3.20\"}\n").expect("write");
    let check = pipe(&["fmt", "--check", "p.pipe"], dir.path());
    assert_eq!(code(&check), 1);
    assert_eq!(stdout(&check).trim(), "p.pipe");
    assert_eq!(code(&pipe(&["fmt", "p.pipe"], dir.path())), 0);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "stage a {\n  image = \"alpine:3.20\"\n}\n");
    assert_eq!(code(&pipe(&["fmt", "--check"], dir.path())), 0, "no files named: every *.pipe here");

    let broken = "stage a {\n  image =\n}\n";
    std::fs::write(&file, broken).expect("write");
    let refused = pipe(&["fmt", "p.pipe"], dir.path());
    assert_eq!(code(&refused), 1);
    assert!(stderr(&refused).contains("has syntax errors and was not formatted"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), broken, "a broken file is left alone");
}

#[test]
fn fmt_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(b"param  x:int=1\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "param x: int = 1\n");
}

#[test]
fn graph_formats() {
    let r = root();
    let dot = pipe(&["graph", "examples/mnist/pipeline.pipe"], &r);
    assert_eq!(code(&dot), 0);
    assert!(stdout(&dot).contains("\"preprocess\" -> \"train\" [label=\"/\"];"), "{}", stdout(&dot));
    let mermaid = pipe(&["graph", "examples/mnist/pipeline.pipe", "--format", "mermaid"], &r);
    assert!(stdout(&mermaid).starts_with("flowchart LR\n"));
    let json = pipe(&["graph", "examples/mnist/pipeline.pipe", "--format", "json"], &r);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["edges"].as_array().map(Vec::len), Some(4));
    let broken = pipe(&["graph", "tests/cases/graph/cycle_of_two/main.pipe"], &r);
    assert_eq!(code(&broken), 1);
    assert!(stderr(&broken).contains("E4001"));
}

#[test]
fn explain_codes() {
    let r = root();
    let o = pipe(&["explain", "e3001"], &r);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("# E3001: type mismatch"));
    let unknown = pipe(&["explain", "E3100"], &r);
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("did you mean"), "{}", stderr(&unknown));
}

/// `pipe data ls | head`: the reader stops early. `pipe` used to panic on its next print ("failed
/// printing to stdout: Broken pipe"); it ends as `ls` does, by SIGPIPE, quietly.
#[test]
fn a_reader_that_stops_early_ends_pipe_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().expect("tmp");
    for i in 0..4000 {
        pipe_tests::write_file(tmp.path(), &format!("d/f{i:04}"), b"x");
    }
    assert_eq!(code(&pipe(&["data", "init", "r"], tmp.path())), 0);
    assert_eq!(code(&pipe(&["data", "put", "r", "d"], tmp.path())), 0);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["data", "ls", "r"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pipe runs");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
    assert!(first.contains("f0000"), "{first}");
    let out = child.wait_with_output().expect("pipe ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success() || out.status.signal() == Some(13), "{:?}: {err}", out.status);
}

/// A diagnostic on a line past column 65,535 (a minified or generated file) used to panic inside
/// miette's graphical handler (rc 101); it now names the place instead of drawing the line.
#[test]
fn a_diagnostic_on_a_very_long_line_is_reported_not_a_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let text = format!("stage s {{\n  image = \"{}\" nope\n}}\n", "a".repeat(70_000));
    std::fs::write(tmp.path().join("long.pipe"), text).expect("write");
    let out = pipe(&["check", "long.pipe"], tmp.path());
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{}", &err[..err.len().min(2000)]);
    assert!(!err.contains("panicked"), "{}", &err[..err.len().min(2000)]);
    assert!(err.contains("E1004") && err.contains("long.pipe:2:70014"), "{err}");
    assert!(err.len() < 2_000, "the line is not drawn: {} bytes", err.len());
}

/// Thousands of nested `[` or records used to overflow the stack (abort, rc 134) in `check` and
/// `fmt`; nesting is limited (E1009) and reported.
#[test]
fn deeply_nested_values_are_an_error_not_a_crash() {
    let tmp = tempfile::tempdir().expect("tmp");
    let lists =
        format!("stage s {{\n  image = \"busybox\"\n  args  = {}{}\n}}\n", "[".repeat(6_000), "]".repeat(6_000));
    let records =
        format!("stage s {{\n  image = \"busybox\"\n  env   = {}\n}}\n", "{ a = ".repeat(4_000) + &"}".repeat(4_000));
    for (name, text) in [("lists.pipe", lists), ("records.pipe", records)] {
        std::fs::write(tmp.path().join(name), text).expect("write");
        for args in [vec!["check", name], vec!["fmt", "--check", name]] {
            let out = pipe(&args, tmp.path());
            let err = stderr(&out);
            assert!(out.status.code().is_some(), "{args:?} was killed by a signal: {:?}", out.status);
            assert!(!err.contains("panicked") && !err.contains("overflow"), "{args:?}: {err}");
            assert_ne!(code(&out), 0, "{args:?}");
        }
        assert!(stderr(&pipe(&["check", name], tmp.path())).contains("E1009"), "{name}");
    }
}

/// A file that is not UTF-8 is a problem in the file: a diagnostic with the offset, exit 1, and
/// the rest of the file still checked (it used to be exit 2, "stream did not contain valid utf-8").
#[test]
fn a_file_that_is_not_utf8_is_a_diagnostic_with_its_offset() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("bad.pipe"), b"stage s {\n  image = \"bus\xffbox\"\n  command = [\"true\"]\n}\n")
        .expect("write");
    let o = pipe(&["check", "bad.pipe"], tmp.path());
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("E1001") && stderr(&o).contains("byte 24 (0xFF) is not UTF-8"), "{}", stderr(&o));
    let o = pipe(&["fmt", "bad.pipe"], tmp.path());
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("is not UTF-8 text (byte 24 is not)"), "{}", stderr(&o));
}

/// `use` reads `.pipe` files inside the pipeline's folder and nothing else: not the process's
/// environment (which a snippet would print, a CI's secrets with it), not a device that never
/// ends, not a file outside the project, not through a link that leads to any of those.
#[test]
fn use_reads_only_pipeline_files_inside_the_project() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(dir.join("lib")).expect("mkdir");
    std::fs::write(tmp.path().join("outside.pipe"), "template t {\n  x: int = 1\n}\n").expect("write");
    std::os::unix::fs::symlink("/proc/self/environ", dir.join("lib/env.pipe")).expect("symlink");
    std::os::unix::fs::symlink("/dev/zero", dir.join("lib/zero.pipe")).expect("symlink");
    for (target, why) in [
        ("/proc/self/environ", "the path is absolute"),
        ("/dev/zero", "the path is absolute"),
        ("../outside.pipe", "leads out of the pipeline's folder"),
        ("lib/notes.txt", "only `.pipe` files can be used"),
        ("lib/env.pipe", "not a pipeline file"),
        ("lib/zero.pipe", "not a pipeline file"),
    ] {
        std::fs::write(dir.join("p.pipe"), format!("use \"{target}\" as lib\n")).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_pipe"))
            .args(["check", "p.pipe"])
            .current_dir(&dir)
            .env("PIPE_TEST_SECRET", "hunter2-do-not-print")
            .output()
            .expect("pipe runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{target}: {err}");
        assert!(err.contains("E2004") && err.contains(why), "{target}: {err}");
        assert!(!err.contains("hunter2"), "{target}: the environment reached the output: {err}");
    }
}
