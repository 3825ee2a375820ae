#!/usr/bin/env python3
"""Runs every benchmark of session-keeper, prints each figure as it is measured, and writes
bench/results.json, BENCHMARKS.md and bench/throughput.svg from the same data.

Run it through bench/run.sh, which installs and builds what it needs first:

    bench/run.sh            the full run (about 4 minutes after the builds)
    bench/run.sh --quick    a short smoke run: fewer events, rounds, seconds and sessions
    bench/run.sh --only size,activity,startup,tabs
                            only these sections (see SECTIONS); the others are kept from the
                            last bench/results.json, and BENCHMARKS.md says which run each
                            section comes from

Only the Python standard library is used here; the FastAPI peer runs in bench/.venv.
Raw outputs (server logs, wrk output, id files) go to bench/results/raw/, which git ignores.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import report
from report import (ACTIVITY_KEEPERS, ACTIVITY_LABELS, f_bytes, f_int, f_mib, f_ms, f_ns, f_ratio,
                    f_us, map_bytes_per_session)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RAW = BENCH / "results" / "raw"
PKG = ROOT / "pkg"
RELEASE = ROOT / "target" / "release"
KEEPER = RELEASE / "keeper-server"
CEILING = RELEASE / "examples" / "ceiling"
VENV_PYTHON = BENCH / ".venv" / "bin" / "python"
# Every load comes from 127.0.0.1: lift keeper-server's per-address create limit for it.
KEEPER_NO_CREATE_LIMIT = ["--create-burst", "1000000000", "--create-rate", "1000000000"]
SERVER_CPU = "0"  # taskset -c: the server under test
LOAD_CPU = "1"  # taskset -c: wrk

FULL = {
    "activity_events": 200_000,
    "activity_rounds": 9,
    "wrk_seconds": 10,
    "wrk_warmup_seconds": 3,
    "wrk_runs": 3,
    "wrk_connections": 32,
    "live_sessions": 10_000,
    "scale_sessions": [100_000, 1_000_000],
    "sweep_ttl_seconds": 20,
    "sweep_window_seconds": 3,
    "startup_loads": 15,
    "tabs_seconds": 30,
}
QUICK = {
    **FULL,
    "activity_events": 50_000,
    "activity_rounds": 3,
    "wrk_seconds": 3,
    "wrk_warmup_seconds": 1,
    "wrk_runs": 1,
    "scale_sessions": [10_000, 100_000],
    "sweep_ttl_seconds": 8,
    "sweep_window_seconds": 2,
    "startup_loads": 5,
    "tabs_seconds": 10,
}

children: list[subprocess.Popen] = []


def say(line: str = "") -> None:
    print(line, flush=True)


def run(cmd: list[str], **kwargs) -> str:
    """Runs a command to completion and returns its stdout; fails loudly with its output."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    except subprocess.TimeoutExpired as e:
        raise SystemExit(f"bench: {' '.join(map(str, cmd))} took over {e.timeout} s") from None
    if done.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(map(str, cmd))} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it has not ended within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_children() -> None:
    """Ends the processes this script started, by their own ids."""
    for child in children:
        terminate(child, timeout=10)
    children.clear()


atexit.register(stop_children)


class Server:
    """A server under test, started pinned to SERVER_CPU, its output in a raw log file."""

    def __init__(self, name: str, cmd: list[str], port: int, env: dict | None = None, cpu=SERVER_CPU):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = RAW / f"{name}-{port}.log"
        self.log = open(self.log_path, "w")
        full = ["taskset", "-c", cpu, *map(str, cmd)] if cpu is not None else list(map(str, cmd))
        self.proc = subprocess.Popen(
            full,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
        )
        children.append(self.proc)
        self.started = self.wait_listening()

    def wait_listening(self) -> float:
        """Waits until the port accepts connections; returns the monotonic time it did."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {self.name} exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.monotonic()
            except OSError:
                time.sleep(0.02)
        raise SystemExit(f"bench: {self.name} did not listen on {self.port}")

    def rss_bytes(self) -> int:
        return proc_rss(self.pid())

    def pid(self) -> int:
        """The server's own pid (taskset execs it, so it is the same process)."""
        return self.proc.pid

    def threads(self) -> list[str]:
        task = Path(f"/proc/{self.pid()}/task")
        return sorted((t / "comm").read_text().strip() for t in task.iterdir())

    def stop(self) -> None:
        terminate(self.proc, timeout=15)
        if self.proc in children:
            children.remove(self.proc)
        self.log.close()


def proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"bench: no VmRSS for {pid}")


