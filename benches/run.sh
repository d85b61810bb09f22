#!/usr/bin/env bash
# `pipe run` against `dvc repro`, side by side in one run on the same data: a stage applied to every
# file of a folder (a datum per file in pipe, a `foreach` stage in DVC), with 1,000 and 10,000
# files. For each: the first run, a re-run with nothing changed, and a re-run after one file
# changed. The command copies its file (`cp`), so what is measured is the tools' overhead.
# Needs hyperfine (apt) and dvc (`pip install dvc`). `SIZES="1000"` runs one size only. DVC runs
# only at the sizes in DVC_SIZES (default 1000): its first run of a 1,000-stage `foreach` takes
# minutes here and grows faster than linearly, so 10,000 would take hours.
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
  dvc=no; [[ " ${DVC_SIZES:-1000} " == *" $n "* ]] && dvc=yes
  with_dvc() { [ "$dvc" = yes ] && printf '%s\n' "$@"; return 0; }
  edit_p="python3 -c 'import sys,os; open(sys.argv[1],\"a\").write(os.urandom(4).hex())' $p/raw/f00042.txt"
  edit_d="python3 -c 'import sys,os; open(sys.argv[1],\"a\").write(os.urandom(4).hex())' $d/raw/f00042.txt"
  mapfile -t dvc_first < <(with_dvc -n "dvc first $n" --prepare "cd $d && rm -rf out dvc.lock .dvc/cache .dvc/tmp && mkdir out" "cd $d && dvc repro -q")
  mapfile -t dvc_same < <(with_dvc -n "dvc no change $n" "cd $d && dvc repro -q")
  mapfile -t dvc_one < <(with_dvc -n "dvc one change $n" --prepare "$edit_d" "cd $d && dvc repro -q")
  hyperfine --runs 1 --export-json "$work/first-$n.json" \
    -n "pipe first $n" --prepare "rm -rf $p/.pipe" "cd $p && $pipe run pipeline.pipe --json" "${dvc_first[@]}"
  hyperfine --warmup 1 --runs 10 --export-json "$work/same-$n.json" \
    -n "pipe no change $n" "cd $p && $pipe run pipeline.pipe --json" "${dvc_same[@]}"
  hyperfine --runs 5 --export-json "$work/one-$n.json" \
    -n "pipe one change $n" --prepare "$edit_p" "cd $p && $pipe run pipeline.pipe --json" "${dvc_one[@]}"
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
    vs = lambda case: f", dvc {med[f'dvc {case} {n}'] / med[f'pipe {case} {n}']:.0f}x slower" if f"dvc {case} {n}" in med else ""
    print(f"\n{n} datums: per-datum cost of a first run {med[f'pipe first {n}'] / n * 1000:.2f} ms (target < 5 ms){vs('first')}")
    print(f"  no change: {med[f'pipe no change {n}'] * 1000:.0f} ms{vs('no change')}")
    print(f"  one change: {med[f'pipe one change {n}'] * 1000:.0f} ms{vs('one change')}; "
          f"the last such run processed {last['processed']} datum(s), reused {last['skipped']}")
PY
