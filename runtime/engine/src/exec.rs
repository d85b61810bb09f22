//! Processing one datum: materialise its files under `in/<input>/`, run the stage's command in the
//! datum's work folder with `PIPE_IN_<INPUT>` and `PIPE_OUT`, store what it wrote to `out/`, and
//! record the cache entry. Anything the command leaves in the work folder outside `out/`, or any
//! change under `in/`, fails the datum: outputs that are not stored would be lost on reuse. Where
//! bubblewrap works, the command runs with the project, the store and other datums' folders
//! read-only (see `sandbox`); elsewhere, entries it leaves next to its folder are found after it.
//!
//! Every attempt runs in a folder of its own (`<work root>/<stage>/<key>.<random>`, locked while
//! in use), so no two executions — copies in two runs, a retry, a command a killed run left —
//! share one; and every command runs in a process group of its own, killed when the command ends
//! or times out, and by the [watchdog](crate::guard) when this process dies.
//!
//! Takes a stage spec, a datum and a store; gives whether the datum was reused, processed or
//! failed. A cache entry is written only after the command succeeded and every output object is
//! stored, so a crash or a failure never leaves a half entry: the next run processes the datum
//! again. A failed datum's last work folder is kept for debugging (until the datum runs again); a
//! processed one's is removed.

