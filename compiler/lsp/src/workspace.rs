//! Open documents and their analyses.
//!
//! Takes open/change/close events with full or ranged edits; gives each open document's text, line
//! index and latest [`Analysis`]. `use`d files are read from open documents first, then from disk,
//! so an unsaved edit to a shared template shows at once in the files that use it; from disk only
//! as [`read_used_file`] allows, which `pipe`'s own commands read used files with too.

use crate::line_index::LineIndex;
use pipe_core::resolve::MAX_USED_FILE_BYTES;
use pipe_core::{Analysis, Loader};
use std::collections::HashMap;
use tower_lsp_server::ls_types::TextDocumentContentChangeEvent;

#[derive(Debug)]
pub struct Doc {
    pub text: String,
    /// The client's version of the text.
    pub version: i32,
    pub index: LineIndex,
    pub analysis: Analysis,
}

/// Every open document, by file path.
#[derive(Debug, Default)]
pub struct Workspace {
    docs: HashMap<String, Doc>,
}

struct Overlay<'a>(&'a HashMap<String, Doc>);

impl Loader for Overlay<'_> {
    fn load(&self, path: &str) -> Result<String, String> {
        match self.0.get(path) {
            Some(doc) => Ok(doc.text.clone()),
            None => read_used_file(std::path::Path::new(path)),
        }
    }
}

/// A used file from disk: a regular file (not a device, a FIFO or the language server's own stdin),
/// not in `/proc`, `/sys` or `/dev` even through a link (whose "regular" files hold a process's
/// environment, say), at most [`MAX_USED_FILE_BYTES`], UTF-8. (Which paths `use` may name at all
/// is the core's rule: `.pipe` files inside the pipeline's folder.)
pub fn read_used_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let lower = |e: std::io::Error| e.to_string().to_lowercase();
    let real = std::fs::canonicalize(path).map_err(lower)?;
    if ["/proc", "/sys", "/dev"].iter().any(|p| real.starts_with(p)) {
        return Err(format!("it is {}, not a pipeline file", real.display()));
    }
    let meta = std::fs::metadata(&real).map_err(lower)?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_USED_FILE_BYTES {
        return Err(format!("it is {} bytes, more than the {MAX_USED_FILE_BYTES} a used file may be", meta.len()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&real).map_err(lower)?.take(MAX_USED_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(lower)?;
    if bytes.len() as u64 > MAX_USED_FILE_BYTES {
        return Err(format!("it is more than the {MAX_USED_FILE_BYTES} bytes a used file may be"));
    }
    String::from_utf8(bytes).map_err(|e| format!("byte {} is not UTF-8", e.utf8_error().valid_up_to()))
}

impl Workspace {
    pub fn open(&mut self, path: &str, text: String, version: i32) -> &Doc {
        let analysis = pipe_core::analyze(&Overlay(&self.docs), path, &text);
        let doc = Doc { index: LineIndex::new(&text), text, version, analysis };
        self.docs.insert(path.to_string(), doc);
        &self.docs[path]
    }

    /// Applies edits in order (a change without a range replaces the whole text), then reanalyses.
    pub fn change(&mut self, path: &str, changes: Vec<TextDocumentContentChangeEvent>, version: i32) -> Option<&Doc> {
        let mut text = self.docs.get(path)?.text.clone();
        for change in changes {
            match change.range {
                Some(range) => {
                    let index = LineIndex::new(&text);
                    let start = index.offset(&text, range.start);
                    let end = index.offset(&text, range.end).max(start);
                    text.replace_range(start..end, &change.text);
                }
                None => text = change.text,
            }
        }
        Some(self.open(path, text, version))
    }

    pub fn close(&mut self, path: &str) {
        self.docs.remove(path);
    }

    pub fn get(&self, path: &str) -> Option<&Doc> {
        self.docs.get(path)
    }

    /// Paths of open documents other than `path` (to reanalyse after `path` changed).
    pub fn others(&self, path: &str) -> Vec<String> {
        self.docs.keys().filter(|p| *p != path).cloned().collect()
    }

    /// Reanalyses an open document against the current overlay.
    pub fn refresh(&mut self, path: &str) -> Option<&Doc> {
        let doc = self.docs.get(path)?;
        let (text, version) = (doc.text.clone(), doc.version);
        Some(self.open(path, text, version))
    }
}
