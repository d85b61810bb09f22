//! The provenance record of a run (`runs/<run-id>` in the store): what `pipe run` writes and
//! `pipe log` reads, as one typed value.
//!
//! Takes a run's report and its params (or, for a run on a cluster, each stage's [`StagePart`],
//! written by its `commit` step); gives the record, and decodes stored ones, checking the
//! format number first so a record from another pipe version says so instead of reading as
//! missing fields. A store is data anyone could have written: a record that does not decode is an
//! error naming why, never a panic.

use crate::run::{DatumRecord, RunReport, StageStatus};
use pipe_spec::{CommitId, Hash, ResolvedInput};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format number of [`RunRecord`].
pub const RUN_RECORD_FORMAT: u32 = 1;

/// One run of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: u32,
    pub run_id: String,
    pub pipeline: String,
    /// RFC 3339, UTC, to the second.
    pub started: String,
    pub finished: String,
    pub params: BTreeMap<String, String>,
    pub inputs: Vec<ResolvedInput>,
    pub stages: Vec<StageRecord>,
    /// The git commit of the pipeline's file, when it is in a git work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitState>,
    /// The stages of a run on a cluster that have not committed yet (none: the run is whole).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

/// Where the pipeline's file stood in git when the run started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitState {
    /// The commit checked out (`HEAD`).
    pub commit: String,
    /// Whether the pipeline's folder had changes not committed.
    pub dirty: bool,
}

/// A script a stage's command ran, by its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub path: String,
    pub hash: Hash,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub name: String,
    pub status: StageStatus,
    /// The stage's fingerprint (hex): which code, image, env and params it ran with.
    pub fingerprint: String,
    pub output: Option<CommitId>,
    pub processed: usize,
    pub skipped: usize,
    pub failed: usize,
    /// The image the stage ran in, as its spec names it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// The scripts its command ran, by content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<CodeRecord>,
    pub datums: Vec<DatumRecord>,
    /// The datasets it read, each at the commit it read (lineage).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<DatasetRef>,
}

/// A dataset at a version: a repo of the store and the commit read from it (none when an
/// upstream stage made no output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRef {
    pub repo: String,
    pub commit: Option<CommitId>,
}

/// One stage's share of a run on a cluster, stored by its `commit` step: what it knows of the
/// run (the params it was bound with, the inputs its plan resolved) and its stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagePart {
    pub format: u32,
    pub run_id: String,
    pub pipeline: String,
    pub started: String,
    pub finished: String,
    pub params: BTreeMap<String, String>,
    pub inputs: Vec<ResolvedInput>,
    pub stage: StageRecord,
    /// Every stage of the pipeline (from the stage's spec).
    #[serde(default)]
    pub pipeline_stages: Vec<String>,
}

impl StagePart {
    /// A stored part, or why it cannot be read.
    pub fn decode(value: serde_json::Value) -> Result<StagePart, String> {
        decode(value, "a stage's part of a run")
    }
}

impl StageRecord {
    /// The record of a stage's report.
    pub fn of(s: &crate::run::StageReport) -> StageRecord {
        StageRecord {
            name: s.name.clone(),
            status: s.status,
            fingerprint: s.fingerprint.clone(),
            output: s.output,
            processed: s.processed,
            skipped: s.skipped,
            failed: s.failed,
            image: s.image.clone(),
            code: s.code.iter().map(|(path, hash)| CodeRecord { path: path.clone(), hash: *hash }).collect(),
            datums: s.datum_log.clone(),
            reads: s.reads.clone(),
        }
    }

    /// The stage's metrics by name: `METRIC` for a stage of one datum with metrics, `DATUM:METRIC`
    /// when several datums report.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let reporting: Vec<_> = self.datums.iter().filter(|d| !d.metrics.is_empty()).collect();
        let single = reporting.len() == 1;
        reporting
            .iter()
            .flat_map(|d| {
                d.metrics.iter().map(move |(m, v)| (if single { m.clone() } else { format!("{}:{m}", d.datum) }, *v))
            })
            .collect()
    }
}

