//! Diagnostics in LSP form, grouped by the file they point into.
//!
//! Takes an analysis; gives, for every file of the program, its diagnostics with code, severity,
//! the help sentence, and secondary labels as related information. Unused-name warnings are tagged
//! `UNNECESSARY` so editors fade the name.

use crate::line_index::LineIndex;
use pipe_core::Analysis;
use pipe_core::diag::{Code, Severity};
use std::collections::BTreeMap;
use tower_lsp_server::ls_types::{
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, Location, NumberOrString, Uri,
};

/// (file name → diagnostics) for every file of the analysis, empty lists included.
pub fn by_file(a: &Analysis) -> BTreeMap<String, Vec<Diagnostic>> {
    let mut indexes: BTreeMap<u32, LineIndex> = BTreeMap::new();
    let mut index = |file: pipe_core::source::FileId| {
        indexes.entry(file.0).or_insert_with(|| LineIndex::new(&a.sources().get(file).text)).clone()
    };
    let mut out: BTreeMap<String, Vec<Diagnostic>> = a
        .sources()
        .iter()
        .filter(|(_, f)| !f.name.starts_with("<stdlib>"))
        .map(|(_, f)| (f.name.clone(), Vec::new()))
        .collect();
    for d in &a.diagnostics {
        let file = a.sources().get(d.primary.span.file);
        let range = index(d.primary.span.file).range(&file.text, d.primary.span);
        let related: Vec<DiagnosticRelatedInformation> = d
            .secondary
            .iter()
            .filter_map(|l| {
                let f = a.sources().get(l.span.file);
                let uri = Uri::from_file_path(&f.name)?;
                let range = index(l.span.file).range(&f.text, l.span);
                Some(DiagnosticRelatedInformation { location: Location { uri, range }, message: l.message.clone() })
            })
            .collect();
        let unused = matches!(d.code, Code::W2001 | Code::W2002 | Code::W2003);
        let diagnostic = Diagnostic {
            range,
            severity: Some(match d.severity() {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(d.code.as_str().to_string())),
            source: Some("pipe".into()),
            message: format!("{}\nhelp: {}", d.message, d.help),
            related_information: (!related.is_empty()).then_some(related),
            tags: unused.then(|| vec![DiagnosticTag::UNNECESSARY]),
            ..Default::default()
        };
        out.entry(file.name.clone()).or_default().push(diagnostic);
    }
    out
}
