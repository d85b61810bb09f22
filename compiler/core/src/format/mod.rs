//! The canonical formatter behind `pipe fmt` and the language server.
//!
//! Takes a file's text; gives it reprinted: two-space indents, one item per line, a blank line
//! around blocks, `=` aligned within runs of fields, lists and records on one line unless they
//! spanned lines before. Every comment is kept, own-line comments before the code they preceded and
//! end-of-line comments after it. Literals are printed as written. Formatting is idempotent. A file
//! with syntax errors is not formatted: its diagnostics are returned instead.

mod printer;

use crate::diag::Diagnostic;
use crate::source::FileId;
use crate::syntax;

/// Formats a file, or gives its syntax errors.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let (module, diags) = syntax::parse(FileId(0), text);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(printer::Printer::new(text, &module.comments).module(&module))
}
