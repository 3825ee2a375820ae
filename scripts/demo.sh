#!/usr/bin/env bash
# Runs the demo: installs what is missing, builds the wasm package, and starts the reference
# server on its embedded in-memory store with the demo endpoints on.
#   scripts/demo.sh [keeper-server flags...]     e.g. scripts/demo.sh --addr 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/setup.sh wasm
echo "demo: building the wasm package"
scripts/build-pkg.sh pkg web
echo "demo: building keeper-server"
cargo build --release --quiet -p keeper-server
exec target/release/keeper-server --demo "$@"