use crate::datums::Datum;
use pipe_spec::{CACHE_FORMAT, CacheEntry, EnvValue, FileEntry, Hash, StageSpec};
use pipe_store::{Quiet, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where datums run.
#[derive(Debug, Clone)]
pub struct ExecContext {
    /// The pipeline file's folder: relative paths of `dir(…)` inputs and of scripts a command
    /// names (`prep.py`) are taken from here. The command itself runs in its datum's work folder.
    pub cwd: PathBuf,
    /// Work folders go under `<work_root>/<stage>/<datum key>`.
    pub work_root: PathBuf,
    /// The stat cache for snapshotting `dir(…)` inputs; `None` reads every file each run.
    pub stat_cache: Option<PathBuf>,
    /// Whether outputs are stored and cached. A follower replica of a gang (ranks above 0 of a
    /// `ddp` job) runs every datum its leader runs, reads no cache and records nothing.
    pub record: bool,
    /// The [watchdog](crate::guard) that ends this runner's commands should it die first. `None`:
    /// commands still run in process groups of their own, ended when they exit or time out, but a
    /// killed runner leaves them running.
    pub watchdog: Option<Arc<crate::guard::Watchdog>>,
    /// How commands are kept from writing outside their datum's folder (see `sandbox`).
    pub sandbox: crate::sandbox::Sandbox,
}

/// What became of one datum.
#[derive(Debug, Clone)]
pub enum DatumOutcome {
    /// Its key was cached: the outputs of an earlier run are reused.
    Reused {
        outputs: Vec<FileEntry>,
        /// The logs of the run that made them, when the cache entry has them.
        logs: Vec<FileEntry>,
    },
    /// The command ran and succeeded.
    Processed {
        outputs: Vec<FileEntry>,
        seconds: f64,
        /// Its `stdout.log` and `stderr.log`, stored, when it wrote anything.
        logs: Vec<FileEntry>,
    },
    Failed(DatumFailure),
}

/// Why a datum failed, and how to reproduce it alone.
#[derive(Debug, Clone, Serialize)]
pub struct DatumFailure {
    pub stage: String,
    pub datum: String,
    pub key: String,
    pub attempts: u32,
    pub reason: String,
    /// The last lines the command wrote to stderr.
    pub stderr_tail: String,
    /// A shell command that runs this datum again, alone, in its kept work folder.
    pub reproduce: String,
}

/// Processes `datum`, whose key under `fingerprint` is `key`, unless that key is cached.
pub async fn run_datum(
    store: &Store,
    spec: &StageSpec,
    fingerprint: &Hash,
    datum: &Datum,
    key: Hash,
    ctx: &ExecContext,
) -> Result<DatumOutcome, StoreError> {
    // A follower never reuses: its leader decides what is cached, the follower only takes part.
    if ctx.record
        && let Some(entry) = store.cache_get(fingerprint, &key).await?
    {
        return Ok(DatumOutcome::Reused { outputs: entry.files, logs: entry.logs });
    }
    let started = Instant::now();
    let stage_dir = ctx.work_root.join(&spec.stage);
    let fail = |reason: String, attempts: u32, stderr_tail: String, reproduce: String| {
        DatumOutcome::Failed(DatumFailure {
            stage: spec.stage.clone(),
            datum: datum.label.clone(),
            key: key.to_hex(),
            attempts,
            reason,
            stderr_tail,
            reproduce,
        })
    };
    let mut by_input: BTreeMap<&str, Vec<FileEntry>> = BTreeMap::new();
    for f in &datum.files {
        by_input.entry(&f.input).or_default().push(FileEntry::clone(&f.entry));
    }
    // A sweep's datum runs the command its point fills in.
    let point = spec.at_point(datum.point.iter().map(|(k, v)| (&**k, &**v)));
    let spec = &point;
    let command = absolute_scripts(&spec.command, &ctx.cwd);
    let Some((program, args)) = command.split_first() else {
        let reason = "the stage has no command: `pipe run` runs commands on this machine, not images' entrypoints; give the stage a `command`".into();
        return Ok(fail(reason, 0, String::new(), String::new()));
    };
    let attempts = spec.retries + 1;
    let mut last = (String::new(), String::new(), String::new());
    // Every attempt gets a folder of its own: nothing an earlier attempt (or a command a killed
    // run left) wrote can reach it.
    for attempt in 1..=attempts {
        let folder =
            WorkFolder::fresh(&stage_dir, &key).map_err(|source| StoreError::Io { path: stage_dir.clone(), source })?;
        let work = folder.path.clone();
        let (inputs_dir, out) = (work.join("in"), work.join("out"));
        for dir in spec.inputs.iter().map(|i| inputs_dir.join(&i.name)).chain([out.clone()]) {
            std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        }
        for (input, files) in &by_input {
            store.get_files(files.clone(), &inputs_dir.join(input), 4, Arc::new(Quiet)).await?;
        }
        let env = match environment(spec, &inputs_dir, &out, &key, datum, &ctx.cwd) {
            Ok(env) => env,
            Err(reason) => return Ok(fail(reason, 0, String::new(), String::new())),
        };
        let reproduce = reproduce_line(&work, &env, &command);
        let inputs_before = listing(&inputs_dir);
        let (wrapped, wrapped_args) = ctx.sandbox.wrap(program, args, &work);
        let beside_before = beside(&stage_dir, &key);
        let ran =
            run_command(&wrapped, &wrapped_args, &env, &work, spec.timeout_seconds, ctx.watchdog.as_deref()).await;
        let refused = matches!(ctx.sandbox, crate::sandbox::Sandbox::Bubblewrap { .. })
            && tail(&work.join("stderr.log"), 20).contains("Read-only file system");
        let left_beside = beside(&stage_dir, &key).difference(&beside_before).next().cloned();
        let reason = match ran {
            Err(reason) if refused => Some(format!(
                "{reason}; it tried to write outside its datum's folder, where the project, the store and other datums' folders are read-only: write outputs under $PIPE_OUT"
            )),
            Err(reason) => Some(reason),
            Ok(()) => match stray_entry(&work) {
                Some(stray) => Some(format!(
                    "the command wrote `{stray}` in its work folder, outside `out/`: write outputs under $PIPE_OUT"
                )),
                None if left_beside.is_some() => Some(format!(
                    "the command wrote `{}` next to its work folder, outside `out/`: write outputs under $PIPE_OUT",
                    stage_dir.join(left_beside.unwrap_or_default()).display()
                )),
                None if listing(&inputs_dir) != inputs_before => Some(
                    "the command changed files under `in/`: inputs are read-only; write outputs under $PIPE_OUT".into(),
                ),
                None => None,
            },
        };
        if let Some(reason) = reason {
            last = (reason, tail(&work.join("stderr.log"), 20), reproduce);
            continue;
        }
        if !ctx.record {
            folder.remove();
            return Ok(DatumOutcome::Processed {
                outputs: Vec::new(),
                seconds: started.elapsed().as_secs_f64(),
                logs: Vec::new(),
            });
        }
        let files = match store.snapshot(&out, Default::default(), None, 4, Arc::new(Quiet)).await {
            Ok(s) => s.files,
            Err(StoreError::BadPath { path, reason }) => {
                let reason = format!("the command wrote `out/{path}`, which cannot be stored: {reason}");
                return Ok(fail(reason, attempt, String::new(), reproduce));
            }
            Err(e) => return Err(e),
        };
        let seconds = started.elapsed().as_secs_f64();
        let logs = keep_logs(store, &work).await?;
        let entry = CacheEntry {
            format: CACHE_FORMAT,
            stage: spec.stage.clone(),
            datum: datum.label.clone(),
            files,
            seconds,
            logs,
        };
        store.cache_put(fingerprint, &key, &entry).await?;
        folder.remove();
        return Ok(DatumOutcome::Processed { outputs: entry.files, seconds, logs: entry.logs });
    }
    Ok(fail(last.0, attempts, last.1, last.2))
}

/// The command's environment on top of this process's: `PIPE_IN_<INPUT>` for every input,
/// `PIPE_OUT`, `PIPE_DATUM`, `PIPE_CAPTURE_<N>`, `PIPE_PARAM_<NAME>` for a sweep's point, and the
/// stage's `env`. A secret is taken from this process's variable
/// of the same name, since only a cluster holds the secret itself.
fn environment(
    spec: &StageSpec,
    inputs_dir: &Path,
    out: &Path,
    key: &Hash,
    datum: &Datum,
    code: &Path,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = spec
        .inputs
        .iter()
        .map(|i| (format!("PIPE_IN_{}", i.name.to_uppercase()), inputs_dir.join(&i.name).display().to_string()))
        .collect();
    env.push(("PIPE_OUT".into(), out.display().to_string()));
    env.push(("PIPE_DATUM".into(), key.to_hex()));
    env.push(("PIPE_DATUM_LABEL".into(), datum.label.clone()));
    // Where the stage's scripts are, for commands that name them inside a shell string (the
    // `torchrun` line of a ddp stage), which the arguments' rewriting cannot reach.
    let code = std::path::absolute(code).unwrap_or_else(|_| code.to_owned());
    env.push(("PIPE_CODE".into(), code.display().to_string()));
    for (i, c) in datum.captures.iter().enumerate() {
        env.push((format!("PIPE_CAPTURE_{}", i + 1), c.clone()));
    }
    for (name, value) in &datum.point {
        env.push((format!("PIPE_PARAM_{}", name.to_uppercase()), value.to_string()));
    }
    for var in &spec.env {
        let value = match &var.value {
            EnvValue::Literal(v) => v.clone(),
            EnvValue::Secret { name, key } => std::env::var(&var.name).map_err(|_| {
                format!(
                    "`{}` comes from secret `{name}` (key `{key}`), which only the cluster holds: export {} to run it here",
                    var.name, var.name
                )
            })?,
        };
        env.push((var.name.clone(), value));
    }
    Ok(env)
}

/// The command with every argument that names a file in `dir` (`prep.py`) made absolute, since the
/// command runs in the datum's work folder.
fn absolute_scripts(command: &[String], dir: &Path) -> Vec<String> {
    command
        .iter()
        .map(|arg| {
            let path = dir.join(arg);
            if !arg.is_empty() && Path::new(arg).is_relative() && path.is_file() {
                path.display().to_string()
            } else {
                arg.clone()
            }
        })
        .collect()
}

/// Something the command left in its work folder besides `in/`, `out/` and the logs.
fn stray_entry(work: &Path) -> Option<String> {
    let entries = std::fs::read_dir(work).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| !matches!(name.as_str(), "in" | "out" | "stdout.log" | "stderr.log"))
}

