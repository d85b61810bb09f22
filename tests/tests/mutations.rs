//! Mutated examples: byte flips, deletions, insertions and truncations of every example file, and
//! rarer hostile edits (nesting past the limit, 70,000-character lines and names, invalid UTF-8).
//!
//! Neither the analysis nor the formatter may panic; every diagnostic must carry a documented code,
//! a message, a help sentence and a span inside its file on character boundaries. The formatter's
//! output, when it gives one, must be stable. `PIPE_MUTATIONS` sets the variants per file
//! (default 1500); a failure names the seed that reproduces it.

use pipe_core::Analysis;
use pipe_tests::{MemLoader, mutate_bytes, pipe_files, repo_root};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn check_diagnostics(a: &Analysis) -> Result<(), String> {
    for d in &a.diagnostics {
        let spans = std::iter::once(&d.primary).chain(&d.secondary);
        for l in spans {
            let f = a.sources().get(l.span.file);
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            if s > e || e > f.text.len() || !f.text.is_char_boundary(s) || !f.text.is_char_boundary(e) {
                return Err(format!(
                    "{}: span {s}..{e} outside `{}` ({} bytes) or off a char boundary",
                    d.code,
                    f.name,
                    f.text.len()
                ));
            }
        }
        if d.message.is_empty() || d.help.is_empty() || d.code.doc().lines().count() < 3 {
            return Err(format!("{} `{}` lacks a message, a help or a doc", d.code, d.message));
        }
    }
    Ok(())
}

fn run_one(files: &BTreeMap<String, String>, root: &str, bytes: &[u8]) -> Result<(), String> {
    let loader = MemLoader { files: files.clone() };
    let a = pipe_core::analyze_bytes(&loader, root, bytes);
    check_diagnostics(&a)?;
    let _ = pipe_core::diag::render::graphical_all(&a.diagnostics, a.sources(), 80);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return if a.diagnostics.iter().any(|d| d.code.as_str() == "E1001") {
            Ok(())
        } else {
            Err("invalid UTF-8 without E1001".into())
        };
    };
    if let Ok(once) = pipe_core::format::format(text) {
        let twice = pipe_core::format::format(&once).map_err(|d| format!("formatted text does not parse: {d:?}"))?;
        if once != twice {
            return Err("formatting is not idempotent".into());
        }
    }
    Ok(())
}

#[test]
fn mutated_examples_never_panic_and_diagnostics_are_well_formed() {
    let per_file: usize = std::env::var("PIPE_MUTATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(1500);
    let mut total = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("examples/") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let files = pipe_files(&dir);
        for (path, original) in &files {
            for seed in 0..per_file as u64 {
                let mut rng = fastrand::Rng::with_seed(seed);
                let bytes = mutate_bytes(&mut rng, original);
                let text = String::from_utf8_lossy(&bytes).into_owned();
                // A used file is read as text; the root keeps its raw bytes.
                let mut mutated = files.clone();
                mutated.insert(path.clone(), text.clone());
                let root =
                    if path == "pipeline.pipe" { bytes.clone() } else { mutated["pipeline.pipe"].clone().into_bytes() };
                let outcome = catch_unwind(AssertUnwindSafe(|| run_one(&mutated, "pipeline.pipe", &root)));
                let problem = match outcome {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(_) => "panicked".to_string(),
                };
                failures.push(format!("{}/{path} seed {seed}: {problem}\n--- text\n{text}", dir.display()));
                total += 1;
            }
            total += per_file;
        }
    }
    assert!(failures.is_empty(), "{} of {total} variants failed; first:\n{}", failures.len(), failures[0]);
    assert!(total >= 4000, "only {total} variants ran");
}
