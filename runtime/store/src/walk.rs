//! Lists the regular files of a folder, sorted, with the stored path each will have.
//!
//! Refuses anything a manifest cannot hold or that would not come back the same: symbolic links,
//! devices and sockets, names that are not UTF-8 or not valid stored paths. Skips the `.pipe`
//! folder directly inside the folder, which holds a local store and its state (snapshotting a
//! store into itself never ends); refuses one deeper down rather than drop its files unsaid.

use crate::error::{Result, StoreError};
use pipe_spec::{STORE_FOLDER, check_path};
use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// One file to snapshot.
#[derive(Debug)]
pub(crate) struct Found {
    /// The stored path: relative to the folder, `/`-separated.
    pub path: String,
    pub abs: PathBuf,
    pub meta: Metadata,
}

/// The files under `dir`, sorted by stored path.
pub(crate) fn files(dir: &Path) -> Result<Vec<Found>> {
    let root = std::path::absolute(dir).map_err(StoreError::io(dir))?;
    let meta = std::fs::metadata(&root).map_err(StoreError::io(dir))?;
    if !meta.is_dir() {
        return Err(StoreError::Io { path: dir.into(), source: std::io::Error::other("not a directory") });
    }
    let mut listed: Vec<(String, PathBuf)> = Vec::new();
    let walker = walkdir::WalkDir::new(&root).follow_links(false).into_iter();
    for entry in walker.filter_entry(|e| e.depth() != 1 || e.file_name() != STORE_FOLDER) {
        let entry = entry.map_err(|e| {
            let path = e.path().map_or_else(|| root.clone(), Path::to_path_buf);
            StoreError::Io { path, source: e.into() }
        })?;
        let rel = entry.path().strip_prefix(&root).expect("walkdir yields paths under its root");
        let shown = || rel.display().to_string();
        let kind = entry.file_type();
        if entry.file_name() == STORE_FOLDER {
            return Err(StoreError::BadPath {
                path: shown(),
                reason: "is a `.pipe` folder, where pipe keeps a store and its state, and pipe does not store one; move it out of the folder, or put the folders beside it one by one".into(),
            });
        }
        if kind.is_dir() {
            continue;
        }
        if kind.is_symlink() {
            return Err(StoreError::BadPath {
                path: shown(),
                reason: "is a symbolic link; pipe stores regular files only".into(),
            });
        }
        if !kind.is_file() {
            return Err(StoreError::BadPath { path: shown(), reason: "is not a regular file".into() });
        }
        let parts: Option<Vec<&str>> = rel.iter().map(|c| c.to_str()).collect();
        let path = parts
            .map(|p| p.join("/"))
            .ok_or_else(|| StoreError::BadPath { path: shown(), reason: "the name is not valid UTF-8".into() })?;
        check_path(&path).map_err(|e| StoreError::BadPath { path: shown(), reason: e.to_string() })?;
        listed.push((path, entry.into_path()));
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    // Reading the directory gives each entry's type for free; its metadata (size, mtime, inode)
    // costs a `stat` call per file, the bulk of a walk, so those run on several threads.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per = listed.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Found>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = listed
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(path, abs)| {
                            let meta = std::fs::symlink_metadata(abs).map_err(StoreError::io(abs))?;
                            Ok(Found { path: path.clone(), abs: abs.clone(), meta })
                        })
                        .collect::<Result<Vec<Found>>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("stat threads do not panic")).collect()
    });
    let mut out = Vec::with_capacity(listed.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}
