//! Incremental ≡ from scratch. Random pipelines (2–8 shell stages over glob, cross, union —
//! overlapping ones too —, join and group datums, and grids of a swept param crossed with files, some of them early-cutoff stages whose output
//! does not change with their input's content, some sourcing a script file of the project) are
//! run, edited at random, and after every edit run incrementally in one store and from scratch in
//! a fresh one. The edits: data changed, added, deleted, renamed, moved into or out of a glob's
//! reach, or replaced by content of the same size with the old mtime (the stat cache's blind
//! spot); a param; a script file and a param together; a stage's command or env; an input added
//! to or removed from a stage; a stage added or removed; a glob changed; a grid's value added or
//! removed; a run whose runner is
//! killed with `SIGKILL` while commands (and what they started) run. Runs use 1–3 jobs. Every
//! stage's output must be identical, a second incremental run must process nothing, no run may
//! process a datum key that an earlier run already finished, and the cluster's path — `pipe
//! compile --target spec` then `pipe-shim plan`, `run` per shard and `commit` per stage, on a store
//! of its own kept across the edits — must give the same outputs as `pipe run`.
//!
//! Seeded: a failure prints the seed and the shrunk edit sequence, which can be replayed with
//! `PIPE_DIFF_SEED=<seed>`. Sequences run until `PIPE_DIFF_SECONDS` (default 60) have passed, at
//! least `PIPE_DIFF_SEQUENCES` (default 3) of them: a soak sets both higher.

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
    /// Two globs of one input that match some of the same entries.
    Overlap,
    Join,
    Group,
    /// `cross(grid(w = […]), glob(a, "/*"))`: each point runs the script with its own `${w}`.
    Sweep,
}

#[derive(Debug, Clone)]
struct StageModel {
    name: String,
    reads: Vec<String>,
    shape: Shape,
    marker: u32,
    extra_env: Option<u32>,
    /// Writes only how many files it saw: content changes upstream stop here (early cutoff).
    cutoff: bool,
    /// Sources the project's `lib.sh`, a script file that is code.
    uses_lib: bool,
    /// The values of a `Sweep` stage's grid.
    points: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Model {
    stages: Vec<StageModel>,
    salt: u32,
    lib: u32,
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
    /// Same length, other bytes, old mtime kept (`tar x`, `cp -p`, `rsync -t`).
    ReplaceSameStat(usize, u32),
    /// Between the top level and `d0/`, or to a name the `(*)-*` globs do not match.
    Move(usize, u32),
    /// A second input for a `/*` stage (a union), or the second input of a union dropped.
    ToggleInput(usize),
    LibAndParam(u32),
    /// A value added to a sweep's grid, or removed (one stays).
    Point(usize, u32),
}

const SHAPES: [Shape; 9] = [
    Shape::All,
    Shape::Top,
    Shape::Deep,
    Shape::Cross,
    Shape::Union,
    Shape::Overlap,
    Shape::Join,
    Shape::Group,
    Shape::Sweep,
];
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
    let (cutoff, uses_lib) = (rng.u8(..4) == 0, rng.u8(..4) == 0);
    let points = vec![1, 2];
    StageModel { name: format!("s{index}"), reads, shape, marker: 0, extra_env: None, cutoff, uses_lib, points }
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
    Model { stages, salt: 0, lib: 0, files }
}

fn datums(s: &StageModel) -> String {
    let (a, b) = (&s.reads[0], s.reads.get(1).unwrap_or(&s.reads[0]));
    match s.shape {
        Shape::All => format!("glob({a}, \"/\")"),
        Shape::Top => format!("glob({a}, \"/*\")"),
        Shape::Deep => format!("glob({a}, \"/*/*\")"),
        Shape::Cross => format!("cross(glob({a}, \"/*\"), glob({b}, \"/*\"))"),
        Shape::Union => format!("union(glob({a}, \"/*\"), glob({b}, \"/*\"))"),
        Shape::Overlap => format!("union(glob({a}, \"/*\"), glob({a}, \"/*-*\"))"),
        Shape::Join => format!("join(glob({a}, \"/(*)-*\"), glob({b}, \"/(*)-*\"))"),
        Shape::Group => format!("group(glob({a}, \"/(*)-*\"), by = \"$1\")"),
        Shape::Sweep => {
            let values: Vec<String> = s.points.iter().map(u32::to_string).collect();
            format!("cross(grid(w = [{}]), glob({a}, \"/*\"))", values.join(", "))
        }
    }
}

