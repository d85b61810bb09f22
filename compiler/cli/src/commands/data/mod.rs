//! `pipe data init|put|log|ls|get|diff|tag|fsck`: versioned data repos, with git's and DVC's habits.
//!
//! Takes the store URL (`--store`, `PIPE_STORE`, default `.pipe`) and a subcommand; gives text for
//! people or JSON (`--json`) for tools on stdout, progress bars and errors on stderr. Exit codes: 0
//! done, 1 the store refused (with what to do next), 2 usage. The work is `pipe-store`'s.

mod print;
mod progress;
pub(crate) use progress::LINE_EVERY;
mod resolve;

use crate::report::{self, Outcome, Threads};
use clap::{Args, Subcommand};
use pipe_store::{Filter, GetOptions, PutOptions, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// Where the store is: a folder, `s3://bucket/prefix`, `gs://…`, `az://…`, `memory://`
    /// [default: the nearest `.pipe` store at or above this folder (up to a `.git` root), else `.pipe`
    /// here; for `resolve`, the pipeline's `store`, else as `pipe run` finds it]
    #[arg(long, global = true, env = "PIPE_STORE")]
    store: Option<String>,
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Create an empty repo.
    Init { repo: String },
    /// List the store's repos, with each one's branches.
    Repos {
        #[arg(long)]
        json: bool,
    },
    /// Snapshot a folder into a repo and move a branch to the new commit.
    Put {
        repo: String,
        dir: PathBuf,
        /// The branch to move.
        #[arg(short, long, default_value = pipe_store::DEFAULT_BRANCH)]
        branch: String,
        /// What this version is.
        #[arg(short, long, default_value = "")]
        message: String,
        /// Files read and written at once.
        #[arg(short, long, default_value_t = 8)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show the history of a branch, tag or commit: `REPO[@REF]`.
    Log {
        target: String,
        /// At most this many commits.
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// List the files of a commit (`REPO[@REF]`), or those matching globs.
    Ls {
        target: String,
        globs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write the files of a commit (`REPO[@REF]`), or those matching globs, into a folder.
    Get {
        target: String,
        dir: PathBuf,
        globs: Vec<String>,
        #[arg(short, long, default_value_t = 8)]
        jobs: usize,
        /// Replace files in the folder that were changed since pipe wrote them.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// List added, removed and changed paths from one version to another (`REPO@A [B]`); with
    /// one version, what its commit changed.
    Diff {
        from: String,
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Resolve a pipeline's `repo(…) @ REF` inputs to the commits they name now.
    Resolve {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Read back every stored object the repos' commits (and, with no repo named, the cache's
    /// entries) use, and report the damaged ones; the next put of a folder holding them rewrites
    /// them.
    Fsck {
        repos: Vec<String>,
        #[arg(short, long, default_value_t = 8)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Name a commit with a tag that never moves: `pipe data tag REPO TAG [REF]`.
    Tag {
        repo: String,
        tag: String,
        #[arg(default_value = pipe_store::DEFAULT_BRANCH)]
        reference: String,
    },
}

pub(crate) fn run(args: DataArgs) -> Outcome {
    let runtime = report::runtime(Threads::Many)?;
    match args.command {
        DataCommand::Resolve { file, json } => resolve::run(&runtime, args.store.as_deref(), &file, json),
        command => {
            let url = args.store.clone().unwrap_or_else(crate::inputs::data_store_url);
            Ok(runtime.block_on(execute(&url, command))?)
        }
    }
}

/// Globs that select no file of a commit are a mistake to say, not an empty success.
fn matches_something(
    m: &pipe_spec::Manifest,
    filter: &Filter,
    globs: &[String],
    target: &str,
) -> Result<(), StoreError> {
    if globs.is_empty() || m.files.iter().any(|f| filter.matches(&f.path)) {
        return Ok(());
    }
    Err(StoreError::NoMatch { target: target.into(), globs: globs.join(" ") })
}

/// `REPO@REF` → (REPO, REF); `REPO` → (REPO, main).
fn split_target(target: &str) -> (&str, &str) {
    target.split_once('@').unwrap_or((target, pipe_store::DEFAULT_BRANCH))
}

async fn execute(url: &str, command: DataCommand) -> Result<(), StoreError> {
    let creates = matches!(command, DataCommand::Init { .. });
    let store = Store::open(url, creates)?;
    match command {
        DataCommand::Init { repo } => {
            store.init(&repo).await?;
            println!("created repo `{repo}` in {url}");
        }
        DataCommand::Put { repo, dir, branch, message, jobs, json } => {
            let stat_cache = Some(crate::inputs::state_dir(url, Path::new(".pipe/state")).join("statcache.bin"));
            let opts = PutOptions { branch: branch.clone(), message, stat_cache, jobs };
            let bar = progress::Bar::new(json);
            let outcome = store.put_dir(&repo, &dir, &opts, Arc::new(bar)).await?;
            print::put(&repo, &branch, &outcome, json);
        }
        DataCommand::Log { target, limit, json } => {
            let (repo, reference) = split_target(&target);
            let commit = store.resolve(repo, reference).await?;
            let log = store.log(repo, commit, limit).await?;
            let mut names = store.branches(repo).await?;
            names.extend(store.tags(repo).await?);
            print::log(&log, &names, json);
        }
        DataCommand::Repos { json } => {
            let mut repos = Vec::new();
            for repo in store.repos().await? {
                let branches = store.branches(&repo).await?;
                repos.push((repo, branches));
            }
            print::repos(&repos, json);
        }
        DataCommand::Ls { target, globs, json } => {
            let (repo, reference) = split_target(&target);
            let filter = Filter::new(&globs)?;
            let commit = store.resolve(repo, reference).await?;
            let manifest = store.manifest(repo, commit).await?;
            matches_something(&manifest, &filter, &globs, &target)?;
            print::ls(&manifest, &filter, json);
        }
        DataCommand::Get { target, dir, globs, jobs, force, json } => {
            let (repo, reference) = split_target(&target);
            let filter = Filter::new(&globs)?;
            let commit = store.resolve(repo, reference).await?;
            let manifest = store.manifest(repo, commit).await?;
            matches_something(&manifest, &filter, &globs, &target)?;
            let bar = progress::Bar::new(json);
            let opts = GetOptions {
                jobs,
                force,
                stat_cache: Some(crate::inputs::state_dir(url, Path::new(".pipe/state")).join("statcache.bin")),
            };
            let outcome = store.get_dir(&manifest, &dir, &filter, &opts, Arc::new(bar)).await?;
            print::get(repo, commit, &dir, &outcome, json);
        }
        DataCommand::Diff { from, to, json } => {
            let (repo, a_ref) = split_target(&from);
            let a = store.resolve(repo, a_ref).await?;
            let (old, new) = match &to {
                Some(to) => {
                    let (to_repo, b_ref) = to.split_once('@').unwrap_or((repo, to));
                    if to_repo != repo {
                        return Err(StoreError::Name(format!("`{from}` and `{to}` are in different repos")));
                    }
                    let b = store.resolve(repo, b_ref).await?;
                    (Some(a), b)
                }
                None => (store.manifest(repo, a).await?.parent, a),
            };
            let new_m = store.manifest(repo, new).await?;
            let old_m = match old {
                Some(id) => store.manifest(repo, id).await?,
                None => pipe_spec::Manifest { files: Vec::new(), parent: None, ..new_m.clone() },
            };
            print::diff(&pipe_store::diff(&old_m, &new_m), json);
        }
        DataCommand::Fsck { repos, jobs, json } => {
            let report = store.fsck(&repos, jobs).await?;
            print::fsck(&report, json);
            if !report.damaged.is_empty() || !report.bad_commits.is_empty() {
                return Err(StoreError::Damaged { objects: report.damaged.len(), commits: report.bad_commits.len() });
            }
        }
        DataCommand::Resolve { .. } => unreachable!("resolve is dispatched before the store opens"),
        DataCommand::Tag { repo, tag, reference } => {
            let commit = store.resolve(&repo, &reference).await?;
            store.tag(&repo, &tag, commit).await?;
            println!("tagged {} of `{repo}` as `{tag}`", commit.0.short(12));
        }
    }
    Ok(())
}
