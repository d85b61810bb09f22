//! Sweeps end to end (`pipe run` as a process): each point of a `grid` is a datum whose values
//! reach the command as `${name}` and `PIPE_PARAM_<NAME>`, cached by its values — a 1,000-point
//! grid that gains 10 points runs exactly 10, one that loses a point runs none — crossed with
//! data, and sampled with a seed that keeps its points as `n` grows; and the chained search of
//! `examples/hpo`, whose retry from another starting point reruns only the refine branch.

use pipe_tests::pipe_command;
use serde_json::Value;
use std::path::Path;

fn pipe(dir: &Path, args: &[&str]) -> String {
    let out = pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir).args(args).output().expect("pipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "pipe {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `pipe run pipeline.pipe --json`: each stage's (processed, skipped).
fn run(dir: &Path, extra: &[&str]) -> Vec<(u64, u64)> {
    let doc: Value =
        serde_json::from_str(&pipe(dir, &[&["run", "pipeline.pipe", "--json"], extra].concat())).expect("JSON summary");
    let stages = doc["stages"].as_array().expect("stages");
    stages.iter().map(|s| (s["processed"].as_u64().expect("n"), s["skipped"].as_u64().expect("n"))).collect()
}

/// The files of the stage's output, path → content.
fn outputs(dir: &Path, repo: &str) -> std::collections::BTreeMap<String, String> {
    let out = dir.join("got");
    let _ = std::fs::remove_dir_all(&out);
    pipe(dir, &["data", "--store", ".pipe", "get", repo, out.to_str().expect("utf-8")]);
    pipe_tests::text_files(&out, |_| true)
}

/// A grid over `seed` (the values given) beside a plain param: every point writes, under a
/// folder of its own, the value it got in its arguments, in `PIPE_PARAM_SEED`, and the plain
/// param.
fn grid_pipeline(dir: &Path, seeds: &[u32]) {
    let list: Vec<String> = seeds.iter().map(u32::to_string).collect();
    let text = format!(
        r#"param seed: int = 0
param scale: float = 2.5

stage search {{
  image   = "debian:12"
  command = ["sh", "-c", "mkdir -p $PIPE_OUT/s${{seed}} && echo ${{seed}} $PIPE_PARAM_SEED ${{scale}} > $PIPE_OUT/s${{seed}}/v"]
  datums  = grid(seed = [{}])
}}
"#,
        list.join(", ")
    );
    std::fs::write(dir.join("pipeline.pipe"), text).expect("write");
}

#[test]
fn a_grid_runs_each_point_once_and_only_new_points_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let thousand: Vec<u32> = (0..1000).collect();
    grid_pipeline(dir, &thousand);
    assert_eq!(run(dir, &[]), [(1000, 0)]);
    let files = outputs(dir, "pipeline.search");
    assert_eq!(files.len(), 1000);
    assert_eq!(files["s7/v"], "7 7 2.5\n", "the point's value in the args and the variable; the plain param bound");

    let more: Vec<u32> = (0..1010).collect();
    grid_pipeline(dir, &more);
    assert_eq!(run(dir, &[]), [(10, 1000)], "ten new points run, the thousand old ones are reused");
    assert_eq!(outputs(dir, "pipeline.search").len(), 1010);

    let fewer: Vec<u32> = (0..1010).filter(|s| *s != 500).collect();
    grid_pipeline(dir, &fewer);
    assert_eq!(run(dir, &[]), [(0, 1009)], "removing a point runs nothing");
    let files = outputs(dir, "pipeline.search");
    assert_eq!(files.len(), 1009);
    assert!(!files.contains_key("s500/v"), "the removed point's output is gone from the stage's output");

    // A point is keyed by its value, not its spelling or place: reordered, it is still cached.
    let reordered: Vec<u32> = fewer.iter().rev().copied().collect();
    grid_pipeline(dir, &reordered);
    assert_eq!(run(dir, &[]), [(0, 1009)]);
}

#[test]
fn a_grid_crosses_with_data_and_a_sample_grows_by_adding_points() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("folds")).expect("mkdir");
    for fold in ["a", "b", "c"] {
        std::fs::write(dir.join("folds").join(fold), fold).expect("write");
    }
    let write = |n: u32| {
        let text = format!(
            r#"param lr: float = 0.1
param wd: float = 0.0
input folds = dir("folds")

stage search {{
  image   = "debian:12"
  command = ["sh", "-c", "f=$(ls $PIPE_IN_FOLDS); mkdir -p $PIPE_OUT/$f && echo $f ${{lr}} $PIPE_PARAM_WD > $PIPE_OUT/$f/lr${{lr}}-wd${{wd}}"]
  env     = {{ RATE = "${{lr}}" }}
  datums  = cross(grid(lr = [1e-1, 1e-2]), sample(grid(wd = [0, 1e-4, 1e-3, 1e-2, 1e-1]), n = {n}, seed = 3), glob(folds, "/*"))
}}
"#
        );
        std::fs::write(dir.join("pipeline.pipe"), text).expect("write");
    };
    write(2);
    assert_eq!(run(dir, &[]), [(2 * 2 * 3, 0)]);
    let files = outputs(dir, "pipeline.search");
    assert_eq!(files.len(), 12);
    for (path, content) in &files {
        // `a/lr0.01-wd0.001` holds `a 0.01 0.001`: each datum saw its own fold and point.
        let (fold, point) = path.split_once('/').expect("fold/point");
        let (lr, wd) = point.strip_prefix("lr").and_then(|p| p.split_once("-wd")).expect("lr…-wd…");
        assert_eq!(content, &format!("{fold} {lr} {wd}\n"), "{path}");
        assert!(["0.1", "0.01"].contains(&lr), "{path}");
    }
    write(4);
    assert_eq!(run(dir, &[]), [(2 * 2 * 3, 2 * 2 * 3)], "the two points sampled before are kept and reused");
    write(5);
    assert_eq!(run(dir, &[]), [(2 * 3, 4 * 2 * 3)]);
}

