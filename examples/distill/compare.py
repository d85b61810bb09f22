"""Agreement of the student's sign with each held-out label."""
import json, os, pathlib

student = json.loads(next(pathlib.Path(os.environ["PIPE_IN_STUDENT"]).rglob("student.json")).read_text())
for f in pathlib.Path(os.environ["PIPE_IN_CORPUS"]).rglob("*.jsonl"):
    rows = [json.loads(l) for l in f.read_text().splitlines() if l]
    agree = sum((sum(student.get(w, 0) for w in r["text"].split()) > 0) == bool(r["label"]) for r in rows)
    (pathlib.Path(os.environ["PIPE_OUT"]) / f"{f.stem}.agreement").write_text(f"{agree}/{len(rows)}\n")
