//! Opens an object store from a URL and gives the few operations the store needs, with errors
//! turned into [`StoreError`]s that name the store and the key.
//!
//! Takes `s3://`, `gs://`, `az://` (and `azure://`, `abfs://`), `file://`, `memory://` URLs or a plain
//! path; cloud credentials come from each cloud's usual environment variables. Requests are retried
//! a bounded number of times with a connect timeout, and reads with a read timeout, so a store that
//! is down or silent fails in seconds with one message. Errors are classified by what the user must
//! fix: credentials (401/403), a missing bucket, the network, or else the request; a server's XML
//! answer is shortened to its status, code and message. Does not create buckets, and does not know
//! the store's layout; see `layout`.

use crate::error::{Result, StoreError};
use crate::leftovers::Writers;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// An opened object store.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Reads, lists and deletes: with a read timeout.
    inner: Arc<dyn ObjectStore>,
    /// Writes: with only the whole request's timeout.
    writer: Arc<dyn ObjectStore>,
    url: String,
    /// Reached over HTTP (S3, GCS, Azure): its client needs the async runtime.
    remote: bool,
    /// A local store's folder, and this process's place among its writers once it first writes.
    local: Option<Arc<LocalWriters>>,
    /// `verify`'s memo of the objects recorded as damaged, read once per process.
    pub(crate) damage: Arc<std::sync::Mutex<Option<std::collections::HashSet<pipe_spec::Hash>>>>,
    /// `pack`'s memo of where packed objects are.
    pub(crate) packs: Arc<std::sync::Mutex<crate::pack::Known>>,
}

#[derive(Debug)]
struct LocalWriters {
    root: std::path::PathBuf,
    entered: std::sync::Mutex<Option<Writers>>,
}

impl Backend {
    /// Opens the store at `url`. A local directory is created when `create` is set, and is an
    /// error when it is missing otherwise.
    pub fn open(url: &str, create: bool) -> Result<Backend> {
        Backend::open_with(url, create, &[])
    }