/// The most of each log a datum keeps: its end, where a failure's reason is.
pub const LOG_LIMIT: u64 = 1 << 20;

/// Stores the command's non-empty `stdout.log` and `stderr.log` (moved into `<work>/logs/` first;
/// of a longer one, a line saying how much was dropped and its last [`LOG_LIMIT`] bytes), so they
/// outlive the work folder; gives their entries.
async fn keep_logs(store: &Store, work: &Path) -> Result<Vec<FileEntry>, StoreError> {
    let dir = work.join("logs");
    let mut any = false;
    for name in ["stdout.log", "stderr.log"] {
        let from = work.join(name);
        let Ok(meta) = std::fs::metadata(&from) else { continue };
        if meta.len() == 0 {
            continue;
        }
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        let to = dir.join(name);
        let kept = if meta.len() > LOG_LIMIT { keep_tail(&from, &to, meta.len()) } else { std::fs::rename(&from, &to) };
        kept.map_err(|source| StoreError::Io { path: from.clone(), source })?;
        any = true;
    }
    if !any {
        return Ok(Vec::new());
    }
    Ok(store.snapshot(&dir, Default::default(), None, 2, Arc::new(Quiet)).await?.files)
}

/// Writes to `to` a line saying how many bytes of `from` (`len` long) were dropped, then its last
/// [`LOG_LIMIT`] bytes.
fn keep_tail(from: &Path, to: &Path, len: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut input = std::fs::File::open(from)?;
    input.seek(SeekFrom::Start(len - LOG_LIMIT))?;
    let mut out = std::fs::File::create(to)?;
    writeln!(
        out,
        "[pipe: the first {} bytes of this log were dropped; its last {LOG_LIMIT} bytes follow]",
        len - LOG_LIMIT
    )?;
    std::io::copy(&mut Read::take(&mut input, LOG_LIMIT), &mut out)?;
    std::fs::remove_file(from)
}

