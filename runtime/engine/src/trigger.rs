//! Runs started by new commits: one check of a pipeline's trigger.
//!
//! Takes the trigger spec, the store and the run that asks (a workflow's name, or a new run id
//! of `pipe run --watch`); gives whether that run goes ahead, and why. Resolves each watched
//! input's branch now, keys the set of commits, and claims the key in the store
//! (`triggers/<pipeline>/<key>`, create-if-absent, atomic on every backend): the first claim runs;
//! the same run asking again (a retried tick) runs again; any other run (a replayed or overlapping
//! tick, or nothing new since) does not. So each new set of input commits starts exactly one run.
//! Every check is recorded as the pipeline's last (`pipe log` shows it), and a check that runs
//! under its run too, so the run's stages read exactly the commits it claimed ([`claimed`]), not
//! whatever a branch names when they plan. Does not start the run, and never retries a run that
//! failed: a later tick sees the same commits, claimed.

use crate::run::RunError;
use pipe_spec::{Hash, ResolvedInput, TriggerSpec};
use pipe_store::Store;
use serde::{Deserialize, Serialize};

/// The format number of [`Check`].
pub const CHECK_FORMAT: u32 = 1;

/// One check of a trigger, as recorded (`triggers/<pipeline>.last`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub format: u32,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The run that asked.
    pub run: String,
    /// Whether it goes ahead.
    pub runs: bool,
    /// For people: what moved, or which run took these commits.
    pub why: String,
    /// The watched inputs at the commits this check resolved.
    pub inputs: Vec<ResolvedInput>,
}

/// The marker of a claimed set of commits.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    run: String,
    at: String,
}

