"""Averages the scores of one configuration's seeds."""
import os, pathlib

scores = sorted(pathlib.Path(os.environ["PIPE_IN_VALIDATE"]).rglob("*.score"))
config = scores[0].stem.rsplit("-", 1)[0]
mean = sum(float(s.read_text()) for s in scores) / len(scores)
(pathlib.Path(os.environ["PIPE_OUT"]) / f"{config}.mean").write_text(f"{mean:.6f} over {len(scores)} seeds\n")