    /// Opens the store at `url` with extra `object_store` settings (`aws_endpoint`,
    /// `aws_allow_http`, `google_service_account`, …) on top of those from the environment.
    pub fn open_with(url: &str, create: bool, options: &[(String, String)]) -> Result<Backend> {
        let bad = |reason: String| StoreError::BadUrl { url: url.to_owned(), reason };
        let mut folder = None;
        let (inner, writer, remote): (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>, bool) = match url.split_once("://") {
            None => {
                let store = local(Path::new(url), url, create)?;
                folder = Some(Path::new(url).to_path_buf());
                (store.clone(), store, false)
            }
            Some(("file", _)) => {
                let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
                let path = parsed.to_file_path().map_err(|()| bad("not an absolute file path".into()))?;
                let store = local(&path, url, create)?;
                folder = Some(path);
                (store.clone(), store, false)
            }
            Some(("memory", _)) => {
                let store = memory(url);
                (store.clone(), store, false)
            }
            Some((scheme, _)) => {
                let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
                let prefix = Key::from(parsed.path().trim_matches('/'));
                let wrap = |store: Arc<dyn ObjectStore>| -> Arc<dyn ObjectStore> {
                    if prefix.as_ref().is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix.clone())) }
                };
                let open = |client: &[(ClientConfigKey, &str)]| cloud(scheme, url, client, options).map(wrap);
                // Reads must start answering within READ_TIMEOUT, so a silent endpoint fails in
                // seconds; writes upload up to 4 MiB before the answer begins, several at once,
                // so they get the whole request timeout instead (reqwest's read timeout runs from
                // the start of the request).
                let reads = open(&[
                    (ClientConfigKey::ConnectTimeout, "5s"),
                    (ClientConfigKey::ReadTimeout, READ_TIMEOUT),
                    (ClientConfigKey::Timeout, "120s"),
                ])
                .map_err(|e| e.into_store_error(url))?;
                let writes = open(&[(ClientConfigKey::ConnectTimeout, "5s"), (ClientConfigKey::Timeout, "120s")])
                    .map_err(|e| e.into_store_error(url))?;
                (reads, writes, true)
            }
        };
        let local = folder.map(|root| Arc::new(LocalWriters { root, entered: std::sync::Mutex::new(None) }));
        Ok(Backend { inner, writer, url: url.to_owned(), remote, local, damage: Arc::default(), packs: Arc::default() })
    }

    /// The URL the store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the store is reached over HTTP (and its calls need the async runtime), rather than
    /// a local folder or memory.
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// The object at `key`, or `None` when there is none.
    pub async fn get(&self, key: &Key) -> Result<Option<Bytes>> {
        let got = match self.inner.get(key).await {
            Ok(got) => got,
            Err(e @ object_store::Error::NotFound { .. }) => return self.not_found("read", key, &e).map(|()| None),
            Err(e) => return Err(self.error("read", key, &e)),
        };
        got.bytes().await.map(Some).map_err(|e| self.error("read", key, &e))
    }

    /// Bytes `range` of the object at `key`; an error when it has no such bytes or is missing.
    pub async fn get_range(&self, key: &Key, range: std::ops::Range<u64>) -> Result<Bytes> {
        self.inner.get_range(key, range).await.map_err(|e| self.error("read", key, &e))
    }

    /// Whether an object exists at `key`.
    pub async fn exists(&self, key: &Key) -> Result<bool> {
        match self.inner.head(key).await {
            Ok(_) => Ok(true),
            Err(e @ object_store::Error::NotFound { .. }) => self.not_found("inspect", key, &e).map(|()| false),
            Err(e) => Err(self.error("inspect", key, &e)),
        }
    }

    /// Writes `bytes` at `key`, replacing what is there. Used only for content-addressed keys,
    /// where what is there is the same bytes.
    pub async fn put(&self, key: &Key, bytes: Bytes) -> Result<()> {
        self.enter_writers()?;
        self.writer.put(key, PutPayload::from(bytes)).await.map(drop).map_err(|e| self.error("write", key, &e))
    }

    /// Writes `bytes` at `key` only if nothing is there: atomically, on every backend. False
    /// when the key was taken.
    pub async fn put_new(&self, key: &Key, bytes: Bytes) -> Result<bool> {
        self.enter_writers()?;
        let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.writer.put_opts(key, PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.error("create", key, &e)),
        }
    }

    /// Every key under `prefix`, sorted.
    pub async fn list(&self, prefix: &Key) -> Result<Vec<Key>> {
        let mut keys: Vec<Key> = self
            .inner
            .list(Some(prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.error("list", prefix, &e))?;
        keys.sort();
        Ok(keys)
    }

    /// Every key under `prefix`, oldest write first (ties by key): object stores keep each
    /// object's last write time, so this needs no read of the objects.
    pub async fn list_by_time(&self, prefix: &Key) -> Result<Vec<Key>> {
        let mut metas: Vec<(_, Key)> = self
            .inner
            .list(Some(prefix))
            .map_ok(|meta| (meta.last_modified, meta.location))
            .try_collect()
            .await
            .map_err(|e| self.error("list", prefix, &e))?;
        metas.sort();
        Ok(metas.into_iter().map(|(_, key)| key).collect())
    }

    /// Whether any key is under `prefix` (one page of a listing, not all of it).
    pub async fn any_under(&self, prefix: &Key) -> Result<bool> {
        let mut keys = self.inner.list(Some(prefix));
        keys.try_next().await.map(|first| first.is_some()).map_err(|e| self.error("list", prefix, &e))
    }

    /// Deletes the object at `key`, if any. Only tests use it, to play a corrupted store.
    pub async fn delete(&self, key: &Key) -> Result<()> {
        match self.inner.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, &e)),
        }
    }

    /// Before this process's first write to a local store: joins its writers (see `leftovers`),
    /// collecting what killed writers left. Gives how many leftovers that removed.
    pub fn enter_writers(&self) -> Result<usize> {
        let Some(local) = &self.local else { return Ok(0) };
        let mut entered = local.entered.lock().unwrap_or_else(|p| p.into_inner());
        if entered.is_some() {
            return Ok(0);
        }
        let (writers, removed) = Writers::enter(&local.root).map_err(StoreError::io(&local.root))?;
        *entered = Some(writers);
        Ok(removed)
    }

    /// A "not found" that is about the object, or the error it really is: a missing bucket or
    /// container answers every key with 404 too.
    fn not_found(&self, op: &'static str, key: &Key, e: &object_store::Error) -> Result<()> {
        if self.remote && missing_bucket(&e.to_string()) { Err(self.error(op, key, e)) } else { Ok(()) }
    }

    /// The store error for a failed request, classified by what the user must fix: credentials
    /// (401/403), the bucket's name, the network, or the request itself.
    fn error(&self, op: &'static str, key: &Key, e: &object_store::Error) -> StoreError {
        let url = self.url.clone();
        let text = e.to_string();
        match e {
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                StoreError::Denied { url, op, key: key.to_string(), cause: answer(&text) }
            }
            _ if missing_bucket(&text) => StoreError::NoBucket { bucket: bucket_of(&url), url },
            _ => match network(e) {
                Some(HttpErrorKind::Timeout) => StoreError::Unreachable {
                    url,
                    cause: format!("it took the connection but answered no request within {READ_TIMEOUT}"),
                },
                Some(_) => StoreError::Unreachable { url, cause: innermost(e) },
                None => StoreError::Backend { url, op, key: key.to_string(), cause: answer(&text) },
            },
        }
    }
}

/// How long a read may wait for the store to start answering.
const READ_TIMEOUT: &str = "10s";

