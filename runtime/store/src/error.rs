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
    #[error("the store at `{url}` refused to {op} `{key}`: {cause}")]
    Denied { url: String, op: &'static str, key: String, cause: String },
    #[error("the bucket `{bucket}` of `{url}` does not exist")]
    NoBucket { url: String, bucket: String },
    #[error("the store at `{url}` failed to {op} `{key}`: {cause}")]
    Backend { url: String, op: &'static str, key: String, cause: String },
    #[error("`{url}` is a file, not a folder: it cannot hold a store")]
    NotAFolder { url: String },
    #[error("there is no store at `{url}`")]
    NoStore { url: String },
    #[error("no repo `{repo}` in the store at `{url}`")]
    NoRepo { repo: String, url: String, similar: Vec<String> },
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
    #[error("the store has {objects} damaged object(s) and {commits} damaged commit(s)")]
    Damaged { objects: usize, commits: usize },
    #[error("`{path}`: {reason}")]
    BadPath { path: String, reason: String },
    #[error("`{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{}` is in the way: it differs from the version being got, and was changed after pipe last wrote or read it", path.display())]
    WouldOverwrite { path: PathBuf },
    #[error("`{}` changed while it was being read", path.display())]
    Changed { path: PathBuf },
    #[error("{0}")]
    Name(String),
    #[error("no file of `{target}` matches {globs}")]
    NoMatch { target: String, globs: String },
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
            StoreError::Unreachable { url, .. } => format!(
                "check the URL and the network, and that the endpoint is the store's ({}); `--store` or PIPE_STORE choose the store",
                Cloud::of(url).endpoint()
            ),
            StoreError::Denied { url, .. } => format!(
                "the store does not accept these credentials for this: check {} and that they may read, list and write under `{url}`",
                Cloud::of(url).credentials()
            ),
            StoreError::NoBucket { url, bucket } => format!(
                "pipe does not create buckets: create it ({}) or fix the name in `{url}`",
                Cloud::of(url).make_bucket(bucket)
            ),
            StoreError::Backend { .. } => "the store answered with an error; check its permissions and try again".into(),
            StoreError::NoStore { .. } => {
                "`pipe data init REPO` creates one here; `--store` or PIPE_STORE point at another".into()
            }
            StoreError::NoRepo { similar, .. } if !similar.is_empty() => format!(
                "did you mean {}? (`pipe data repos` lists every repo of this store)",
                similar.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" or ")
            ),
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
            StoreError::Corrupt { .. } | StoreError::MissingObject { .. } => {
                "the store was changed outside pipe; `pipe data put` a folder holding this file (the put rewrites the object, even when the folder is up to date); `pipe data fsck` lists every damaged object".into()
            }
            StoreError::BadCommit { .. } => {
                "the store was changed outside pipe; a commit's manifest cannot be rebuilt from data: copy it from another copy of the store, or `pipe data put` the data again as a new commit".into()
            }
            StoreError::Damaged { .. } => {
                "`pipe data put REPO DIR` from a folder holding the files listed rewrites their objects (even when the folder is up to date); run `pipe data fsck` again to confirm".into()
            }
            StoreError::BadPath { .. } => {
                "stored paths are relative and stay inside their folder: rename the file (no `..`, leading `/`, NUL, backslash or symbolic link)".into()
            }
            StoreError::Io { .. } => "check that the path exists and that this user may read it (and write it, where pipe writes)".into(),
            StoreError::NotAFolder { .. } => "a local store is a folder (created when missing): give `--store` a folder path or a URL such as `s3://bucket/prefix`".into(),
            StoreError::WouldOverwrite { .. } => {
                "nothing was overwritten: move the file away (or `pipe data put` it first to keep it as a version), or pass `--force` to replace it".into()
            }
            StoreError::Changed { .. } => "something is still writing to it; wait for it to finish, then run the command again".into(),
            StoreError::Name(_) => "names become object keys, so only these characters are allowed".into(),
            StoreError::NoMatch { target, .. } => format!(
                "patterns start at the repo's root and match whole path segments, e.g. `train/*.png`; `pipe data ls {target}` lists every file"
            ),
            StoreError::Glob { .. } => "globs use `*`, `**`, `?`, `[abc]` and `{a,b}`, e.g. `train/*.png`".into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// The cloud a store URL is on, for help that names that cloud's own variables and tools.
enum Cloud {
    S3,
    Gcs,
    Azure,
}

impl Cloud {
    fn of(url: &str) -> Cloud {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("gs") => Cloud::Gcs,
            Some("az" | "azure" | "abfs" | "abfss") => Cloud::Azure,
            _ => Cloud::S3,
        }
    }

    /// The variables its client reads credentials from (object_store's `from_env` builders).
    fn credentials(&self) -> &'static str {
        match self {
            Cloud::S3 => "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)",
            Cloud::Gcs => "GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT",
            Cloud::Azure => "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY",
        }
    }

    /// The variables that say where the store is.
    fn endpoint(&self) -> &'static str {
        match self {
            Cloud::S3 => "AWS_ENDPOINT or AWS_ENDPOINT_URL for S3-compatible servers, AWS_REGION",
            Cloud::Gcs => "GOOGLE_APPLICATION_CREDENTIALS names the project's credentials",
            Cloud::Azure => "AZURE_STORAGE_ACCOUNT_NAME",
        }
    }

    fn make_bucket(&self, bucket: &str) -> String {
        match self {
            Cloud::S3 => format!("`aws s3 mb s3://{bucket}`"),
            Cloud::Gcs => format!("`gcloud storage buckets create gs://{bucket}`"),
            Cloud::Azure => format!("`az storage container create --name {bucket}`"),
        }
    }
}

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod help_tests {
    use super::*;

    /// A `gs://` store is not told to set S3's variables, nor to make its bucket with `aws`.
    #[test]
    fn each_cloud_is_told_its_own_variables_and_tools() {
        let unreachable = |url: &str| StoreError::Unreachable { url: url.into(), cause: "x".into() }.help();
        let denied =
            |url: &str| StoreError::Denied { url: url.into(), op: "read", key: "k".into(), cause: "x".into() }.help();
        let no_bucket = |url: &str| StoreError::NoBucket { url: url.into(), bucket: "b".into() }.help();
        assert!(unreachable("s3://b/p").contains("AWS_ENDPOINT") && denied("s3://b/p").contains("AWS_ACCESS_KEY_ID"));
        assert!(no_bucket("s3://b/p").contains("aws s3 mb s3://b"));
        for url in ["gs://b/p", "az://b/p"] {
            for help in [unreachable(url), denied(url), no_bucket(url)] {
                assert!(!help.contains("AWS_") && !help.contains("aws s3"), "{url}: {help}");
            }
        }
        assert!(
            denied("gs://b/p").contains("GOOGLE_APPLICATION_CREDENTIALS") && no_bucket("gs://b/p").contains("gcloud")
        );
        assert!(
            denied("az://c/p").contains("AZURE_STORAGE_ACCOUNT_KEY") && no_bucket("az://c/p").contains("az storage")
        );
    }

    /// A server's XML error answer becomes one line with its status, code and message.
    #[test]
    fn a_servers_error_document_is_one_line() {
        let text = "Error performing GET http://x in 3ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>No such key.</Message><RequestId>1</RequestId></Error>";
        assert_eq!(crate::backend::answer(text), "403 Forbidden: InvalidAccessKeyId: No such key.");
    }
}
