//! The three steps `pipe-shim` runs inside a cluster, around one stage of one run:
//!
//! - [`plan`]: list the stage's datums, keep those whose key is not cached, split them into
//!   shards (one for a `ddp` stage, which runs as one gang; else at most the stage's
//!   `parallelism`, [`DEFAULT_SHARDS`] without one, and never more than `max_shards`), and store the plan (`plans/<run>/<stage>`); gives the shard
//!   numbers, which Argo fans out over with `withParam`. Unchanged datums cost no pod.
//! - [`run_shard`]: process one shard's datums around the user's command.
//! - [`commit`]: read every datum's cache entry, merge the outputs and commit them to the repo
//!   `<pipeline>.<stage>`; fails, naming them, if datums are missing (their shard failed).
//!   [`record_stage`] then adds the stage to the run's record (`pipe log` shows cluster runs).
//!
//! Inputs are repos only (a `dir(…)` lives on one machine): repo inputs at their pinned or
//! resolved commit, upstream stages at the head of their output repo, which their own `commit`
//! step moved before this stage started. `plan` resolves them once and records the commits; `run`
//! and `commit` read exactly those, so a ref that moves during the run (an unpinned branch, a new
//! put) never gives a shard data its plan did not see.

use crate::datums::Datum;
use crate::exec::{DatumOutcome, ExecContext, run_datum};
use crate::run::{RunError, StageReport, list_datums, merge_outputs, new_report, output_repo, pinned_or_resolved};
use pipe_spec::{CommitId, FileEntry, Hash, InputSource, ResolvedInput, StageSpec};
use pipe_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Shards of a stage that sets no `parallelism`.
pub const DEFAULT_SHARDS: usize = 32;
/// The most shards a plan lists unless told otherwise: Argo keeps the plan's output (the shard
/// numbers, `["0",…,"999"]` is under 7 KiB) in the workflow's status.
pub const MAX_SHARDS: usize = 1000;

/// A stage's work list for one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    pub run: String,
    pub stage: String,
    /// The stage spec's fingerprint: the plan's keys mean nothing under another.
    pub fingerprint: Hash,
    pub inputs: Vec<ResolvedInput>,
    pub datums: usize,
    pub cached: usize,
    /// The keys of the datums each shard processes (hex in the stored JSON).
    pub shards: Vec<Vec<Hash>>,
    /// When the plan was made (RFC 3339, UTC): when the stage's run started.
    #[serde(default)]
    pub started: String,
}

/// Each input's files, with what it resolved to.
pub async fn inputs(
    store: &Store,
    spec: &StageSpec,
) -> Result<(Vec<ResolvedInput>, HashMap<String, Vec<FileEntry>>), RunError> {
    let mut resolved = Vec::new();
    let mut files = HashMap::new();
    for input in &spec.inputs {
        let (repo, reference, commit) = match &input.source {
            InputSource::Repo { repo, reference, commit } => {
                (repo.clone(), reference.clone(), pinned_or_resolved(store, repo, reference, *commit).await?)
            }
            InputSource::Stage { stage } => {
                let repo = output_repo(&spec.pipeline, stage);
                let commit = store.resolve(&repo, "main").await?;
                (repo, "main".to_owned(), commit)
            }
            InputSource::Dir { path } => {
                return Err(RunError::Stage {
                    stage: spec.stage.clone(),
                    message: format!(
                        "input `{}` is `dir({path})`, a folder on one machine: put it into a repo (`pipe data put`) and read `repo(…)` on a cluster",
                        input.name
                    ),
                });
            }
            InputSource::Url { url } => {
                return Err(RunError::Stage {
                    stage: spec.stage.clone(),
                    message: format!(
                        "input `{}` is `url({url})`, which the shim cannot fetch yet: put it into a repo",
                        input.name
                    ),
                });
            }
        };
        files.insert(input.name.clone(), store.manifest(&repo, commit).await?.files);
        resolved.push(ResolvedInput { name: input.name.clone(), repo, reference, commit });
    }
    Ok((resolved, files))
}

