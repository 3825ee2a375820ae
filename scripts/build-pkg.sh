#!/usr/bin/env bash
# Builds the wasm package into pkg/ (or $1), tuned for size: the wasm-release profile, then
# Debian's wasm-opt -Oz (wasm-pack's own wasm-opt download is not possible here).
#   scripts/build-pkg.sh [out-dir] [target: web|bundler]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-pkg}
target=${2:-web}
wasm-pack --quiet build --target "$target" --profile wasm-release --no-opt --out-dir "$out" >/dev/null
wasm=$out/session_keeper_bg.wasm
# Rust enables these wasm features by default; binaryen must be told it may keep them.
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$wasm" -o "$wasm.opt"
mv "$wasm.opt" "$wasm"
