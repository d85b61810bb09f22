//! A commit's manifest: every file of a snapshot with its size, content hash and chunks.
//!
//! The manifest is the commit: its id is the blake3 hash of its canonical JSON (fields in
//! declaration order, files sorted by path, no maps), so the same snapshot written twice with the
//! same parent, time and message has the same id, and a reader can check what it got.

use crate::hash::Hash;
use crate::path::check_path;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The format number written into every manifest.
pub const MANIFEST_FORMAT: u32 = 1;

/// A commit id: the hash of a manifest's canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommitId(pub Hash);

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommitId({})", self.0.short(12))
    }
}

/// One piece of a file, stored as the object named by its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    pub hash: Hash,
    pub size: u64,
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FileEntry {
    /// Relative, `/`-separated; see [`check_path`].
    pub path: String,
    pub size: u64,
    /// The content's identity: see [`file_hash`].
    pub hash: Hash,
    /// The file's chunks in order, when it has more than one. Empty means the file is the single
    /// object `hash` (or nothing, when `size` is 0).
    #[serde(default)]
    pub chunks: Vec<ChunkRef>,
}

/// Leaves out empty `chunks` in human-readable formats (manifests: their bytes are commit ids),
/// writes every field in binary ones (stage indexes), which cannot skip fields.
impl Serialize for FileEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let skip = s.is_human_readable() && self.chunks.is_empty();
        let mut st = s.serialize_struct("FileEntry", if skip { 3 } else { 4 })?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("size", &self.size)?;
        st.serialize_field("hash", &self.hash)?;
        if skip {
            st.skip_field("chunks")?;
        } else {
            st.serialize_field("chunks", &self.chunks)?;
        }
        st.end()
    }
}

impl FileEntry {
    /// A file made of `chunks`, in order.
    pub fn new(path: String, chunks: Vec<ChunkRef>) -> FileEntry {
        let size = chunks.iter().map(|c| c.size).sum();
        let hash = file_hash(&chunks);
        let chunks = if chunks.len() > 1 { chunks } else { Vec::new() };
        FileEntry { path, size, hash, chunks }
    }

    /// The objects that hold this file's bytes, in order.
    pub fn objects(&self) -> Vec<ChunkRef> {
        match (self.chunks.is_empty(), self.size) {
            (false, _) => self.chunks.clone(),
            (true, 0) => Vec::new(),
            (true, size) => vec![ChunkRef { hash: self.hash, size }],
        }
    }
}

/// The content hash of a file cut into `chunks`: the chunk's own hash for a file of one chunk, so a
/// small file's hash is the blake3 of its bytes (what `b3sum` prints); otherwise the blake3 of a
/// domain tag followed by every chunk's hash and size.
pub fn file_hash(chunks: &[ChunkRef]) -> Hash {
    match chunks {
        [] => Hash::of(b""),
        [one] => one.hash,
        many => {
            let mut h = blake3::Hasher::new();
            h.update(b"pipe-chunked-file-v1\0");
            for c in many {
                h.update(&c.hash.0);
                h.update(&c.size.to_le_bytes());
            }
            h.finalize().into()
        }
    }
}

/// A snapshot of a folder: the body of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub repo: String,
    pub parent: Option<CommitId>,
    /// RFC 3339, UTC.
    pub time: String,
    pub message: String,
    /// Sorted by path, no duplicates.
    pub files: Vec<FileEntry>,
}

/// Why bytes are not a manifest this program can trust.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not valid JSON for this format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the manifest has format {0}, which this version of pipe does not know")]
    Format(u32),
    #[error("the manifest's hash is {actual}, not the commit id {expected}")]
    Hash { expected: CommitId, actual: CommitId },
    #[error("the manifest lists `{path}`: {reason}")]
    Path { path: String, reason: String },
    #[error("the manifest's files are not sorted and unique at `{0}`")]
    Order(String),
}

impl Manifest {
    /// A manifest of `files`, sorted by path. Duplicate or unsafe paths are an error.
    pub fn new(
        repo: String,
        parent: Option<CommitId>,
        time: String,
        message: String,
        mut files: Vec<FileEntry>,
    ) -> Result<Manifest, ManifestError> {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let m = Manifest { format: MANIFEST_FORMAT, repo, parent, time, message, files };
        m.validate()?;
        Ok(m)
    }

    /// The canonical bytes: what is stored and hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }

    /// The commit id of these bytes.
    pub fn id_of(bytes: &[u8]) -> CommitId {
        CommitId(Hash::of(bytes))
    }

    /// Reads a stored manifest, checking that it hashes to `id` and obeys every rule.
    pub fn from_bytes(bytes: &[u8], id: CommitId) -> Result<Manifest, ManifestError> {
        let actual = Manifest::id_of(bytes);
        if actual != id {
            return Err(ManifestError::Hash { expected: id, actual });
        }
        let m: Manifest = serde_json::from_slice(bytes)?;
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        if self.format != MANIFEST_FORMAT {
            return Err(ManifestError::Format(self.format));
        }
        for f in &self.files {
            check_path(&f.path).map_err(|e| ManifestError::Path { path: f.path.clone(), reason: e.to_string() })?;
        }
        if let Some(w) = self.files.windows(2).find(|w| w[0].path >= w[1].path) {
            return Err(ManifestError::Order(w[1].path.clone()));
        }
        Ok(())
    }

    /// Total bytes of all files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, bytes: &[u8]) -> FileEntry {
        FileEntry::new(path.into(), vec![ChunkRef { hash: Hash::of(bytes), size: bytes.len() as u64 }])
    }

    #[test]
    fn ids_are_deterministic_and_checked_on_read() {
        let files = vec![entry("b", b"2"), entry("a", b"1")];
        let m = Manifest::new("r".into(), None, "2026-01-01T00:00:00Z".into(), "m".into(), files).expect("valid");
        assert_eq!(m.files[0].path, "a");
        let bytes = m.to_bytes();
        let id = Manifest::id_of(&bytes);
        assert_eq!(Manifest::from_bytes(&bytes, id).expect("reads back"), m);
        let mut tampered = bytes.clone();
        let at = tampered.len() - 5;
        tampered[at] ^= 1;
        assert!(matches!(Manifest::from_bytes(&tampered, id), Err(ManifestError::Hash { .. })));
    }

    #[test]
    fn unsafe_and_duplicate_paths_are_refused() {
        let dup = vec![entry("a", b"1"), entry("a", b"2")];
        assert!(Manifest::new("r".into(), None, String::new(), String::new(), dup).is_err());
        let escape = vec![entry("../a", b"1")];
        assert!(Manifest::new("r".into(), None, String::new(), String::new(), escape).is_err());
    }

    #[test]
    fn a_single_chunk_file_hashes_like_its_bytes() {
        let e = entry("a", b"hello");
        assert_eq!(e.hash, Hash::of(b"hello"));
        assert!(e.chunks.is_empty());
        assert_eq!(e.objects().len(), 1);
        let two = FileEntry::new("b".into(), vec![e.objects()[0], e.objects()[0]]);
        assert_eq!(two.chunks.len(), 2);
        assert_ne!(two.hash, e.hash);
    }
}
