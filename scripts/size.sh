#!/usr/bin/env bash
# Prints the gzipped size (gzip -9) of the built package: the .wasm plus its JS glue.
#   scripts/size.sh [pkg-dir] [--gate]
# With --gate it fails when the total exceeds the budget below. Sizes are deterministic for a
# given toolchain, so the gate is fair; it was set from the measure of 2026-11-26 (30,903 B) plus 2%
# headroom (the README's Size section has the figure since). Raise it only with a reason in the
# CHANGELOG.
set -euo pipefail
budget_gz=31521
dir=${1:-pkg}
wasm_gz=$(gzip -9 -c "$dir/session_keeper_bg.wasm" | wc -c)
js_gz=$(gzip -9 -c "$dir/session_keeper.js" | wc -c)
total=$((wasm_gz + js_gz))
echo "size: wasm $(wc -c <"$dir/session_keeper_bg.wasm") B ($wasm_gz B gz) + js $(wc -c <"$dir/session_keeper.js") B ($js_gz B gz) = $total B gzipped"
if [ "${2:-}" = --gate ]; then
  if ((total > budget_gz)); then
    echo "size gate: $total B gzipped is over the budget of $budget_gz B" >&2
    exit 1
  fi
  echo "size gate: within the budget of $budget_gz B ($((budget_gz - total)) B to spare)"
fi
