//! `pipe check`: every diagnostic of every named file.

use crate::files::{FsLoader, display_name, pipeline_files, read_bytes};
use crate::report::{self, Failure, Outcome};
use pipe_core::diag::render;
use std::path::PathBuf;

pub(crate) fn run(named: &[PathBuf], json: bool) -> Outcome {
    let files = pipeline_files(named).map_err(Failure::Usage)?;
    let mut all_json = Vec::new();
    let (mut errors, mut warnings, mut unreadable) = (0, 0, false);
    for path in &files {
        let bytes = match read_bytes(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                unreadable = true;
                continue;
            }
        };
        let analysis = pipe_core::analyze_bytes(&FsLoader, &display_name(path), &bytes);
        for d in &analysis.diagnostics {
            if d.is_error() { errors += 1 } else { warnings += 1 }
        }
        if json {
            all_json.extend(analysis.diagnostics.iter().map(|d| render::json(d, analysis.sources())));
        } else {
            report::print(&analysis.diagnostics, analysis.sources());
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(all_json));
    } else {
        let n = files.len();
        match report::counts(errors, warnings) {
            Some(c) => eprintln!(
                "{}: {c} in {n} file{}",
                if errors > 0 { "error" } else { "warning" },
                if n == 1 { "" } else { "s" }
            ),
            None if !unreadable => {
                eprintln!("ok: {n} file{} checked", if n == 1 { "" } else { "s" })
            }
            None => {}
        }
    }
    if unreadable {
        Err(Failure::UsageShown)
    } else if errors > 0 {
        Err(Failure::Shown)
    } else {
        Ok(())
    }
}
