//! pipe-core: the `.pipe` language, pure.
//!
//! Takes source texts (through a [`Loader`] for `use`d files); gives a typed pipeline IR, its DAG
//! and diagnostics (E1xxx, E2xxx, E3xxx, E4xxx, W2xxx, W3xxx and E5001–E5006). Does no file, network, environment or terminal IO, so the CLI, the language
//! server and the tests all run the same analysis. Flow:
//! `syntax::parse` → `resolve::load` → `types::check` → `graph::order`, then the targets.
//! [`analyze_bytes`] takes a file's bytes, for files that may not be UTF-8.

pub mod diag;
pub mod emit;
pub mod format;
pub mod graph;
pub mod ir;
pub mod resolve;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub mod target;
pub mod types;

pub use resolve::{Loader, NoFiles};

use diag::{Diagnostic, Diagnostics};
use resolve::Program;
use types::Checked;

/// Everything known about one pipeline file.
#[derive(Debug)]
pub struct Analysis {
    pub program: Program,
    pub checked: Checked,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn pipeline(&self) -> &ir::Pipeline {
        &self.checked.pipeline
    }

    pub fn sources(&self) -> &source::SourceMap {
        &self.program.sources
    }
}

/// [`analyze`] of a file's bytes: a file that is not UTF-8 is analysed as far as it reads, with an
/// E1001 at the first byte that is not (its offset and value), instead of no answer at all.
pub fn analyze_bytes(loader: &dyn Loader, name: &str, bytes: &[u8]) -> Analysis {
    let e = match std::str::from_utf8(bytes) {
        Ok(text) => return analyze(loader, name, text),
        Err(e) => e,
    };
    let text = String::from_utf8_lossy(bytes);
    let mut analysis = analyze(loader, name, &text);
    analysis.diagnostics.push(syntax::not_utf8(source::FileId(0), bytes, e.valid_up_to()));
    analysis.diagnostics.sort_by_key(|d| (d.primary.span.file, d.primary.span.start, d.code));
    analysis
}

/// Analyses a pipeline file: `name` as the user would write it (it names diagnostics and, through
/// its stem, the pipeline), `text` its contents, `loader` for the files it `use`s.
pub fn analyze(loader: &dyn Loader, name: &str, text: &str) -> Analysis {
    let mut diags = Diagnostics::default();
    let program = resolve::load(loader, name, text, &mut diags);
    let stem = name.rsplit('/').next().unwrap_or(name).trim_end_matches(".pipe");
    let mut checked = types::check(&program, &mut diags, stem);
    graph::order(&mut checked.pipeline, &mut diags);
    Analysis { program, checked, diagnostics: diags.into_sorted() }
}
