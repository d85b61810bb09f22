//! Syntax: text to tree.
//!
//! Takes one file's text; gives its [`ast::Module`] and every syntax diagnostic (E1xxx). Never
//! fails: malformed parts are reported and skipped, so the tree holds everything that parsed.
//! Does not resolve names or check types. The normative grammar is `grammar/GRAMMAR.md`.

pub mod ast;
mod expr;
mod items;
mod lex;
pub mod tree;

pub use items::ITEM_KEYWORDS;
pub(crate) use lex::not_utf8;

use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use ast::{Comment, Module};
use lex::Cx;
use std::cell::RefCell;

/// Parses one file, reporting every syntax error.
pub fn parse(file: FileId, text: &str) -> (Module, Vec<Diagnostic>) {
    let comments = lex::scan_comments(text)
        .into_iter()
        .map(|(start, end, t)| Comment { span: Span::new(file, start, end), text: t.to_string() })
        .collect();
    let cx = Cx { src: text, file, diags: RefCell::new(Vec::new()), comments, depth: Default::default() };
    let items = items::items(&cx, text);
    let diags = cx.diags.into_inner();
    (Module { file, items, comments: cx.comments }, diags)
}

/// The `##` doc comment lines directly above `offset`, joined, without the `##`.
fn doc_before(cx: &Cx<'_>, offset: usize) -> Option<String> {
    let idx = cx.comments.partition_point(|c| (c.span.end as usize) <= offset);
    let mut lines = Vec::new();
    let mut next = offset;
    for c in cx.comments[..idx].iter().rev() {
        let gap = &cx.src[c.span.end as usize..next];
        let is_doc = c.text.starts_with('#');
        let own_line = line_start(cx.src, c.span.start as usize);
        let on_own_line = cx.src[own_line..c.span.start as usize].trim().is_empty();
        if !is_doc || !on_own_line || !gap.trim().is_empty() || gap.matches('\n').count() != 1 {
            break;
        }
        let text = c.text[1..].strip_prefix(' ').unwrap_or(&c.text[1..]);
        lines.push(text.trim_end().to_string());
        next = line_start(cx.src, c.span.start as usize);
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

fn line_start(src: &str, offset: usize) -> usize {
    src[..offset].rfind('\n').map_or(0, |n| n + 1)
}