/// The network failure under an error, if that is what it is (connecting, sending, a timeout).
fn network(e: &(dyn std::error::Error + 'static)) -> Option<HttpErrorKind> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(http) = err.downcast_ref::<HttpError>() {
            return match http.kind() {
                kind @ (HttpErrorKind::Connect
                | HttpErrorKind::Request
                | HttpErrorKind::Timeout
                | HttpErrorKind::Interrupted) => Some(kind),
                _ => None,
            };
        }
        next = err.source();
    }
    None
}

/// Whether an error's text is a cloud's "no such bucket/container" answer (S3 and S3-compatible
/// servers: `NoSuchBucket`; GCS: "The specified bucket does not exist."; Azure: `ContainerNotFound`).
fn missing_bucket(text: &str) -> bool {
    ["<Code>NoSuchBucket</Code>", "ContainerNotFound", "The specified bucket does not exist"]
        .iter()
        .any(|m| text.contains(m))
}

/// The bucket (or container) of a cloud URL.
fn bucket_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

/// A server's error answer in one line: "403 Forbidden: InvalidAccessKeyId: The AWS Access Key
/// Id you provided does not exist in our records." instead of the XML document.
pub(crate) fn answer(text: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))?;
        Some(text[start..start + end].to_string())
    };
    let status =
        text.split("status code: ").nth(1).and_then(|rest| rest.split(':').next()).map(|s| s.trim().to_string());
    match (status, tag("Code"), tag("Message")) {
        (Some(status), Some(code), Some(message)) => format!("{status}: {code}: {message}"),
        (Some(status), Some(code), None) => format!("{status}: {code}"),
        (Some(status), None, _) => status,
        (None, ..) => text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect(),
    }
}

/// Why a cloud store could not be built.
enum Build {
    Options(String),
    Client(String),
}

impl Build {
    fn into_store_error(self, url: &str) -> StoreError {
        match self {
            Build::Options(reason) => StoreError::BadUrl { url: url.to_owned(), reason },
            // A builder fails for a good URL when this machine cannot make an HTTP client at all.
            Build::Client(reason) if reason.contains("CA certificates") => {
                StoreError::NoCertificates { url: url.to_owned(), reason }
            }
            Build::Client(reason) => StoreError::BadUrl { url: url.to_owned(), reason },
        }
    }
}

/// A cloud store for `url` from the environment, `client` settings and the user's `options`.
fn cloud(
    scheme: &str,
    url: &str,
    client: &[(ClientConfigKey, &str)],
    options: &[(String, String)],
) -> Result<Arc<dyn ObjectStore>, Build> {
    let option = |e: object_store::Error| Build::Options(cause(&e));
    let built = |e: object_store::Error| Build::Client(cause(&e));
    // The three builders differ only in their types: one body for all.
    macro_rules! build {
        ($builder:expr, $client:path) => {{
            let mut b = $builder.with_url(url).with_retry(retry());
            for (k, v) in client {
                b = b.with_config($client(*k), *v);
            }
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(option)?, v);
            }
            Arc::new(b.build().map_err(built)?)
        }};
    }
    Ok(match scheme {
        "s3" | "s3a" => build!(AmazonS3Builder::from_env(), AmazonS3ConfigKey::Client),
        "gs" => build!(GoogleCloudStorageBuilder::from_env(), GoogleConfigKey::Client),
        "az" | "azure" | "abfs" | "abfss" => build!(MicrosoftAzureBuilder::from_env(), AzureConfigKey::Client),
        other => return Err(Build::Options(format!("`{other}://` is not a supported scheme"))),
    })
}

fn local(path: &Path, url: &str, create: bool) -> Result<Arc<dyn ObjectStore>> {
    if path.exists() && !path.is_dir() {
        return Err(StoreError::NotAFolder { url: url.to_owned() });
    }
    if create {
        std::fs::create_dir_all(path).map_err(StoreError::io(path))?;
    } else if !path.is_dir() {
        return Err(StoreError::NoStore { url: url.to_owned() });
    }
    let fs = LocalFileSystem::new_with_prefix(path)
        .map_err(|e| StoreError::BadUrl { url: url.into(), reason: cause(&e) })?;
    Ok(Arc::new(fs))
}

/// `memory://NAME` stores live as long as the process, one per name, so two opens of one URL in a
/// process share their objects (as two clients of one bucket would).
fn memory(url: &str) -> Arc<dyn ObjectStore> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let mut stores = STORES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    stores.entry(url.to_owned()).or_insert_with(|| Arc::new(InMemory::new())).clone()
}

fn retry() -> RetryConfig {
    RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(20), ..RetryConfig::default() }
}

/// The last message of an error chain: the root cause alone.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// The innermost message of an error chain: "Connection refused (os error 111)" rather than
/// "Generic S3 error: …".
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    let (outer, innermost) = (e.to_string(), inner.to_string());
    if outer.contains(&innermost) { outer } else { format!("{outer}: {innermost}") }
}
