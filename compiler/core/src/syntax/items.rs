//! Items and blocks, with error recovery.
//!
//! Takes a whole file; gives its items. A malformed item is reported and skipped up to the next
//! line that starts with an item keyword; a malformed field inside a block is reported and
//! skipped to the end of its line, so one pass reports every syntax error of a file. A value must
//! start on the same line as its `=`, which keeps a forgotten value from swallowing the next
//! field. Raises E1003 and E1004 (unclosed delimiters are the expression parser's to report).

use super::ast::*;
use super::expr::{expr, path, unclosed};
use super::lex::{Cx, PErr, PResult, commit, ident, inline_ws, keyword, or_expected, punct, soft, string, ws};
use crate::diag::Code;

pub const ITEM_KEYWORDS: [&str; 6] = ["use", "param", "input", "stage", "template", "pipeline"];

/// Parses every item of a file, recovering after errors.
pub(super) fn items<'a>(cx: &Cx<'a>, mut i: &'a str) -> Vec<Item> {
    let mut out = Vec::new();
    loop {
        i = ws(i);
        if i.is_empty() {
            return out;
        }
        match item(cx, i) {
            Ok((rest, it)) => {
                out.push(it);
                i = rest;
                if let Some(r) = trailing_garbage(cx, i) {
                    i = r;
                }
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                cx.report(cx.diagnostic(&e));
                i = skip_to_next_item(cx, e.resume(i));
            }
            Err(nom::Err::Incomplete(_)) => return out,
        }
    }
}

/// Something left on the line after a complete item.
fn trailing_garbage<'a>(cx: &Cx<'a>, i: &'a str) -> Option<&'a str> {
    let rest = inline_ws(i);
    if rest.is_empty() || rest.starts_with(['\n', '\r', '#']) {
        return None;
    }
    let e = PErr {
        at: rest,
        stop: None,
        code: Code::E1004,
        expected: "the end of the line".into(),
        message: None,
        help: Some("Put each item on its own line.".into()),
    };
    cx.report(cx.diagnostic(&e));
    Some(skip_to_next_item(cx, rest))
}

/// Advances to the next line that starts with an item keyword, or to the end.
fn skip_to_next_item<'a>(cx: &Cx<'a>, at: &'a str) -> &'a str {
    let mut rest = at;
    loop {
        match rest.find('\n') {
            None => return "",
            Some(n) => rest = &rest[n + 1..],
        }
        if starts_item(cx, rest) {
            return rest;
        }
    }
}

/// Whether `i` is at column 0 and starts with an item keyword.
pub(super) fn starts_item(cx: &Cx<'_>, i: &str) -> bool {
    cx.at_line_start(i) && ITEM_KEYWORDS.iter().any(|kw| keyword(i, kw).is_ok())
}

fn item<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Item> {
    let (rest, kind) = if let Ok((r, _)) = keyword(i, "use") {
        commit(use_item(cx, r))?
    } else if let Ok((r, _)) = keyword(i, "param") {
        commit(param(cx, r))?
    } else if let Ok((r, _)) = keyword(i, "input") {
        commit(input(cx, r))?
    } else if let Ok((r, _)) = keyword(i, "stage") {
        commit(stage(cx, r))?
    } else if let Ok((r, _)) = keyword(i, "template") {
        commit(template(cx, r))?
    } else if let Ok((r, _)) = keyword(i, "pipeline") {
        let (r, b) = commit(block(cx, ws(r), field))?;
        (r, ItemKind::Pipeline(b.into()))
    } else {
        return Err(nom::Err::Failure(PErr {
            at: i,
            stop: None,
            code: Code::E1003,
            expected: "an item".into(),
            message: Some(format!("expected an item, found {}", super::lex::describe(i).0)),
            help: Some("Start each item with `use`, `param`, `input`, `stage`, `template` or `pipeline`.".into()),
        }));
    };
    let span = cx.span(i, rest);
    Ok((rest, Item { kind, span, doc: super::doc_before(cx, span.start as usize) }))
}

