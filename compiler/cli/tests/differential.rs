//! Incremental ≡ from scratch. Random pipelines (2–8 shell stages over glob, cross, union, join and
//! group datums) are run, edited at random (data changed, added, deleted, renamed; a param; a
//! stage's command or env; a stage added or removed; a glob changed; a run killed midway), and
//! after every edit run incrementally in one store and from scratch in a fresh one. Every stage's
//! output must be identical, a second incremental run must process nothing, and no run may process
//! a datum key that an earlier run already finished.
//!
//! Seeded: a failure prints the seed and the shrunk edit sequence, which can be replayed with
//! `PIPE_DIFF_SEED=<seed>`. `PIPE_DIFF_SEQUENCES=N` runs N sequences (a soak); the default is 3.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    All,
    Top,
    Deep,
    Cross,
    Union,
    Join,
    Group,
}

#[derive(Debug, Clone)]
struct StageModel {
    name: String,
    reads: Vec<String>,
    shape: Shape,
    marker: u32,
    extra_env: Option<u32>,
}

#[derive(Debug, Clone)]
struct Model {
    stages: Vec<StageModel>,
    salt: u32,
    files: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
enum Edit {
    ChangeFile(usize, u32),
    AddFile(u32),
    DeleteFile(usize),
    RenameFile(usize, u32),
    Param(u32),
    Command(usize),
    Env(usize),
    AddStage(u64),
    RemoveStage,
    Glob(usize),
    KillAndResume(u64),
}

const SHAPES: [Shape; 7] = [Shape::All, Shape::Top, Shape::Deep, Shape::Cross, Shape::Union, Shape::Join, Shape::Group];
const KEYS: [&str; 3] = ["a", "b", "c"];

fn new_stage(rng: &mut fastrand::Rng, index: usize, earlier: &[String]) -> StageModel {
    let mut sources = vec!["raw".to_string(), "aux".to_string()];
    sources.extend(earlier.iter().cloned());
    let shape = SHAPES[rng.usize(..SHAPES.len())];
    let first = sources[rng.usize(..sources.len())].clone();
    let mut reads = vec![first.clone()];
    if matches!(shape, Shape::Cross | Shape::Union | Shape::Join) {
        let others: Vec<&String> = sources.iter().filter(|s| **s != first).collect();
        reads.push(others[rng.usize(..others.len())].clone());
    }
    StageModel { name: format!("s{index}"), reads, shape, marker: 0, extra_env: None }
}

fn generate(seed: u64) -> Model {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut files = BTreeMap::new();
    for i in 0..rng.usize(3..7) {
        let k = KEYS[rng.usize(..3)];
        let path = if rng.bool() { format!("raw/{k}-{i}.txt") } else { format!("raw/d{}/{k}-{i}.txt", rng.usize(..2)) };
        files.insert(path, format!("raw {i} {}", rng.u32(..)));
    }
    for i in 0..rng.usize(2..4) {
        files.insert(format!("aux/{}-x{i}.txt", KEYS[rng.usize(..3)]), format!("aux {i}"));
    }
    let mut stages: Vec<StageModel> = Vec::new();
    for i in 0..rng.usize(2..=8) {
        let earlier: Vec<String> = stages.iter().map(|s| s.name.clone()).collect();
        stages.push(new_stage(&mut rng, i, &earlier));
    }
    Model { stages, salt: 0, files }
}

fn datums(s: &StageModel) -> String {
    let (a, b) = (&s.reads[0], s.reads.get(1).unwrap_or(&s.reads[0]));
    match s.shape {
        Shape::All => format!("glob({a}, \"/\")"),
        Shape::Top => format!("glob({a}, \"/*\")"),
        Shape::Deep => format!("glob({a}, \"/*/*\")"),
        Shape::Cross => format!("cross(glob({a}, \"/*\"), glob({b}, \"/*\"))"),
        Shape::Union => format!("union(glob({a}, \"/*\"), glob({b}, \"/*\"))"),
        Shape::Join => format!("join(glob({a}, \"/(*)-*\"), glob({b}, \"/(*)-*\"))"),
        Shape::Group => format!("group(glob({a}, \"/(*)-*\"), by = \"$1\")"),
    }
}

const SCRIPT: &str = r#"h=$(printf %s \"$PIPE_DATUM_LABEL\" | md5sum | cut -c1-12); k=$(printf %s \"$h\" | cut -c1 | tr 0123456789abcdef abcabcabcabcabca); { echo \"$SALT $EXTRA MARK\"; for d in $(env | grep '^PIPE_IN_' | cut -d= -f2 | sort); do (cd \"$d\" && find . -type f | sort | while read f; do echo \"$f\"; cat \"$f\"; done); done; } | md5sum > \"$PIPE_OUT/$k-$h\""#;

fn render(m: &Model) -> String {
    let mut out = String::from(
        "use torchx\n\nparam salt: string = \"s0\"\n\ninput raw = dir(\"raw\")\ninput aux = dir(\"aux\")\n",
    );
    for s in &m.stages {
        let extra = s.extra_env.map_or(String::new(), |e| format!(", EXTRA = \"e{e}\""));
        out.push_str(&format!(
            "\nstage {}: torchx.shell {{\n  image  = \"busybox\"\n  script = \"{}\"\n  env    = {{ SALT = \"${{salt}}\"{extra} }}\n  datums = {}\n}}\n",
            s.name,
            SCRIPT.replace("MARK", &format!("m{}", s.marker)),
            datums(s)
        ));
    }
    out
}

/// Writes the model's pipeline and data into `dir` (keeping `.pipe`).
fn materialize(m: &Model, dir: &Path) {
    for sub in ["raw", "aux"] {
        let _ = std::fs::remove_dir_all(dir.join(sub));
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    for (path, text) in &m.files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    std::fs::write(dir.join("pipeline.pipe"), render(m)).expect("write");
}

fn apply(m: &mut Model, e: &Edit) {
    let raw: Vec<String> = m.files.keys().filter(|k| k.starts_with("raw/")).cloned().collect();
    match *e {
        Edit::ChangeFile(i, v) if !raw.is_empty() => {
            m.files.insert(raw[i % raw.len()].clone(), format!("changed {v}"));
        }
        Edit::AddFile(v) => {
            m.files.insert(format!("raw/{}-n{v}.txt", KEYS[v as usize % 3]), format!("new {v}"));
        }
        Edit::DeleteFile(i) if raw.len() > 1 => {
            m.files.remove(&raw[i % raw.len()]);
        }
        Edit::RenameFile(i, v) if !raw.is_empty() => {
            let text = m.files.remove(&raw[i % raw.len()]).expect("present");
            m.files.insert(format!("raw/{}-r{v}.txt", KEYS[v as usize % 3]), text);
        }
        Edit::Param(v) => m.salt = v,
        Edit::Command(i) => {
            let n = m.stages.len();
            m.stages[i % n].marker += 1;
        }
        Edit::Env(i) => {
            let n = m.stages.len();
            let s = &mut m.stages[i % n];
            s.extra_env = Some(s.extra_env.map_or(1, |e| e + 1));
        }
        Edit::AddStage(seed) if m.stages.len() < 8 => {
            let earlier: Vec<String> = m.stages.iter().map(|s| s.name.clone()).collect();
            let index = (0..).find(|i| !earlier.contains(&format!("s{i}"))).expect("a free name");
            let stage = new_stage(&mut fastrand::Rng::with_seed(seed), index, &earlier);
            m.stages.push(stage);
        }
        Edit::RemoveStage if m.stages.len() > 2 => {
            let read: BTreeSet<&String> = m.stages.iter().flat_map(|s| s.reads.iter()).collect();
            if let Some(leaf) = m.stages.iter().rposition(|s| !read.contains(&s.name)) {
                m.stages.remove(leaf);
            }
        }
        Edit::Glob(i) => {
            let n = m.stages.len();
            let s = &mut m.stages[i % n];
            s.shape = match s.shape {
                Shape::Top => Shape::Deep,
                Shape::Deep => Shape::All,
                Shape::All => Shape::Top,
                other => other,
            };
        }
        _ => {}
    }
}

fn random_edit(rng: &mut fastrand::Rng) -> Edit {
    match rng.u32(..11) {
        0 => Edit::ChangeFile(rng.usize(..100), rng.u32(..)),
        1 => Edit::AddFile(rng.u32(..1000)),
        2 => Edit::DeleteFile(rng.usize(..100)),
        3 => Edit::RenameFile(rng.usize(..100), rng.u32(..1000)),
        4 => Edit::Param(rng.u32(..1000)),
        5 => Edit::Command(rng.usize(..100)),
        6 => Edit::Env(rng.usize(..100)),
        7 => Edit::AddStage(rng.u64(..)),
        8 => Edit::RemoveStage,
        9 => Edit::Glob(rng.usize(..100)),
        _ => Edit::KillAndResume(rng.u64(5..400)),
    }
}

struct RunOutcome {
    /// Stage → (processed keys, every key).
    keys: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    processed: u64,
}

fn pipe_run(dir: &Path, salt: u32) -> Result<RunOutcome, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["run", "pipeline.pipe", "--json", "--jobs", "2", "--param", &format!("salt=s{salt}")])
        .current_dir(dir)
        .env_remove("PIPE_STORE")
        .env_remove("PIPE_STATE_DIR")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("pipe run failed in {}:\n{}", dir.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let run_id = doc["run_id"].as_str().ok_or("no run id")?;
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".pipe/runs").join(run_id)).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let mut keys = BTreeMap::new();
    let mut processed = 0;
    for s in record["stages"].as_array().ok_or("stages")? {
        let mut done = BTreeSet::new();
        let mut all = BTreeSet::new();
        for d in s["datums"].as_array().ok_or("datums")? {
            let key = d["key"].as_str().ok_or("key")?.to_owned();
            if d["status"] == "processed" {
                done.insert(key.clone());
                processed += 1;
            }
            all.insert(key);
        }
        keys.insert(s["name"].as_str().ok_or("name")?.to_owned(), (done, all));
    }
    Ok(RunOutcome { keys, processed })
}

