//! Completion: what may be typed at the cursor.
//!
//! Takes an analysis of the document and an offset in it; gives candidates for the place: item
//! keywords at the top level, the fields a stage's template accepts (those not yet set), params,
//! datasets inside `glob(`, datum functions, units after a number, templates after `stage x:`,
//! types after `param x:`, params inside `${`. The place is read from the analysis (which block
//! the cursor is in) and the text of the line before the cursor, so half-typed lines work.

use crate::hover::FUNCTION_DOCS;
use crate::index::{SymKind, definitions, stage_around, template_around};
use crate::render::value_text;
use indexmap::IndexMap;
use pipe_core::Analysis;
use pipe_core::ir::Ty;
use pipe_core::source::FileId;
use pipe_core::syntax::ITEM_KEYWORDS;
use pipe_core::syntax::ast::ItemKind;
use pipe_core::types::FieldInfo;
use pipe_core::types::schema::pipeline_schema;
use tower_lsp_server::ls_types::{CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind};

const DURATION_UNITS: [&str; 5] = ["ms", "s", "m", "h", "d"];
const QUANTITY_UNITS: [&str; 9] = ["m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"];

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>, doc: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        documentation: doc
            .filter(|d| !d.is_empty())
            .map(|value| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })),
        ..Default::default()
    }
}

pub fn complete(a: &Analysis, offset: usize) -> Vec<CompletionItem> {
    let text = &a.sources().get(FileId(0)).text;
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let prefix = &text[text[..offset].rfind('\n').map_or(0, |n| n + 1)..offset];
    let word_len = prefix.len() - prefix.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
    let word = &prefix[prefix.len() - word_len..];
    // In `6h` the word being typed is the unit: the number belongs to what comes before.
    let unit_start = word.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(word.len());
    let word_len = if word.starts_with(|c: char| c.is_ascii_digit()) { word_len - unit_start } else { word_len };
    let before = &prefix[..prefix.len() - word_len];
    let trimmed = before.trim_start();

    if let (Some(open), close) = (prefix.rfind("${"), prefix.rfind('}'))
        && close.is_none_or(|c| c < open)
    {
        return params(a, None);
    }
    if let Some(kw) = ["stage ", "template "].iter().find(|kw| trimmed.starts_with(**kw)) {
        return match trimmed[kw.len()..].split_once(':') {
            Some(_) => templates(a),
            None => Vec::new(),
        };
    }
    if trimmed.starts_with("use ") {
        return pipe_core::stdlib::MODULES
            .iter()
            .map(|(n, _)| item(n, CompletionItemKind::MODULE, None, None))
            .collect();
    }
    if trimmed.starts_with("param ") && trimmed.contains(':') && !trimmed.contains('=') {
        return types();
    }
    if let Some(stage) = stage_around(a, offset) {
        let fields = a.checked.schemas.get(&stage.name.name).map(|s| s.fields.clone()).unwrap_or_default();
        let set: Vec<&str> = stage.body.fields.iter().map(|f| f.name.name.as_str()).collect();
        return in_block(a, before, &fields, &set, Some(&stage.name.name));
    }
    if let Some(t) = template_around(a, FileId(0), offset) {
        let fields = a.checked.templates.iter().find(|(s, _)| *s == t.name.span).map(|(_, s)| s.fields.clone());
        if trimmed.contains(':') && !trimmed.contains('=') {
            return types();
        }
        return in_block(a, before, &fields.unwrap_or_default(), &[], None);
    }
    if let Some(b) = a.program.root().ast.items.iter().find_map(|i| match &i.kind {
        ItemKind::Pipeline(b) if b.span.start < offset as u32 && offset as u32 <= b.span.end => Some(b),
        _ => None,
    }) {
        let set: Vec<&str> = b.fields.iter().map(|f| f.name.name.as_str()).collect();
        return in_block(a, before, &pipeline_schema(), &set, None);
    }
    if trimmed.is_empty() && before.len() == before.trim_start().len() {
        return ITEM_KEYWORDS.iter().map(|k| item(k, CompletionItemKind::KEYWORD, None, None)).collect();
    }
    if trimmed.starts_with("input ") && trimmed.contains('=') {
        return ["repo", "dir", "url"].iter().map(|f| function(f)).collect();
    }
    Vec::new()
}