fn use_item<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, ItemKind> {
    let i = ws(i);
    let (rest, target) = if i.starts_with('"') {
        let (rest, s) = string(cx, i)?;
        let path = s.as_plain().unwrap_or_default();
        (rest, UseTarget::File { path, span: cx.span(i, rest) })
    } else {
        let (rest, m) = ident(cx, i, "a module name or a file path in quotes")?;
        (rest, UseTarget::Module(m))
    };
    let after = ws(rest);
    let alias = match keyword(after, "as") {
        Ok((r, _)) => Some(ident(cx, ws(r), "a name after `as`")?),
        Err(_) => None,
    };
    let (rest, binding, aliased) = match (alias, &target) {
        (Some((r, a)), _) => (r, a, true),
        (None, UseTarget::Module(m)) => (rest, m.clone(), false),
        (None, UseTarget::File { .. }) => {
            return Err(nom::Err::Failure(PErr {
                at: after,
                stop: None,
                code: Code::E1004,
                expected: "`as NAME`".into(),
                message: None,
                help: Some("Name the used file: `use \"lib/common.pipe\" as common`.".into()),
            }));
        }
    };
    Ok((rest, ItemKind::Use(Use { target, binding, aliased })))
}

fn param<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, ItemKind> {
    let (rest, name) = ident(cx, ws(i), "a param name")?;
    let (rest, _) = punct(rest, ':')?;
    let (rest, ty) = type_expr(cx, ws(rest))?;
    let (rest, default) = opt_default(cx, rest)?;
    Ok((rest, ItemKind::Param(Param { name, ty, default })))
}

/// `= value` if present.
fn opt_default<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Option<Expr>> {
    let after = inline_ws(i);
    match after.strip_prefix('=') {
        Some(r) => {
            let (r, e) = value(cx, r)?;
            Ok((r, Some(e)))
        }
        None => Ok((i, None)),
    }
}

/// The value after `=`, which must start on the same line.
fn value<'a>(cx: &Cx<'a>, after_eq: &'a str) -> PResult<'a, Expr> {
    let at = inline_ws(after_eq);
    or_expected(expr(cx, at), at, "a value")
}

pub(super) fn type_expr<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, TypeExpr> {
    let (rest, name) = ident(cx, i, "a type")?;
    if matches!(name.name.as_str(), "list" | "map") && rest.starts_with('[') {
        let (r, inner) = commit(type_expr(cx, ws(&rest[1..])))?;
        let (r, _) = commit(punct(r, ']'))?;
        let inner = Box::new(inner);
        let kind = if name.name == "list" { TypeExprKind::List(inner) } else { TypeExprKind::Map(inner) };
        return Ok((r, TypeExpr { kind, span: cx.span(i, r) }));
    }
    Ok((rest, TypeExpr { span: name.span, kind: TypeExprKind::Named(name) }))
}

fn input<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, ItemKind> {
    let (rest, name) = ident(cx, ws(i), "an input name")?;
    let (rest, _) = punct(rest, '=')?;
    let (rest, source) = value(cx, rest)?;
    Ok((rest, ItemKind::Input(Input { name, source })))
}

fn stage<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, ItemKind> {
    let (rest, name) = ident(cx, ws(i), "a stage name")?;
    let (rest, template) = opt_parent(cx, rest)?;
    let (rest, body) = block(cx, ws(rest), field)?;
    Ok((rest, ItemKind::Stage(Stage { name, template, body: body.into() })))
}

fn opt_parent<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Option<Path>> {
    match punct(i, ':') {
        Ok((r, _)) => {
            let (r, p) = path(cx, ws(r), "a template name")?;
            Ok((r, Some(p)))
        }
        Err(_) => Ok((i, None)),
    }
}

fn template<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, ItemKind> {
    let (rest, name) = ident(cx, ws(i), "a template name")?;
    let (rest, parent) = opt_parent(cx, rest)?;
    let body_start = ws(rest);
    let (rest, b) = block(cx, body_start, member)?;
    let t = Template { name, parent, members: b.fields, span_body: b.span };
    Ok((rest, ItemKind::Template(t)))
}

/// A parsed `{ … }` with its entries.
#[derive(Debug)]
pub struct Entries<T> {
    pub fields: Vec<T>,
    pub span: crate::source::Span,
}

impl From<Entries<Field>> for Block {
    fn from(e: Entries<Field>) -> Block {
        Block { fields: e.fields, span: e.span }
    }
}

