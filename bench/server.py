#!/usr/bin/env python3
"""The reference server's own benchmarks: throughput of both stores beside the bare-axum ceiling
and redis-benchmark, an end pushed across two instances, live sockets at scale, and attacks
replayed against the limits (slow headers, idle connections, a create flood, a client stalled at
SIGTERM). Loopback only; every load is bounded and stops by itself.

    bench/run.sh runs it after bench/bench.py; alone, after a release build:
    python3 bench/server.py [--quick]

It writes bench/server-results.json, then re-renders BENCHMARKS.md (bench/report.py adds the
server section from that file). Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the shared helpers: servers, wrk, machine)
import report  # noqa: E402
from bench import (KEEPER, KEEPER_NO_CREATE_LIMIT, LOAD_CPU, RAW, RELEASE, ROOT, SERVER_CPU,  # noqa: E402
                   Server, create_sessions, free_port, machine, no_errors, proc_rss, say, wrk)

LIVE_BENCH = RELEASE / "examples" / "live_bench"
RESULTS = ROOT / "bench" / "server-results.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")

FULL = {"wrk_seconds": 5, "wrk_runs": 3, "sessions": 10_000, "latency_rounds": 50,
        "socket_counts": [10_000, 50_000], "ping_interval_s": 5, "cpu_window_s": 15,
        "idle_connections": 10_000, "slow_connections": 1_000}
QUICK = {**FULL, "wrk_seconds": 2, "wrk_runs": 1, "latency_rounds": 10,
         "socket_counts": [2_000, 10_000], "cpu_window_s": 6, "idle_connections": 2_000,
         "slow_connections": 200}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Redis:
    """A redis-server of the bench's own on a free loopback port, pinned to `cpu`."""

    def __init__(self, cpu: str | None):
        self.port = free_port()
        cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
               "--appendonly", "no", "--loglevel", "warning"]
        if cpu is not None:
            cmd = ["taskset", "-c", cpu, *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bench.children.append(self.proc)
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            if time.monotonic() > deadline:
                raise SystemExit("bench: redis-server did not start")
            time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> str:
        done = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True)
        return done.stdout.strip()

    def stop(self) -> None:
        bench.terminate(self.proc, timeout=5)
        bench.children.remove(self.proc)


def keeper(name: str, port: int, *args: str, cpu=SERVER_CPU, create_limit=False) -> Server:
    """keeper-server with `args`; without its per-address create limit unless `create_limit`
    (every load comes from 127.0.0.1)."""
    lift = [] if create_limit else KEEPER_NO_CREATE_LIMIT
    return Server(name, [KEEPER, "--addr", f"127.0.0.1:{port}", *lift, "--log", "warn", *args],
                  port, cpu=cpu)


# --------------------------------------------------------------------------------------------
# 1. Throughput: both stores beside the ceiling, and redis-benchmark for the same commands


def heartbeat_runs(servers: dict, cfg: dict) -> dict:
    ids = {}
    for name, server in servers.items():
        ids[name] = RAW / f"server-ids-{server.port}.txt"
        create_sessions(server.url, cfg["sessions"], ids[name], f"server-create-{server.port}")
        warm = wrk(server.url, "heartbeat.lua", [str(ids[name])], seconds=2, connections=32,
                   tag=f"server-warm-{server.port}")
        no_errors(warm, f"{name} warm-up")
    runs = {name: [] for name in servers}
    names = list(servers)
    for i in range(cfg["wrk_runs"]):
        for name in names[i % len(names):] + names[:i % len(names)]:
            server = servers[name]
            cpu_before = cpu_seconds(server.pid())
            result = wrk(server.url, "heartbeat.lua", [str(ids[name])], seconds=cfg["wrk_seconds"],
                         connections=32, latency=True, tag=f"server-hb-{server.port}-{i}")
            result["cpu_us_per_request"] = \
                (cpu_seconds(server.pid()) - cpu_before) * 1e6 / result["requests"]
            no_errors(result, name)
            runs[name].append(result)
            say(f"throughput: {name} run {i + 1}: {result['rate']:,.0f} heartbeats/s, "
                f"p99 {result['latency_us']['p99']} µs, "
                f"{result['cpu_us_per_request']:.1f} µs of server CPU per heartbeat")
    return {name: {"heartbeats_per_s": bench.summary([r["rate"] for r in rs]),
                   "p99_us": bench.summary([r["latency_us"]["p99"] for r in rs]),
                   "cpu_us_per_heartbeat": bench.summary([r["cpu_us_per_request"] for r in rs])}
            for name, rs in runs.items()}


