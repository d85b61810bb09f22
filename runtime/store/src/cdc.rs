//! FastCDC (2020) cut points, the very ones `fastcdc::v2020::FastCDC` finds (level 1
//! normalization, the crate's gear table), found with several independent hashes at once.
//!
//! Takes a byte slice and the chunk sizes; gives each chunk's offset and length. Does not hash
//! chunks or read anything. The crate stays the reference: its tables and masks are used as they
//! are, and the tests compare every cut with the crate's on random and hostile inputs.
//!
//! Why it is faster: the crate's scan is one chain of dependent additions, a byte at a time, which
//! keeps the core waiting on the previous byte's result (a third of a 1 GiB put's time, `perf`).
//! But the gear hash at a position depends only on the 64 bytes up to it, since each older byte's
//! contribution has been shifted out of the 64-bit value. So a window can be split into [`LANES`]
//! spans, each hashed from 63 bytes before its start, and the spans advanced together; the core
//! then overlaps the chains. A span that finds a candidate is not trusted to be the first: the
//! block is scanned again in order, once per chunk. On this project's 2-core AMD EPYC machine
//! (`cargo bench -p pipe-store --bench chunking`, 2026-12-07): 4.6–4.8 GiB/s per core against the
//! crate's 3.2, with 6 lanes (4 gave 4.2, 8 gave 4.8); chunking and hashing together went from
//! 2.0 to 2.5 GiB/s per core.

use fastcdc::v2020::{Normalization, get_gear_with_seed, select_masks};

/// Spans hashed side by side.
const LANES: usize = 6;
/// Positions per span: long enough that the 63 bytes of warm-up per span cost under 2%, short
/// enough that scanning a block again (once per chunk) costs little.
const SPAN: usize = 4096;
/// Bytes before a position that its hash depends on, besides itself.
const WARM: usize = 63;

/// Finds cut points for one set of chunk sizes.
#[derive(Debug, Clone)]
pub struct Cutter {
    gear: [u64; 256],
    mask_s: u64,
    mask_l: u64,
    min: usize,
    avg: usize,
    max: usize,
}

impl Cutter {
    /// Sizes as `FastCDC::new(source, min, avg, max)` takes them; `min`, `avg` and `max` even.
    pub fn new(min: usize, avg: usize, max: usize) -> Cutter {
        assert!([min, avg, max].iter().all(|n| n.is_multiple_of(2)), "FastCDC sizes are even");
        let (gear_table, _) = get_gear_with_seed(0);
        let gear: [u64; 256] = gear_table.as_ref().try_into().expect("the gear table has 256 entries");
        let (mask_s, mask_l) = select_masks(avg, Normalization::Level1);
        // The crate tests even positions against the hash and mask both shifted left by one, which
        // drops bit 63 of the mask; none of its masks has that bit, so one test fits all positions.
        assert!(mask_s >> 63 == 0 && mask_l >> 63 == 0, "FastCDC masks leave bit 63 clear");
        Cutter { gear, mask_s, mask_l, min, avg, max }
    }

    /// The length of the first chunk of `source`: what the crate's `cut(0, source.len())` gives.
    pub fn cut(&self, source: &[u8]) -> usize {
        let mut remaining = source.len();
        if remaining <= self.min {
            return remaining;
        }
        let mut center = self.avg;
        if remaining > self.max {
            remaining = self.max;
        } else if remaining < center {
            center = remaining;
        }
        // The crate tests positions in pairs, so an odd end leaves its last position untested.
        let (center, end) = (center & !1, remaining & !1);
        let source = &source[..remaining];
        self.first(source, self.min, center, self.mask_s)
            .or_else(|| self.first(source, center, end, self.mask_l))
            .unwrap_or(remaining)
    }

    /// Offsets and lengths of all chunks of `source`, in order, as the crate's iterator gives.
    pub fn chunks<'a>(&'a self, source: &'a [u8]) -> impl Iterator<Item = (usize, usize)> + 'a {
        let mut offset = 0;
        std::iter::from_fn(move || {
            (offset < source.len()).then(|| {
                let length = self.cut(&source[offset..]);
                let chunk = (offset, length);
                offset += length;
                chunk
            })
        })
    }

