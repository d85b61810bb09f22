//! Rendering diagnostics for people (miette, graphical) and for tools (JSON).
//!
//! Takes diagnostics and the [`SourceMap`] they point into; gives strings. Labels that point into
//! another file than the primary span are rendered as notes with `file:line:col`, since one
//! miette report shows one source. Does no IO: the caller prints.

use super::{Diagnostic, Label};
use crate::source::SourceMap;
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};
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

/// Lines shown around a report's labels (miette shows one before and one after).
const WINDOW_LINES: usize = 3;

/// The lines of a file around one report's labels, read as miette reads a source: spans and line
/// numbers are the file's own, only the text is cut. miette reads a source from its start, and a
/// copy of the whole file per report made N diagnostics of one file cost N × its size (4,000
/// broken stages: 14.7 s).
struct Window {
    name: String,
    text: String,
    /// Where `text` starts in the file: a byte offset, and a zero-based line.
    start: usize,
    first_line: usize,
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let offset = span.offset().checked_sub(self.start).ok_or(MietteError::OutOfBounds)?;
        let here = self.text.as_str().read_span(&SourceSpan::new(offset.into(), span.len()), before, after)?;
        let whole = SourceSpan::new((here.span().offset() + self.start).into(), here.span().len());
        let contents = MietteSpanContents::new_named(
            self.name.clone(),
            here.data(),
            whole,
            here.line() + self.first_line,
            here.column(),
            here.line_count(),
        );
        Ok(Box::new(contents.with_language("pipe")))
    }
}

/// A diagnostic joined with its source, in the shape miette wants.
struct Report<'a> {
    d: &'a Diagnostic,
    /// `None` when a label sits on a line too long to show.
    source: Option<Window>,
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
        let source = snippets.then(|| {
            let here = all().filter(|l| l.span.file == d.primary.span.file);
            let first = here.clone().map(|l| file.line_col(l.span.start as usize).0).min().unwrap_or(0);
            let last = here.map(|l| file.line_col(l.span.end as usize).0).max().unwrap_or(0);
            let first = first.saturating_sub(WINDOW_LINES);
            let (start, end) = (file.line_start(first), file.line_start(last + WINDOW_LINES + 1));
            Window { name: file.name.clone(), text: file.text[start..end].to_owned(), start, first_line: first }
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::source::Span;

    /// A report shows its lines of the file, numbered as in the file, however far down they are
    /// and however much of the file it was not given.
    #[test]
    fn a_window_of_the_file_renders_as_the_whole_file_would() {
        let text: String = (0..10_000).map(|i| format!("stage s{i} {{ image = \"x\" }}\n")).collect();
        let mut sources = SourceMap::default();
        let file = sources.add("p.pipe", text.clone());
        let line = 9_876;
        let start = text.lines().take(line).map(|l| l.len() + 1).sum::<usize>() + 6;
        let d = Diagnostic::new(Code::E2001, Span::new(file, start, start + 5), "here").label("this one");
        let out = graphical(&d, &sources, 100, false);
        assert!(out.contains("[p.pipe:9877:7]"), "{out}");
        assert!(out.contains("9877 │ stage s9876 {"), "{out}");
        assert!(out.contains("9876 │ stage s9875 {") && out.contains("9878 │ stage s9877 {"), "{out}");
    }
}
