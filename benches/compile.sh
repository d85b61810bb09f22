#!/usr/bin/env bash
# Times `pipe compile --target argo` of a generated 1,000-stage pipeline against Kubeflow
# Pipelines' compiler and Hera building the same DAG (same stages, images, commands, resources
# and dependencies; benches/compile_peers.py), whole processes, in one hyperfine run.
# The pipeline is gen_pipeline.py's shape without DDP stages (--ddp-every 0): with its default
# 100 DDP stages, each a Volcano Job of two full pod templates, the WorkflowTemplate exceeds
# Kubernetes' 1 MiB object limit and pipe stops with E5007 (timed too, as `pipe-e5007`).
# Needs hyperfine (Debian) and the PyPI packages kfp and hera. Writes benches/results/compile.json.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "install hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
python3 -c 'import kfp, hera' 2>/dev/null || { echo "install the peers: pip install kfp hera" >&2; exit 1; }
cargo build --release -q -p pipe-cli
n=${COMPILE_STAGES:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 benches/gen_pipeline.py "$n" --ddp-every 0 --shape "$work/shape.json" > "$work/p.pipe"
python3 benches/gen_pipeline.py "$n" > "$work/ddp.pipe"
pipe=./target/release/pipe
$pipe compile "$work/p.pipe" --target argo --unpinned -o "$work/argo" 2>/dev/null
echo "pipe output: $(du -b "$work/argo/workflow-template.yaml" | cut -f1) bytes of WorkflowTemplate, $(du -b "$work/argo/configmap.yaml" | cut -f1) of ConfigMap"
python3 benches/compile_peers.py kfp "$work/shape.json" "$work/kfp.yaml"
python3 benches/compile_peers.py hera "$work/shape.json" "$work/hera.yaml"
mkdir -p benches/results
hyperfine -N --warmup 2 --min-runs 10 --export-json benches/results/compile.json \
  -n pipe "$pipe compile $work/p.pipe --target argo --unpinned -o $work/argo" \
  -n pipe-e5007 -i "$pipe compile $work/ddp.pipe --target argo --unpinned -o $work/argo-ddp" \
  -n kfp "python3 benches/compile_peers.py kfp $work/shape.json $work/kfp.yaml" \
  -n hera "python3 benches/compile_peers.py hera $work/shape.json $work/hera.yaml"
python3 - <<'PY'
import json
r = {x["command"]: x["median"] * 1000 for x in json.load(open("benches/results/compile.json"))["results"]}
print("\ntool        median_ms  vs_pipe")
for name, ms in r.items():
    print(f"{name:<10} {ms:10.1f}  {ms / r['pipe']:6.1f}x")
PY