/// The plan `plan` stored for `spec` in `run`: an error that says so when there is none, and what
/// is wrong when it does not decode (a plan from another pipe version, a damaged object).
pub async fn stored_plan(store: &Store, spec: &StageSpec, run: &str) -> Result<Option<Plan>, RunError> {
    let Some(value) = store.plan_get(run, &spec.stage).await? else { return Ok(None) };
    let plan: Plan = serde_json::from_value(value).map_err(|e| RunError::Stage {
        stage: spec.stage.clone(),
        message: format!(
            "the plan of run `{run}` cannot be read ({e}): plan it again with the same pipe-shim version as this one"
        ),
    })?;
    if plan.format != PLAN_FORMAT {
        return Err(RunError::Stage {
            stage: spec.stage.clone(),
            message: format!(
                "the plan of run `{run}` has format {}, this pipe-shim reads {PLAN_FORMAT}: use one pipe-shim version for a whole run",
                plan.format
            ),
        });
    }
    Ok(Some(plan))
}

/// [`stored_plan`], which must exist and be a plan of this very spec (its keys mean nothing under
/// another fingerprint).
async fn required_plan(store: &Store, spec: &StageSpec, run: &str) -> Result<Plan, RunError> {
    let fail = |message: String| RunError::Stage { stage: spec.stage.clone(), message };
    let plan = stored_plan(store, spec, run)
        .await?
        .ok_or_else(|| fail(format!("no plan for run `{run}`: run `pipe-shim plan` first")))?;
    if plan.fingerprint != spec.fingerprint() {
        return Err(fail(format!(
            "run `{run}` was planned with another stage spec (its image, command, env or params changed since): run the stage again from its plan step"
        )));
    }
    Ok(plan)
}

/// Each input's files at the commit the plan recorded for it.
async fn planned_inputs(store: &Store, plan: &Plan) -> Result<HashMap<String, Vec<FileEntry>>, RunError> {
    let mut files = HashMap::new();
    for input in &plan.inputs {
        files.insert(input.name.clone(), store.manifest(&input.repo, input.commit).await?.files);
    }
    Ok(files)
}

/// The format number of [`Plan`].
pub const PLAN_FORMAT: u32 = 1;

/// Plans `spec` for run `run`; gives the plan (stored too).
pub async fn plan(store: &Store, spec: &StageSpec, run: &str, max_shards: usize) -> Result<Plan, RunError> {
    let fingerprint = spec.fingerprint();
    // A run a trigger started reads the commits its check claimed.
    let mut pinned = spec.clone();
    let claimed = crate::trigger::claimed(store, &spec.pipeline, run).await?;
    crate::trigger::pin_claimed(std::slice::from_mut(&mut pinned), &claimed);
    let spec = &pinned;
    let (resolved, files) = inputs(store, spec).await?;
    let datums = list_datums(store, spec, &files, &fingerprint).await?;
    let keys: Vec<Hash> = datums.iter().map(|(_, key)| *key).collect();
    let cached = crate::lookup::cached(store, &fingerprint, &keys).await?;
    let pending: Vec<Hash> = keys.into_iter().filter(|k| !cached.contains(k)).collect();
    let limit = if spec.kind == pipe_spec::StageKind::Ddp {
        1
    } else {
        spec.parallelism.map_or(DEFAULT_SHARDS, |p| p as usize).min(max_shards).max(1)
    };
    let count = pending.len().min(limit);
    let mut shards = vec![Vec::new(); count];
    for (i, key) in pending.iter().enumerate() {
        shards[i % count.max(1)].push(*key);
    }
    let plan = Plan {
        format: PLAN_FORMAT,
        run: run.to_owned(),
        stage: spec.stage.clone(),
        fingerprint,
        inputs: resolved,
        datums: datums.len(),
        cached: datums.len() - pending.len(),
        shards,
        started: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
    };
    store.plan_put(run, &spec.stage, &serde_json::to_value(&plan).expect("plans serialise")).await?;
    Ok(plan)
}

/// One shard as Argo's `withParam` fans out over it: its number, how many datums it holds and
/// how long its pod may run (`deadline`, seconds: every datum's `timeout` times its attempts,
/// plus a minute for inputs and outputs; "0" when the stage has no timeout). All strings, as
/// Argo parameters are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardItem {
    pub shard: String,
    pub datums: String,
    pub deadline: String,
}

/// The plan's shards as [`ShardItem`]s.
pub fn shard_items(spec: &StageSpec, plan: &Plan) -> Vec<ShardItem> {
    plan.shards
        .iter()
        .enumerate()
        .map(|(i, keys)| {
            let deadline = spec.timeout_seconds.map_or(0, |t| {
                t.saturating_mul(u64::from(spec.retries) + 1).saturating_mul(keys.len() as u64).saturating_add(60)
            });
            ShardItem { shard: i.to_string(), datums: keys.len().to_string(), deadline: deadline.to_string() }
        })
        .collect()
}

