//! Names: loading used modules and the table of what each module defines.
//!
//! Takes a parsed module; gives its [`Scope`]: every top-level name with what it is and where it
//! is defined. Items share one namespace (a stage and a param cannot both be `train`). Raises
//! E2002 for duplicates; `load` raises the loading codes (E2003, E2004, E2009, E4004). Looking names up in expressions, with
//! "did you mean", is the checker's job since it knows what kind of name each place wants.

mod load;

pub use load::{Loader, MAX_USED_FILE_BYTES, Module, ModuleId, NoFiles, Program, join, load};

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{Item, ItemKind};
use indexmap::IndexMap;

/// What a top-level name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefKind {
    Use,
    Param,
    Input,
    Stage,
    Template,
}

impl DefKind {
    pub fn noun(self) -> &'static str {
        match self {
            DefKind::Use => "module",
            DefKind::Param => "param",
            DefKind::Input => "input",
            DefKind::Stage => "stage",
            DefKind::Template => "template",
        }
    }
}

/// A top-level definition: its kind, the index of its item, and the span of its name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Def {
    pub kind: DefKind,
    pub item: usize,
    pub span: Span,
}

#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub defs: IndexMap<String, Def>,
}

impl Scope {
    /// Builds the table of a module's items, reporting duplicates.
    pub fn of(items: &[Item], diags: &mut Diagnostics) -> Scope {
        let mut defs: IndexMap<String, Def> = IndexMap::new();
        for (index, item) in items.iter().enumerate() {
            let kind = match &item.kind {
                ItemKind::Use(_) => DefKind::Use,
                ItemKind::Param(_) => DefKind::Param,
                ItemKind::Input(_) => DefKind::Input,
                ItemKind::Stage(_) => DefKind::Stage,
                ItemKind::Template(_) => DefKind::Template,
                ItemKind::Pipeline(_) => continue,
            };
            let Some(name) = item.kind.name() else {
                continue;
            };
            if let Some(first) = defs.get(&name.name) {
                diags.push(
                    Diagnostic::new(Code::E2002, name.span, format!("`{}` is defined twice", name.name))
                        .label(format!("second definition, as a {}", kind.noun()))
                        .also(first.span, format!("first defined here, as a {}", first.kind.noun()))
                        .help("Rename one of them; params, inputs, stages and templates share one namespace."),
                );
                continue;
            }
            defs.insert(name.name.clone(), Def { kind, item: index, span: name.span });
        }
        Scope { defs }
    }

    pub fn get(&self, name: &str) -> Option<&Def> {
        self.defs.get(name)
    }

    /// Names of the given kinds, for "did you mean".
    pub fn names_of<'a>(&'a self, kinds: &'a [DefKind]) -> impl Iterator<Item = &'a str> + 'a {
        self.defs.iter().filter(move |(_, d)| kinds.contains(&d.kind)).map(|(n, _)| n.as_str())
    }
}
