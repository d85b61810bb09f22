#!/usr/bin/env python3
"""Writes a synthetic pipeline of N stages to stdout, shaped like real ones.

Every stage has a doc comment, six to nine fields and a datum expression; a third use a
`torchx` template, a third read two upstream stages through `cross` or `join`, and every tenth is
a DDP stage. Stage k reads stages chosen from the previous ten, so the DAG is deep and wide.
Usage: gen_pipeline.py N [SEED] [--ddp-every K] [--shape FILE]
  --ddp-every K  every K-th stage is a DDP stage (default 10; 0: none)
  --shape FILE   also write the DAG as JSON (name, image, command, cpu, memory, reads) for the
                 peers' builders in benches/compile_peers.py
"""
import argparse
import json
import random

cli = argparse.ArgumentParser()
cli.add_argument("n", type=int)
cli.add_argument("seed", type=int, nargs="?", default=1)
cli.add_argument("--ddp-every", type=int, default=10)
cli.add_argument("--shape")
opts = cli.parse_args()
n = opts.n
rng = random.Random(opts.seed)
shape = []
out = ["use torchx", "", "## Passes over the data.", "param epochs: int = 10", "## Learning rate.",
       "param lr: float = 0.001", "", "input raw = repo(\"raw\") @ \"v1\"", "input extra = dir(\"extra\")", ""]
for k in range(n):
    ups = [f"s{j}" for j in range(max(0, k - 10), k)] or ["raw"]
    a = rng.choice(ups)
    kind = k % 10
    ddp = opts.ddp_every > 0 and k % opts.ddp_every == opts.ddp_every - 1
    out.append(f"## Stage {k}: transforms its inputs.")
    reads = [a]
    if ddp:
        shape.append({"name": f"s{k}", "image": "ghcr.io/acme/train:1.4", "command": ["python", "train.py"], "cpu": "1", "memory": "64Gi", "reads": reads})
        out += [f"stage s{k}: torchx.ddp {{", '  image          = "ghcr.io/acme/train:1.4"', '  script         = "train.py"',
                f'  datums         = glob({a}, "/")', '  args           = ["--epochs", "${epochs}", "--lr", "${lr}"]',
                "  nnodes         = 2", "  nproc_per_node = 8", "  gpu            = 8", "  memory         = 64Gi",
                "  timeout        = 6h", "}", ""]
    elif kind % 3 == 0:
        b = rng.choice(ups + ["extra"])
        reads = [a, b]
        shape.append({"name": f"s{k}", "image": "python:3.11-slim", "command": ["python", "step.py", "--lr", "0.001"], "cpu": "2", "memory": "4Gi", "reads": reads})
        datums = f'cross(glob({a}, "/*"), glob({b}, "/*"))' if kind == 0 else f'join(glob({a}, "/(*).csv"), glob({b}, "/(*).json"))'
        out += [f"stage s{k} {{", '  image   = "python:3.11-slim"', '  command = ["python", "step.py", "--lr", "${lr}"]',
                f"  datums  = {datums}", "  cpu     = 2", "  memory  = 4Gi", "  retries = 2", "}", ""]
    else:
        shape.append({"name": f"s{k}", "image": "python:3.11-slim", "command": ["python", "step.py"], "cpu": "1", "memory": "2Gi", "reads": reads})
        out += [f"stage s{k}: torchx.python {{", '  image  = "python:3.11-slim"', '  script = "step.py"',
                f'  datums = glob({a}, "/*")', "  cpu    = 1", "  memory = 2Gi",
                '  env    = { MODE = "fast", TOKEN = secret("api-token", "token") }', "}", ""]
print("\n".join(out))
if opts.shape:
    for stage in shape:
        stage["reads"] = sorted({r for r in stage["reads"] if r.startswith("s")})
    json.dump(shape, open(opts.shape, "w"))
