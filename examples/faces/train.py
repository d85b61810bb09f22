"""Stands in for embedding training: counts the faces it would train on."""
import os, pathlib

faces = sorted(p.name for p in pathlib.Path(os.environ["PIPE_IN_ALIGN"]).rglob("*.json"))
# Under torchrun every worker runs this; only rank 0 writes, as DDP scripts do.
if int(os.environ.get("RANK", "0")) == 0:
    (pathlib.Path(os.environ["PIPE_OUT"]) / "model.txt").write_text(f"trained on {len(faces)} faces: {', '.join(faces)}\n")
