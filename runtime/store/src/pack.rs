//! Small objects stored together: packs (as restic and kopia store theirs).
//!
//! Takes the small objects (under [`SMALL`] bytes: small files and files' last chunks) a snapshot
//! writes; gives packs of them, `packs/<id>`, each with an index, `packindex/<id>`, that says which
//! object is at which offset, and finds an object's place again for readers. A pack is named by the
//! hash of its bytes and written whole before its index, and both before the snapshot returns, so
//! before any manifest names its objects: a killed writer leaves at most a pack nobody indexes.
//! Objects keep their names: manifests still name objects by hash only, every read is checked
//! against that hash, and a loose `objects/<h>` (what a repair writes) is as good a copy as a
//! packed one. The small objects left at a snapshot's end, when fewer than [`PACK_AT_LEAST`], are
//! written loose, so the runtime's many small snapshots (a datum's outputs) make no tiny packs.
//!
//! What it costs readers: the first packed object a process reads (or a writer's first small
//! object) loads every pack index, one listing and one read per pack (48 bytes per object); after
//! that, an object is one ranged read of its pack, as it was one read of its own key. A process
//! that reads no small object, or a store with no packs, pays one listing at most. Does not
//! repack, delete or merge packs.

use crate::backend::Backend;
use crate::error::Result;
use crate::layout;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use pipe_spec::Hash;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Objects smaller than this are packed: the smallest chunk a file longer than it is cut into.
pub(crate) const SMALL: u64 = crate::chunk::MIN as u64;
/// A pack is written once it holds this many bytes.
const PACK_BYTES: usize = 8 << 20;
/// A snapshot's last small objects, when fewer than this, are written loose.
const PACK_AT_LEAST: usize = 32;
/// The first line of every pack index.
const MAGIC: &[u8] = b"pipe-pack-index-1\n";
/// Bytes per index entry: hash, offset, size.
const ENTRY: usize = 32 + 8 + 8;

/// Where a packed object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub pack: Hash,
    pub offset: u64,
}

/// What a process knows of the store's packs: kept on the [`Backend`], shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Indexes read (or written) so far.
    indexes: HashSet<Hash>,
    at: HashMap<Hash, Place>,
    /// Whether the packs were listed once in this process.
    listed: bool,
}

fn known(backend: &Backend) -> std::sync::MutexGuard<'_, Known> {
    backend.packs.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where object `hash` is packed, as far as this process knows.
pub(crate) fn place(backend: &Backend, hash: &Hash) -> Option<Place> {
    known(backend).at.get(hash).copied()
}

/// Reads the indexes of packs written since the last look (every index, the first time).
pub(crate) async fn refresh(backend: &Backend) -> Result<()> {
    let keys = backend.list(&layout::pack_indexes()).await?;
    let new: Vec<Hash> = {
        let known = known(backend);
        keys.iter().filter_map(|k| layout::file_name(k).parse().ok()).filter(|id| !known.indexes.contains(id)).collect()
    };
    let read: Vec<(Hash, Option<Bytes>)> = futures::stream::iter(new)
        .map(|id| async move { backend.get(&layout::pack_index(&id)).await.map(|b| (id, b)) })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let mut known = known(backend);
    known.listed = true;
    for (id, bytes) in read {
        // An index that cannot be read locates nothing: its objects are then missing, reported
        // by whoever needs them, and a put that holds their bytes writes them again.
        if let Some(entries) = bytes.as_deref().and_then(decode) {
            known.at.extend(entries.into_iter().map(|(hash, offset, _)| (hash, Place { pack: id, offset })));
        }
        known.indexes.insert(id);
    }
    Ok(())
}

/// Lists the packs once per process, for writers: packs other processes write later are not seen
/// (their small objects may then be stored twice, never lost).
pub(crate) async fn list_once(backend: &Backend) -> Result<()> {
    if known(backend).listed { Ok(()) } else { refresh(backend).await }
}

