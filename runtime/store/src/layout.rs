//! Where each record lives in the store. The only module that spells keys.
//!
//! ```text
//! repos/<repo>                              marker: the repo exists (RepoRecord)
//! objects/<h[..2]>/<h>                      a chunk or a small file, named by its blake3 hash
//! packs/<id[..2]>/<id>                      small objects, one after another (see `pack`); id is
//!                                           the blake3 hash of the pack's bytes
//! packindex/<id>                            which object is where in pack id
//! commits/<repo>/<commit-id>                a manifest, named by its hash
//! refs/<repo>/heads/<branch>/<seq:020>      the branch's positions, one record per move
//! refs/<repo>/tags/<tag>                    a tag: written once, never moved
//! cache/<stage fingerprint>/<datum key>     what one processed datum produced (CacheEntry)
//! stages/<stage fingerprint>                every datum key of the stage's last run → its outputs
//! runs/<run-id>                             provenance of one run (written by the runtime)
//! plans/<run-id>/<stage>                    a stage's work list, split into shards (pipe-shim)
//! runparts/<run-id>/<stage>                 one stage's share of a run on a cluster, written by
//!                                           its `commit` step; `runs/<run-id>` is made from them
//! claims/exports/<run-id>                   marker: a cluster's stage took on sending the run
//! triggers/<pipeline>/<key>                 marker: the run a trigger started for one set of
//!                                           input commits (the key), created once
//! triggers/<pipeline>.last                  the last trigger check of the pipeline, run or not
//! triggers/<pipeline>.runs/<run-id>         the commits a check claimed for the run it started:
//!                                           what the run's stages read
//! exports/<sink>/<run-id>                   a run not yet (wholly) exported to a tracking server:
//!                                           how many of its events the sink has taken
//! pipelines/<name>                          which pipeline file runs under that name (its path
//!                                           from its project's root): names are not shared
//! damaged/<h>                               marker: object h was found corrupt or missing; the
//!                                           next put that holds its bytes rewrites it
//! ```
//!
//! A branch is an append-only log rather than one overwritten object: moving it creates the next
//! sequence number only if nobody has (a create-if-absent put, atomic on every backend, including
//! the local filesystem, which has no compare-and-swap on overwrite). The highest number is the
//! head; a lost race is a failed create, reported as a conflict.

use object_store::path::Path as Key;
use pipe_spec::{CommitId, Hash};

pub(crate) fn repo(repo: &str) -> Key {
    Key::from(format!("repos/{repo}"))
}

pub(crate) fn repos() -> Key {
    Key::from("repos")
}

pub(crate) fn object(hash: &Hash) -> Key {
    let hex = hash.to_hex();
    Key::from(format!("objects/{}/{hex}", &hex[..2]))
}

pub(crate) fn pack(id: &Hash) -> Key {
    let hex = id.to_hex();
    Key::from(format!("packs/{}/{hex}", &hex[..2]))
}

pub(crate) fn pack_index(id: &Hash) -> Key {
    Key::from(format!("packindex/{id}"))
}

pub(crate) fn pack_indexes() -> Key {
    Key::from("packindex")
}

pub(crate) fn damaged(hash: &Hash) -> Key {
    Key::from(format!("damaged/{hash}"))
}

pub(crate) fn damaged_all() -> Key {
    Key::from("damaged")
}

pub(crate) fn pipeline_claim(name: &str) -> Key {
    Key::from(format!("pipelines/{name}"))
}

pub(crate) fn cache_of(fingerprint: &Hash) -> Key {
    Key::from(format!("cache/{fingerprint}"))
}

pub(crate) fn caches() -> Key {
    Key::from("cache")
}

pub(crate) fn commit(repo: &str, id: &CommitId) -> Key {
    Key::from(format!("commits/{repo}/{id}"))
}

pub(crate) fn commits(repo: &str) -> Key {
    Key::from(format!("commits/{repo}"))
}

pub(crate) fn branches(repo: &str) -> Key {
    Key::from(format!("refs/{repo}/heads"))
}

pub(crate) fn branch(repo: &str, branch: &str) -> Key {
    Key::from(format!("refs/{repo}/heads/{branch}"))
}

pub(crate) fn branch_move(repo: &str, branch: &str, seq: u64) -> Key {
    Key::from(format!("refs/{repo}/heads/{branch}/{seq:020}"))
}

pub(crate) fn tags(repo: &str) -> Key {
    Key::from(format!("refs/{repo}/tags"))
}

pub(crate) fn tag(repo: &str, tag: &str) -> Key {
    Key::from(format!("refs/{repo}/tags/{tag}"))
}

/// The last part of a key.
pub(crate) fn file_name(key: &Key) -> &str {
    key.filename().unwrap_or_default()
}

/// The part of `key` after `prefix/`, split at `/`.
pub(crate) fn rest(key: &Key, prefix: &Key) -> Vec<String> {
    key.prefix_match(prefix).map(|parts| parts.map(|p| p.as_ref().to_owned()).collect()).unwrap_or_default()
}

pub(crate) fn cache_entry(fingerprint: &Hash, datum: &Hash) -> Key {
    Key::from(format!("cache/{fingerprint}/{datum}"))
}

pub(crate) fn run(id: &str) -> Key {
    Key::from(format!("runs/{id}"))
}

pub(crate) fn runs() -> Key {
    Key::from("runs")
}

pub(crate) fn plan(run: &str, stage: &str) -> Key {
    Key::from(format!("plans/{run}/{stage}"))
}

pub(crate) fn run_part(run: &str, stage: &str) -> Key {
    Key::from(format!("runparts/{run}/{stage}"))
}

pub(crate) fn run_parts(run: &str) -> Key {
    Key::from(format!("runparts/{run}"))
}

pub(crate) fn export_claim(run: &str) -> Key {
    Key::from(format!("claims/exports/{run}"))
}

pub(crate) fn trigger(pipeline: &str, key: &str) -> Key {
    Key::from(format!("triggers/{pipeline}/{key}"))
}

pub(crate) fn trigger_run(pipeline: &str, run: &str) -> Key {
    Key::from(format!("triggers/{pipeline}.runs/{run}"))
}

pub(crate) fn trigger_last(pipeline: &str) -> Key {
    Key::from(format!("triggers/{pipeline}.last"))
}

pub(crate) fn export(sink: &str, run: &str) -> Key {
    Key::from(format!("exports/{sink}/{run}"))
}

pub(crate) fn exports(sink: &str) -> Key {
    Key::from(format!("exports/{sink}"))
}

pub(crate) fn stage_index(fingerprint: &Hash) -> Key {
    Key::from(format!("stages/{fingerprint}"))
}
