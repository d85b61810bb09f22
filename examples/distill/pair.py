"""Zips a shard's rows with the teacher's logits for them."""
import json, os, pathlib

shard = next(pathlib.Path(os.environ["PIPE_IN_CORPUS"]).rglob("*.jsonl"))
logits = json.loads(next(pathlib.Path(os.environ["PIPE_IN_TEACHER_LOGITS"]).rglob("*.logits.json")).read_text())
rows = [json.loads(l) for l in shard.read_text().splitlines() if l]
(pathlib.Path(os.environ["PIPE_OUT"]) / f"{shard.stem}.pairs.json").write_text(json.dumps([{**r, "soft": s} for r, s in zip(rows, logits)]))
