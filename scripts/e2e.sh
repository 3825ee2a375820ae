#!/usr/bin/env bash
# The demo page's end-to-end test in Debian's headless Chromium (tests/e2e/demo.mjs), against a
# keeper-server already running with --demo.
#   scripts/e2e.sh [base-url] [--screenshot path]      base URL default: $DEMO_URL or http://127.0.0.1:8080/
# Paths are taken relative to the current directory.
set -euo pipefail
e2e=$(cd "$(dirname "$0")/../tests/e2e" && pwd)
(cd "$e2e" && npm ci --silent --no-audit --no-fund)
exec node "$e2e/demo.mjs" "$@"