/// `examples/hpo`: search → pick → refine → pick → train. Retrying the refinement from the
/// search's runner-up (`--param start=2`) reuses the split and the whole search and runs the
/// refine branch again; going back to the best reruns nothing.
#[test]
fn a_chained_search_retried_from_another_start_reruns_only_the_refine_branch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    pipe_tests::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hpo"), dir);
    pipe(dir, &["data", "init", "hpo-points"]);
    pipe(dir, &["data", "put", "hpo-points", "data"]);
    // split, search, pick_search, refine, pick_refined, train
    assert_eq!(run(dir, &[]), [(1, 0), (15, 0), (1, 0), (5, 0), (1, 0), (1, 0)]);
    let best: Value = serde_json::from_str(&outputs(dir, "pipeline.pick_search")["best.json"]).expect("JSON");
    let ranking: Value = serde_json::from_str(&outputs(dir, "pipeline.pick_search")["ranking.json"]).expect("JSON");
    assert_eq!(ranking.as_array().map(Vec::len), Some(15), "the pick saw every point of the search");
    assert_eq!(best, ranking[0]);
    assert_eq!(run(dir, &["--param", "start=2"]), [(0, 1), (0, 15), (1, 0), (5, 0), (1, 0), (1, 0)]);
    let second: Value = serde_json::from_str(&outputs(dir, "pipeline.pick_search")["best.json"]).expect("JSON");
    assert_eq!(second, ranking[1], "the refinement started from the runner-up");
    let refined = outputs(dir, "pipeline.refine");
    let start_lr = second["lr"].as_f64().expect("lr");
    let half: Value = serde_json::from_str(&refined["scale0.5/point.json"]).expect("JSON");
    assert!((half["lr"].as_f64().expect("lr") - start_lr * 0.5).abs() < 1e-9, "{half} from {second}");
    assert_eq!(run(dir, &[]), [(0, 1), (0, 15), (0, 1), (0, 5), (0, 1), (0, 1)], "back to the best: all cached");
}

/// A point whose command exits 0 without writing its result (the stage's `metrics`) is reported,
/// by its values.
#[test]
fn a_point_that_writes_no_result_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(
        dir.join("pipeline.pipe"),
        r#"param seed: int = 0

stage search {
  image   = "debian:12"
  command = ["sh", "-c", "[ ${seed} = 3 ] || { mkdir -p $PIPE_OUT/s${seed} && echo '{\"loss\": ${seed}}' > $PIPE_OUT/s${seed}/metrics.json; }"]
  datums  = grid(seed = [1, 2, 3])
  metrics = "metrics.json"
}
"#,
    )
    .expect("write");
    let out = pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir)
        .args(["run", "pipeline.pipe"])
        .output()
        .expect("pipe runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("1 datum(s) wrote no `out/metrics.json`") && said.contains("`seed=3`"), "{said}");
}

/// `points(…)`: a grid an earlier stage wrote. Each listed point is a datum with its values in
/// `${name}`; the proposal gaining a point runs that point alone; a file a point of which lacks a
/// param fails the stage saying which.
#[test]
fn a_grid_written_by_an_earlier_stage_runs_its_points() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("seed")).expect("mkdir");
    let propose = |points: &str| {
        std::fs::write(dir.join("seed/points.json"), points).expect("write");
    };
    std::fs::write(
        dir.join("pipeline.pipe"),
        r#"param lr: float = 0.1
param depth: int = 1
input seed = dir("seed")

stage propose {
  image   = "debian:12"
  command = ["sh", "-c", "cp $PIPE_IN_SEED/points.json $PIPE_OUT/grid.json"]
  datums  = glob(seed, "/")
}

stage refine {
  image   = "debian:12"
  command = ["sh", "-c", "echo ${lr} $PIPE_PARAM_DEPTH > $PIPE_OUT/lr${lr}-d${depth}"]
  datums  = points(propose, "/grid.json", params = [lr, depth])
}
"#,
    )
    .expect("write");
    propose(r#"[{"lr": 0.10, "depth": 2}, {"lr": 1e-2, "depth": 3}]"#);
    assert_eq!(run(dir, &[]), [(1, 0), (2, 0)]);
    let files = outputs(dir, "pipeline.refine");
    assert_eq!(files.get("lr0.1-d2").map(String::as_str), Some("0.1 2\n"), "{files:?}");
    assert_eq!(files.get("lr0.01-d3").map(String::as_str), Some("0.01 3\n"), "{files:?}");
    propose(r#"[{"lr": 0.1, "depth": 2}, {"lr": 0.01, "depth": 3}, {"lr": 0.5, "depth": 3}]"#);
    assert_eq!(run(dir, &[]), [(1, 0), (1, 2)], "one new point runs; the two written as before are reused");

    propose(r#"[{"lr": 0.1}]"#);
    let out = pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir)
        .args(["run", "pipeline.pipe"])
        .output()
        .expect("pipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`propose:/grid.json` point 0 gives no `depth`"), "{stderr}");
}
