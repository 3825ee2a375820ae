#!/usr/bin/env bash
# Runs every benchmark and regenerates BENCHMARKS.md, bench/results.json and bench/throughput.svg.
#   bench/run.sh            the full run (about 10 minutes from a fresh clone on 2 cores)
#   bench/run.sh --quick    a short smoke run (its BENCHMARKS.md says so; don't commit it)
#   bench/run.sh --only size,activity,startup,tabs
#                           only the sections named (any of size, activity, startup, throughput,
#                           scale, economy, tabs, and server for bench/server.py); bench/bench.py
#                           keeps the others from the last bench/results.json and BENCHMARKS.md
#                           says which run each comes from. size, activity, startup, economy and
#                           tabs are the light ones: no load generator, no pinned server. Combines
#                           with --quick.
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

# --only: split off the reference server's sections (bench/server.py), which has no --only.
only=""
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --only) only=${2:?--only needs a comma-separated list}; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
run_bench=yes run_server=yes bench_only=()
if [ -n "$only" ]; then
  sections=$(tr ',' '\n' <<<"$only" | grep -vx 'server' | paste -sd, -) || true
  [ -n "$sections" ] && bench_only=(--only "$sections") || run_bench=no
  grep -qx 'server' < <(tr ',' '\n' <<<"$only") || run_server=no
fi

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

if [ $run_bench = yes ]; then
  step "measure"
  python3 bench/bench.py ${bench_only[@]+"${bench_only[@]}"} ${args[@]+"${args[@]}"}
fi
if [ $run_server = yes ]; then
  step "measure: the reference server (bench/server.py)"
  exec python3 bench/server.py ${args[@]+"${args[@]}"}
fi
