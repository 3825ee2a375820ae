"""Renders the reference server's section of BENCHMARKS.md from bench/server-results.json
(written by bench/server.py); bench/report.py appends it to the page."""

from __future__ import annotations


def n(value: float) -> str:
    return f"{value:,.0f}"


def mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def goal_reading(t: dict) -> str:
    """Whether the in-memory store reached 0.8x the ceiling, in words."""
    ratio = t["ratio_memory_over_ceiling"]
    if ratio >= 0.8:
        return "this run **meets** it."
    return (f"this run **misses** it ({ratio:.2f}). Counted in instructions rather than timed "
            "(`www/examples/count_instructions.sh`, callgrind; the README has the last count), "
            "body reading with its timeout, the inner router, allocation and the CORS layer are "
            "where the rest goes.")


def markdown(r: dict) -> str:
    t = r["throughput"]
    rows = t["servers"]
    m = r["machine"]
    quick = " (a `--quick` smoke run: do not commit)" if r.get("quick") else ""
    out = [
        "",
        "## 8. The reference server: both stores, the live channel, the limits",
        "",
        f"> Measured by `{r['command']}` on {r['generated_at']}{quick}, in {r['runtime_s']:.0f} s, "
        f"on the machine above ({m['cpu']}, {m['cores']} cores). Load average when it started: "
        f"{', '.join(f'{x:.2f}' for x in r['load_during_run'])} (the 1-minute figure still counts "
        "the section before; absolute rates move between runs on a shared machine, the ratios "
        "within one run are what to read). Raw outputs in `bench/results/raw/`. Everything runs on loopback.",
        "",
        "### Heartbeats per second on one core",
        "",
        "keeper-server and the ceiling (`www/examples/ceiling.rs`) under `taskset -c 0`, wrk "
        f"under `taskset -c 1` (`wrk -t1 -c32 -d{r['settings']['wrk_seconds']}s`, "
        f"{r['settings']['wrk_runs']} interleaved runs over {n(r['settings']['sessions'])} live "
        "sessions, after a warm-up). With the Redis store, redis-server runs on core 1 beside wrk.",
        "",
        "| server | heartbeats/s, median | range | p99, median | server CPU per heartbeat, median |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        h = row["heartbeats_per_s"]
        out.append(f"| {name} | **{n(h['median'])}** | {n(h['min'])} – {n(h['max'])} | "
                   f"{row['p99_us']['median'] / 1000:.2f} ms | "
                   f"{row['cpu_us_per_heartbeat']['median']:.1f} µs |")
    out += [
        "",
        f"**In-memory store / ceiling = {t['ratio_memory_over_ceiling']:.2f} by heartbeats per "
        f"second, {t['ratio_by_cpu_per_heartbeat']:.2f} by server CPU time per heartbeat** (user + "
        "system time of the server process over the run, from `/proc/PID/stat`, divided by the "
        "heartbeats it answered: it moves far less than the rate with what else the machine "
        f"runs). The goal is 0.8: {goal_reading(t)} Section 4 measures the same two servers "
        "with its own wrk script; compare rows of the same table only.",
        "",
        "redis-benchmark's own figure for the same commands on this machine (redis-server alone on "
        "core 0, `redis-benchmark -c 32` on core 1):",
        "",
        "| command | requests/s |",
        "| --- | ---: |",
    ]
    for name, rate in t["redis_benchmark"].items():
        out.append(f"| {name} | {n(rate)} |")
    two = r["two_instances"]
    out += [
        "",
        "### Two instances behind one Redis",
        "",
        "`live_bench latency` (`www/examples/live_bench.rs`): a session is created on A and its "
        "live socket opened on A; then it is deleted on B, and the time from sending the delete "
        "to A's socket receiving `{\"type\":\"ended\",\"reason\":\"deleted\"}` is measured, "
        f"{two['rounds']} times.",
        "",
        "| p50 | p90 | max |",
        "| ---: | ---: | ---: |",
        f"| {two['ms']['p50']:.2f} ms | {two['ms']['p90']:.2f} ms | {two['ms']['max']:.2f} ms |",
        "",
        "### Idle live sockets at scale",
        "",
        "`live_bench sockets`: one session and one idle live socket per simulated leader tab, held "
        "open while the server pings each every "
        f"{r['settings']['ping_interval_s']} s (`--ws-ping-interval`; the default is 30 s, so at "
        "the default the ping CPU is a sixth of this). Memory is the server's VmRSS over its idle "
        f"figure; CPU is its user+system time over {r['settings']['cpu_window_s']} s.",
        "",
        "| sockets | server VmRSS | per socket | server CPU | per ping |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for count, row in r["sockets"].items():
        if "skipped" in row:
            out.append(f"| {n(int(count))} | not measured: {row['skipped']} (the container may not "
                       "raise it) | | | |")
            continue
        failed = row.get("failed_to_open", 0)
        note = f" ({n(row['sockets'])} opened, {failed} handshakes failed)" if failed else ""
        out.append(f"| {n(int(count))}{note} | {mib(row['rss_bytes'])} | "
                   f"{n(row['bytes_per_socket'])} B | {row['cpu_percent']:.2f}% of a core | "
                   f"{row['cpu_us_per_ping']:.1f} µs |")
    a = r["attacks"]
    held = ", ".join(f"{k} s: {v}" for k, v in a["slowloris"]["held_after_s"].items())
    idle = a["idle"]
    flood = a["create_flood"]
    shutdown = a["shutdown"]
    out += [
        "",
        "### Attacks, replayed against the default limits",
        "",
        "| attack | before these limits | now |",
        "| --- | --- | --- |",
        f"| {n(a['slowloris']['connections'])} connections sending a header line every 2 s | never "
        f"closed | still open, by second: {held} (`--header-read-timeout 10s`) |",
        f"| {n(idle['connections'])} idle connections | held forever, 204 MB for 10,000 | "
        f"{mib(idle['rss_held_bytes'])} while held ({n(idle['bytes_per_connection'])} B each), "
        f"{n(idle['open_after_12s'])} still open after 12 s |",
        f"| a 5 s create flood from one address | fills `--max-sessions` in about 100 s | "
        f"{n(flood['requests'])} requests, {flood['created']} created, {n(flood['refused_429'] or 0)} "
        f"answered 429 with `Retry-After`; another address then: `{flood['other_address']}` |",
    ]
    for what, took in shutdown.items():
        out.append(f"| SIGTERM with {what} | held until the client left (88 s for a partial head "
                   f"held 90 s) | exited after {took:.2f} s |")
    out += [
        f"| `GET /api/v1/demo/requests` after 1,000 requests with 10 kB paths | a 400 MB body for "
        f"long paths | {n(a['demo_log_bytes'])} B (paths kept to 256 B) |",
        "",
    ]
    return "\n".join(out)
