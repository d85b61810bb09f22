#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs formatting,
# lints and every test. Snapshots are checked, never written (`--check`), and snapshot files that no
# test references are an error.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# CI builds once from a clean clone: incremental caches would only fill its disk (3.5 GB).
[ "${CI:-}" = true ] && export CARGO_INCREMENTAL=0

step "tools"
# neovim: the editor end-to-end test; libclang-dev: building tree-sitter-cli; bubblewrap: the
# cluster stand-in's containers (tests/src/sandbox.rs); procps: `kill` and `pgrep`, which end and
# look for a deleted gang's processes (tests/src/volcano.rs, compiler/cli/tests/cluster.rs).
# curl: waits for the mlflow server to answer; chromium: renders `pipe log --plot` pages
# (compiler/cli/tests/plot.rs).
apt_install neovim libclang-dev bubblewrap procps curl chromium
rustup component add rustfmt clippy >/dev/null 2>&1 || true
command -v cargo-insta >/dev/null || cargo install cargo-insta --locked --quiet
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked --quiet
tree-sitter --version 2>/dev/null | grep -q '0.26.13' || cargo install tree-sitter-cli --version 0.26.13 --locked --quiet
# Third-party validators of the Argo output (compiler/cli/tests/argo.rs): Hera's models,
# kubernetes-validate and jsonschema from PyPI, @kubernetes-models/argo-workflows from npm.
# TorchX itself (compiler/cli/tests/torchx.rs): its linter, finder, dry runs and local_cwd runs.
# kmock's Kubernetes emulator (compiler/cli/tests/deploy.rs), started by tests/servers/kmock_server.py.
python3 -c 'import hera, kubernetes_validate, jsonschema, yaml, torchx, kubernetes, kmock' 2>/dev/null \
  || { python3 -m pip install --quiet hera==7.1.0 kubernetes-validate==1.37.0 jsonschema==4.26.0 pyyaml==6.0.3 \
         torchx==0.7.0 kubernetes==30.1.0 kmock==0.8 && { command -v pyenv >/dev/null && pyenv rehash; true; }; }
(cd tests/validators && npm ci --silent)
# A real MLflow tracking server and OpenLineage's schemas' format checks (compiler/cli/tests/export.rs).
# mlflow is pinned: a newer one may lack its matching mlflow-skinny.
python3 -c 'import mlflow, rfc3986_validator, rfc3339_validator' 2>/dev/null \
  || { python3 -m pip install --quiet mlflow==3.17.2 rfc3986-validator==0.1.1 rfc3339-validator==0.1.4 && { command -v pyenv >/dev/null && pyenv rehash; true; }; }
# moto_server: the S3-compatible server the store tests start on 127.0.0.1.
command -v moto_server >/dev/null || { python3 -m pip install --quiet 'moto[server]>=5,<6' && { command -v pyenv >/dev/null && pyenv rehash; true; }; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "tree-sitter: the committed parser is generated from grammar.js, and its tests pass"
(
  cd grammar/tree-sitter-pipe
  tree-sitter generate
  git diff --exit-code -- src/ || { echo "src/ is stale: run \`tree-sitter generate\` in grammar/tree-sitter-pipe and commit it" >&2; exit 1; }
  tree-sitter test
)

step "TextMate grammar (vscode-textmate)"
(cd grammar/vscode && npm ci --silent && node --test test/)

step "fuzz target builds"
cargo check --quiet --manifest-path fuzz/Cargo.toml

step "the README's main command: the mnist example end to end, twice (the second run reuses everything)"
rm -rf examples/mnist/.pipe
bash examples/mnist/run.sh
bash examples/mnist/run.sh --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["stages"]; assert all(x["processed"]==0 for x in s), s'
rm -rf examples/mnist/.pipe

step "static pipe-shim (what the shim image holds)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet -p pipe-shim --target x86_64-unknown-linux-gnu
shim=target/x86_64-unknown-linux-gnu/release/pipe-shim
ldd "$shim" 2>&1 | grep -q 'statically linked' || { echo "$shim is not statically linked: $(ldd "$shim" 2>&1)" >&2; exit 1; }
shim_dir=$(mktemp -d)
"$shim" install "$shim_dir" && "$shim_dir/pipe-shim" --version
rm -rf "$shim_dir"

step "static pipe-shim for arm64 nodes (cross-compiled, as the Dockerfile does for linux/arm64)"
apt_install gcc-aarch64-linux-gnu qemu-user
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet -p pipe-shim --target aarch64-unknown-linux-gnu

step "mlflow server on 127.0.0.1, shared by the export tests (it takes 15-45 s to start)"
# In a process group of its own, so that every worker it starts is stopped with it.
mlflow_dir=$(mktemp -d)
mlflow_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid mlflow server --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
  --backend-store-uri "sqlite:///$mlflow_dir/mlflow.db" --default-artifact-root "$mlflow_dir/artifacts" \
  >"$mlflow_dir/log" 2>&1 &
mlflow_pid=$!
trap 'kill -TERM -- "-$mlflow_pid" 2>/dev/null; sleep 1; kill -KILL -- "-$mlflow_pid" 2>/dev/null; rm -rf "$mlflow_dir"' EXIT
for _ in $(seq 180); do
  curl -sf "http://127.0.0.1:$mlflow_port/health" >/dev/null 2>&1 && break
  kill -0 "$mlflow_pid" 2>/dev/null || { cat "$mlflow_dir/log" >&2; echo "mlflow server exited" >&2; exit 1; }
  sleep 1
done
curl -sf "http://127.0.0.1:$mlflow_port/health" >/dev/null || { cat "$mlflow_dir/log" >&2; echo "mlflow server did not start in 180 s" >&2; exit 1; }
export PIPE_TEST_MLFLOW="http://127.0.0.1:$mlflow_port"

step "tests"
# The shim's binary is run by pipe-cli's tests (tests/shim.rs); `cargo test` would build only its test harness.
cargo build --quiet -p pipe-shim
cargo insta test --workspace --check --unreferenced=reject --test-runner nextest --disable-nextest-doctest
