//! Snapshotting a folder into a repo (`pipe data put`).
//!
//! Takes a folder, a repo and a branch; gives a new commit on that branch, or the head unchanged
//! when the folder matches it. Objects are written first, then the manifest, then the branch moves
//! by create-if-absent: a crash at any point leaves the branch where it was, and anything already
//! written is reused by the next attempt. Files the stat cache vouches for are not read; chunks the
//! parent commit or the store already holds are not written.

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::statcache::StatCache;
use crate::{Progress, layout, manifests, refs, walk};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use pipe_spec::{ChunkRef, CommitId, FileEntry, Hash, Manifest};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

#[derive(Debug, Default)]
struct Counters {
    files_read: AtomicU64,
    bytes_read: AtomicU64,
    objects_written: AtomicU64,
    bytes_written: AtomicU64,
}

/// Shared by every file's task.
struct Job {
    backend: Backend,
    known: Mutex<HashSet<Hash>>,
    cache: Mutex<StatCache>,
    counters: Counters,
    progress: Arc<dyn Progress>,
}

pub async fn put_dir(
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
    let snap = snapshot(backend, dir, known, opts.stat_cache.clone(), opts.jobs, progress).await?;
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

/// A folder's files, stored: every object written, no commit made.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Sorted by path.
    pub files: Vec<FileEntry>,
    pub files_read: u64,
    pub bytes_read: u64,
    pub objects_written: u64,
    pub bytes_written: u64,
    pub warnings: Vec<String>,
}

/// Stores every file under `dir` (objects only) and gives their entries. `known` holds hashes
/// already in the store, which are neither checked nor written.
pub async fn snapshot(
    backend: &Backend,
    dir: &Path,
    known: HashSet<Hash>,
    stat_cache: Option<PathBuf>,
    jobs: usize,
    progress: Arc<dyn Progress>,
) -> Result<Snapshot> {
    let found = tokio::task::spawn_blocking({
        let dir = dir.to_owned();
        move || walk::files(&dir)
    })
    .await
    .expect("walking a folder does not panic")?;
    progress.start("put", found.iter().map(|f| f.meta.len()).sum());
    let job = Arc::new(Job {
        backend: backend.clone(),
        known: Mutex::new(known),
        cache: Mutex::new(StatCache::load(stat_cache)),
        counters: Counters::default(),
        progress,
    });
    let files: Vec<FileEntry> =
        futures::stream::iter(found).map(|f| snapshot_file(job.clone(), f)).buffered(jobs.max(1)).try_collect().await?;
    job.progress.finish();
    let mut warnings = Vec::new();
    if let Err(e) = job.cache.lock().expect("stat cache lock").save() {
        warnings.push(format!("the stat cache could not be saved ({e}); the next put will read every file again"));
    }
    let c = &job.counters;
    Ok(Snapshot {
        files,
        files_read: c.files_read.load(Ordering::Relaxed),
        bytes_read: c.bytes_read.load(Ordering::Relaxed),
        objects_written: c.objects_written.load(Ordering::Relaxed),
        bytes_written: c.bytes_written.load(Ordering::Relaxed),
        warnings,
    })
}

/// One file: from the stat cache if it vouches for it and its objects are stored, else read,
/// chunked, hashed and its new chunks written.
async fn snapshot_file(job: Arc<Job>, f: walk::Found) -> Result<FileEntry> {
    let cached = job.cache.lock().expect("stat cache lock").lookup(&f.abs, &f.meta);
    if let Some((hash, chunks)) = cached {
        let entry = FileEntry { path: f.path.clone(), size: f.meta.len(), hash, chunks };
        if all_stored(&job, &entry.objects()).await? {
            job.progress.advance(entry.size);
            return Ok(entry);
        }
    }
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || read_file(&job, &handle, f)).await.expect("reading a file does not panic")
}

async fn all_stored(job: &Job, objects: &[ChunkRef]) -> Result<bool> {
    for c in objects {
        let known = job.known.lock().expect("known lock").contains(&c.hash);
        if !known && !job.backend.exists(&layout::object(&c.hash)).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn read_file(job: &Job, handle: &tokio::runtime::Handle, f: walk::Found) -> Result<FileEntry> {
    let file = std::fs::File::open(&f.abs).map_err(StoreError::io(&f.abs))?;
    let mut chunks = Vec::new();
    let io = |source| StoreError::Io { path: f.abs.clone(), source };
    crate::chunk::chunk(file, f.meta.len(), io, |c, bytes: Bytes| {
        let known = job.known.lock().expect("known lock").contains(&c.hash);
        if !known {
            let key = layout::object(&c.hash);
            if !handle.block_on(job.backend.exists(&key))? {
                handle.block_on(job.backend.put(&key, bytes))?;
                job.counters.objects_written.fetch_add(1, Ordering::Relaxed);
                job.counters.bytes_written.fetch_add(c.size, Ordering::Relaxed);
            }
            job.known.lock().expect("known lock").insert(c.hash);
        }
        job.progress.advance(c.size);
        chunks.push(c);
        Ok(())
    })?;
    let entry = FileEntry::new(f.path, chunks);
    let after = std::fs::symlink_metadata(&f.abs).map_err(StoreError::io(&f.abs))?;
    if entry.size != after.len() || after.modified().ok() != f.meta.modified().ok() {
        return Err(StoreError::Changed { path: f.abs });
    }
    job.counters.files_read.fetch_add(1, Ordering::Relaxed);
    job.counters.bytes_read.fetch_add(entry.size, Ordering::Relaxed);
    job.cache.lock().expect("stat cache lock").record(&f.abs, &f.meta, &entry);
    Ok(entry)
}
