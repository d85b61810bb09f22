//! A run as OpenLineage run events (spec 2-0-2), to an HTTP endpoint or a file of JSON lines.
//!
//! Takes a run record and the store's URL; gives, in order: START of the pipeline's run, then for
//! each stage that ran a START and a COMPLETE (or FAIL, with the first failure's reason as its
//! `errorMessage` facet), then the pipeline's COMPLETE or FAIL. A stage's job is
//! `<pipeline>.<stage>`, its run has the pipeline's run as `parent`, the run's params as
//! `executionParameters` and its start as `nominalTime`; its inputs and output are datasets named
//! by repo in the store's namespace (its URL), versioned by commit id (`version` facet). Run ids
//! are UUIDs derived from the pipe run id, so an event sent again names the same run. A stage
//! that never ran (blocked upstream) has no events. Does not send dataset or job events.

use super::{Auth, SendError, Sink, client, post_json};
use crate::record::{DatasetRef, RunRecord, StageRecord};
use crate::run::StageStatus;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const SPEC: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PARENT: &str = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet";
const NOMINAL_TIME: &str =
    "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet";
const PARAMETERS: &str =
    "https://openlineage.io/spec/facets/1-0-0/ExecutionParametersRunFacet.json#/$defs/ExecutionParametersRunFacet";
const ERROR: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const VERSION: &str =
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";
const JOB_TYPE: &str = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";

/// Where events go.
#[derive(Debug, Clone)]
pub enum LineageSink {
    /// An OpenLineage HTTP endpoint (Marquez: `http://host:5000/api/v1/lineage`), each event a POST.
    Http { url: String, auth: Auth, namespace: String, request_timeout: Duration },
    /// A file the events are appended to, one JSON object per line.
    File { path: PathBuf, namespace: String },
}

impl LineageSink {
    /// A sink for `target`: an `http(s)` URL (OpenLineage's `OPENLINEAGE_URL`; the path
    /// `OPENLINEAGE_ENDPOINT`, else `api/v1/lineage`, is added when the URL has none) or a file
    /// path. The job namespace is `OPENLINEAGE_NAMESPACE`, else `pipe`; the API key
    /// `OPENLINEAGE_API_KEY`, read from `env`.
    pub fn new(target: &str, env: impl Fn(&str) -> Option<String>) -> LineageSink {
        let namespace = env("OPENLINEAGE_NAMESPACE").filter(|n| !n.is_empty()).unwrap_or_else(|| "pipe".into());
        if target.starts_with("http://") || target.starts_with("https://") {
            let base = target.trim_end_matches('/');
            let has_path = base.splitn(4, '/').nth(3).is_some_and(|p| !p.is_empty());
            let url = if has_path {
                base.to_owned()
            } else {
                let endpoint = env("OPENLINEAGE_ENDPOINT").unwrap_or_else(|| "api/v1/lineage".into());
                format!("{base}/{}", endpoint.trim_start_matches('/'))
            };
            let auth = env("OPENLINEAGE_API_KEY").map_or(Auth::None, Auth::Bearer);
            return LineageSink::Http { url, auth, namespace, request_timeout: Duration::from_secs(5) };
        }
        LineageSink::File { path: PathBuf::from(target), namespace }
    }

    fn namespace(&self) -> &str {
        match self {
            LineageSink::Http { namespace, .. } | LineageSink::File { namespace, .. } => namespace,
        }
    }
}

impl Sink for LineageSink {
    fn name(&self) -> &'static str {
        "openlineage"
    }

    async fn send(
        &self,
        store_url: &str,
        record: &RunRecord,
        from: usize,
        taken: &AtomicUsize,
    ) -> Result<String, SendError> {
        let events = events(record, self.namespace(), store_url);
        let count = events.len();
        match self {
            LineageSink::Http { url, auth, request_timeout, .. } => {
                let http = client(*request_timeout);
                for event in events.iter().skip(from) {
                    post_json(&http, auth, url, event).await?;
                    taken.fetch_add(1, Ordering::SeqCst);
                }
                Ok(format!("{count} OpenLineage events to {url}"))
            }
            LineageSink::File { path, .. } => {
                let mut lines = Vec::new();
                for event in events.iter().skip(from) {
                    serde_json::to_writer(&mut lines, event).expect("JSON values serialise");
                    lines.push(b'\n');
                }
                // One append of whole lines: a reader never sees half an event.
                let appended = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(&lines).and_then(|()| f.sync_data()));
                appended.map_err(|e| SendError { message: format!("cannot append to {}: {e}", path.display()) })?;
                taken.store(count, Ordering::SeqCst);
                Ok(format!("{count} OpenLineage events to {}", path.display()))
            }
        }
    }
}

