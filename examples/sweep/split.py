"""Splits the table into train.csv and val.csv; the last `holdout` fraction is validation."""
import os, pathlib, sys

holdout = float(sys.argv[sys.argv.index("--holdout") + 1])
table = next(pathlib.Path(os.environ["PIPE_IN_DATASET"]).rglob("*.csv")).read_text().splitlines()
header, rows = table[0], table[1:]
cut = int(len(rows) * (1 - holdout))
out = pathlib.Path(os.environ["PIPE_OUT"])
(out / "train.csv").write_text("\n".join([header, *rows[:cut]]) + "\n")
(out / "val.csv").write_text("\n".join([header, *rows[cut:]]) + "\n")
