//! Hover: the type and doc of whatever is under the cursor, as markdown.
//!
//! Takes an analysis and an offset in one of its files; gives markdown for params, inputs,
//! stages, templates (with their fields), fields of stages and templates (standard library
//! included), and the datum functions. Gives `None` where there is nothing to say.

use crate::index::{Def, SymKind, definitions, field_named_at, stage_around, symbol_at, template_around};
use crate::render::{field_table, value_text};
use pipe_core::Analysis;
use pipe_core::source::FileId;
use pipe_core::syntax::ast::Member;
use pipe_core::types::Schema;

/// Short docs for the built-in functions.
pub const FUNCTION_DOCS: [(&str, &str); 12] = [
    (
        "glob",
        "`glob(DATASET, \"/pattern\")`: splits an input or a stage's output into datums. `/` is one datum, `/*` one per top-level entry, `(…)` captures for `join` and `group`.",
    ),
    ("cross", "`cross(A, B, …)`: one datum per combination of a datum from each argument."),
    ("union", "`union(A, B, …)`: every datum of every argument."),
    (
        "join",
        "`join(A, B, …)`: one datum per set of datums, one from each argument, whose capture groups are equal. `on = [\"$1$2\", \"$2$1\"]` picks each argument's key captures, in order; `outer = [true, false]` also keeps an argument's datums that have no partner.",
    ),
    (
        "group",
        "`group(A, by = \"$1\")`: one datum per key, holding every datum of `A` with that key; `group(A, B, by = [\"$1\", \"$2\"])` keys each argument on its own captures.",
    ),
    (
        "grid",
        "`grid(lr = [0.1, 0.01], wd = [0, 1e-4])`: one datum per combination of the values of declared params; each datum's command gets its values as `${lr}` and `PIPE_PARAM_LR`, and each point is cached by its values.",
    ),
    (
        "sample",
        "`sample(grid(…), n = 8, seed = 1)`: `n` distinct points of the grid, chosen by `seed`; a larger `n` keeps the points a smaller one chose.",
    ),
    (
        "points",
        "`points(DATASET, \"/grid.json\", params = [lr, wd])`: one datum per point a JSON file of the dataset lists (`[{\"lr\": 0.1, \"wd\": 0}, …]`), read when the stage runs: a grid an earlier stage wrote.",
    ),
    ("secret", "`secret(NAME, KEY)`: a Kubernetes secret's key, passed only as an environment variable."),
    ("repo", "`repo(\"NAME\") @ \"REF\"`: a data repo at a branch, tag or commit (`main` when not pinned)."),
    ("dir", "`dir(\"PATH\")`: a folder beside the pipeline, snapshotted when the pipeline runs."),
    ("url", "`url(\"URL\")`: a file fetched when the pipeline runs."),
];

pub fn hover(a: &Analysis, file: FileId, offset: usize) -> Option<String> {
    if let Some((_, def)) = symbol_at(a, file, offset) {
        let defs = definitions(a);
        if let Some(d) = defs.iter().find(|d| d.name_span == def) {
            return Some(describe(a, d));
        }
    }
    if let Some(text) = field_hover(a, file, offset) {
        return Some(text);
    }
    function_hover(a, file, offset)
}

fn code(text: &str) -> String {
    format!("```pipe\n{text}\n```")
}

fn with_doc(head: String, doc: &Option<String>) -> String {
    match doc {
        Some(doc) => format!("{head}\n\n{doc}"),
        None => head,
    }
}

/// The item's first line as written, without its block.
fn header(a: &Analysis, d: &Def) -> String {
    let text = &a.sources().get(d.item_span.file).text[d.item_span.range()];
    let line = text.lines().next().unwrap_or("");
    line.trim_end_matches('{').trim().to_string()
}

fn describe(a: &Analysis, d: &Def) -> String {
    match d.kind {
        SymKind::Param => {
            let ty = a.checked.params.get(&d.name).map(|t| t.to_string()).unwrap_or_default();
            with_doc(format!("{}\n\nparam of type `{ty}`", code(&header(a, d))), &d.doc)
        }
        SymKind::Input | SymKind::Use => with_doc(code(&header(a, d)), &d.doc),
        SymKind::Stage => {
            let mut out = with_doc(code(&header(a, d)), &d.doc);
            if let Some(stage) = a.pipeline().stage(&d.name) {
                out.push_str(&format!("\n\nruns as `{}`", stage.kind.name()));
                if !stage.reads.is_empty() {
                    let reads: Vec<String> = stage.reads.iter().map(|r| format!("`{r}`")).collect();
                    out.push_str(&format!("; reads {}", reads.join(", ")));
                }
            }
            out
        }
        SymKind::Template => {
            let mut out = with_doc(code(&header(a, d)), &d.doc);
            if let Some((_, schema)) = a.checked.templates.iter().find(|(span, _)| *span == d.name_span) {
                out.push_str(&format!("\n\n{}", field_table(schema, true)));
            }
            out
        }
        SymKind::TemplateField => with_doc(code(&header(a, d)), &d.doc),
    }
}

/// A field name inside a stage (or a default inside a template): its type, default and doc.
fn field_hover(a: &Analysis, file: FileId, offset: usize) -> Option<String> {
    if file == FileId(0)
        && let Some(stage) = stage_around(a, offset)
    {
        let field = field_named_at(&stage.body.fields, offset)?;
        let schema = a.checked.schemas.get(&stage.name.name)?;
        return field_text(schema, &field.name.name);
    }
    let t = template_around(a, file, offset)?;
    let name = t.members.iter().find_map(|m| match m {
        Member::Default(f) if f.name.span.start as usize <= offset && offset <= f.name.span.end as usize => {
            Some(&f.name)
        }
        _ => None,
    })?;
    let schema = a.checked.templates.iter().find(|(span, _)| *span == t.name.span).map(|(_, s)| s)?;
    field_text(schema, &name.name)
}

fn field_text(schema: &Schema, name: &str) -> Option<String> {
    let info = schema.fields.get(name)?;
    let mut out = format!("`{name}: {}`", info.ty);
    if let Some(d) = &info.default {
        out.push_str(&format!(" = `{}`", value_text(d)));
    } else if info.required {
        out.push_str(" (required)");
    }
    out.push_str(&format!(" — field of `{}`", schema.name));
    if !info.doc.is_empty() {
        out.push_str(&format!("\n\n{}", info.doc));
    }
    Some(out)
}

fn function_hover(a: &Analysis, file: FileId, offset: usize) -> Option<String> {
    let text = &a.sources().get(file).text;
    let offset = offset.min(text.len());
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = text[..offset].rfind(|c: char| !is_word(c)).map_or(0, |n| n + 1);
    let end = text[offset..].find(|c: char| !is_word(c)).map_or(text.len(), |n| offset + n);
    let word = text.get(start..end)?;
    if !text[end..].starts_with('(') {
        return None;
    }
    FUNCTION_DOCS.iter().find(|(n, _)| *n == word).map(|(_, doc)| doc.to_string())
}
