//! Versioned data repos on any object store: the data side of pipe.
//!
//! Takes a store URL (a local folder by default; `s3://`, `gs://`, `az://` through `object_store`)
//! and gives repos of immutable commits with branches and tags: [`Store::put_dir`] snapshots a
//! folder, [`Store::get_dir`] materialises a commit, [`diff`] compares two. Files are cut by
//! content-defined chunking and stored once per blake3 hash, so a new version of a dataset stores
//! only what changed. Does not know pipelines, stages or datums; the runtime builds on this.
//!
//! Nothing is visible until it is complete: objects, then the manifest, then the ref, which moves by
//! create-if-absent. See `layout` for the keys.

mod backend;
mod chunk;
mod diff;
mod error;
mod filter;
mod get;
mod layout;
mod manifests;
mod put;
mod refs;
mod statcache;
mod walk;

pub use backend::Backend;
pub use diff::{Change, ChangeKind, diff};
pub use error::{Result, StoreError};
pub use filter::Filter;
pub use get::GetOutcome;
pub use put::{PutOptions, PutOutcome};
pub use statcache::RACY as STAT_CACHE_RACY_WINDOW;

use pipe_spec::{CommitId, Manifest};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The branch `put` moves when none is named.
pub const DEFAULT_BRANCH: &str = "main";

/// Reports the progress of a long transfer. The CLI draws a bar; tests and libraries stay quiet.
pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes starts.
    fn start(&self, _what: &str, _total: u64) {}
    /// `bytes` more are done.
    fn advance(&self, _bytes: u64) {}
    /// The transfer is over.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// An opened store.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

impl Store {
    /// Opens the store at `url`; see [`Backend::open`].
    pub fn open(url: &str, create: bool) -> Result<Store> {
        Ok(Store { backend: Backend::open(url, create)? })
    }

    /// Opens the store at `url` with extra `object_store` settings; see [`Backend::open_with`].
    pub fn open_with(url: &str, create: bool, options: &[(String, String)]) -> Result<Store> {
        Ok(Store { backend: Backend::open_with(url, create, options)? })
    }

    /// The raw object store, for tests that must damage it.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Creates an empty repo.
    pub async fn init(&self, repo: &str) -> Result<()> {
        refs::init(&self.backend, repo).await
    }

    /// Every repo's name.
    pub async fn repos(&self) -> Result<Vec<String>> {
        refs::repos(&self.backend).await
    }

    /// The commit a branch, tag or commit id (or prefix) names.
    pub async fn resolve(&self, repo: &str, reference: &str) -> Result<CommitId> {
        refs::resolve(&self.backend, repo, reference).await
    }

    /// A branch's head, if it has one.
    pub async fn head(&self, repo: &str, branch: &str) -> Result<Option<CommitId>> {
        refs::require(&self.backend, repo).await?;
        Ok(refs::head(&self.backend, repo, branch).await?.map(|(_, c)| c))
    }

    /// Every branch and its head.
    pub async fn branches(&self, repo: &str) -> Result<BTreeMap<String, CommitId>> {
        refs::require(&self.backend, repo).await?;
        refs::branches(&self.backend, repo).await
    }

    /// Every tag and its commit.
    pub async fn tags(&self, repo: &str) -> Result<BTreeMap<String, CommitId>> {
        refs::require(&self.backend, repo).await?;
        refs::tags(&self.backend, repo).await
    }

    /// Names `commit` with a tag that never moves.
    pub async fn tag(&self, repo: &str, tag: &str, commit: CommitId) -> Result<()> {
        refs::require(&self.backend, repo).await?;
        refs::tag(&self.backend, repo, tag, commit).await
    }

    /// The manifest of a commit, checked against its id.
    pub async fn manifest(&self, repo: &str, commit: CommitId) -> Result<Manifest> {
        manifests::load(&self.backend, repo, commit).await
    }

    /// `commit` and its ancestors, newest first, at most `limit`.
    pub async fn log(&self, repo: &str, commit: CommitId, limit: usize) -> Result<Vec<(CommitId, Manifest)>> {
        let mut out = Vec::new();
        let mut next = Some(commit);
        while let Some(id) = next.filter(|_| out.len() < limit) {
            let m = self.manifest(repo, id).await?;
            next = m.parent;
            out.push((id, m));
        }
        Ok(out)
    }

    /// Snapshots `dir` into `repo` and moves the branch; see the `put` module.
    pub async fn put_dir(
        &self,
        repo: &str,
        dir: &Path,
        opts: &PutOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<PutOutcome> {
        put::put_dir(&self.backend, repo, dir, opts, progress).await
    }

    /// Writes the files of `manifest` that `filter` selects into `dest`; see the `get` module.
    pub async fn get_dir(
        &self,
        manifest: &Manifest,
        dest: &Path,
        filter: &Filter,
        jobs: usize,
        progress: Arc<dyn Progress>,
    ) -> Result<GetOutcome> {
        get::get_dir(&self.backend, manifest, dest, filter, jobs, progress).await
    }

    /// The object key of a hash, for tests that must damage the store.
    pub fn object_key(hash: &pipe_spec::Hash) -> String {
        layout::object(hash).to_string()
    }
}
