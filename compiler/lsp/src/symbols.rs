//! Document symbols: the outline of a file.
//!
//! Takes an analysis; gives one symbol per item of its root file, with stage fields and template
//! members as children, as (name, detail, kind, full span, name span, children).

use pipe_core::Analysis;
use pipe_core::source::Span;
use pipe_core::syntax::ast::{Field, ItemKind, Member};
use tower_lsp_server::ls_types::SymbolKind;

#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    pub span: Span,
    pub name_span: Span,
    pub children: Vec<Symbol>,
}

fn field(f: &Field) -> Symbol {
    Symbol {
        name: f.name.name.clone(),
        detail: None,
        kind: SymbolKind::FIELD,
        span: f.span,
        name_span: f.name.span,
        children: Vec::new(),
    }
}

pub fn symbols(a: &Analysis) -> Vec<Symbol> {
    let mut out = Vec::new();
    for item in &a.program.root().ast.items {
        let (name, detail, kind, name_span, children) = match &item.kind {
            ItemKind::Use(u) => {
                (u.binding.name.clone(), Some("use".into()), SymbolKind::MODULE, u.binding.span, vec![])
            }
            ItemKind::Param(p) => {
                let ty = a.checked.params.get(&p.name.name).map(|t| t.to_string());
                (p.name.name.clone(), ty, SymbolKind::VARIABLE, p.name.span, vec![])
            }
            ItemKind::Input(i) => {
                (i.name.name.clone(), Some("input".into()), SymbolKind::INTERFACE, i.name.span, vec![])
            }
            ItemKind::Stage(s) => {
                let detail = s.template.as_ref().map(|t| t.text()).unwrap_or_else(|| "stage".into());
                (
                    s.name.name.clone(),
                    Some(detail),
                    SymbolKind::FUNCTION,
                    s.name.span,
                    s.body.fields.iter().map(field).collect(),
                )
            }
            ItemKind::Template(t) => {
                let children = t
                    .members
                    .iter()
                    .map(|m| match m {
                        Member::Decl(d) => Symbol {
                            name: d.name.name.clone(),
                            detail: None,
                            kind: SymbolKind::PROPERTY,
                            span: d.span,
                            name_span: d.name.span,
                            children: Vec::new(),
                        },
                        Member::Default(f) => field(f),
                    })
                    .collect();
                let detail = t.parent.as_ref().map(|p| p.text()).unwrap_or_else(|| "template".into());
                (t.name.name.clone(), Some(detail), SymbolKind::CLASS, t.name.span, children)
            }
            ItemKind::Pipeline(b) => {
                let name_span = Span::new(item.span.file, item.span.start as usize, item.span.start as usize + 8);
                ("pipeline".into(), None, SymbolKind::NAMESPACE, name_span, b.fields.iter().map(field).collect())
            }
        };
        out.push(Symbol { name, detail, kind, span: item.span, name_span, children });
    }
    out
}
