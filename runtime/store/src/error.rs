//! Everything that can go wrong in the store, each with what to do next ([`StoreError::help`]).

use pipe_spec::{CommitId, Hash};
use std::path::PathBuf;

/// A store operation that failed. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{url}` is not a store location: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot make an HTTP client for the store at `{url}`: {reason}")]
    NoCertificates { url: String, reason: String },
    #[error("cannot reach the store at `{url}`: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("the store at `{url}` failed to {op} `{key}`: {cause}")]
    Backend { url: String, op: &'static str, key: String, cause: String },
    #[error("there is no store at `{url}`")]
    NoStore { url: String },
    #[error("no repo `{repo}` in the store at `{url}`")]
    NoRepo { repo: String, url: String },
    #[error("repo `{repo}` already exists")]
    RepoExists { repo: String },
    #[error("repo `{repo}` has no branch, tag or commit `{reference}`")]
    UnknownRef { repo: String, reference: String, known: Vec<String> },
    #[error("`{reference}` names more than one commit of `{repo}`")]
    AmbiguousRef { repo: String, reference: String },
    #[error("branch `{branch}` of `{repo}` moved to {theirs} while this put was writing {ours}")]
    Conflict { repo: String, branch: String, ours: CommitId, theirs: CommitId },
    #[error("tag `{tag}` of `{repo}` already names commit {commit}")]
    TagExists { repo: String, tag: String, commit: CommitId },
    #[error("object {hash} of `{path}` is corrupt: {detail}")]
    Corrupt { hash: Hash, path: String, detail: String },
    #[error("object {hash} of `{path}` is missing from the store")]
    MissingObject { hash: Hash, path: String },
    #[error("commit {commit} of `{repo}` cannot be read: {detail}")]
    BadCommit { repo: String, commit: CommitId, detail: String },
    #[error("`{path}`: {reason}")]
    BadPath { path: String, reason: String },
    #[error("`{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{}` changed while it was being read", path.display())]
    Changed { path: PathBuf },
    #[error("{0}")]
    Name(String),
    #[error("`{pattern}` is not a valid glob: {reason}")]
    Glob { pattern: String, reason: String },
}

impl StoreError {
    /// What the user can do about it.
    pub fn help(&self) -> String {
        match self {
            StoreError::BadUrl { .. } => {
                "use a local path, `file:///abs/path`, `memory://`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`".into()
            }
            StoreError::NoCertificates { .. } => "this machine (or image) has no CA certificates: install them (Debian: `apt-get install ca-certificates`; an image built `FROM scratch` needs /etc/ssl/certs/ca-certificates.crt copied in), or point SSL_CERT_FILE at a bundle".into(),
            StoreError::Unreachable { url, .. } => {
                // The variables each cloud's client reads (object_store's `from_env` builders).
                let credentials = match url.split_once("://").map(|(scheme, _)| scheme) {
                    Some("gs") => "for GCS: GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT",
                    Some("az" | "azure" | "abfs" | "abfss") => {
                        "for Azure: AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY"
                    }
                    _ => "for S3: AWS_ENDPOINT (or AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION",
                };
                format!("check the URL, the network and the credentials ({credentials}); `--store` or PIPE_STORE choose the store")
            }
            StoreError::Backend { .. } => "the store answered with an error; check its permissions and try again".into(),
            StoreError::NoStore { .. } => {
                "`pipe data init REPO` creates one here; `--store` or PIPE_STORE point at another".into()
            }
            StoreError::NoRepo { repo, .. } => format!("create it with `pipe data init {repo}`, or check `--store`"),
            StoreError::RepoExists { .. } => "pick another name, or `pipe data put` into the existing repo".into(),
            StoreError::UnknownRef { repo, known, .. } if known.is_empty() => {
                format!("`{repo}` has no commits yet: `pipe data put {repo} DIR` makes the first")
            }
            StoreError::UnknownRef { known, .. } => format!("known refs: {}", known.join(", ")),
            StoreError::AmbiguousRef { .. } => "give more digits of the commit id".into(),
            StoreError::Conflict { ours, .. } => format!(
                "nothing was lost: commit {} is stored but no branch names it; run the put again to commit on top of the new head",
                ours.0.short(12)
            ),
            StoreError::TagExists { .. } => "tags never move: choose a new tag name".into(),
            StoreError::Corrupt { .. } | StoreError::MissingObject { .. } | StoreError::BadCommit { .. } => {
                "the store was changed outside pipe; `pipe data put` the data again to restore the object, or use another copy of the store".into()
            }
            StoreError::BadPath { .. } => {
                "stored paths are relative and stay inside their folder: rename the file (no `..`, leading `/`, NUL, backslash or symbolic link)".into()
            }
            StoreError::Io { .. } => "check that the path exists and is readable (and writable, for `get`)".into(),
            StoreError::Changed { .. } => "something is still writing to it; wait for it to finish, then run the command again".into(),
            StoreError::Name(_) => "names become object keys, so only these characters are allowed".into(),
            StoreError::Glob { .. } => "globs use `*`, `**`, `?`, `[abc]` and `{a,b}`, e.g. `train/*.png`".into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod help_tests {
    use super::*;

    /// A `gs://` store that cannot be reached is not told to set S3's variables.
    #[test]
    fn an_unreachable_store_is_told_its_own_clouds_variables() {
        let help = |url: &str| StoreError::Unreachable { url: url.into(), cause: "x".into() }.help();
        assert!(help("s3://b/p").contains("AWS_ENDPOINT") && help("s3://b/p").contains("AWS_ACCESS_KEY_ID"));
        assert!(help("gs://b/p").contains("GOOGLE_APPLICATION_CREDENTIALS") && !help("gs://b/p").contains("AWS_"));
        assert!(help("az://c/p").contains("AZURE_STORAGE_ACCOUNT_NAME") && !help("az://c/p").contains("AWS_"));
    }
}