def redis_benchmark(cfg: dict) -> dict:
    """redis-benchmark's own figures for the store's commands, Redis alone on core 0."""
    redis = Redis(SERVER_CPU)
    try:
        script = (ROOT / "www" / "src" / "store" / "redis.rs").read_text()
        heartbeat = re.search(r'const HEARTBEAT: &str = r"(.*?)";', script, re.S).group(1)
        sha = redis.cli("SCRIPT", "LOAD", heartbeat)
        key = "keeper:session:00000000-0000-4000-8000-000000000000"
        redis.cli("SET", key, "1700000000000||0|1000000000|", "PX", "1200000")
        now = str(int(time.time() * 1000))
        commands = {
            "create: SET NX PX": ["SET", "keeper:session:__rand_int__", "1700000000000||0|100|",
                                  "NX", "PX", "1200000"],
            "heartbeat: EVALSHA (the store's script)": [
                "EVALSHA", sha, "2", key, "keeper:events", now, "1200000", "1000000000",
                "1000000", "{}", "00000000-0000-4000-8000-000000000000"],
        }
        out = {}
        for name, command in commands.items():
            done = subprocess.run(
                ["taskset", "-c", LOAD_CPU, "redis-benchmark", "-p", str(redis.port), "-c", "32",
                 "-n", str(100_000 if cfg is QUICK else 400_000), "-r", "1000000", "--csv",
                 *command], capture_output=True, text=True, timeout=300)
            rows = [line for line in done.stdout.splitlines() if line and not line.startswith('"test"')]
            rate = float(rows[-1].split(",")[1].strip('"'))
            out[name] = rate
            say(f"redis-benchmark: {name}: {rate:,.0f} requests/s")
        return out
    finally:
        redis.stop()


def bench_throughput(cfg: dict) -> dict:
    say("\n== server 1. heartbeats per second: servers on core 0, wrk on core 1")
    port = free_port()
    servers = {"keeper-server, in-memory store": keeper("keeper-memory", port)}
    port = free_port()
    servers["ceiling (bare axum)"] = Server("ceiling", [bench.CEILING, "--addr", f"127.0.0.1:{port}"],
                                            port)
    memory = heartbeat_runs(servers, cfg)
    for server in servers.values():
        server.stop()
    # The Redis store: keeper-server on core 0, Redis on core 1 beside wrk.
    redis = Redis(LOAD_CPU)
    port = free_port()
    # A generous Redis timeout: on a busy machine a call can wait past the default 500 ms, and
    # its 503 would end the run.
    with_redis = {"keeper-server, Redis store": keeper(
        "keeper-redis", port, "--store", redis.url, "--redis-prefix", "bench:",
        "--redis-timeout", "5s")}
    redis_rows = heartbeat_runs(with_redis, cfg)
    with_redis["keeper-server, Redis store"].stop()
    redis.stop()
    rows = {**memory, **redis_rows}
    ours = rows["keeper-server, in-memory store"]["heartbeats_per_s"]["median"]
    ceiling = rows["ceiling (bare axum)"]["heartbeats_per_s"]["median"]
    # CPU time per heartbeat does not depend on what else runs on the machine; wall-clock rates do.
    cpu_ratio = (rows["ceiling (bare axum)"]["cpu_us_per_heartbeat"]["median"]
                 / rows["keeper-server, in-memory store"]["cpu_us_per_heartbeat"]["median"])
    say(f"throughput: in-memory / ceiling = {ours / ceiling:.2f} by heartbeats per second, "
        f"{cpu_ratio:.2f} by server CPU per heartbeat")
    return {"servers": rows, "ratio_memory_over_ceiling": ours / ceiling,
            "ratio_by_cpu_per_heartbeat": cpu_ratio,
            "redis_benchmark": redis_benchmark(cfg)}


# --------------------------------------------------------------------------------------------
# 2. Two instances behind one Redis: an end pushed across


def live_bench(*args: str, on_open=None) -> dict:
    proc = subprocess.Popen([str(LIVE_BENCH), *args], stdout=subprocess.PIPE, text=True)
    bench.children.append(proc)
    result = None
    for line in proc.stdout:
        if line.startswith("LIVE_OPEN ") and on_open:
            on_open(json.loads(line[len("LIVE_OPEN "):]))
        if line.startswith("LIVE_JSON "):
            result = json.loads(line[len("LIVE_JSON "):])
    proc.wait(timeout=600)
    bench.children.remove(proc)
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"bench: live_bench {' '.join(args)} failed ({proc.returncode})")
    return result


