//! Storing a folder's files as objects: the work under `put`, and under the runtime's snapshots
//! of inputs and outputs.
//!
//! Takes a folder, the hashes already known to be stored and a stat cache; gives each file's
//! entry (sorted by path) and what it cost. Files the stat cache vouches for, whose objects are
//! known, are settled on the calling thread without IO; the rest go to `jobs` threads that check
//! the store, or read, chunk, hash and write new objects (see `workers`): small ones into packs
//! (see `pack`), all written before it returns. Makes no commit and moves no ref.

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::statcache::StatCache;
use crate::workers::{Waiter, map_in_threads};
use crate::{Progress, layout, pack, walk};
use bytes::BytesMut;
use pipe_spec::{ChunkRef, FileEntry, Hash};
use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

#[derive(Debug, Default)]
struct Counters {
    files_read: AtomicU64,
    bytes_read: AtomicU64,
    objects_written: AtomicU64,
    bytes_written: AtomicU64,
}

/// Shared by every reading thread.
struct Job {
    backend: Backend,
    waiter: Waiter,
    known: Mutex<HashSet<Hash>>,
    /// Objects recorded as damaged: written again whatever the store holds under their name.
    damaged: HashSet<Hash>,
    cache: Mutex<StatCache>,
    counters: Counters,
    progress: Arc<dyn Progress>,
    /// Small new objects, written as packs.
    packer: pack::Packer,
}

