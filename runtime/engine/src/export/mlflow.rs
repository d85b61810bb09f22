//! A run as an MLflow run, through the tracking server's REST API (`/api/2.0/mlflow/…`).
//!
//! Takes a run record; gives an MLflow run in the experiment named by the sink (else the
//! pipeline's name, created if missing) with the run's params, its metrics (the columns of
//! `pipe log --table`: `stage.metric`), and tags for the pipe run id, the git commit
//! (`mlflow.source.git.commit`), each input's commit and each stage's fingerprint, image and
//! status; then marks it FINISHED or FAILED. Sending again is harmless: the MLflow run is found by
//! its `pipe.run` tag instead of created twice, params and tags are idempotent, and metrics carry
//! the run's own finish time, so the server keeps one of each (`metrics/get-history` shows one
//! value). Batches stay within `runs/log-batch`'s limits (1,000 metrics, 100 params, 100 tags,
//! 1,000 items). Does not upload artifacts: outputs stay in the store, named by commit in the tags.

use super::{Auth, SendError, Sink, client, millis, post_json, reply};
use crate::record::RunRecord;
use serde_json::{Value, json};
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// `runs/log-batch`'s limits: MLflow's `MAX_METRICS_PER_BATCH`, `MAX_PARAMS_TAGS_PER_BATCH`,
/// `MAX_ENTITIES_PER_BATCH` (mlflow/utils/validation.py), which its REST docs state as 1,000
/// metrics, 100 params, 100 tags and 1,000 items a request.
const MAX_METRICS: usize = 1000;
const MAX_PARAMS: usize = 100;
const MAX_TAGS: usize = 100;
const MAX_ITEMS: usize = 1000;
/// The longest key and param value MLflow's validation takes.
const MAX_KEY: usize = 250;
const MAX_PARAM_VALUE: usize = 6000;
/// The tag that names the pipe run an MLflow run holds.
const RUN_TAG: &str = "pipe.run";

/// An MLflow tracking server.
#[derive(Debug, Clone)]
pub struct MlflowSink {
    /// The server's base address (`http://host:5000`), as `MLFLOW_TRACKING_URI` gives it.
    pub url: String,
    /// The experiment runs go to; the pipeline's name when none.
    pub experiment: Option<String>,
    pub auth: Auth,
    /// The longest one request may take.
    pub request_timeout: Duration,
}

