//! How a stage runs.
//!
//! Takes nothing; gives [`Kind`], which the checker decides from the standard template at the root
//! of a stage's template chain and every target reads.

use serde::Serialize;

/// How a stage runs, decided by the standard template at the root of its template chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `command` and `args` in `image`, once per datum.
    Container,
    /// `torchx.python`: `python SCRIPT ARGS…` once per datum.
    Python,
    /// `torchx.shell`: `sh -c SCRIPT` once per datum.
    Shell,
    /// `torchx.ddp`: `torchrun` on `nnodes` gang-scheduled nodes.
    Ddp,
}

impl Kind {
    /// The kind a standard template defines, by module and name.
    pub fn of_stdlib(module: &str, name: &str) -> Option<Kind> {
        match (module, name) {
            ("torchx", "python") => Some(Kind::Python),
            ("torchx", "shell") => Some(Kind::Shell),
            ("torchx", "ddp") => Some(Kind::Ddp),
            _ => None,
        }
    }

    /// The kind as the language's templates name it (`container` for a plain stage).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Python => "python",
            Kind::Shell => "shell",
            Kind::Ddp => "ddp",
        }
    }
}
