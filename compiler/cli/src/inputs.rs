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
/// setting, else the folder `.pipe` beside the pipeline file.
pub(crate) fn store_url(flag: Option<&str>, pipeline: &Pipeline, file: &Path) -> String {
    if let Some(url) = flag {
        return url.to_owned();
    }
    let beside = |rel: &str| file.parent().unwrap_or(Path::new("")).join(rel).to_string_lossy().into_owned();
    match &pipeline.store {
        Some(url) if url.contains("://") || url.starts_with('/') => url.clone(),
        Some(relative) => beside(relative),
        None => beside(".pipe"),
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
