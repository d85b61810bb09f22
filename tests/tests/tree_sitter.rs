//! The tree-sitter grammar (the committed, generated parser) agrees with the compiler: every file
//! the compiler parses without syntax errors parses without ERROR or MISSING nodes, and the
//! highlight query compiles against the grammar.

use pipe_core::source::FileId;
use pipe_tests::{pipe_files, repo_root};

fn parser() -> tree_sitter::Parser {
    let mut p = tree_sitter::Parser::new();
    p.set_language(&tree_sitter_pipe::LANGUAGE.into()).expect("the grammar's ABI matches the runtime");
    p
}

#[test]
fn every_file_the_compiler_parses_cleanly_parses_in_tree_sitter() {
    let mut p = parser();
    let mut checked = 0;
    for folder in ["examples", "stdlib", "tests/cases"] {
        for (path, text) in pipe_files(&repo_root().join(folder)) {
            let (_, diags) = pipe_core::syntax::parse(FileId(0), &text);
            if !diags.is_empty() {
                continue;
            }
            let tree = p.parse(&text, None).expect("a tree");
            assert!(
                !tree.root_node().has_error(),
                "{folder}/{path}: tree-sitter finds an error:\n{}",
                tree.root_node().to_sexp()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} files checked");
}

#[test]
fn syntax_error_fixtures_are_errors_in_tree_sitter_too() {
    let mut p = parser();
    // Tree-sitter is looser than the compiler by design (see grammar.js): it lets a value start on
    // the line after `=` (the compiler's layout rule), it does not check that integers fit in 64
    // bits, it has no nesting limit (its parser is not recursive), and newlines are whitespace to
    // it, so two fields on one line need no separator between them (the compiler's E1004).
    let looser = ["value_on_next_line", "integer_too_large", "values_nested_too_deeply", "two_fields_on_one_line"];
    for (path, text) in pipe_files(&repo_root().join("tests/cases/syntax")) {
        if looser.iter().any(|l| path.starts_with(l)) {
            continue;
        }
        let tree = p.parse(&text, None).expect("a tree");
        assert!(tree.root_node().has_error(), "syntax/{path} is an error for the compiler but not for tree-sitter");
    }
}

#[test]
fn the_highlight_query_compiles_and_captures_keywords() {
    let language: tree_sitter::Language = tree_sitter_pipe::LANGUAGE.into();
    let query =
        tree_sitter::Query::new(&language, tree_sitter_pipe::HIGHLIGHTS_QUERY).expect("highlights.scm compiles");
    for name in ["keyword", "function", "type", "string", "comment", "comment.documentation", "property", "number"] {
        assert!(query.capture_names().contains(&name), "no @{name} capture");
    }
}
