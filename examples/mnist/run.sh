#!/usr/bin/env bash
# Runs this example end to end on this machine, with the local store (`.pipe/` here): puts `data/`
# into the `mnist` repo, tags it `v2` the first time, and runs the pipeline. Run it twice: the
# second run reuses every datum. Extra arguments go to `pipe run` (`--json`, `--param epochs=3`).
set -euo pipefail
cd "$(dirname "$0")"
pipe() { cargo run -q --manifest-path ../../Cargo.toml -p pipe-cli -- "$@"; }
{
  [ -e .pipe/repos/mnist ] || pipe data init mnist
  pipe data put mnist data -m "example data"
  pipe data ls mnist@v2 >/dev/null 2>&1 || pipe data tag mnist v2
} >&2
# `evaluate` reads HF_TOKEN from a cluster secret; locally it comes from the environment.
export HF_TOKEN=${HF_TOKEN:-unused-by-this-example}
pipe run pipeline.pipe "$@"
