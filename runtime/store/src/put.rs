//! Snapshotting a folder into a repo (`pipe data put`).
//!
//! Takes a folder, a repo and a branch; gives a new commit on that branch, or the head unchanged
//! when the folder matches it. Objects are written first, then the manifest, then the branch moves
//! by create-if-absent: a crash at any point leaves the branch where it was, and anything already
//! written is reused by the next attempt. Objects recorded as damaged (see `verify`) that the folder
//! holds are written again, even when the folder matches the head. Storing the files is
//! `snapshot`'s work.

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::snapshot::snapshot;
use crate::{Progress, manifests, refs};
use pipe_spec::{CommitId, FileEntry, Hash, Manifest};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to snapshot.
#[derive(Debug, Clone)]
pub struct PutOptions {
    pub branch: String,
    pub message: String,
    /// Where the stat cache lives; `None` reads every file.
    pub stat_cache: Option<PathBuf>,
    /// Files read and written at once.
    pub jobs: usize,
}

/// What a put did, in figures.
#[derive(Debug, Clone, Serialize)]
pub struct PutOutcome {
    pub commit: CommitId,
    pub parent: Option<CommitId>,
    /// False when the folder matched the branch head and no commit was made.
    pub changed: bool,
    pub files: usize,
    pub bytes: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    pub objects_written: u64,
    pub bytes_written: u64,
    /// Problems that did not fail the put (the stat cache could not be saved, say).
    pub warnings: Vec<String>,
}

pub(crate) async fn put_dir(
    backend: &Backend,
    repo: &str,
    dir: &Path,
    opts: &PutOptions,
    progress: Arc<dyn Progress>,
) -> Result<PutOutcome> {
    refs::require(backend, repo).await?;
    let seen = refs::head(backend, repo, &opts.branch).await?;
    let parent = match seen {
        Some((_, id)) => Some((id, manifests::load(backend, repo, id).await?)),
        None => None,
    };
    let known = parent.iter().flat_map(|(_, m)| m.files.iter().flat_map(FileEntry::objects)).map(|c| c.hash).collect();
    let damaged = crate::verify::damaged(backend).await?;
    let snap = snapshot(backend, dir, known, damaged, opts.stat_cache.clone(), opts.jobs, progress).await?;
    let mut outcome = PutOutcome {
        commit: CommitId(Hash::of(b"")),
        parent: parent.as_ref().map(|(id, _)| *id),
        changed: true,
        files: snap.files.len(),
        bytes: snap.files.iter().map(|f| f.size).sum(),
        files_read: snap.files_read,
        bytes_read: snap.bytes_read,
        objects_written: snap.objects_written,
        bytes_written: snap.bytes_written,
        warnings: snap.warnings,
    };
    if let Some((id, m)) = &parent
        && m.files == snap.files
    {
        outcome.commit = *id;
        outcome.changed = false;
        return Ok(outcome);
    }
    let manifest = Manifest::new(repo.into(), outcome.parent, refs::now(), opts.message.clone(), snap.files)
        .map_err(|e| StoreError::BadPath { path: dir.display().to_string(), reason: e.to_string() })?;
    outcome.commit = manifests::store(backend, &manifest).await?;
    refs::move_branch(backend, repo, &opts.branch, seen.map(|(seq, _)| seq), outcome.commit).await?;
    Ok(outcome)
}
