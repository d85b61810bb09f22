//! `pipe export FILE`: sends the pipeline's runs still owed to tracking servers (MLflow,
//! OpenLineage), and the sending that `pipe run` starts when a run ends.
//!
//! Takes where to send ([`ExportArgs`], flattened into `pipe run` and `pipe export`: flags or the
//! tools' own environment variables) and the store; gives, for `pipe export`, a line per sink
//! saying what it took or why not (exit 1 if a sink did not take everything). `pipe run` sends
//! from a process of its own (this command, detached, its output in `<state>/export.log`) unless
//! `--export-wait`, so a slow tracking server never holds up a run. One sender at a time per state
//! folder (a file lock): two quick runs never send a run twice. What is owed and how it is sent
//! is `pipe_runtime::export`'s.

use crate::files::checked;
use crate::inputs;
use crate::report::{self, Failure, Threads};
use pipe_runtime::export::{ExportNote, Exports};
use pipe_store::Store;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where runs go: shared by `pipe run` and `pipe export`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ExportArgs {
    /// Send runs to this MLflow tracking server (http(s)); credentials from
    /// MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
    #[arg(long, value_name = "URI", env = "MLFLOW_TRACKING_URI")]
    mlflow: Option<String>,
    /// The MLflow experiment runs go to [default: the pipeline's name].
    #[arg(long, value_name = "NAME", env = "MLFLOW_EXPERIMENT_NAME")]
    mlflow_experiment: Option<String>,
    /// Send OpenLineage events of runs to this HTTP endpoint, or append them to this file as JSON
    /// lines; API key from OPENLINEAGE_API_KEY, job namespace OPENLINEAGE_NAMESPACE.
    #[arg(long, value_name = "URL|FILE", env = "OPENLINEAGE_URL")]
    openlineage: Option<String>,
    /// The longest sending waits for each tracking server; what it did not take stays owed.
    #[arg(long, value_name = "DURATION", env = "PIPE_EXPORT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    export_timeout: Duration,
}

impl ExportArgs {
    /// The sinks, with credentials read from the environment.
    pub(crate) fn exports(&self) -> Result<Exports, Failure> {
        let env = |name: &str| std::env::var(name).ok();
        // A file is named from where pipe was started; the sender runs elsewhere.
        let lineage = self.openlineage.as_deref().map(absolute_unless_url);
        Exports::new(self.mlflow.as_deref(), self.mlflow_experiment.clone(), lineage.as_deref(), self.export_timeout, env)
            .map_err(|message| {
                Failure::with_help(
                    message,
                    "give `--mlflow http://HOST:PORT` (or MLFLOW_TRACKING_URI), or unset MLFLOW_TRACKING_URI to send nothing",
                )
            })
    }

    /// These settings as flags, for the sending process (credentials stay in the environment).
    fn as_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        let mut add = |flag: &str, value: Option<&String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                flags.extend([flag.to_owned(), v.clone()]);
            }
        };
        add("--mlflow", self.mlflow.as_ref());
        add("--mlflow-experiment", self.mlflow_experiment.as_ref());
        add("--openlineage", self.openlineage.as_ref().map(|t| absolute_unless_url(t)).as_ref());
        flags.extend(["--export-timeout".to_owned(), humantime::format_duration(self.export_timeout).to_string()]);
        flags
    }
}

fn absolute_unless_url(target: &str) -> String {
    if target.contains("://") {
        return target.to_owned();
    }
    std::path::absolute(target).map_or_else(|_| target.to_owned(), |p| p.to_string_lossy().into_owned())
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportCmd {
    file: PathBuf,
    /// The store [default: as `pipe run`].
    #[arg(long, env = "PIPE_STORE")]
    store: Option<String>,
    #[command(flatten)]
    export: ExportArgs,
}

pub(crate) fn run(args: ExportCmd) -> report::Outcome {
    let analysis = checked(&args.file, "send its runs")?;
    let pipeline = analysis.pipeline();
    let exports = args.export.exports()?;
    if exports.is_empty() {
        return Err(Failure::usage(
            "nothing to send to: give `--mlflow URI` or `--openlineage URL|FILE` (or MLFLOW_TRACKING_URI, OPENLINEAGE_URL)",
        ));
    }
    let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
    let dir = args.file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let state = inputs::state_dir(&url, &std::path::absolute(dir).unwrap_or_default().join(".pipe/state"));
    let runtime = report::runtime(Threads::One)?;
    let store = Store::open(&url, false)?;
    let notes = runtime.block_on(send_locked(&store, &exports, &state))?;
    if notes.is_empty() {
        println!("nothing owed");
    }
    for n in &notes {
        if n.ok {
            println!("{}", n.line());
        } else {
            eprintln!("{}", n.line());
        }
    }
    if notes.iter().all(|n| n.ok) { Ok(()) } else { Err(Failure::Shown) }
}

/// Sends what is owed, holding the state folder's export lock (waiting for another sender).
pub(crate) async fn send_locked(store: &Store, exports: &Exports, state: &Path) -> Result<Vec<ExportNote>, Failure> {
    std::fs::create_dir_all(state).map_err(|e| Failure::error(format!("cannot create {}: {e}", state.display())))?;
    let path = state.join("export.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Failure::error(format!("cannot open {}: {e}", path.display())))?;
    let lock = tokio::task::spawn_blocking(move || {
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map(|()| lock)
    })
    .await
    .expect("the lock task does not panic")
    .map_err(|e| Failure::error(format!("cannot lock {}: {e}", path.display())))?;
    let notes = pipe_runtime::export::send_owed(store, exports).await;
    drop(lock);
    Ok(notes)
}

/// Starts `pipe export` for the pipeline as a process of its own, which outlives this one; its
/// output is appended to `<state>/export.log`.
pub(crate) fn send_in_background(
    file: &Path,
    store_url: &str,
    args: &ExportArgs,
    state: &Path,
) -> Result<PathBuf, String> {
    let log_path = state.join("export.log");
    std::fs::create_dir_all(state).map_err(|e| format!("cannot create {}: {e}", state.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    use std::os::unix::process::CommandExt;
    std::process::Command::new(exe)
        .arg("export")
        .arg(&file)
        .args(["--store", store_url])
        .args(args.as_flags())
        .env("PIPE_STATE_DIR", state)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        // Its own process group: a Ctrl-C after the run ends does not cut it off.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the sender: {e}"))?;
    Ok(log_path)
}