/// Stores every file under `dir` (objects only) and gives their entries. `known` holds hashes
/// already in the store, which are neither checked nor written; `damaged` those recorded as
/// damaged, which are written again when the folder holds their bytes (and their records cleared).
pub(crate) async fn snapshot(
    backend: &Backend,
    dir: &Path,
    known: HashSet<Hash>,
    damaged: HashSet<Hash>,
    stat_cache: Option<PathBuf>,
    jobs: usize,
    progress: Arc<dyn Progress>,
) -> Result<Snapshot> {
    let job = Job {
        backend: backend.clone(),
        waiter: Waiter::for_backend(backend),
        known: Mutex::new(known.difference(&damaged).copied().collect()),
        damaged,
        cache: Mutex::new(StatCache::load(stat_cache)),
        counters: Counters::default(),
        progress,
        packer: pack::Packer::default(),
    };
    let dir = dir.to_owned();
    let (job, files) = tokio::task::spawn_blocking(move || {
        let files = walk::files(&dir).and_then(|found| store_files(&job, found, jobs));
        (job, files)
    })
    .await
    .expect("storing files does not panic");
    let files = files?;
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

/// The entries of `found`, in its order.
fn store_files(job: &Job, found: Vec<walk::Found>, jobs: usize) -> Result<Vec<FileEntry>> {
    job.progress.start("put", found.iter().map(|f| f.meta.len()).sum());
    let mut entries: Vec<Option<FileEntry>> = Vec::with_capacity(found.len());
    // Files left for the threads, with what the stat cache says of each.
    let mut work: Vec<(usize, walk::Found, Option<FileEntry>)> = Vec::new();
    {
        let cache = job.cache.lock().expect("stat cache lock");
        let known = job.known.lock().expect("known lock");
        for (i, f) in found.into_iter().enumerate() {
            let cached = cache.lookup(&f.abs, &f.meta).map(|(hash, chunks)| FileEntry {
                path: f.path.clone(),
                size: f.meta.len(),
                hash,
                chunks,
            });
            match cached {
                Some(entry) if entry.objects().iter().all(|c| known.contains(&c.hash)) => {
                    job.progress.advance(entry.size);
                    entries.push(Some(entry));
                }
                cached => {
                    work.push((i, f, cached));
                    entries.push(None);
                }
            }
        }
    }
    let stored = map_in_threads(&work, jobs, |(_, f, cached)| store_file(job, f, cached.as_ref()))?;
    job.waiter.wait(job.packer.finish(&job.backend))?;
    for ((i, _, _), entry) in work.iter().zip(stored) {
        entries[*i] = Some(entry);
    }
    Ok(entries.into_iter().map(|e| e.expect("every file was stored")).collect())
}

/// One file: from the stat cache if it vouches for it and its objects are stored, else read,
/// chunked, hashed and its new chunks written.
fn store_file(job: &Job, f: &walk::Found, cached: Option<&FileEntry>) -> Result<FileEntry> {
    if let Some(entry) = cached
        && all_stored(job, &entry.objects())?
    {
        job.progress.advance(entry.size);
        return Ok(entry.clone());
    }
    read_file(job, f)
}

fn all_stored(job: &Job, objects: &[ChunkRef]) -> Result<bool> {
    for c in objects {
        let known = job.known.lock().expect("known lock").contains(&c.hash);
        if job.damaged.contains(&c.hash) || !known && !stored(job, c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the store holds object `c`, packed or under its own key.
fn stored(job: &Job, c: &ChunkRef) -> Result<bool> {
    if c.size < pack::SMALL {
        job.waiter.wait(pack::list_once(&job.backend))?;
        if pack::place(&job.backend, &c.hash).is_some() {
            return Ok(true);
        }
    }
    job.waiter.wait(job.backend.exists(&layout::object(&c.hash)))
}

thread_local! {
    /// Each reading thread's buffer, reused from file to file (see `chunk::chunk`).
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Each reading thread's copy of the object it writes, reused from object to object.
    static OBJECT_BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Writes object `hash` under its own key. `object_store` takes the bytes owned, so they are
/// copied, into the same buffer each time once the store has let go of it: a fresh copy per chunk
/// faulted in fresh pages, and zeroing them was 13% of a 1 GiB put (`perf`: `clear_page_erms`
/// under `Bytes::copy_from_slice`).
fn put_loose(job: &Job, hash: &Hash, bytes: &[u8]) -> Result<()> {
    let mut buffer = OBJECT_BUFFER.take();
    buffer.clear();
    buffer.extend_from_slice(bytes);
    let owned = buffer.freeze();
    job.waiter.wait(job.backend.put(&layout::object(hash), owned.clone()))?;
    if let Ok(back) = owned.try_into_mut() {
        OBJECT_BUFFER.set(back);
    }
    Ok(())
}

fn read_file(job: &Job, f: &walk::Found) -> Result<FileEntry> {
    let file = std::fs::File::open(&f.abs).map_err(StoreError::io(&f.abs))?;
    let mut chunks = Vec::new();
    let io = |source| StoreError::Io { path: f.abs.clone(), source };
    let read = |buffer: &mut Vec<u8>| {
        crate::chunk::chunk(file, f.meta.len(), buffer, io, |c, bytes: &[u8]| {
            // Claimed before it is written, so two threads holding the same bytes write them once.
            let claimed = job.known.lock().expect("known lock").insert(c.hash);
            if claimed {
                let repair = job.damaged.contains(&c.hash);
                if repair || !stored(job, &c)? {
                    if repair || c.size >= pack::SMALL {
                        // A repair goes under the object's own key, which readers try when the
                        // packed copy is damaged.
                        put_loose(job, &c.hash, bytes)?;
                    } else if let Some(full) = job.packer.add(c.hash, bytes) {
                        job.waiter.wait(job.packer.write(&job.backend, full))?;
                    }
                    if repair {
                        job.waiter.wait(crate::verify::unmark(&job.backend, &c.hash))?;
                    }
                    job.counters.objects_written.fetch_add(1, Ordering::Relaxed);
                    job.counters.bytes_written.fetch_add(c.size, Ordering::Relaxed);
                }
            }
            job.progress.advance(c.size);
            chunks.push(c);
            Ok(())
        })
    };
    READ_BUFFER.with_borrow_mut(read)?;
    let entry = FileEntry::new(f.path.clone(), chunks);
    let after = std::fs::symlink_metadata(&f.abs).map_err(StoreError::io(&f.abs))?;
    if entry.size != after.len() || after.modified().ok() != f.meta.modified().ok() {
        return Err(StoreError::Changed { path: f.abs.clone() });
    }
    job.counters.files_read.fetch_add(1, Ordering::Relaxed);
    job.counters.bytes_read.fetch_add(entry.size, Ordering::Relaxed);
    job.cache.lock().expect("stat cache lock").record(&f.abs, &f.meta, &entry);
    Ok(entry)
}
