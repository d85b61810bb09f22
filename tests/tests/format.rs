//! The formatter: idempotent, keeps every comment, changes no meaning, and canonicalises layout.

use pipe_core::format::format;
use pipe_core::source::FileId;
use pipe_core::syntax::{parse, tree};
use pipe_tests::{pipe_files, repo_root};

fn comments(text: &str) -> Vec<String> {
    let (m, _) = parse(FileId(0), text);
    m.comments.iter().map(|c| c.text.trim_end().to_string()).collect()
}

#[test]
fn every_parseable_fixture_formats_idempotently_and_keeps_comments_and_meaning() {
    let mut checked = 0;
    for (path, text) in pipe_files(&repo_root().join("tests/cases")) {
        let Ok(once) = format(&text) else { continue };
        let twice = format(&once).expect("formatted text parses");
        assert_eq!(once, twice, "{path}: formatting is not idempotent");
        assert_eq!(comments(&text), comments(&once), "{path}: comments changed");
        let before = tree::print(&parse(FileId(0), &text).0);
        let after = tree::print(&parse(FileId(0), &once).0);
        assert_eq!(before, after, "{path}: formatting changed the tree");
        checked += 1;
    }
    assert!(checked > 50, "only {checked} fixtures were formatted");
}

#[test]
fn canonical_layout() {
    let messy = "# header\nuse torchx\nparam   epochs:int=3   # epochs\nstage train : torchx.ddp{\nimage=\"x\"\n## the script\nscript = \"t.py\"\n\n\n\nargs=[ \"--e\",\"${epochs}\" ]\nenv = {\n A = \"1\", # a\n BB = \"2\"\n}\n}\nstage b{}\n";
    let expected = "# header\nuse torchx\nparam epochs: int = 3  # epochs\n\nstage train: torchx.ddp {\n  image = \"x\"\n  ## the script\n  script = \"t.py\"\n\n  args = [\"--e\", \"${epochs}\"]\n  env = {\n    A  = \"1\"  # a\n    BB = \"2\"\n  }\n}\n\nstage b {}\n";
    let got = format(messy).expect("parses");
    assert_eq!(got, expected, "got:\n{got}");
}

#[test]
fn refuses_files_with_syntax_errors() {
    let err = format("stage a {\n  image = \n}\n").expect_err("syntax error");
    assert!(err.iter().any(|d| d.code.as_str() == "E1004"));
}

/// Found by the mutation test: a quoted key holding a control character was re-escaped Rust-style
/// (`\u{4}`), which the language does not accept.
#[test]
fn quoted_keys_are_printed_as_written() {
    let text = "pipeline {\n  labels = { \"a\u{4}b\" = \"x\", \"c\\$d\" = \"y\" }\n}\n";
    let once = format(text).expect("parses");
    assert_eq!(once, text);
    assert!(format(&once).is_ok());
}

/// Found by the fuzzer: an unclosed `[` is reported at the `[`, and block recovery resumed from
/// there, so each enclosing level re-parsed everything after it — exponential in the nesting
/// (20 lines took 4 s and 1.2 GB). Recovery now resumes where parsing stopped. The parser's raw
/// diagnostics, before any deduplication, must grow linearly.
#[test]
fn recovery_from_nested_unclosed_delimiters_is_linear() {
    let n = 18;
    let text = format!("stage t {{\n{}", "  tolerations = [{ key = image =\n".repeat(n));
    let (_, diags) = parse(FileId(0), &text);
    assert!(diags.len() <= 4 * n, "{} diagnostics for {n} lines", diags.len());
}

/// A field name of 65,536 characters made `fmt` panic: `format!`'s `{:<width$}` refuses widths past
/// 65,535. Names that long are odd, not wrong; the layout pads by hand.
#[test]
fn a_field_name_longer_than_a_format_width_is_aligned_without_a_panic() {
    let long = "a".repeat(65_536);
    let text = format!(
        "template t {{\n  {long}: int = 1\n  b: int = 2\n}}\n\nstage s: t {{\n  image = \"busybox\"\n  {long} = 3\n}}\n"
    );
    let once = format(&text).expect("parses");
    assert!(once.contains(&format!("  image{} = \"busybox\"", " ".repeat(long.len() - 5))), "aligned to the long name");
    assert_eq!(format(&once).expect("parses"), once, "idempotent");
}
