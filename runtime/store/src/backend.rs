//! Opens an object store from a URL and gives the few operations the store needs, with errors
//! turned into [`StoreError`]s that name the store and the key.
//!
//! Takes `s3://`, `gs://`, `az://` (and `azure://`, `abfs://`), `file://`, `memory://` URLs or a plain
//! path; cloud credentials come from each cloud's usual environment variables. Requests are retried
//! a bounded number of times with a connect timeout, so an unreachable store fails in seconds with
//! one message. Does not know the store's layout; see `layout`.

use crate::error::{Result, StoreError};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
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
    inner: Arc<dyn ObjectStore>,
    url: String,
    /// Reached over HTTP (S3, GCS, Azure): its client needs the async runtime.
    remote: bool,
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
        // A builder fails for a good URL when this machine cannot make an HTTP client at all.
        let built = |reason: String| {
            if reason.contains("CA certificates") {
                StoreError::NoCertificates { url: url.to_owned(), reason }
            } else {
                bad(reason)
            }
        };
        let mut remote = true;
        let inner: Arc<dyn ObjectStore> = match url.split_once("://") {
            None => {
                remote = false;
                local(Path::new(url), url, create)?
            }
            Some((scheme, _)) => {
                let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
                let prefix = Key::from(parsed.path().trim_matches('/'));
                let client = [(ClientConfigKey::ConnectTimeout, "5s"), (ClientConfigKey::Timeout, "120s")];
                let wrap = |store: Arc<dyn ObjectStore>| -> Arc<dyn ObjectStore> {
                    if prefix.as_ref().is_empty() { store } else { Arc::new(PrefixStore::new(store, prefix.clone())) }
                };
                match scheme {
                    "file" => {
                        remote = false;
                        let path = parsed.to_file_path().map_err(|()| bad("not an absolute file path".into()))?;
                        local(&path, url, create)?
                    }
                    "memory" => {
                        remote = false;
                        memory(url)
                    }
                    "s3" | "s3a" => {
                        let mut b = AmazonS3Builder::from_env().with_url(url).with_retry(retry());
                        for (k, v) in client {
                            b = b.with_config(AmazonS3ConfigKey::Client(k), v);
                        }
                        for (k, v) in options {
                            b = b.with_config(k.parse().map_err(|e| bad(cause(&e)))?, v);
                        }
                        wrap(Arc::new(b.build().map_err(|e| built(cause(&e)))?))
                    }
                    "gs" => {
                        let mut b = GoogleCloudStorageBuilder::from_env().with_url(url).with_retry(retry());
                        for (k, v) in client {
                            b = b.with_config(GoogleConfigKey::Client(k), v);
                        }
                        for (k, v) in options {
                            b = b.with_config(k.parse().map_err(|e| bad(cause(&e)))?, v);
                        }
                        wrap(Arc::new(b.build().map_err(|e| built(cause(&e)))?))
                    }
                    "az" | "azure" | "abfs" | "abfss" => {
                        let mut b = MicrosoftAzureBuilder::from_env().with_url(url).with_retry(retry());
                        for (k, v) in client {
                            b = b.with_config(AzureConfigKey::Client(k), v);
                        }
                        for (k, v) in options {
                            b = b.with_config(k.parse().map_err(|e| bad(cause(&e)))?, v);
                        }
                        wrap(Arc::new(b.build().map_err(|e| built(cause(&e)))?))
                    }
                    other => return Err(bad(format!("`{other}://` is not a supported scheme"))),
                }
            }
        };
        Ok(Backend { inner, url: url.to_owned(), remote })
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
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error("read", key, &e)),
        };
        got.bytes().await.map(Some).map_err(|e| self.error("read", key, &e))
    }

    /// Whether an object exists at `key`.
    pub async fn exists(&self, key: &Key) -> Result<bool> {
        match self.inner.head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("inspect", key, &e)),
        }
    }

    /// Writes `bytes` at `key`, replacing what is there. Used only for content-addressed keys,
    /// where what is there is the same bytes.
    pub async fn put(&self, key: &Key, bytes: Bytes) -> Result<()> {
        self.inner.put(key, PutPayload::from(bytes)).await.map(drop).map_err(|e| self.error("write", key, &e))
    }

    /// Writes `bytes` at `key` only if nothing is there: atomically, on every backend. False
    /// when the key was taken.
    pub async fn put_new(&self, key: &Key, bytes: Bytes) -> Result<bool> {
        let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.inner.put_opts(key, PutPayload::from(bytes), opts).await {
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

    /// Deletes the object at `key`, if any. Only tests use it, to play a corrupted store.
    pub async fn delete(&self, key: &Key) -> Result<()> {
        match self.inner.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, &e)),
        }
    }

    fn error(&self, op: &'static str, key: &Key, e: &object_store::Error) -> StoreError {
        let lower = format!("{e:?}").to_lowercase();
        let network = ["connect", "dns", "timed out", "timeout", "refused", "unreachable", "resolve"];
        if network.iter().any(|w| lower.contains(w)) {
            StoreError::Unreachable { url: self.url.clone(), cause: innermost(e) }
        } else {
            StoreError::Backend { url: self.url.clone(), op, key: key.to_string(), cause: cause(e) }
        }
    }
}

fn local(path: &Path, url: &str, create: bool) -> Result<Arc<dyn ObjectStore>> {
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
