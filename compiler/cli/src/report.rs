//! Printing diagnostics to the terminal.
//!
//! Takes an analysis; prints each diagnostic with miette (colour when stderr is a terminal and
//! `NO_COLOR` is unset) and a one-line summary.

use pipe_core::diag::{Diagnostic, render};
use pipe_core::source::SourceMap;
use std::io::IsTerminal;

pub(crate) fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(100)
}

pub(crate) fn print(diags: &[Diagnostic], sources: &SourceMap) {
    let colour = colour();
    for d in diags {
        eprint!("{}", render::graphical(d, sources, width(), colour));
        eprintln!();
    }
}

/// "2 errors and 1 warning", or `None` when there is nothing to say.
pub(crate) fn counts(errors: usize, warnings: usize) -> Option<String> {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => None,
        (e, 0) => Some(plural(e, "error")),
        (0, w) => Some(plural(w, "warning")),
        (e, w) => Some(format!("{} and {}", plural(e, "error"), plural(w, "warning"))),
    }
}

pub(crate) fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}");
    2
}
