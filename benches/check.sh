#!/usr/bin/env bash
# Times `pipe check` (whole process) on generated pipelines of 10, 100, 1,000 and 10,000 stages.
# Needs hyperfine (Debian package `hyperfine`); builds pipe in release mode. Prints hyperfine's
# table and writes benches/results/check.json with medians.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
cargo build --release -q -p pipe-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 10 100 1000 10000; do
  python3 benches/gen_pipeline.py "$n" > "$work/p$n.pipe"
  ./target/release/pipe check "$work/p$n.pipe" 2>/dev/null || { echo "generated pipeline of $n stages does not check clean" >&2; exit 1; }
done
mkdir -p benches/results
hyperfine -N --warmup 3 --min-runs 20 \
  --export-json benches/results/check.json \
  -n 10 "./target/release/pipe check $work/p10.pipe" \
  -n 100 "./target/release/pipe check $work/p100.pipe" \
  -n 1000 "./target/release/pipe check $work/p1000.pipe" \
  -n 10000 "./target/release/pipe check $work/p10000.pipe"
python3 - <<'PY'
import json
r = json.load(open("benches/results/check.json"))["results"]
print("\nstages  median_ms  ms_per_1k_stages")
for x in r:
    n = int(x["command"]); med = x["median"] * 1000
    print(f"{n:>6}  {med:9.2f}  {med / n * 1000:10.2f}")
PY