/// Every stage's output files as (path, hash), from the store in `dir`.
fn outputs(dir: &Path, m: &Model) -> Result<BTreeMap<String, Vec<(String, String)>>, String> {
    let mut out = BTreeMap::new();
    for s in &m.stages {
        let ls = Command::new(env!("CARGO_BIN_EXE_pipe"))
            .args(["data", "--store", ".pipe", "ls", &format!("pipeline.{}", s.name), "--json"])
            .current_dir(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !ls.status.success() {
            return Err(format!("no output for {}: {}", s.name, String::from_utf8_lossy(&ls.stderr)));
        }
        let files: Value = serde_json::from_slice(&ls.stdout).map_err(|e| e.to_string())?;
        let list =
            files.as_array().ok_or("array")?.iter().map(|f| (f["path"].to_string(), f["hash"].to_string())).collect();
        out.insert(s.name.clone(), list);
    }
    Ok(out)
}

fn kill_midway(dir: &Path, salt: u32, after_ms: u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["run", "pipeline.pipe", "--jobs", "2", "--param", &format!("salt=s{salt}")])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(after_ms));
    let _ = child.kill();
    let _ = child.wait();
}

/// Replays `edits` on the pipeline of `seed`; gives the first failure.
fn replay(seed: u64, edits: &[Edit], root: &Path) -> Result<(), String> {
    let mut m = generate(seed);
    let dir = root.join("incremental");
    let _ = std::fs::remove_dir_all(&dir);
    materialize(&m, &dir);
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let first = pipe_run(&dir, m.salt)?;
    for (stage, (_, all)) in first.keys {
        seen.entry(stage).or_default().extend(all);
    }
    for (step, e) in edits.iter().enumerate() {
        apply(&mut m, e);
        materialize(&m, &dir);
        if let Edit::KillAndResume(ms) = e {
            kill_midway(&dir, m.salt, *ms);
        }
        let inc = pipe_run(&dir, m.salt)?;
        for (stage, (done, all)) in &inc.keys {
            let before = seen.entry(stage.clone()).or_default();
            if let Some(again) = done.iter().find(|k| before.contains(*k)) {
                return Err(format!(
                    "after edit {step} ({e:?}): stage {stage} processed datum {again} again, though an earlier run finished it"
                ));
            }
            before.extend(all.iter().cloned());
        }
        let again = pipe_run(&dir, m.salt)?;
        if again.processed != 0 {
            return Err(format!(
                "after edit {step} ({e:?}): a second run with nothing changed processed {} datums",
                again.processed
            ));
        }
        let scratch = root.join(format!("scratch-{step}"));
        let _ = std::fs::remove_dir_all(&scratch);
        materialize(&m, &scratch);
        pipe_run(&scratch, m.salt)?;
        let (a, b) = (outputs(&dir, &m)?, outputs(&scratch, &m)?);
        let _ = std::fs::remove_dir_all(&scratch);
        if a != b {
            let stage = a.keys().find(|k| a.get(*k) != b.get(*k)).cloned().unwrap_or_default();
            return Err(format!(
                "after edit {step} ({e:?}): stage {stage} differs from a run from scratch:\n incremental {:?}\n scratch     {:?}",
                a.get(&stage),
                b.get(&stage)
            ));
        }
    }
    Ok(())
}

