//! Language-server features as fixtures: `tests/cases/<feature>/<case>.pipe`, each with one cursor
//! marker `‸`, and one snapshot per case of what the feature answers there — hover text,
//! completion labels, or the spans a definition or references point at, drawn as `[…]` in the
//! text. Add a case by adding a file; `cargo insta review` shows its answer.

use pipe_core::source::FileId;
use pipe_lsp::workspace::Workspace;
use pipe_lsp::{complete, hover, navigate};

const CURSOR: char = '‸';

/// The file's text with `[` and `]` around every span, for definition and references.
fn mark(text: &str, spans: &[std::ops::Range<usize>]) -> String {
    let mut out = text.to_string();
    let mut spans = spans.to_vec();
    spans.sort_by_key(|r| std::cmp::Reverse(r.start));
    for r in spans {
        out.insert(r.end, ']');
        out.insert(r.start, '[');
    }
    out
}

fn answer(feature: &str, text: &str, offset: usize) -> String {
    let mut ws = Workspace::default();
    ws.open("/virtual/main.pipe", text.to_string(), 1);
    let a = &ws.get("/virtual/main.pipe").expect("open").analysis;
    let root = FileId(0);
    let in_root = |spans: Vec<pipe_core::source::Span>| -> Vec<std::ops::Range<usize>> {
        spans.into_iter().filter(|s| s.file == root).map(|s| s.range()).collect()
    };
    match feature {
        "hover" => hover::hover(a, root, offset).unwrap_or_else(|| "(no hover)".into()),
        "complete" => {
            let mut labels: Vec<String> = complete::complete(a, offset).into_iter().map(|c| c.label).collect();
            labels.sort();
            labels.join("\n")
        }
        "definition" => mark(text, &in_root(navigate::definition(a, root, offset).into_iter().collect())),
        "references" => mark(text, &in_root(navigate::references(a, root, offset, true))),
        other => panic!("no feature `{other}`: use hover, complete, definition or references"),
    }
}

#[test]
fn cases() {
    insta::glob!("cases/*/*.pipe", |path| {
        let marked = std::fs::read_to_string(path).expect("read");
        let offset = marked.find(CURSOR).unwrap_or_else(|| panic!("{} has no cursor marker ‸", path.display()));
        let text = marked.replacen(CURSOR, "", 1);
        let feature = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).expect("a feature folder");
        insta::assert_snapshot!(format!("{marked}\n---- {feature} ----\n{}", answer(feature, &text, offset)));
    });
}