def wrk(url: str, script: str, args: list[str], *, seconds: float, connections: int,
        latency: bool = False, tag: str = "wrk", timeout: float | None = None) -> dict:
    """Runs wrk pinned to LOAD_CPU with one of bench/lua's scripts; returns its WRK_JSON line,
    with the wall-clock window it ran in."""
    cmd = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "--timeout", "5s"]
    if latency:
        cmd.append("--latency")
    cmd += ["-s", str(BENCH / "lua" / script), url, "--", *args]
    began = time.time()
    out = run(cmd, timeout=timeout or seconds + 60)
    ended = time.time()
    (RAW / f"{tag}.txt").write_text(" ".join(cmd) + "\n" + out)
    line = next((l for l in out.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"bench: wrk printed no WRK_JSON line:\n{out}")
    data = json.loads(line[len("WRK_JSON "):])
    data["rate"] = data["requests"] / (data["duration_us"] / 1e6)
    data["window"] = [began, ended]
    return data


def create_sessions(url: str, count: int, ids: Path | None, tag: str) -> dict:
    # create.lua ends the run itself once `count` sessions exist; -d is only an upper bound.
    result = wrk(url, "create.lua", [str(count), str(ids) if ids else "-"],
                 seconds=3600, connections=64, tag=tag, timeout=120 + count / 2000)
    if ids is not None:
        got = len(ids.read_text().split())
        if got != count:
            raise SystemExit(f"bench: {tag}: wanted {count} ids, got {got}")
    return result


def no_errors(result: dict, what: str) -> None:
    bad = {k: v for k, v in result["errors"].items() if v}
    if bad:
        raise SystemExit(
            f"bench: {what}: wrk saw errors {bad} (status = non-2xx answers, e.g. 429 when a "
            "session's rate limit is spent); the figures would not be heartbeats"
        )


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def loadavg(section: str) -> list[float]:
    """The machine's load average (1, 5, 15 minutes) as a section starts, printed and recorded:
    other work on this shared machine moves the timings."""
    load = [round(x, 2) for x in os.getloadavg()]
    say(f"{section}: load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} at the start")
    return load


# --------------------------------------------------------------------------------------------
# The machine and the versions


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M).group(1))
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory_bytes": mem_kb * 1024,
        "kernel": platform.release(),
        "os": Path("/etc/debian_version").read_text().strip()
        if Path("/etc/debian_version").exists() else platform.platform(),
    }


