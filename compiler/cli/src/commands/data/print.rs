//! What `pipe data` prints: one line per thing for people, or one JSON document for tools.

use pipe_spec::{CommitId, Manifest};
use pipe_store::{Change, ChangeKind, Filter, FsckReport, GetOutcome, PutOutcome};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// `1.5 MiB`.
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Text from a store as a terminal may show it: control characters (an escape sequence that
/// recolours or clears the screen, a carriage return that hides what came before) as `\u{1b}`.
/// A store is data anyone could have written.
pub(super) fn shown(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

fn files(n: u64) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}

fn emit(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values print"));
}

pub(super) fn put(repo: &str, branch: &str, o: &PutOutcome, json: bool) {
    for w in &o.warnings {
        eprintln!("warning: {w}");
    }
    if json {
        emit(&json!({ "repo": repo, "branch": branch, "outcome": o }));
        return;
    }
    let what = format!("{}, {}", files(o.files as u64), bytes(o.bytes));
    let work = format!(
        "read {}, {}; wrote {} object{}, {}",
        files(o.files_read),
        bytes(o.bytes_read),
        o.objects_written,
        if o.objects_written == 1 { "" } else { "s" },
        bytes(o.bytes_written)
    );
    if o.changed {
        println!("committed {} to {repo}@{branch}: {what} ({work})", o.commit);
    } else {
        println!("{repo}@{branch} is up to date at {}: {what} ({work})", o.commit);
    }
}

pub(super) fn log(log: &[(CommitId, Manifest)], names: &BTreeMap<String, CommitId>, json: bool) {
    let names_of = |id: &CommitId| names.iter().filter(|(_, c)| *c == id).map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if json {
        let commits: Vec<_> = log
            .iter()
            .map(|(id, m)| {
                json!({ "commit": id, "parent": m.parent, "time": m.time, "message": m.message,
                        "files": m.files.len(), "bytes": m.size(), "refs": names_of(id) })
            })
            .collect();
        emit(&json!(commits));
        return;
    }
    for (id, m) in log {
        let refs = names_of(id);
        let refs = if refs.is_empty() { String::new() } else { format!(" ({})", refs.join(", ")) };
        println!("commit {id}{refs}");
        println!("Date:  {}", m.time);
        println!("Files: {}, {}", m.files.len(), bytes(m.size()));
        if !m.message.is_empty() {
            let lines: Vec<String> = m.message.lines().map(shown).collect();
            println!("\n    {}", lines.join("\n    "));
        }
        println!();
    }
}

pub(super) fn ls(m: &Manifest, filter: &Filter, json: bool) {
    let selected = m.files.iter().filter(|f| filter.matches(&f.path));
    if json {
        let files: Vec<_> = selected.map(|f| json!({ "path": f.path, "size": f.size, "hash": f.hash })).collect();
        emit(&json!(files));
        return;
    }
    for f in selected {
        println!("{:>10}  {}  {}", bytes(f.size), f.hash.short(12), shown(&f.path));
    }
}

pub(super) fn get(repo: &str, commit: CommitId, dir: &Path, o: &GetOutcome, json: bool) {
    if json {
        emit(&json!({ "repo": repo, "commit": commit, "dir": dir, "outcome": o }));
    } else {
        println!(
            "wrote {}, {} from {repo}@{} to {}",
            files(o.files as u64),
            bytes(o.bytes),
            commit.0.short(12),
            dir.display()
        );
    }
}

pub(super) fn diff(changes: &[Change], json: bool) {
    if json {
        emit(&json!(changes));
        return;
    }
    for c in changes {
        let (letter, size) = match c.kind {
            ChangeKind::Added => ('A', bytes(c.new_size.unwrap_or(0))),
            ChangeKind::Removed => ('D', bytes(c.old_size.unwrap_or(0))),
            ChangeKind::Changed => {
                ('M', format!("{} → {}", bytes(c.old_size.unwrap_or(0)), bytes(c.new_size.unwrap_or(0))))
            }
        };
        println!("{letter}  {}  ({size})", shown(&c.path));
    }
    let count = |k| changes.iter().filter(|c| c.kind == k).count();
    eprintln!(
        "{} added, {} removed, {} changed",
        count(ChangeKind::Added),
        count(ChangeKind::Removed),
        count(ChangeKind::Changed)
    );
}

pub(super) fn fsck(r: &FsckReport, json: bool) {
    if json {
        emit(&json!(r));
        return;
    }
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let cache = match r.cache_entries {
        0 => String::new(),
        1 => " and 1 cache entry".into(),
        n => format!(" and {n} cache entries"),
    };
    println!(
        "checked {} ({}){cache}: {}, {}",
        plural(r.repos, "repo"),
        plural(r.commits, "commit"),
        plural(r.objects, "object"),
        bytes(r.bytes)
    );
    for d in &r.damaged {
        println!("damaged object {}: {}", d.hash.short(12), d.problem);
        for u in &d.used_by {
            println!("  used by {}", shown(u));
        }
    }
    for c in &r.bad_commits {
        println!("bad commit {}@{}: {}", shown(&c.repo), c.commit.0.short(12), shown(&c.problem));
    }
    if r.cleared > 0 {
        println!("{} recorded as damaged before are whole again", plural(r.cleared, "object"));
    }
}

pub(super) fn repos(repos: &[(String, BTreeMap<String, CommitId>)], json: bool) {
    if json {
        let list: Vec<_> = repos.iter().map(|(name, branches)| json!({ "repo": name, "branches": branches })).collect();
        emit(&json!(list));
        return;
    }
    for (name, branches) in repos {
        let heads: Vec<String> = branches.iter().map(|(b, c)| format!("{}@{}", shown(b), c.0.short(12))).collect();
        println!("{}  {}", shown(name), if heads.is_empty() { "(no commits)".to_string() } else { heads.join(" ") });
    }
}