    /// The first position in `from..to` whose hash (taken from `self.min`) has no bit of `mask`.
    fn first(&self, source: &[u8], from: usize, to: usize, mask: u64) -> Option<usize> {
        // Positions within `WARM` of the chunk's start have hashes that began there: in order.
        let head = to.min(self.min + WARM + 1).max(from);
        if let Some(found) = self.scan(source, from, head, mask) {
            return Some(found);
        }
        let mut at = head;
        while to - at >= LANES * SPAN {
            if self.lanes_hit(source, at, mask) {
                return self.scan(source, at, at + LANES * SPAN, mask);
            }
            at += LANES * SPAN;
        }
        self.scan(source, at, to, mask)
    }

    /// In order, from the hash of the bytes up to `from`.
    fn scan(&self, source: &[u8], from: usize, to: usize, mask: u64) -> Option<usize> {
        let mut hash = 0u64;
        for &byte in &source[from.saturating_sub(WARM).max(self.min)..from] {
            hash = (hash << 1).wrapping_add(self.gear[usize::from(byte)]);
        }
        for (position, &byte) in source[..to].iter().enumerate().skip(from) {
            hash = (hash << 1).wrapping_add(self.gear[usize::from(byte)]);
            if hash & mask == 0 {
                return Some(position);
            }
        }
        None
    }