impl MlflowSink {
    /// A sink for `url`, with MLflow's own credential variables (`MLFLOW_TRACKING_TOKEN`, else
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`) read from `env`. Only `http(s)`
    /// servers: MLflow's `file:` and `databricks` URIs are not a REST server pipe can reach.
    pub fn new(
        url: &str,
        experiment: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MlflowSink, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "MLflow tracking URI `{url}` is not an http(s) server: pipe sends runs to a tracking server's REST API (start one with `mlflow server`)"
            ));
        }
        let auth = match (env("MLFLOW_TRACKING_TOKEN"), env("MLFLOW_TRACKING_USERNAME")) {
            (Some(token), _) => Auth::Bearer(token),
            (None, Some(user)) => Auth::Basic { user, password: env("MLFLOW_TRACKING_PASSWORD").unwrap_or_default() },
            (None, None) => Auth::None,
        };
        Ok(MlflowSink {
            url: url.trim_end_matches('/').to_owned(),
            experiment: experiment.filter(|e| !e.is_empty()),
            auth,
            request_timeout: Duration::from_secs(5),
        })
    }

    fn api(&self, method: &str) -> String {
        format!("{}/api/2.0/mlflow/{method}", self.url)
    }

    async fn experiment_id(&self, http: &reqwest::Client, name: &str) -> Result<String, SendError> {
        let url = self.api("experiments/get-by-name");
        let get = || async {
            let v =
                reply(self.auth.apply(http.get(&url).query(&[("experiment_name", name)])).send().await, &url).await?;
            Ok::<_, SendError>(v["experiment"]["experiment_id"].as_str().map(str::to_owned))
        };
        if let Ok(Some(id)) = get().await {
            return Ok(id);
        }
        match post_json(http, &self.auth, &self.api("experiments/create"), &json!({ "name": name })).await {
            Ok(v) => v["experiment_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| SendError { message: format!("{url}: experiments/create gave no experiment_id") }),
            // Created meanwhile by another run: look again.
            Err(e) if e.message.contains("RESOURCE_ALREADY_EXISTS") || e.message.contains("already exists") => {
                get().await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The MLflow run holding pipe run `run`, if an earlier attempt made one.
    async fn existing_run(
        &self,
        http: &reqwest::Client,
        experiment: &str,
        run: &str,
    ) -> Result<Option<String>, SendError> {
        let filter = format!("tags.`{RUN_TAG}` = '{}'", run.replace('\'', ""));
        let found = post_json(
            http,
            &self.auth,
            &self.api("runs/search"),
            &json!({ "experiment_ids": [experiment], "filter": filter, "max_results": 1 }),
        )
        .await?;
        Ok(found["runs"][0]["info"]["run_id"].as_str().map(str::to_owned))
    }
}

impl Sink for MlflowSink {
    fn name(&self) -> &'static str {
        "mlflow"
    }

    async fn send(
        &self,
        _store_url: &str,
        record: &RunRecord,
        _from: usize,
        _taken: &AtomicUsize,
    ) -> Result<String, SendError> {
        let http = client(self.request_timeout);
        let experiment_name = self.experiment.clone().unwrap_or_else(|| record.pipeline.clone());
        let experiment = self.experiment_id(&http, &experiment_name).await?;
        let run_id = match self.existing_run(&http, &experiment, &record.run_id).await? {
            Some(id) => id,
            None => {
                let created = post_json(
                    &http,
                    &self.auth,
                    &self.api("runs/create"),
                    &json!({
                        "experiment_id": experiment,
                        "run_name": record.run_id,
                        "start_time": millis(&record.started),
                        "tags": [{ "key": RUN_TAG, "value": record.run_id }],
                    }),
                )
                .await?;
                created["run"]["info"]["run_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| SendError { message: format!("{}: runs/create gave no run id", self.url) })?
            }
        };
        for batch in batches(record) {
            let mut body = batch;
            body["run_id"] = Value::from(run_id.clone());
            post_json(&http, &self.auth, &self.api("runs/log-batch"), &body).await?;
        }
        let status = if record.succeeded() { "FINISHED" } else { "FAILED" };
        post_json(
            &http,
            &self.auth,
            &self.api("runs/update"),
            &json!({ "run_id": run_id, "status": status, "end_time": millis(&record.finished) }),
        )
        .await?;
        Ok(format!("MLflow run {run_id} in experiment `{experiment_name}`"))
    }
}

/// The run's params, metrics and tags as `runs/log-batch` bodies, each within the limits.
pub fn batches(record: &RunRecord) -> Vec<Value> {
    let at = millis(&record.finished);
    let params: Vec<Value> =
        record.params.iter().map(|(k, v)| json!({ "key": key(k), "value": truncate(v, MAX_PARAM_VALUE) })).collect();
    let metrics: Vec<Value> = record
        .metrics()
        .iter()
        .map(|(k, v)| json!({ "key": key(k), "value": v, "timestamp": at, "step": 0 }))
        .collect();
    let tags: Vec<Value> = tags(record).into_iter().map(|(k, v)| json!({ "key": key(&k), "value": v })).collect();
    let (mut params, mut metrics, mut tags) = (params.into_iter(), metrics.into_iter(), tags.into_iter());
    let mut out = Vec::new();
    loop {
        let p: Vec<Value> = params.by_ref().take(MAX_PARAMS).collect();
        let t: Vec<Value> = tags.by_ref().take(MAX_TAGS).collect();
        let m: Vec<Value> = metrics.by_ref().take(MAX_METRICS.min(MAX_ITEMS - p.len() - t.len())).collect();
        if p.is_empty() && t.is_empty() && m.is_empty() {
            return out;
        }
        out.push(json!({ "params": p, "metrics": m, "tags": t }));
    }
}

/// The tags that tie an MLflow run to its pipe run: inputs, code and each stage's outcome.
fn tags(record: &RunRecord) -> Vec<(String, String)> {
    let mut tags = vec![(RUN_TAG.to_owned(), record.run_id.clone()), ("pipe.pipeline".into(), record.pipeline.clone())];
    if let Some(git) = &record.git {
        tags.push(("mlflow.source.git.commit".into(), git.commit.clone()));
        tags.push(("pipe.git.dirty".into(), git.dirty.to_string()));
    }
    for input in &record.inputs {
        tags.push((format!("pipe.input.{}", input.name), format!("{}@{}", input.repo, input.commit.0)));
    }
    for s in &record.stages {
        tags.push((format!("pipe.stage.{}.status", s.name), s.status.to_string()));
        tags.push((format!("pipe.stage.{}.fingerprint", s.name), s.fingerprint.clone()));
        if !s.image.is_empty() {
            tags.push((format!("pipe.stage.{}.image", s.name), s.image.clone()));
        }
        if let Some(output) = s.output {
            tags.push((format!("pipe.stage.{}.output", s.name), output.0.to_string()));
        }
    }
    tags
}

/// `name` as MLflow takes a key: only alphanumerics, `_ - . : /` and spaces, no empty, `.` or
/// `..` path segment, at most 250 characters; other characters become `_`. The rules are
/// mlflow/utils/validation.py's (`_validate_metric_name`: the name pattern, and `path_not_unique`,
/// which refuses a name `posixpath.normpath` would change; MLflow 3.17.2 answers the refused
/// `bad*key` with "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),
/// spaces ( ), colon(:) and slashes (/)."). `compiler/cli/tests/export.rs` sends such a key to a
/// real server.
pub fn key(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.: /".contains(c) { c } else { '_' }).collect();
    let segments: Vec<&str> =
        cleaned.split('/').filter(|s| !s.is_empty() && *s != ".").map(|s| if s == ".." { "__" } else { s }).collect();
    let joined = segments.join("/");
    let joined = if joined.is_empty() { "_".to_owned() } else { joined };
    truncate(&joined, MAX_KEY).trim_end_matches('/').to_owned()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_what_mlflow_s_validation_takes() {
        assert_eq!(key("train.accuracy"), "train.accuracy");
        assert_eq!(key("train.raw:/a b.png:acc"), "train.raw:/a b.png:acc");
        assert_eq!(key("train.raw://x/./y/../z*"), "train.raw:/x/y/__/z_");
        assert_eq!(key("/lead"), "lead");
        assert_eq!(key("ünï"), "_n_");
        assert_eq!(key(""), "_");
        assert_eq!(key(&"a".repeat(300)).len(), 250);
    }

    #[test]
    fn batches_keep_within_log_batch_s_limits_and_lose_nothing() {
        use crate::record::{RUN_RECORD_FORMAT, StageRecord};
        use crate::run::{DatumRecord, DatumStatus, StageStatus};
        let datums = (0..2500)
            .map(|i| DatumRecord {
                key: format!("k{i}"),
                datum: format!("d{i}"),
                status: DatumStatus::Processed,
                failure: None,
                logs: Vec::new(),
                metrics: [("acc".to_owned(), f64::from(i))].into(),
            })
            .collect();
        let record = RunRecord {
            format: RUN_RECORD_FORMAT,
            run_id: "r".into(),
            pipeline: "p".into(),
            started: "2026-12-07T00:00:00Z".into(),
            finished: "2026-12-07T00:00:01Z".into(),
            params: (0..250).map(|i| (format!("p{i}"), "v".repeat(7000))).collect(),
            inputs: Vec::new(),
            stages: vec![StageRecord {
                name: "s".into(),
                status: StageStatus::Done,
                fingerprint: "f".into(),
                output: None,
                processed: 2500,
                skipped: 0,
                failed: 0,
                image: String::new(),
                code: Vec::new(),
                datums,
                reads: Vec::new(),
            }],
            git: None,
            pending: Vec::new(),
        };
        let batches = batches(&record);
        let count = |b: &Value, k: &str| b[k].as_array().map_or(0, Vec::len);
        for b in &batches {
            assert!(
                count(b, "metrics") <= MAX_METRICS && count(b, "params") <= MAX_PARAMS && count(b, "tags") <= MAX_TAGS
            );
            assert!(count(b, "metrics") + count(b, "params") + count(b, "tags") <= MAX_ITEMS);
            for p in b["params"].as_array().into_iter().flatten() {
                assert_eq!(p["value"].as_str().map(str::len), Some(MAX_PARAM_VALUE));
            }
        }
        assert_eq!(batches.iter().map(|b| count(b, "metrics")).sum::<usize>(), 2500);
        assert_eq!(batches.iter().map(|b| count(b, "params")).sum::<usize>(), 250);
        assert_eq!(batches[0]["metrics"][0]["timestamp"], 1_796_601_601_000_i64);
    }
}
