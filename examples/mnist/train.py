"""A nearest-centroid classifier, standing in for a torch model: one centroid per digit."""
import json, os, pathlib, sys

rows = [r for p in sorted(pathlib.Path(os.environ["PIPE_IN_PREPROCESS"]).rglob("*.json")) for r in json.loads(p.read_text())]
sums, counts = {}, {}
for r in rows:
    acc = sums.setdefault(r["label"], [0.0] * len(r["pixels"]))
    for i, v in enumerate(r["pixels"]):
        acc[i] += v
    counts[r["label"]] = counts.get(r["label"], 0) + 1
model = {"args": sys.argv[1:], "centroids": {str(d): [v / counts[d] for v in acc] for d, acc in sorted(sums.items())}}
# Under torchrun every worker runs this; only rank 0 writes, as DDP scripts do.
if int(os.environ.get("RANK", "0")) == 0:
    (pathlib.Path(os.environ["PIPE_OUT"]) / "model.json").write_text(json.dumps(model))