    /// Whether any position in the block of `LANES * SPAN` from `at` is a candidate; `at` is at
    /// least `WARM` past the chunk's start, so every span's hash can start 63 bytes early.
    fn lanes_hit(&self, source: &[u8], at: usize, mask: u64) -> bool {
        let g = &self.gear;
        let spans: [&[u8]; LANES] =
            std::array::from_fn(|lane| &source[at + lane * SPAN - WARM..at + (lane + 1) * SPAN]);
        let mut hashes = [0u64; LANES];
        for i in 0..WARM {
            for (hash, span) in hashes.iter_mut().zip(&spans) {
                *hash = (*hash << 1).wrapping_add(g[usize::from(span[i])]);
            }
        }
        for i in WARM..WARM + SPAN {
            let mut hit = false;
            for (hash, span) in hashes.iter_mut().zip(&spans) {
                *hash = (*hash << 1).wrapping_add(g[usize::from(span[i])]);
                hit |= *hash & mask == 0;
            }
            if hit {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastcdc::v2020::FastCDC;

    /// Every chunk the crate gives for `data`, as (offset, length).
    fn reference(data: &[u8], min: usize, avg: usize, max: usize) -> Vec<(usize, usize)> {
        FastCDC::new(data, min, avg, max).map(|c| (c.offset, c.length)).collect()
    }

    fn same_cuts(data: &[u8], min: usize, avg: usize, max: usize) -> usize {
        let ours: Vec<_> = Cutter::new(min, avg, max).chunks(data).collect();
        assert_eq!(ours, reference(data, min, avg, max), "sizes {min}/{avg}/{max}, {} bytes", data.len());
        ours.len()
    }

    fn random(rng: &mut fastrand::Rng, len: usize) -> Vec<u8> {
        std::iter::repeat_with(|| rng.u8(..)).take(len).collect()
    }

    #[test]
    fn cuts_random_data_where_the_crate_cuts() {
        let mut rng = fastrand::Rng::with_seed(0xcdc);
        let data = random(&mut rng, 24 << 20);
        assert!(same_cuts(&data, crate::chunk::MIN, crate::chunk::AVG, crate::chunk::MAX) > 15);
        // Small sizes cut often, so cuts fall everywhere in and around the lanes' blocks.
        assert!(same_cuts(&data[..4 << 20], 2048, 8192, 65536) > 400);
        assert!(same_cuts(&data[..1 << 20], 64, 256, 1024) > 3000);
    }

    #[test]
    fn cuts_inputs_of_every_length_and_sizes_where_the_crate_cuts() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..300 {
            let min = 2 * rng.usize(32..20_000);
            let avg = min + 2 * rng.usize(0..40_000);
            let max = avg + 2 * rng.usize(0..80_000);
            let len = rng.usize(0..600_000);
            let data = random(&mut rng, len);
            same_cuts(&data, min, avg, max);
        }
    }

    #[test]
    fn cuts_hostile_inputs_where_the_crate_cuts() {
        let mut rng = fastrand::Rng::with_seed(9);
        let zeros = vec![0u8; 3 << 20];
        let pattern: Vec<u8> = (0..3usize << 20).map(|i| (i % 251) as u8).collect();
        let mut sparse = zeros.clone();
        for _ in 0..2000 {
            let at = rng.usize(..sparse.len());
            sparse[at] = rng.u8(..);
        }
        let low_entropy: Vec<u8> = (0..3usize << 20).map(|_| rng.u8(..2)).collect();
        for data in [&zeros, &pattern, &sparse, &low_entropy] {
            for (min, avg, max) in [(64, 256, 1024), (4096, 16384, 65536), (262_144, 1 << 20, 4 << 20)] {
                same_cuts(data, min, avg, max);
            }
        }
    }

    /// Sets the three bytes up to `at` so that the hash there (from `min`) has no bit of `mask`,
    /// making `at` a candidate; brute force over 2^24 values, about 2^17 tried.
    fn plant(cutter: &Cutter, data: &mut [u8], min: usize, at: usize, mask: u64) {
        let hash_before = data[min.max(at.saturating_sub(WARM + 3))..at - 2]
            .iter()
            .fold(0u64, |h, &b| (h << 1).wrapping_add(cutter.gear[usize::from(b)]));
        let step = |h: u64, b: u32| (h << 1).wrapping_add(cutter.gear[(b & 0xff) as usize]);
        let found = (0u32..1 << 24)
            .find(|v| step(step(step(hash_before, v >> 16), v >> 8), *v) & mask == 0)
            .expect("some three bytes make a candidate");
        data[at - 2..=at].copy_from_slice(&found.to_be_bytes()[1..]);
    }

    #[test]
    fn cuts_planted_at_the_edges_of_spans_and_blocks_are_found() {
        // One candidate per input, planted where a span or a block starts or ends, or within the
        // hashes that began at the chunk's start; the crate must cut exactly there, and so must we.
        let (min, avg, max) = (64, 1 << 16, 1 << 20);
        let cutter = Cutter::new(min, avg, max);
        let head = min + WARM + 1;
        let mut places = vec![min + 2, min + 40, head - 1, head, head + 1];
        for lane in 0..=LANES {
            places.extend([
                head + lane * SPAN - 1,
                head + lane * SPAN,
                head + lane * SPAN + 5,
                head + lane * SPAN + 50,
            ]);
        }
        let mut rng = fastrand::Rng::with_seed(13);
        for at in places {
            loop {
                let mut data = random(&mut rng, 3 * LANES * SPAN);
                plant(&cutter, &mut data, min, at, cutter.mask_s);
                if reference(&data, min, avg, max)[0].1 == at {
                    assert_eq!(same_cuts_first(&data, min, avg, max), at);
                    break;
                }
                // The random bytes held an earlier candidate: try others.
            }
        }
    }

    #[test]
    fn a_cut_in_each_span_of_a_block_is_found_first_in_order() {
        // Find, for each lane, data whose first candidate falls in that lane's span, by trying
        // seeds: the block must be scanned again in order, not taken from whichever lane hit.
        let (min, avg, max) = (64, 1 << 16, 1 << 20);
        let mut lanes_seen = [false; LANES];
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..400 {
            let data = random(&mut rng, 200_000);
            let first = same_cuts_first(&data, min, avg, max);
            if first > min + WARM + 1 {
                let lane = (first - (min + WARM + 1)) % (LANES * SPAN) / SPAN;
                lanes_seen[lane] = true;
            }
        }
        assert_eq!(lanes_seen, [true; LANES]);
    }

    fn same_cuts_first(data: &[u8], min: usize, avg: usize, max: usize) -> usize {
        same_cuts(data, min, avg, max);
        Cutter::new(min, avg, max).cut(data)
    }
}
