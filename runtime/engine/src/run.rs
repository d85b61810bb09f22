//! Running a whole pipeline on this machine: inputs resolved, stages in dependency waves (the
//! stages of a wave run at once), datums in parallel, each stage's output committed to the repo
//! `<pipeline>.<stage>`, and a provenance record written to `runs/<run-id>`.
//!
//! Takes the stage specs in topological order, a store and options; gives a [`RunReport`]. A stage
//! whose datums fail still keeps the datums that succeeded (their cache entries are written), but
//! commits nothing; the stages that read it do not run. Killing a run loses only the datums in
//! flight: the next run reuses every cache entry already written.

use crate::datums::{self, Datum};
use crate::exec::{DatumFailure, DatumOutcome, ExecContext, run_datum};
use crate::export::Exports;
use crate::record::DatasetRef;
use futures::StreamExt;
use pipe_spec::{CommitId, FileEntry, Hash, InputSource, ResolvedInput, StageSpec};
use pipe_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Reports a run's progress as it happens. The CLI draws bars; tests stay quiet.
pub trait RunProgress: Send + Sync {
    fn stage_started(&self, _stage: &str, _datums: usize) {}
    fn datum_done(&self, _stage: &str, _reused: bool) {}
    /// `count` datums were reused at once, from the stage index.
    fn datums_reused(&self, stage: &str, count: usize) {
        for _ in 0..count {
            self.datum_done(stage, true);
        }
    }
    fn stage_finished(&self, _stage: &str) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;
impl RunProgress for Silent {}

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// At most this many datums at once, over all stages.
    pub jobs: usize,
    pub exec: ExecContext,
    /// The params' values, for the provenance record.
    pub params: BTreeMap<String, String>,
    /// The git commit of the pipeline's file, for the provenance record.
    pub git: Option<crate::record::GitState>,
    /// The tracking servers the run is owed to when it ends (marked in the store; sent by the caller).
    pub exports: Exports,
    pub progress: Arc<dyn RunProgress>,
    /// The run's id: one a trigger check claimed commits for (`pipe run --watch`), or, when
    /// `None`, a new one.
    pub run_id: Option<String>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions").field("jobs", &self.jobs).field("exec", &self.exec).finish_non_exhaustive()
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Done,
    Failed,
    /// An upstream stage failed, so this one did not run.
    Blocked,
}

impl std::fmt::Display for StageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            StageStatus::Done => "done",
            StageStatus::Failed => "failed",
            StageStatus::Blocked => "blocked",
        })
    }
}

/// What became of one datum in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatumStatus {
    Processed,
    Reused,
    Failed,
}

impl std::fmt::Display for DatumStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            DatumStatus::Processed => "processed",
            DatumStatus::Reused => "reused",
            DatumStatus::Failed => "failed",
        })
    }
}

/// How one stage went.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: String,
    pub status: StageStatus,
    pub datums: usize,
    pub processed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub seconds: f64,
    pub fingerprint: String,
    pub output: Option<CommitId>,
    pub failures: Vec<DatumFailure>,
    /// The image the stage's spec names and the scripts its command ran (path, content hash).
    pub image: String,
    pub code: Vec<(String, Hash)>,
    /// What the run should say about the stage without failing it (a datum's unreadable metrics).
    pub warnings: Vec<String>,
    /// The datasets the stage read, each at the commit it read.
    #[serde(skip)]
    pub reads: Vec<crate::record::DatasetRef>,
    #[serde(skip)]
    pub datum_log: Vec<DatumRecord>,
}

/// One datum of a stage in the run record: its key, its label and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatumRecord {
    pub key: String,
    pub datum: String,
    pub status: DatumStatus,
    /// Why a failed datum failed, and the last lines of its stderr: kept with the run, since its
    /// work folder is removed when it next runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureRecord>,
    /// The command's stored `stdout.log` and `stderr.log` (of the run that made a reused datum).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<FileEntry>,
    /// The numbers of the stage's `metrics` file this datum wrote, by their dotted path in it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

/// A failed datum's reason and stderr tail, as the run's summary showed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub reason: String,
    pub stderr_tail: String,
}

/// How the run went.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub pipeline: String,
    pub inputs: Vec<ResolvedInput>,
    pub stages: Vec<StageReport>,
}

impl RunReport {
    pub fn succeeded(&self) -> bool {
        self.stages.iter().all(|s| s.status == StageStatus::Done)
    }
}