/// Each datum writes one file named after its label, holding a hash of what it saw: its env and
/// either every input file's path and content or (a cutoff stage) only how many there were.
/// Under `DIFF_SLOW` (the killed runs) it is slow and leaves a job behind that would write into
/// `out/` after the command ended, had it outlived it.
const SCRIPT: &str = r#"if [ -n \"$DIFF_SLOW\" ]; then (sleep 0.4; echo late > \"$PIPE_OUT/zz-late\") & sleep 0.1; fi; LIBLINE h=$(printf %s \"$PIPE_DATUM_LABEL\" | md5sum | cut -c1-12); k=$(printf %s \"$h\" | cut -c1 | tr 0123456789abcdef abcabcabcabcabca); { echo \"$SALT $EXTRA $LIB MARK w${w}\"; for d in $(env | grep '^PIPE_IN_' | cut -d= -f2 | sort); do (cd \"$d\" && find . -type f | sort | SEEN); done; } | md5sum > \"$PIPE_OUT/$k-$h\""#;

fn render(m: &Model) -> String {
    let mut out = String::from(
        "use torchx\n\nparam salt: string = \"s0\"\nparam w: int = 0\n\ninput raw = dir(\"raw\")\ninput aux = dir(\"aux\")\n",
    );
    for s in &m.stages {
        let extra = s.extra_env.map_or(String::new(), |e| format!(", EXTRA = \"e{e}\""));
        let script = SCRIPT
            .replace("MARK", &format!("m{}", s.marker))
            .replace("LIBLINE", if s.uses_lib { ". \\\"$1\\\";" } else { "" })
            .replace("SEEN", if s.cutoff { "wc -l" } else { "while read f; do echo \\\"$f\\\"; cat \\\"$f\\\"; done" });
        let args = if s.uses_lib { "  args   = [\"lib.sh\"]\n" } else { "" };
        out.push_str(&format!(
            "\nstage {}: torchx.shell {{\n  image  = \"busybox\"\n  script = \"{script}\"\n{args}  env    = {{ SALT = \"${{salt}}\"{extra} }}\n  datums = {}\n}}\n",
            s.name,
            datums(s)
        ));
    }
    out
}

