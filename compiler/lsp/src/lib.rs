//! pipe-lsp: the language server behind `pipe lsp`.
//!
//! Takes LSP requests; gives diagnostics, hover, definitions, references, completion, document
//! symbols, formatting and rename, all computed from `pipe_core::analyze`, the same analysis as
//! `pipe check`: there is no second analyzer. Positions are byte offsets everywhere except
//! [`line_index`], which speaks UTF-16 to the client. The feature modules are plain functions of an
//! analysis and an offset, so tests call them in-process; [`server`] is the protocol glue.

pub mod complete;
pub mod diagnostics;
mod framing;
pub mod hover;
pub mod index;
pub mod line_index;
pub mod navigate;
mod render;
pub mod server;
pub mod symbols;
pub mod workspace;

pub use server::{Ending, run_stdio};
