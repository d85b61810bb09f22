#!/usr/bin/env bash
# Runs the cargo-fuzz target `parse_check` for SECONDS (default 60), seeded with every example and
# fixture. Needs `cargo install cargo-fuzz`; on a stable toolchain RUSTC_BOOTSTRAP enables the
# sanitizer flags cargo-fuzz passes. Crashes land in fuzz/artifacts/parse_check/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || { echo "install cargo-fuzz: cargo install cargo-fuzz" >&2; exit 1; }
mkdir -p fuzz/corpus/parse_check
find examples tests/cases stdlib -name '*.pipe' | while read -r f; do cp "$f" "fuzz/corpus/parse_check/$(echo "$f" | tr / _)"; done
cd fuzz
# A unit slower than 10 s or larger than 2 GiB fails the run, like a crash.
RUSTC_BOOTSTRAP=1 cargo fuzz run parse_check -- -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048
