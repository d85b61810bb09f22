//! Sends a finished run to the tracking tools teams already run: an MLflow tracking server
//! ([`mlflow`]) and OpenLineage consumers ([`lineage`]).
//!
//! Takes a run's record, the store it was written to, and where to send it ([`Exports`]: built
//! from flags or the tools' own environment variables; credentials only by reference to the
//! environment, never in a pipeline or a record). A run is first marked as owed in the store
//! (`exports/<sink>/<run>`, [`mark_owed`]); [`send_owed`] then sends every owed run, oldest first,
//! from the event where the last attempt stopped, each sink within [`Exports::deadline`], and
//! clears a mark when its sink took the run whole: nothing is lost, nothing sent twice, and a
//! failure is a note, never an error. Does not decide when to send (`pipe run` sends from a
//! process of its own, so a slow server never holds up a run), nor serialise two senders (the
//! caller holds a lock). Does not read metrics or logs itself: the record holds them.

pub mod lineage;
pub mod mlflow;

use crate::record::RunRecord;
use pipe_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Where to send runs, and how long a run may wait for them.
#[derive(Debug, Clone)]
pub struct Exports {
    pub mlflow: Option<mlflow::MlflowSink>,
    pub lineage: Option<lineage::LineageSink>,
    /// The most one run waits for each sink (all its owed runs together).
    pub deadline: Duration,
}

impl Default for Exports {
    fn default() -> Exports {
        Exports { mlflow: None, lineage: None, deadline: Duration::from_secs(10) }
    }
}

impl Exports {
    pub fn is_empty(&self) -> bool {
        self.mlflow.is_none() && self.lineage.is_none()
    }

    /// The sinks the tools' own variables name, read through `env` (how `pipe-shim` is
    /// configured: on Argo they come from the store's Secret, with the store's credentials):
    /// `MLFLOW_TRACKING_URI` (with `MLFLOW_EXPERIMENT_NAME` and the token variables),
    /// `OPENLINEAGE_URL`, and `PIPE_EXPORT_TIMEOUT` (default 10 s).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Exports, String> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let deadline = match env("PIPE_EXPORT_TIMEOUT") {
            Some(d) => humantime::parse_duration(&d).map_err(|e| format!("PIPE_EXPORT_TIMEOUT `{d}`: {e}"))?,
            None => Exports::default().deadline,
        };
        let (mlflow, lineage) = (env("MLFLOW_TRACKING_URI"), env("OPENLINEAGE_URL"));
        Exports::new(mlflow.as_deref(), env("MLFLOW_EXPERIMENT_NAME"), lineage.as_deref(), deadline, env)
    }

    /// The sinks for an MLflow server `mlflow` (experiment `experiment`) and an OpenLineage
    /// target `lineage` (empty values: none), with their credentials read through `env`.
    pub fn new(
        mlflow: Option<&str>,
        experiment: Option<String>,
        lineage: Option<&str>,
        deadline: Duration,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Exports, String> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let mlflow =
            mlflow.filter(|u| !u.is_empty()).map(|url| mlflow::MlflowSink::new(url, experiment, env)).transpose()?;
        let lineage = lineage.filter(|t| !t.is_empty()).map(|target| lineage::LineageSink::new(target, env));
        Ok(Exports { mlflow, lineage, deadline })
    }

    fn sink_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if let Some(s) = &self.mlflow {
            names.push(s.name());
        }
        if let Some(s) = &self.lineage {
            names.push(s.name());
        }
        names
    }
}

/// What one sink did with the runs it was owed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportNote {
    /// `mlflow` or `openlineage`.
    pub sink: &'static str,
    /// Whether every owed run was taken.
    pub ok: bool,
    pub message: String,
}

impl ExportNote {
    /// The note as a line to print: `sent to SINK: …`, or `warning: SINK: …`.
    pub fn line(&self) -> String {
        if self.ok {
            format!("sent to {}: {}", self.sink, self.message)
        } else {
            format!("warning: {}: {}", self.sink, self.message)
        }
    }
}

/// Why a sink did not take a run (how many of its events it took is counted apart, in `taken`).
#[derive(Debug)]
pub struct SendError {
    pub message: String,
}

/// One destination.
trait Sink {
    fn name(&self) -> &'static str;
    /// Sends `record`'s events from the `from`-th on, adding one to `taken` per event accepted.
    /// Gives a short description of where the run went.
    async fn send(
        &self,
        store_url: &str,
        record: &RunRecord,
        from: usize,
        taken: &AtomicUsize,
    ) -> Result<String, SendError>;
}

/// Marks run `run` (its record already in `store`) as owed to every configured sink: what a run
/// does before anything is sent, so a crash, a silent server or a killed exporter loses nothing.
pub async fn mark_owed(store: &Store, run: &str, exports: &Exports) -> Result<(), pipe_store::StoreError> {
    for sink in exports.sink_names() {
        store.export_owed_put(sink, run, 0).await?;
    }
    Ok(())
}

