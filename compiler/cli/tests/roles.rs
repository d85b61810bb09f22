//! Input roles end to end (`pipe run` as a process): `glob(D, "/p", as = "role")` puts `D`'s files
//! under `in/<role>` and `PIPE_IN_<ROLE>`, so one template serves stages that read different
//! datasets in one role, and one dataset can be read twice, in two roles.

use pipe_tests::pipe_command;
use std::path::Path;

fn pipe(dir: &Path, args: &[&str]) -> String {
    let out = pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir).args(args).output().expect("pipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "pipe {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one file of a stage's output.
fn output(dir: &Path, repo: &str, path: &str) -> String {
    let out = dir.join("got").join(repo);
    pipe(dir, &["data", "--store", ".pipe", "get", repo, out.to_str().expect("utf-8")]);
    std::fs::read_to_string(out.join(path)).expect("the output file")
}

#[test]
fn a_template_reads_whatever_dataset_fills_its_role() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for (folder, file, text) in [("fresh", "f.csv", "new rows"), ("archive", "a.csv", "old rows")] {
        std::fs::create_dir_all(dir.join(folder)).expect("mkdir");
        std::fs::write(dir.join(folder).join(file), text).expect("write");
    }
    std::fs::write(
        dir.join("pipeline.pipe"),
        r#"input fresh = dir("fresh")
input archive = dir("archive")

## Reads its data as `data`, whichever dataset that is; lists what it sees under `in/`.
template summarize {
  image   = "debian:12"
  command = ["sh", "-c", "ls in > $PIPE_OUT/seen && cat $PIPE_IN_DATA/* in/data/* >> $PIPE_OUT/seen"]
}

stage new_rows: summarize {
  datums = glob(fresh, "/", as = "data")
}

stage old_rows: summarize {
  datums = glob(archive, "/", as = "data")
}

## One dataset in two roles: `fresh` as `a` and as `b`, each its own folder.
stage both {
  image   = "debian:12"
  command = ["sh", "-c", "ls in > $PIPE_OUT/seen && cat $PIPE_IN_A/* $PIPE_IN_B/* >> $PIPE_OUT/seen"]
  datums  = cross(glob(fresh, "/", as = "a"), glob(fresh, "/*.csv", as = "b"))
}
"#,
    )
    .expect("write");
    pipe(dir, &["run", "pipeline.pipe"]);
    assert_eq!(output(dir, "pipeline.new_rows", "seen"), "data\nnew rowsnew rows");
    assert_eq!(output(dir, "pipeline.old_rows", "seen"), "data\nold rowsold rows");
    assert_eq!(output(dir, "pipeline.both", "seen"), "a\nb\nnew rowsnew rows");
    // The template's command and its role are one fingerprint: renaming the dataset behind the
    // role (the same files) reuses the datum.
    let text = std::fs::read_to_string(dir.join("pipeline.pipe")).expect("read");
    std::fs::write(
        dir.join("pipeline.pipe"),
        text.replace("input fresh", "input recent").replace("(fresh,", "(recent,"),
    )
    .expect("write");
    let summary: serde_json::Value =
        serde_json::from_str(&pipe(dir, &["run", "pipeline.pipe", "--json"])).expect("JSON summary");
    let new_rows = summary["stages"].as_array().expect("stages").iter().find(|s| s["name"] == "new_rows").cloned();
    assert_eq!(new_rows.expect("new_rows")["processed"], 0, "{summary}");
}