/// Inside `{ … }`: field names at the start of a line, values after `=`.
fn in_block(
    a: &Analysis,
    before: &str,
    fields: &IndexMap<String, FieldInfo>,
    set: &[&str],
    stage: Option<&str>,
) -> Vec<CompletionItem> {
    let Some((key, value)) = before.split_once('=') else {
        if !before.trim().is_empty() {
            return Vec::new();
        }
        return fields
            .iter()
            .filter(|(n, _)| !set.contains(&n.as_str()))
            .map(|(n, info)| {
                let mut c = item(n, CompletionItemKind::FIELD, Some(info.ty.to_string()), Some(info.doc.clone()));
                c.insert_text = Some(format!("{n} = "));
                c
            })
            .collect();
    };
    let ty = fields.get(key.trim()).map(|f| f.ty.clone()).unwrap_or(Ty::Error);
    let value = value.trim_end();
    if value.ends_with(|c: char| c.is_ascii_digit()) {
        let units: &[&str] = match ty {
            Ty::Duration => &DURATION_UNITS,
            Ty::Quantity => &QUANTITY_UNITS,
            _ => &[],
        };
        return units.iter().map(|u| item(u, CompletionItemKind::UNIT, Some(ty.to_string()), None)).collect();
    }
    if value.ends_with("glob(") {
        return datasets(a, stage);
    }
    match ty {
        Ty::Datums => {
            let mut out: Vec<CompletionItem> = ["glob", "cross", "union", "join", "group", "grid", "sample", "points"]
                .iter()
                .map(|f| function(f))
                .collect();
            if value.ends_with('(') || value.ends_with(", ") {
                out.extend(datasets(a, stage));
            }
            out
        }
        Ty::Map(inner) if *inner == Ty::EnvValue => {
            let mut out = vec![function("secret")];
            out.extend(params(a, Some(&Ty::String)));
            out
        }
        Ty::Bool => {
            let mut out: Vec<CompletionItem> =
                ["true", "false"].iter().map(|b| item(b, CompletionItemKind::VALUE, None, None)).collect();
            out.extend(params(a, Some(&ty)));
            out
        }
        ty => params(a, Some(&ty)),
    }
}

fn function(name: &str) -> CompletionItem {
    let doc = FUNCTION_DOCS.iter().find(|(n, _)| *n == name).map(|(_, d)| d.to_string());
    let mut c = item(name, CompletionItemKind::FUNCTION, None, doc);
    c.insert_text = Some(format!("{name}("));
    c
}

/// Root params, of a type that fits `want` when given.
fn params(a: &Analysis, want: Option<&Ty>) -> Vec<CompletionItem> {
    let defaults: IndexMap<&str, String> = a
        .pipeline()
        .params
        .iter()
        .filter_map(|p| p.default.as_ref().map(|d| (p.name.as_str(), value_text(d))))
        .collect();
    let docs = definitions(a);
    a.checked
        .params
        .iter()
        .filter(|(_, ty)| want.is_none_or(|w| ty.fits(w)))
        .map(|(name, ty)| {
            let doc = docs.iter().find(|d| d.kind == SymKind::Param && d.name == *name).and_then(|d| d.doc.clone());
            let detail = match defaults.get(name.as_str()) {
                Some(d) => format!("{ty} = {d}"),
                None => ty.to_string(),
            };
            item(name, CompletionItemKind::VARIABLE, Some(detail), doc)
        })
        .collect()
}

/// Inputs and stages, except the stage being edited.
fn datasets(a: &Analysis, except: Option<&str>) -> Vec<CompletionItem> {
    definitions(a)
        .into_iter()
        .filter(|d| d.name_span.file == FileId(0) && Some(d.name.as_str()) != except)
        .filter_map(|d| match d.kind {
            SymKind::Input => Some(item(&d.name, CompletionItemKind::INTERFACE, Some("input".into()), d.doc)),
            SymKind::Stage => Some(item(&d.name, CompletionItemKind::FUNCTION, Some("stage".into()), d.doc)),
            _ => None,
        })
        .collect()
}

/// Local templates and `module.template` for every `use`d module.
fn templates(a: &Analysis) -> Vec<CompletionItem> {
    let root = a.program.root();
    let mut out = Vec::new();
    for (span, schema) in &a.checked.templates {
        let label = if span.file == FileId(0) {
            schema.name.clone()
        } else {
            let Some((binding, _)) = root.uses.iter().find(|(_, m)| a.program.module(**m).ast.file == span.file) else {
                continue;
            };
            let name = schema.name.rsplit('.').next().unwrap_or(&schema.name);
            format!("{binding}.{name}")
        };
        out.push(item(&label, CompletionItemKind::CLASS, Some("template".into()), schema.doc.clone()));
    }
    out
}

fn types() -> Vec<CompletionItem> {
    Ty::NAMED
        .iter()
        .chain(&["list[string]", "map[string]"])
        .map(|t| item(t, CompletionItemKind::TYPE_PARAMETER, None, None))
        .collect()
}
