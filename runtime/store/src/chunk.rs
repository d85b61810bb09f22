//! Content-defined chunking: cuts a byte stream into FastCDC (2020) chunks and hashes each with
//! blake3.
//!
//! Takes a reader; gives each chunk's bytes and reference, in order, to a callback. The cut points
//! are those FastCDC finds over the whole stream, although the stream is read in bounded segments:
//! a chunk is only cut once at least `MAX` bytes after its start are in memory (or the stream has
//! ended), which is all FastCDC ever looks at. Does no IO besides reading.

use bytes::Bytes;
use fastcdc::v2020::FastCDC;
use pipe_spec::{ChunkRef, Hash};
use std::io::{self, Read};

/// Smallest chunk (except a file's last): 256 KiB.
pub const MIN: usize = 256 * 1024;
/// Typical chunk: 1 MiB.
pub const AVG: usize = 1024 * 1024;
/// Largest chunk: 4 MiB.
pub const MAX: usize = 4 * 1024 * 1024;
/// Bytes read per segment; a multiple of `MAX` so most chunks are cut without copying.
const SEGMENT: usize = 16 * MAX;

/// Reads `reader` to its end and calls `emit` with every chunk in order. `size_hint` (the file's
/// size, if known) keeps small files from allocating a whole segment; `io_error` turns a read
/// error into the caller's error type.
pub fn chunk<E>(
    mut reader: impl Read,
    size_hint: u64,
    io_error: impl Fn(io::Error) -> E,
    mut emit: impl FnMut(ChunkRef, Bytes) -> Result<(), E>,
) -> Result<(), E> {
    let mut carry: Vec<u8> = Vec::new();
    let mut left = size_hint;
    loop {
        let want = SEGMENT.min(carry.len() + usize::try_from(left).unwrap_or(SEGMENT) + 1);
        let mut buf = Vec::with_capacity(want.max(carry.len() + 1));
        buf.extend_from_slice(&carry);
        let eof = fill(&mut reader, &mut buf, SEGMENT).map_err(&io_error)?;
        left = left.saturating_sub((buf.len() - carry.len()) as u64);
        let data = Bytes::from(buf);
        let mut consumed = 0;
        for c in FastCDC::new(&data, MIN, AVG, MAX) {
            if !eof && data.len() - c.offset < MAX {
                break;
            }
            let bytes = data.slice(c.offset..c.offset + c.length);
            emit(ChunkRef { hash: Hash::of(&bytes), size: c.length as u64 }, bytes)?;
            consumed = c.offset + c.length;
        }
        if eof {
            return Ok(());
        }
        carry = data[consumed..].to_vec();
    }
}

/// Reads into `buf` until it holds `limit` bytes or the reader ends; true at the end.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    while buf.len() < limit {
        let before = buf.len();
        let n = reader.by_ref().take((limit - before) as u64).read_to_end(buf)?;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks_of(data: &[u8]) -> Vec<ChunkRef> {
        let mut out = Vec::new();
        chunk::<io::Error>(
            data,
            data.len() as u64,
            |e| e,
            |c, b| {
                assert_eq!(c.hash, Hash::of(&b));
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
        let whole: Vec<usize> = FastCDC::new(&data, MIN, AVG, MAX).map(|c| c.length).collect();
        let streamed: Vec<usize> = chunks_of(&data).iter().map(|c| c.size as usize).collect();
        assert_eq!(streamed, whole);
        assert!(whole.len() > 40, "{} chunks", whole.len());
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
    fn small_and_empty_inputs_are_one_chunk_or_none() {
        assert!(chunks_of(b"").is_empty());
        assert_eq!(chunks_of(b"hello"), vec![ChunkRef { hash: Hash::of(b"hello"), size: 5 }]);
    }
}
