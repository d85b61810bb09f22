//! The stat cache: (path, device, inode, size, mtime, ctime) → the file's chunks, so snapshotting
//! a folder again reads only the files that changed (what git's index and DVC's state database do).
//!
//! Takes a binary file in the state directory; gives lookups and records. What it trusts: that a
//! file whose stat is unchanged has unchanged content. mtime alone cannot say that — `cp -p`,
//! `rsync -t`, `tar x` and `touch -d` set it, and ext4 gives a freed inode to the next file created
//! — so the stat includes the ctime, which no user call can set: writing, renaming over, `chmod`
//! and setting times all make it "now". A file whose mtime or ctime is within [`RACY`] of the
//! snapshot's start is not recorded: it may change again within the filesystem's timestamp
//! granularity without its stat changing (git's "racy clean" rule). A missing or unreadable cache
//! is an empty one: the cache only ever saves work, never decides content.

use pipe_spec::{ChunkRef, FileEntry, Hash};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How recent an mtime or ctime must not be for the file to be recorded, by default: 2 s, the
/// coarsest timestamp granularity of a common filesystem (FAT). `PIPE_STAT_RACY_MS` sets another
/// window for filesystems known to be finer (ext4, XFS and tmpfs stamp files with the kernel's
/// tick, a few milliseconds), which lets files written moments ago be recorded.
pub const RACY: Duration = Duration::from_secs(2);

/// The racy window in force: [`RACY`], or `PIPE_STAT_RACY_MS` milliseconds (at least 50).
fn racy_window() -> Duration {
    std::env::var("PIPE_STAT_RACY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(RACY, |ms| Duration::from_millis(ms.max(50)))
}

const FORMAT: u32 = 4;
/// The file starts with this, then the cache in postcard (a compact binary serde format).
const MAGIC: &[u8] = b"pipe-statcache\n";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stat {
    fn of(meta: &Metadata) -> Stat {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
            Stat {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            let ns = |t: std::io::Result<SystemTime>| {
                t.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i64)
            };
            Stat { dev: 0, ino: 0, size: meta.len(), mtime_ns: ns(meta.modified()), ctime_ns: ns(meta.created()) }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stat: Stat,
    hash: Hash,
    chunks: Vec<ChunkRef>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    files: HashMap<Vec<u8>, Entry>,
}

/// The cache, loaded in memory.
#[derive(Debug)]
pub(crate) struct StatCache {
    file: Option<PathBuf>,
    /// By the absolute path's bytes: hashing bytes is far cheaper than hashing a `Path`, which
    /// hashes component by component.
    files: HashMap<Vec<u8>, Entry>,
    started: SystemTime,
    racy: Duration,
    dirty: bool,
}

impl StatCache {
    /// Loads the cache kept in `file`; `None` keeps nothing.
    pub(crate) fn load(file: Option<PathBuf>) -> StatCache {
        let files = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| bytes.strip_prefix(MAGIC).and_then(|b| postcard::from_bytes::<OnDisk>(b).ok()))
            .filter(|d| d.format == FORMAT)
            .map(|d| d.files)
            .unwrap_or_default();
        StatCache { file, files, started: SystemTime::now(), racy: racy_window(), dirty: false }
    }

    /// The chunks of the file at `path` (absolute), if it is unchanged since it was recorded.
    pub(crate) fn lookup(&self, path: &Path, meta: &Metadata) -> Option<(Hash, Vec<ChunkRef>)> {
        let e = self.files.get(path.as_os_str().as_encoded_bytes())?;
        (e.stat == Stat::of(meta)).then(|| (e.hash, e.chunks.clone()))
    }

    /// Records what the file at `path` held when it had `meta`.
    pub(crate) fn record(&mut self, path: &Path, meta: &Metadata, entry: &FileEntry) {
        let racy_after = self.started.checked_sub(self.racy).unwrap_or(UNIX_EPOCH);
        self.record_unless_after(path, meta, entry, racy_after);
    }

    /// Records a file pipe itself just wrote with `entry`'s content, racy window or not: only an
    /// edit within the filesystem's timestamp granularity that keeps the size could hide behind it
    /// (impossible where timestamps have nanoseconds: ext4, XFS, btrfs, tmpfs).
    pub(crate) fn record_written(&mut self, path: &Path, meta: &Metadata, entry: &FileEntry) {
        self.record_unless_after(path, meta, entry, SystemTime::now() + Duration::from_secs(3600));
    }

    /// Records the entry unless the file's mtime or ctime is at or after `racy_after`, in which
    /// case any earlier record of it is dropped.
    fn record_unless_after(&mut self, path: &Path, meta: &Metadata, entry: &FileEntry, racy_after: SystemTime) {
        let stat = Stat::of(meta);
        let racy_ns = racy_after.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        if stat.mtime_ns >= racy_ns || stat.ctime_ns >= racy_ns {
            self.files.remove(path.as_os_str().as_encoded_bytes());
            return;
        }
        let entry = Entry { stat, hash: entry.hash, chunks: entry.chunks.clone() };
        self.files.insert(path.as_os_str().as_encoded_bytes().to_vec(), entry);
        self.dirty = true;
    }

    /// Writes the cache back (atomically: a temp file renamed over the old one), if it changed.
    pub(crate) fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        if !self.dirty {
            return Ok(());
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        let disk = OnDiskRef { format: FORMAT, files: &self.files };
        let mut out = std::io::BufWriter::new(tmp.as_file());
        std::io::Write::write_all(&mut out, MAGIC)?;
        postcard::to_io(&disk, &mut out).map_err(std::io::Error::other)?;
        std::io::Write::flush(&mut out)?;
        drop(out);
        tmp.persist(file).map_err(|e| e.error)?;
        Ok(())
    }
}

#[derive(Serialize)]
struct OnDiskRef<'a> {
    format: u32,
    files: &'a HashMap<Vec<u8>, Entry>,
}
