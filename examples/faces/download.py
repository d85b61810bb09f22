"""Fetches each URL of one batch file into the output folder (file:// URLs are read locally)."""
import os, pathlib, urllib.request

out = pathlib.Path(os.environ["PIPE_OUT"])
for batch in pathlib.Path(os.environ["PIPE_IN_BATCHES"]).rglob("*.txt"):
    for url in batch.read_text().split():
        name = url.rsplit("/", 1)[-1].replace(".txt", ".pgm")
        if url.startswith("file://"):
            data = (batch.parent / url.removeprefix("file://photos/")).read_bytes()
        else:
            data = urllib.request.urlopen(url, timeout=30).read()
        (out / name).write_bytes(data)
