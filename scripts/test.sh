#!/usr/bin/env bash
# Runs every test, installing what is missing first: formatting and lints (host and wasm), the
# docs, the native tests (the keeper's rules, the server over real HTTP), the wasm package and its
# TypeScript, the size gate, the npm package as apps install it (its tarball, strict TypeScript,
# the import in Node for server-side rendering, a Vite app in headless Chromium), the
# headless-Chromium tests against the real reference server, the demo page's end-to-end test, and
# the multi-tab and answers tests (real tabs of one browser against a second keeper-server with a
# short TTL).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/setup.sh test

server_port=${KEEPER_TEST_PORT:-18787}
runner_port=${WASM_BINDGEN_TEST_PORT:-18765}
vite_port=${KEEPER_VITE_PORT:-18790} # and the next one, for Vite's dev server
logs=target/test-logs
mkdir -p "$logs"
started=$SECONDS
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy, host"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy, wasm32"
# Every crate that goes into the wasm (keeper-server does not build for wasm32).
cargo clippy -p session-keeper -p keeper-web -p keeper-core --all-targets --target wasm32-unknown-unknown \
  -- -D warnings
step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
step "native tests: the keeper's rules and the reference server (with a real Redis)"
# The Redis store's suite runs against a redis-server of its own on a free loopback port; the
# tests fail loudly without KEEPER_TEST_REDIS, so they can never pass by not running.
redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
  --loglevel warning >"$logs/redis-server.log" 2>&1 &
redis=$!
trap 'kill $redis 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
KEEPER_TEST_REDIS="redis://127.0.0.1:$redis_port/0" cargo test --workspace
kill $redis && wait $redis 2>/dev/null || true
trap - EXIT

step "wasm package: wasm-pack build --release, --target web and --target bundler"
scripts/check-profile.sh
scripts/build-pkg.sh pkg web
scripts/build-pkg.sh target/pkg-bundler bundler
scripts/check-pkg.sh pkg
scripts/check-pkg.sh target/pkg-bundler
step "size gate"
scripts/size.sh pkg --gate

step "npm package: wasm-pack pack, and each tarball's package.json and files"
scripts/npm-tests.sh pack pkg target/pkg-bundler
step "npm package: strict TypeScript against the installed tarball"
scripts/npm-tests.sh types
step "npm package: imported in Node, as server-side rendering does"
scripts/npm-tests.sh ssr target/pkg-bundler
step "npm package: a Vite app (vite build, then the dev server) keeps a session alive in headless Chromium"
scripts/npm-tests.sh vite "$vite_port"

step "browser tests: headless Chromium against keeper-server"
cargo build -p keeper-server --quiet
# Every browser test creates sessions from 127.0.0.1: lift the per-address create limit.
target/debug/keeper-server --addr "127.0.0.1:$server_port" --demo --create-burst 100000 \
  --allowed-origin "http://127.0.0.1:$runner_port" >"$logs/keeper-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$server_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
KEEPER_TEST_SERVER="http://127.0.0.1:$server_port" \
  WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$runner_port" \
  WASM_BINDGEN_TEST_TIMEOUT=180 \
  wasm-pack test --headless --chrome -- --test browser ||
  { echo "keeper-server log:"; tail -n 40 "$logs/keeper-server.log"; exit 1; }

step "demo page: end to end in headless Chromium"
scripts/e2e.sh "http://127.0.0.1:$server_port/"
kill $server && wait $server 2>/dev/null || true
trap - EXIT

step "browser tests: several tabs of one session, and answers as real servers give them"
# A server of their own with a short TTL: the idle test waits for the TTL to end an idle session.
scripts/e2e.sh tabs --serve "--ttl 10s"
scripts/e2e.sh answers --serve "--ttl 10s" --require-fixtures

echo
echo "All tests passed in $((SECONDS - started)) s."
