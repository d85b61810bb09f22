//! `pipe-shim`: runs one stage of one run inside a container, the way `pipe run` does locally.
//!
//! Takes the stage spec the compiler emitted (`--spec`, a JSON file, e.g. from a ConfigMap), the
//! values of the params it leaves open (`--param NAME=VALUE`), the store (`--store` or
//! `PIPE_STORE`) and the run id; gives: `plan` the shard numbers to fan out over (a JSON array on
//! stdout), `run` the processed datums of one shard around the user's command (`-- CMD…`),
//! `commit` the stage's output commit and its share of the run's record (`pipe log` shows the run);
//! `trigger` (given the pipeline's trigger spec as `--spec`) `run` or `skip` on stdout, whether the
//! watched inputs have commits no run took yet. `install DIR` copies this binary into DIR, which
//! is how an init container hands it to the stage's own image. Exit codes: 0 done, 1 failed (datums or
//! store, with what to do next on stderr), 2 usage.

use clap::{Parser, Subcommand};
use pipe_runtime::exec::{DatumFailure, ExecContext};
use pipe_runtime::shim;
use pipe_spec::{STAGE_SPEC_FORMAT, StageSpec};
use pipe_store::Store;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "pipe-shim", version, about = "Plan, run and commit one pipe stage with per-datum caching")]
struct Cli {
    /// The stage spec emitted by `pipe compile` (JSON).
    #[arg(long, global = true, env = "PIPE_SPEC")]
    spec: Option<PathBuf>,
    /// The stage spec itself, as JSON text, where no file can carry it (TorchX roles).
    #[arg(long, global = true, env = "PIPE_SPEC_JSON", hide_env_values = true, conflicts_with = "spec")]
    spec_json: Option<String>,
    /// Where data and the cache live: `s3://bucket/prefix`, `gs://…`, `az://…` or a folder.
    #[arg(long, global = true, env = "PIPE_STORE")]
    store: Option<String>,
    /// The run this step belongs to (the workflow's name or uid).
    #[arg(long, global = true, env = "PIPE_RUN")]
    run: Option<String>,
    /// The value of a param the spec leaves open: `--param epochs=20` (repeatable); a param not
    /// given here is read from `PIPE_PARAM_<NAME>`.
    #[arg(long = "param", global = true, value_name = "NAME=VALUE")]
    params: Vec<String>,
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, Subcommand)]
enum Step {
    /// List the datums that are not cached and split them into shards; print one item per shard,
    /// `{"shard": "0", "datums": "3", "deadline": "…"}` (strings, for Argo's `{{item.…}}`).
    Plan {
        /// At most this many shards; the stage's `parallelism` (32 without one) bounds it too, and
        /// a `ddp` stage is always one shard.
        #[arg(long, default_value_t = shim::MAX_SHARDS)]
        max_shards: usize,
    },
    /// Process one shard's datums, running COMMAND for each (the spec's command if none is given).
    Run {
        #[arg(long)]
        shard: usize,
        /// Work folders go here.
        #[arg(long, env = "PIPE_WORK", default_value = "/tmp/pipe-work")]
        work: PathBuf,
        /// This replica's rank in a gang (`ddp`): only rank 0 stores outputs and reads the cache;
        /// the others run every datum with it and record nothing.
        #[arg(long, env = "PIPE_REPLICA_RANK", default_value_t = 0)]
        rank: usize,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Merge every datum's outputs into the stage's output commit.
    Commit,
    /// Check the pipeline's trigger (`--spec` is its trigger spec): print `run` if the watched
    /// inputs have commits no other run took (this run claims them), else `skip`; why on stderr.
    Trigger,
    /// Copy this binary into DIR (as `DIR/pipe-shim`), for an init container to share it.
    Install { dir: PathBuf },
    /// The whole stage in this one process (where there is no workflow to fan out, as under
    /// TorchX): plan, run every shard, commit. A gang's other ranks (`--rank N`) wait for rank
    /// 0's plan and run its one shard with it, recording nothing.
    Stage {
        #[arg(long, env = "PIPE_WORK", default_value = "/tmp/pipe-work")]
        work: PathBuf,
        #[arg(long, env = "PIPE_REPLICA_RANK", default_value_t = 0)]
        rank: usize,
        /// How long a rank above 0 waits for rank 0's plan.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        wait: std::time::Duration,
        #[arg(last = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    // Each command runs under a copy of this executable acting as its guard.
    pipe_runtime::guard::serve_if_asked();
    let cli = Cli::parse();
    let usage = |m: &str| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    if let Step::Install { dir } = &cli.step {
        return install(dir);
    }
    let (Some(url), Some(run)) = (&cli.store, &cli.run) else {
        return usage("`--store` and `--run` are required (or PIPE_STORE, PIPE_RUN)");
    };
    if let Step::Trigger = &cli.step {
        return trigger(cli.spec.as_deref(), url, run);
    }
    let read = match (&cli.spec, &cli.spec_json) {
        (Some(path), _) => std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot read the stage spec `{}`: {e}", path.display())),
        (None, Some(text)) => {
            serde_json::from_str(text).map_err(|e| format!("PIPE_SPEC_JSON is not a stage spec: {e}"))
        }
        (None, None) => Err("`--spec` (or PIPE_SPEC, or the spec itself in PIPE_SPEC_JSON) is required".into()),
    };
    let template: StageSpec = match read {
        Ok(s) => s,
        Err(e) => return usage(&e),
    };
    if template.format != STAGE_SPEC_FORMAT {
        return usage(&format!(
            "the stage spec has format {}, this pipe-shim reads {STAGE_SPEC_FORMAT}: use the shim of the same pipe version as the compiler",
            template.format
        ));
    }
    let mut values = BTreeMap::new();
    for given in &cli.params {
        match pipe_spec::parse_param(given) {
            Ok((name, value)) => values.insert(name, value),
            Err(e) => return usage(&e),
        };
    }
    for name in &template.params {
        if let (false, Ok(value)) = (values.contains_key(name), std::env::var(format!("PIPE_PARAM_{name}"))) {
            values.insert(name.clone(), value);
        }
    }
    let spec = match template.bind(&values) {
        Ok(s) => s,
        Err(e) => return usage(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let store = Store::open(url, true)?;
        match cli.step {
            Step::Plan { max_shards } => {
                let plan = shim::plan(&store, &spec, run, max_shards).await?;
                eprintln!(
                    "{}: {} datums, {} cached, {} to process in {} shard(s)",
                    spec.stage,
                    plan.datums,
                    plan.cached,
                    plan.datums - plan.cached,
                    plan.shards.len()
                );
                println!("{}", serde_json::to_string(&shim::shard_items(&spec, &plan)).expect("items serialise"));
                Ok(true)
            }
            Step::Run { shard, work, rank, command } => {
                let exec = exec_context(work, rank);
                let report = shim::run_shard(&store, &spec, run, shard, command, &exec).await?;
                print_failures(&report.failures);
                eprintln!(
                    "{} shard {shard}: {} processed, {} reused, {} failed",
                    spec.stage, report.processed, report.skipped, report.failed
                );
                Ok(report.failed == 0)
            }
            Step::Commit => {
                let committed = shim::commit(&store, &spec, run).await?;
                let record = shim::record_stage(&store, &spec, run, &values, &committed).await?;
                // A whole run goes to the tracking servers the environment names (on Argo, the
                // store's Secret); what cannot be sent stays owed, and the step still succeeds.
                for line in pipe_runtime::export::send_cluster_run(&store, &record, |n| std::env::var(n).ok()).await {
                    eprintln!("{line}");
                }
                eprintln!("{}: {} datums committed as {}", spec.stage, committed.report.datums, committed.commit);
                println!("{}", committed.commit);
                Ok(true)
            }
            Step::Stage { work, rank, wait, command } => {
                let exec = exec_context(work, rank);
                let replica = shim::Replica { rank, wait };
                let report = shim::whole_stage(&store, &spec, run, replica, command, &exec, &values).await?;
                print_failures(&report.failures);
                report.warnings.iter().for_each(|w| eprintln!("{w}"));
                eprintln!(
                    "{} (rank {rank}): {} datums, {} processed, {} reused, {} failed{}",
                    spec.stage,
                    report.datums,
                    report.processed,
                    report.skipped,
                    report.failed,
                    report.output.map(|c| format!("; committed {c}")).unwrap_or_default()
                );
                Ok(report.failed == 0)
            }
            // Installed, or checked, before any stage spec was read.
            Step::Install { .. } | Step::Trigger => Ok(true),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            let e: pipe_runtime::run::RunError = e;
            eprintln!("error: {e}\n  help: {}", e.help());
            ExitCode::from(1)
        }
    }
}

/// `pipe-shim --spec TRIGGER trigger`: one check, claiming the watched inputs' commits for `run`.
fn trigger(spec: Option<&Path>, url: &str, run: &str) -> ExitCode {
    let usage = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let Some(path) = spec else { return usage("`--spec` (the pipeline's trigger spec) is required".into()) };
    let read = std::fs::read(path).map_err(|e| e.to_string());
    let spec: pipe_spec::TriggerSpec = match read.and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot read the trigger spec `{}`: {e}", path.display())),
    };
    if spec.format != pipe_spec::TRIGGER_SPEC_FORMAT {
        return usage(format!(
            "the trigger spec has format {}, this pipe-shim reads {}: use the shim of the same pipe version as the compiler",
            spec.format,
            pipe_spec::TRIGGER_SPEC_FORMAT
        ));
    }
    let checked =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string()).map(|rt| {
            rt.block_on(async {
                let store = Store::open(url, true)?;
                pipe_runtime::trigger::check(&store, &spec, run).await
            })
        });
    match checked {
        Ok(Ok(check)) => {
            eprintln!("{}: {}", if check.runs { "run" } else { "skip" }, check.why);
            println!("{}", if check.runs { "run" } else { "skip" });
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}\n  help: {}", e.help());
            ExitCode::from(1)
        }
        Err(e) => usage(format!("cannot start the async runtime: {e}")),
    }
}