/// Processes shard `shard` of the stored plan, running `command` (the spec's when empty).
pub async fn run_shard(
    store: &Store,
    spec: &StageSpec,
    run: &str,
    shard: usize,
    command: Vec<String>,
    exec: &ExecContext,
) -> Result<StageReport, RunError> {
    let plan = required_plan(store, spec, run).await?;
    let Some(keys) = plan.shards.get(shard) else {
        return Err(RunError::Stage {
            stage: spec.stage.clone(),
            message: format!("the plan has {} shard(s); there is no shard {shard}", plan.shards.len()),
        });
    };
    let fingerprint = spec.fingerprint();
    let mut effective = spec.clone();
    if !command.is_empty() {
        effective.command = command;
    }
    // The stage's scripts come with its spec: the command runs where they are.
    let mut exec = exec.clone();
    if let Some(dir) = crate::code::materialize(store, spec, &exec.work_root).await? {
        exec.cwd = dir;
    }
    let exec = &exec;
    let keys: HashSet<Hash> = keys.iter().copied().collect();
    let files = planned_inputs(store, &plan).await?;
    let mine: Vec<(Datum, Hash)> = list_datums(store, spec, &files, &fingerprint)
        .await?
        .into_iter()
        .filter(|(_, key)| keys.contains(key))
        .collect();
    let mut report = new_report(spec, &fingerprint);
    report.datums = mine.len();
    let mut outcomes = Vec::new();
    for (d, key) in mine {
        let outcome = run_datum(store, &effective, &fingerprint, &d, key, exec).await?;
        outcomes.push((d, key, outcome));
    }
    merge_outputs(spec, outcomes, &mut report)?;
    if report.failed > 0 {
        report.status = crate::run::StageStatus::Failed;
    }
    Ok(report)
}

/// Merges every datum's cached outputs and commits them to `<pipeline>.<stage>@main`.
pub async fn commit(store: &Store, spec: &StageSpec, run: &str) -> Result<Committed, RunError> {
    let fingerprint = spec.fingerprint();
    let plan = required_plan(store, spec, run).await?;
    let files = planned_inputs(store, &plan).await?;
    let mut report = new_report(spec, &fingerprint);
    let mut outcomes = Vec::new();
    let mut missing = Vec::new();
    // The stage index answers for the datums of the last run in one read; only the rest (this
    // run's shards' results) are read one by one.
    let mut indexed = store.stage_index_get(&fingerprint).await?;
    let index_had = indexed.entries.len();
    let indexed_output = indexed.output;
    for (d, key) in list_datums(store, spec, &files, &fingerprint).await? {
        if let Some(outputs) = indexed.entries.remove(&key) {
            outcomes.push((d, key, DatumOutcome::Reused { outputs, logs: Vec::new() }));
            continue;
        }
        match store.cache_get(&fingerprint, &key).await? {
            Some(entry) => outcomes.push((d, key, DatumOutcome::Reused { outputs: entry.files, logs: entry.logs })),
            None => missing.push(d.label),
        }
    }
    if !missing.is_empty() {
        return Err(RunError::Stage {
            stage: spec.stage.clone(),
            message: format!(
                "{} datum(s) have no result, e.g. `{}`: a shard failed; rerun the stage",
                missing.len(),
                missing[0]
            ),
        });
    }
    report.datums = outcomes.len();
    let index: HashMap<Hash, Vec<FileEntry>> = outcomes
        .iter()
        .filter_map(|(_, key, o)| match o {
            DatumOutcome::Reused { outputs, .. } => Some((*key, outputs.clone())),
            _ => None,
        })
        .collect();
    let metric_files = crate::metrics::files_of(spec, &outcomes, &mut report);
    let merged = merge_outputs(spec, outcomes, &mut report)?;
    crate::metrics::attach(store, metric_files, &mut report).await?;
    // Every datum's result is read back from the cache here; those the plan listed were processed
    // by this run's shards.
    let planned: HashSet<String> = plan.shards.iter().flatten().map(Hash::to_hex).collect();
    for d in &mut report.datum_log {
        if planned.contains(&d.key) {
            d.status = crate::run::DatumStatus::Processed;
        }
    }
    report.processed = planned.len();
    report.skipped = report.datums - planned.len().min(report.datums);
    report.reads = plan
        .inputs
        .iter()
        .map(|i| crate::record::DatasetRef { repo: i.repo.clone(), commit: Some(i.commit) })
        .collect();
    let repo = output_repo(&spec.pipeline, &spec.stage);
    // A run that processed nothing, over exactly the index's datums, whose commit is still the
    // head: nothing to write and no manifest to read (as `pipe run` does).
    let current = plan.shards.iter().all(Vec::is_empty) && indexed.entries.is_empty() && index_had == index.len();
    let unchanged = if current { crate::run::still_head(store, &repo, indexed_output).await } else { None };
    let commit = match unchanged {
        Some(head) => head,
        None => store.commit_files(&repo, "main", merged, &format!("stage {} of run {run}", spec.stage)).await?.0,
    };
    report.output = Some(commit);
    // The next plan of this stage reads which datums are cached in one object, as `pipe run` does.
    if unchanged.is_none() {
        store.stage_index_put(&fingerprint, &pipe_store::StageIndex { entries: index, output: Some(commit) }).await?;
    }
    Ok(Committed { commit, report, plan })
}

