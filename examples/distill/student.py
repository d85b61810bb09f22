"""The student: per-word weights fitted to a mix of soft and hard targets."""
import json, os, pathlib, sys

alpha = float(sys.argv[sys.argv.index("--alpha") + 1])
weights = {}
for p in pathlib.Path(os.environ["PIPE_IN_PAIRS"]).rglob("*.pairs.json"):
    for r in json.loads(p.read_text()):
        target = alpha * r["soft"] + (1 - alpha) * (1 if r["label"] else -1)
        for word in r["text"].split():
            weights[word] = weights.get(word, 0.0) + target
# Under torchrun every worker runs this; only rank 0 writes, as DDP scripts do.
if int(os.environ.get("RANK", "0")) == 0:
    (pathlib.Path(os.environ["PIPE_OUT"]) / "student.json").write_text(json.dumps(weights, sort_keys=True))
