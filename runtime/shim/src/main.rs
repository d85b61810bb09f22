//! `pipe-shim`: runs one stage of one run inside a container, the way `pipe run` does locally.
//!
//! Takes the stage spec the compiler emitted (`--spec`, a JSON file, e.g. from a ConfigMap), the
//! store (`--store` or `PIPE_STORE`) and the run id; gives: `plan` the shard numbers to fan out
//! over (a JSON array on stdout), `run` the processed datums of one shard around the user's
//! command (`-- CMD…`), `commit` the stage's output commit. Exit codes: 0 done, 1 failed (datums
//! or store, with what to do next on stderr), 2 usage.

use clap::{Parser, Subcommand};
use pipe_runtime::exec::ExecContext;
use pipe_runtime::shim;
use pipe_spec::{STAGE_SPEC_FORMAT, StageSpec};
use pipe_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "pipe-shim", version, about = "Plan, run and commit one pipe stage with per-datum caching")]
struct Cli {
    /// The stage spec emitted by `pipe compile` (JSON).
    #[arg(long, global = true, env = "PIPE_SPEC")]
    spec: Option<PathBuf>,
    /// Where data and the cache live: `s3://bucket/prefix`, `gs://…`, `az://…` or a folder.
    #[arg(long, global = true, env = "PIPE_STORE")]
    store: Option<String>,
    /// The run this step belongs to (the workflow's name or uid).
    #[arg(long, global = true, env = "PIPE_RUN")]
    run: Option<String>,
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, Subcommand)]
enum Step {
    /// List the datums that are not cached and split them into shards; print the shard numbers.
    Plan {
        /// At most this many shards (the stage's `parallelism` bounds it too).
        #[arg(long, default_value_t = 32)]
        max_shards: usize,
    },
    /// Process one shard's datums, running COMMAND for each (the spec's command if none is given).
    Run {
        #[arg(long)]
        shard: usize,
        /// Work folders go here.
        #[arg(long, env = "PIPE_WORK", default_value = "/tmp/pipe-work")]
        work: PathBuf,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Merge every datum's outputs into the stage's output commit.
    Commit,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let usage = |m: &str| {
        eprintln!("error: {m}");
        ExitCode::from(2)
    };
    let (Some(spec_path), Some(url), Some(run)) = (&cli.spec, &cli.store, &cli.run) else {
        return usage("`--spec`, `--store` and `--run` are required (or PIPE_SPEC, PIPE_STORE, PIPE_RUN)");
    };
    let spec: StageSpec = match std::fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot read the stage spec `{}`: {e}", spec_path.display())),
    };
    if spec.format != STAGE_SPEC_FORMAT {
        return usage(&format!(
            "the stage spec has format {}, this pipe-shim reads {STAGE_SPEC_FORMAT}: use the shim of the same pipe version as the compiler",
            spec.format
        ));
    }
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
                let shards: Vec<String> = (0..plan.shards.len()).map(|i| i.to_string()).collect();
                println!("{}", serde_json::to_string(&shards).expect("strings serialise"));
                Ok(true)
            }
            Step::Run { shard, work, command } => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                let exec = ExecContext { cwd, work_root: work, stat_cache: None };
                let report = shim::run_shard(&store, &spec, run, shard, command, &exec).await?;
                for f in &report.failures {
                    eprintln!("error: datum `{}` failed after {} attempt(s): {}", f.datum, f.attempts, f.reason);
                    if !f.stderr_tail.is_empty() {
                        eprintln!("  stderr (last lines):\n    {}", f.stderr_tail.replace('\n', "\n    "));
                    }
                }
                eprintln!(
                    "{} shard {shard}: {} processed, {} reused, {} failed",
                    spec.stage, report.processed, report.skipped, report.failed
                );
                Ok(report.failed == 0)
            }
            Step::Commit => {
                let (commit, report) = shim::commit(&store, &spec, run).await?;
                eprintln!("{}: {} datums committed as {}", spec.stage, report.datums, commit);
                println!("{commit}");
                Ok(true)
            }
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
