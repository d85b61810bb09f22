#!/usr/bin/env bash
# `pipe data put` against the hashing limit (b3sum) and DVC (`dvc add`), side by side in one run
# on the same files:
#   big:   1 GiB as 100 × 10 MiB random files
#   small: 10,000 random files of 1–8 KiB
#   edit:  re-put after changing one of the 10,000 small files (stat cache warm)
# `cp -r` of the 1 GiB set is measured too: storing data means writing it, and on this machine the
# kernel's page-cache copy, not hashing, is what bounds a first put.
# Each put starts from an empty store (hyperfine --prepare); DVC starts from an empty cache.
# Needs hyperfine (apt), b3sum (`cargo install b3sum --locked`) and dvc (`pip install dvc`).
# Prints a table of medians and ratios and writes benches/results/data.json.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine b3sum dvc; do
  command -v "$tool" >/dev/null || { echo "install $tool first (see the header of $0)" >&2; exit 1; }
done
cargo build --release -q -p pipe-cli
pipe=$PWD/target/release/pipe
work=${BENCH_DIR:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
mkdir -p "$work" benches/results

python3 - "$work" <<'PY'
import os, random, sys
work = sys.argv[1]
rng = random.Random(42)
os.makedirs(f"{work}/big", exist_ok=True)
for i in range(100):
    with open(f"{work}/big/{i:03}.bin", "wb") as f:
        f.write(rng.randbytes(10 * 1024 * 1024))
for i in range(10_000):
    d = f"{work}/small/{i // 100:03}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/{i:05}.bin", "wb") as f:
        f.write(rng.randbytes(rng.randint(1024, 8192)))
PY
# Files younger than the stat cache's racy window (2 s) are always re-read; age them.
find "$work/big" "$work/small" -type f -exec touch -d '1 hour ago' {} +
sync

export PIPE_STATE_DIR="$work/state"
fresh_store="rm -rf $work/store $work/state && $pipe data --store $work/store init ds >/dev/null"
fresh_dvc="rm -rf $work/dvc && mkdir $work/dvc && cd $work/dvc && dvc init --no-scm -q"

hyperfine --warmup 1 --runs 5 --export-json "$work/big.json" \
  -n "b3sum big" --prepare true "b3sum --no-names $work/big/*.bin" \
  -n "cp big" --prepare "rm -rf $work/copy" "cp -r $work/big $work/copy" \
  -n "pipe put big" --prepare "$fresh_store" "$pipe data --store $work/store put ds $work/big" \
  -n "dvc add big" --prepare "$fresh_dvc && cp -r $work/big $work/dvc/big" "cd $work/dvc && dvc add -q big"

hyperfine --warmup 1 --runs 5 --export-json "$work/small.json" \
  -n "b3sum small" --prepare true "find $work/small -type f -exec b3sum --no-names {} +" \
  -n "pipe put small" --prepare "$fresh_store" "$pipe data --store $work/store put ds $work/small" \
  -n "dvc add small" --prepare "$fresh_dvc && cp -r $work/small $work/dvc/small" "cd $work/dvc && dvc add -q small"

# Re-put after one change: the store already holds the folder; each run changes one file.
eval "$fresh_store"
$pipe data --store "$work/store" put ds "$work/small" >/dev/null
$pipe data --store "$work/store" put ds "$work/small" >/dev/null
rm -rf "$work/dvc" && mkdir "$work/dvc" && cp -r "$work/small" "$work/dvc/small"
(cd "$work/dvc" && dvc init --no-scm -q && dvc add -q small)
edit="python3 -c 'import os,sys; p=sys.argv[1]; open(p,\"ab\").write(os.urandom(16))'"
hyperfine --warmup 1 --runs 10 --export-json "$work/edit.json" \
  -n "pipe re-put 1 of 10k" --prepare "$edit $work/small/042/04242.bin" "$pipe data --store $work/store put ds $work/small --json" \
  -n "dvc re-add 1 of 10k" --prepare "$edit $work/dvc/small/042/04242.bin" "cd $work/dvc && dvc add -q small"
$pipe data --store "$work/store" put ds "$work/small" --json > "$work/last.json" || true
echo "$edit $work/small/042/04242.bin" | bash
touch -d '1 hour ago' "$work/small/042/04242.bin"
$pipe data --store "$work/store" put ds "$work/small" --json > "$work/last.json"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
med = {}
for name in ("big", "small", "edit"):
    for r in json.load(open(f"{work}/{name}.json"))["results"]:
        med[r["command"]] = r["median"]
last = json.load(open(f"{work}/last.json"))["outcome"]
gib = 100 * 10 * 1024 * 1024 / 2**30
out = {"medians_s": med, "last_edit_put": last}
json.dump(out, open("benches/results/data.json", "w"), indent=2)
print("\nmedian seconds")
for k, v in med.items():
    print(f"  {k:<24} {v:8.3f}")
print(f"\n1 GiB put: {gib / med['pipe put big']:.2f} GiB/s; b3sum {gib / med['b3sum big']:.2f} GiB/s "
      f"-> {med['b3sum big'] / med['pipe put big'] * 100:.0f}% of b3sum (target >= 50%)")
print(f"the write floor: cp -r of 1 GiB {gib / med['cp big']:.2f} GiB/s; pipe put is {med['cp big'] / med['pipe put big'] * 100:.0f}% of it")
print(f"vs dvc add: big {med['dvc add big'] / med['pipe put big']:.1f}x, small {med['dvc add small'] / med['pipe put small']:.1f}x, "
      f"re-add {med['dvc re-add 1 of 10k'] / med['pipe re-put 1 of 10k']:.1f}x faster (target >= 10x)")
print(f"re-put after one change: {med['pipe re-put 1 of 10k'] * 1000:.0f} ms (target < 300 ms); "
      f"the last one read {last['files_read']} file(s), wrote {last['objects_written']} object(s), {last['bytes_written']} bytes")
PY
