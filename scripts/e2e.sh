#!/usr/bin/env bash
# The browser tests in tests/e2e, in Debian's headless Chromium, against keeper-server --demo:
#   scripts/e2e.sh [demo] [base-url] [--screenshot path]   the demo page (demo.mjs)
#   scripts/e2e.sh tabs <base-url> [--only name]...        several tabs of one session (tabs.mjs);
#                                                          the server needs a short TTL (--ttl 10s)
#   scripts/e2e.sh answers <base-url> [--require-fixtures] redirects, HTML 200s, JSON media types
#                                                          (answers.mjs)
# Instead of a base URL, `--serve "flags"` starts target/debug/keeper-server (built beforehand)
# with --demo, no per-address create limit (every test creates its sessions from 127.0.0.1) and
# those flags, on a free port for the test, and stops it after:
#   scripts/e2e.sh tabs --serve "--ttl 10s"
# The demo's base URL defaults to $DEMO_URL or http://127.0.0.1:8080/. Paths are taken relative to
# the current directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
e2e=$root/tests/e2e
(cd "$e2e" && npm ci --silent --no-audit --no-fund)
case "${1:-}" in
  tabs | answers | demo)
    test=$1
    shift
    ;;
  *) test=demo ;;
esac
if [ "${1:-}" != "--serve" ]; then
  exec node "$e2e/$test.mjs" "$@"
fi

# `--serve` alone (no flags argument) means no extra flags.
flags=${2-}
shift $(($# < 2 ? $# : 2))
log=$root/target/test-logs/e2e-$test-server.log
mkdir -p "$(dirname "$log")"
# Port 0: the system picks a free port, and the server prints the address it got.
# shellcheck disable=SC2086 # the flags are words on purpose
"$root/target/debug/keeper-server" --addr 127.0.0.1:0 --demo --create-burst 100000 $flags \
  >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=""
for _ in $(seq 100); do
  url=$(sed -n 's|^listening on \(http://[^ ]*\).*|\1|p' "$log")
  [ -n "$url" ] && break
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "e2e: keeper-server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
node "$e2e/$test.mjs" "$url/" "$@" || {
  echo "keeper-server log ($log):" >&2
  tail -n 40 "$log" >&2
  exit 1
}
kill $server && wait $server 2>/dev/null || true
trap - EXIT