/// Drops edits one at a time while the failure persists.
fn shrink(seed: u64, mut edits: Vec<Edit>, root: &Path) -> (Vec<Edit>, String) {
    let mut last = replay(seed, &edits, root).expect_err("it failed before");
    let mut i = 0;
    while i < edits.len() {
        let mut fewer = edits.clone();
        fewer.remove(i);
        match replay(seed, &fewer, root) {
            Err(e) => {
                edits = fewer;
                last = e;
            }
            Ok(()) => i += 1,
        }
    }
    (edits, last)
}

#[test]
fn incremental_runs_equal_runs_from_scratch() {
    let sequences: u64 = std::env::var("PIPE_DIFF_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let first_seed: u64 = std::env::var("PIPE_DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut edits_done = 0;
    for seed in first_seed..first_seed + sequences {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xed17);
        let edits: Vec<Edit> = (0..rng.usize(4..8)).map(|_| random_edit(&mut rng)).collect();
        let root: PathBuf = tmp.path().join(seed.to_string());
        if let Err(first) = replay(seed, &edits, &root) {
            let (minimal, error) = shrink(seed, edits, &root);
            panic!(
                "seed {seed} failed: {first}\nshrunk to {minimal:?}:\n{error}\nreplay with PIPE_DIFF_SEED={seed} PIPE_DIFF_SEQUENCES=1"
            );
        }
        edits_done += edits.len();
        let _ = std::fs::remove_dir_all(&root);
    }
    eprintln!("{sequences} sequences, {edits_done} edits: incremental ≡ from scratch");
}
