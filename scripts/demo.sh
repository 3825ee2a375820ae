#!/usr/bin/env bash
# Runs the demo: installs what is missing, builds the wasm package, and starts the reference
# server on its embedded in-memory store with the demo endpoints on, and prints the URL.
#   scripts/demo.sh [keeper-server flags...]     e.g. scripts/demo.sh --addr 127.0.0.1:9090
# Sessions live 1 minute unless KEEPER_TTL says otherwise, so the page's timeline, which spans
# about one TTL, shows the expiry being pushed forward at the demo's timings (a heartbeat every
# 10 s); the page's "real timings" switch shows the 5 min / 1 min / 20 min ones.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/setup.sh wasm
echo "demo: building the wasm package"
scripts/build-pkg.sh pkg web
echo "demo: building keeper-server"
cargo build --release --quiet -p keeper-server
export KEEPER_TTL=${KEEPER_TTL:-1m}
exec target/release/keeper-server --demo "$@"
