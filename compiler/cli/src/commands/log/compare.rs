//! Two runs side by side: what changed from one to the other.
//!
//! Takes two run records; gives their differences: params, input commits, and per stage its code
//! (fingerprint), output commit, datum counts and metrics (with the change). Pure: the caller
//! reads the records and prints.

use pipe_runtime::record::{RunRecord, StageRecord};
use std::collections::BTreeMap;

/// One difference between two runs.
#[derive(Debug, serde::Serialize)]
pub(super) struct Change {
    /// `param`, `input`, `stage` (its code: the fingerprint), `output` or `datums` (processed,
    /// reused, failed).
    pub(super) kind: &'static str,
    pub(super) name: String,
    pub(super) from: String,
    pub(super) to: String,
}

/// What differs from run `a` to run `b`: params, input commits, and per stage its fingerprint,
/// output commit and datum counts; `-` for what one run lacks.
pub(super) fn compare(a: &RunRecord, b: &RunRecord) -> Vec<Change> {
    let mut out = Vec::new();
    let mut add = |kind, name: &str, from: Option<String>, to: Option<String>| {
        if from != to {
            let shown = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            out.push(Change { kind, name: name.to_owned(), from: shown(from), to: shown(to) });
        }
    };
    let names = |x: Vec<&String>, y: Vec<&String>| {
        let mut all: Vec<String> = x.into_iter().chain(y).cloned().collect();
        all.sort();
        all.dedup();
        all
    };
    let git = |r: &RunRecord| {
        r.git
            .as_ref()
            .map(|g| format!("{}{}", g.commit.get(..12).unwrap_or(&g.commit), if g.dirty { "+changes" } else { "" }))
    };
    add("code", "git", git(a), git(b));
    for name in names(a.params.keys().collect(), b.params.keys().collect()) {
        add("param", &name, a.params.get(&name).cloned(), b.params.get(&name).cloned());
    }
    let input = |r: &RunRecord, name: &str| {
        r.inputs.iter().find(|i| i.name == name).map(|i| format!("{}@{}", i.repo, i.commit.0.short(12)))
    };
    for name in names(a.inputs.iter().map(|i| &i.name).collect(), b.inputs.iter().map(|i| &i.name).collect()) {
        add("input", &name, input(a, &name), input(b, &name));
    }
    let stage = |r: &RunRecord, name: &str| r.stages.iter().find(|s| s.name == name).cloned();
    for name in names(a.stages.iter().map(|s| &s.name).collect(), b.stages.iter().map(|s| &s.name).collect()) {
        let (x, y) = (stage(a, &name), stage(b, &name));
        let code =
            |s: &Option<StageRecord>| s.as_ref().map(|s| s.fingerprint.get(..12).unwrap_or(&s.fingerprint).to_owned());
        add("stage", &name, code(&x), code(&y));
        let image = |s: &Option<StageRecord>| s.as_ref().map(|s| s.image.clone()).filter(|i| !i.is_empty());
        add("image", &name, image(&x), image(&y));
        let scripts = |s: &Option<StageRecord>| -> BTreeMap<String, String> {
            s.iter().flat_map(|s| s.code.iter().map(|c| (c.path.clone(), c.hash.short(12)))).collect()
        };
        let (before, after) = (scripts(&x), scripts(&y));
        for path in names(before.keys().collect(), after.keys().collect()) {
            add("script", &format!("{name}/{path}"), before.get(&path).cloned(), after.get(&path).cloned());
        }
        let output = |s: &Option<StageRecord>| s.as_ref().and_then(|s| s.output).map(|c| c.0.short(12));
        add("output", &name, output(&x), output(&y));
        let counts = |s: &Option<StageRecord>| {
            s.as_ref().map(|s| format!("{} processed, {} reused, {} failed", s.processed, s.skipped, s.failed))
        };
        add("datums", &name, counts(&x), counts(&y));
        let metrics = |s: &Option<StageRecord>| s.as_ref().map(StageRecord::metrics).unwrap_or_default();
        let (from, to) = (metrics(&x), metrics(&y));
        for metric in names(from.keys().collect(), to.keys().collect()) {
            let (a, b) = (from.get(&metric).copied(), to.get(&metric).copied());
            if a == b {
                continue;
            }
            let to = match (a, b) {
                (Some(a), Some(b)) => Some(format!("{b} ({:+})", b - a)),
                (_, b) => b.map(|b| b.to_string()),
            };
            add("metric", &format!("{name}.{metric}"), a.map(|a| a.to_string()), to);
        }
    }
    out
}
