//! What chunking and hashing cost on one core, with no IO: the fastcdc crate's cut points alone,
//! the same cut points found by `pipe_store::cdc` (what `put` uses), blake3 over the chunks, and
//! `pipe_store::chunk::chunk` (cutting and hashing, as `put` runs them) over 256 MiB of random
//! bytes in memory. `benches/data.sh` runs it to set `pipe data put`'s compute ceiling beside `b3sum`.
//!
//! `cargo bench -p pipe-store --bench chunking` prints one JSON object of medians over 5 runs,
//! in GiB/s per core.

use pipe_store::chunk::{AVG, MAX, MIN, chunk};
use std::time::{Duration, Instant};

const LEN: usize = 256 << 20;
const RUNS: usize = 5;

fn main() {
    let mut rng = fastrand::Rng::with_seed(42);
    let data: Vec<u8> = std::iter::repeat_with(|| rng.u64(..).to_le_bytes()).take(LEN / 8).flatten().collect();
    let cuts: Vec<(usize, usize)> =
        fastcdc::v2020::FastCDC::new(&data, MIN, AVG, MAX).map(|c| (c.offset, c.length)).collect();
    let cdc = median(|| {
        let n = fastcdc::v2020::FastCDC::new(&data, MIN, AVG, MAX).count();
        assert_eq!(n, cuts.len());
    });
    let cutter = pipe_store::cdc::Cutter::new(MIN, AVG, MAX);
    let lanes = median(|| {
        let n = cutter.chunks(&data).count();
        assert_eq!(n, cuts.len());
    });
    let hash = median(|| {
        for &(offset, length) in &cuts {
            std::hint::black_box(blake3::hash(&data[offset..offset + length]));
        }
    });
    let mut buffer = Vec::new();
    let both = median(|| {
        let mut n = 0;
        chunk::<std::io::Error>(
            data.as_slice(),
            LEN as u64,
            &mut buffer,
            |e| e,
            |_, _| {
                n += 1;
                Ok(())
            },
        )
        .expect("in-memory reads never fail");
        assert_eq!(n, cuts.len());
    });
    let gib_per_s = |d: Duration| LEN as f64 / (1u64 << 30) as f64 / d.as_secs_f64();
    println!(
        "{{\"fastcdc_gib_s\": {:.3}, \"cdc_lanes_gib_s\": {:.3}, \"blake3_gib_s\": {:.3}, \"chunk_gib_s\": {:.3}, \"chunks\": {}}}",
        gib_per_s(cdc),
        gib_per_s(lanes),
        gib_per_s(hash),
        gib_per_s(both),
        cuts.len()
    );
}

fn median(mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}
