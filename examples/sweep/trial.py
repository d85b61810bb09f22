"""Fits y = w·x by gradient descent with the configuration's learning rate; writes `<config>/w`."""
import json, os, pathlib, random

cfg_file = next(pathlib.Path(os.environ["PIPE_IN_GRID"]).rglob("*.json"))
cfg = json.loads(cfg_file.read_text())
rows = [tuple(map(float, l.split(","))) for l in next(pathlib.Path(os.environ["PIPE_IN_SPLIT"]).rglob("train.csv")).read_text().splitlines()[1:]]
random.seed(cfg["seed"])
w = random.random()
for _ in range(100):
    w -= cfg["lr"] * sum(2 * (w * x - y) * x for x, y in rows) / len(rows)
out = pathlib.Path(os.environ["PIPE_OUT"]) / cfg_file.stem
out.mkdir(parents=True, exist_ok=True)
(out / "w").write_text(f"{w}\n")
