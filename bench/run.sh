#!/usr/bin/env bash
# Runs every benchmark and regenerates BENCHMARKS.md, bench/results.json and bench/throughput.svg.
#   bench/run.sh            the full run (about 10 minutes from a fresh clone on 2 cores)
#   bench/run.sh --quick    a short smoke run (its BENCHMARKS.md says so; don't commit it)
# From a fresh clone it first installs what it needs: Debian's wrk, hyperfine, Python venv,
# Chromium and Node.js, and the wasm toolchain (scripts/setup.sh bench); the pinned npm packages
# (npm ci in bench/); the pinned FastAPI peer (bench/.venv). Then it builds everything in release
# mode and runs bench/bench.py, which prints each figure as it measures it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export BENCH_STARTED
BENCH_STARTED=$(date +%s.%N)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "setup: Debian packages and the wasm toolchain"
scripts/setup.sh bench
step "setup: npm packages (bench/package-lock.json)"
(cd bench && npm ci --silent --no-audit --no-fund)
step "setup: the FastAPI peer's venv (bench/peers/requirements.txt)"
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bench/peers/requirements.txt

step "build: release"
cargo build --release -p keeper-server --bin keeper-server --example ceiling --example live_bench
cargo build --release --example economy
scripts/build-pkg.sh pkg web

step "measure"
python3 bench/bench.py "$@"
step "measure: the reference server (bench/server.py)"
exec python3 bench/server.py "$@"