/// `{ entry… }`: entries separated by newlines or commas; bad entries are reported and skipped.
pub(super) fn block<'a, T>(
    cx: &Cx<'a>,
    i: &'a str,
    entry: fn(&Cx<'a>, &'a str) -> PResult<'a, T>,
) -> PResult<'a, Entries<T>> {
    let Some(mut rest) = i.strip_prefix('{') else {
        return soft(i, "`{`");
    };
    let mut fields = Vec::new();
    loop {
        rest = ws(rest);
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((r, Entries { fields, span: cx.span(i, r) }));
        }
        if rest.is_empty() || starts_item(cx, rest) {
            cx.report(cx.diagnostic(&unclosed(i, '{', rest)));
            return Ok((rest, Entries { fields, span: cx.span(i, rest) }));
        }
        match entry(cx, rest) {
            Ok((r, f)) => {
                fields.push(f);
                rest = inline_ws(r);
                if let Some(r) = rest.strip_prefix([',', ';']) {
                    rest = r;
                } else if !(rest.is_empty() || rest.starts_with(['\n', '\r', '#', '}'])) {
                    let e = PErr {
                        at: rest,
                        stop: None,
                        code: Code::E1004,
                        expected: "a new line, `,` or `}`".into(),
                        message: None,
                        help: Some("Put each field on its own line or separate fields with `,`.".into()),
                    };
                    cx.report(cx.diagnostic(&e));
                    // When another entry follows, read on as if the separator were there: `{ a = 1
                    // b = 2 }` on one line keeps `b` and the closing `}` (skipping the line lost
                    // both, and the block then swallowed the items after it). Anything else is
                    // skipped with its line, reported once.
                    if !starts_entry(rest) {
                        rest = skip_line(rest);
                    }
                }
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                cx.report(cx.diagnostic(&e));
                let at = e.resume(rest);
                rest = if ws(at).starts_with('}') && at.len() < rest.len() { ws(at) } else { skip_line(at) };
            }
            Err(nom::Err::Incomplete(_)) => return soft(rest, "`}`"),
        }
    }
}

/// Whether `i` starts like a block entry: `name =`, `name:` or `"key" =`.
fn starts_entry(i: &str) -> bool {
    let after = if let Some(quoted) = i.strip_prefix('"') {
        match quoted.find('"') {
            Some(end) => &quoted[end + 1..],
            None => return false,
        }
    } else {
        let name = i.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(i.len());
        if name == 0 {
            return false;
        }
        &i[name..]
    };
    inline_ws(after).starts_with(['=', ':'])
}

/// Past the end of the current line (always moves at least one character).
fn skip_line(i: &str) -> &str {
    match i.find('\n') {
        Some(n) => &i[n + 1..],
        None => "",
    }
}

/// `name = value` or `"key" = value`.
pub(super) fn field<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Field> {
    let (rest, name, quoted) = if i.starts_with('"') {
        let (rest, s) = string(cx, i)?;
        let name = Ident { name: s.as_plain().unwrap_or_default(), span: cx.span(i, rest) };
        (rest, name, true)
    } else {
        let (rest, name) = ident(cx, i, "a field name or `}`")?;
        (rest, name, false)
    };
    let (rest, _) = commit(punct(rest, '='))?;
    let (rest, value) = commit(value(cx, rest))?;
    let span = cx.span(i, rest);
    Ok((rest, Field { name, quoted, value, doc: super::doc_before(cx, span.start as usize), span }))
}

/// A template member: `name: type (= default)?` or `name = value`.
fn member<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Member> {
    let (rest, name) = ident(cx, i, "a field name or `}`")?;
    let after = ws(rest);
    if let Some(r) = after.strip_prefix(':') {
        let (r, ty) = commit(type_expr(cx, ws(r)))?;
        let (r, default) = commit(opt_default(cx, r))?;
        let span = cx.span(i, r);
        let doc = super::doc_before(cx, span.start as usize);
        return Ok((r, Member::Decl(FieldDecl { name, ty, default, doc, span })));
    }
    if after.starts_with('=') {
        return field(cx, i).map(|(r, f)| (r, Member::Default(f)));
    }
    commit(soft(after, "`:` (a new field) or `=` (a default)"))
}