/// Sends a whole run of a cluster (`record`, its last stage just committed) to every sink `env`
/// names, once: of the stages that may find the run whole at once, the one that claims it in the
/// store (`claims/exports/<run>`, create-if-absent) marks it owed and sends; what it could not
/// send stays owed. Gives what to print.
pub async fn send_cluster_run(store: &Store, record: &RunRecord, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let exports = match Exports::from_env(env) {
        Ok(e) if e.is_empty() => return Vec::new(),
        Ok(e) => e,
        Err(e) => return vec![format!("warning: the run is not sent: {e}")],
    };
    if !record.pending.is_empty() {
        return Vec::new();
    }
    match store.claim_export(&record.run_id).await {
        Ok(true) => {}
        Ok(false) => return vec![format!("run {}: sent by the stage that claimed it", record.run_id)],
        Err(e) => return vec![format!("warning: run {} not sent: {e}", record.run_id)],
    }
    if let Err(e) = mark_owed(store, &record.run_id, &exports).await {
        return vec![format!("warning: run {} not sent: {e}", record.run_id)];
    }
    send_owed(store, &exports).await.iter().map(ExportNote::line).collect()
}

/// The runs owed to each configured sink (sink, run ids oldest first).
pub async fn owed(
    store: &Store,
    exports: &Exports,
) -> Result<Vec<(&'static str, Vec<String>)>, pipe_store::StoreError> {
    let mut out = Vec::new();
    for sink in exports.sink_names() {
        out.push((sink, store.export_owed(sink).await?.into_iter().map(|(run, _)| run).collect()));
    }
    Ok(out)
}

/// Sends every run owed to each configured sink, oldest first, each sink within
/// [`Exports::deadline`]; gives a note per sink that had something to send.
pub async fn send_owed(store: &Store, exports: &Exports) -> Vec<ExportNote> {
    let mut notes = Vec::new();
    if let Some(sink) = &exports.mlflow {
        notes.extend(send_to(store, sink, exports.deadline).await);
    }
    if let Some(sink) = &exports.lineage {
        notes.extend(send_to(store, sink, exports.deadline).await);
    }
    notes
}

async fn send_to(store: &Store, sink: &impl Sink, deadline: Duration) -> Option<ExportNote> {
    let name = sink.name();
    let note = |ok: bool, message: String| Some(ExportNote { sink: name, ok, message });
    let later = "it stays owed: `pipe export FILE`, or the next run that exports, sends it";
    let owed = match store.export_owed(name).await {
        Ok(owed) if owed.is_empty() => return None,
        Ok(owed) => owed,
        Err(e) => return note(false, format!("cannot list the runs owed: {e}")),
    };
    let until = tokio::time::Instant::now() + deadline;
    let mut sent = Vec::new();
    for (run, from) in owed {
        let record = match store.run_get(&run).await.map(|v| v.map(RunRecord::decode)) {
            Ok(Some(Ok(r))) => r,
            // A record gone or unreadable can never be sent: its mark would be retried for ever.
            Ok(None | Some(Err(_))) => {
                let _ = store.export_owed_clear(name, &run).await;
                continue;
            }
            Err(e) => return note(false, format!("run {run} not sent: {e}; {later}")),
        };
        let taken = Arc::new(AtomicUsize::new(from));
        let result = tokio::time::timeout_at(until, sink.send(store.backend().url(), &record, from, &taken)).await;
        let failure = match result {
            Ok(Ok(place)) => {
                if let Err(e) = store.export_owed_clear(name, &run).await {
                    return note(false, format!("run {run} sent ({place}), but its mark stays: {e}"));
                }
                sent.push(format!("run {run}: {place}"));
                continue;
            }
            Ok(Err(e)) => e.message,
            Err(_) => format!("no answer within {}", humantime::format_duration(deadline)),
        };
        let _ = store.export_owed_put(name, &run, taken.load(Ordering::SeqCst)).await;
        let done = if sent.is_empty() { String::new() } else { format!(" (sent: {})", sent.join("; ")) };
        return note(false, format!("run {run} not sent: {failure}; {later}{done}"));
    }
    note(true, sent.join("; "))
}

/// Milliseconds since the epoch of an RFC 3339 time in a record (0 if it does not parse).
fn millis(rfc3339: &str) -> i64 {
    humantime::parse_rfc3339_weak(rfc3339)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A client whose every request ends within `timeout`.
fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .build()
        .expect("a client with only timeouts set builds")
}

/// The credential a sink sends, read from the environment when the sink is configured.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(…)",
            Auth::Basic { .. } => "Basic(…)",
        })
    }
}

impl Auth {
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
        }
    }
}

/// A POST of `body` as JSON; gives the reply's body, or why the server did not take it.
async fn post_json(
    client: &reqwest::Client,
    auth: &Auth,
    url: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, SendError> {
    let request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body).expect("JSON values serialise"));
    reply(auth.apply(request).send().await, url).await
}

async fn reply(sent: Result<reqwest::Response, reqwest::Error>, url: &str) -> Result<serde_json::Value, SendError> {
    let response = sent.map_err(|e| SendError { message: format!("{url}: {}", error_chain(&e)) })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| SendError { message: format!("{url}: {}", error_chain(&e)) })?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let said = body
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned());
    Err(SendError { message: format!("{url} answered {status}: {said}") })
}

/// An error and its causes on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
