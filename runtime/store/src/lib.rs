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
pub mod cdc;
pub mod chunk;
mod diff;
mod error;
mod filter;
mod get;
mod layout;
mod leftovers;
mod manifests;
mod pack;
mod put;
mod refs;
mod snapshot;
mod statcache;
mod verify;
mod walk;
mod workers;

pub use backend::Backend;
pub use diff::{Change, ChangeKind, diff};
pub use error::{Result, StoreError};
pub use filter::Filter;
pub use get::{GetOptions, GetOutcome};
pub use put::{PutOptions, PutOutcome};
pub use snapshot::Snapshot;
pub use statcache::RACY as STAT_CACHE_RACY_WINDOW;
pub use verify::{BadCommit, Damage, FsckReport};

use pipe_spec::{CacheEntry, CommitId, Hash, Manifest};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// The branch `put` moves when none is named.
pub const DEFAULT_BRANCH: &str = "main";
/// A stage index starts with this, then the index in postcard (a compact binary serde format).
/// `3`: the index names the output commit made of it.
const STAGE_INDEX_MAGIC: &[u8] = b"pipe-stage-index-3\n";

/// What a stage's last run leaves for the next (`stages/<fingerprint>`): every datum's outputs by
/// key, and the output commit those outputs make. Only a shortcut to the cache entries and the
/// commit it was built from.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageIndex {
    pub entries: HashMap<Hash, Vec<pipe_spec::FileEntry>>,
    /// The commit of the stage's output repo whose files are exactly the merge of `entries`: a
    /// run whose datums are exactly these, finding its repo's head still there, commits nothing
    /// and reads no manifest.
    pub output: Option<CommitId>,
}

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
        opts: &GetOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<GetOutcome> {
        get::get_dir(&self.backend, manifest, dest, filter, opts, progress).await
    }

    /// Stores the files under `dir` (objects only, no commit) and gives their entries; with a
    /// stat cache, files it vouches for are not read again. `known` holds hashes the caller knows
    /// are stored (the objects of a previous commit), which are neither checked nor written.
    pub async fn snapshot(
        &self,
        dir: &Path,
        known: HashSet<Hash>,
        stat_cache: Option<std::path::PathBuf>,
        jobs: usize,
        progress: Arc<dyn Progress>,
    ) -> Result<Snapshot> {
        let damaged = verify::damaged(&self.backend).await?;
        snapshot::snapshot(&self.backend, dir, known, damaged, stat_cache, jobs, progress).await
    }

    /// Commits `files` (whose objects are stored) to `branch` of `repo`, creating the repo if it
    /// is new. Gives the commit and whether it is new; the head is kept when nothing changed. A
    /// branch another writer moved meanwhile (two runs of one pipeline on one store) is read again:
    /// if it now holds these files, that commit is the answer; else this one goes on top of it.
    pub async fn commit_files(
        &self,
        repo: &str,
        branch: &str,
        files: Vec<pipe_spec::FileEntry>,
        message: &str,
    ) -> Result<(CommitId, bool)> {
        if !self.backend.exists(&layout::repo(repo)).await? {
            match refs::init(&self.backend, repo).await {
                Ok(()) | Err(StoreError::RepoExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        const TRIES: usize = 8;
        for attempt in 1..=TRIES {
            let seen = refs::head(&self.backend, repo, branch).await?;
            if let Some((_, head)) = seen
                && self.manifest(repo, head).await?.files == files
            {
                return Ok((head, false));
            }
            let manifest = Manifest::new(repo.into(), seen.map(|(_, c)| c), refs::now(), message.into(), files.clone())
                .map_err(|e| StoreError::BadPath { path: repo.into(), reason: e.to_string() })?;
            let id = manifests::store(&self.backend, &manifest).await?;
            match refs::move_branch(&self.backend, repo, branch, seen.map(|(seq, _)| seq), id).await {
                Ok(()) => return Ok((id, true)),
                Err(StoreError::Conflict { .. }) if attempt < TRIES => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last try returns")
    }

    /// Reads back every object the commits of `repos` (every repo, and every cache entry, when
    /// empty) refer to; see the `verify` module.
    pub async fn fsck(&self, repos: &[String], jobs: usize) -> Result<FsckReport> {
        verify::fsck(&self.backend, repos, jobs).await
    }

    /// Writes `files` into `dest`, each at its path, verifying every object.
    pub async fn get_files(
        &self,
        files: Vec<pipe_spec::FileEntry>,
        dest: &Path,
        jobs: usize,
        progress: Arc<dyn Progress>,
    ) -> Result<GetOutcome> {
        get::get_files(&self.backend, files, dest, &GetOptions::fresh(jobs), progress).await
    }

    /// The bytes of a stored file, hash-checked, if it is at most `limit` bytes; `None` when it is
    /// larger. For small files a program reads itself (a stage's metrics), not for data.
    pub async fn read_small(&self, file: &pipe_spec::FileEntry, limit: u64) -> Result<Option<Vec<u8>>> {
        if file.size > limit {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        for c in file.objects() {
            bytes.extend_from_slice(&verify::read_object(&self.backend, &c, &file.path).await?);
        }
        Ok(Some(bytes))
    }

    /// The cache entry of a datum, if it was processed before by a stage with this fingerprint.
    pub async fn cache_get(&self, fingerprint: &Hash, datum: &Hash) -> Result<Option<CacheEntry>> {
        let key = layout::cache_entry(fingerprint, datum);
        let Some(bytes) = self.backend.get(&key).await? else { return Ok(None) };
        match serde_json::from_slice::<CacheEntry>(&bytes) {
            // Outputs recorded as damaged: the datum runs again and its snapshot rewrites them.
            Ok(e) if e.format == pipe_spec::CACHE_FORMAT && verify::touches(&self.backend, &e.files).await? => Ok(None),
            Ok(e) if e.format == pipe_spec::CACHE_FORMAT => Ok(Some(e)),
            // An entry this version cannot read is a miss: the datum is processed again.
            _ => Ok(None),
        }
    }

    /// Claims pipeline name `name` for the pipeline file `identity` (its path from its project's
    /// root): the first claim wins, for good. Gives the identity that holds the name when it is
    /// another, so two pipelines never write each other's outputs and runs.
    pub async fn claim_pipeline_name(&self, name: &str, identity: &str) -> Result<Option<String>> {
        refs::check_key_part(name)?;
        let key = layout::pipeline_claim(name);
        if self.backend.put_new(&key, identity.as_bytes().to_vec().into()).await? {
            return Ok(None);
        }
        let holder =
            self.backend.get(&key).await?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        Ok((holder != identity).then_some(holder))
    }

    /// Whether any datum of a stage with this fingerprint was ever processed (locally or by the
    /// shim): one page of a listing.
    pub async fn cache_has_any(&self, fingerprint: &Hash) -> Result<bool> {
        self.backend.any_under(&layout::cache_of(fingerprint)).await
    }

    /// Records what a datum produced. Call only after every output object is stored.
    pub async fn cache_put(&self, fingerprint: &Hash, datum: &Hash, entry: &CacheEntry) -> Result<()> {
        let bytes = serde_json::to_vec(entry).expect("cache entries serialise");
        self.backend.put_new(&layout::cache_entry(fingerprint, datum), bytes.into()).await.map(drop)
    }

    /// The index of the last run of a stage with this fingerprint: one read instead of one per
    /// datum. An unreadable index (an older format, a torn write) is an empty one, and entries
    /// naming damaged objects are left out.
    pub async fn stage_index_get(&self, fingerprint: &Hash) -> Result<StageIndex> {
        let Some(bytes) = self.backend.get(&layout::stage_index(fingerprint)).await? else {
            return Ok(StageIndex::default());
        };
        let mut index: StageIndex =
            bytes.strip_prefix(STAGE_INDEX_MAGIC).and_then(|b| postcard::from_bytes(b).ok()).unwrap_or_default();
        let damaged = verify::damaged(&self.backend).await?;
        let before = index.entries.len();
        index.entries.retain(|_, files| !verify::any_in(&damaged, files));
        if index.entries.len() != before {
            index.output = None;
        }
        Ok(index)
    }

    /// Replaces a stage's index; call after its output commit.
    pub async fn stage_index_put(&self, fingerprint: &Hash, index: &StageIndex) -> Result<()> {
        let mut bytes = STAGE_INDEX_MAGIC.to_vec();
        bytes.extend(postcard::to_stdvec(index).expect("indexes serialise"));
        self.backend.put(&layout::stage_index(fingerprint), bytes.into()).await
    }

    /// Stores a run's provenance record under its id.
    pub async fn run_put(&self, id: &str, record: &impl serde::Serialize) -> Result<()> {
        let bytes = serde_json::to_vec(record).expect("records serialise");
        self.backend.put(&layout::run(id), bytes.into()).await
    }

    /// A run's provenance record.
    pub async fn run_get(&self, id: &str) -> Result<Option<serde_json::Value>> {
        let Some(bytes) = self.backend.get(&layout::run(id)).await? else { return Ok(None) };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Every run id, oldest first: by when its record was last written (a local run's at its end,
    /// a cluster run's as its last stage commits). Ids alone do not order runs: a local id starts
    /// with its time, but a cluster's is its workflow's or TorchX app's name.
    pub async fn run_ids(&self) -> Result<Vec<String>> {
        let keys = self.backend.list_by_time(&layout::runs()).await?;
        Ok(keys.iter().map(|k| layout::file_name(k).to_owned()).collect())
    }

    /// Stores one stage's share of run `run` (a cluster's `commit` step).
    pub async fn run_part_put(&self, run: &str, stage: &str, part: &impl serde::Serialize) -> Result<()> {
        refs::check_key_part(run)?;
        let bytes = serde_json::to_vec(part).expect("records serialise");
        self.backend.put(&layout::run_part(run, stage), bytes.into()).await
    }

    /// Every stored share of run `run`, by stage (those that do not parse as JSON are left out).
    pub async fn run_parts(&self, run: &str) -> Result<Vec<(String, serde_json::Value)>> {
        refs::check_key_part(run)?;
        let mut parts = Vec::new();
        for key in self.backend.list(&layout::run_parts(run)).await? {
            if let Some(value) = self.backend.get(&key).await?.and_then(|b| serde_json::from_slice(&b).ok()) {
                parts.push((layout::file_name(&key).to_owned(), value));
            }
        }
        Ok(parts)
    }

    /// The stages that stored a share of run `run` (names only: no share is read).
    pub async fn run_part_stages(&self, run: &str) -> Result<Vec<String>> {
        refs::check_key_part(run)?;
        Ok(self.backend.list(&layout::run_parts(run)).await?.iter().map(|k| layout::file_name(k).to_owned()).collect())
    }

    /// Stores a stage's plan for a run (`pipe-shim plan`).
    pub async fn plan_put(&self, run: &str, stage: &str, plan: &serde_json::Value) -> Result<()> {
        refs::check_key_part(run)?;
        let bytes = serde_json::to_vec(plan).expect("plans serialise");
        self.backend.put(&layout::plan(run, stage), bytes.into()).await
    }

    /// A stage's plan for a run, if `plan` wrote one.
    pub async fn plan_get(&self, run: &str, stage: &str) -> Result<Option<serde_json::Value>> {
        refs::check_key_part(run)?;
        let Some(bytes) = self.backend.get(&layout::plan(run, stage)).await? else { return Ok(None) };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Marks run `run` as owing `sink` its export, `sent` of its events already taken: written
    /// before the export starts, so a crash or a refusing server leaves it for the next run.
    pub async fn export_owed_put(&self, sink: &str, run: &str, sent: usize) -> Result<()> {
        refs::check_key_part(sink)?;
        refs::check_key_part(run)?;
        self.backend.put(&layout::export(sink, run), sent.to_string().into_bytes().into()).await
    }

    /// Claims the sending of run `run` for this process: true for the first to ask, false after.
    pub async fn claim_export(&self, run: &str) -> Result<bool> {
        refs::check_key_part(run)?;
        self.backend.put_new(&layout::export_claim(run), bytes::Bytes::from_static(b"{}")).await
    }

    /// Claims the run for one set of input commits (`key`) of `pipeline`'s trigger with `marker`
    /// (create-if-absent, atomic on every backend): `None` when this call created it, else the
    /// marker that was there first.
    pub async fn trigger_claim(&self, pipeline: &str, key: &str, marker: Vec<u8>) -> Result<Option<Vec<u8>>> {
        refs::check_key_part(pipeline)?;
        refs::check_key_part(key)?;
        let at = layout::trigger(pipeline, key);
        if self.backend.put_new(&at, marker.into()).await? {
            return Ok(None);
        }
        Ok(Some(self.backend.get(&at).await?.map(|b| b.to_vec()).unwrap_or_default()))
    }

    /// Records the check that started run `run` of `pipeline`, for its stages to read the commits
    /// it claimed.
    pub async fn trigger_run_put(&self, pipeline: &str, run: &str, check: Vec<u8>) -> Result<()> {
        refs::check_key_part(pipeline)?;
        refs::check_key_part(run)?;
        self.backend.put(&layout::trigger_run(pipeline, run), check.into()).await
    }

    /// The check that started run `run` of `pipeline`, if a trigger started it.
    pub async fn trigger_run_get(&self, pipeline: &str, run: &str) -> Result<Option<Vec<u8>>> {
        refs::check_key_part(pipeline)?;
        refs::check_key_part(run)?;
        Ok(self.backend.get(&layout::trigger_run(pipeline, run)).await?.map(|b| b.to_vec()))
    }

    /// Records the last trigger check of `pipeline` (overwritten by the next).
    pub async fn trigger_last_put(&self, pipeline: &str, check: Vec<u8>) -> Result<()> {
        refs::check_key_part(pipeline)?;
        self.backend.put(&layout::trigger_last(pipeline), check.into()).await
    }

    /// The last trigger check of `pipeline`, if there was one.
    pub async fn trigger_last_get(&self, pipeline: &str) -> Result<Option<Vec<u8>>> {
        refs::check_key_part(pipeline)?;
        Ok(self.backend.get(&layout::trigger_last(pipeline)).await?.map(|b| b.to_vec()))
    }

    /// The runs `sink` is owed, oldest first, each with how many of its events it took already
    /// (0 when the mark does not read as a number: sending again is safe, losing is not).
    pub async fn export_owed(&self, sink: &str) -> Result<Vec<(String, usize)>> {
        refs::check_key_part(sink)?;
        let mut owed = Vec::new();
        for key in self.backend.list(&layout::exports(sink)).await? {
            let run = layout::file_name(&key).to_owned();
            let sent = self.backend.get(&key).await?.and_then(|b| std::str::from_utf8(&b).ok()?.parse().ok());
            owed.push((run, sent.unwrap_or(0)));
        }
        Ok(owed)
    }

    /// Clears the mark of a run `sink` has taken whole.
    pub async fn export_owed_clear(&self, sink: &str, run: &str) -> Result<()> {
        refs::check_key_part(sink)?;
        refs::check_key_part(run)?;
        self.backend.delete(&layout::export(sink, run)).await
    }

    /// The object key of a hash, for tests that must damage the store.
    pub fn object_key(hash: &pipe_spec::Hash) -> String {
        layout::object(hash).to_string()
    }
}