def bench_two_instances(cfg: dict) -> dict:
    say("\n== server 2. two instances behind one Redis: create on A, delete on B, A's socket told")
    redis = Redis(None)
    a = keeper("keeper-a", free_port(), "--store", redis.url, cpu=None)
    b = keeper("keeper-b", free_port(), "--store", redis.url, cpu=None)
    try:
        result = live_bench("latency", "--a", a.url, "--b", b.url,
                            "--rounds", str(cfg["latency_rounds"]))
    finally:
        a.stop()
        b.stop()
        redis.stop()
    ms = result["ms"]
    say(f"two instances: {result['rounds']} rounds, delete on B to 'ended' on A's socket: "
        f"p50 {ms['p50']:.2f} ms, p90 {ms['p90']:.2f} ms, max {ms['max']:.2f} ms")
    return result


# --------------------------------------------------------------------------------------------
# 3. Live sockets at scale


def bench_sockets(cfg: dict) -> dict:
    say(f"\n== server 3. idle live sockets: memory and ping CPU (--ws-ping-interval "
        f"{cfg['ping_interval_s']}s)")
    rows = {}
    # The server and the load generator each hold one descriptor per socket.
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for count in cfg["socket_counts"]:
        if count > files - 2_000:
            say(f"sockets: {count:,} skipped: the hard open-file limit here is {files:,} and this "
                "process may not raise it")
            rows[str(count)] = {"skipped": f"hard RLIMIT_NOFILE {files}"}
            count = files - 2_000
            if str(count) in rows:
                continue
        port = free_port()
        server = keeper(f"keeper-sockets-{count}", port, "--ws-ping-interval",
                        f"{cfg['ping_interval_s']}s", "--ws-max-sockets", str(count + 1000),
                        "--max-connections", str(count + 1000), cpu=SERVER_CPU)
        time.sleep(0.5)
        idle_rss = server.rss_bytes()
        sample = {}

        def measure(opened: dict) -> None:
            time.sleep(2)
            sample["rss"] = server.rss_bytes()
            started, cpu0 = time.monotonic(), cpu_seconds(server.pid())
            time.sleep(cfg["cpu_window_s"])
            sample["cpu_s"] = cpu_seconds(server.pid()) - cpu0
            sample["window_s"] = time.monotonic() - started
            sample["open_s"] = opened["open_s"]
            sample["failed"] = opened["failed"]

        hold = cfg["cpu_window_s"] + 4
        result = live_bench("sockets", "--url", server.url, "--count", str(count),
                            "--hold", f"{hold}s", on_open=measure)
        server.stop()
        opened = result["sockets"]
        pings_per_s = opened / cfg["ping_interval_s"]
        row = {
            "sockets": result["sockets"],
            "idle_rss_bytes": idle_rss,
            "rss_bytes": sample["rss"],
            "bytes_per_socket": (sample["rss"] - idle_rss) / opened,
            "cpu_percent": 100 * sample["cpu_s"] / sample["window_s"],
            "cpu_us_per_ping": 1e6 * sample["cpu_s"] / (pings_per_s * sample["window_s"]),
            "open_s": sample["open_s"],
            "failed_to_open": sample["failed"],
        }
        rows[str(count)] = row
        say(f"sockets: {count:,}: RSS {row['rss_bytes'] / 2**20:.1f} MiB, "
            f"{row['bytes_per_socket']:,.0f} B per socket, CPU {row['cpu_percent']:.2f}% of a core "
            f"({row['cpu_us_per_ping']:.1f} µs per ping, pings and pongs included)")
    return rows


# --------------------------------------------------------------------------------------------
# 4. The attacks, replayed