/// What is in the stage's work folder besides datums' folders (`<key>.<random>`): what a command
/// wrote through `$PIPE_OUT/../..`, when no sandbox stopped it.
fn beside(stage_dir: &Path, key: &Hash) -> std::collections::BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(stage_dir) else { return Default::default() };
    let prefix_len = key.short(16).len();
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            let datum_folder = name.len() > prefix_len
                && name.as_bytes()[prefix_len] == b'.'
                && name[..prefix_len].bytes().all(|b| b.is_ascii_hexdigit());
            !datum_folder
        })
        .collect()
}

/// Every file under `dir` with its size and mtime, sorted: enough to see that inputs were changed.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.filter_map(Result::ok) {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// Runs one attempt of the command in `work`, logging to `stdout.log` and `stderr.log` there. The
/// command runs in a process group of its own, which is killed when it exits (what it left
/// running is part of the datum, which is over) or times out, and which `watchdog` ends should
/// this process die first.
async fn run_command(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    work: &Path,
    timeout: Option<u64>,
    watchdog: Option<&crate::guard::Watchdog>,
) -> Result<(), String> {
    let log = |name: &str| std::fs::File::create(work.join(name)).map_err(|e| format!("cannot create {name}: {e}"));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(log("stdout.log")?)
        .stderr(log("stderr.log")?)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let Some(group) = child.id() else { return Err("the command vanished as it started".into()) };
    if let Some(w) = watchdog {
        w.watch(group);
    }
    let waited = match timeout {
        Some(secs) => tokio::time::timeout(Duration::from_secs(secs), child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    crate::guard::kill_group(group);
    let _ = child.wait().await;
    if let Some(w) = watchdog {
        w.release(group);
    }
    match waited {
        None => Err(format!("timed out after {} s", timeout.unwrap_or_default())),
        Some(Ok(status)) if status.success() => Ok(()),
        Some(Ok(status)) => Err(match status.code() {
            Some(code) => format!("the command exited with code {code}"),
            None => format!("the command was killed ({status})"),
        }),
        Some(Err(e)) => Err(format!("waiting for the command failed: {e}")),
    }
}

/// A folder for one attempt at one datum: `<stage dir>/<key>.<random>`, locked while in use.
/// Creating one removes earlier folders of the same datum whose lock is free (a failed attempt kept
/// for debugging, or one a killed run left), never one in use by another runner.
#[derive(Debug)]
struct WorkFolder {
    path: PathBuf,
    _lock: std::fs::File,
}

impl WorkFolder {
    fn fresh(stage_dir: &Path, key: &Hash) -> std::io::Result<WorkFolder> {
        std::fs::create_dir_all(stage_dir)?;
        let prefix = format!("{}.", key.short(16));
        for entry in std::fs::read_dir(stage_dir)?.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&prefix)
                && let Ok(dir) = std::fs::File::open(entry.path())
                && dir.try_lock().is_ok()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        loop {
            let path = tempfile::Builder::new().prefix(&prefix).rand_bytes(8).tempdir_in(stage_dir)?.keep();
            let lock = match std::fs::File::open(&path) {
                Ok(lock) => lock,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            lock.lock()?;
            // Another runner's clean-up may have taken it between its creation and our lock.
            if path.is_dir() {
                return Ok(WorkFolder { path, _lock: lock });
            }
        }
    }

    /// Removes the folder (a finished attempt leaves nothing behind).
    fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes every datum folder of `stage` under `work_root` that no runner holds: failed attempts
/// kept from earlier runs (under any fingerprint) and folders a killed run left. Called when a
/// stage starts, so a failed datum's folder lasts until its stage runs again, and the stage's
/// folder holds only this run's: each datum lists it, and thousands of old failures made every
/// datum slow (14 ms instead of 2.4 ms each at 10,000).
pub fn clear_kept_folders(work_root: &Path, stage: &str) {
    let Ok(entries) = std::fs::read_dir(work_root.join(stage)) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let datum_folder =
            name.split_once('.').is_some_and(|(key, _)| key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()));
        if datum_folder
            && let Ok(dir) = std::fs::File::open(entry.path())
            && dir.try_lock().is_ok()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn reproduce_line(cwd: &Path, env: &[(String, String)], command: &[String]) -> String {
    let quote = |s: &str| {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
            s.to_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let env: Vec<String> =
        env.iter().filter(|(k, _)| k.starts_with("PIPE_")).map(|(k, v)| format!("{k}={}", quote(v))).collect();
    let cmd: Vec<String> = command.iter().map(|c| quote(c)).collect();
    format!("cd {} && {} {}", quote(&cwd.display().to_string()), env.join(" "), cmd.join(" "))
}
