//! What a position in a document refers to.
//!
//! Takes an analysis and a byte offset; gives the symbol there (a definition's name, or a use of
//! one through the checker's references), every definition of the program, and the stage or
//! template block around an offset. Shared by hover, navigation, rename and completion.

use pipe_core::Analysis;
use pipe_core::source::{FileId, Span};
use pipe_core::syntax::ast::{Field, ItemKind, Member, Stage, Template};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymKind {
    Use,
    Param,
    Input,
    Stage,
    Template,
    TemplateField,
}

/// A named definition: a top-level item or a template's field declaration.
#[derive(Debug, Clone)]
pub struct Def {
    pub name: String,
    pub kind: SymKind,
    pub name_span: Span,
    pub item_span: Span,
    pub doc: Option<String>,
}

pub fn definitions(a: &Analysis) -> Vec<Def> {
    let mut out = Vec::new();
    for module in &a.program.modules {
        for item in &module.ast.items {
            let kind = match &item.kind {
                ItemKind::Use(_) => SymKind::Use,
                ItemKind::Param(_) => SymKind::Param,
                ItemKind::Input(_) => SymKind::Input,
                ItemKind::Stage(_) => SymKind::Stage,
                ItemKind::Template(_) => SymKind::Template,
                ItemKind::Pipeline(_) => continue,
            };
            let Some(name) = item.kind.name() else { continue };
            out.push(Def {
                name: name.name.clone(),
                kind,
                name_span: name.span,
                item_span: item.span,
                doc: item.doc.clone(),
            });
            if let ItemKind::Template(t) = &item.kind {
                for m in &t.members {
                    if let Member::Decl(d) = m {
                        out.push(Def {
                            name: d.name.name.clone(),
                            kind: SymKind::TemplateField,
                            name_span: d.name.span,
                            item_span: d.span,
                            doc: d.doc.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

fn contains(span: Span, file: FileId, offset: usize) -> bool {
    span.file == file && (span.start as usize) <= offset && offset <= span.end as usize
}

/// The symbol at `offset`: its name and the span of its definition's name.
pub fn symbol_at(a: &Analysis, file: FileId, offset: usize) -> Option<(String, Span)> {
    if let Some(r) = a.checked.references.iter().find(|r| contains(r.at, file, offset)) {
        return Some((r.name.clone(), r.target));
    }
    definitions(a)
        .into_iter()
        .find(|d| d.kind != SymKind::TemplateField && contains(d.name_span, file, offset))
        .map(|d| (d.name, d.name_span))
}

/// Every span naming the definition at `def`: the definition itself, then each use.
pub fn occurrences(a: &Analysis, def: Span) -> Vec<Span> {
    let mut out = vec![def];
    out.extend(a.checked.references.iter().filter(|r| r.target == def).map(|r| r.at));
    out.sort_by_key(|s| (s.file, s.start));
    out.dedup();
    out
}

/// The root stage whose block contains `offset`.
pub fn stage_around(a: &Analysis, offset: usize) -> Option<&Stage> {
    a.program.root().ast.items.iter().find_map(|item| match &item.kind {
        ItemKind::Stage(s) if contains(s.body.span, FileId(0), offset) && offset > s.body.span.start as usize => {
            Some(s)
        }
        _ => None,
    })
}

/// The template (of the module in `file`) whose block contains `offset`.
pub fn template_around(a: &Analysis, file: FileId, offset: usize) -> Option<&Template> {
    a.program.modules.iter().filter(|m| m.ast.file == file).flat_map(|m| &m.ast.items).find_map(|item| {
        match &item.kind {
            ItemKind::Template(t) if contains(t.span_body, file, offset) && offset > t.span_body.start as usize => {
                Some(t)
            }
            _ => None,
        }
    })
}

/// The field of `fields` whose name is at `offset`.
pub fn field_named_at(fields: &[Field], offset: usize) -> Option<&Field> {
    fields.iter().find(|f| contains(f.name.span, f.name.span.file, offset))
}