def versions() -> dict:
    def first_line(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    def npm_version(name: str) -> str:
        return json.loads((BENCH / "node_modules" / name / "package.json").read_text())["version"]

    py = run([str(VENV_PYTHON), "-c", (
        "import json, platform, importlib.metadata as m;"
        "print(json.dumps({'python': platform.python_version(),"
        " **{p: m.version(p) for p in ['fastapi', 'starlette', 'pydantic', 'uvicorn', 'uvloop',"
        " 'httptools']}}))")])
    return {
        "rustc": first_line(["rustc", "--version"]),
        "node": first_line(["node", "--version"]),
        "wrk": first_line(["wrk", "-v"]).split(" [")[0],
        "wasm-bindgen": first_line(["wasm-bindgen", "--version"]),
        "wasm-opt": first_line(["wasm-opt", "--version"]),
        "gzip": first_line(["gzip", "--version"]),
        **json.loads(py),
        "npm": {n: npm_version(n) for n in
                ["react-idle-timer", "@ng-idle/core", "@ng-idle/keepalive", "playwright-core",
                 "terser"]},
    }


# --------------------------------------------------------------------------------------------
# 1. Size


def gzip_size(path: Path) -> int:
    """`gzip -9 -c FILE | wc -c`: the command scripts/size.sh runs."""
    return len(subprocess.run(["gzip", "-9", "-c", str(path)], capture_output=True,
                              check=True).stdout)


def measure_size(files: list[Path]) -> dict:
    """THE size function, for every package alike: each file as published, raw, `gzip -9` and
    brotli (quality 11, through bench/size.mjs), and the same after `terser -c -m` for JavaScript
    (a .wasm is already as small as its build makes it: its minified figures are its own); the
    files summed."""
    minified_dir = RAW / "minified"
    out = json.loads(run(["node", str(BENCH / "size.mjs"), str(minified_dir), *map(str, files)],
                         cwd=BENCH).strip().splitlines()[-1])
    rows = []
    for path in files:
        m = out[str(path)]
        row = {"file": str(path.relative_to(ROOT)), "raw": m["raw"], "gzip": gzip_size(path),
               "brotli": m["brotli"]}
        if "minified" in m:
            mini = Path(m["minified"]["path"])
            row["minified"] = {"raw": m["minified"]["raw"], "gzip": gzip_size(mini),
                               "brotli": m["minified"]["brotli"]}
        else:
            row["minified"] = {k: row[k] for k in ["raw", "gzip", "brotli"]}
        rows.append(row)
    total = {k: sum(r[k] for r in rows) for k in ["raw", "gzip", "brotli"]}
    total["minified"] = {k: sum(r["minified"][k] for r in rows) for k in ["raw", "gzip", "brotli"]}
    return {"files": rows, **total}


def npm_module_file(name: str) -> Path:
    """The ESM bundle a package publishes: its package.json `module` field."""
    folder = BENCH / "node_modules" / name
    return folder / json.loads((folder / "package.json").read_text())["module"]


def bench_size() -> dict:
    """Section 1: session-keeper's package beside react-idle-timer's and @ng-idle's bundles,
    checked against scripts/size.sh."""
    packages = {
        "session-keeper": [PKG / "session_keeper_bg.wasm", PKG / "session_keeper.js"],
        "react-idle-timer": [npm_module_file("react-idle-timer")],
        "@ng-idle/core + @ng-idle/keepalive": [npm_module_file("@ng-idle/core"),
                                               npm_module_file("@ng-idle/keepalive")],
    }
    result = {name: measure_size(files) for name, files in packages.items()}
    # The same figure as the size gate's script prints, or the two disagree on what they measure.
    gate = run(["scripts/size.sh", str(PKG)], cwd=ROOT)
    total = int(re.search(r"= (\d+) B gzipped", gate).group(1))
    if total != result["session-keeper"]["gzip"]:
        raise SystemExit(f"bench: scripts/size.sh says {total} B, this script "
                         f"{result['session-keeper']['gzip']} B")
    for name, r in result.items():
        say(f"size: {name}, as published: {f_bytes(r['raw'])} B raw, {f_bytes(r['gzip'])} B gzip -9, "
            f"{f_bytes(r['brotli'])} B brotli")
        for f in r["files"]:
            mini = f["minified"]
            say(f"size:   {Path(f['file']).name}: {f_bytes(f['raw'])} / {f_bytes(f['gzip'])} / "
                f"{f_bytes(f['brotli'])} B; minified {f_bytes(mini['raw'])} / {f_bytes(mini['gzip'])} / "
                f"{f_bytes(mini['brotli'])} B (raw / gzip / brotli)")
        mini = r["minified"]
        say(f"size: {name}, JavaScript minified by terser -c -m: {f_bytes(mini['raw'])} B raw, "
            f"{f_bytes(mini['gzip'])} B gzip -9, {f_bytes(mini['brotli'])} B brotli")
    ours = result["session-keeper"]
    for name in ["react-idle-timer", "@ng-idle/core + @ng-idle/keepalive"]:
        other = result[name]
        say(f"size: session-keeper / {name} = {f_ratio(ours['gzip'] / other['gzip'])}x gzip, "
            f"{f_ratio(ours['brotli'] / other['brotli'])}x brotli as published; "
            f"{f_ratio(ours['minified']['gzip'] / other['minified']['gzip'])}x gzip minified")
    return {"packages": result, "size_sh": gate.strip()}


# --------------------------------------------------------------------------------------------
# 2. Activity-event cost


# The release's goal: the keeper's cost per event, in every role, at most this times
# react-idle-timer's (what the previous release measured for a keeper alone).
ACTIVITY_GOAL = 0.64


def bench_activity(cfg: dict) -> dict:
    """Section 2: the cost of one activity event over no listener, for the keeper alone, as the
    leader and as a follower of a session open in another browsing context, beside
    react-idle-timer and a plain JavaScript listener (bench/activity/run.mjs)."""
    port = free_port()
    server = Server("activity-keeper-server",
                    [KEEPER, "--addr", f"127.0.0.1:{port}", "--static-dir", BENCH,
                     "--pkg-dir", PKG], port, cpu=None)
    try:
        out = run(["node", str(BENCH / "activity" / "run.mjs"),
                   f"{server.url}/activity/index.html", str(cfg["activity_events"]),
                   str(cfg["activity_rounds"])], cwd=BENCH)
    finally:
        server.stop()
    data = json.loads(out.strip().splitlines()[-1])
    (RAW / "activity.json").write_text(json.dumps(data, indent=2))
    events = data["events"]
    rounds = data["rounds"]
    per_event = {kind: summary([(r["ms"][kind] - r["ms"]["none"]) * 1e6 / events for r in rounds])
                 for kind in ACTIVITY_LABELS}
    baseline = summary([r["ms"]["none"] * 1e6 / events for r in rounds])
    rit = per_event["react-idle-timer"]["median"]
    ratios = {}
    for kind in ACTIVITY_KEEPERS:
        per_round = [(r["ms"][kind] - r["ms"]["none"]) / (r["ms"]["react-idle-timer"] - r["ms"]["none"])
                     for r in rounds]
        ratios[kind] = {"of_medians": per_event[kind]["median"] / rit,
                        "per_round": summary(per_round)}
    result = {
        "events": events,
        "rounds": len(rounds),
        "chromium": data["chromium"],
        "baseline_ns": baseline,
        "over_baseline_ns": per_event,
        "ratios_over_react_idle_timer": ratios,
        "goal_ratio": ACTIVITY_GOAL,
        "listeners_attached": data["listenersAttached"],
        "raw_rounds": rounds,
    }
    say(f"activity: Chromium {data['chromium']}, {f_int(events)} events per run "
        f"(mousemove and keydown alternating), {len(rounds)} rounds")
    say(f"activity: (a) no listener: {f_ns(baseline['median'])} ns per dispatch "
        f"(range {f_ns(baseline['min'])}-{f_ns(baseline['max'])})")
    for kind, label in ACTIVITY_LABELS.items():
        s = per_event[kind]
        say(f"activity: {label}: +{f_ns(s['median'])} ns per event over (a) "
            f"(range {f_ns(s['min'])}-{f_ns(s['max'])})")
    for kind in ACTIVITY_KEEPERS:
        r = ratios[kind]
        say(f"activity: {ACTIVITY_LABELS[kind]} / react-idle-timer = {f_ratio(r['of_medians'])} "
            f"(per-round range {f_ratio(r['per_round']['min'])}-{f_ratio(r['per_round']['max'])}; "
            f"goal: at or under {f_ratio(result['goal_ratio'])}: "
            f"{'met' if r['of_medians'] <= result['goal_ratio'] else 'missed'})")
    return result


# --------------------------------------------------------------------------------------------
# 3. From init() to the first heartbeat


STARTUP_FIGURES = ["init_ms", "init_to_fetch_ms", "init_to_received_ms", "init_to_answered_ms",
                   "construct_ms", "start_to_fetch_ms", "wasm_fetch_after_ms", "import_ms"]


def bench_startup(cfg: dict) -> dict:
    """Section 3: from init() to the first heartbeat in cold page loads of Chromium, crossTab on
    and off (bench/startup/run.mjs), against a keeper-server whose request log (--demo) gives
    the time each heartbeat arrived."""
    port = free_port()
    server = Server("startup-keeper-server",
                    [KEEPER, "--addr", f"127.0.0.1:{port}", "--static-dir", BENCH, "--pkg-dir", PKG,
                     "--demo", *KEEPER_NO_CREATE_LIMIT], port, cpu=None)
    try:
        out = run(["node", str(BENCH / "startup" / "run.mjs"), f"{server.url}/",
                   str(cfg["startup_loads"])], cwd=BENCH, timeout=600)
    finally:
        server.stop()
    data = json.loads(out.strip().splitlines()[-1])
    (RAW / "startup.json").write_text(json.dumps(data, indent=2))
    variants = {}
    for run_ in data["runs"]:
        variants.setdefault(run_["variant"], []).append(run_)
    result = {"loads": data["loads"], "chromium": data["chromium"], "variants": {}}
    for name, runs in variants.items():
        figures = {k: summary([r[k] for r in runs]) for k in STARTUP_FIGURES}
        result["variants"][name] = figures
        say(f"startup: {name}: init() {f_ms(figures['init_ms']['median'])} ms; init() to the "
            f"heartbeat's fetch {f_ms(figures['init_to_fetch_ms']['median'])} ms (range "
            f"{f_ms(figures['init_to_fetch_ms']['min'])}-{f_ms(figures['init_to_fetch_ms']['max'])}), "
            f"to the server's receipt {f_ms(figures['init_to_received_ms']['median'])} ms, to its "
            f"answer {f_ms(figures['init_to_answered_ms']['median'])} ms "
            f"(medians of {len(runs)} cold loads)")
    return result


# --------------------------------------------------------------------------------------------
# 4. Throughput


def tokio_workers(server: Server) -> int:
    return sum(1 for t in server.threads() if t.startswith("tokio-rt-worker"))


def bench_throughput(cfg: dict) -> dict:
    """Section 4: heartbeats per second and their latency for keeper-server, FastAPI + uvicorn
    and the bare axum ceiling, each on one core with wrk on the other."""
    # Tokio sizes its worker pool from the CPU affinity mask: check it, pinned and not.
    port = free_port()
    unpinned = Server("keeper-server-unpinned", [KEEPER, "--addr", f"127.0.0.1:{port}"], port,
                      cpu=None)
    workers_unpinned = tokio_workers(unpinned)
    unpinned.stop()

    servers = {}
    port = free_port()
    servers["keeper-server"] = Server(
        "keeper-server", [KEEPER, "--addr", f"127.0.0.1:{port}", *KEEPER_NO_CREATE_LIMIT], port)
    port = free_port()
    servers["FastAPI + uvicorn"] = Server(
        "fastapi", [VENV_PYTHON, BENCH / "peers" / "fastapi_server.py", "--port", port], port)
    port = free_port()
    servers["ceiling (bare axum)"] = Server("ceiling", [CEILING, "--addr", f"127.0.0.1:{port}"], port)
    workers_pinned = tokio_workers(servers["keeper-server"])
    say(f"throughput: tokio worker threads of keeper-server: {workers_pinned} under "
        f"taskset -c {SERVER_CPU}, {workers_unpinned} unpinned on {os.cpu_count()} cores")
    threads = {name: len(s.threads()) for name, s in servers.items()}

    creates = {}
    ids = {}
    for name, server in servers.items():
        ids[name] = RAW / f"ids-{server.port}.txt"
        created = create_sessions(server.url, cfg["live_sessions"], ids[name], f"create-{server.port}")
        creates[name] = created["rate"]
        say(f"throughput: {name}: {f_int(cfg['live_sessions'])} live sessions created "
            f"({f_int(created['rate'])} creates/s)")

    common = dict(seconds=cfg["wrk_seconds"], connections=cfg["wrk_connections"], latency=True)
    for name, server in servers.items():
        warm = wrk(server.url, "heartbeat.lua", [str(ids[name])], seconds=cfg["wrk_warmup_seconds"],
                   connections=cfg["wrk_connections"], tag=f"warmup-{server.port}")
        no_errors(warm, f"{name} warm-up")

    runs = {name: [] for name in servers}
    names = list(servers)
    for i in range(cfg["wrk_runs"]):
        order = names[i % len(names):] + names[:i % len(names)]  # rotate, so none always leads
        for name in order:
            server = servers[name]
            result = wrk(server.url, "heartbeat.lua", [str(ids[name])], **common,
                         tag=f"heartbeat-{server.port}-{i}")
            no_errors(result, name)
            runs[name].append(result)
            say(f"throughput: {name} run {i + 1}/{cfg['wrk_runs']}: {f_int(result['rate'])} "
                f"heartbeats/s, p50 {f_us(result['latency_us']['p50'])}, "
                f"p99 {f_us(result['latency_us']['p99'])}")
    rss = {name: s.rss_bytes() for name, s in servers.items()}
    for server in servers.values():
        server.stop()

    table = {}
    for name in servers:
        table[name] = {
            "heartbeats_per_s": summary([r["rate"] for r in runs[name]]),
            "p50_us": summary([r["latency_us"]["p50"] for r in runs[name]]),
            "p99_us": summary([r["latency_us"]["p99"] for r in runs[name]]),
            "p999_us": summary([r["latency_us"]["p999"] for r in runs[name]]),
            "max_us": summary([r["latency_us"]["max"] for r in runs[name]]),
            "creates_per_s": creates[name],
            "rss_bytes_after": rss[name],
            "threads": threads[name],
            "runs": runs[name],
        }
    ours = table["keeper-server"]["heartbeats_per_s"]["median"]
    result = {
        "servers": table,
        "ratio_ours_over_fastapi": ours / table["FastAPI + uvicorn"]["heartbeats_per_s"]["median"],
        "ratio_ours_over_ceiling": ours / table["ceiling (bare axum)"]["heartbeats_per_s"]["median"],
        "tokio_workers": {"pinned": workers_pinned, "unpinned": workers_unpinned},
        "settings": {**{k: cfg[k] for k in ["wrk_seconds", "wrk_warmup_seconds", "wrk_runs",
                                             "wrk_connections", "live_sessions"]},
                     "server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU},
    }
    for name, row in table.items():
        h, p50, p99 = row["heartbeats_per_s"], row["p50_us"], row["p99_us"]
        say(f"throughput: {name}: median {f_int(h['median'])} heartbeats/s "
            f"(range {f_int(h['min'])}-{f_int(h['max'])}), p50 {f_us(p50['median'])}, "
            f"p99 {f_us(p99['median'])} (range {f_us(p99['min'])}-{f_us(p99['max'])})")
    say(f"throughput: keeper-server / FastAPI = {f_ratio(result['ratio_ours_over_fastapi'])}x, "
        f"keeper-server / ceiling = {f_ratio(result['ratio_ours_over_ceiling'])}")
    return result


# --------------------------------------------------------------------------------------------
# 5. Scale: memory per session, a sweep of a million, heartbeats during it

SWEPT = re.compile(r"^(\S+)\s+INFO .*swept (\d+) sessions in .*\bms=([\d.]+)")


def sweeps_in(log: Path) -> list[dict]:
    found = []
    for line in log.read_text().splitlines():
        m = SWEPT.search(line)
        if m:
            at = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
            found.append({"at": at, "removed": int(m.group(2)), "ms": float(m.group(3))})
    return found


def sleep_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))


