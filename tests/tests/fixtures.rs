//! Fixture cases: `tests/cases/<phase>/<case>/main.pipe`, one snapshot each.
//!
//! Error phases (`syntax`, `names`, `types`, `graph`, `target`) must raise an error of their own
//! phase; `argo` cases must check cleanly and then fail `pipe compile --target argo` with a
//! target (E5xxx) error; `torchx` cases must check cleanly and draw a target warning (W5xxx) from
//! `pipe compile --target torchx`; `lint` cases must raise warnings and no error; `emit` cases must raise
//! nothing, on any target. Every diagnostic code must appear in some case, except those whose
//! example is too large to be a fixture (each has its own test).

use pipe_core::diag::{Code, Severity};
use pipe_core::graph::render;
use pipe_core::syntax;
use pipe_tests::{analyze_dir, argo_diagnostics, rendered, rendered_argo, rendered_torchx, torchx_diagnostics};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Codes whose smallest example is too large to keep as a fixture, with the test raising each:
/// E5007 in `compiler/cli/tests/argo.rs` (`a_pipeline_too_large_for_kubernetes_is_a_compile_error`).
pub const TOO_LARGE_FOR_A_FIXTURE: [Code; 1] = [Code::E5007];

static SEEN: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

fn phase_digit(phase: &str) -> Option<char> {
    Some(match phase {
        "syntax" => '1',
        "names" => '2',
        "types" => '3',
        "graph" => '4',
        "target" => '5',
        _ => return None,
    })
}

#[test]
fn cases() {
    insta::glob!("../cases", "*/*/main.pipe", |path| {
        let dir = path.parent().expect("case folder");
        let phase = dir.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).expect("phase folder");
        let a = analyze_dir(dir);
        let errors: Vec<Code> = a.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
        let warnings = a.diagnostics.iter().filter(|d| d.severity() == Severity::Warning).count();
        let argo = argo_diagnostics(&a);
        let torchx = torchx_diagnostics(&a);
        SEEN.lock().expect("lock").extend(a.diagnostics.iter().chain(&argo).chain(&torchx).map(|d| d.code.as_str()));
        match (phase, phase_digit(phase)) {
            (_, Some(digit)) => assert!(
                errors.iter().any(|c| c.as_str().chars().nth(1) == Some(digit)),
                "{} is a {phase} case but raises {errors:?}",
                dir.display()
            ),
            ("lint", None) => {
                assert!(errors.is_empty() && warnings > 0, "{}: lint cases raise warnings only", dir.display())
            }
            ("emit", None) => {
                assert!(a.diagnostics.is_empty(), "{}: emit cases raise nothing:\n{}", dir.display(), rendered(&a));
                assert!(argo.is_empty(), "{}: emit cases compile to Argo:\n{}", dir.display(), rendered_argo(&a));
            }
            ("argo", None) => {
                assert!(errors.is_empty(), "{}: argo cases check cleanly, but raise {errors:?}", dir.display());
                assert!(
                    argo.iter().any(|d| d.code.as_str().starts_with("E5")),
                    "{}: argo cases fail to compile to Argo with an E5xxx error",
                    dir.display()
                );
            }
            ("torchx", None) => {
                assert!(errors.is_empty(), "{}: torchx cases check cleanly, but raise {errors:?}", dir.display());
                assert!(
                    torchx.iter().any(|d| d.code.as_str().starts_with("W5")),
                    "{}: torchx cases draw a W5xxx warning from `pipe compile --target torchx`",
                    dir.display()
                );
            }
            (other, None) => panic!("unknown phase folder `{other}`"),
        }
        let source = &a.sources().get(pipe_core::source::FileId(0)).text;
        let mut snap = format!("--- source\n{source}--- diagnostics\n{}", rendered(&a));
        if phase == "argo" {
            snap.push_str(&format!("--- argo\n{}", rendered_argo(&a)));
        }
        if phase == "torchx" {
            snap.push_str(&format!("--- torchx\n{}", rendered_torchx(&a)));
        }
        if phase == "syntax" {
            let (module, _) = syntax::parse(pipe_core::source::FileId(0), source);
            snap.push_str(&format!("--- tree\n{}", syntax::tree::print(&module)));
        }
        if phase == "emit" {
            snap.push_str(&format!("--- graph\n{}", render::mermaid(a.pipeline())));
        }
        insta::assert_snapshot!(snap);
    });
    let seen = SEEN.lock().expect("lock");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !TOO_LARGE_FOR_A_FIXTURE.contains(c))
        .map(|c| c.as_str())
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes raised by no fixture: {missing:?}");
}
