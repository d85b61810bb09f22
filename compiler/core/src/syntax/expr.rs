//! Expressions: literals, lists, records, names, calls and `@` pins.
//!
//! Takes input positioned at an expression; gives an [`Expr`]. Records share the block parser
//! with stage bodies, so a bad entry inside a record is reported and skipped like a bad field.
//! Values nest at most [`MAX_NESTING`] deep (E1009): the parser, the checker and the formatter
//! recurse over them, and thousands of `[` would overflow the stack. Raises E1005 and E1009.

use super::ast::{Arg, Call, Expr, ExprKind, Ident, Path};
use super::items::{block, field};
use super::lex::{
    Cx, Number, PResult, commit, ident, is_ident_start, keyword, number, or_expected, punct, soft, string, ws,
};

/// How deeply values may nest: far beyond any configuration, far below a stack overflow.
pub(super) const MAX_NESTING: u32 = 64;

pub(super) fn expr<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Expr> {
    let depth = cx.depth.get();
    if depth >= MAX_NESTING {
        return Err(nom::Err::Failure(super::lex::PErr {
            at: i,
            stop: None,
            code: crate::diag::Code::E1009,
            expected: String::new(),
            message: Some(format!("values nest more than {MAX_NESTING} levels deep here")),
            help: Some(
                "Flatten the value: no pipeline needs this depth, and a generated one should be generated flatter."
                    .into(),
            ),
        }));
    }
    cx.depth.set(depth + 1);
    let parsed = nested_expr(cx, i);
    cx.depth.set(depth);
    parsed
}

fn nested_expr<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Expr> {
    let (rest, lhs) = primary(cx, i)?;
    let after = ws(rest);
    if let Some(pin) = after.strip_prefix('@') {
        let (rest, rhs) = commit(primary(cx, ws(pin)))?;
        let span = lhs.span.to(rhs.span);
        return Ok((rest, Expr { kind: ExprKind::At(Box::new(lhs), Box::new(rhs)), span }));
    }
    Ok((rest, lhs))
}

fn primary<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Expr> {
    let mk = |kind, rest: &'a str| Ok((rest, Expr { kind, span: cx.span(i, rest) }));
    match i.chars().next() {
        Some('"') => {
            let (rest, s) = string(cx, i)?;
            mk(ExprKind::Str(s), rest)
        }
        Some(c) if c.is_ascii_digit() || c == '-' && i[1..].starts_with(|d: char| d.is_ascii_digit()) => {
            let (rest, n) = number(i)?;
            let kind = match n {
                Number::Int(n) => ExprKind::Int(n),
                Number::Float(f) => ExprKind::Float(f),
                Number::Unit(u) => ExprKind::Unit(u),
            };
            mk(kind, rest)
        }
        Some('[') => list(cx, i),
        Some('{') => {
            let (rest, b) = block(cx, i, field)?;
            mk(ExprKind::Record(b.into()), rest)
        }
        Some(c) if is_ident_start(c) => name_or_call(cx, i),
        _ => soft(i, "a value"),
    }
}

fn list<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Expr> {
    let (mut rest, _) = punct(i, '[')?;
    let mut items = Vec::new();
    loop {
        rest = ws(rest);
        if let Some(r) = rest.strip_prefix(']') {
            return Ok((r, Expr { kind: ExprKind::List(items), span: cx.span(i, r) }));
        }
        if rest.is_empty() {
            return Err(nom::Err::Failure(unclosed(i, '[', rest)));
        }
        let (r, e) = or_expected(expr(cx, rest), rest, "a value or `]`")?;
        items.push(e);
        rest = ws(r);
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None if rest.starts_with(']') => {}
            None if rest.is_empty() => return Err(nom::Err::Failure(unclosed(i, '[', rest))),
            None => return commit(soft(rest, "`,` or `]`")),
        }
    }
}

/// E1005 for a delimiter opened at `open` and never closed.
pub(super) fn unclosed<'a>(open: &'a str, delim: char, at: &'a str) -> super::lex::PErr<'a> {
    let close = match delim {
        '[' => ']',
        '(' => ')',
        _ => '}',
    };
    super::lex::PErr {
        at: open,
        stop: Some(at),
        code: crate::diag::Code::E1005,
        expected: format!("`{close}`"),
        message: Some(format!("unclosed `{delim}`")),
        help: Some(format!(
            "Add `{close}` to close this `{delim}`{}.",
            if at.is_empty() { " before the end of the file" } else { "" }
        )),
    }
}

fn name_or_call<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Expr> {
    if let Ok((rest, _)) = keyword(i, "true") {
        return Ok((rest, Expr { kind: ExprKind::Bool(true), span: cx.span(i, rest) }));
    }
    if let Ok((rest, _)) = keyword(i, "false") {
        return Ok((rest, Expr { kind: ExprKind::Bool(false), span: cx.span(i, rest) }));
    }
    let (rest, first) = ident(cx, i, "a name")?;
    if rest.starts_with('(') {
        let (rest, args) = call_args(cx, rest)?;
        let kind = ExprKind::Call(Call { callee: first, args });
        return Ok((rest, Expr { kind, span: cx.span(i, rest) }));
    }
    let (rest, path) = path_tail(cx, i, first, rest)?;
    Ok((rest, Expr { kind: ExprKind::Name(path), span: cx.span(i, rest) }))
}

/// The `.b.c` after a first identifier.
pub(super) fn path_tail<'a>(cx: &Cx<'a>, start: &'a str, first: Ident, mut rest: &'a str) -> PResult<'a, Path> {
    let mut segments = vec![first];
    while let Some(r) = rest.strip_prefix('.') {
        let (r, seg) = commit(ident(cx, r, "a name after `.`"))?;
        segments.push(seg);
        rest = r;
    }
    Ok((rest, Path { segments, span: cx.span(start, rest) }))
}

pub(super) fn path<'a>(cx: &Cx<'a>, i: &'a str, what: &str) -> PResult<'a, Path> {
    let (rest, first) = ident(cx, i, what)?;
    path_tail(cx, i, first, rest)
}

fn call_args<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Vec<Arg>> {
    let (mut rest, _) = punct(i, '(')?;
    let mut args = Vec::new();
    loop {
        rest = ws(rest);
        if let Some(r) = rest.strip_prefix(')') {
            return Ok((r, args));
        }
        if rest.is_empty() {
            return Err(nom::Err::Failure(unclosed(i, '(', rest)));
        }
        let (r, arg) = commit(argument(cx, rest))?;
        args.push(arg);
        rest = ws(r);
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None if rest.starts_with(')') => {}
            None if rest.is_empty() => return Err(nom::Err::Failure(unclosed(i, '(', rest))),
            None => return commit(soft(rest, "`,` or `)`")),
        }
    }
}

fn argument<'a>(cx: &Cx<'a>, i: &'a str) -> PResult<'a, Arg> {
    if let Ok((r, name)) = ident(cx, i, "an argument")
        && let Some(eq) = ws(r).strip_prefix('=')
    {
        let at = ws(eq);
        let (r, value) = or_expected(expr(cx, at), at, "a value")?;
        return Ok((r, Arg { name: Some(name), value }));
    }
    let (r, value) = or_expected(expr(cx, i), i, "an argument or `)`")?;
    Ok((r, Arg { name: None, value }))
}
