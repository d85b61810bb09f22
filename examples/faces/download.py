"""Fetches each URL of one batch file into the output folder; `file://` URLs name files of the input."""
import os, pathlib, urllib.request

src = pathlib.Path(os.environ["PIPE_IN_BATCHES"])
out = pathlib.Path(os.environ["PIPE_OUT"])
for batch in sorted(src.glob("batch-*.txt")):
    for url in batch.read_text().split():
        if url.startswith("file://"):
            data = (src / url.removeprefix("file://")).read_bytes()
        else:
            data = urllib.request.urlopen(url, timeout=30).read()
        (out / url.rsplit("/", 1)[-1]).write_bytes(data)
