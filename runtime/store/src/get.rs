//! Materialising a commit (or the part of it a filter selects) into a folder (`pipe data get`).
//!
//! Every object is checked against its hash as it arrives (a damaged one is recorded, see `verify`); a file appears under its name only when
//! all of it was written (a temp file in the same folder, renamed). Paths are checked again here,
//! because a store can be written by anyone: nothing is written outside the target folder or
//! through a symbolic link inside it. Existing files of the same name are replaced; other files
//! in the folder are left alone.

use crate::Progress;
use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::filter::Filter;
use crate::workers::{Waiter, map_in_threads};
use pipe_spec::{FileEntry, Manifest, check_path, file_hash};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    jobs: usize,
    progress: Arc<dyn Progress>,
) -> Result<GetOutcome> {
    let selected: Vec<FileEntry> = manifest.files.iter().filter(|f| filter.matches(&f.path)).cloned().collect();
    get_files(backend, selected, dest, jobs, progress).await
}

/// Writes `selected` into `dest`, each at its path.
pub(crate) async fn get_files(
    backend: &Backend,
    selected: Vec<FileEntry>,
    dest: &Path,
    jobs: usize,
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
    tokio::task::spawn_blocking(move || {
        map_in_threads(&selected, jobs, |f| write_file(&backend, &waiter, &root, f, bar.as_ref()))
    })
    .await
    .expect("writing files does not panic")?;
    progress.finish();
    Ok(outcome)
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