/// Where a shard or stage runs its commands: here, under `work`; only rank 0 records.
fn exec_context(work: PathBuf, rank: usize) -> ExecContext {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    ExecContext {
        cwd,
        work_root: work,
        stat_cache: None,
        record: rank == 0,
        watchdog: pipe_runtime::guard::start_for_this_process(),
        // The pod is the sandbox: its filesystem holds nothing but this stage's work.
        sandbox: pipe_runtime::sandbox::Sandbox::Off { reason: "a pod runs one stage's work".into() },
    }
}

fn print_failures(failures: &[DatumFailure]) {
    for f in failures {
        eprintln!("error: datum `{}` failed after {} attempt(s): {}", f.datum, f.attempts, f.reason);
        if !f.stderr_tail.is_empty() {
            eprintln!("  stderr (last lines):\n    {}", f.stderr_tail.replace('\n', "\n    "));
        }
    }
}

/// Copies this executable to `dir/pipe-shim`, executable by anyone (the stage may run as any user).
fn install(dir: &Path) -> ExitCode {
    let result = std::env::current_exe().and_then(|me| {
        std::fs::create_dir_all(dir)?;
        let to = dir.join("pipe-shim");
        let staged = dir.join(".pipe-shim.partial");
        std::fs::copy(&me, &staged)?;
        std::fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        std::fs::rename(&staged, &to)?;
        Ok(to)
    });
    match result {
        Ok(to) => {
            eprintln!("installed {}", to.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: cannot install pipe-shim into `{}`: {e}\n  help: mount a writable volume there",
                dir.display()
            );
            ExitCode::from(1)
        }
    }
}
