#!/usr/bin/env bash
# Checks that every crate linked into the wasm package, except those keeper-server uses too, has
# its size settings in Cargo.toml ([profile.release.package.NAME]): the release profile is tuned
# for size only crate by crate, so that the server keeps full speed.
#   scripts/check-profile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
crates() { cargo tree --offline --prefix none --format '{p}' "$@" | awk '{ print $1 }' | sort -u; }
wasm=$(crates -p session-keeper --target wasm32-unknown-unknown -e normal,no-proc-macro)
server=$(crates -p keeper-server -e normal,build)
missing=()
for crate in $(comm -23 <(echo "$wasm") <(echo "$server")); do
  grep -qx "\[profile.release.package.$crate\]" Cargo.toml || missing+=("$crate")
done
if ((${#missing[@]})); then
  echo "check-profile: crates in the wasm without [profile.release.package.NAME] (opt-level = \"z\"," \
    "codegen-units = 1) in Cargo.toml: ${missing[*]}" >&2
  exit 1
fi
echo "check-profile: the $(echo "$wasm" | wc -l) crates in the wasm are size-tuned, or shared with the server"