def open_many(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for n in range(count):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + n // 20000}", 0))
        s.connect(("127.0.0.1", port))
        sockets.append(s)
    return sockets


def still_open(sockets: list[socket.socket]) -> int:
    """How many the server still holds: nothing to read yet (a closed one reads EOF, an answer or
    an error)."""
    alive = 0
    for s in sockets:
        try:
            s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def bench_attacks(cfg: dict) -> dict:
    say("\n== server 4. the attacks, against the default limits")
    out = {}
    port = free_port()
    server = keeper("keeper-attacks", port, cpu=None, create_limit=True)
    idle_rss = server.rss_bytes()

    # Slowloris: a header line every 2 s, never the end of the head.
    slow = open_many(port, cfg["slow_connections"])
    for s in slow:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    started = time.monotonic()
    held = {}
    while time.monotonic() - started < 15:
        time.sleep(2)
        for n, s in enumerate(slow):
            try:
                s.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                pass
        held[round(time.monotonic() - started)] = still_open(slow)
    out["slowloris"] = {"connections": len(slow), "held_after_s": held}
    say(f"attacks: slowloris, {len(slow):,} connections sending a header line every 2 s: "
        f"still open by second {held}")
    for s in slow:
        s.close()

    # Idle connections: memory while held, and how long they are held.
    idle = open_many(port, cfg["idle_connections"])
    time.sleep(1)
    rss_held = server.rss_bytes()
    time.sleep(11)
    left = still_open(idle)
    out["idle"] = {"connections": len(idle), "rss_idle_bytes": idle_rss, "rss_held_bytes": rss_held,
                   "bytes_per_connection": (rss_held - idle_rss) / len(idle),
                   "open_after_12s": left}
    say(f"attacks: {len(idle):,} idle connections: RSS {rss_held / 2**20:.1f} MiB while held "
        f"({out['idle']['bytes_per_connection']:,.0f} B each), {left:,} still open after 12 s")
    for s in idle:
        s.close()

    # A create flood from one address, then a create from another.
    flood = wrk(server.url, "create.lua", ["1000000000", "-"], seconds=5, connections=32,
                tag="attack-create-flood")
    other = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
    other.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    answer = other.recv(100).decode(errors="replace")
    other.close()
    with open(RAW / "attack-metrics.txt", "w") as f:
        metrics = subprocess.run(["curl", "-s", f"{server.url}/metrics"], capture_output=True,
                                 text=True).stdout
        f.write(metrics)
    created = re.search(r"^keeper_sessions_created_total (\d+)", metrics, re.M)
    refused = re.search(r'^keeper_sessions_create_refused_total\{reason="rate_limited"\} (\d+)',
                        metrics, re.M)
    out["create_flood"] = {"seconds": 5, "requests": flood["requests"],
                           "created": int(created.group(1)) if created else None,
                           "refused_429": int(refused.group(1)) if refused else None,
                           "other_address": answer.split("\r\n")[0]}
    say(f"attacks: a 5 s create flood from one address: {flood['requests']:,} requests, "
        f"{out['create_flood']['created']} created, {out['create_flood']['refused_429']:,} "
        f"refused with 429; another address then: {out['create_flood']['other_address']}")
    server.stop()

    # SIGTERM with a stalled client: a partial head, then a stalled body.
    for what, payload in [("one byte of a request head", b"G"),
                          ("a body stalled after 1 of 100 bytes",
                           b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: "
                           b"application/json\r\nContent-Length: 100\r\n\r\n{")]:
        port = free_port()
        server = keeper("keeper-shutdown", port, cpu=None)
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(payload)
        time.sleep(0.3)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=60)
        took = time.monotonic() - started
        out.setdefault("shutdown", {})[what] = took
        say(f"attacks: SIGTERM with {what}: exited after {took:.2f} s (--shutdown-deadline 10s)")
        s.close()
        server.stop()

    # The demo's request log: 1,000 requests with 10 kB paths.
    port = free_port()
    server = keeper("keeper-demo-log", port, "--demo", cpu=None)
    long_path = "/api/v1/" + "p" * 10_000
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET {long_path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        while s.recv(65536):
            pass
        s.close()
    body = subprocess.run(["curl", "-s", f"{server.url}/api/v1/demo/requests"],
                          capture_output=True).stdout
    out["demo_log_bytes"] = len(body)
    say(f"attacks: GET /api/v1/demo/requests after 1,000 requests with 10 kB paths: "
        f"{len(body):,} B")
    server.stop()
    return out


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    RAW.mkdir(parents=True, exist_ok=True)
    # Sockets need descriptors: as root, lift the hard limit for this process and its children.
    want = max(cfg["socket_counts"]) * 2 + 20_000
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        say("server bench: could not raise the open-file limit; large socket counts may fail")
    started = time.time()
    results = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "quick": args.quick, "settings": cfg, "machine": machine(),
               "command": "python3 bench/server.py" + (" --quick" if args.quick else ""),
               "load_during_run": os.getloadavg()}
    results["throughput"] = bench_throughput(cfg)
    results["two_instances"] = bench_two_instances(cfg)
    results["sockets"] = bench_sockets(cfg)
    results["attacks"] = bench_attacks(cfg)
    results["runtime_s"] = time.time() - started
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    main_results = ROOT / "bench" / "results.json"
    if main_results.exists():
        report.write(json.loads(main_results.read_text()), ROOT / "BENCHMARKS.md",
                     ROOT / "bench" / "throughput.svg")
    say(f"server bench: {results['runtime_s']:.0f} s; wrote {RESULTS.relative_to(ROOT)} and "
        "BENCHMARKS.md")


if __name__ == "__main__":
    try:
        main()
    finally:
        bench.stop_children()
