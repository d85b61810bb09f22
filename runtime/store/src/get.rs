//! Materialising a commit (or the part of it a filter selects) into a folder (`pipe data get`).
//!
//! Every object is checked against its hash as it arrives (a damaged one is recorded, see `verify`); a file appears under its name only when
//! all of it was written (a temp file in the same folder, renamed). Paths are checked again here,
//! because a store can be written by anyone: nothing is written outside the target folder or
//! through a symbolic link inside it. A file already there with the wanted content is left as it
//! is; one pipe wrote or read and nobody changed since (the stat cache vouches for it) is
//! replaced; any other is refused, naming it, unless forced: `get` never overwrites a user's edit.
//! Other files in the folder are left alone.

use crate::Progress;
use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::filter::Filter;
use crate::statcache::StatCache;
use crate::workers::{Waiter, map_in_threads};
use pipe_spec::{FileEntry, Manifest, check_path, file_hash};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How to get.
#[derive(Debug, Clone)]
pub struct GetOptions {
    /// Files written at once.
    pub jobs: usize,
    /// Replace files in the way whatever their content (`--force`).
    pub force: bool,
    /// The stat cache that says which files in the target folder pipe wrote and nobody changed.
    pub stat_cache: Option<PathBuf>,
}

impl GetOptions {
    /// For a fresh folder of the runtime's: nothing to protect.
    pub fn fresh(jobs: usize) -> GetOptions {
        GetOptions { jobs, force: true, stat_cache: None }
    }
}

/// What a get wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GetOutcome {
    pub files: usize,
    pub bytes: u64,
}

pub(crate) async fn get_dir(
    backend: &Backend,
    manifest: &Manifest,
    dest: &Path,
    filter: &Filter,
    opts: &GetOptions,
    progress: Arc<dyn Progress>,
) -> Result<GetOutcome> {
    let selected: Vec<FileEntry> = manifest.files.iter().filter(|f| filter.matches(&f.path)).cloned().collect();
    get_files(backend, selected, dest, opts, progress).await
}

/// Writes `selected` into `dest`, each at its path.
pub(crate) async fn get_files(
    backend: &Backend,
    selected: Vec<FileEntry>,
    dest: &Path,
    opts: &GetOptions,
    progress: Arc<dyn Progress>,
) -> Result<GetOutcome> {
    for f in &selected {
        check_path(&f.path).map_err(|e| StoreError::BadPath { path: f.path.clone(), reason: e.to_string() })?;
        let chunks = f.objects();
        let consistent = chunks.iter().map(|c| c.size).sum::<u64>() == f.size
            && (f.chunks.is_empty() || file_hash(&chunks) == f.hash);
        if !consistent {
            return Err(StoreError::Corrupt {
                hash: f.hash,
                path: f.path.clone(),
                detail: "the manifest's chunks do not add up to the file".into(),
            });
        }
    }
    std::fs::create_dir_all(dest).map_err(StoreError::io(dest))?;
    let root = std::path::absolute(dest).map_err(StoreError::io(dest))?;
    let outcome = GetOutcome { files: selected.len(), bytes: selected.iter().map(|f| f.size).sum() };
    progress.start("get", outcome.bytes);
    let (backend, waiter) = (backend.clone(), Waiter::for_backend(backend));
    let bar = progress.clone();
    let (jobs, force) = (opts.jobs, opts.force);
    let cache = Mutex::new(StatCache::load(opts.stat_cache.clone()));
    let cache = tokio::task::spawn_blocking(move || {
        let done = map_in_threads(&selected, jobs, |f| {
            let target = root.join(&f.path);
            match in_the_way(&target, f, force, &cache)? {
                Existing::Same => bar.advance(f.size),
                Existing::Replace => write_file(&backend, &waiter, &root, f, bar.as_ref())?,
            }
            if let Ok(meta) = std::fs::symlink_metadata(&target) {
                cache.lock().unwrap_or_else(|p| p.into_inner()).record_written(&target, &meta, f);
            }
            Ok(())
        });
        done.map(|_| cache)
    })
    .await
    .expect("writing files does not panic")?;
    progress.finish();
    // A cache that cannot be saved only means the next get is more careful.
    let _ = cache.into_inner().unwrap_or_else(|p| p.into_inner()).save();
    Ok(outcome)
}

/// What to do about the file at a target path.
enum Existing {
    /// It already holds the wanted content (or there is nothing): write nothing.
    Same,
    /// Write the file (nothing there, or a copy pipe wrote and nobody changed, or forced).
    Replace,
}

/// Whether `target` may be written with `f`, or holds it already; an error when a file there was
/// changed by someone else since pipe last wrote or read it.
fn in_the_way(target: &Path, f: &FileEntry, force: bool, cache: &Mutex<StatCache>) -> Result<Existing> {
    let Ok(meta) = std::fs::symlink_metadata(target) else { return Ok(Existing::Replace) };
    if !meta.is_file() {
        return Ok(Existing::Replace); // folders and links are refused by `write_file`
    }
    let vouched = cache.lock().unwrap_or_else(|p| p.into_inner()).lookup(target, &meta);
    match vouched {
        Some((hash, _)) if hash == f.hash => return Ok(Existing::Same),
        Some(_) => return Ok(Existing::Replace),
        None => {}
    }
    if meta.len() == f.size && content_hash(target, meta.len())? == f.hash {
        return Ok(Existing::Same);
    }
    if force {
        return Ok(Existing::Replace);
    }
    Err(StoreError::WouldOverwrite { path: target.to_path_buf() })
}

/// The stored hash a file's content would have (see `chunk`).
fn content_hash(path: &Path, size: u64) -> Result<pipe_spec::Hash> {
    let file = std::fs::File::open(path).map_err(StoreError::io(path))?;
    let mut chunks = Vec::new();
    let mut buffer = Vec::new();
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    crate::chunk::chunk(file, size, &mut buffer, io, |c, _| {
        chunks.push(c);
        Ok(())
    })?;
    Ok(FileEntry::new(String::new(), chunks).hash)
}

fn write_file(backend: &Backend, waiter: &Waiter, root: &Path, f: &FileEntry, progress: &dyn Progress) -> Result<()> {
    let target = root.join(&f.path);
    let dir = make_parents(root, &f.path)?;
    let mut tmp = tempfile::Builder::new().prefix(".pipe-get-").tempfile_in(&dir).map_err(StoreError::io(&dir))?;
    for c in f.objects() {
        let bytes = waiter.wait(crate::verify::read_object(backend, &c, &f.path))?;
        tmp.write_all(&bytes).map_err(StoreError::io(tmp.path()))?;
        progress.advance(c.size);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o644);
        tmp.as_file().set_permissions(perms).map_err(StoreError::io(tmp.path()))?;
    }
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir() || m.file_type().is_symlink()) {
        return Err(StoreError::BadPath {
            path: f.path.clone(),
            reason: "the target folder has a folder or symbolic link by that name".into(),
        });
    }
    tmp.persist(&target).map_err(|e| StoreError::Io { path: target.clone(), source: e.error })?;
    Ok(())
}

/// Creates the folders of `path` under `root`, refusing to pass through a symbolic link or a file.
fn make_parents(root: &Path, path: &str) -> Result<PathBuf> {
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(StoreError::BadPath {
                    path: path.into(),
                    reason: format!(
                        "`{}` in the target folder is a file or symbolic link, not a folder",
                        dir.display()
                    ),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(StoreError::Io { path: dir, source: e }),
            },
            Err(e) => return Err(StoreError::Io { path: dir, source: e }),
        }
    }
    Ok(dir)
}