/// Every event of `record`, in the order they are sent.
pub fn events(record: &RunRecord, namespace: &str, store_url: &str) -> Vec<Value> {
    let producer = producer();
    let parent_run = run_uuid(&record.run_id, None);
    let facet = |schema: &str, body: Value| -> Value {
        let mut body = body;
        body["_producer"] = Value::from(producer.clone());
        body["_schemaURL"] = Value::from(schema);
        body
    };
    let nominal = facet(NOMINAL_TIME, json!({ "nominalStartTime": record.started }));
    let parameters = facet(
        PARAMETERS,
        json!({ "parameters": record.params.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect::<Vec<_>>() }),
    );
    let job = |name: &str, kind: &str| {
        json!({
            "namespace": namespace,
            "name": name,
            "facets": { "jobType": facet(JOB_TYPE, json!({ "processingType": "BATCH", "integration": "PIPE", "jobType": kind })) },
        })
    };
    let dataset = |d: &DatasetRef| {
        let mut out = json!({ "namespace": store_url, "name": d.repo });
        if let Some(commit) = d.commit {
            out["facets"] = json!({ "version": facet(VERSION, json!({ "datasetVersion": commit.0.to_string() })) });
        }
        out
    };
    let event = |kind: &str, time: &str, run: Value, job: Value, inputs: Vec<Value>, outputs: Vec<Value>| {
        json!({
            "eventType": kind,
            "eventTime": time,
            "producer": producer,
            "schemaURL": SPEC,
            "run": run,
            "job": job,
            "inputs": inputs,
            "outputs": outputs,
        })
    };
    let pipeline_run =
        || json!({ "runId": parent_run, "facets": { "nominalTime": nominal, "executionParameters": parameters } });
    let pipeline_inputs: Vec<Value> =
        record.inputs.iter().map(|i| dataset(&DatasetRef { repo: i.repo.clone(), commit: Some(i.commit) })).collect();
    let mut out = vec![event(
        "START",
        &record.started,
        pipeline_run(),
        job(&record.pipeline, "PIPELINE"),
        pipeline_inputs.clone(),
        vec![],
    )];
    let mut pipeline_outputs = Vec::new();
    for stage in record.stages.iter().filter(|s| s.status != StageStatus::Blocked) {
        let name = format!("{}.{}", record.pipeline, stage.name);
        let inputs: Vec<Value> = stage.reads.iter().map(dataset).collect();
        let outputs: Vec<Value> = stage
            .output
            .map(|c| dataset(&DatasetRef { repo: format!("{}.{}", record.pipeline, stage.name), commit: Some(c) }))
            .into_iter()
            .collect();
        pipeline_outputs.extend(outputs.clone());
        let mut run = json!({
            "runId": run_uuid(&record.run_id, Some(&stage.name)),
            "facets": {
                "parent": facet(PARENT, json!({
                    "run": { "runId": parent_run },
                    "job": { "namespace": namespace, "name": record.pipeline },
                })),
                "nominalTime": nominal,
                "executionParameters": parameters,
            },
        });
        out.push(event("START", &record.started, run.clone(), job(&name, "STAGE"), inputs.clone(), vec![]));
        let end = if stage.status == StageStatus::Done { "COMPLETE" } else { "FAIL" };
        if let Some(message) = failure(stage) {
            run["facets"]["errorMessage"] = facet(ERROR, json!({ "message": message, "programmingLanguage": "shell" }));
        }
        out.push(event(end, &record.finished, run, job(&name, "STAGE"), inputs, outputs));
    }
    let end = if record.succeeded() { "COMPLETE" } else { "FAIL" };
    out.push(event(
        end,
        &record.finished,
        pipeline_run(),
        job(&record.pipeline, "PIPELINE"),
        pipeline_inputs,
        pipeline_outputs,
    ));
    out
}

/// The first failed datum's reason and stderr tail.
fn failure(stage: &StageRecord) -> Option<String> {
    let (datum, failure) = stage.datums.iter().find_map(|d| d.failure.as_ref().map(|f| (d, f)))?;
    Some(format!("datum {}: {}\n{}", datum.datum, failure.reason, failure.stderr_tail).trim_end().to_owned())
}

/// The UUID of pipe run `run` (or of its stage `stage`): the same every time it is asked for.
pub fn run_uuid(run: &str, stage: Option<&str>) -> String {
    let hash = blake3::hash(format!("pipe run {run}/{}", stage.unwrap_or("")).as_bytes());
    let bytes: [u8; 16] = hash.as_bytes()[..16].try_into().expect("16 of 32 bytes");
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

fn producer() -> String {
    format!("{}/tree/v{}", env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_VERSION"))
}
