//! Finding damaged objects and getting them rewritten (`pipe data fsck`, and every read).
//!
//! Takes a store; gives each object read back checked against its hash ([`read_object`]; from its
//! pack when it is packed, see `pack`, else from its own key, which is also where a repair of a
//! packed object goes), and a
//! full check of every object that commits and cache entries refer to ([`fsck`]). A damaged object
//! (its bytes do not hash to its name, or it is gone) is recorded under `damaged/<hash>`, in the
//! store, so that whoever next puts a folder holding those bytes rewrites the object, even when
//! the folder is otherwise up to date; the put clears the record. The runtime's cache reads a
//! datum whose outputs are damaged as a miss, so the datum runs again and its snapshot rewrites
//! them. Does not delete objects and cannot rebuild bytes nobody has: a damaged object nobody puts
//! again stays reported.

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::workers::{Waiter, map_in_threads};
use crate::{layout, pack};
use bytes::Bytes;
use pipe_spec::{CacheEntry, ChunkRef, CommitId, FileEntry, Hash};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Reads object `c` of the file at `path`, checking its hash and size: from its pack when it is
/// packed, else (or when the packed copy is damaged) from its own key, where a repair writes it.
/// A damaged object is recorded (best effort) before the error is returned.
pub(crate) async fn read_object(backend: &Backend, c: &ChunkRef, path: &str) -> Result<Bytes> {
    let small = c.size < pack::SMALL;
    let mut damage = None;
    if small && let Some(bytes) = packed(backend, c, path, &mut damage).await {
        return Ok(bytes);
    }
    match backend.get(&layout::object(&c.hash)).await? {
        Some(bytes) => match checked(c, bytes, path) {
            Ok(bytes) => return Ok(bytes),
            Err(e) => damage = Some(e),
        },
        // Packed by another process since this one last looked, perhaps.
        None if small && damage.is_none() => {
            pack::refresh(backend).await?;
            if let Some(bytes) = packed(backend, c, path, &mut damage).await {
                return Ok(bytes);
            }
        }
        None => {}
    }
    let _ = mark(backend, &c.hash).await;
    Err(damage.unwrap_or_else(|| StoreError::MissingObject { hash: c.hash, path: path.into() }))
}

/// Object `c` from its pack, checked, if this process knows one holds it; the damage found there
/// goes to `damage`.
async fn packed(backend: &Backend, c: &ChunkRef, path: &str, damage: &mut Option<StoreError>) -> Option<Bytes> {
    let place = pack::place(backend, &c.hash)?;
    let read = match pack::read(backend, place, c.size).await {
        Ok(bytes) => checked(c, bytes, path),
        Err(why) => Err(StoreError::Corrupt {
            hash: c.hash,
            path: path.into(),
            detail: format!("its pack {} could not give its bytes: {why}", place.pack.short(12)),
        }),
    };
    read.map_err(|e| *damage = Some(e)).ok()
}

/// `bytes` if they are object `c`; else the damage they show.
fn checked(c: &ChunkRef, bytes: Bytes, path: &str) -> Result<Bytes> {
    let actual = Hash::of(&bytes);
    if actual == c.hash && bytes.len() as u64 == c.size {
        return Ok(bytes);
    }
    let detail = format!("its bytes hash to {} ({} bytes, {} expected)", actual.short(12), bytes.len(), c.size);
    Err(StoreError::Corrupt { hash: c.hash, path: path.into(), detail })
}

/// Records that object `hash` is damaged.
pub(crate) async fn mark(backend: &Backend, hash: &Hash) -> Result<()> {
    backend.put(&layout::damaged(hash), Bytes::new()).await?;
    if let Some(set) = memo(backend).as_mut() {
        set.insert(*hash);
    }
    Ok(())
}

/// Clears the record of object `hash`, once it is whole again.
pub(crate) async fn unmark(backend: &Backend, hash: &Hash) -> Result<()> {
    backend.delete(&layout::damaged(hash)).await?;
    if let Some(set) = memo(backend).as_mut() {
        set.remove(hash);
    }
    Ok(())
}

/// Every object recorded as damaged: listed once per process, then kept current by [`mark`] and
/// [`unmark`] (records another process makes meanwhile are seen by the next process).
pub(crate) async fn damaged(backend: &Backend) -> Result<HashSet<Hash>> {
    load(backend).await?;
    Ok(memo(backend).clone().unwrap_or_default())
}

/// Whether any object of `files` is recorded as damaged: outputs a cache entry cannot vouch for.
/// Checked in the memo, without copying it: it runs for every cache lookup.
pub(crate) async fn touches(backend: &Backend, files: &[FileEntry]) -> Result<bool> {
    load(backend).await?;
    Ok(memo(backend).as_ref().is_some_and(|set| any_in(set, files)))
}

/// Whether any object of `files` is in `set`.
pub(crate) fn any_in(set: &HashSet<Hash>, files: &[FileEntry]) -> bool {
    !set.is_empty() && files.iter().any(|f| f.objects().iter().any(|c| set.contains(&c.hash)))
}

