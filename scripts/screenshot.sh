#!/usr/bin/env bash
# Refreshes docs/demo.png, the picture in the README: builds the wasm package and keeper-server,
# and runs the demo page's end-to-end test with --screenshot against the server started with
# --demo on a free port (scripts/e2e.sh --serve).
#   scripts/screenshot.sh [path]      default docs/demo.png
# The server's session TTL is short (15 s) so that the timeline, which spans about one TTL, fills
# with the test's fast heartbeats (?demo=fast, every 1.5 s) within the few seconds it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
out=${1:-docs/demo.png}

scripts/build-pkg.sh pkg web
cargo build -p keeper-server --quiet
scripts/e2e.sh demo --serve "--ttl 15s" --screenshot "$out"
echo "screenshot: $out"
