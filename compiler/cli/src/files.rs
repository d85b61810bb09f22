//! Reading pipeline files from disk for the core.
//!
//! Takes paths; gives texts, a [`Loader`] that reads `use`d files, and the list of `*.pipe` files
//! of the current folder when none are named.

use crate::report::Failure;
use pipe_core::Loader;
use std::path::{Path, PathBuf};

/// Reads `use`d files; their paths arrive already joined to the using file's folder.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FsLoader;

impl Loader for FsLoader {
    fn load(&self, path: &str) -> Result<String, String> {
        pipe_lsp::workspace::read_used_file(Path::new(path))
    }
}

/// The files named, or every `*.pipe` in the current folder.
pub(crate) fn pipeline_files(named: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    if !named.is_empty() {
        return Ok(named.to_vec());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(".")
        .map_err(|e| format!("cannot list the current folder: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pipe"))
        .map(|p| p.strip_prefix("./").map(Path::to_path_buf).unwrap_or(p))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err("no `.pipe` files here; name the files to check, e.g. `pipe check pipeline.pipe`".into());
    }
    Ok(found)
}

/// The file's text, or a message for exit code 2.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    String::from_utf8(read_bytes(path)?).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        format!("`{}` is not UTF-8 text (byte {at} is not): save it as UTF-8", path.display())
    })
}

/// The name the core uses for a path: as the user wrote it, with `/` separators.
pub(crate) fn display_name(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// The file's bytes, or a message for exit code 2. (Text that is not UTF-8 is a diagnostic of
/// [`pipe_core::analyze_bytes`], with its offset.)
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {}", path.display(), e.to_string().to_lowercase()))
}

/// Reads and analyses the pipeline at `path`. When it has errors, prints them and fails with "fix
/// the errors above to {purpose}"; an unreadable file is a usage failure.
pub(crate) fn checked(path: &Path, purpose: &str) -> Result<pipe_core::Analysis, Failure> {
    let bytes = read_bytes(path).map_err(Failure::Usage)?;
    let analysis = pipe_core::analyze_bytes(&FsLoader, &display_name(path), &bytes);
    if analysis.has_errors() {
        crate::report::print(&analysis.diagnostics, analysis.sources());
        return Err(Failure::error(format!("fix the errors above to {purpose}")));
    }
    Ok(analysis)
}

/// `--param NAME=VALUE` arguments as pairs, or a message for exit code 2.
pub(crate) fn param_overrides(params: &[String]) -> Result<Vec<(String, String)>, String> {
    params.iter().map(|p| pipe_spec::parse_param(p)).collect()
}
