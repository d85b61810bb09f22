"""Accuracy of the model on one test shard; writes `<shard>.accuracy`."""
import csv, json, os, pathlib

model = json.loads(next(pathlib.Path(os.environ["PIPE_IN_TRAIN"]).rglob("model.json")).read_text())["centroids"]
for shard in pathlib.Path(os.environ["PIPE_IN_DIGITS"]).rglob("*.csv"):
    right = total = 0
    with shard.open() as f:
        for r in csv.DictReader(f):
            px = [int(v) / 255 for k, v in r.items() if k != "label"]
            guess = min(model, key=lambda d: sum((a - b) ** 2 for a, b in zip(model[d], px)))
            right += guess == r["label"]
            total += 1
    (pathlib.Path(os.environ["PIPE_OUT"]) / f"{shard.stem}.accuracy").write_text(f"{right / total:.3f}\n")