impl RunRecord {
    /// Every stage's metrics, named `STAGE.METRIC` (or `STAGE.DATUM:METRIC`): the columns of
    /// `pipe log --table` and the metric names an export uses.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        self.stages
            .iter()
            .flat_map(|s| s.metrics().into_iter().map(move |(m, v)| (format!("{}.{m}", s.name), v)))
            .collect()
    }

    /// Whether every stage finished.
    pub fn succeeded(&self) -> bool {
        self.stages.iter().all(|s| s.status == StageStatus::Done)
    }

    /// The record of `report`, a run that started at `started` with `params`.
    pub fn of(
        report: &RunReport,
        started: String,
        params: BTreeMap<String, String>,
        git: Option<GitState>,
    ) -> RunRecord {
        RunRecord {
            format: RUN_RECORD_FORMAT,
            run_id: report.run_id.clone(),
            pipeline: report.pipeline.clone(),
            started,
            finished: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            params,
            inputs: report.inputs.clone(),
            stages: report.stages.iter().map(StageRecord::of).collect(),
            git,
            pending: Vec::new(),
        }
    }

    /// The record of a cluster's run, from its stages' parts (in the order the stages finished):
    /// params and inputs together, the earliest start and the latest finish. `None` for no part.
    pub fn from_parts(mut parts: Vec<StagePart>) -> Option<RunRecord> {
        parts.sort_by(|a, b| (&a.finished, &a.stage.name).cmp(&(&b.finished, &b.stage.name)));
        let first = parts.first()?;
        let mut record = RunRecord {
            format: RUN_RECORD_FORMAT,
            run_id: first.run_id.clone(),
            pipeline: first.pipeline.clone(),
            started: parts.iter().map(|p| p.started.clone()).min()?,
            finished: parts.iter().map(|p| p.finished.clone()).max()?,
            params: BTreeMap::new(),
            inputs: Vec::new(),
            stages: Vec::new(),
            git: None,
            pending: Vec::new(),
        };
        let mut all: Vec<String> = Vec::new();
        for part in parts {
            for name in &part.pipeline_stages {
                if !all.contains(name) {
                    all.push(name.clone());
                }
            }
            record.params.extend(part.params);
            for input in part.inputs {
                if !record.inputs.iter().any(|i| i.name == input.name) {
                    record.inputs.push(input);
                }
            }
            record.stages.push(part.stage);
        }
        record.pending = all.into_iter().filter(|n| !record.stages.iter().any(|s| &s.name == n)).collect();
        Some(record)
    }

    /// A stored record, or why it cannot be read.
    pub fn decode(value: serde_json::Value) -> Result<RunRecord, String> {
        decode(value, "a run record")
    }
}

/// A stored record of this format (`what` it should be), or why it cannot be read: its format
/// number is checked first, so a record of another pipe version says so.
fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, String> {
    match value.get("format").and_then(serde_json::Value::as_u64) {
        Some(f) if f == u64::from(RUN_RECORD_FORMAT) => {
            serde_json::from_value(value).map_err(|e| format!("it is not {what}: {e}"))
        }
        Some(f) => Err(format!(
            "it has format {f}, this pipe reads {RUN_RECORD_FORMAT}: read it with the pipe version that wrote it"
        )),
        None => Err(format!("it has no format number: it is not {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_foreign_one_says_why_it_cannot_be_read() {
        let record = RunRecord {
            format: RUN_RECORD_FORMAT,
            run_id: "r".into(),
            pipeline: "p".into(),
            started: "2026-12-06T00:00:00Z".into(),
            finished: "2026-12-06T00:00:01Z".into(),
            params: BTreeMap::from([("lr".into(), "0.1".into())]),
            inputs: Vec::new(),
            stages: vec![StageRecord {
                name: "s".into(),
                status: StageStatus::Done,
                fingerprint: "ab".into(),
                output: None,
                processed: 1,
                skipped: 0,
                failed: 0,
                image: "python:3.12".into(),
                code: vec![CodeRecord { path: "train.py".into(), hash: Hash::of(b"print(1)") }],
                datums: vec![DatumRecord {
                    failure: None,
                    logs: Vec::new(),
                    metrics: BTreeMap::new(),
                    key: "k".into(),
                    datum: "raw:/a".into(),
                    status: crate::run::DatumStatus::Processed,
                }],
                reads: vec![DatasetRef { repo: "p.in.raw".into(), commit: None }],
            }],
            git: Some(GitState { commit: "0123abc".into(), dirty: true }),
            pending: Vec::new(),
        };
        let value = serde_json::to_value(&record).expect("serialises");
        assert_eq!(value["stages"][0]["status"], "done");
        assert_eq!(value["stages"][0]["datums"][0]["status"], "processed");
        assert_eq!(RunRecord::decode(value.clone()), Ok(record));
        let mut newer = value.clone();
        newer["format"] = 2.into();
        assert!(RunRecord::decode(newer).expect_err("newer").contains("format 2"));
        let mut broken = value;
        broken["stages"] = "many".into();
        assert!(RunRecord::decode(broken).expect_err("broken").contains("not a run record"));
        assert!(RunRecord::decode(serde_json::json!([1])).is_err());
    }
}
