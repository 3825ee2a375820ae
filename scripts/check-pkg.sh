#!/usr/bin/env bash
# Checks a built package: package.json, the JS, the wasm, and a .d.ts whose options and events are
# typed rather than `any`.
#   scripts/check-pkg.sh <pkg-dir>
set -euo pipefail
dir=$1
fail() { echo "check-pkg: $dir: $*" >&2; exit 1; }
for file in package.json session_keeper.js session_keeper_bg.wasm session_keeper.d.ts; do
  [ -s "$dir/$file" ] || fail "missing $file"
done
grep -q '"name": "session-keeper"' "$dir/package.json" || fail "package.json does not name session-keeper"
dts=$dir/session_keeper.d.ts
for needle in \
  'constructor(options: SessionKeeperOptions)' \
  'beat(): Promise<BeatResult>' \
  'readonly state: KeeperState' \
  'readonly expiresAt: number | undefined' \
  'export interface SessionKeeperOptions' \
  'onHeartbeat?: (event: HeartbeatEvent) => void' \
  'onExpired?: (event: ExpiredEvent) => void' \
  'export type BeatResult = HeartbeatEvent | FailureEvent' \
  'reason: ExpiryReason'; do
  grep -qF "$needle" "$dts" || fail "the .d.ts lacks: $needle"
done
if grep -n '\bany\b' "$dts" | grep -v '^[0-9]*:\s*/\?\*' | grep -q .; then
  grep -n '\bany\b' "$dts" >&2
  fail "the .d.ts uses any"
fi
echo "check-pkg: $dir: package.json, JS, wasm and typed .d.ts present"
