"""Splits the points into train.csv and val.csv: every fifth row is validation."""
import os, pathlib

table = next(pathlib.Path(os.environ["PIPE_IN_POINTS"]).rglob("*.csv")).read_text().splitlines()
header, rows = table[0], table[1:]
out = pathlib.Path(os.environ["PIPE_OUT"])
(out / "train.csv").write_text("\n".join([header] + [r for i, r in enumerate(rows) if i % 5]) + "\n")
(out / "val.csv").write_text("\n".join([header] + [r for i, r in enumerate(rows) if not i % 5]) + "\n")
