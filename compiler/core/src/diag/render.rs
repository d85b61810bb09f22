//! Rendering diagnostics for people (miette, graphical) and for tools (JSON).
//!
//! Takes diagnostics and the [`SourceMap`] they point into; gives strings. Labels that point into
//! another file than the primary span are rendered as notes with `file:line:col`, since one
//! miette report shows one source. Does no IO: the caller prints.

use super::{Diagnostic, Label};
use crate::source::SourceMap;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde_json::{Value, json};
use std::fmt;

/// Renders one diagnostic as miette's graphical report.
pub fn graphical(d: &Diagnostic, sources: &SourceMap, width: usize, colour: bool) -> String {
    let theme = if colour { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(width).with_links(false);
    let report = Report::new(d, sources);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = handler.render_report(&mut out, &report);
    out
}

/// Renders every diagnostic, separated by blank lines, without colour.
pub fn graphical_all(ds: &[Diagnostic], sources: &SourceMap, width: usize) -> String {
    ds.iter().map(|d| graphical(d, sources, width, false)).collect::<Vec<_>>().join("\n")
}

/// The JSON object `pipe check --format json` prints for one diagnostic.
pub fn json(d: &Diagnostic, sources: &SourceMap) -> Value {
    let file = sources.get(d.primary.span.file);
    let (line, column) = file.line_col(d.primary.span.start as usize);
    let (end_line, end_column) = file.line_col(d.primary.span.end as usize);
    let labels: Vec<Value> = std::iter::once(&d.primary).chain(&d.secondary).map(|l| label_json(l, sources)).collect();
    json!({
        "code": d.code.as_str(),
        "severity": d.severity(),
        "message": d.message,
        "file": file.name,
        "span": { "start": d.primary.span.start, "end": d.primary.span.end },
        "line": line + 1,
        "column": column + 1,
        "end_line": end_line + 1,
        "end_column": end_column + 1,
        "help": d.help,
        "labels": labels,
    })
}

fn label_json(l: &Label, sources: &SourceMap) -> Value {
    let file = sources.get(l.span.file);
    let (line, column) = file.line_col(l.span.start as usize);
    json!({
        "file": file.name,
        "span": { "start": l.span.start, "end": l.span.end },
        "line": line + 1,
        "column": column + 1,
        "message": l.message,
    })
}

/// Lines longer than this (bytes) are not shown as snippets: miette's graphical handler panics
/// on columns past 65,535, and a snippet of a minified line helps nobody. The label's
/// `file:line:col` is shown instead.
const LONGEST_SNIPPET_LINE: usize = 4_096;

/// A diagnostic joined with its source, in the shape miette wants.
struct Report<'a> {
    d: &'a Diagnostic,
    /// `None` when a label sits on a line too long to show.
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    notes: String,
}

impl<'a> Report<'a> {
    fn new(d: &'a Diagnostic, sources: &SourceMap) -> Self {
        let file = sources.get(d.primary.span.file);
        let line_len = |offset: usize| {
            let (line, _) = file.line_col(offset);
            let start = file.line_start(line);
            let end = if line + 1 < file.line_count() { file.line_start(line + 1) } else { file.text.len() };
            end.saturating_sub(start)
        };
        let all = || std::iter::once(&d.primary).chain(&d.secondary);
        let snippets = all().filter(|l| l.span.file == d.primary.span.file).all(|l| {
            line_len(l.span.start as usize) <= LONGEST_SNIPPET_LINE
                && line_len(l.span.end as usize) <= LONGEST_SNIPPET_LINE
        });
        let source = snippets.then(|| NamedSource::new(file.name.clone(), file.text.clone()).with_language("pipe"));
        let mut labels = Vec::new();
        let mut notes = Vec::new();
        for (i, l) in all().enumerate() {
            if l.span.file == d.primary.span.file && snippets {
                let text = (!l.message.is_empty()).then(|| l.message.clone());
                let span = SourceSpan::new((l.span.start as usize).into(), l.span.len());
                labels.push(if i == 0 {
                    LabeledSpan::new_primary_with_span(text, span)
                } else {
                    LabeledSpan::new_with_span(text, span)
                });
            } else {
                let other = sources.get(l.span.file);
                let (line, col) = other.line_col(l.span.start as usize);
                notes.push(format!("{}:{}:{}: {}", other.name, line + 1, col + 1, l.message));
            }
        }
        let mut notes = notes.join("\n");
        if !d.help.is_empty() {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&d.help);
        }
        Report { d, source, labels, notes }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report").field("code", &self.d.code).finish()
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity() {
            super::Severity::Error => miette::Severity::Error,
            super::Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        (!self.notes.is_empty()).then(|| Box::new(&self.notes) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}
