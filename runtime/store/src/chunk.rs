//! Content-defined chunking: cuts a byte stream into FastCDC (2020) chunks (found by
//! [`crate::cdc`]) and hashes each with blake3.
//!
//! Takes a reader; gives each chunk's bytes and reference, in order, to a callback. The cut points
//! are those FastCDC finds over the whole stream, although the stream is read in bounded segments:
//! a chunk is only cut once at least `MAX` bytes after its start are in memory (or the stream has
//! ended), which is all FastCDC ever looks at. Does no IO besides reading.

use crate::cdc::Cutter;
use pipe_spec::{ChunkRef, Hash};
use std::io::{self, Read};
use std::sync::LazyLock;

/// Smallest chunk (except a file's last): 256 KiB.
pub const MIN: usize = 256 * 1024;
/// Typical chunk: 1 MiB.
pub const AVG: usize = 1024 * 1024;
/// Largest chunk: 4 MiB.
pub const MAX: usize = 4 * 1024 * 1024;
/// The cutter for these sizes, built once.
static CUTTER: LazyLock<Cutter> = LazyLock::new(|| Cutter::new(MIN, AVG, MAX));

/// Bytes read per segment, and so the most a reading thread's buffer holds; a multiple of `MAX`,
/// since up to `MAX` bytes at a segment's end are moved to the front for the next one. 16 MiB, not
/// 64: a put of eight 128 MiB files peaked at 190 MB instead of 570 MB (eight reading threads) in
/// the same time, and chunking in memory went from 2.46–2.60 to 2.64–2.67 GiB/s per core
/// (`cargo bench --bench chunking`; 8 MiB gave 2.49, 2026-12-07).
const SEGMENT: usize = 4 * MAX;

/// Reads `reader` to its end and calls `emit` with every chunk in order. `size_hint` (the file's
/// size, if known) keeps small files from allocating a whole segment; `io_error` turns a read
/// error into the caller's error type.
///
/// `buffer` is where the bytes are read. Pass the same one for every file a thread reads: its
/// pages are then reused instead of being faulted in fresh for each file, which cost as much as
/// chunking itself (the `chunking` bench). Each chunk is lent to `emit` as a slice of the buffer,
/// which copies what it keeps (a new object's bytes, not those of one already stored), so the
/// buffer always comes back (empty, with its capacity): when chunks were shared slices of it,
/// taking it back as a `Vec` lost its capacity whenever a slice had been taken, and every small
/// file then faulted in a fresh buffer (a fifth of a 10,000-file put went to zeroing new pages).
pub fn chunk<E>(
    mut reader: impl Read,
    size_hint: u64,
    buffer: &mut Vec<u8>,
    io_error: impl Fn(io::Error) -> E,
    mut emit: impl FnMut(ChunkRef, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let buf = buffer;
    buf.clear();
    let mut left = size_hint;
    loop {
        let want = SEGMENT.min(buf.len() + usize::try_from(left).unwrap_or(SEGMENT) + 1);
        buf.reserve(want.saturating_sub(buf.len()));
        let carried = buf.len();
        let eof = fill(&mut reader, buf, SEGMENT).map_err(&io_error)?;
        left = left.saturating_sub((buf.len() - carried) as u64);
        // A chunk is cut only when `MAX` bytes from its start are here (or the file ended): asked
        // before cutting, so the chunk left for the next segment is not scanned twice.
        let mut consumed = 0;
        while consumed < buf.len() && (eof || buf.len() - consumed >= MAX) {
            let length = CUTTER.cut(&buf[consumed..]);
            let bytes = &buf[consumed..consumed + length];
            emit(ChunkRef { hash: Hash::of(bytes), size: length as u64 }, bytes)?;
            consumed += length;
        }
        // What is left is the start of the next chunk: moved to the front of the buffer.
        buf.drain(..consumed);
        if eof {
            buf.clear();
            return Ok(());
        }
    }
}

/// Reads into `buf` until it holds `limit` bytes or the reader ends; true at the end.
/// `read_to_end` stops only at one or the other, so a short buffer means the end: a file that
/// fits in one segment costs two reads (its bytes, then the end), not three.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    let room = limit.saturating_sub(buf.len());
    reader.by_ref().take(room as u64).read_to_end(buf)?;
    Ok(buf.len() < limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks_of(data: &[u8]) -> Vec<ChunkRef> {
        let mut out = Vec::new();
        chunk::<io::Error>(
            data,
            data.len() as u64,
            &mut Vec::new(),
            |e| e,
            |c, b| {
                assert_eq!(c.hash, Hash::of(b));
                out.push(c);
                Ok(())
            },
        )
        .expect("in-memory reads never fail");
        out
    }

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let rng = fastrand_like(seed);
        (0..len).map(rng).collect()
    }

    fn fastrand_like(seed: u64) -> impl Fn(usize) -> u8 {
        move |i| {
            let mut x = (i as u64).wrapping_add(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            (x >> 32) as u8
        }
    }

    #[test]
    fn segmented_reading_cuts_where_whole_buffer_chunking_cuts() {
        let data = noise(3 * SEGMENT + 12_345, 7);
        let whole: Vec<usize> = fastcdc::v2020::FastCDC::new(&data, MIN, AVG, MAX).map(|c| c.length).collect();
        let streamed: Vec<usize> = chunks_of(&data).iter().map(|c| c.size as usize).collect();
        assert_eq!(streamed, whole);
        assert!(whole.len() > 3 * SEGMENT / (2 * AVG), "{} chunks", whole.len());
    }

    #[test]
    fn an_edit_in_the_middle_changes_only_nearby_chunks() {
        let a = noise(20 * AVG, 1);
        let mut b = a.clone();
        b[10 * AVG] ^= 0xff;
        let (ca, cb) = (chunks_of(&a), chunks_of(&b));
        let shared = cb.iter().filter(|c| ca.contains(c)).count();
        assert!(shared + 2 >= cb.len(), "{shared} of {} chunks shared", cb.len());
    }

    #[test]
    fn the_buffer_comes_back_for_the_next_file_with_its_pages() {
        let data = noise(2 * SEGMENT + 777, 3);
        let mut buffer = Vec::new();
        let run = |buffer: &mut Vec<u8>| {
            chunk::<io::Error>(data.as_slice(), data.len() as u64, buffer, |e| e, |_, _| Ok(())).expect("reads");
        };
        run(&mut buffer);
        let (ptr, cap) = (buffer.as_ptr(), buffer.capacity());
        assert!(buffer.is_empty() && cap >= SEGMENT, "capacity {cap}");
        run(&mut buffer);
        assert_eq!((buffer.as_ptr(), buffer.capacity()), (ptr, cap), "the same allocation is reused");
    }

    #[test]
    fn chunks_kept_by_the_caller_stay_intact_across_segments() {
        let data = noise(3 * SEGMENT + 99, 5);
        let mut kept = Vec::new();
        let mut buffer = Vec::new();
        chunk::<io::Error>(
            data.as_slice(),
            data.len() as u64,
            &mut buffer,
            |e| e,
            |_, b| {
                kept.push(b.to_vec());
                Ok(())
            },
        )
        .expect("reads");
        assert_eq!(kept.concat(), data);
        assert!(kept.len() > 3 * SEGMENT / (2 * AVG), "{} chunks", kept.len());
    }

    #[test]
    fn small_and_empty_inputs_are_one_chunk_or_none() {
        assert!(chunks_of(b"").is_empty());
        assert_eq!(chunks_of(b"hello"), vec![ChunkRef { hash: Hash::of(b"hello"), size: 5 }]);
    }
}
