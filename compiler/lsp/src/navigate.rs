//! Go to definition, find references and rename.
//!
//! Takes an analysis and an offset; gives spans (the caller turns them into locations). A `use`d
//! file's path leads to that file. Rename refuses modules, the standard library, names that are not
//! identifiers and names already taken, with a message saying why.

use crate::index::{SymKind, definitions, occurrences, symbol_at};
use pipe_core::Analysis;
use pipe_core::resolve::join;
use pipe_core::source::{FileId, Span};
use pipe_core::syntax::ast::{ItemKind, UseTarget};

pub fn definition(a: &Analysis, file: FileId, offset: usize) -> Option<Span> {
    if let Some((_, def)) = symbol_at(a, file, offset) {
        return Some(def);
    }
    used_file_at(a, file, offset)
}

/// The start of the file named by a `use "…"` path under the cursor.
fn used_file_at(a: &Analysis, file: FileId, offset: usize) -> Option<Span> {
    let module = a.program.modules.iter().find(|m| m.ast.file == file)?;
    module.ast.items.iter().find_map(|item| match &item.kind {
        ItemKind::Use(u) => match &u.target {
            UseTarget::File { path, span } if span.start as usize <= offset && offset <= span.end as usize => {
                let target = join(&module.name, path);
                let id = a.sources().find(&target)?;
                Some(Span::new(id, 0, 0))
            }
            _ => None,
        },
        _ => None,
    })
}

pub fn references(a: &Analysis, file: FileId, offset: usize, include_declaration: bool) -> Vec<Span> {
    let Some((_, def)) = symbol_at(a, file, offset) else { return Vec::new() };
    occurrences(a, def).into_iter().filter(|s| include_declaration || *s != def).collect()
}

/// The span of the renameable name at `offset`, or why it cannot be renamed.
pub fn prepare_rename(a: &Analysis, file: FileId, offset: usize) -> Result<(Span, String), String> {
    let (name, def) = symbol_at(a, file, offset).ok_or("there is no name here to rename")?;
    let defs = definitions(a);
    let d = defs.iter().find(|d| d.name_span == def).ok_or("this name has no definition")?;
    if d.kind == SymKind::Use {
        return Err("modules cannot be renamed here; change the `use … as NAME` alias instead".into());
    }
    if a.sources().get(def.file).name.starts_with("<stdlib>") {
        return Err(format!("`{name}` is defined in the standard library"));
    }
    let at = a
        .checked
        .references
        .iter()
        .map(|r| r.at)
        .chain([def])
        .find(|s| s.file == file && s.start as usize <= offset && offset <= s.end as usize)
        .unwrap_or(def);
    Ok((at, name))
}

/// Every edit a rename makes: (span, new text).
pub fn rename(a: &Analysis, file: FileId, offset: usize, new_name: &str) -> Result<Vec<Span>, String> {
    let (_, name) = prepare_rename(a, file, offset)?;
    let valid = new_name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("`{new_name}` is not a name: use letters, digits and `_`, not starting with a digit"));
    }
    let (_, def) = symbol_at(a, file, offset).ok_or("there is no name here to rename")?;
    let taken = definitions(a).into_iter().any(|d| {
        d.name == new_name && d.name_span.file == def.file && d.kind != SymKind::TemplateField && d.name != name
    });
    if taken {
        return Err(format!("`{new_name}` is already defined"));
    }
    Ok(occurrences(a, def))
}
