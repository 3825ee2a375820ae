#!/usr/bin/env bash
# Refreshes docs/demo.png, the picture in the README: builds the wasm package and keeper-server,
# starts the server with --demo on a free port, runs the demo page's end-to-end test with
# --screenshot, and stops the server.
#   scripts/screenshot.sh [path]      default docs/demo.png
# The server's session TTL is short (15 s) so that the timeline, which spans about one TTL, fills
# with the test's fast heartbeats (?demo=fast, every 1.5 s) within the few seconds it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
out=${1:-docs/demo.png}
logs=target/test-logs
mkdir -p "$logs"

scripts/build-pkg.sh pkg web
cargo build -p keeper-server --quiet
# Port 0: the system picks a free port, and the server prints the address it got.
target/debug/keeper-server --addr 127.0.0.1:0 --demo --ttl 15s >"$logs/screenshot-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=""
for _ in $(seq 100); do
  url=$(sed -n 's|^listening on \(http://[^ ]*\).*|\1|p' "$logs/screenshot-server.log")
  [ -n "$url" ] && break
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "screenshot: keeper-server did not start:" >&2
  cat "$logs/screenshot-server.log" >&2
  exit 1
fi
scripts/e2e.sh "$url/" --screenshot "$out"
kill $server && wait $server 2>/dev/null || true
trap - EXIT
echo "screenshot: $out"
