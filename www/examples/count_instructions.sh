#!/usr/bin/env bash
# Instructions per heartbeat of keeper-server and of the bare-axum ceiling, counted by
# `valgrind --tool=callgrind`: deterministic enough to compare on a busy machine, where rates are
# not. Each server runs on one core (`taskset -c 0`, so tokio starts one worker, as in the
# benchmark) and is driven by `examples/heartbeat_load.rs` twice: once creating the sessions
# only, once creating them and sending HEARTBEATS heartbeats. The difference of the two totals,
# divided by HEARTBEATS, is the cost of a heartbeat: start-up, creates and shutdown cancel out.
#
#   cargo build --release -p keeper-server --bin keeper-server --example ceiling \
#       --example heartbeat_load
#   www/examples/count_instructions.sh [BIN_DIR]
#
# BIN_DIR holds `keeper-server` and `ceiling` (default: target/release and its examples). The
# callgrind files are left in OUT (default: a fresh temporary folder) for `callgrind_annotate`.
# Environment: HEARTBEATS (20000), SESSIONS (1000), CONNECTIONS (4), SERVERS ("keeper ceiling").
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bins=${1:-}
keeper=${bins:+$bins/keeper-server}
keeper=${keeper:-$root/target/release/keeper-server}
ceiling=${bins:+$bins/ceiling}
ceiling=${ceiling:-$root/target/release/examples/ceiling}
load=$root/target/release/examples/heartbeat_load
heartbeats=${HEARTBEATS:-20000}
sessions=${SESSIONS:-1000}
connections=${CONNECTIONS:-4}
out=${OUT:-$(mktemp -d)}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run NAME HEARTBEATS COMMAND...: one server under callgrind, one load; prints its total.
run() {
  local name=$1 count=$2 port
  shift 2
  port=$(free_port)
  local file=$out/$name.$count.callgrind
  taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$file" \
    "$@" --addr "127.0.0.1:$port" >"$out/$name.$count.log" 2>&1 &
  local server=$!
  for _ in $(seq 600); do
    grep -q "listening on" "$out/$name.$count.log" && break
    sleep 0.1
  done
  taskset -c 1 "$load" --addr "127.0.0.1:$port" --sessions "$sessions" \
    --heartbeats "$count" --connections "$connections" >&2
  kill -TERM "$server"
  wait "$server" || true
  awk '/^(summary|totals):/ { print $2; exit }' "$file"
}

for name in ${SERVERS:-keeper ceiling}; do
  case $name in
    keeper) command=("$keeper" --create-burst 1000000000 --create-rate 1000000000) ;;
    ceiling) command=("$ceiling") ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  base=$(run "$name" 0 "${command[@]}")
  full=$(run "$name" "$heartbeats" "${command[@]}")
  echo "$name: $(( (full - base) / heartbeats )) instructions per heartbeat" \
    "($full - $base over $heartbeats heartbeats; files in $out)"
done
