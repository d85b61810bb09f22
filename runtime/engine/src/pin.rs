//! Pinning a compiled pipeline's inputs: what `pipe compile` does before it writes anything.
//!
//! Takes stage specs, the store's URL and the pipeline's folder; gives the specs with every repo
//! input's ref resolved to a commit, every `dir(…)` input snapshotted into the store as a pinned
//! repo input, and the scripts each command names stored beside them. Opens the store only when
//! there is something to pin. Does not choose the store (the command line does).

use pipe_spec::{InputSource, StageSpec};
use pipe_store::{Store, StoreError};
use std::path::Path;

/// Resolves every repo input's ref to its commit now, and snapshots every `dir(…)` input (read
/// relative to `dir`) into the store as a pinned repo input; stores the scripts each command names
/// (found in `dir`) and lists them in the spec. A `scheduled` pipeline's branches stay
/// unpinned (checked to exist): each scheduled run reads the branch as it is when that run plans,
/// so a nightly run sees the night's data; a tag or a commit id is a pin the user chose and stays.
pub async fn pin(specs: &mut [StageSpec], url: &str, dir: &Path, scheduled: bool) -> Result<(), StoreError> {
    // Nothing to pin, snapshot or store: no store is needed, nor opened.
    let scripts = specs.iter().any(|s| !crate::code::script_args(&s.command, dir).is_empty());
    if !scripts && specs.iter().all(|s| s.inputs.iter().all(|i| matches!(i.source, InputSource::Stage { .. }))) {
        return Ok(());
    }
    // A store is created only to hold `dir(…)` snapshots; repo inputs need one that exists.
    let snapshots_dirs = specs.iter().flat_map(|s| &s.inputs).any(|i| matches!(i.source, InputSource::Dir { .. }));
    let store = Store::open(url, snapshots_dirs)?;
    let mut snapshots = std::collections::HashMap::new();
    for spec in specs.iter_mut() {
        // The scripts the command names go with the spec, for the cluster to run them.
        *spec = crate::code::with_code(&store, spec, dir).await?;
        for input in &mut spec.inputs {
            let dataset = input.dataset().to_owned();
            match &mut input.source {
                InputSource::Repo { repo, reference, commit } => {
                    let resolved = store.resolve(repo, reference).await?;
                    let branch = scheduled && store.head(repo, reference).await?.is_some();
                    *commit = (!branch).then_some(resolved);
                }
                InputSource::Dir { path } => {
                    let repo = crate::run::input_repo(&spec.pipeline, &dataset);
                    let commit = match snapshots.get(&repo) {
                        Some(c) => *c,
                        None => {
                            let (c, _) = crate::run::snapshot_dir(&store, &repo, &dir.join(&*path), path, None).await?;
                            snapshots.insert(repo.clone(), c);
                            c
                        }
                    };
                    input.source = InputSource::Repo { repo, reference: "main".into(), commit: Some(commit) };
                }
                InputSource::Stage { .. } | InputSource::Url { .. } => {}
            }
        }
    }
    Ok(())
}
