//! Resolving a pipeline's versioned inputs (`repo(NAME) @ REF`) to commit ids, for everything that
//! must record exactly which data it used: `pipe data resolve` today, runs and compiled manifests
//! as they use it.
//!
//! Takes a checked pipeline and an opened store; gives one [`ResolvedInput`] per repo input, in
//! declaration order. `dir(…)` and `url(…)` inputs are not resolved here: they are snapshotted when
//! the pipeline runs; [`missing_dirs`] says, before anything runs, which `dir(…)` folders are not
//! there.

use pipe_core::ir::{Pipeline, Source};
use pipe_spec::ResolvedInput;
use pipe_store::{Store, StoreError};
use std::path::Path;

/// The store a pipeline uses: `--store`/`PIPE_STORE` if given, else the pipeline's own `store`
/// setting, else the nearest store at or above the pipeline's folder ([`find_store`]), else the
/// folder `.pipe` beside the pipeline file.
pub(crate) fn store_url(flag: Option<&str>, pipeline: &Pipeline, file: &Path) -> String {
    if let Some(url) = flag {
        return url.to_owned();
    }
    let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let beside = |rel: &str| folder.join(rel).to_string_lossy().into_owned();
    match &pipeline.store {
        Some(url) if url.contains("://") || url.starts_with('/') => url.clone(),
        Some(relative) => beside(relative),
        None => find_store(folder).map_or_else(|| beside(".pipe"), |p| p.to_string_lossy().into_owned()),
    }
}

/// The store `pipe data` uses without `--store`: the nearest one at or above the current folder,
/// else `.pipe` here (where `init` creates it).
pub(crate) fn data_store_url() -> String {
    find_store(Path::new(".")).map_or_else(|| ".pipe".to_owned(), |p| p.to_string_lossy().into_owned())
}

/// The nearest folder `.pipe` holding a store (its `repos/`) at or above `start`, looking no
/// further up than a project's root (a folder with `.git`), as git finds its repository: so
/// `pipe data` in the project's root and `pipe run sub/pipeline.pipe` (or `pipe run` in `sub/`)
/// meet in one store.
pub(crate) fn find_store(start: &Path) -> Option<std::path::PathBuf> {
    let start = std::path::absolute(start).ok()?;
    for dir in start.ancestors() {
        let candidate = dir.join(".pipe");
        if candidate.join("repos").is_dir() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

/// Where per-machine state (the stat cache, work folders) lives: `PIPE_STATE_DIR`, else `state/`
/// in a local store's folder, else `fallback`.
pub(crate) fn state_dir(url: &str, fallback: &Path) -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("PIPE_STATE_DIR") {
        return dir.into();
    }
    local_folder(url).map_or_else(|| fallback.to_path_buf(), |folder| folder.join("state"))
}

/// The folder of a local store URL (a path or `file://`); `None` for a cloud store.
pub(crate) fn local_folder(url: &str) -> Option<std::path::PathBuf> {
    match url.split_once("://") {
        None => Some(url.into()),
        Some(("file", path)) => Some(path.into()),
        Some(_) => None,
    }
}

/// Every `repo(…) @ …` input of `pipeline`, resolved against `store`.
pub(crate) async fn resolve(store: &Store, pipeline: &Pipeline) -> Result<Vec<ResolvedInput>, StoreError> {
    let mut out = Vec::new();
    for input in &pipeline.inputs {
        if let Source::Repo { repo, reference } = &input.source {
            let commit = store.resolve(repo, reference).await?;
            out.push(ResolvedInput {
                name: input.name.clone(),
                repo: repo.clone(),
                reference: reference.clone(),
                commit,
            });
        }
    }
    Ok(out)
}

/// Every `dir(…)` input whose folder (relative to `base`, the pipeline's folder) is not there, as
/// one line each naming the input, the path and where it is declared.
pub(crate) fn missing_dirs(analysis: &pipe_core::Analysis, base: &Path) -> Vec<String> {
    let pipeline = analysis.pipeline();
    pipeline
        .inputs
        .iter()
        .filter_map(|input| match &input.source {
            Source::Dir { path } if !base.join(path).is_dir() => {
                let file = analysis.sources().get(input.span.file);
                let (line, col) = file.line_col(input.span.start as usize);
                Some(format!(
                    "input `{}` reads the folder `{path}` ({}:{}:{}), which is not there",
                    input.name,
                    file.name,
                    line + 1,
                    col + 1
                ))
            }
            _ => None,
        })
        .collect()
}

/// The git commit checked out where the pipeline's folder `dir` is, and whether that folder has
/// changes not committed; `None` outside a git work tree or without `git`.
pub(crate) fn git_state(dir: &Path) -> Option<pipe_runtime::record::GitState> {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let changes = git(&["status", "--porcelain", "--", "."])?;
    Some(pipe_runtime::record::GitState { commit, dirty: !changes.is_empty() })
}
