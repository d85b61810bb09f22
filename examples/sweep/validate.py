"""Mean squared error of one trial on val.csv; writes `<config>-<seed>.score`."""
import os, pathlib

w_file = next(pathlib.Path(os.environ["PIPE_IN_TRIAL"]).rglob("w"))
w = float(w_file.read_text())
rows = [tuple(map(float, l.split(","))) for l in next(pathlib.Path(os.environ["PIPE_IN_SPLIT"]).rglob("val.csv")).read_text().splitlines()[1:]]
mse = sum((w * x - y) ** 2 for x, y in rows) / len(rows)
(pathlib.Path(os.environ["PIPE_OUT"]) / f"{w_file.parent.name}.score").write_text(f"{mse:.6f}\n")
