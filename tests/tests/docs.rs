//! Every diagnostic code has a doc, its example raises it, and its fix does not.

use pipe_core::diag::Code;
use pipe_tests::{analyze_files, argo_diagnostics, torchx_diagnostics};
use std::collections::{BTreeMap, BTreeSet};

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

/// The codes a module's `//!` header names (ranges like `E5001–E5006` expanded).
fn header_codes(text: &str) -> BTreeSet<String> {
    let header: String = text.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join("\n");
    let words: Vec<&str> = header.split(|c: char| !(c.is_ascii_alphanumeric() || c == '–')).collect();
    let is_code = |w: &str| {
        w.len() == 5 && (w.starts_with('E') || w.starts_with('W')) && w[1..].chars().all(|c| c.is_ascii_digit())
    };
    let mut out = BTreeSet::new();
    for w in words {
        match w.split_once('–') {
            Some((a, b)) if is_code(a) && is_code(b) => {
                let (lo, hi): (u32, u32) = (a[1..].parse().expect("digits"), b[1..].parse().expect("digits"));
                out.extend((lo..=hi).map(|n| format!("{}{n:04}", &a[..1])));
            }
            _ if is_code(w) => {
                out.insert(w.to_owned());
            }
            _ => {}
        }
    }
    out
}

/// The codes a file raises: every `Code::…` outside its tests.
fn raised_codes(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    code.match_indices("Code::")
        .map(|(i, _)| &code[i + 6..])
        .filter_map(|rest| rest.get(..5))
        .filter(|c| (c.starts_with('E') || c.starts_with('W')) && c[1..].chars().all(|d| d.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Each module's header says which codes it raises, and says it right: a file's header names
/// every code raised in that file, a `mod.rs` or `lib.rs` header every code raised in its folder,
/// and no header names a code its crate never raises.
#[test]
fn module_headers_name_the_codes_their_modules_raise() {
    let root = pipe_tests::repo_root();
    let mut failures = Vec::new();
    for dir in ["compiler/core/src", "compiler/argo/src", "compiler/torchx/src"] {
        let mut files: Vec<(std::path::PathBuf, BTreeSet<String>, BTreeSet<String>)> = Vec::new();
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("a folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("utf-8");
                    files.push((path, header_codes(&text), raised_codes(&text)));
                }
            }
        }
        let crate_raised: BTreeSet<String> = files.iter().flat_map(|(_, _, r)| r.iter().cloned()).collect();
        for (path, header, raised) in &files {
            let rel = path.strip_prefix(&root).expect("under root").display().to_string();
            let is_root = path.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs");
            let covers: BTreeSet<String> = if is_root && !header.is_empty() {
                let folder = path.parent().expect("a folder");
                files.iter().filter(|(p, _, _)| p.starts_with(folder)).flat_map(|(_, _, r)| r.iter().cloned()).collect()
            } else {
                raised.clone()
            };
            let unnamed: Vec<&String> = covers.difference(header).collect();
            if !unnamed.is_empty() {
                failures.push(format!("{rel}: raises {unnamed:?} without naming them in its header"));
            }
            let stale: Vec<&String> = header.difference(&crate_raised).collect();
            if !stale.is_empty() {
                failures.push(format!("{rel}: its header names {stale:?}, which nothing raises"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
