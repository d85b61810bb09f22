//! Loading: the root file and everything it `use`s.
//!
//! Takes the root's name and text and a [`Loader`] for other files; gives a [`Program`]: every
//! parsed module, each `use` bound to the module it names. Standard modules come from
//! [`crate::stdlib`]; local files are found relative to the file that uses them. Raises E2003,
//! E2004, E2009 and E4004. Reads no file itself: the loader does.

use crate::diag::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::source::{SourceMap, Span};
use crate::stdlib;
use crate::syntax::{self, ast};
use indexmap::IndexMap;

/// Gives the text of a `use`d file, by its path relative to the root's folder.
pub trait Loader {
    fn load(&self, path: &str) -> Result<String, String>;
}

/// A loader that knows no files: for single-file analyses.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, path: &str) -> Result<String, String> {
        Err(format!("`{path}` cannot be read here"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);

#[derive(Debug)]
pub struct Module {
    pub ast: ast::Module,
    /// The module's path (root-relative) or `<stdlib>/NAME.pipe`.
    pub name: String,
    /// `torchx` for a standard module.
    pub stdlib: Option<String>,
    /// `use` bindings of this module: name → module.
    pub uses: IndexMap<String, ModuleId>,
}

#[derive(Debug)]
pub struct Program {
    pub sources: SourceMap,
    pub modules: Vec<Module>,
}

impl Program {
    pub const ROOT: ModuleId = ModuleId(0);

    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0 as usize]
    }

    pub fn root(&self) -> &Module {
        self.module(Self::ROOT)
    }
}

struct Loading<'l> {
    loader: &'l dyn Loader,
    program: Program,
    by_name: IndexMap<String, ModuleId>,
    /// Modules being loaded, for cycle detection.
    stack: Vec<(String, Span)>,
}

/// Parses the root and, transitively, every module it uses.
pub fn load(loader: &dyn Loader, root_name: &str, root_text: &str, diags: &mut Diagnostics) -> Program {
    let mut l = Loading {
        loader,
        program: Program { sources: SourceMap::default(), modules: Vec::new() },
        by_name: IndexMap::new(),
        stack: Vec::new(),
    };
    l.add(root_name.to_string(), root_text.to_string(), None, diags);
    l.program
}