/// Why a run could not start or finish (as opposed to datums failing, which the report holds).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stage `{stage}`: {message}")]
    Stage { stage: String, message: String },
}

impl RunError {
    pub fn help(&self) -> String {
        match self {
            RunError::Store(e) => e.help(),
            RunError::Stage { .. } => "fix the stage and run again; finished datums are kept".into(),
        }
    }
}

/// The repo a stage's output is committed to.
pub fn output_repo(pipeline: &str, stage: &str) -> String {
    format!("{pipeline}.{stage}")
}

/// A new run id: UTC time to the millisecond, then a random suffix, so ids sort by start time
/// (`20261207T040824123Z-fa2001`; to the second, two quick runs sorted by their suffix, and
/// `latest` could name the earlier).
pub fn run_id() -> String {
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let salt = Hash::of(format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes());
    format!("{compact}-{}", salt.short(6))
}

/// Runs every stage of `specs` (in topological order).
pub async fn run_pipeline(store: &Store, specs: &[StageSpec], opts: &RunOptions) -> Result<RunReport, RunError> {
    let pipeline = specs.first().map(|s| s.pipeline.clone()).unwrap_or_default();
    let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let (resolved, mut datasets) = resolve_inputs(store, specs, &opts.exec).await?;
    let id = opts.run_id.clone().unwrap_or_else(run_id);
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));

    let mut level: HashMap<&str, usize> = HashMap::new();
    for s in specs {
        let l = s
            .inputs
            .iter()
            .filter_map(|i| match &i.source {
                InputSource::Stage { stage } => level.get(stage.as_str()).map(|l| l + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        level.insert(&s.stage, l);
    }
    let waves = level.values().max().map_or(0, |m| m + 1);
    let mut reports: BTreeMap<String, StageReport> = BTreeMap::new();
    for wave in 0..waves {
        let stages: Vec<&StageSpec> = specs.iter().filter(|s| level[s.stage.as_str()] == wave).collect();
        let runs = stages.iter().map(|s| run_stage(store, s, &datasets, &reports, opts, slots.clone(), &id));
        for (spec, result) in stages.iter().zip(futures::future::join_all(runs).await) {
            let (report, outputs) = result?;
            if let Some(files) = outputs {
                datasets.insert(spec.stage.clone(), files);
            }
            reports.insert(spec.stage.clone(), report);
        }
    }
    let reads: Vec<Vec<DatasetRef>> = specs.iter().map(|s| reads(s, &resolved, &reports)).collect();
    let stages: Vec<StageReport> = specs
        .iter()
        .zip(reads)
        .filter_map(|(s, reads)| reports.remove(&s.stage).map(|r| StageReport { reads, ..r }))
        .collect();
    let report = RunReport { run_id: id.clone(), pipeline: pipeline.clone(), inputs: resolved, stages };
    let record = crate::record::RunRecord::of(&report, started, opts.params.clone(), opts.git.clone());
    // Serialised straight to bytes: a record of a million datums as a `Value` tree first was
    // hundreds of megabytes.
    store.run_put(&id, &record).await?;
    crate::export::mark_owed(store, &id, &opts.exports).await?;
    Ok(report)
}

/// The datasets `spec` read: its inputs at the commits this run resolved, and upstream stages'
/// outputs at the commits they made.
fn reads(spec: &StageSpec, resolved: &[ResolvedInput], reports: &BTreeMap<String, StageReport>) -> Vec<DatasetRef> {
    spec.inputs
        .iter()
        .filter_map(|i| match &i.source {
            InputSource::Stage { stage } => Some(DatasetRef {
                repo: output_repo(&spec.pipeline, stage),
                commit: reports.get(stage).and_then(|r| r.output),
            }),
            _ => resolved
                .iter()
                .find(|r| r.name == i.dataset())
                .map(|r| DatasetRef { repo: r.repo.clone(), commit: Some(r.commit) }),
        })
        .collect()
}

/// Each repo input resolved to a commit, each folder input snapshotted and committed to
/// `<pipeline>.in.<input>`; gives the records and every input's files.
async fn resolve_inputs(
    store: &Store,
    specs: &[StageSpec],
    exec: &ExecContext,
) -> Result<(Vec<ResolvedInput>, HashMap<String, Vec<FileEntry>>), RunError> {
    let mut resolved = Vec::new();
    let mut files = HashMap::new();
    for spec in specs {
        for input in &spec.inputs {
            let name = input.dataset().to_owned();
            if files.contains_key(&name) {
                continue;
            }
            let (repo, reference, commit) = match &input.source {
                InputSource::Stage { .. } => continue,
                InputSource::Repo { repo, reference, commit } => {
                    (repo.clone(), reference.clone(), pinned_or_resolved(store, repo, reference, *commit).await?)
                }
                InputSource::Dir { path } => {
                    let repo = input_repo(&spec.pipeline, &name);
                    let (commit, snap) =
                        snapshot_dir(store, &repo, &exec.cwd.join(path), path, exec.stat_cache.clone()).await?;
                    files.insert(name.clone(), snap);
                    resolved.push(ResolvedInput { name, repo, reference: "main".into(), commit });
                    continue;
                }
                InputSource::Url { url } => {
                    return Err(RunError::Stage {
                        stage: spec.stage.clone(),
                        message: format!(
                            "input `{}` is `url({url})`, which `pipe run` cannot fetch yet: download it and use `dir(…)` or a repo",
                            input.name
                        ),
                    });
                }
            };
            let manifest = store.manifest(&repo, commit).await?;
            files.insert(name.clone(), manifest.files);
            resolved.push(ResolvedInput { name, repo, reference, commit });
        }
    }
    Ok((resolved, files))
}

/// The repo a `dir(…)` input of `pipeline` is snapshotted into.
pub fn input_repo(pipeline: &str, input: &str) -> String {
    format!("{pipeline}.in.{input}")
}

/// Snapshots folder `dir` (written `path` in the pipeline) into `repo@main`, committing only when
/// its files changed; gives the commit and its files.
pub async fn snapshot_dir(
    store: &Store,
    repo: &str,
    dir: &std::path::Path,
    path: &str,
    stat_cache: Option<std::path::PathBuf>,
) -> Result<(CommitId, Vec<FileEntry>), StoreError> {
    let head = match store.resolve(repo, "main").await {
        Ok(id) => Some((id, store.manifest(repo, id).await?.files)),
        Err(_) => None,
    };
    let known = head.iter().flat_map(|(_, f)| f.iter().flat_map(FileEntry::objects)).map(|c| c.hash).collect();
    let snap = store.snapshot(dir, known, stat_cache, 8, Arc::new(pipe_store::Quiet)).await?;
    let commit = match head {
        Some((id, files)) if files == snap.files => id,
        _ => store.commit_files(repo, "main", snap.files.clone(), &format!("dir({path})")).await?.0,
    };
    Ok((commit, snap.files))
}

type StageResult = Result<(StageReport, Option<Vec<FileEntry>>), RunError>;

/// A datum with its key and what became of it.
type Ran = (Datum, Hash, Result<DatumOutcome, StoreError>);

async fn run_stage(
    store: &Store,
    spec: &StageSpec,
    datasets: &HashMap<String, Vec<FileEntry>>,
    done: &BTreeMap<String, StageReport>,
    opts: &RunOptions,
    slots: Arc<tokio::sync::Semaphore>,
    run_id: &str,
) -> StageResult {
    let started = Instant::now();
    let spec = &crate::code::with_code(store, spec, &opts.exec.cwd).await?;
    let fingerprint = spec.fingerprint();
    let mut report = new_report(spec, &fingerprint);
    let blocked = spec.inputs.iter().any(|i| match &i.source {
        InputSource::Stage { stage } => done.get(stage).is_none_or(|r| r.status != StageStatus::Done),
        _ => false,
    });
    if blocked {
        report.status = StageStatus::Blocked;
        return Ok((report, None));
    }
    let list = list_datums(store, spec, &by_role(spec, datasets), &fingerprint).await?;
    report.datums = list.len();
    opts.progress.stage_started(&spec.stage, list.len());
    let limit = spec.parallelism.map_or(usize::MAX, |p| p.max(1) as usize).min(opts.jobs.max(1));
    let mut index = store.stage_index_get(&fingerprint).await?;
    let index_current = list.len() == index.entries.len() && list.iter().all(|(_, k)| index.entries.contains_key(k));
    let indexed_output = index.output;
    // Datums the stage index vouches for are reused at once; only the others go to the executor.
    let mut outcomes: Vec<Option<Ran>> = Vec::with_capacity(list.len());
    let mut pending = Vec::new();
    for (i, (d, key)) in list.into_iter().enumerate() {
        match index.entries.remove(&key) {
            Some(outputs) => outcomes.push(Some((d, key, Ok(DatumOutcome::Reused { outputs, logs: Vec::new() })))),
            None => {
                outcomes.push(None);
                pending.push((i, d, key));
            }
        }
    }
    opts.progress.datums_reused(&spec.stage, outcomes.len() - pending.len());
    if !pending.is_empty() {
        crate::exec::clear_kept_folders(&opts.exec.work_root, &spec.stage);
    }
    let ran: Vec<(usize, Datum, Hash, Result<DatumOutcome, StoreError>)> = futures::stream::iter(pending)
        .map(|(i, d, key)| {
            let slots = slots.clone();
            async move {
                let _permit = slots.acquire_owned().await.expect("the semaphore is never closed");
                let outcome = run_datum(store, spec, &fingerprint, &d, key, &opts.exec).await;
                opts.progress.datum_done(&spec.stage, matches!(outcome, Ok(DatumOutcome::Reused { .. })));
                (i, d, key, outcome)
            }
        })
        .buffered(limit)
        .collect()
        .await;
    for (i, d, key, outcome) in ran {
        outcomes[i] = Some((d, key, outcome));
    }
    let outcomes: Vec<Ran> = outcomes.into_iter().flatten().collect();
    opts.progress.stage_finished(&spec.stage);

    let outcomes: Vec<(Datum, Hash, DatumOutcome)> =
        outcomes.into_iter().map(|(d, k, o)| o.map(|o| (d, k, o))).collect::<Result<_, StoreError>>()?;
    // The same datums as the index's, and the commit they made still the head: nothing to write,
    // and no manifest to read to find that out (a million outputs' is 160 MB of JSON).
    let repo = output_repo(&spec.pipeline, &spec.stage);
    let unchanged = if index_current { still_head(store, &repo, indexed_output).await } else { None };
    // The next index, built only when the stored one no longer holds (a million datums' outputs
    // are not copied for nothing).
    let next_index: Option<HashMap<Hash, Vec<FileEntry>>> = unchanged.is_none().then(|| {
        outcomes
            .iter()
            .filter_map(|(_, key, o)| match o {
                DatumOutcome::Reused { outputs, .. } | DatumOutcome::Processed { outputs, .. } => {
                    Some((*key, outputs.clone()))
                }
                DatumOutcome::Failed(_) => None,
            })
            .collect()
    });
    let metric_files = crate::metrics::files_of(spec, &outcomes, &mut report);
    let files = merge_outputs(spec, outcomes, &mut report)?;
    crate::metrics::attach(store, metric_files, &mut report).await?;
    report.seconds = started.elapsed().as_secs_f64();
    if report.failed > 0 {
        report.status = StageStatus::Failed;
        return Ok((report, None));
    }
    let commit = match unchanged {
        Some(head) => head,
        None => {
            let message = format!("stage {} of run {run_id}", spec.stage);
            store.commit_files(&repo, "main", files.clone(), &message).await?.0
        }
    };
    report.output = Some(commit);
    if let Some(entries) = next_index {
        store.stage_index_put(&fingerprint, &pipe_store::StageIndex { entries, output: Some(commit) }).await?;
    }
    Ok((report, Some(files)))
}

/// `made` (the output commit a stage index names), if it is still the head of `repo`'s `main`:
/// a stage over exactly the index's datums then has nothing to commit. Any doubt (no head, a
/// store that cannot say) is `None`, and the stage commits as usual.
pub async fn still_head(store: &Store, repo: &str, made: Option<CommitId>) -> Option<CommitId> {
    let made = made?;
    store.head(repo, "main").await.ok().flatten().filter(|head| *head == made)
}

/// The commit a repo input reads: the one the compiler pinned, else what its ref names now.
pub async fn pinned_or_resolved(
    store: &Store,
    repo: &str,
    reference: &str,
    pinned: Option<CommitId>,
) -> Result<CommitId, StoreError> {
    match pinned {
        Some(c) => Ok(c),
        None => store.resolve(repo, reference).await,
    }
}

/// Counts each datum's outcome into `report` and gives the union of their outputs, sorted by
/// path. Two datums writing one path is an error naming both. Each datum comes with its key.
pub fn merge_outputs(
    spec: &StageSpec,
    outcomes: Vec<(Datum, Hash, DatumOutcome)>,
    report: &mut StageReport,
) -> Result<Vec<FileEntry>, RunError> {
    // Each output with the datum (its index in the log) that wrote it; sorted by path below (one
    // sort of moved entries, not a map of cloned paths: a million outputs are merged at once).
    let mut written: Vec<(FileEntry, usize)> = Vec::new();
    for (d, key, outcome) in outcomes {
        let key = key.to_hex();
        let mut failure = None;
        let (status, outputs, logs) = match outcome {
            DatumOutcome::Reused { outputs, logs } => {
                report.skipped += 1;
                (DatumStatus::Reused, outputs, logs)
            }
            DatumOutcome::Processed { outputs, logs, .. } => {
                report.processed += 1;
                (DatumStatus::Processed, outputs, logs)
            }
            DatumOutcome::Failed(f) => {
                report.failed += 1;
                failure = Some(FailureRecord { reason: f.reason.clone(), stderr_tail: f.stderr_tail.clone() });
                report.failures.push(f);
                (DatumStatus::Failed, Vec::new(), Vec::new())
            }
        };
        let writer = report.datum_log.len();
        written.extend(outputs.into_iter().map(|f| (f, writer)));
        report.datum_log.push(DatumRecord { key, datum: d.label, status, failure, logs, metrics: BTreeMap::new() });
    }
    written.sort_unstable_by(|(a, i), (b, j)| a.path.cmp(&b.path).then(i.cmp(j)));
    if let Some(pair) = written.windows(2).find(|w| w[0].0.path == w[1].0.path) {
        let ((f, first), (_, second)) = (&pair[0], &pair[1]);
        return Err(RunError::Stage {
            stage: spec.stage.clone(),
            message: format!(
                "datums `{}` and `{}` both wrote `out/{}`: each output path must come from one datum",
                report.datum_log[*first].datum, report.datum_log[*second].datum, f.path
            ),
        });
    }
    Ok(written.into_iter().map(|(f, _)| f).collect())
}

/// A fresh report for `spec`.
pub fn new_report(spec: &StageSpec, fingerprint: &Hash) -> StageReport {
    StageReport {
        name: spec.stage.clone(),
        status: StageStatus::Done,
        datums: 0,
        processed: 0,
        skipped: 0,
        failed: 0,
        seconds: 0.0,
        fingerprint: fingerprint.to_hex(),
        output: None,
        failures: Vec::new(),
        image: spec.image.clone(),
        code: spec.code.iter().map(|c| (c.arg.clone(), c.file.hash)).collect(),
        warnings: Vec::new(),
        reads: Vec::new(),
        datum_log: Vec::new(),
    }
}

/// Where work folders go by default: `<state dir>/work`.
pub fn default_work_root(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("work")
}

/// The files of every dataset `spec` reads under the name its datum expression uses: `datasets`
/// itself when every input goes by its dataset's name, else a map by role (`as = "start"`).
fn by_role<'a>(
    spec: &StageSpec,
    datasets: &'a HashMap<String, Vec<FileEntry>>,
) -> std::borrow::Cow<'a, HashMap<String, Vec<FileEntry>>> {
    if spec.inputs.iter().all(|i| i.dataset.is_none()) {
        return std::borrow::Cow::Borrowed(datasets);
    }
    let roles =
        spec.inputs.iter().filter_map(|i| datasets.get(i.dataset()).map(|files| (i.name.clone(), files.clone())));
    std::borrow::Cow::Owned(roles.collect())
}

