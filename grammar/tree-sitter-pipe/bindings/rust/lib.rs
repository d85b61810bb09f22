//! The pipe grammar for tree-sitter: the [`LANGUAGE`] and its highlight query.
//!
//! This crate is FFI to the generated C parser, so unlike the rest of the workspace it uses
//! `unsafe` (once, to name the parser's entry point).

use tree_sitter_language::LanguageFn;

unsafe extern "C" {
    fn tree_sitter_pipe() -> *const ();
}

/// The tree-sitter language of `.pipe` files.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_pipe) };

/// `queries/highlights.scm`.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The node types, as generated.
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");