impl Loading<'_> {
    fn add(&mut self, name: String, text: String, stdlib: Option<String>, diags: &mut Diagnostics) -> ModuleId {
        let file = self.program.sources.add(name.clone(), text);
        let (ast, parse_diags) = syntax::parse(file, &self.program.sources.get(file).text);
        diags.extend(parse_diags);
        let id = ModuleId(self.program.modules.len() as u32);
        self.by_name.insert(name.clone(), id);
        if id != Program::ROOT {
            only_templates(&ast, diags);
        }
        let uses: Vec<ast::Use> = ast
            .items
            .iter()
            .filter_map(|it| match &it.kind {
                ast::ItemKind::Use(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        self.program.modules.push(Module { ast, name: name.clone(), stdlib, uses: IndexMap::new() });
        self.stack.push((name.clone(), Span::new(file, 0, 0)));
        for u in uses {
            if let Some(target) = self.resolve_use(&name, &u, diags) {
                self.program.modules[id.0 as usize].uses.insert(u.binding.name.clone(), target);
            }
        }
        self.stack.pop();
        id
    }

    fn resolve_use(&mut self, from: &str, u: &ast::Use, diags: &mut Diagnostics) -> Option<ModuleId> {
        match &u.target {
            ast::UseTarget::Module(m) => {
                let Some(text) = stdlib::source(&m.name) else {
                    let names = stdlib::MODULES.iter().map(|(n, _)| *n);
                    diags.push(
                        Diagnostic::new(Code::E2003, m.span, format!("no standard module named `{}`", m.name))
                            .label("unknown module")
                            .help(did_you_mean(&m.name, names, "The standard modules are: torchx. To use a local file, write `use \"path/to/file.pipe\" as NAME`.")),
                    );
                    return None;
                };
                let name = stdlib::file_name(&m.name);
                if let Some(id) = self.by_name.get(&name) {
                    return Some(*id);
                }
                Some(self.add(name, text.to_string(), Some(m.name.clone()), diags))
            }
            ast::UseTarget::File { path, span } => {
                let target = join(from, path);
                let root = self.by_name.keys().next().map_or("", String::as_str);
                if let Err(why) = usable(path, &target, root) {
                    diags.push(
                        Diagnostic::new(Code::E2004, *span, format!("cannot use `{path}`: {why}"))
                            .label("used here")
                            .help("`use` takes a `.pipe` file in the pipeline's folder or below it: copy the shared templates there (a link that leads outside is refused too)."),
                    );
                    return None;
                }
                if let Some(pos) = self.stack.iter().position(|(n, _)| *n == target) {
                    let chain: Vec<&str> = self.stack[pos..].iter().map(|(n, _)| n.as_str()).collect();
                    diags.push(
                        Diagnostic::new(
                            Code::E4004,
                            *span,
                            format!("`{}` uses itself: {} → {target}", target, chain.join(" → ")),
                        )
                        .label("this use closes the cycle")
                        .help("Move what both files need into a third file that both use."),
                    );
                    return None;
                }
                if let Some(id) = self.by_name.get(&target) {
                    return Some(*id);
                }
                match self.loader.load(&target) {
                    Ok(text) => Some(self.add(target, text, None, diags)),
                    Err(why) => {
                        diags.push(
                            Diagnostic::new(Code::E2004, *span, format!("cannot load `{target}`: {why}"))
                                .label("used here")
                                .help("Check the path: it is relative to the folder of the file that uses it."),
                        );
                        None
                    }
                }
            }
        }
    }
}

/// E2009 for every item of a used file that is not a template or a use.
fn only_templates(m: &ast::Module, diags: &mut Diagnostics) {
    for it in &m.items {
        if matches!(it.kind, ast::ItemKind::Use(_) | ast::ItemKind::Template(_)) {
            continue;
        }
        let span = it.kind.name().map_or(it.span, |n| n.span);
        diags.push(
            Diagnostic::new(Code::E2009, span, format!("a used file defines a {}", it.kind.keyword()))
                .label("only templates can be shared")
                .help("Keep params, inputs, stages and the pipeline block in the pipeline file; share templates."),
        );
    }
}

/// Whether a `use` of `path` (as written), `target` once joined to the using file's folder, may be
/// read: a `.pipe` file that stays inside the root pipeline's folder. `use "/proc/self/environ"`
/// would show a CI's secrets in a snippet, `use "/dev/zero"` never ends, `use "/dev/stdin"` reads
/// the language server's own protocol stream. (The loaders also refuse what is not a regular file,
/// what is too large, and links that lead outside: [`MAX_USED_FILE_BYTES`].)
fn usable(path: &str, target: &str, root: &str) -> Result<(), String> {
    if path.starts_with('/') {
        return Err("the path is absolute".into());
    }
    let root_dir = root.rsplit_once('/').map_or("", |(dir, _)| dir);
    let inside = if root_dir.is_empty() {
        Some(target)
    } else {
        target.strip_prefix(root_dir).and_then(|rest| rest.strip_prefix('/'))
    };
    match inside {
        Some(rest) if !rest.starts_with("../") && rest != ".." && !rest.starts_with('/') => {}
        _ => return Err("the path leads out of the pipeline's folder".into()),
    }
    if !target.ends_with(".pipe") {
        return Err("only `.pipe` files can be used".into());
    }
    Ok(())
}

/// The largest file `use` reads: far more than any template library, far less than a runaway.
pub const MAX_USED_FILE_BYTES: u64 = 4 << 20;

/// `dir(from)/path`, normalised lexically (`a/./b/../c` is `a/c`).
pub fn join(from: &str, path: &str) -> String {
    let base = from.rsplit_once('/').map_or("", |(dir, _)| dir);
    let full = if path.starts_with('/') || base.is_empty() { path.to_string() } else { format!("{base}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for seg in full.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if full.starts_with('/') { format!("/{joined}") } else { joined }
}