/// Checks `trigger` for run `run`; records the check as the pipeline's last.
pub async fn check(store: &Store, trigger: &TriggerSpec, run: &str) -> Result<Check, RunError> {
    let mut inputs = Vec::with_capacity(trigger.inputs.len());
    for i in &trigger.inputs {
        let commit = store.resolve(&i.repo, &i.reference).await?;
        inputs.push(ResolvedInput {
            name: i.name.clone(),
            repo: i.repo.clone(),
            reference: i.reference.clone(),
            commit,
        });
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let marker = serde_json::to_vec(&Claim { run: run.to_owned(), at: at.clone() }).expect("claims serialise");
    let previous = last(store, &trigger.pipeline).await?;
    let (runs, why) = match store.trigger_claim(&trigger.pipeline, &key(&inputs).to_hex(), marker).await? {
        None => (true, moved(previous.as_ref(), &inputs)),
        Some(first) => {
            let holder = serde_json::from_slice::<Claim>(&first).map(|c| c.run).unwrap_or_default();
            if holder == run {
                (true, "this run claimed these commits before: a retried check goes ahead".to_owned())
            } else {
                (false, format!("no new commit: run `{holder}` took {}", commits(&inputs)))
            }
        }
    };
    let check = Check { format: CHECK_FORMAT, at, run: run.to_owned(), runs, why, inputs };
    let bytes = serde_json::to_vec(&check).expect("checks serialise");
    if runs {
        store.trigger_run_put(&trigger.pipeline, run, bytes.clone()).await?;
    }
    store.trigger_last_put(&trigger.pipeline, bytes).await?;
    Ok(check)
}

/// The watched inputs' commits the check that started run `run` of `pipeline` claimed; empty for
/// a run no trigger started.
pub async fn claimed(store: &Store, pipeline: &str, run: &str) -> Result<Vec<ResolvedInput>, RunError> {
    let bytes = store.trigger_run_get(pipeline, run).await?;
    let check = bytes.and_then(|b| serde_json::from_slice::<Check>(&b).ok()).filter(|c| c.format == CHECK_FORMAT);
    Ok(check.map(|c| c.inputs).unwrap_or_default())
}

/// `specs` with every unpinned repo input that `claimed` names (by repo and ref) pinned to the
/// claimed commit.
pub fn pin_claimed(specs: &mut [pipe_spec::StageSpec], claimed: &[ResolvedInput]) {
    for input in specs.iter_mut().flat_map(|s| s.inputs.iter_mut()) {
        if let pipe_spec::InputSource::Repo { repo, reference, commit: commit @ None } = &mut input.source
            && let Some(c) = claimed.iter().find(|c| &c.repo == repo && &c.reference == reference)
        {
            *commit = Some(c.commit);
        }
    }
}

/// The pipeline's last check, if one was recorded (and this version reads it).
pub async fn last(store: &Store, pipeline: &str) -> Result<Option<Check>, RunError> {
    let bytes = store.trigger_last_get(pipeline).await?;
    Ok(bytes.and_then(|b| serde_json::from_slice::<Check>(&b).ok()).filter(|c| c.format == CHECK_FORMAT))
}

/// The key of a set of input commits: blake3 of each input's name, repo and commit, by name.
fn key(inputs: &[ResolvedInput]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"pipe-trigger-v1\0");
    for i in inputs {
        for part in [i.name.as_bytes(), i.repo.as_bytes(), i.commit.to_string().as_bytes()] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    h.finalize().into()
}

/// `models@1a2b3c4d, data@5e6f7a8b`.
fn commits(inputs: &[ResolvedInput]) -> String {
    let each: Vec<String> = inputs.iter().map(|i| format!("{}@{}", i.name, short(&i.commit.to_string()))).collect();
    each.join(", ")
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// Which inputs moved since the last check (all of them on the first).
fn moved(previous: Option<&Check>, now: &[ResolvedInput]) -> String {
    let Some(previous) = previous else { return format!("first check: {}", commits(now)) };
    let changed: Vec<String> = now
        .iter()
        .filter(|i| !previous.inputs.iter().any(|p| p.name == i.name && p.commit == i.commit))
        .map(|i| {
            let before = previous.inputs.iter().find(|p| p.name == i.name).map(|p| p.commit.to_string());
            match before {
                Some(b) => format!("{} moved {} → {}", i.name, short(&b), short(&i.commit.to_string())),
                None => format!("{} is new at {}", i.name, short(&i.commit.to_string())),
            }
        })
        .collect();
    if changed.is_empty() {
        // The commits were seen before but never claimed (an older check lost its record).
        return format!("unclaimed commits: {}", commits(now));
    }
    format!("new commits: {}", changed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_spec::{FileEntry, TRIGGER_SPEC_FORMAT, TriggerInput};

    fn spec() -> TriggerSpec {
        TriggerSpec {
            format: TRIGGER_SPEC_FORMAT,
            pipeline: "validate".into(),
            inputs: vec![TriggerInput { name: "models".into(), repo: "models".into(), reference: "main".into() }],
            poll_seconds: 60,
        }
    }

    async fn put(store: &Store, content: &[u8]) {
        let file =
            FileEntry { path: "m.bin".into(), size: content.len() as u64, hash: Hash::of(content), chunks: vec![] };
        store.commit_files("models", "main", vec![file], "a model").await.expect("commit");
    }

    /// Replays of one tick (new workflows seeing the same commits) run once; a retried tick (the
    /// same workflow) goes ahead again; a new commit runs once more.
    #[test]
    fn each_set_of_commits_starts_one_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().to_str().expect("utf-8"), true).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            put(&store, b"v1").await;
            let ran: Vec<bool> = {
                let mut out = Vec::new();
                for tick in 1..=5 {
                    out.push(check(&store, &spec(), &format!("tick-{tick}")).await.expect("check").runs);
                }
                out
            };
            assert_eq!(ran, [true, false, false, false, false]);
            let skipped = last(&store, "validate").await.expect("last").expect("recorded");
            assert!(!skipped.runs && skipped.why.contains("run `tick-1` took models@"), "{skipped:?}");
            assert!(check(&store, &spec(), "tick-1").await.expect("check").runs, "a retried tick goes ahead");
            put(&store, b"v2").await;
            let moved = check(&store, &spec(), "tick-6").await.expect("check");
            assert!(moved.runs && moved.why.starts_with("new commits: models moved "), "{moved:?}");
            assert!(!check(&store, &spec(), "tick-7").await.expect("check").runs);
        });
    }

    /// Overlapping ticks (16 checks at once, on 4 threads) of one set of commits: exactly one runs.
    #[test]
    fn overlapping_checks_start_one_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = std::sync::Arc::new(Store::open(tmp.path().to_str().expect("utf-8"), true).expect("store"));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("rt");
        rt.block_on(async {
            put(&store, b"v1").await;
            let checks = (0..16).map(|i| {
                let store = store.clone();
                tokio::spawn(async move { check(&store, &spec(), &format!("tick-{i}")).await.expect("check").runs })
            });
            let ran = futures::future::join_all(checks).await;
            assert_eq!(ran.into_iter().filter(|r| *r.as_ref().expect("joined")).count(), 1);
        });
    }

    /// A commit landing between a check and its run's plan is not read by that run: the run
    /// plans the commits its check claimed (the next check starts a run for the new one).
    #[test]
    fn a_triggered_run_plans_the_commits_its_check_claimed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().to_str().expect("utf-8"), true).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let stage: pipe_spec::StageSpec = serde_json::from_value(serde_json::json!({
            "format": 1, "pipeline": "validate", "stage": "check", "kind": "container", "image": "i",
            "command": ["true"], "env": [],
            "inputs": [{"name": "models", "source": {"repo": {"repo": "models", "reference": "main", "commit": null}}}],
            "datums": {"glob": {"input": "models", "pattern": "/*"}}, "retries": 0,
            "timeout_seconds": null, "parallelism": null
        }))
        .expect("a spec");
        rt.block_on(async {
            put(&store, b"v1").await;
            let check = check(&store, &spec(), "tick-1").await.expect("check");
            assert!(check.runs);
            put(&store, b"v2").await;
            let newest = store.resolve("models", "main").await.expect("head");
            assert_ne!(newest, check.inputs[0].commit);
            let planned = crate::shim::plan(&store, &stage, "tick-1", 4).await.expect("plan");
            assert_eq!(planned.inputs[0].commit, check.inputs[0].commit, "the claimed commit");
            let other = crate::shim::plan(&store, &stage, "by-hand", 4).await.expect("plan");
            assert_eq!(other.inputs[0].commit, newest, "a run no trigger started reads the branch");
        });
    }

    #[test]
    fn a_watched_repo_that_does_not_exist_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().to_str().expect("utf-8"), true).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let err = rt.block_on(check(&store, &spec(), "tick")).expect_err("no repo");
        assert!(err.to_string().contains("models"), "{err}");
    }
}
