"""Scales the pixels of one CSV shard to [0, 1]; writes `<shard>.json` to the output folder."""
import csv, json, os, pathlib

src = pathlib.Path(os.environ["PIPE_IN_DIGITS"])
out = pathlib.Path(os.environ["PIPE_OUT"])
for shard in sorted(p for p in src.rglob("*.csv")):
    with shard.open() as f:
        rows = [{"label": int(r["label"]), "pixels": [int(v) / 255 for k, v in r.items() if k != "label"]} for r in csv.DictReader(f)]
    (out / f"{shard.stem}.json").write_text(json.dumps(rows))
