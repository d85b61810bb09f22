//! `pipe run FILE`: the pipeline on this machine, processing only datums whose key is not cached.
//!
//! Takes a pipeline file, the store (`--store`, `PIPE_STORE`, the pipeline's `store`, else `.pipe`
//! beside the file), `--param NAME=VALUE`s and `--jobs`; gives a progress bar per stage, a summary
//! table (or `--json`), and exit code 0 when every stage succeeded, 1 otherwise. `--explain-datums
//! STAGE` lists a stage's datums without running anything; `--watch` runs a triggered pipeline
//! whenever its watched inputs move ([`watch`]).

mod progress;
mod watch;

use crate::commands::export::{ExportArgs, send_in_background, send_locked};
use crate::files::{checked, param_overrides};
use crate::inputs;
use crate::report::{self, Failure, Threads};
use pipe_runtime::exec::ExecContext;
use pipe_runtime::run::{RunOptions, RunReport, run_pipeline};
use pipe_spec::StageSpec;
use pipe_store::Store;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    file: PathBuf,
    /// Where data and the cache live [default: the pipeline's `store`, else the nearest `.pipe` store
    /// at or above the pipeline's folder (up to a `.git` root), else `.pipe` beside it].
    #[arg(long, env = "PIPE_STORE")]
    store: Option<String>,
    /// At most this many datums at once [default: the number of cores].
    #[arg(short, long)]
    jobs: Option<usize>,
    /// A param's value for this run: `--param epochs=20` (repeatable).
    #[arg(short, long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// List the datums STAGE would process, and which are cached, without running anything.
    #[arg(long, value_name = "STAGE")]
    explain_datums: Option<String>,
    #[command(flatten)]
    export: ExportArgs,
    /// Send the run to its tracking servers before exiting (within --export-timeout) and say how
    /// it went, instead of from a process of its own.
    #[arg(long)]
    export_wait: bool,
    /// Check the pipeline's `trigger` now and every `poll` (or --every), and run whenever the
    /// watched inputs have commits no run took yet; until stopped.
    #[arg(long, conflicts_with = "explain_datums")]
    watch: bool,
    /// With --watch, check this often instead of the pipeline's `poll` (`30s`, `2m`).
    #[arg(long, value_name = "DURATION", requires = "watch", value_parser = humantime::parse_duration)]
    every: Option<std::time::Duration>,
    /// With --watch, stop after this many checks [default: never].
    #[arg(long, value_name = "N", requires = "watch")]
    checks: Option<u64>,
}

pub(crate) fn run(args: RunArgs) -> report::Outcome {
    if args.watch {
        return watch::watch(&args);
    }
    run_once(&args, None)
}