/// Lists the records into the memo, the first time.
async fn load(backend: &Backend) -> Result<()> {
    if memo(backend).is_some() {
        return Ok(());
    }
    let keys = backend.list(&layout::damaged_all()).await?;
    let set: HashSet<Hash> = keys.iter().filter_map(|k| layout::file_name(k).parse().ok()).collect();
    *memo(backend) = Some(set);
    Ok(())
}

fn memo(backend: &Backend) -> std::sync::MutexGuard<'_, Option<HashSet<Hash>>> {
    backend.damage.lock().unwrap_or_else(|p| p.into_inner())
}

/// What [`fsck`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FsckReport {
    pub repos: usize,
    pub commits: usize,
    pub cache_entries: usize,
    pub objects: usize,
    pub bytes: u64,
    /// Damaged objects, by hash.
    pub damaged: Vec<Damage>,
    /// Commits whose manifest is missing or does not match its id.
    pub bad_commits: Vec<BadCommit>,
    /// Records cleared because their object is whole again.
    pub cleared: usize,
}

/// One damaged object and where it is used.
#[derive(Debug, Clone, Serialize)]
pub struct Damage {
    pub hash: Hash,
    pub problem: String,
    /// Up to a few uses: `repo@commit: path`, or `cache of stage S, datum D: path`.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BadCommit {
    pub repo: String,
    pub commit: CommitId,
    pub problem: String,
}

/// Reads every object the commits of `repos` (every repo when empty) and, when checking every
/// repo, every cache entry refer to; records the damaged ones and clears records of whole ones.
pub(crate) async fn fsck(backend: &Backend, repos: &[String], jobs: usize) -> Result<FsckReport> {
    let mut report = FsckReport::default();
    let all = repos.is_empty();
    let repos = if all { crate::refs::repos(backend).await? } else { repos.to_vec() };
    // Each object once, with its size and a few of its uses.
    let mut objects: BTreeMap<Hash, (u64, Vec<String>)> = BTreeMap::new();
    let mut note = |file: &FileEntry, used: &dyn Fn(&str) -> String| {
        for c in file.objects() {
            let uses = &mut objects.entry(c.hash).or_insert((c.size, Vec::new())).1;
            if uses.len() < 3 {
                uses.push(used(&file.path));
            }
        }
    };
    for repo in &repos {
        crate::refs::require(backend, repo).await?;
        report.repos += 1;
        for key in backend.list(&layout::commits(repo)).await? {
            let Ok(id) = layout::file_name(&key).parse::<Hash>().map(CommitId) else { continue };
            report.commits += 1;
            match crate::manifests::load(backend, repo, id).await {
                Ok(m) => m.files.iter().for_each(|f| note(f, &|p| format!("{repo}@{}: {p}", id.0.short(12)))),
                Err(StoreError::BadCommit { detail, .. }) => {
                    report.bad_commits.push(BadCommit { repo: repo.clone(), commit: id, problem: detail })
                }
                Err(e) => return Err(e),
            }
        }
    }
    if all {
        for key in backend.list(&layout::caches()).await? {
            let Some(bytes) = backend.get(&key).await? else { continue };
            // Entries this version cannot read are misses to the runtime; nothing to check.
            let Ok(entry) = serde_json::from_slice::<CacheEntry>(&bytes) else { continue };
            report.cache_entries += 1;
            let stage = entry.stage.clone();
            entry.files.iter().for_each(|f| note(f, &|p| format!("cache of stage `{stage}`: {p}")));
        }
    }
    let checked: HashSet<Hash> = objects.keys().copied().collect();
    report.objects = objects.len();
    report.bytes = objects.values().map(|(size, _)| size).sum();
    let recorded = damaged(backend).await?;
    let list: Vec<(Hash, u64, Vec<String>)> = objects.into_iter().map(|(h, (size, uses))| (h, size, uses)).collect();
    let waiter = Waiter::for_backend(backend);
    let b = backend.clone();
    let found = tokio::task::spawn_blocking(move || {
        map_in_threads(&list, jobs, |(hash, size, uses)| {
            let c = ChunkRef { hash: *hash, size: *size };
            Ok(match waiter.wait(read_object(&b, &c, "")) {
                Ok(_) => None,
                Err(StoreError::MissingObject { .. }) => {
                    Some(Damage { hash: *hash, problem: "missing".into(), used_by: uses.clone() })
                }
                Err(StoreError::Corrupt { detail, .. }) => {
                    Some(Damage { hash: *hash, problem: format!("corrupt: {detail}"), used_by: uses.clone() })
                }
                Err(e) => return Err(e),
            })
        })
    })
    .await
    .expect("checking objects does not panic")?;
    report.damaged = found.into_iter().flatten().collect();
    let still: HashSet<Hash> = report.damaged.iter().map(|d| d.hash).collect();
    for hash in recorded.iter().filter(|h| checked.contains(h) && !still.contains(h)) {
        unmark(backend, hash).await?;
        report.cleared += 1;
    }
    Ok(report)
}
