"""Ranks every point under `in/results` by validation loss and writes the one at `--rank` (1 is
the best) as `best.json`, with the ranking beside it."""
import json, os, pathlib, sys

rank = int(sys.argv[sys.argv.index("--rank") + 1])
points = [json.loads(f.read_text()) for f in sorted(pathlib.Path(os.environ["PIPE_IN_RESULTS"]).rglob("point.json"))]
if not points:
    sys.exit("no point.json under in/results: did the sweep write its results?")
ranked = sorted(points, key=lambda q: (q["val_loss"], q["lr"], q["l2"]))
if rank > len(ranked):
    sys.exit(f"--rank {rank}, but only {len(ranked)} points were fitted")
out = pathlib.Path(os.environ["PIPE_OUT"])
(out / "best.json").write_text(json.dumps(ranked[rank - 1]) + "\n")
(out / "ranking.json").write_text(json.dumps(ranked, indent=1) + "\n")
