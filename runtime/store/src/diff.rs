//! What changed between two commits, path by path.

use pipe_spec::{FileEntry, Manifest};
use serde::Serialize;

/// How one path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One path that differs, with its size on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: String,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

/// The paths that differ from `old` to `new`, sorted.
pub fn diff(old: &Manifest, new: &Manifest) -> Vec<Change> {
    let (mut a, mut b) = (old.files.iter().peekable(), new.files.iter().peekable());
    let mut out = Vec::new();
    let change = |kind, path: &str, o: Option<&FileEntry>, n: Option<&FileEntry>| Change {
        kind,
        path: path.to_owned(),
        old_size: o.map(|f| f.size),
        new_size: n.map(|f| f.size),
    };
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return out,
            (Some(o), None) => {
                out.push(change(ChangeKind::Removed, &o.path, Some(o), None));
                a.next();
            }
            (None, Some(n)) => {
                out.push(change(ChangeKind::Added, &n.path, None, Some(n)));
                b.next();
            }
            (Some(o), Some(n)) => match o.path.cmp(&n.path) {
                std::cmp::Ordering::Less => {
                    out.push(change(ChangeKind::Removed, &o.path, Some(o), None));
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    out.push(change(ChangeKind::Added, &n.path, None, Some(n)));
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if o.hash != n.hash || o.size != n.size {
                        out.push(change(ChangeKind::Changed, &n.path, Some(o), Some(n)));
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
}
