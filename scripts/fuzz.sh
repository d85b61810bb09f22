#!/usr/bin/env bash
# Runs the cargo-fuzz target `parse_check` (parse, check, format, human rendering and the language
# server's features) for SECONDS (default 60), or for RUNS inputs when RUNS is set, seeded with
# every example and fixture plus hostile shapes: nesting past the depth limit, a 70,000-character
# line and name, invalid UTF-8. Needs `cargo install cargo-fuzz`; on a stable toolchain
# RUSTC_BOOTSTRAP enables the sanitizer flags cargo-fuzz passes. Crashes land in
# fuzz/artifacts/parse_check/; the last line libFuzzer prints counts the inputs run. MAX_LEN
# (default 131072, room for the long-line seeds), SANITIZER (default address; `none` runs
# several times faster) and JOBS (processes over the shared corpus, each running RUNS inputs) tune
# a long run, e.g. `RUNS=520000 JOBS=2 MAX_LEN=8192 SANITIZER=none bash scripts/fuzz.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || { echo "install cargo-fuzz: cargo install cargo-fuzz" >&2; exit 1; }
corpus=fuzz/corpus/parse_check
mkdir -p "$corpus"
find examples tests/cases stdlib -name '*.pipe' | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done
python3 - "$corpus" <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[1])
seeds = {
    "deep_lists": b"param p = " + b"[" * 200 + b"1" + b"]" * 200 + b"\n",
    "deep_records": b"stage s {\n  env = " + b"{ a = " * 120 + b"1" + b" }" * 120 + b"\n}\n",
    "unclosed": b"stage s { command = [" + b"[" * 300,
    "long_line": b"param p = \"" + b"x" * 70000 + b"\"\nstage s { bad }\n",
    "long_name": b"stage s {\n  " + b"n" * 70000 + b" = 1\n}\n",
    "invalid_utf8": b"stage s {\n  command = [\"a\xff\xfe\"]\n}\n",
    "truncated_utf8": b"param p = \"\xe2\x82",
}
for name, data in seeds.items():
    (out / f"hostile_{name}").write_bytes(data)
PY
cd fuzz
# A unit slower than 10 s or larger than 2 GiB fails the run, like a crash.
limits=(-max_len="${MAX_LEN:-131072}" -timeout=10 -rss_limit_mb=2048)
if [[ -n "${JOBS:-}" ]]; then limits+=(-jobs="$JOBS" -workers="$JOBS"); fi
fuzz=(cargo fuzz run --sanitizer "${SANITIZER:-address}" parse_check)
if [[ -n "${RUNS:-}" ]]; then
  RUSTC_BOOTSTRAP=1 "${fuzz[@]}" -- -runs="$RUNS" "${limits[@]}"
else
  RUSTC_BOOTSTRAP=1 "${fuzz[@]}" -- -max_total_time="$seconds" "${limits[@]}"
fi
