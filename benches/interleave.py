"""Times shell commands in interleaved rounds: round r runs every case once (prepare, then the
timed command), so every tool sees the same state of the machine. On a VM whose write speed swings
several-fold from one minute to the next, timing each tool's runs back to back (as hyperfine does)
compares moments as much as tools.

Usage: interleave.py CASES.json ROUNDS OUT.json
CASES.json: [{"name": ..., "prepare": "shell", "command": "shell"}, ...]
The first round is a warm-up and is not kept. Writes {"name": {"median": s, "min": s, "runs": [...]}}.
"""

import json
import statistics
import subprocess
import sys
import time


def sh(command: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(["bash", "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"`{command}` failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main() -> None:
    cases = json.load(open(sys.argv[1]))
    rounds = int(sys.argv[2])
    runs = {c["name"]: [] for c in cases}
    for r in range(rounds + 1):
        # Rotate the order each round so no tool always follows the same one.
        for c in cases[r % len(cases):] + cases[: r % len(cases)]:
            sh(c["prepare"])
            t = sh(c["command"])
            if r > 0:
                runs[c["name"]].append(t)
    out = {name: {"median": statistics.median(t), "min": min(t), "runs": t} for name, t in runs.items()}
    json.dump(out, open(sys.argv[3], "w"), indent=2)


if __name__ == "__main__":
    main()
