//! Repos, branches and tags: creating them, reading them, moving a branch, and resolving what a
//! user typed (`main`, `v1`, `3fa9c2`) to a commit id.

use crate::backend::Backend;
use crate::error::{Result, StoreError};
use crate::layout;
use bytes::Bytes;
use pipe_spec::{CommitId, REF_FORMAT, RefKind, RefRecord, RepoRecord, check_name};
use std::collections::BTreeMap;

/// The current time, RFC 3339, UTC, whole seconds.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn name(n: &str) -> Result<()> {
    check_name(n).map_err(StoreError::Name)
}

/// Checks a run id or other name that becomes part of a key.
pub(crate) fn check_key_part(n: &str) -> Result<()> {
    name(n)
}

pub(crate) async fn init(b: &Backend, repo: &str) -> Result<()> {
    name(repo)?;
    let record = RepoRecord { format: REF_FORMAT, name: repo.into(), created: now() };
    let bytes = Bytes::from(serde_json::to_vec(&record).expect("records serialise"));
    if b.put_new(&layout::repo(repo), bytes).await? {
        Ok(())
    } else {
        Err(StoreError::RepoExists { repo: repo.into() })
    }
}

/// Fails with [`StoreError::NoRepo`] unless `repo` exists.
pub(crate) async fn require(b: &Backend, repo: &str) -> Result<()> {
    name(repo)?;
    if b.exists(&layout::repo(repo)).await? {
        return Ok(());
    }
    if b.is_remote() {
        // A HEAD of a missing bucket is a bodiless 404, like a missing repo; a listing says which.
        b.list(&layout::repo(repo)).await?;
    }
    let similar = similar_names(repo, repos(b).await.unwrap_or_default());
    Err(StoreError::NoRepo { repo: repo.into(), url: b.url().into(), similar })
}

pub(crate) async fn repos(b: &Backend) -> Result<Vec<String>> {
    Ok(b.list(&layout::repos()).await?.iter().map(|k| layout::file_name(k).to_owned()).collect())
}

async fn record(b: &Backend, key: &object_store::path::Path) -> Result<Option<RefRecord>> {
    let Some(bytes) = b.get(key).await? else { return Ok(None) };
    let record: RefRecord = serde_json::from_slice(&bytes).map_err(|e| StoreError::Backend {
        url: b.url().into(),
        op: "parse",
        key: key.to_string(),
        cause: e.to_string(),
    })?;
    if record.format != REF_FORMAT {
        return Err(StoreError::Backend {
            url: b.url().into(),
            op: "parse",
            key: key.to_string(),
            cause: format!("ref format {} is newer than this pipe; upgrade pipe", record.format),
        });
    }
    Ok(Some(record))
}

/// The sequence number of a branch move's file name: exactly the 20 digits `move_branch` writes.
/// Anything else in a branch's folder is not a move, for `head` and `branches` alike.
fn move_seq(name: &str) -> Option<u64> {
    (name.len() == 20 && name.bytes().all(|c| c.is_ascii_digit())).then(|| name.parse().ok()).flatten()
}

/// A branch's head: its latest sequence number and commit.
pub(crate) async fn head(b: &Backend, repo: &str, branch: &str) -> Result<Option<(u64, CommitId)>> {
    name(branch)?;
    let moves = b.list(&layout::branch(repo, branch)).await?;
    let Some(last) = moves.iter().filter_map(|k| move_seq(layout::file_name(k)).map(|s| (s, k))).max_by_key(|m| m.0)
    else {
        return Ok(None);
    };
    Ok(record(b, last.1).await?.map(|r| (last.0, r.commit)))
}

/// Moves `branch` to `commit`, if its head is still `seen` (the sequence number read before the
/// commit was built). Otherwise nothing changes and the error names the commit that won.
pub(crate) async fn move_branch(
    b: &Backend,
    repo: &str,
    branch: &str,
    seen: Option<u64>,
    commit: CommitId,
) -> Result<()> {
    name(branch)?;
    let seq = seen.map_or(0, |s| s + 1);
    let record = RefRecord { format: REF_FORMAT, kind: RefKind::Branch, commit, time: now() };
    let bytes = Bytes::from(serde_json::to_vec(&record).expect("records serialise"));
    if b.put_new(&layout::branch_move(repo, branch, seq), bytes).await? {
        return Ok(());
    }
    let theirs = head(b, repo, branch).await?.map_or(commit, |(_, c)| c);
    Err(StoreError::Conflict { repo: repo.into(), branch: branch.into(), ours: commit, theirs })
}

