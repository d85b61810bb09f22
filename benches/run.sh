#!/usr/bin/env bash
# `pipe run` against `dvc repro`, side by side in one run on the same data: a stage applied to every
# file of a folder (a datum per file in pipe, a `foreach` stage in DVC), with 1,000 and 10,000
# files. For each: the first run, a re-run with nothing changed, and a re-run after one file
# changed. The command copies its file (`cp`), so what is measured is the tools' overhead.
# Needs hyperfine (apt) and dvc (`pip install dvc`). `SIZES="1000"` runs one size only.
# Prints medians and ratios; writes benches/results/run.json.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine dvc; do
  command -v "$tool" >/dev/null || { echo "install $tool first (see the header of $0)" >&2; exit 1; }
done
cargo build --release -q -p pipe-cli
pipe=$PWD/target/release/pipe
work=${BENCH_DIR:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
mkdir -p benches/results "$work"
results="$work/results.jsonl"
: > "$results"

for n in ${SIZES:-1000 10000}; do
  p="$work/pipe-$n" d="$work/dvc-$n"
  mkdir -p "$p/raw" "$d/raw"
  python3 - "$p/raw" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{root}/f{i:05}.txt", "w") as f:
        f.write(f"file {i}\n" * 8)
PY
  cp -r "$p/raw/." "$d/raw/"
  find "$p/raw" "$d/raw" -type f -exec touch -d '1 hour ago' {} +
  cat > "$p/pipeline.pipe" <<'PIPE'
use torchx

input raw = dir("raw")

stage copy: torchx.shell {
  image  = "busybox"
  script = "cp $PIPE_IN_RAW/* $PIPE_OUT/"
  datums = glob(raw, "/*")
}
PIPE
  (cd "$d" && dvc init --no-scm -q && mkdir -p out && python3 - "$n" <<'PY'
import sys
n = int(sys.argv[1])
with open("params.yaml", "w") as f:
    f.write("files:\n" + "".join(f"  - f{i:05}.txt\n" for i in range(n)))
with open("dvc.yaml", "w") as f:
    f.write("stages:\n  copy:\n    foreach: ${files}\n    do:\n      cmd: cp raw/${item} out/${item}\n"
            "      deps:\n        - raw/${item}\n      outs:\n        - out/${item}\n")
PY
  )
  runs_first=3; [ "$n" -ge 10000 ] && runs_first=1
  edit_p="python3 -c 'import sys,os; open(sys.argv[1],\"a\").write(os.urandom(4).hex())' $p/raw/f00042.txt"
  edit_d="python3 -c 'import sys,os; open(sys.argv[1],\"a\").write(os.urandom(4).hex())' $d/raw/f00042.txt"
  hyperfine --runs "$runs_first" --export-json "$work/first-$n.json" \
    -n "pipe first $n" --prepare "rm -rf $p/.pipe" "cd $p && $pipe run pipeline.pipe --json" \
    -n "dvc first $n" --prepare "cd $d && rm -rf out dvc.lock .dvc/cache .dvc/tmp && mkdir out" "cd $d && dvc repro -q"
  hyperfine --warmup 1 --runs 10 --export-json "$work/same-$n.json" \
    -n "pipe no change $n" "cd $p && $pipe run pipeline.pipe --json" \
    -n "dvc no change $n" "cd $d && dvc repro -q"
  hyperfine --runs 5 --export-json "$work/one-$n.json" \
    -n "pipe one change $n" --prepare "$edit_p" "cd $p && $pipe run pipeline.pipe --json" \
    -n "dvc one change $n" --prepare "$edit_d" "cd $d && dvc repro -q"
  (cd "$p" && eval "$edit_p" && $pipe run pipeline.pipe --json > "$work/last-$n.json")
  for f in first same one; do
    python3 -c "import json,sys; [print(json.dumps({'command': r['command'], 'median': r['median']})) for r in json.load(open(sys.argv[1]))['results']]" "$work/$f-$n.json" >> "$results"
  done
done

python3 - "$work" <<'PY'
import json, sys, glob
work = sys.argv[1]
med = {}
for line in open(f"{work}/results.jsonl"):
    r = json.loads(line)
    med[r["command"]] = r["median"]
json.dump(med, open("benches/results/run.json", "w"), indent=2)
print("\nmedian seconds")
for k, v in med.items():
    print(f"  {k:<24} {v:9.3f}")
for n in sorted({int(k.split()[-1]) for k in med}):
    last = json.load(open(f"{work}/last-{n}.json"))["stages"][0]
    print(f"\n{n} datums: per-datum cost of a first run {med[f'pipe first {n}'] / n * 1000:.2f} ms (target < 5 ms)")
    print(f"  no change: {med[f'pipe no change {n}'] * 1000:.0f} ms, dvc {med[f'dvc no change {n}'] / med[f'pipe no change {n}']:.0f}x slower")
    print(f"  one change: {med[f'pipe one change {n}'] * 1000:.0f} ms, dvc {med[f'dvc one change {n}'] / med[f'pipe one change {n}']:.0f}x slower; "
          f"the last such run processed {last['processed']} datum(s), reused {last['skipped']}")
    print(f"  first run: dvc {med[f'dvc first {n}'] / med[f'pipe first {n}']:.1f}x slower")
PY
