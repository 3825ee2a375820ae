#!/usr/bin/env bash
# Runs every test, installing what is missing first: formatting and lints (host and wasm), the
# docs, the native tests (the keeper's rules, the server over real HTTP), the wasm package and its
# TypeScript, the size gate, the headless-Chromium tests against the real reference server, the
# demo page's end-to-end test, and the multi-tab and answers tests (real tabs of one browser
# against a second keeper-server with a short TTL).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
scripts/setup.sh test

server_port=${KEEPER_TEST_PORT:-18787}
runner_port=${WASM_BINDGEN_TEST_PORT:-18765}
logs=target/test-logs
mkdir -p "$logs"
started=$SECONDS
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy, host"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy, wasm32"
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
step "native tests: the keeper's rules and the reference server"
cargo test --workspace

step "wasm package: --target web and --target bundler"
scripts/build-pkg.sh pkg web
scripts/build-pkg.sh target/pkg-bundler bundler
scripts/check-pkg.sh pkg
scripts/check-pkg.sh target/pkg-bundler
step "size gate"
scripts/size.sh pkg --gate

step "browser tests: headless Chromium against keeper-server"
cargo build -p keeper-server --quiet
target/debug/keeper-server --addr "127.0.0.1:$server_port" --demo \
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
scripts/e2e.sh answers --serve "--ttl 10s"

echo
echo "All tests passed in $((SECONDS - started)) s."
