//! Collects the temporary files killed writers leave in a local store.
//!
//! object_store's `LocalFileSystem` writes `KEY#N` and renames it to `KEY`; a process killed between
//! the two leaves `KEY#N` behind, hidden from listings and never reused. So every process that
//! writes to a local store first enters [`Writers`]: a shared lock on `writers.lock` held while it
//! may write, and a marker file in `writers/` removed when it is done. A marker with no process
//! behind it is a killed writer's. Entering tries the lock exclusively first: when that succeeds no
//! other writer is alive, so when markers are left, every `#N` file in the store is a leftover and
//! is removed, then the markers. Takes a store folder; gives nothing but the clean-up. Never waits
//! for a live writer's work and never removes a file a live writer may still rename; does nothing
//! for remote stores (their single PUTs leave nothing behind).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

const LOCK: &str = "writers.lock";
const MARKERS: &str = "writers";

/// This process's standing as a writer of one local store, held until it is dropped.
#[derive(Debug)]
pub(crate) struct Writers {
    marker: PathBuf,
    /// Holds the shared lock; closing it releases the lock.
    _lock: File,
}

impl Writers {
    /// Joins the writers of the store at `root`, first collecting what dead writers left when no
    /// other writer is alive. Gives how many leftover files it removed, for tests.
    pub(crate) fn enter(root: &Path) -> io::Result<(Writers, usize)> {
        let lock = File::options().create(true).truncate(false).write(true).open(root.join(LOCK))?;
        let markers = root.join(MARKERS);
        let mut removed = 0;
        if lock.try_lock().is_ok() {
            // Alone: every marker left is a dead writer's.
            if std::fs::read_dir(&markers).is_ok_and(|mut dir| dir.next().is_some()) {
                removed = sweep(root, &markers)?;
                for m in std::fs::read_dir(&markers)? {
                    std::fs::remove_file(m?.path())?;
                }
            }
        }
        // From exclusive to shared (or shared at once, next to other writers).
        lock.lock_shared()?;
        std::fs::create_dir_all(&markers)?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let marker = markers.join(format!("{}-{nanos}", std::process::id()));
        File::create(&marker)?;
        Ok((Writers { marker, _lock: lock }, removed))
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.marker);
    }
}

/// Whether `name` is a staged upload: `KEY#N`, as object_store names them.
fn is_staged(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(key, n)| !key.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes every staged upload under `dir` (not descending into `skip`); gives how many.
fn sweep(dir: &Path, skip: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() && path != skip {
            removed += sweep(&path, skip)?;
        } else if kind.is_file() && entry.file_name().to_str().is_some_and(is_staged) {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_names_are_told_from_keys() {
        assert!(is_staged("ab12#1") && is_staged("repos/x#42"));
        for name in ["ab12", "#1", "a#", "a#1x", "a#b"] {
            assert!(!is_staged(name), "{name}");
        }
    }

    fn plant(root: &Path) -> PathBuf {
        std::fs::create_dir_all(root.join("objects/ab")).expect("mkdir");
        std::fs::write(root.join("objects/ab/cdef"), b"kept").expect("write");
        let staged = root.join("objects/ab/cdef#3");
        std::fs::write(&staged, b"half").expect("write");
        staged
    }

    #[test]
    fn a_dead_writers_leftovers_are_removed_by_the_next_writer_alone() {
        let root = tempfile::tempdir().expect("tempdir");
        let staged = plant(root.path());
        // A killed writer leaves its marker; its lock went with its process.
        std::fs::create_dir_all(root.path().join(MARKERS)).expect("mkdir");
        std::fs::write(root.path().join(MARKERS).join("1-1"), b"").expect("dead marker");
        let (_next, removed) = Writers::enter(root.path()).expect("enter");
        assert_eq!(removed, 1);
        assert!(!staged.exists() && root.path().join("objects/ab/cdef").exists());
        assert_eq!(std::fs::read_dir(root.path().join(MARKERS)).expect("markers").count(), 1, "only its own marker");
    }

    #[test]
    fn nothing_is_removed_while_another_writer_is_alive_or_none_died() {
        let root = tempfile::tempdir().expect("tempdir");
        let staged = plant(root.path());
        // No marker left: a clean history, nothing to collect (the planted file stands for a
        // live writer's upload in another store folder layout).
        let (_, removed) = Writers::enter(root.path()).expect("enter");
        assert_eq!(removed, 0);
        assert!(staged.exists());
        // A live writer (its lock held by another open file) and a dead one's marker.
        let (live, _) = Writers::enter(root.path()).expect("enter");
        std::fs::write(root.path().join(MARKERS).join("1-1"), b"").expect("dead marker");
        let (_, removed) = Writers::enter(root.path()).expect("enter");
        assert_eq!(removed, 0, "a live writer's upload may be in flight");
        assert!(staged.exists());
        drop(live);
    }
}