/// The bytes at `place`, `size` long, unchecked; an error's text when the pack cannot give them.
pub(crate) async fn read(backend: &Backend, place: Place, size: u64) -> std::result::Result<Bytes, String> {
    let range = place.offset..place.offset.saturating_add(size);
    backend.get_range(&layout::pack(&place.pack), range).await.map_err(|e| e.to_string())
}

/// The small objects a snapshot has not yet written, shared by its threads.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    bytes: Vec<u8>,
    entries: Vec<(Hash, u64, u64)>,
}

/// Collects small objects into packs.
#[derive(Debug, Default)]
pub(crate) struct Packer {
    pending: Mutex<Pending>,
    /// A written pack's buffer, for the next pack: fresh pages cost zeroing them (and on this VM,
    /// the host backing them), where reused ones cost nothing.
    spare: Mutex<Vec<u8>>,
}

impl Packer {
    /// Adds an object; gives a full pack for the caller to [`write`] when this one filled it.
    pub(crate) fn add(&self, hash: Hash, bytes: &[u8]) -> Option<Pending> {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if p.bytes.capacity() == 0 {
            // Room for a whole pack at once: growing by doubling zeroed and copied twice the
            // pack's bytes, 44% of a put of 10,000 small files (`perf`: `clear_page_erms`).
            p.bytes = std::mem::take(&mut *self.spare.lock().unwrap_or_else(|p| p.into_inner()));
            p.bytes.reserve_exact(PACK_BYTES + SMALL as usize);
        }
        let offset = p.bytes.len() as u64;
        p.entries.push((hash, offset, bytes.len() as u64));
        p.bytes.extend_from_slice(bytes);
        (p.bytes.len() >= PACK_BYTES).then(|| std::mem::take(&mut *p))
    }

    /// Writes `pending` as one pack, then its index, and keeps its buffer for the next pack;
    /// gives the pack's id. Readers in this process find its objects at once.
    pub(crate) async fn write(&self, backend: &Backend, pending: Pending) -> Result<Hash> {
        let (id, bytes) = write(backend, pending).await?;
        if let Ok(back) = bytes.try_into_mut() {
            let mut back = Vec::from(back);
            back.clear();
            *self.spare.lock().unwrap_or_else(|p| p.into_inner()) = back;
        }
        Ok(id)
    }

    /// Writes what is left once every file is read: as a pack, or loose when there are fewer than
    /// [`PACK_AT_LEAST`] objects.
    pub(crate) async fn finish(&self, backend: &Backend) -> Result<()> {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if rest.entries.len() >= PACK_AT_LEAST {
            self.write(backend, rest).await?;
            return Ok(());
        }
        for &(hash, offset, size) in &rest.entries {
            let bytes = Bytes::copy_from_slice(&rest.bytes[offset as usize..(offset + size) as usize]);
            backend.put(&layout::object(&hash), bytes).await?;
        }
        Ok(())
    }
}

/// Writes `pending` as one pack, then its index; gives the pack's id and its bytes.
async fn write(backend: &Backend, pending: Pending) -> Result<(Hash, Bytes)> {
    let id = Hash::of(&pending.bytes);
    let index = encode(pending.bytes.len() as u64, &pending.entries);
    let bytes = Bytes::from(pending.bytes);
    backend.put(&layout::pack(&id), bytes.clone()).await?;
    backend.put(&layout::pack_index(&id), Bytes::from(index)).await?;
    let mut known = known(backend);
    known.indexes.insert(id);
    known.at.extend(pending.entries.iter().map(|&(hash, offset, _)| (hash, Place { pack: id, offset })));
    Ok((id, bytes))
}

/// An index: [`MAGIC`], the pack's length, then per object its hash, offset and size
/// (little-endian).
fn encode(pack_len: u64, entries: &[(Hash, u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + entries.len() * ENTRY);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&pack_len.to_le_bytes());
    for (hash, offset, size) in entries {
        out.extend_from_slice(&hash.0);
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
    }
    out
}

