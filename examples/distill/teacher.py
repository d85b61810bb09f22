"""The teacher: a word-weight model; writes `<shard>.logits.json` with tempered scores."""
import json, os, pathlib, sys

t = float(sys.argv[sys.argv.index("--temperature") + 1])
weights = json.loads(next(pathlib.Path(os.environ["PIPE_IN_TEACHER"]).rglob("weights.json")).read_text())
for shard in pathlib.Path(os.environ["PIPE_IN_CORPUS"]).rglob("*.jsonl"):
    rows = [json.loads(l) for l in shard.read_text().splitlines() if l]
    logits = [sum(w for k, w in weights.items() if k in r["text"]) / t for r in rows]
    (pathlib.Path(os.environ["PIPE_OUT"]) / f"{shard.stem}.logits.json").write_text(json.dumps(logits))
