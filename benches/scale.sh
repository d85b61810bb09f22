#!/usr/bin/env bash
# Planning and no-change runs at scale: 10,000, 100,000 and 1,000,000 datums of one stage.
#
# The data: 100,000 small files in 100 folders (repo `data`) and 10 parameter files (repo
# `points`). 10k datums are the files of 10 folders, 100k all of them, 1M all of them crossed with
# the 10 points (`cross(glob(data, "/*/*"), glob(points, "/*"))`), the shape of a 10-point sweep
# over a dataset. For each size:
#   plan, cold:   `pipe-shim plan` of the compiled stage before it ever ran (every datum pending;
#                 Argo's `withParam` gets the shard list, whose size is printed: ≤ 64 KiB)
#   first run:    `pipe run`, once (PIPE_SANDBOX=off, 3 jobs: it only makes the cache the
#                 no-change cases need; `benches/run.sh` measures first runs)
#   plan, warm:   `pipe-shim plan` of the same stage with every datum cached
#   no change:    `pipe run` again
# with the peak memory of each. A first run costs ~3 ms a datum here, so the 1M size (an hour
# for its first run) runs only when SIZES names it: `SIZES="10000 100000 1000000" bash
# benches/scale.sh`. Needs hyperfine (apt). Prints medians, per-datum costs and peak memory;
# writes benches/results/scale.json.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine first (apt install hyperfine)" >&2; exit 1; }
cargo build --release -q -p pipe-cli -p pipe-shim
pipe=$PWD/target/release/pipe
shim=$PWD/target/release/pipe-shim
work=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p benches/results "$work"
results="$work/results.jsonl"
: > "$results"
store="$work/store"

if [ ! -d "$store" ]; then
  python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
for i in range(100_000):
    d = f"{work}/data/{i // 1000:03}"
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06}.txt", "w") as f:
        f.write(f"file {i}\n")
os.makedirs(f"{work}/points", exist_ok=True)
for j in range(10):
    with open(f"{work}/points/p{j}.json", "w") as f:
        f.write(f'{{"lr": {0.1 / (j + 1)}}}\n')
PY
  for repo in data points; do
    "$pipe" data --store "$store" init "$repo" >/dev/null
    "$pipe" data --store "$store" put "$repo" "$work/$repo" >/dev/null
  done
fi

# peak KB and seconds of one command, as JSON fields
measure() { /usr/bin/time -f '{"seconds": %e, "peak_kb": %M}' -o "$work/time.json" "$@" >/dev/null 2>"$work/err" \
  || { cat "$work/err" >&2; exit 1; }; cat "$work/time.json"; }

for n in ${SIZES:-10000 100000}; do
  case $n in
    10000) datums='glob(data, "/00[0-9]/*")' ;;
    100000) datums='glob(data, "/*/*")' ;;
    1000000) datums='cross(glob(data, "/*/*"), glob(points, "/*"))' ;;
    *) echo "sizes are 10000, 100000 and 1000000" >&2; exit 1 ;;
  esac
  dir="$work/p$n"
  mkdir -p "$dir"
  cat > "$dir/pipeline.pipe" <<PIPE
pipeline {
  name  = "scale-$n"
  store = "$store"
}

input data = repo("data")
input points = repo("points")

stage work {
  image   = "busybox"
  command = ["sh", "-c", "cat \$PIPE_IN_DATA/*/* \$PIPE_IN_POINTS/* > \$PIPE_OUT/\$PIPE_DATUM.txt 2>/dev/null; true"]
  datums  = $datums
}
PIPE
  export PIPE_STATE_DIR="$dir/state"
  "$pipe" compile "$dir/pipeline.pipe" --target spec -o "$dir/spec" 2>/dev/null
  plan="$shim --store $store --spec $dir/spec/work.json plan"
  $plan --run "cold-size" > "$dir/shards.json"
  shards_bytes=$(wc -c < "$dir/shards.json")
  hyperfine --runs 3 --export-json "$dir/cold.json" -n "plan cold $n" "$plan --run cold"
  cold_mem=$(measure $plan --run cold-mem)
  first=$(PIPE_SANDBOX=off measure "$pipe" run "$dir/pipeline.pipe" --jobs 3)
  hyperfine --runs 3 --export-json "$dir/warm.json" -n "plan warm $n" "$plan --run warm"
  warm_mem=$(measure $plan --run warm-mem)
  hyperfine --warmup 1 --runs 5 --export-json "$dir/same.json" -n "no change $n" "$pipe run $dir/pipeline.pipe"
  same_mem=$(measure "$pipe" run "$dir/pipeline.pipe")
  python3 - "$n" "$dir" "$shards_bytes" "$cold_mem" "$first" "$warm_mem" "$same_mem" >> "$results" <<'PY'
import json, sys
n, d, shards_bytes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
cold_mem, first, warm_mem, same_mem = (json.loads(a) for a in sys.argv[4:8])
med = lambda f: json.load(open(f"{d}/{f}.json"))["results"][0]["median"]
print(json.dumps({"datums": n, "plan_cold": med("cold"), "plan_warm": med("warm"), "no_change": med("same"),
                  "first_run": first["seconds"], "shard_list_bytes": shards_bytes,
                  "peak_mb": {"plan_cold": cold_mem["peak_kb"] // 1024, "plan_warm": warm_mem["peak_kb"] // 1024,
                              "no_change": same_mem["peak_kb"] // 1024, "first_run": first["peak_kb"] // 1024}}))
PY
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump(rows, open("benches/results/scale.json", "w"), indent=2)
print(f"\n{'datums':>9} {'plan cold':>10} {'plan warm':>10} {'no change':>10} {'µs/datum (cold, warm, no change)':>34} {'peak MB':>8} {'shard list':>11}")
for r in rows:
    n = r["datums"]
    per = ", ".join(f"{r[k] / n * 1e6:.1f}" for k in ("plan_cold", "plan_warm", "no_change"))
    peak = max(r["peak_mb"][k] for k in ("plan_cold", "plan_warm", "no_change"))
    print(f"{n:>9} {r['plan_cold']:>9.2f}s {r['plan_warm']:>9.2f}s {r['no_change']:>9.2f}s {per:>34} {peak:>8} {r['shard_list_bytes']:>10}B")
    assert r["shard_list_bytes"] <= 64 * 1024, "the shard list Argo keeps must stay under 64 KiB"
PY
