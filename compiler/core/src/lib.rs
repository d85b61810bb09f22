//! pipe-core: the `.pipe` language, pure.
//!
//! Takes source texts (through a [`Loader`] for `use`d files); gives a typed pipeline IR, its DAG
//! and diagnostics. Does no file, network, environment or terminal IO, so the CLI, the language
//! server and the tests all run the same analysis. Flow:
//! `syntax::parse` → `resolve::load` → `types::check` → `graph::order`, then the targets.

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