/// One run of the pipeline, as `run_id` when a trigger check claimed commits for it.
fn run_once(args: &RunArgs, run_id: Option<String>) -> report::Outcome {
    let analysis = checked(&args.file, "run the pipeline")?;
    let pipeline = analysis.pipeline();
    let params = param_overrides(&args.params)
        .and_then(|o| pipe_core::emit::params::resolve(pipeline, &o))
        .map_err(Failure::Usage)?;
    let specs = pipe_core::emit::spec::stage_specs(pipeline, &params);
    let dir = args.file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let missing = inputs::missing_dirs(&analysis, &dir);
    if !missing.is_empty() {
        return Err(Failure::Problems {
            messages: missing,
            help: "create the folder, or fix the path in `dir(…)` (relative to the pipeline's folder)".into(),
        });
    }
    let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
    let state = inputs::state_dir(&url, &dir.join(".pipe/state"));
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = report::runtime(Threads::Many)?;
    // Commands may write only inside their datum's folder, not into the project or the store.
    let mut protected = vec![dir.clone(), state.clone()];
    protected.extend(inputs::local_folder(&url));
    let sandbox = pipe_runtime::sandbox::Sandbox::detect(&protected).map_err(Failure::Usage)?;
    let bars = progress::Bars::new(args.json);
    let git = inputs::git_state(&dir);
    let exports = args.export.exports()?;
    let opts = RunOptions {
        jobs,
        exec: ExecContext {
            cwd: dir,
            work_root: state.join("work"),
            stat_cache: Some(state.join("statcache.bin")),
            record: true,
            watchdog: pipe_runtime::guard::start_for_this_process(),
            sandbox,
        },
        params: params.into_iter().collect(),
        git,
        exports,
        progress: Arc::new(bars),
        run_id,
    };
    let store = Store::open(&url, true)?;
    // A run a trigger check started reads the commits the check claimed.
    let mut specs = specs;
    if let Some(id) = &opts.run_id {
        let claimed = runtime.block_on(pipe_runtime::trigger::claimed(&store, &pipeline.name, id))?;
        pipe_runtime::trigger::pin_claimed(&mut specs, &claimed);
    }
    let result = runtime.block_on(async {
        if let Some(stage) = &args.explain_datums {
            explain(&store, &specs, stage, &opts.exec.cwd).await?;
            return Ok(None);
        }
        let (messages, help) = before_running(&store, pipeline, &specs, &args.file, &opts.exec.cwd).await?;
        if !messages.is_empty() {
            return Err(Failure::Problems { messages, help: help.into() });
        }
        let report = run_pipeline(&store, &specs, &opts).await?;
        let sent = if opts.exports.is_empty() {
            Sent::Nothing
        } else if args.export_wait {
            Sent::Notes(send_locked(&store, &opts.exports, &state).await?)
        } else {
            let owed = pipe_runtime::export::owed(&store, &opts.exports).await?;
            let earlier = owed.iter().map(|(_, runs)| runs.len().saturating_sub(1)).max().unwrap_or(0);
            Sent::Background(send_in_background(&args.file, &url, &args.export, &state), earlier)
        };
        Ok(Some((report, sent)))
    })?;
    let unsandboxed = opts.exec.sandbox.off_reason().map(str::to_owned);
    match result {
        None => Ok(()),
        Some((report, sent)) => summary(&report, &sent, args.json, unsandboxed.as_deref()),
    }
}

/// What became of sending the run to its tracking servers.
enum Sent {
    Nothing,
    /// Sent before exiting (`--export-wait`): what each sink did.
    Notes(Vec<pipe_runtime::export::ExportNote>),
    /// Being sent by a process of its own, logging to this file (or why it could not start), with
    /// this many earlier runs still owed.
    Background(Result<PathBuf, String>, usize),
}

impl Sent {
    /// Lines for the summary: (is it a warning, text).
    fn lines(&self) -> Vec<(bool, String)> {
        match self {
            Sent::Nothing => Vec::new(),
            Sent::Notes(notes) => notes.iter().map(|n| (!n.ok, n.line())).collect(),
            Sent::Background(Ok(log), earlier) => {
                let also = match earlier {
                    0 => String::new(),
                    n => format!(" with {n} earlier run(s) still owed"),
                };
                vec![(
                    false,
                    format!("sending the run to its tracking servers in the background{also} (log: {})", log.display()),
                )]
            }
            Sent::Background(Err(why), _) => vec![(
                true,
                format!(
                    "warning: the run is owed to its tracking servers, but sending did not start ({why}): `pipe export FILE` sends it"
                ),
            )],
        }
    }
}

/// What can be checked before anything runs, and the help for it: the pipeline's name must be its
/// own in the store, and secrets its stages need must be in the environment (a stage that cannot
/// start because a secret is missing used to fail only after every stage upstream of it had run).
async fn before_running(
    store: &Store,
    pipeline: &pipe_core::ir::Pipeline,
    specs: &[StageSpec],
    file: &Path,
    cwd: &Path,
) -> Result<(Vec<String>, &'static str), pipe_store::StoreError> {
    let identity = pipeline_identity(file);
    if let Some(holder) = store.claim_pipeline_name(&pipeline.name, &identity).await? {
        let problem = format!(
            "pipeline name `{}` belongs to `{holder}` in this store, not to `{identity}`: two pipelines of one name would overwrite each other's outputs and runs",
            pipeline.name
        );
        return Ok((
            vec![problem],
            "give this pipeline a name of its own: `pipeline { name = \"…\" }` at the top of the file",
        ));
    }
    let help = "export each variable named to run the pipeline here: only a cluster holds secrets";
    Ok((missing_secrets(store, specs, cwd).await?, help))
}