/// What [`commit`] made: the output commit, the stage's report, and the plan it followed (for
/// [`record_stage`], so the plan is read once).
#[derive(Debug)]
pub struct Committed {
    pub commit: CommitId,
    pub report: StageReport,
    pub plan: Plan,
}

/// Records the committed stage `report` as its share of run `run` (`runparts/<run>/<stage>`), then
/// writes the run's record (`runs/<run>`) from every share stored so far, so `pipe log` shows a
/// cluster's run as it shows a local one. Stages that commit at once each write the record; each
/// writes it again until what it wrote holds every share it then finds, so the last record
/// written holds them all. Gives that record.
pub async fn record_stage(
    store: &Store,
    spec: &StageSpec,
    run: &str,
    params: &std::collections::BTreeMap<String, String>,
    committed: &Committed,
) -> Result<crate::record::RunRecord, pipe_store::StoreError> {
    use crate::record::{RUN_RECORD_FORMAT, RunRecord, StagePart, StageRecord};
    let now = || humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let plan = &committed.plan;
    let upstream: HashSet<&str> =
        spec.inputs.iter().filter(|i| matches!(i.source, InputSource::Stage { .. })).map(|i| i.name.as_str()).collect();
    let part = StagePart {
        format: RUN_RECORD_FORMAT,
        run_id: run.to_owned(),
        pipeline: spec.pipeline.clone(),
        // A plan from before plans kept their time has none: the commit's is the closest.
        started: if plan.started.is_empty() { now() } else { plan.started.clone() },
        finished: now(),
        params: params.clone(),
        // The pipeline's inputs; an upstream stage is a stage of the record, not an input.
        inputs: plan.inputs.iter().filter(|i| !upstream.contains(i.name.as_str())).cloned().collect(),
        stage: StageRecord::of(&committed.report),
        pipeline_stages: spec.pipeline_stages.clone(),
    };
    store.run_part_put(run, &spec.stage, &part).await?;
    loop {
        let parts: Vec<StagePart> =
            store.run_parts(run).await?.into_iter().filter_map(|(_, v)| StagePart::decode(v).ok()).collect();
        let seen: Vec<String> = parts.iter().map(|p| p.stage.name.clone()).collect();
        let record = RunRecord::from_parts(parts).expect("this stage's part was just stored");
        store.run_put(run, &record).await?;
        // Only the names, to see whether a share appeared while this one wrote.
        if store.run_part_stages(run).await?.iter().all(|s| seen.contains(s)) {
            return Ok(record);
        }
    }
}

/// Which replica of a gang this process is, and how long a follower waits for rank 0's plan.
#[derive(Debug, Clone, Copy)]
pub struct Replica {
    pub rank: usize,
    pub wait: std::time::Duration,
}

