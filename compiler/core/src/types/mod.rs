//! Types: names looked up, values checked, templates applied, the IR built.
//!
//! Takes a loaded [`Program`]; gives an [`ir::Pipeline`] plus the references it resolved (for
//! go-to-definition) and the schema of each stage (for hover and completion). Reports into the
//! sink and goes on with `Value::Error`, so every problem of a file shows at once. Raises E2001,
//! E2002, E2005–E2008, E2010, E2011, W2001–W2003, E3001–E3021, W3001–W3004, E4003 (a template
//! inheriting from itself) and, applying `target`'s rules, E5001–E5006. Does not order stages or
//! find cycles between stages (that is `graph`).

mod datums;
mod expr;
pub mod glob;
mod items;
mod members;
pub mod schema;
mod sweeps;
mod templates;
mod triggers;
pub mod units;

pub use schema::{FieldInfo, Schema, StageField};

use crate::ir::{Axis, Datums, GroupArg, JoinArg, Piece, Ty, Value};

use crate::diag::Diagnostics;
use crate::ir;
use crate::resolve::{DefKind, ModuleId, Program, Scope};
use crate::source::Span;
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A name used at `at` that refers to the definition at `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub at: Span,
    pub target: Span,
    pub name: String,
}

/// What the checker learned, besides diagnostics.
#[derive(Debug, Default)]
pub struct Checked {
    pub pipeline: ir::Pipeline,
    pub references: Vec<Reference>,
    /// The schema each root stage was checked against, by stage name.
    pub schemas: IndexMap<String, Arc<Schema>>,
    /// Every root param with its type.
    pub params: IndexMap<String, Ty>,
    /// Every resolved template of every module, by the span of its name.
    pub templates: Vec<(Span, Arc<Schema>)>,
}

/// Checks the root module of a program.
pub fn check(prog: &Program, diags: &mut Diagnostics, fallback_name: &str) -> Checked {
    let scopes = prog.modules.iter().map(|m| Scope::of(&m.ast.items, diags)).collect();
    let mut c = Checker {
        prog,
        diags,
        scopes,
        params: IndexMap::new(),
        used: HashSet::new(),
        templates: HashMap::new(),
        resolving: Vec::new(),
        references: Vec::new(),
        reads: Vec::new(),
        roles: Vec::new(),
    };
    let pipeline = c.root(fallback_name);
    c.warn_unused();
    let schemas = c.stage_schemas();
    let params = c.params.iter().map(|(n, (t, _))| (n.clone(), t.clone())).collect();
    let mut templates: Vec<(Span, Arc<Schema>)> =
        c.templates.values().flatten().filter_map(|s| s.declared.map(|span| (span, s.clone()))).collect();
    templates.sort_by_key(|(span, _)| (span.file, span.start));
    Checked { pipeline, references: c.references, schemas, params, templates }
}

struct Checker<'p> {
    prog: &'p Program,
    diags: &'p mut Diagnostics,
    scopes: Vec<Scope>,
    /// Root params: name → (type, name span).
    params: IndexMap<String, (Ty, Span)>,
    /// Root names referenced somewhere.
    used: HashSet<String>,
    /// Resolved templates by (module, item index); `None` when broken.
    templates: HashMap<(ModuleId, usize), Option<Arc<Schema>>>,
    /// Templates being resolved, to catch inheritance cycles.
    resolving: Vec<(ModuleId, usize)>,
    references: Vec<Reference>,
    /// Datasets the stage being checked reads: (name, span of the reference).
    reads: Vec<(String, Span)>,
    /// The roles the stage's globs give their datasets: (role, dataset, span of the role).
    roles: Vec<(String, String, Span)>,
}

/// Where a value is being checked: which field (for messages) and whether params are visible.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    field: &'a str,
    params: bool,
}

impl Checker<'_> {
    fn scope(&self, m: ModuleId) -> &Scope {
        &self.scopes[m.0 as usize]
    }

    fn root_scope(&self) -> &Scope {
        self.scope(Program::ROOT)
    }

    fn refer(&mut self, at: Span, target: Span, name: &str) {
        self.references.push(Reference { at, target, name: name.to_string() });
    }

    fn warn_unused(&mut self) {
        use crate::diag::{Code, Diagnostic};
        let defs: Vec<(String, crate::resolve::Def)> =
            self.root_scope().defs.iter().map(|(n, d)| (n.clone(), *d)).collect();
        for (name, def) in defs {
            if self.used.contains(&name) {
                continue;
            }
            let (code, what, help) = match def.kind {
                DefKind::Param => (
                    Code::W2001,
                    "param",
                    "Use it in a field (`${NAME}` in a string, or `NAME` as a value), or remove it.",
                ),
                DefKind::Input => {
                    (Code::W2002, "input", "Read it with `glob(NAME, \"/*\")` in a stage's `datums`, or remove it.")
                }
                DefKind::Use => (
                    Code::W2003,
                    "use of module",
                    "Use one of its templates (`stage x: NAME.template { … }`), or remove the `use`.",
                ),
                _ => continue,
            };
            self.diags.push(
                Diagnostic::new(code, def.span, format!("{what} `{name}` is never used"))
                    .label("unused")
                    .help(help.replace("NAME", &name)),
            );
        }
    }

    fn stage_schemas(&mut self) -> IndexMap<String, Arc<Schema>> {
        let mut out = IndexMap::new();
        let items = &self.prog.root().ast.items;
        for item in items {
            if let crate::syntax::ast::ItemKind::Stage(s) = &item.kind {
                let schema = match &s.template {
                    Some(p) => self.template_quiet(Program::ROOT, p),
                    None => Some(Arc::new(schema::stage_schema())),
                };
                if let Some(schema) = schema {
                    out.insert(s.name.name.clone(), schema);
                }
            }
        }
        out
    }
}