/// Writes the model's pipeline and data into `dir` (keeping `.pipe`), touching only files whose
/// content changed, as an editor or `rsync` would. A file whose new content has the old size keeps
/// its old mtime: the case a stat cache trusting (size, mtime) gets wrong.
fn materialize(m: &Model, dir: &Path) {
    let mut wanted: BTreeMap<String, String> = m.files.clone();
    wanted.insert("pipeline.pipe".into(), render(m));
    wanted.insert("lib.sh".into(), format!("LIB=lib{}\n", m.lib));
    for sub in ["raw", "aux"] {
        for path in walk(&dir.join(sub)) {
            let rel = path.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
            if !wanted.contains_key(&rel) {
                std::fs::remove_file(&path).expect("rm");
            }
        }
    }
    for (path, text) in &wanted {
        let p = dir.join(path);
        let old = std::fs::metadata(&p).ok();
        if std::fs::read(&p).ok().as_deref() == Some(text.as_bytes()) {
            continue;
        }
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        if let Some(old) = old.filter(|o| o.len() == text.len() as u64) {
            let mtime = old.modified().expect("mtime");
            std::fs::File::options().write(true).open(&p).expect("open").set_modified(mtime).expect("set mtime");
        }
    }
    for sub in ["raw", "aux"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out = Vec::new();
    for e in entries {
        let p = e.expect("entry").path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
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
        Edit::ReplaceSameStat(i, v) if !raw.is_empty() => {
            let path = &raw[i % raw.len()];
            let old = m.files[path].clone();
            let mut new = format!("{v:x}{old}");
            new.truncate(old.len());
            if new == old {
                new = old.chars().rev().collect();
            }
            m.files.insert(path.clone(), new);
        }
        Edit::Move(i, v) if !raw.is_empty() => {
            let from = raw[i % raw.len()].clone();
            let name = from.rsplit('/').next().expect("a name").to_owned();
            let to = match (from.matches('/').count(), v % 3) {
                (1, 0) => format!("raw/d{}/{name}", v % 2),
                (_, 0) | (_, 1) => format!("raw/{name}"),
                _ => format!("raw/{}", name.replace('-', "_")),
            };
            if to != from && !m.files.contains_key(&to) {
                let text = m.files.remove(&from).expect("present");
                m.files.insert(to, text);
            }
        }
        Edit::ToggleInput(i) => {
            let n = m.stages.len();
            let s = &mut m.stages[i % n];
            match s.shape {
                Shape::Top => {
                    s.shape = Shape::Union;
                    s.reads.truncate(1);
                    s.reads.push(if s.reads[0] == "aux" { "raw".into() } else { "aux".into() });
                }
                Shape::Union => {
                    s.shape = Shape::Top;
                    s.reads.truncate(1);
                }
                _ => {}
            }
        }
        Edit::LibAndParam(v) => {
            m.lib += 1;
            m.salt = v;
        }
        Edit::Point(i, v) => {
            let n = m.stages.len();
            let s = &mut m.stages[i % n];
            let v = v % 5;
            match s.points.iter().position(|p| *p == v) {
                Some(at) if s.points.len() > 1 => {
                    s.points.remove(at);
                }
                Some(_) => {}
                None => s.points.push(v),
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
    match rng.u32(..16) {
        15 => Edit::Point(rng.usize(..100), rng.u32(..)),
        11 => Edit::ReplaceSameStat(rng.usize(..100), rng.u32(..)),
        12 => Edit::Move(rng.usize(..100), rng.u32(..1000)),
        13 => Edit::ToggleInput(rng.usize(..100)),
        14 => Edit::LibAndParam(rng.u32(..1000)),
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

/// `pipe` in `dir`, with a stat cache that records files 50 ms after they were written (so it is
/// in play between the quick edits here).
fn pipe_cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
    c.current_dir(dir).env_remove("PIPE_STORE").env_remove("PIPE_STATE_DIR").env("PIPE_STAT_RACY_MS", "50");
    c
}

fn pipe_run(dir: &Path, salt: u32, jobs: usize) -> Result<RunOutcome, String> {
    let out = pipe_cmd(dir)
        .args(["run", "pipeline.pipe", "--json", "--jobs", &jobs.to_string(), "--param", &format!("salt=s{salt}")])
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

/// A run whose runner alone gets `SIGKILL` (as from the OOM killer) while its commands, slowed
/// down, are running and have started jobs of their own.
fn kill_midway(dir: &Path, salt: u32, after_ms: u64) {
    let mut child = pipe_cmd(dir)
        .args(["run", "pipeline.pipe", "--jobs", "2", "--param", &format!("salt=s{salt}")])
        .env("DIFF_SLOW", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(after_ms));
    let _ = child.kill();
    let _ = child.wait();
    // What a surviving job would write lands within 0.4 s: give it the time to show.
    std::thread::sleep(Duration::from_millis(450));
}

fn succeeded(out: std::io::Result<std::process::Output>, what: &str) -> Result<String, String> {
    let out = out.map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The cluster's path in `dir`: compile the stage specs, then for each stage (in order) plan,
/// run every shard and commit, as Argo drives `pipe-shim`.
fn shim_run(dir: &Path, m: &Model, run: &str) -> Result<(), String> {
    succeeded(
        pipe_cmd(dir)
            .args([
                "compile",
                "pipeline.pipe",
                "--target",
                "spec",
                "-o",
                "spec",
                "--param",
                &format!("salt=s{}", m.salt),
            ])
            .output(),
        "pipe compile --target spec",
    )?;
    let shim =
        |args: &[&str]| pipe_tests::shim_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir, run).args(args).output();
    for s in &m.stages {
        let spec = format!("spec/{}.json", s.name);
        let items: Value = serde_json::from_str(&succeeded(shim(&["plan", "--spec", &spec]), "pipe-shim plan")?)
            .map_err(|e| e.to_string())?;
        for item in items.as_array().ok_or("a list of shards")? {
            let shard = item["shard"].as_str().ok_or("a shard number")?;
            succeeded(shim(&["run", "--spec", &spec, "--shard", shard]), "pipe-shim run")?;
        }
        succeeded(shim(&["commit", "--spec", &spec]), "pipe-shim commit")?;
    }
    Ok(())
}

/// Replays `edits` on the pipeline of `seed`; gives the first failure.
fn replay(seed: u64, edits: &[Edit], root: &Path) -> Result<(), String> {
    let mut m = generate(seed);
    let dir = root.join("incremental");
    let cluster = root.join("cluster");
    for d in [&dir, &cluster] {
        let _ = std::fs::remove_dir_all(d);
        materialize(&m, d);
    }
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let first = pipe_run(&dir, m.salt, 2)?;
    for (stage, (_, all)) in first.keys {
        seen.entry(stage).or_default().extend(all);
    }
    for (step, e) in edits.iter().enumerate() {
        apply(&mut m, e);
        materialize(&m, &dir);
        if let Edit::KillAndResume(ms) = e {
            kill_midway(&dir, m.salt, *ms);
        }
        let jobs = 1 + (seed as usize + step) % 3;
        let inc = pipe_run(&dir, m.salt, jobs)?;
        for (stage, (done, all)) in &inc.keys {
            let before = seen.entry(stage.clone()).or_default();
            if let Some(again) = done.iter().find(|k| before.contains(*k)) {
                return Err(format!(
                    "after edit {step} ({e:?}): stage {stage} processed datum {again} again, though an earlier run finished it"
                ));
            }
            before.extend(all.iter().cloned());
        }
        let again = pipe_run(&dir, m.salt, 3)?;
        if again.processed != 0 {
            return Err(format!(
                "after edit {step} ({e:?}): a second run with nothing changed processed {} datums",
                again.processed
            ));
        }
        let scratch = root.join(format!("scratch-{step}"));
        let _ = std::fs::remove_dir_all(&scratch);
        materialize(&m, &scratch);
        pipe_run(&scratch, m.salt, 2)?;
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
        materialize(&m, &cluster);
        shim_run(&cluster, &m, &format!("run-{step}")).map_err(|err| format!("after edit {step} ({e:?}): {err}"))?;
        let c = outputs(&cluster, &m)?;
        if a != c {
            let stage = a.keys().find(|k| a.get(*k) != c.get(*k)).cloned().unwrap_or_default();
            return Err(format!(
                "after edit {step} ({e:?}): stage {stage} differs between `pipe run` and pipe-shim:\n pipe run {:?}\n shim     {:?}",
                a.get(&stage),
                c.get(&stage)
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
    let at_least: u64 = std::env::var("PIPE_DIFF_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let budget: u64 = std::env::var("PIPE_DIFF_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let first_seed: u64 = std::env::var("PIPE_DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut sequences, mut edits_done) = (0, 0);
    let mut seed = first_seed;
    while sequences < at_least || started.elapsed() < Duration::from_secs(budget) {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xed17);
        let edits: Vec<Edit> = (0..rng.usize(4..8)).map(|_| random_edit(&mut rng)).collect();
        let root: PathBuf = tmp.path().join(seed.to_string());
        if let Err(first) = replay(seed, &edits, &root) {
            let (minimal, error) = shrink(seed, edits, &root);
            panic!(
                "seed {seed} failed: {first}\nshrunk to {minimal:?}:\n{error}\nreplay with PIPE_DIFF_SEED={seed} PIPE_DIFF_SEQUENCES=1 PIPE_DIFF_SECONDS=0"
            );
        }
        edits_done += edits.len();
        sequences += 1;
        seed += 1;
        let _ = std::fs::remove_dir_all(&root);
    }
    eprintln!(
        "{sequences} sequences (seeds {first_seed}..{seed}), {edits_done} edits in {:.0} s: incremental ≡ from scratch ≡ pipe-shim",
        started.elapsed().as_secs_f64()
    );
}