/// Every branch with its head, by name.
pub(crate) async fn branches(b: &Backend, repo: &str) -> Result<BTreeMap<String, CommitId>> {
    let prefix = layout::branches(repo);
    // The head of each branch by the rule `head` uses: the highest sequence number among the
    // entries that are one. Anything else in the folder (a stray file) is not a move.
    let mut last: BTreeMap<String, (u64, object_store::path::Path)> = BTreeMap::new();
    for key in b.list(&prefix).await? {
        if let [branch, seq] = &layout::rest(&key, &prefix)[..]
            && let Some(seq) = move_seq(seq)
            && last.get(branch).is_none_or(|(s, _)| seq > *s)
        {
            last.insert(branch.clone(), (seq, key.clone()));
        }
    }
    let last: BTreeMap<String, object_store::path::Path> = last.into_iter().map(|(b, (_, k))| (b, k)).collect();
    let mut out = BTreeMap::new();
    for (branch, key) in last {
        if let Some(r) = record(b, &key).await? {
            out.insert(branch, r.commit);
        }
    }
    Ok(out)
}

/// Every tag with its commit, by name.
pub(crate) async fn tags(b: &Backend, repo: &str) -> Result<BTreeMap<String, CommitId>> {
    let mut out = BTreeMap::new();
    for key in b.list(&layout::tags(repo)).await? {
        if let Some(r) = record(b, &key).await? {
            out.insert(layout::file_name(&key).to_owned(), r.commit);
        }
    }
    Ok(out)
}

/// Creates tag `tag` at `commit`. Tags never move; tagging the commit a tag already names again
/// is a no-op.
pub(crate) async fn tag(b: &Backend, repo: &str, tag: &str, commit: CommitId) -> Result<()> {
    name(tag)?;
    let record = RefRecord { format: REF_FORMAT, kind: RefKind::Tag, commit, time: now() };
    let bytes = Bytes::from(serde_json::to_vec(&record).expect("records serialise"));
    if b.put_new(&layout::tag(repo, tag), bytes).await? {
        return Ok(());
    }
    match record_of_tag(b, repo, tag).await? {
        Some(existing) if existing == commit => Ok(()),
        existing => {
            Err(StoreError::TagExists { repo: repo.into(), tag: tag.into(), commit: existing.unwrap_or(commit) })
        }
    }
}

async fn record_of_tag(b: &Backend, repo: &str, tag: &str) -> Result<Option<CommitId>> {
    Ok(record(b, &layout::tag(repo, tag)).await?.map(|r| r.commit))
}

/// Resolves a branch name, then a tag name, then a commit id or a prefix of one (6 or more hex
/// digits) to a commit id.
pub(crate) async fn resolve(b: &Backend, repo: &str, reference: &str) -> Result<CommitId> {
    require(b, repo).await?;
    if check_name(reference).is_ok() {
        if let Some((_, commit)) = head(b, repo, reference).await? {
            return Ok(commit);
        }
        if let Some(commit) = record_of_tag(b, repo, reference).await? {
            return Ok(commit);
        }
    }
    let hex = reference.len() >= 6 && reference.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if hex {
        let prefix = layout::commits(repo);
        let matches: Vec<CommitId> = b
            .list(&prefix)
            .await?
            .iter()
            .map(layout::file_name)
            .filter(|name| name.starts_with(reference))
            .filter_map(|name| name.parse().ok().map(CommitId))
            .collect();
        match matches[..] {
            [one] => return Ok(one),
            [] => {}
            _ => return Err(StoreError::AmbiguousRef { repo: repo.into(), reference: reference.into() }),
        }
    }
    let mut known: Vec<String> = branches(b, repo).await?.into_keys().collect();
    known.extend(tags(b, repo).await?.into_keys());
    Err(StoreError::UnknownRef { repo: repo.into(), reference: reference.into(), known })
}

/// The existing repos a missing name was probably meant to be: a close spelling, the same last
/// part after the pipeline's name (`pipeline.leaderboard` for `sweep-validate.leaderboard`), or a
/// stage's output named without its pipeline (`train` for `mnist.train`).
fn similar_names(missing: &str, existing: Vec<String>) -> Vec<String> {
    let tail = |name: &str| name.rsplit_once('.').map(|(_, t)| t.to_owned());
    let mut out: Vec<String> = existing
        .into_iter()
        .filter(|name| {
            let stage = tail(name);
            strsim::levenshtein(name, missing) <= 2
                || (stage.is_some() && stage == tail(missing))
                || stage.as_deref() == Some(missing)
        })
        .collect();
    out.truncate(5);
    out
}

#[cfg(test)]
mod similar_tests {
    #[test]
    fn a_missing_repo_is_matched_by_spelling_or_by_its_stage() {
        let existing = ["mnist", "sweep-validate.leaderboard", "other.train"].map(String::from).to_vec();
        assert_eq!(super::similar_names("pipeline.leaderboard", existing.clone()), ["sweep-validate.leaderboard"]);
        assert_eq!(super::similar_names("mnsit", existing.clone()), ["mnist"]);
        assert_eq!(super::similar_names("train", existing.clone()), ["other.train"]);
        assert!(super::similar_names("faces", existing).is_empty());
    }
}
