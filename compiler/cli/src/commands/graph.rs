//! `pipe graph`: the DAG as DOT, Mermaid or JSON on stdout.

use crate::GraphFormat;
use crate::files::{FsLoader, display_name, read};
use crate::report::{self, Failure, Outcome};
use pipe_core::graph::render;
use std::path::Path;

pub(crate) fn run(path: &Path, format: GraphFormat) -> Outcome {
    let text = read(path).map_err(Failure::Usage)?;
    let analysis = pipe_core::analyze(&FsLoader, &display_name(path), &text);
    if analysis.has_errors() {
        report::print(&analysis.diagnostics, analysis.sources());
        return Err(Failure::error("fix the errors above to see the graph"));
    }
    let p = analysis.pipeline();
    match format {
        GraphFormat::Dot => print!("{}", render::dot(p)),
        GraphFormat::Mermaid => print!("{}", render::mermaid(p)),
        GraphFormat::Json => println!("{}", serde_json::to_string_pretty(&render::json(p)).unwrap_or_default()),
    }
    Ok(())
}