/// The whole stage in one process, for runners without a workflow to fan out (TorchX). Rank 0
/// plans, runs every shard and commits; a gang's other ranks wait (up to `wait`) for rank 0's
/// plan and run its shards with `exec.record` off. Gives the stage's report (with its commit,
/// on rank 0).
pub async fn whole_stage(
    store: &Store,
    spec: &StageSpec,
    run: &str,
    replica: Replica,
    command: Vec<String>,
    exec: &ExecContext,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<StageReport, RunError> {
    let Replica { rank, wait } = replica;
    let fingerprint = spec.fingerprint();
    let plan = if rank == 0 {
        plan(store, spec, run, MAX_SHARDS).await?
    } else {
        let started = std::time::Instant::now();
        loop {
            // A plan that cannot be read fails at once, with the reason; only a missing one waits.
            if let Some(p) = stored_plan(store, spec, run).await? {
                break p;
            }
            if started.elapsed() > wait {
                return Err(RunError::Stage {
                    stage: spec.stage.clone(),
                    message: format!(
                        "rank {rank} waited {}s for rank 0's plan of run `{run}`: check that rank 0 started and can reach the store",
                        wait.as_secs()
                    ),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    };
    let mut report = new_report(spec, &fingerprint);
    report.datums = plan.datums;
    report.skipped = plan.cached;
    if !plan.shards.is_empty() {
        crate::exec::clear_kept_folders(&exec.work_root, &spec.stage);
    }
    for shard in 0..plan.shards.len() {
        let part = run_shard(store, spec, run, shard, command.clone(), exec).await?;
        report.processed += part.processed;
        report.failed += part.failed;
        report.failures.extend(part.failures);
    }
    if report.failed > 0 {
        report.status = crate::run::StageStatus::Failed;
    } else if rank == 0 {
        let committed = commit(store, spec, run).await?;
        let record = record_stage(store, spec, run, params, &committed).await?;
        let env = |name: &str| std::env::var(name).ok();
        report.warnings.extend(crate::export::send_cluster_run(store, &record, env).await);
        report.output = Some(committed.commit);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stages committing at once each write the run's record; the last one written holds every
    /// stage, whatever the interleaving (32 at once, on 4 worker threads; the interleavings are
    /// the scheduler's, so without the re-check this fails about one run in five).
    #[test]
    fn stages_recorded_at_once_all_end_up_in_the_run_s_record() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().to_str().expect("utf-8"), true).expect("store");
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("rt");
        let specs: Vec<StageSpec> = (0..32)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "format": 1, "pipeline": "p", "stage": format!("s{i:02}"), "kind": "container", "image": "i",
                    "command": ["true"], "env": [], "inputs": [], "datums": null, "retries": 0,
                    "timeout_seconds": null, "parallelism": null
                }))
                .expect("a spec")
            })
            .collect();
        runtime.block_on(async {
            let params = std::collections::BTreeMap::new();
            let recorded = specs.iter().map(|spec| {
                let plan = Plan {
                    format: PLAN_FORMAT,
                    run: "wf".into(),
                    stage: spec.stage.clone(),
                    fingerprint: spec.fingerprint(),
                    inputs: Vec::new(),
                    datums: 0,
                    cached: 0,
                    shards: Vec::new(),
                    started: "2026-12-07T00:00:00Z".into(),
                };
                let committed =
                    Committed { commit: CommitId(Hash([0; 32])), report: new_report(spec, &plan.fingerprint), plan };
                let (store, params) = (&store, &params);
                async move { record_stage(store, spec, "wf", params, &committed).await }
            });
            for r in futures::future::join_all(recorded).await {
                r.expect("recorded");
            }
            let record = crate::record::RunRecord::decode(store.run_get("wf").await.expect("read").expect("a record"))
                .expect("decodes");
            let mut names: Vec<String> = record.stages.iter().map(|s| s.name.clone()).collect();
            names.sort();
            assert_eq!(names, specs.iter().map(|s| s.stage.clone()).collect::<Vec<_>>());
        });
    }

    #[test]
    fn a_shard_deadline_covers_each_datum_s_timeout_and_retries() {
        let mut spec: StageSpec = serde_json::from_value(serde_json::json!({
            "format": 1, "pipeline": "p", "stage": "s", "kind": "container", "image": "i", "command": ["true"],
            "env": [], "inputs": [], "datums": null, "retries": 1, "timeout_seconds": 30, "parallelism": null
        }))
        .expect("a spec");
        let plan = Plan {
            format: 1,
            run: "r".into(),
            stage: "s".into(),
            fingerprint: Hash([0; 32]),
            inputs: Vec::new(),
            datums: 4,
            cached: 0,
            shards: vec![vec![Hash([1; 32]), Hash([2; 32]), Hash([3; 32])], vec![Hash([4; 32])]],
            started: String::new(),
        };
        let items = shard_items(&spec, &plan);
        assert_eq!(items[0], ShardItem { shard: "0".into(), datums: "3".into(), deadline: "240".into() });
        assert_eq!(items[1].deadline, "120");
        spec.timeout_seconds = None;
        assert_eq!(shard_items(&spec, &plan)[0].deadline, "0");
    }
}
