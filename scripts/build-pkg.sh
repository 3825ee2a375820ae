#!/usr/bin/env bash
# Builds the wasm package into pkg/ (or $1) with the standard command, `wasm-pack build --release`:
# the release profile is tuned for size for the crates in the wasm, and wasm-pack runs the
# installed wasm-opt (Debian's binaryen) with the flags in Cargo.toml's
# [package.metadata.wasm-pack.profile.release]. Then it adds to package.json the one field
# wasm-pack 0.15 no longer writes and Cargo.toml cannot give it: `module`, for bundlers and tools
# that look for the ES module there.
#   scripts/build-pkg.sh [out-dir] [target: web|bundler]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-pkg}
target=${2:-web}
# wasm-pack uses the wasm-opt on PATH and downloads one only when there is none, which this
# machine cannot; --mode no-install also forbids it to download or install wasm-bindgen.
command -v wasm-opt >/dev/null ||
  { echo "build-pkg: wasm-opt is missing: scripts/setup.sh wasm installs Debian's binaryen" >&2; exit 1; }
wasm-pack --quiet build --release --mode no-install --target "$target" --out-dir "$out" >/dev/null

json=$out/package.json
main=$(sed -n 's/^  "main": "\(.*\)",$/\1/p' "$json")
[ -n "$main" ] || { echo "build-pkg: no \"main\" line in $json" >&2; exit 1; }
if ! grep -q '^  "module": ' "$json"; then
  sed -i "s/^  \"main\": .*/&\n  \"module\": \"$main\",/" "$json"
fi
