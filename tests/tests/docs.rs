//! Every diagnostic code has a doc, its example raises it, and its fix does not.

use pipe_core::diag::Code;
use pipe_tests::{analyze_files, argo_diagnostics, torchx_diagnostics};
use std::collections::BTreeMap;

/// (info string, body) of every fenced block in a markdown section.
fn blocks(section: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            out.push((info.trim().to_string(), body.join("\n") + "\n"));
        }
    }
    out
}

/// Files of a section's `pipe` blocks over `base`: the plain block is `main.pipe`.
fn files(section: &str, mut base: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (info, body) in blocks(section) {
        if info == "pipe" {
            base.insert("main.pipe".into(), body);
        } else if let Some(name) = info.strip_prefix("pipe file=") {
            base.insert(name.to_string(), body);
        }
    }
    base
}

#[test]
fn every_code_has_a_doc_whose_example_raises_it() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let doc = code.doc();
        let heading = format!("# {code}: {}", code.title());
        if !doc.starts_with(&heading) {
            failures.push(format!("{code}: the doc must start with `{heading}`"));
            continue;
        }
        let (Some(ex), Some(fix)) = (doc.find("## Example"), doc.find("## Fix")) else {
            failures.push(format!("{code}: the doc needs `## Example` and `## Fix` sections"));
            continue;
        };
        if code == Code::E5007 {
            // Too large to inline; `compiler/cli/tests/argo.rs` raises it from a generated pipeline.
            continue;
        }
        let example = files(&doc[ex..fix], BTreeMap::new());
        if !example.contains_key("main.pipe") {
            failures.push(format!("{code}: the example has no ```pipe block"));
            continue;
        }
        let a = analyze_files("main.pipe", example.clone());
        let codes: Vec<Code> =
            a.diagnostics.iter().chain(&argo_diagnostics(&a)).chain(&torchx_diagnostics(&a)).map(|d| d.code).collect();
        if !codes.contains(&code) {
            failures.push(format!("{code}: the example raises {codes:?}, not {code}"));
        }
        let fixed = files(&doc[fix..], example.clone());
        if fixed != example {
            let a = analyze_files("main.pipe", fixed);
            let argo = argo_diagnostics(&a);
            let torchx = torchx_diagnostics(&a);
            let bad: Vec<String> = a
                .diagnostics
                .iter()
                .chain(&argo)
                .chain(&torchx)
                .filter(|d| d.code == code || d.is_error())
                .map(|d| format!("{} {}", d.code, d.message))
                .collect();
            if !bad.is_empty() {
                failures.push(format!("{code}: the fix still raises {bad:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn codes_are_unique_and_numbered_by_phase() {
    let mut seen = std::collections::HashSet::new();
    for &code in Code::ALL {
        let text = code.as_str();
        assert!(seen.insert(text), "{text} is listed twice");
        assert!(
            text.len() == 5 && text[1..].chars().all(|c| c.is_ascii_digit()),
            "{text} is not a letter and four digits"
        );
        assert!(matches!(&text[1..2], "1" | "2" | "3" | "4" | "5"), "{text} names no phase");
        assert_eq!(Code::parse(&text.to_lowercase()), Some(code));
    }
}