def scale_run(cfg: dict, create_rate: float, under_load: bool) -> dict:
    """One keeper-server: creates the sessions (reading VmRSS on the way), lets them all expire
    before the first sweep, and, if `under_load`, heartbeats a separate set of live sessions in
    a window before the sweep (baseline) and in one spanning it."""
    counts = cfg["scale_sessions"]
    total = counts[-1]
    ttl = cfg["sweep_ttl_seconds"]
    window = cfg["sweep_window_seconds"]
    # The first sweep must come after the last of `total` sessions has expired, and nothing
    # may expire before the sessions are all created and measured: plan from the creation rate
    # measured in section 4, with half again as much time for safety.
    create_s = total / create_rate * 1.5 + 2
    # Under load, the live set, the warm-up and both windows (2 * window + 6 s) come after the
    # sessions have expired and end at the sweep.
    interval = math.ceil(create_s + ttl + (2 * window + 6 if under_load else 3))
    port = free_port()
    tag = "sweep-load" if under_load else "sweep-idle"
    server = Server(f"keeper-server-{tag}",
                    [KEEPER, "--addr", f"127.0.0.1:{port}", *KEEPER_NO_CREATE_LIMIT, "--ttl", f"{ttl}s",
                     "--sweep-interval", f"{interval}s"], port)
    # The sweeper's interval starts when the server starts; the sweep falls `interval` later.
    sweep_at = server.started + interval
    time.sleep(0.5)
    rss = {"0": server.rss_bytes()}
    made = 0
    began = time.monotonic()
    for count in counts:
        create_sessions(server.url, count - made, None, f"{tag}-create-{count}")
        made = count
        rss[str(count)] = server.rss_bytes()
    created_in = time.monotonic() - began
    if time.monotonic() > server.started + ttl:
        say(f"scale: warning: creating took {created_in:.1f} s, longer than the TTL: some sessions "
            "expired (unswept, still in memory) before the last RSS reading")
    result = {"ttl_s": ttl, "sweep_interval_s": interval, "sessions": total,
              "create_seconds": created_in, "rss_bytes": rss}
    if under_load:
        # Back to back, with no idle gap in between (an idle server starts slow): a warm-up, a
        # baseline window with the expired sessions still in memory, and a window whose middle
        # third holds the sweep.
        ids = RAW / f"ids-{port}.txt"
        common = dict(seconds=window, connections=cfg["wrk_connections"], latency=True)
        during_at = sweep_at - window / 3
        baseline_at = during_at - window - 0.3
        warmup_at = baseline_at - 2 - 0.3
        sleep_until(warmup_at - 1)
        create_sessions(server.url, cfg["live_sessions"], ids, f"{tag}-live")
        sleep_until(warmup_at)
        warm = wrk(server.url, "heartbeat.lua", [str(ids)], seconds=2,
                   connections=cfg["wrk_connections"], tag=f"{tag}-warmup")
        sleep_until(baseline_at)
        baseline = wrk(server.url, "heartbeat.lua", [str(ids)], **common, tag=f"{tag}-baseline")
        sleep_until(during_at)
        during = wrk(server.url, "heartbeat.lua", [str(ids)], **common, tag=f"{tag}-during")
        no_errors(warm, "heartbeat warm-up before the sweep")
        no_errors(baseline, "heartbeats before the sweep")
        no_errors(during, "heartbeats during the sweep")
        result["baseline"] = baseline
        result["during"] = during
    else:
        sleep_until(sweep_at + 1)
    deadline = time.monotonic() + 30
    while not sweeps_in(server.log_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    result["rss_bytes"]["after_sweep"] = server.rss_bytes()
    server.stop()
    sweeps = sweeps_in(server.log_path)
    if not sweeps:
        raise SystemExit(f"bench: no sweep line in {server.log_path}")
    result["sweep"] = sweeps[0]
    if sweeps[0]["removed"] != total:
        say(f"scale: warning: the first sweep removed {f_int(sweeps[0]['removed'])} sessions, "
            f"not {f_int(total)}: creation was slower than planned")
    if under_load:
        start, end = result["during"]["window"]
        swept_from = sweeps[0]["at"] - sweeps[0]["ms"] / 1000
        result["sweep_inside_window"] = start <= swept_from and sweeps[0]["at"] <= end
        if not result["sweep_inside_window"]:
            say("scale: warning: the sweep did not fall inside the heartbeat window")
    return result


def bench_scale(cfg: dict, create_rate: float) -> dict:
    """Section 5: memory per live session, one sweep of all of them idle and under heartbeat
    load, and the heartbeats' latency around it."""
    counts = cfg["scale_sessions"]
    idle = scale_run(cfg, create_rate, under_load=False)
    rss = idle["rss_bytes"]
    per_session = {str(n): (rss[str(n)] - rss["0"]) / n for n in counts}
    say(f"scale: keeper-server VmRSS idle {f_bytes(rss['0'])} B ({f_mib(rss['0'])})")
    for n in counts:
        say(f"scale: VmRSS with {f_int(n)} live sessions: {f_bytes(rss[str(n)])} B "
            f"({f_mib(rss[str(n)])}), {f_bytes(rss[str(n)] - rss['0'])} B over idle, "
            f"{f_int(per_session[str(n)])} B per session")
    say(f"scale: by the store's layout, its hash maps alone take "
        f"{f_int(map_bytes_per_session(counts[-1]))} B per session at {f_int(counts[-1])}")
    say(f"scale: VmRSS after the sweep: {f_bytes(rss['after_sweep'])} B ({f_mib(rss['after_sweep'])})")
    say(f"scale: one sweep of {f_int(idle['sweep']['removed'])} expired sessions, no load: "
        f"{f_ms(idle['sweep']['ms'])} ms")
    loaded = scale_run(cfg, create_rate, under_load=True)
    b, d = loaded["baseline"], loaded["during"]
    say(f"scale: one sweep of {f_int(loaded['sweep']['removed'])} expired sessions under heartbeat "
        f"load: {f_ms(loaded['sweep']['ms'])} ms")
    for label, r in [("before the sweep", b), ("spanning the sweep", d)]:
        lat = r["latency_us"]
        say(f"scale: heartbeats {label} ({cfg['sweep_window_seconds']} s): {f_int(r['rate'])}/s, "
            f"p50 {f_us(lat['p50'])}, p99 {f_us(lat['p99'])}, p99.9 {f_us(lat['p999'])}, "
            f"max {f_us(lat['max'])}")
    return {"idle_run": idle, "load_run": loaded, "bytes_per_session": per_session}


# --------------------------------------------------------------------------------------------
# 6. Economy


def bench_economy() -> dict:
    """Section 6: requests per hour from the native core's simulation (examples/economy.rs),
    one tab in four situations and 1, 2, 4 and 8 tabs of one session."""
    out = run(["cargo", "run", "--quiet", "--release", "--example", "economy", "--", "--json"],
              cwd=ROOT)
    data = json.loads(out.strip().splitlines()[-1])
    for row in data["rows"]:
        extra = "" if row["during_outage"] is None else f" ({row['during_outage']} during the outage)"
        say(f"economy: {row['name']}: {row['requests_per_hour']} requests per hour{extra}")
    return data


# --------------------------------------------------------------------------------------------
# 7. Several tabs of one session: the simulation beside real Chromium tabs


# The release's goal: 4 tabs of one session cost the server at most this times one tab.
TABS_GOAL = 1.1


def bench_tabs(cfg: dict, economy: dict) -> dict:
    """Section 7: requests per hour for 1, 2, 4 and 8 tabs of one session, the simulation's
    figures (from section 6) beside real Chromium tabs at scaled timings (bench/tabs/run.mjs)."""
    for row in economy["tabs"]:
        say(f"tabs: simulation, {row['tabs']} tab(s): idle {row['idle']}/h "
            f"({f_ratio(row['idle_ratio'])}x one tab), active {row['active']}/h "
            f"({f_ratio(row['active_ratio'])}x one tab)")
    out = run(["node", str(BENCH / "tabs" / "run.mjs"), "--server", str(KEEPER),
               "--seconds", str(cfg["tabs_seconds"])], cwd=BENCH, timeout=600)
    browser = json.loads(out.strip().splitlines()[-1])
    (RAW / "tabs.json").write_text(json.dumps(browser, indent=2))
    rows = []
    for sim in economy["tabs"]:
        n = sim["tabs"]
        real = {r["user"]: r for r in browser["runs"] if r["tabs"] == n}
        rows.append({"tabs": n, "simulation": sim,
                     "browser": {user: real[user] for user in ["idle", "active"]}})
        for user in ["idle", "active"]:
            r = real[user]
            say(f"tabs: Chromium, {n} tab(s), user {user}: {r['requests']} requests in "
                f"{cfg['tabs_seconds']} s = {r['per_hour_real']}/h at the real timings "
                f"({f_ratio(r['ratio'])}x one tab), leaders seen {r['leaders']}")
    four = next(r for r in rows if r["tabs"] == 4)
    say(f"tabs: 4 tabs / 1 tab: simulation idle {f_ratio(four['simulation']['idle_ratio'])}x, "
        f"active {f_ratio(four['simulation']['active_ratio'])}x; Chromium idle "
        f"{f_ratio(four['browser']['idle']['ratio'])}x, active "
        f"{f_ratio(four['browser']['active']['ratio'])}x (goal: at most {f_ratio(TABS_GOAL)}x: "
        f"{report.tabs_verdict({'rows': rows, 'goal_ratio': TABS_GOAL}).replace('*', '')})")
    return {"rows": rows, "timings": browser["timings"], "chromium": browser["chromium"],
            "goal_ratio": TABS_GOAL}


# --------------------------------------------------------------------------------------------


# The sections in the order they run and appear in BENCHMARKS.md, with the heading each prints.
SECTIONS = {
    "size": "1. size: what a page downloads, as published and minified",
    "activity": "2. activity-event cost in headless Chromium (one page load)",
    "startup": "3. startup: from init() to the first heartbeat, cold page loads in Chromium",
    "throughput": "4. heartbeat throughput on loopback: servers on core 0, wrk on core 1",
    "scale": "5. scale: memory per session, a sweep of a million, heartbeats during it",
    "economy": "6. economy: requests per hour from the native core's simulation",
    "tabs": "7. tabs: requests per hour for 1, 2, 4 and 8 tabs of one session",
}
# The shape of results.json. 2: sizes with brotli and minified figures, the keeper's activity
# cost alone, as leader and as follower, the startup and tabs sections, `runs` per section.
FORMAT = 2
# The sections whose data has kept its shape since format 1 (results.json without "format"), so
# a partial run may carry them over from an older file.
SAME_SINCE_FORMAT_1 = {"throughput", "scale", "economy"}


def parse_only(text: str | None) -> list[str]:
    """The sections `--only` names, in their running order. `tabs` brings `economy` along: the
    tabs table sets the simulation beside the browser, and the simulation takes a second."""
    if text is None:
        return list(SECTIONS)
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = names - set(SECTIONS)
    if unknown or not names:
        raise SystemExit(f"bench: --only takes a comma-separated list of {', '.join(SECTIONS)}; "
                         f"not {', '.join(sorted(unknown)) or 'an empty list'}")
    if "tabs" in names:
        names.add("economy")
    return [n for n in SECTIONS if n in names]


def previous_results(selected: list[str]) -> dict:
    """For a partial run: the last bench/results.json, whose other sections this run keeps.
    Every section must come from somewhere, and one carried over from an older format must
    still have the shape report.py reads."""
    path = BENCH / "results.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    carried = [n for n in SECTIONS if n not in selected]
    missing = [n for n in carried if n not in old]
    if missing:
        raise SystemExit(f"bench: --only: bench/results.json has no {', '.join(missing)} to keep; "
                         "run those sections too (or everything, without --only)")
    if old.get("format", 1) < FORMAT:
        stale = [n for n in carried if n not in SAME_SINCE_FORMAT_1]
        if stale:
            raise SystemExit(f"bench: --only: bench/results.json is of an older format; its "
                             f"{', '.join(stale)} cannot be carried over: measure them too")
        # Sections of a file without `runs` were all measured in its one run.
        old["runs"] = {n: {"at": old["generated_at"], "quick": old["quick"],
                           "settings": old["settings"], "load": None} for n in carried}
    return old


def run_section(name: str, cfg: dict, results: dict) -> dict:
    """Prints the section's heading and the load average, measures it, and records when, how
    (quick or not, the settings) and under what load it ran in results["runs"]."""
    say(f"\n== {SECTIONS[name]}")
    entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "quick": cfg is QUICK, "settings": cfg, "load": loadavg(name)}
    began = time.time()
    if name == "size":
        data = bench_size()
    elif name == "activity":
        data = bench_activity(cfg)
    elif name == "startup":
        data = bench_startup(cfg)
    elif name == "throughput":
        data = bench_throughput(cfg)
    elif name == "scale":
        # The sweep is planned from the creation rate of the throughput section, this run's or
        # the one kept from the last.
        data = bench_scale(cfg, results["throughput"]["servers"]["keeper-server"]["creates_per_s"])
    elif name == "economy":
        data = bench_economy()
    elif name == "tabs":
        data = bench_tabs(cfg, results["economy"])
    entry["seconds"] = round(time.time() - began, 1)
    results["runs"][name] = entry
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", metavar="SECTIONS",
                        help="measure only these sections, comma-separated, of "
                             + ", ".join(SECTIONS) + "; the others are kept from the last "
                             "bench/results.json and BENCHMARKS.md says which run each is from")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    selected = parse_only(args.only)
    partial = len(selected) < len(SECTIONS)
    RAW.mkdir(parents=True, exist_ok=True)
    started = time.time()
    command_started = float(os.environ.get("BENCH_STARTED", started))

    info = {"machine": machine(), "versions": versions()}
    m = info["machine"]
    say(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_bytes'] / 2**30:.1f} GiB memory, "
        f"Linux {m['kernel']}, Debian {m['os']}")
    say("versions: " + ", ".join(v if str(v).lower().startswith(k) else f"{k} {v}"
                                 for k, v in info["versions"].items() if k != "npm")
        + ", " + ", ".join(f"{k} {v}" for k, v in info["versions"]["npm"].items()))
    if partial:
        say(f"bench: measuring only {', '.join(selected)}; the other sections are kept from "
            "bench/results.json")

    results = previous_results(selected) if partial else {}
    results.update({
        "format": FORMAT,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "settings": cfg,
        "measured": selected,
        **info,
    })
    results.setdefault("runs", {})
    for name in selected:
        results[name] = run_section(name, cfg, results)
    results["runtime_s"] = {"measures": time.time() - started,
                            "command": time.time() - command_started}
    say(f"\nbench: measures took {results['runtime_s']['measures']:.0f} s; the whole command "
        f"{results['runtime_s']['command']:.0f} s (setup and builds included)")

    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write(results, ROOT / "BENCHMARKS.md", BENCH / "throughput.svg")
    say("bench: wrote bench/results.json, BENCHMARKS.md and bench/throughput.svg")


if __name__ == "__main__":
    main()
