#!/usr/bin/env bash
# The npm package as applications install it: packed by `wasm-pack pack`, installed from the
# tarball with `npm ci` into test projects that each pin their packages in a package-lock.json.
#   scripts/npm-tests.sh pack <web-pkg-dir> <bundler-pkg-dir>
#       packs both builds, checks each tarball's package.json and files (tests/npm/tarball.mjs),
#       and copies the web one to target/npm/session-keeper.tgz, which the projects depend on
#   scripts/npm-tests.sh types
#       tsc --strict against the installed package (tests/npm/types)
#   scripts/npm-tests.sh ssr [bundler-pkg-dir]
#       the package imported in Node, as server-side rendering does (tests/npm/ssr)
#   scripts/npm-tests.sh vite [port]
#       tests/npm/vite-app in headless Chromium, keeping a session alive on keeper-server
#       (127.0.0.1:port, default 18790, 3 s session TTL): built with vite build and served by
#       keeper-server, then on Vite's dev server (port + 1), which forwards /api to it
# Run `pack` first. Nothing is downloaded but from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tarball=target/npm/session-keeper.tgz

# `npm ci` in one test project, then a check that it installed this tarball: a lock file that
# pins the tarball's integrity lets npm take an older one from its cache without a word.
install() {
  local dir=$1 file
  [ -s "$tarball" ] || { echo "npm-tests: no $tarball: run scripts/npm-tests.sh pack first" >&2; exit 1; }
  (cd "$dir" && npm ci --silent --no-audit --no-fund)
  for file in session_keeper.js session_keeper_bg.wasm session_keeper.d.ts; do
    if ! tar -xzOf "$tarball" "package/$file" | cmp -s - "$dir/node_modules/session-keeper/$file"; then
      echo "npm-tests: $dir installed another $file than $tarball's: remove the \"integrity\" of" \
        "node_modules/session-keeper from $dir/package-lock.json" >&2
      exit 1
    fi
  done
}

pack() {
  local web=$1 bundler=$2 dir target
  mkdir -p target/npm
  for dir in "$web" "$bundler"; do
    rm -f "$dir"/session-keeper-*.tgz
    wasm-pack --quiet pack --pkg-dir "$dir" "$dir" >target/npm/pack.log 2>&1 ||
      { cat target/npm/pack.log; exit 1; }
    target=web
    [ "$dir" = "$bundler" ] && target=bundler
    node tests/npm/tarball.mjs "$dir"/session-keeper-*.tgz "$target"
  done
  cp "$web"/session-keeper-*.tgz "$tarball"
}

types() {
  install tests/npm/types
  node tests/npm/types/check.mjs
}

ssr() {
  install tests/npm/ssr
  node tests/npm/ssr/ssr.mjs "$@"
}

vite() {
  local port=${1:-18790} app=tests/npm/vite-app dist=target/npm/vite-dist logs=target/npm
  local dev_port=$((port + 1))
  install "$app"
  (cd "$app" && node_modules/.bin/vite build --logLevel warn --emptyOutDir --outDir "$root/$dist")
  echo "vite build: $(cd "$dist" && find . -type f | sort | tr '\n' ' ')"
  cargo build -p keeper-server --quiet
  target/debug/keeper-server --addr "127.0.0.1:$port" --ttl 3s --static-dir "$dist" \
    >"$logs/vite-keeper-server.log" 2>&1 &
  server=$!
  trap 'kill $server ${dev:-} 2>/dev/null || true' EXIT
  wait_for "http://127.0.0.1:$port/healthz"
  node "$app/keepalive.mjs" "http://127.0.0.1:$port/" 3000 ||
    { echo "keeper-server log:"; tail -n 20 "$logs/vite-keeper-server.log"; exit 1; }

  # The same app on Vite's dev server, which forwards /api to the same keeper-server.
  (cd "$app" && KEEPER_URL="http://127.0.0.1:$port" exec node_modules/.bin/vite --logLevel warn \
    --host 127.0.0.1 --port "$dev_port" --strictPort) >"$logs/vite-dev.log" 2>&1 &
  dev=$!
  wait_for "http://127.0.0.1:$dev_port/"
  node "$app/keepalive.mjs" "http://127.0.0.1:$dev_port/" 3000 --dev ||
    { echo "vite dev log:"; tail -n 20 "$logs/vite-dev.log"; exit 1; }
  kill "$server" "$dev"
  wait "$server" "$dev" 2>/dev/null || true
  trap - EXIT
}

# Waits up to 10 s for a URL to answer.
wait_for() {
  for _ in $(seq 100); do
    curl -fsS "$1" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "npm-tests: nothing answers at $1" >&2
  exit 1
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
  pack) [ $# = 2 ] || { echo "usage: scripts/npm-tests.sh pack <web-pkg-dir> <bundler-pkg-dir>" >&2; exit 2; }; pack "$@" ;;
  types) types ;;
  ssr) ssr "$@" ;;
  vite) vite "$@" ;;
  *) echo "usage: scripts/npm-tests.sh pack|types|ssr|vite ... (see the script's header)" >&2; exit 2 ;;
esac