/// The datums of `spec` over `datasets` (every input's and upstream stage's files, by name), each
/// with its key under `fingerprint` (the spec's, with its code). A stage with `require_datums`
/// whose datums match nothing fails here, on every runner.
pub async fn list_datums(
    store: &Store,
    spec: &StageSpec,
    datasets: &HashMap<String, Vec<FileEntry>>,
    fingerprint: &Hash,
) -> Result<Vec<(Datum, Hash)>, RunError> {
    // Points files are read first: their points are datums like a grid's.
    let spec = &*crate::points::load(store, spec, datasets).await?;
    match &spec.datums {
        Some(d) => {
            let list = datums::expand_keyed(d, datasets, fingerprint)
                .map_err(|e| RunError::Stage { stage: spec.stage.clone(), message: e.to_string() })?;
            if list.is_empty() && spec.require_datums {
                return Err(RunError::Stage {
                    stage: spec.stage.clone(),
                    message: "its `datums` matched nothing in its inputs, and it has `require_datums = true`: check the glob patterns against `pipe data ls` and that the inputs hold data".into(),
                });
            }
            Ok(list)
        }
        None => {
            let only = Datum { label: "(no input)".into(), ..Datum::default() };
            let key = only.key(fingerprint);
            Ok(vec![(only, key)])
        }
    }
}
