//! Printing diagnostics and failures to the terminal.
//!
//! Takes an analysis; prints each diagnostic with miette (colour when stderr is a terminal and
//! `NO_COLOR` is unset) and a one-line summary. Gives [`Failure`], the value every command returns
//! when it does not succeed, which `main` prints once and turns into the exit code.

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

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Already shown (diagnostics, a run's summary, each file's problem): exit 1.
    Shown,
    /// Already shown, and a file or stream named on the command line could not be read: exit 2.
    UsageShown,
    /// What went wrong and, in `help`, what to do next: exit 1.
    Error { message: String, help: Option<String> },
    /// Several problems found before any work started, and what to do about them all: exit 1.
    Problems { messages: Vec<String>, help: String },
    /// The command line, or a file or stream it names, is wrong: exit 2.
    Usage(String),
}

impl Failure {
    pub(crate) fn error(message: impl std::fmt::Display) -> Failure {
        Failure::Error { message: message.to_string(), help: None }
    }

    pub(crate) fn with_help(message: impl std::fmt::Display, help: impl Into<String>) -> Failure {
        Failure::Error { message: message.to_string(), help: Some(help.into()) }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure::Usage(message.into())
    }

    /// Prints what is not shown yet; gives the exit code.
    pub(crate) fn report(self) -> u8 {
        match self {
            Failure::Shown => 1,
            Failure::UsageShown => 2,
            Failure::Error { message, help } => {
                eprintln!("error: {message}");
                if let Some(help) = help {
                    eprintln!("  help: {help}");
                }
                1
            }
            Failure::Problems { messages, help } => {
                for message in messages {
                    eprintln!("error: {message}");
                }
                eprintln!("  help: {help}");
                1
            }
            Failure::Usage(message) => {
                eprintln!("error: {message}");
                2
            }
        }
    }
}

impl From<pipe_store::StoreError> for Failure {
    fn from(e: pipe_store::StoreError) -> Failure {
        let help = e.help();
        Failure::with_help(e, help)
    }
}

impl From<pipe_runtime::run::RunError> for Failure {
    fn from(e: pipe_runtime::run::RunError) -> Failure {
        let help = e.help();
        Failure::with_help(e, help)
    }
}

/// A tokio runtime for a command, or why there is none.
pub(crate) fn runtime(threads: Threads) -> Result<tokio::runtime::Runtime, Failure> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::Many => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build().map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}

/// Whether a command's IO runs on this thread only or on a pool.
pub(crate) enum Threads {
    One,
    Many,
}

/// What a command gives: `Ok` when it did what it was asked.
pub(crate) type Outcome = Result<(), Failure>;