/// Every secret-valued variable this process's environment does not provide, of a stage that has
/// never processed a datum with its code and params (no cache entry for its fingerprint, here or
/// from a cluster), so whose datums will run. A stage that ran before may be reused whole and need no secret; if some of its
/// datums do run, they fail alone, naming the variable.
async fn missing_secrets(
    store: &Store,
    specs: &[StageSpec],
    cwd: &Path,
) -> Result<Vec<String>, pipe_store::StoreError> {
    let mut out = Vec::new();
    for s in specs {
        let missing: Vec<String> = s
            .env
            .iter()
            .filter_map(|v| match &v.value {
                pipe_spec::EnvValue::Secret { name, key } if std::env::var_os(&v.name).is_none() => Some(format!(
                    "stage `{}` needs `{}`, from secret `{name}` (key `{key}`), which is not in this environment",
                    s.stage, v.name
                )),
                _ => None,
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let with_code = pipe_runtime::code::with_code(store, s, cwd).await?;
        if !store.cache_has_any(&with_code.fingerprint()).await? {
            out.extend(missing);
        }
    }
    Ok(out)
}

/// Which pipeline file this is, the same on every machine: its path from its project's root (the
/// nearest folder with `.git`), else its absolute path.
fn pipeline_identity(file: &Path) -> String {
    let abs = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let root = abs.ancestors().skip(1).find(|d| d.join(".git").exists());
    let shown = root.and_then(|r| abs.strip_prefix(r).ok()).unwrap_or(&abs);
    shown.to_string_lossy().into_owned()
}

/// Prints failures, the table (or JSON) and warnings; `unsandboxed` says why commands ran without
/// the sandbox, if they did.
fn summary(r: &RunReport, sent: &Sent, as_json: bool, unsandboxed: Option<&str>) -> report::Outcome {
    for s in &r.stages {
        for f in &s.failures {
            eprintln!(
                "error: stage `{}`, datum `{}` failed after {} attempt(s): {}",
                f.stage, f.datum, f.attempts, f.reason
            );
            if !f.stderr_tail.is_empty() {
                eprintln!("  stderr (last lines):\n    {}", f.stderr_tail.replace('\n', "\n    "));
            }
            if !f.reproduce.is_empty() {
                eprintln!("  help: rerun this datum alone: {}", f.reproduce);
            }
        }
    }
    // A glob that matched nothing (a typo in a path, an empty folder) runs no datum and commits an
    // empty output: a run that "succeeds" while doing nothing must say so.
    let mut warnings: Vec<String> = r
        .stages
        .iter()
        .filter(|s| s.datums == 0)
        .map(|s| {
            format!(
                "stage `{}` has no datums: its `datums` matched nothing in its inputs (check the glob patterns against `pipe data ls`, or `pipe run --explain-datums {}`)",
                s.name, s.name
            )
        })
        .collect();
    warnings.extend(r.stages.iter().flat_map(|s| s.warnings.iter().map(move |w| format!("stage `{}`: {w}", s.name))));
    if as_json {
        let stages: Vec<_> = r
            .stages
            .iter()
            .map(|s| {
                json!({ "name": s.name, "status": s.status, "datums": s.datums, "processed": s.processed,
                        "skipped": s.skipped, "failed": s.failed, "seconds": s.seconds, "output": s.output })
            })
            .collect();
        let sandbox = if unsandboxed.is_some() { "off" } else { "bubblewrap" };
        let doc = json!({ "run_id": r.run_id, "inputs": r.inputs, "stages": stages, "warnings": warnings,
                          "sandbox": sandbox, "sandbox_off_reason": unsandboxed,
                          "exports": sent.lines().into_iter().map(|(_, l)| l).collect::<Vec<_>>() });
        println!("{}", serde_json::to_string_pretty(&doc).expect("JSON values print"));
    } else {
        eprintln!(
            "{:<20} {:>8} {:>10} {:>8} {:>7} {:>9}  {:<8} output",
            "stage", "datums", "processed", "skipped", "failed", "seconds", "status"
        );
        for s in &r.stages {
            let output = s.output.map_or(String::new(), |c| {
                format!("{}@{}", pipe_runtime::run::output_repo(&r.pipeline, &s.name), c.0.short(12))
            });
            eprintln!(
                "{:<20} {:>8} {:>10} {:>8} {:>7} {:>9.2}  {:<8} {output}",
                s.name, s.datums, s.processed, s.skipped, s.failed, s.seconds, s.status
            );
        }
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        for (warning, line) in sent.lines() {
            // A warning's line says so itself.
            eprintln!("{}{line}", if warning { "" } else { "note: " });
        }
        if let Some(why) = unsandboxed.filter(|_| r.stages.iter().any(|s| s.processed > 0)) {
            eprintln!(
                "note: commands ran without a sandbox ({why}): a write outside $PIPE_OUT next to a datum's folder is found, one into the project or the store is not"
            );
        }
        eprintln!("run {}", r.run_id);
    }
    if r.succeeded() { Ok(()) } else { Err(Failure::Shown) }
}

/// Prints the datums of `stage`, each marked cached or to process.
async fn explain(
    store: &Store,
    specs: &[StageSpec],
    stage: &str,
    cwd: &Path,
) -> Result<(), pipe_runtime::run::RunError> {
    use pipe_runtime::run::RunError;
    let Some(spec) = specs.iter().find(|s| s.stage == stage) else {
        let names: Vec<&str> = specs.iter().map(|s| s.stage.as_str()).collect();
        return Err(RunError::Stage {
            stage: stage.into(),
            message: format!("no such stage (stages: {})", names.join(", ")),
        });
    };
    let mut datasets = std::collections::HashMap::new();
    for input in &spec.inputs {
        let (repo, reference) = match &input.source {
            pipe_spec::InputSource::Repo { repo, reference, .. } => (repo.clone(), reference.clone()),
            pipe_spec::InputSource::Stage { stage } => {
                (pipe_runtime::run::output_repo(&spec.pipeline, stage), "main".into())
            }
            pipe_spec::InputSource::Dir { path } => {
                // The folder as it is now, as the run would snapshot it (its objects are stored,
                // nothing is committed): not the snapshot of the last run.
                let quiet = std::sync::Arc::new(pipe_store::Quiet);
                let snap = store.snapshot(&cwd.join(path), Default::default(), None, 8, quiet).await?;
                datasets.insert(input.name.clone(), snap.files);
                continue;
            }
            pipe_spec::InputSource::Url { url } => {
                return Err(RunError::Stage {
                    stage: stage.into(),
                    message: format!("cannot list datums of `url({url})`"),
                });
            }
        };
        let commit = store.resolve(&repo, &reference).await.map_err(|e| RunError::Stage {
            stage: stage.into(),
            message: format!("input `{}` has no data yet ({e}); run the pipeline once, or put the data", input.name),
        })?;
        datasets.insert(input.name.clone(), store.manifest(&repo, commit).await?.files);
    }
    let fingerprint = pipe_runtime::code::with_code(store, spec, cwd).await?.fingerprint();
    let datums = pipe_runtime::run::list_datums(store, spec, &datasets, &fingerprint).await?;
    let keys: Vec<_> = datums.iter().map(|(_, key)| *key).collect();
    let hits = pipe_runtime::lookup::cached(store, &fingerprint, &keys).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (d, key) in &datums {
        let cached = hits.contains(key);
        let files: Vec<String> = d.files.iter().map(|f| format!("{}:{}", f.input, f.entry.path)).collect();
        let line = writeln!(
            out,
            "{} {}  ({} file{}: {})",
            if cached { "cached " } else { "process" },
            d.label,
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            files.join(", ")
        );
        // A reader that stops early (`| head`) ends the listing.
        if line.is_err() {
            break;
        }
    }
    let _ = out.flush();
    Ok(())
}
