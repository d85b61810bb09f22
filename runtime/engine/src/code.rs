//! A stage's scripts as code: the files its command names (`prep.py` in `python prep.py`) are part
//! of what it computes, on a laptop and on a cluster alike.
//!
//! Takes a stage spec, the pipeline's folder and a store; gives the spec with
//! [`StageSpec::code`] filled (each script stored, so a cluster can fetch it), and, on the cluster
//! side, a folder holding the scripts where the shim runs the command. Both sides key datums with
//! the same fingerprint, since it covers the scripts by content. Does not look inside scripts: a
//! module a script imports is code only if the command names it too.

use pipe_spec::{CodeFile, StageSpec};
use pipe_store::{Quiet, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The arguments of `command` that name a file in `dir`: relative, without `..`, a regular file.
pub fn script_args(command: &[String], dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = command
        .iter()
        .filter(|arg| {
            let p = Path::new(arg.as_str());
            !arg.is_empty() && p.is_relative() && p.components().all(|c| matches!(c, std::path::Component::Normal(_)))
        })
        .map(|arg| (arg.clone(), dir.join(arg)))
        .filter(|(_, path)| path.is_file())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `spec` with its scripts (found in `dir`) stored in `store` and listed in `code`; `spec` as it
/// is when its command names none.
pub async fn with_code(store: &Store, spec: &StageSpec, dir: &Path) -> Result<StageSpec, StoreError> {
    let args = script_args(&spec.command, dir);
    if args.is_empty() {
        return Ok(spec.clone());
    }
    // A copy of just the scripts, at the paths their arguments give, snapshotted like any folder.
    let staging = tempfile::tempdir().map_err(|source| StoreError::Io { path: std::env::temp_dir(), source })?;
    for (arg, path) in &args {
        let to = staging.path().join(arg);
        let io = |source| StoreError::Io { path: path.clone(), source };
        std::fs::create_dir_all(to.parent().unwrap_or(staging.path())).map_err(io)?;
        std::fs::copy(path, &to).map_err(|source| StoreError::Io { path: path.clone(), source })?;
    }
    let snapshot = store.snapshot(staging.path(), Default::default(), None, 4, Arc::new(Quiet)).await?;
    let mut out = spec.clone();
    out.code = snapshot.files.into_iter().map(|file| CodeFile { arg: file.path.clone(), file }).collect();
    Ok(out)
}

/// The folder under `work_root` holding `spec`'s scripts, fetched from `store` the first time;
/// `None` when the spec has none. Every object is verified on the way, as any read from a store.
pub async fn materialize(store: &Store, spec: &StageSpec, work_root: &Path) -> Result<Option<PathBuf>, StoreError> {
    if spec.code.is_empty() {
        return Ok(None);
    }
    let dir = work_root.join("code").join(spec.fingerprint().short(16));
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    let parent = work_root.join("code");
    std::fs::create_dir_all(&parent).map_err(|source| StoreError::Io { path: parent.clone(), source })?;
    let staging = tempfile::tempdir_in(&parent).map_err(|source| StoreError::Io { path: parent.clone(), source })?;
    let files = spec.code.iter().map(|c| c.file.clone()).collect();
    store.get_files(files, staging.path(), 4, Arc::new(Quiet)).await?;
    // Another shard of this pod may have put it there first: either copy is the same.
    let kept = staging.keep();
    match std::fs::rename(&kept, &dir) {
        Ok(()) => Ok(Some(dir)),
        Err(source) => {
            let _ = std::fs::remove_dir_all(&kept);
            if dir.is_dir() { Ok(Some(dir)) } else { Err(StoreError::Io { path: dir, source }) }
        }
    }
}