/// The entries of an index, or `None` when it is not one (a store is untrusted input): entries
/// must lie inside the pack.
fn decode(bytes: &[u8]) -> Option<Vec<(Hash, u64, u64)>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let pack_len = u64::from_le_bytes(*len);
    if !rest.len().is_multiple_of(ENTRY) {
        return None;
    }
    rest.chunks_exact(ENTRY)
        .map(|e| {
            let hash = Hash(e[..32].try_into().ok()?);
            let offset = u64::from_le_bytes(e[32..40].try_into().ok()?);
            let size = u64::from_le_bytes(e[40..48].try_into().ok()?);
            (offset.checked_add(size)? <= pack_len).then_some((hash, offset, size))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_reads_back_as_written() {
        let entries = vec![(Hash::of(b"a"), 0, 1), (Hash::of(b"bc"), 1, 2)];
        assert_eq!(decode(&encode(3, &entries)), Some(entries));
        assert_eq!(decode(&encode(0, &[])), Some(vec![]));
    }

    #[test]
    fn a_damaged_index_locates_nothing() {
        let good = encode(3, &[(Hash::of(b"a"), 0, 1), (Hash::of(b"bc"), 1, 2)]);
        assert_eq!(decode(&good[..good.len() - 1]), None, "truncated");
        assert_eq!(decode(&good[1..]), None, "no magic");
        assert_eq!(decode(&encode(2, &[(Hash::of(b"bc"), 1, 2)])), None, "past the pack's end");
        assert_eq!(decode(&encode(u64::MAX, &[(Hash::of(b"x"), u64::MAX, 2)])), None, "overflowing");
        assert_eq!(decode(b""), None);
    }

    /// A local store, which writes the bytes and lets go of them (the in-memory one keeps them).
    fn local_store() -> (tempfile::TempDir, Backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Backend::open(dir.path().to_str().expect("utf-8"), true).expect("local store");
        (dir, backend)
    }

    #[tokio::test]
    async fn a_written_pack_s_buffer_is_kept_for_the_next() {
        let (_dir, backend) = local_store();
        let packer = Packer::default();
        let object = vec![1u8; 200 * 1024];
        let full = (0u32..50).find_map(|i| packer.add(Hash::of(&i.to_le_bytes()), &object)).expect("a full pack");
        let id = packer.write(&backend, full).await.expect("written");
        let spare = std::mem::take(&mut *packer.spare.lock().expect("lock"));
        assert!(spare.is_empty() && spare.capacity() >= PACK_BYTES, "capacity {}", spare.capacity());
        assert_eq!(place(&backend, &Hash::of(&3u32.to_le_bytes())).map(|p| p.pack), Some(id));
    }

    #[tokio::test]
    async fn a_packer_hands_over_a_full_pack_and_writes_a_short_rest_loose() {
        let (_dir, backend) = local_store();
        let packer = Packer::default();
        let object = vec![7u8; 100 * 1024];
        let mut full = Vec::new();
        for i in 0u32..100 {
            full.extend(packer.add(Hash::of(&i.to_le_bytes()), &object));
        }
        assert_eq!(full.len(), 1, "8 MiB of 100 KiB objects is one pack");
        assert_eq!(full[0].entries.len(), 82);
        assert_eq!(packer.pending.lock().expect("lock").entries.len(), 18);
        packer.finish(&backend).await.expect("written");
        for i in 82u32..100 {
            let loose = backend.get(&layout::object(&Hash::of(&i.to_le_bytes()))).await.expect("read");
            assert_eq!(loose.map(|b| b.len()), Some(object.len()), "object {i} is loose");
        }
        assert!(backend.list(&layout::pack_indexes()).await.expect("list").is_empty(), "no pack for 18 objects");
        assert!(packer.pending.lock().expect("lock").entries.is_empty());
    }
}
