#!/usr/bin/env python3
"""Writes BENCHMARKS.md and bench/throughput.svg from bench/results.json.

bench/bench.py calls `write()` at the end of a run, with the data it printed; running this file
alone re-renders the same files from the committed results.json (no measuring):

    python3 bench/report.py

The number formats below are shared with bench.py's printed lines, so the figures in the markdown
are the printed ones, character for character.
"""

from __future__ import annotations

import json
import math
import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# Number formats, shared with bench.py


def f_int(x: float) -> str:
    return f"{round(x):,}"


def f_bytes(x: float) -> str:
    return f"{round(x):,}"


def f_ns(x: float) -> str:
    return f"{x:,.0f}"


def f_ms(x: float) -> str:
    return f"{x:,.1f}"


def f_ratio(x: float) -> str:
    return f"{x:.2f}"


def f_us(us: float) -> str:
    """A latency measured in microseconds, in the unit that reads best."""
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 100_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1000:.0f} ms"


def f_mib(x: float) -> str:
    return f"{x / 1048576:.1f} MiB"


SHARDS = 64  # www/src/store/memory.rs
SLOT_BYTES = 16 + 48 + 1  # key (u128) + Entry + hashbrown's control byte


def map_bytes_per_session(n: int) -> float:
    """What the store's hash maps take per session at `n` sessions, by their layout: each of
    the 64 shards holds n/64 sessions in a power-of-two number of buckets at most 7/8 full."""
    per_shard = math.ceil(n / SHARDS)
    buckets = 1 << math.ceil(math.log2(per_shard * 8 / 7))
    return SHARDS * buckets * SLOT_BYTES / n


def rng(s: dict, fmt) -> str:
    return f"{fmt(s['min'])} – {fmt(s['max'])}"


# --------------------------------------------------------------------------------------------
# The plot


COLORS = {"keeper-server": "#2563eb", "FastAPI + uvicorn": "#d97706", "ceiling (bare axum)": "#6b7280"}
LIGHT = {"keeper-server": "#93b4f5", "FastAPI + uvicorn": "#f3c27d", "ceiling (bare axum)": "#b8bcc4"}
LABELS = {"keeper-server": ["keeper-server"], "FastAPI + uvicorn": ["FastAPI", "+ uvicorn"],
          "ceiling (bare axum)": ["ceiling", "(bare axum)"]}


def label(x: float, y: float, name: str) -> str:
    lines = LABELS.get(name, [name])
    return "".join(f'<text x="{x:.1f}" y="{y + 15 * i:.1f}" text-anchor="middle" fill="#222">'
                   f"{escape(line)}</text>" for i, line in enumerate(lines))


def f_tick(us: float) -> str:
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:g} ms"


def nice_ceiling(x: float) -> float:
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= x:
            return m * exp
    return 10 * exp


def svg(results: dict) -> str:
    servers = results["throughput"]["servers"]
    names = list(servers)
    w, h = 960, 450
    top, bottom = 95, 345
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">',
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
        '<text x="480" y="28" text-anchor="middle" font-size="17" font-weight="bold" fill="#111">'
        "Heartbeats on loopback: server on one core, wrk on the other</text>",
    ]
    s = results["throughput"]["settings"]
    out.append(
        f'<text x="480" y="50" text-anchor="middle" font-size="12" fill="#555">'
        f"wrk -t1 -c{s['wrk_connections']} -d{s['wrk_seconds']}s over "
        f"{f_int(s['live_sessions'])} live sessions; bars: median of {s['wrk_runs']} runs, "
        "whiskers: range</text>"
    )

    # Left panel: heartbeats per second, linear.
    x0, x1 = 90, 430
    top_value = nice_ceiling(max(v["heartbeats_per_s"]["max"] for v in servers.values()) * 1.08)
    out.append(f'<text x="{(x0 + x1) / 2}" y="{top - 22}" text-anchor="middle" font-weight="bold" '
               'fill="#222">heartbeats per second (higher is better)</text>')
    for i in range(6):
        v = top_value * i / 5
        y = bottom - (bottom - top) * i / 5
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{x0 - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                   f"{f_int(v)}</text>")
    slot = (x1 - x0) / len(names)
    bar = slot * 0.55
    for i, name in enumerate(names):
        d = servers[name]["heartbeats_per_s"]
        cx = x0 + slot * (i + 0.5)
        y = bottom - (bottom - top) * d["median"] / top_value
        out.append(f'<rect x="{cx - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                   f'height="{bottom - y:.1f}" fill="{COLORS[name]}"/>')
        y_lo = bottom - (bottom - top) * d["min"] / top_value
        y_hi = bottom - (bottom - top) * d["max"] / top_value
        out.append(f'<line x1="{cx:.1f}" y1="{y_lo:.1f}" x2="{cx:.1f}" y2="{y_hi:.1f}" '
                   'stroke="#111" stroke-width="1.5"/>')
        for yy in (y_lo, y_hi):
            out.append(f'<line x1="{cx - 6:.1f}" y1="{yy:.1f}" x2="{cx + 6:.1f}" y2="{yy:.1f}" '
                       'stroke="#111" stroke-width="1.5"/>')
        out.append(f'<text x="{cx:.1f}" y="{min(y, y_hi) - 7:.1f}" text-anchor="middle" '
                   f'font-weight="bold" fill="#111">{f_int(d["median"])}</text>')
        out.append(label(cx, bottom + 18, name))
    out.append(f'<line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" stroke="#333"/>')

    # Right panel: p50 and p99 latency, log scale.
    x0, x1 = 560, 935
    lo_exp = math.floor(math.log10(min(v["p50_us"]["min"] for v in servers.values())))
    hi_exp = math.ceil(math.log10(max(v["p99_us"]["max"] for v in servers.values()) * 1.3))
    span = hi_exp - lo_exp

    def ly(us: float) -> float:
        return bottom - (bottom - top) * (math.log10(us) - lo_exp) / span

    out.append(f'<text x="{(x0 + x1) / 2}" y="{top - 22}" text-anchor="middle" font-weight="bold" '
               'fill="#222">latency at that load, log scale (lower is better)</text>')
    for e in range(lo_exp, hi_exp + 1):
        y = ly(10 ** e)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{x0 - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                   f"{f_tick(10 ** e)}</text>")
    slot = (x1 - x0) / len(names)
    bar = slot * 0.3
    gap = 5
    for i, name in enumerate(names):
        cx = x0 + slot * (i + 0.5)
        for j, (key, tag, color) in enumerate(
            [("p50_us", "p50", LIGHT[name]), ("p99_us", "p99", COLORS[name])]
        ):
            d = servers[name][key]
            bx = cx - bar - gap if j == 0 else cx + gap
            y = ly(d["median"])
            out.append(f'<rect x="{bx:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                       f'height="{bottom - y:.1f}" fill="{color}"/>')
            mid = bx + bar / 2
            y_lo, y_hi = ly(d["min"]), ly(d["max"])
            out.append(f'<line x1="{mid:.1f}" y1="{y_lo:.1f}" x2="{mid:.1f}" y2="{y_hi:.1f}" '
                       'stroke="#111" stroke-width="1.2"/>')
            out.append(f'<text x="{mid:.1f}" y="{min(y, y_hi) - 6:.1f}" text-anchor="middle" '
                       f'font-size="11" fill="#111">{f_us(d["median"])}</text>')
            out.append(f'<text x="{mid:.1f}" y="{bottom + 14}" text-anchor="middle" '
                       f'font-size="10" fill="#555">{tag}</text>')
        out.append(label(cx, bottom + 32, name))
    out.append(f'<line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" stroke="#333"/>')

    t = results["throughput"]
    out.append(
        f'<text x="480" y="{h - 18}" text-anchor="middle" font-size="13" fill="#111">'
        f"keeper-server / FastAPI = {f_ratio(t['ratio_ours_over_fastapi'])}x · "
        f"keeper-server / ceiling = {f_ratio(t['ratio_ours_over_ceiling'])} · "
        f"{escape(results['machine']['cpu'])}, {results['machine']['cores']} cores</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# The markdown


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# The activity cases: the keeper in its three roles, react-idle-timer, the reference listener.
ACTIVITY_KEEPERS = ["session-keeper", "session-keeper leader", "session-keeper follower"]
ACTIVITY_LABELS = {
    "session-keeper": "(b) SessionKeeper, alone",
    "session-keeper leader": "(b1) SessionKeeper, leader",
    "session-keeper follower": "(b2) SessionKeeper, follower",
    "react-idle-timer": "(c) react-idle-timer",
    "floor": "(ref) one plain JS listener",
}
ACTIVITY_ROLES = {"session-keeper": "alone", "session-keeper leader": "as the leader",
                  "session-keeper follower": "as a follower"}
# bench.py's sections, in the order they run and appear here.
SECTION_ORDER = ["size", "activity", "startup", "throughput", "scale", "economy", "tabs"]


def section_settings(r: dict, name: str) -> dict:
    """The settings a section was measured with: a partial run (`--only`) keeps the others'
    sections, and their settings, from an earlier run."""
    return r["runs"].get(name, {}).get("settings") or r["settings"]


def runs_note(r: dict) -> str:
    """A quoted note when the sections come from more than one run of the bench (`--only`)."""
    kept = [n for n in r["runs"] if n not in r["measured"]]
    if not kept:
        return ""
    return ("\n> **Sections from more than one run.** The last command (" + r["generated_at"]
            + ") measured " + ", ".join(r["measured"]) + "; kept from earlier runs: "
            + ", ".join(f"{n} ({r['runs'][n]['at']})" for n in kept) + ".")


def loads_table(r: dict) -> str:
    """When each section ran and the machine's load average as it started: other work on a
    shared machine moves the timings, so the load is recorded beside them."""
    rows = []
    for name in sorted(r["runs"], key=SECTION_ORDER.index):
        run = r["runs"][name]
        load = run.get("load")
        rows.append([name, run["at"] + (" (quick)" if run["quick"] else ""),
                     " / ".join(f"{x:.2f}" for x in load) if load else "not recorded"])
    return ("The load average (1, 5 and 15 minutes, `/proc/loadavg`) as each section started; "
            "anything above zero is other work sharing the cores:\n\n"
            + table(["section", "measured at", "load average"], rows, "lll"))


def size_table(pk: dict) -> str:
    """Raw, gzip -9 and brotli bytes of each package as published and minified by terser."""
    rows = []
    for name, p in pk.items():
        files = "<br>".join(f"`{f['file']}`" for f in p["files"])
        mini = p["minified"]
        bold = (lambda x: f"**{x}**") if name == "session-keeper" else (lambda x: x)
        rows.append([bold(name), files, f_bytes(p["raw"]), bold(f_bytes(p["gzip"])),
                     f_bytes(p["brotli"]), f_bytes(mini["raw"]), bold(f_bytes(mini["gzip"])),
                     f_bytes(mini["brotli"])])
    return table(["package", "files", "raw", "gzip -9", "brotli", "minified raw",
                  "minified gzip -9", "minified brotli"], rows, "llrrrrrr") + \
        "\n\nBytes; \"minified\" is after `terser -c -m` on the JavaScript files."


def activity_noise(act: dict) -> str:
    """A warning, in words, when the rounds spread so widely that the verdict is within the
    noise: a round whose keeper cost came out below zero, or a dispatch baseline whose slowest
    round took half as long again as its fastest (other work on the cores)."""
    base = act["baseline_ns"]
    lows = [act["ratios_over_react_idle_timer"][k]["per_round"]["min"] for k in ACTIVITY_KEEPERS]
    highs = [act["ratios_over_react_idle_timer"][k]["per_round"]["max"] for k in ACTIVITY_KEEPERS]
    if min(lows) > 0 and base["max"] < 1.5 * base["min"]:
        return ""
    return (f" The rounds spread widely, though (the dispatch alone took {f_ns(base['min'])} to "
            f"{f_ns(base['max'])} ns a round, and the keeper's per-round ratios ran from "
            f"{f_ratio(min(lows))} to {f_ratio(max(highs))}): on this machine, at this time, the "
            "verdict against the goal is within the noise, and another run can turn it.")


def activity_verdict(act: dict) -> str:
    """Whether each of the keeper's roles met the activity goal, in words."""
    goal = act["goal_ratio"]
    ratios = act["ratios_over_react_idle_timer"]
    missed = [ACTIVITY_ROLES[k] for k in ACTIVITY_KEEPERS if ratios[k]["of_medians"] > goal]
    if not missed:
        return "**met** in every role"
    return "**missed** " + (missed[0] if len(missed) == 1 else
                            ", ".join(missed[:-1]) + " and " + missed[-1])


def tabs_verdict(tabs: dict) -> str:
    """Whether 4 tabs of one session stayed within the goal over one tab, in words."""
    goal = tabs["goal_ratio"]
    four = next(row for row in tabs["rows"] if row["tabs"] == 4)
    over = [f"{where} {user}" for where, ratio_of in [
        ("simulation", lambda user: four["simulation"][f"{user}_ratio"]),
        ("Chromium", lambda user: four["browser"][user]["ratio"])]
        for user in ["idle", "active"] if ratio_of(user) > goal]
    return "**met**" if not over else "**missed** (" + ", ".join(over) + ")"


STARTUP_ROWS = [
    ("init_ms", "`await init()`: the `.wasm` fetched, compiled and instantiated"),
    ("construct_ms", "`new SessionKeeper(options)`"),
    ("start_to_fetch_ms", "`new SessionKeeper` returned → the heartbeat's `fetch()`"),
    ("init_to_fetch_ms", "**`init()` called → the first heartbeat's `fetch()`**"),
    ("init_to_received_ms", "`init()` called → the server received it"),
    ("init_to_answered_ms", "`init()` called → `onHeartbeat` ran"),
]


def startup_section(st: dict) -> str:
    """Section 3: from init() to the first heartbeat, crossTab on and off."""
    variants = st["variants"]
    on, off = variants["crossTab on"], variants["crossTab off"]
    lock_ms = on["start_to_fetch_ms"]["median"] - off["start_to_fetch_ms"]["median"]
    rows = [[label_] + [f"{f_ms(v[k]['median'])} ({rng(v[k], f_ms)})" for v in variants.values()]
            for k, label_ in STARTUP_ROWS]
    return "\n".join([
        "## 3. From `init()` to the first heartbeat",
        "",
        f"Command: `node bench/startup/run.mjs URL {st['loads']}` against `keeper-server "
        "--static-dir bench --pkg-dir pkg --demo` (release, not pinned). Each load is a fresh "
        "browser context (its own HTTP cache and compiled-code cache, so the `.wasm` is fetched "
        "and compiled anew: a cold load) opening `bench/startup/index.html`, which imports the "
        "glue, calls `init()`, creates a keeper for a session made just before from Node, and "
        "starts it. The page wraps `fetch` to note when the `.wasm` and the first heartbeat are "
        "requested, and the server's request log (`--demo`) gives when the heartbeat arrived. "
        f"The keeper runs with crossTab on (the default: the first heartbeat waits for the "
        f"session's Web Lock) and off, alternately; {st['loads']} loads of each, after one "
        f"warm-up of each that is not reported. Chromium {st['chromium']}, headless.",
        "",
        table(["ms, median (range)"] + list(variants), rows, "l" + "r" * len(variants)),
        "",
        f"**Reading.** From `init()` to the heartbeat leaving the page: "
        f"{f_ms(on['init_to_fetch_ms']['median'])} ms with crossTab on, "
        f"{f_ms(off['init_to_fetch_ms']['median'])} ms with it off. "
        + f"`init()` itself (the `.wasm` downloaded, compiled and instantiated) takes "
        f"{f_ms(off['init_ms']['median'])} ms of it with crossTab off and "
        f"{f_ms(on['init_ms']['median'])} ms with it on (the same work: `init()` runs before "
        "the option is read, so any difference is run-to-run variation). Once created, the "
        "keeper sends within "
        f"{f_ms(off['start_to_fetch_ms']['median'])} ms with crossTab off, and "
        + (f"crossTab adds {f_ms(lock_ms)} ms to that (the wait for the session's Web Lock, "
           "which elects one leader among the tabs)." if lock_ms >= 0 else
           "crossTab adds nothing measurable to that."),
        "",
    ])


def tabs_section(tabs: dict) -> str:
    """Section 7: requests per hour for 1, 2, 4 and 8 tabs, the simulation beside Chromium."""
    t = tabs["timings"]
    secs = t["seconds"]
    rows = []
    for row in tabs["rows"]:
        sim, real = row["simulation"], row["browser"]
        cells = [str(row["tabs"])]
        for user in ["idle", "active"]:
            r_ = real[user]
            cells += [str(sim[user]), f_ratio(sim[f"{user}_ratio"]),
                      f"{r_['requests']} ({r_['per_hour_real']}/h)", f_ratio(r_["ratio"])]
        cells.append(" / ".join(
            ",".join(map(str, real[user]["leaders"])) for user in ["idle", "active"]))
        rows.append(cells)
    return "\n".join([
        "## 7. Several tabs of one session: requests per hour",
        "",
        "Two measures side by side. **Simulation:** `cargo run --release --example economy -- "
        "--json` opens 1, 2, 4 and 8 tabs of one session at the same moment in the native core's "
        "`Simulation`, coordinated as in a browser (one leader sends for all), through one hour "
        "at the real default timings, the user idle or active (an event every second) in the "
        "last tab opened. **Chromium:** `node bench/tabs/run.mjs --server "
        f"target/release/keeper-server --seconds {secs}` opens as many pages of one browser "
        "context, each running a SessionKeeper with crossTab on (the default), against a real "
        "keeper-server, and counts the heartbeats where they arrive (the server's request log, "
        f"`--demo`); the timings are scaled down {t['scale']} times (`intervalMs` "
        f"{f_int(t['intervalMs'])}, `activityThrottleMs` {f_int(t['activityThrottleMs'])}), so "
        f"{secs} s stand for {secs * t['scale'] / 3600:.2f} hours of the real schedule, and the "
        "count is scaled back to an hour at the real timings. The active user is real mouse "
        f"moves every {t['moveEveryMs']} ms in the last tab opened (a follower as a rule). The "
        "idle and active runs of each tab count run at the same time, in two contexts. "
        f"Chromium {tabs['chromium']}, headless.",
        "",
        table(["tabs", "idle: simulation /h", "× 1 tab", f"idle: Chromium, in {secs} s (/h)",
               "× 1 tab", "active: simulation /h", "× 1 tab",
               f"active: Chromium, in {secs} s (/h)", "× 1 tab", "leaders seen (idle / active)"],
              rows, "rrrrrrrrrl"),
        "",
        f"The goal: 4 tabs of one session cost the server at most {f_ratio(tabs['goal_ratio'])}x "
        f"what one tab does. This run: {tabs_verdict(tabs)}. \"Leaders seen\" is how many tabs "
        "claimed to lead at each check during the run (1 throughout is one leader).",
        "",
    ])


def markdown(r: dict) -> str:
    """The whole page but the reference server's sections (server_report.py)."""
    m, v = r["machine"], r["versions"]
    size, act, thr, scale, eco = r["size"], r["activity"], r["throughput"], r["scale"], r["economy"]
    startup, tabs = r["startup"], r["tabs"]
    cfg = section_settings(r, "scale")
    pk = size["packages"]
    ours_gz = pk["session-keeper"]["gzip"]
    rit_gz = pk["react-idle-timer"]["gzip"]
    ng_gz = pk["@ng-idle/core + @ng-idle/keepalive"]["gzip"]
    b = act["over_baseline_ns"]["session-keeper"]
    c = act["over_baseline_ns"]["react-idle-timer"]
    sv = thr["servers"]
    ks, fa, ce = sv["keeper-server"], sv["FastAPI + uvicorn"], sv["ceiling (bare axum)"]
    idle, loaded = scale["idle_run"], scale["load_run"]
    top_n = str(idle["sessions"])
    small_n = str(cfg["scale_sessions"][0])
    bps = scale["bytes_per_session"]
    active = eco["rows"][0]
    idle_tab = eco["rows"][1]
    outage_idle = eco["rows"][2]
    outage_active = eco["rows"][3]
    runtime = r["runtime_s"]
    ours, rit, ng = pk["session-keeper"], pk["react-idle-timer"], pk["@ng-idle/core + @ng-idle/keepalive"]
    st_on = startup["variants"]["crossTab on"]["init_to_fetch_ms"]
    st_off = startup["variants"]["crossTab off"]["init_to_fetch_ms"]
    four = next(row for row in tabs["rows"] if row["tabs"] == 4)
    o = []
    add = o.append

    add("# Benchmarks")
    add("")
    add("> **Generated by `bench/run.sh`; do not edit by hand.** Every figure here is one that the "
        "command printed during the run of " + r["generated_at"] + ", rendered from the same data "
        "(kept in [`bench/results.json`](bench/results.json)). `python3 bench/report.py` re-renders "
        "this page from that file without measuring anything.")
    quick = [n for n, run in r["runs"].items() if run["quick"]]
    if quick:
        add("")
        add("> **This is a `--quick` smoke run** (" + ", ".join(quick) + "): fewer events, "
            "rounds, seconds and sessions. Do not quote it; run `bench/run.sh` without `--quick` "
            "for the figures.")
    if runs_note(r):
        add(runs_note(r))
    add("")
    add(f"One command, from a fresh clone: `bench/run.sh` (the last run: "
        f"{runtime['command'] / 60:.1f} minutes in all, {runtime['measures'] / 60:.1f} of them "
        "measuring). It installs what "
        "is missing (`scripts/setup.sh bench`: wrk, hyperfine, Python's venv, procps, Chromium, "
        "Node.js and the wasm toolchain, all from Debian or crates.io; `npm ci` in `bench/` from "
        "its committed lock file; `bench/.venv` from the pinned `bench/peers/requirements.txt`), "
        "builds everything in release mode, measures, and rewrites this page, "
        "`bench/results.json` and `bench/throughput.svg`. `bench/run.sh --quick` is a short "
        "smoke run; `bench/run.sh --only size,activity,startup,tabs` measures only the sections "
        "named (any of size, activity, startup, throughput, scale, economy, tabs, server) and "
        "keeps the others from the last `bench/results.json`.")
    add("")
    add("## Headlines")
    add("")
    add(table(["measure", "session-keeper", "beside", "reading"], [
        ["download, gzip -9 (brotli)", f"{f_bytes(ours_gz)} B ({f_bytes(ours['brotli'])} B)",
         f"react-idle-timer {f_bytes(rit_gz)} B ({f_bytes(rit['brotli'])} B); @ng-idle "
         f"{f_bytes(ng_gz)} B ({f_bytes(ng['brotli'])} B)",
         f"{f_ratio(ours_gz / rit_gz)}x react-idle-timer gzipped, "
         f"{f_ratio(ours['minified']['gzip'] / rit['minified']['gzip'])}x with both minified: "
         "**we lose**"],
        ["cost per activity event", f"+{f_ns(b['median'])} ns alone; "
         f"+{f_ns(act['over_baseline_ns']['session-keeper leader']['median'])} ns leading, "
         f"+{f_ns(act['over_baseline_ns']['session-keeper follower']['median'])} ns following",
         f"react-idle-timer +{f_ns(c['median'])} ns",
         " / ".join(f_ratio(act["ratios_over_react_idle_timer"][k]["of_medians"])
                    for k in ACTIVITY_KEEPERS)
         + f"x react-idle-timer's (goal: at most {f_ratio(act['goal_ratio'])}x): "
         + activity_verdict(act)],
        ["init() to the first heartbeat (Chromium, cold load)",
         f"{f_ms(st_on['median'])} ms with crossTab, {f_ms(st_off['median'])} ms without", "",
         f"the request's fetch() call, medians of {startup['loads']} loads"],
        ["heartbeats per second, one core", f_int(ks["heartbeats_per_s"]["median"]),
         f"FastAPI {f_int(fa['heartbeats_per_s']['median'])}; bare axum "
         f"{f_int(ce['heartbeats_per_s']['median'])}",
         f"{f_ratio(thr['ratio_ours_over_fastapi'])}x FastAPI; "
         f"{f_ratio(thr['ratio_ours_over_ceiling'])} of the ceiling"],
        ["p99 heartbeat latency at that load", f_us(ks["p99_us"]["median"]),
         f"FastAPI {f_us(fa['p99_us']['median'])}; bare axum {f_us(ce['p99_us']['median'])}", ""],
        ["memory per live session", f"{f_int(bps[top_n])} B",
         "", f"at {f_int(int(top_n))} sessions"],
        [f"one sweep of {f_int(idle['sweep']['removed'])} expired sessions",
         f"{f_ms(idle['sweep']['ms'])} ms",
         f"{f_ms(loaded['sweep']['ms'])} ms under heartbeat load",
         f"heartbeat p99 {f_us(loaded['during']['latency_us']['p99'])} spanning it, "
         f"{f_us(loaded['baseline']['latency_us']['p99'])} before"],
        ["requests per hour", f"active {active['requests_per_hour']}, idle "
         f"{idle_tab['requests_per_hour']}", "",
         f"a 10-minute outage costs an idle tab "
         f"{outage_idle['requests_per_hour'] - idle_tab['requests_per_hour']} more"],
        ["requests per hour, 4 tabs of one session over 1 tab",
         f"simulation {f_ratio(four['simulation']['idle_ratio'])}x idle, "
         f"{f_ratio(four['simulation']['active_ratio'])}x active",
         f"Chromium {f_ratio(four['browser']['idle']['ratio'])}x idle, "
         f"{f_ratio(four['browser']['active']['ratio'])}x active",
         f"goal: at most {f_ratio(tabs['goal_ratio'])}x: " + tabs_verdict(tabs)],
    ], "llll"))
    add("")

    add("## The machine and the versions")
    add("")
    add(table(["", ""], [
        ["CPU", f"{m['cpu']} (model name in /proc/cpuinfo), {m['cores']} cores"],
        ["memory", f"{m['memory_bytes'] / 2**30:.1f} GiB (MemTotal)"],
        ["system", f"Debian {m['os']}, Linux {m['kernel']}"],
        ["Rust", v["rustc"]],
        ["wasm toolchain", f"{v['wasm-bindgen']}; {v['wasm-opt']}"],
        ["Chromium", f"{act['chromium']} (Debian's, headless), driven by playwright-core "
                     f"{v['npm']['playwright-core']}"],
        ["Node.js", v["node"]],
        ["Python", f"{v['python']}; FastAPI {v['fastapi']}, Starlette {v['starlette']}, "
                   f"pydantic {v['pydantic']}, uvicorn {v['uvicorn']}, uvloop {v['uvloop']}, "
                   f"httptools {v['httptools']}"],
        ["load generator", v["wrk"]],
        ["npm packages", f"react-idle-timer {v['npm']['react-idle-timer']}, @ng-idle/core "
                         f"{v['npm']['@ng-idle/core']}, @ng-idle/keepalive "
                         f"{v['npm']['@ng-idle/keepalive']}, terser {v['npm'].get('terser', '?')}"],
        ["gzip", v["gzip"]],
    ], "ll"))
    add("")
    add("Medians and ranges (min – max) are over the runs or rounds each section names. Timings "
        "vary from run to run and are not gated; the size is deterministic and is gated by the "
        "test command (`scripts/size.sh pkg --gate`).")
    add("")
    add(loads_table(r))
    add("")

    # 1. Size
    add("## 1. Size: what a page downloads")
    add("")
    add("Command: `scripts/build-pkg.sh pkg web` (`wasm-pack build --release`, which runs "
        "`wasm-opt` with the flags in `Cargo.toml`), then one function, `measure_size` in "
        "`bench/bench.py`, measures every package the same way: each file's raw bytes, the bytes "
        "of `gzip -9 -c FILE` (the command `scripts/size.sh` runs; the bench checks that the two "
        "agree) and of brotli at quality 11 (Node's zlib, `bench/size.mjs`), summed; then the "
        f"same after `terser -c -m` (terser {v['npm'].get('terser', '?')}, compress and mangle, "
        "as an ES module, comments dropped) on every JavaScript file, as an app's bundler would "
        "ship it. A `.wasm` is left as its build makes it: its minified figures are its own. For "
        "the npm packages the files are each package's own published ESM bundle, the file its "
        "`package.json` `module` field names, as `npm ci` installed it.")
    add("")
    add(size_table(pk))
    add("")
    add(table(["session-keeper ÷ it", "gzip -9", "brotli", "gzip -9, minified", "brotli, minified"],
              [[name] + [f_ratio(ours[k] / p_[k]) for k in ["gzip", "brotli"]]
               + [f_ratio(ours["minified"][k] / p_["minified"][k]) for k in ["gzip", "brotli"]]
               for name, p_ in pk.items() if name != "session-keeper"]))
    add("")
    files = pk["session-keeper"]["files"]
    add("session-keeper's files: " + "; ".join(
        f"`{Path(f['file']).name}` {f_bytes(f['raw'])} B raw, {f_bytes(f['gzip'])} B gzipped, "
        f"{f_bytes(f['brotli'])} B brotli"
        + ("" if f["minified"]["raw"] == f["raw"] else
           f" ({f_bytes(f['minified']['gzip'])} B gzipped after terser)")
        for f in files) + ". What each cut since 0.1.0 bought, and what the named dependencies "
        "would cost, is in the README's [Size](README.md#size) section.")
    add("")
    glue = next(f for f in files if f["file"].endswith(".js"))
    add("**Reading.** We lose, by about "
        f"{f_ratio(ours_gz / rit_gz)}x against react-idle-timer and {f_ratio(ours_gz / ng_gz)}x "
        "against @ng-idle gzipped as published, and by "
        f"{f_ratio(ours['minified']['gzip'] / rit['minified']['gzip'])}x and "
        f"{f_ratio(ours['minified']['gzip'] / ng['minified']['gzip'])}x once terser has minified "
        "every JavaScript file. Most of our bytes are the `.wasm`: the scheduling state machine, "
        "the tabs' coordination, the idle policy, option validation with its error messages, "
        "the payloads written as JSON, the allocator and the formatting code Rust links for them; "
        f"the JavaScript glue alone is {f_bytes(glue['minified']['gzip'])} B gzipped once "
        f"minified, {glue['minified']['gzip'] / rit['minified']['gzip'] * 100:.0f}% of "
        "react-idle-timer's whole minified bundle. terser changes little for react-idle-timer "
        f"({f_bytes(rit_gz)} → {f_bytes(rit['minified']['gzip'])} B gzipped: it is published "
        "minified) and much for @ng-idle "
        f"({f_bytes(ng_gz)} → {f_bytes(ng['minified']['gzip'])} B: its `fesm2022` files are "
        "published with comments and whitespace). The comparison also flatters the others in "
        "two ways, both noted, not corrected: react-idle-timer's figure excludes React and "
        "@ng-idle's excludes Angular and RxJS (peer dependencies an app using them already "
        "ships), and react-idle-timer only detects idleness, it sends no heartbeat (its bundle "
        "has no HTTP code at all), while @ng-idle/keepalive sends its ping through Angular's "
        "`HttpClient`, not counted here. What the bytes buy is in the README: every failure "
        "reported, 429/`Retry-After`, wall-clock checks after sleep, one leader for all the tabs "
        "of a session.")
    add("")

    # 2. Activity
    add("## 2. Activity-event cost in headless Chromium")
    add("")
    add(f"Command: `node bench/activity/run.mjs URL {act['events']} {act['rounds']}` against "
        "`keeper-server --static-dir bench --pkg-dir pkg` (release), which serves the page "
        "`bench/activity/index.html`, the wasm package over HTTP and the npm packages. In **one "
        f"page load**, each round dispatches {f_int(act['events'])} events on `document` "
        "(`mousemove` and `keydown` alternating, two event objects reused, timed with "
        "`performance.now()` around the loop) with:")
    add("")
    add("- (a) no listener: the cost of dispatching at all;")
    add("- (b) a running `SessionKeeper` with its default options (crossTab on; its listeners on "
        "`document`, capture, passive), pointed at the same keeper-server with a real session, "
        "alone: it leads its session once its Web Lock is granted. Timing starts after its start "
        "heartbeat was answered, so every event takes the gated fast path (the throttle window "
        "is one minute);")
    add("- (b1) the same keeper as the **leader** of a session open in a second browsing "
        "context, a same-origin iframe (`bench/activity/tab.html`) whose keeper follows it;")
    add("- (b2) the keeper in the page as a **follower**: the iframe's keeper started first and "
        "holds the session's lock, and timing starts once this one has adopted the leader's "
        "view, so it never sends a heartbeat itself;")
    add("- (c) react-idle-timer with its defaults. Version "
        f"{v['npm']['react-idle-timer']} has no vanilla `createIdleTimer` (it was announced for "
        "a later major that never shipped), so its nearest equivalent is its `useIdleTimer` "
        "hook, mounted once outside React by `bench/activity/react-shim.js`: a stand-in for "
        "`react` that runs the hook the way React's first render does (refs, memos, then the "
        "effects in order; unmount runs the cleanups). The listener it attaches (to `document`, "
        "capture, passive, throttled to one call per 200 ms by default) is the library's own, "
        "unchanged; React itself is not loaded;")
    add("- (ref) a reference, not a competitor: one plain JavaScript listener per dispatched "
        "event type (capture, passive) doing what the keeper's fast path does, "
        "`Date.now() >= gate`.")
    add("")
    add(f"Every case is set up before and torn down after its timed loop (`keeper.stop()` and "
        "`keeper.free()`, the iframe's keeper too; the idle timer's `pause()` and unmount), and "
        "the driver counts the listeners on `document` and `window` through the DevTools "
        "protocol after every case: the run stops if any were left behind. Each case first "
        "warms up on 2,000 events; `gc()` runs before each timed loop. A warm-up round is "
        f"discarded, then {act['rounds']} rounds run the {len(act['listeners_attached'])} cases "
        "in a rotating order.")
    add("")
    la = act["listeners_attached"]
    rows_ = [["(a) no listener (ns per dispatch itself)", f_ns(act["baseline_ns"]["median"]),
              rng(act["baseline_ns"], f_ns), "0"]]
    for kind, label_ in ACTIVITY_LABELS.items():
        s_ = act["over_baseline_ns"][kind]
        bold = kind != "floor"
        rows_.append([f"**{label_}**" if bold else label_,
                      f"**+{f_ns(s_['median'])}**" if bold else f"+{f_ns(s_['median'])}",
                      rng(s_, f_ns), f"{la[kind]['document']} + {la[kind]['window']}"])
    add(table(["case", "ns per event over (a), median", "range",
               "listeners added (document + window)"], rows_, "lrrr"))
    add("")
    goal = act["goal_ratio"]
    add(table(["keeper ÷ react-idle-timer", "ratio of the medians", "per round", "goal",
               "met"], [
        [ACTIVITY_LABELS[k], f"**{f_ratio(q['of_medians'])}**",
         rng(q["per_round"], f_ratio), f"≤ {f_ratio(goal)}",
         "yes" if q["of_medians"] <= goal else "**no**"]
        for k, q in ((k, act["ratios_over_react_idle_timer"][k]) for k in ACTIVITY_KEEPERS)
    ], "lrrrl"))
    add("")
    add(f"The goal: the keeper's cost per event at or under {f_ratio(goal)}x react-idle-timer's "
        "(what the previous release measured for a keeper alone), in every role a tab can have. "
        f"This run: {activity_verdict(act)}.{activity_noise(act)}")
    add("")
    floor = act["over_baseline_ns"]["floor"]
    floor_vs_b = "more than" if floor["median"] > b["median"] else "less than"
    add("**Reading.** All of these are small beside the dispatch itself "
        f"({f_ns(act['baseline_ns']['median'])} ns with no listener), and smaller still beside a "
        "frame: Chrome delivers `mousemove` at most once per animation frame, so at 120 events "
        f"a second the keeper costs {b['median'] * 120 / 1000:.0f} µs per second of mouse "
        f"movement and react-idle-timer {c['median'] * 120 / 1000:.0f} µs. react-idle-timer's "
        "listener is a throttle wrapper (a closure call and a clock read on every event, and "
        "every 200 ms its full handler, which resets its idle timeout with "
        "`clearTimeout`/`setTimeout`); session-keeper's crosses into wasm on every event "
        "(wasm-bindgen's closure shim, the wasm call, and a call back out to `Date.now()`) and "
        "compares the clock with a cached gate, with no allocation. The reference row: a plain JavaScript listener doing the same check costs "
        f"{floor_vs_b} the keeper alone (+{f_ns(floor['median'])} ns). Most of every figure is "
        "the browser invoking a listener at all.")
    add("")

    # 3. Startup
    add(startup_section(startup))

    # 4. Throughput
    s = thr["settings"]
    add("## 4. Heartbeat throughput on loopback")
    add("")
    add("Three servers answer `POST /api/v1/session/{id}/heartbeat` (Content-Type "
        "`application/json`, body `{}`):")
    add("")
    add("- **keeper-server**, release build, default settings (in-memory store, 20-minute TTL);")
    add("- **FastAPI + uvicorn**, the seed's own stack: `bench/peers/fastapi_server.py`, the same "
        "create and heartbeat endpoints with a 20-minute sliding TTL in an in-memory dict, behind "
        "the seed's Content-Type middleware (an `@app.middleware(\"http\")` function answering "
        "415 `ERR_INVALID_CONTENT_TYPE`); one uvicorn worker, with uvloop and httptools "
        "(uvicorn's fastest configuration, what `uvicorn[standard]` picks), no access log;")
    add("- **ceiling**: `www/examples/ceiling.rs`, a bare axum route on the same tokio runtime "
        "that answers a constant JSON body of the same shape: no middleware, no store, no clock. "
        "`cargo run --release -p keeper-server --example ceiling -- --addr ADDR`.")
    add("")
    add(f"**Cores.** Every server runs under `taskset -c {s['server_cpu']}` and wrk under "
        f"`taskset -c {s['load_cpu']}`, so the server and the load generator have one core each. "
        "Tokio sizes its worker pool from the affinity mask (`available_parallelism`); the bench "
        "checks it by counting keeper-server's `tokio-rt-worker` threads in `/proc/PID/task`: "
        f"**{thr['tokio_workers']['pinned']} under taskset, "
        f"{thr['tokio_workers']['unpinned']} unpinned** on this {m['cores']}-core machine. "
        "uvicorn with one worker is one process on one core either way.")
    add("")
    add(f"**Load.** First {f_int(s['live_sessions'])} live sessions are created on each server "
        "(`bench/lua/create.lua`: exactly that many `POST /api/v1/session`, ids saved); then "
        "`bench/lua/heartbeat.lua` cycles heartbeats over them, each request formatted once "
        f"before the run. Same wrk settings for all three: a {s['wrk_warmup_seconds']} s warm-up, "
        f"then `wrk -t1 -c{s['wrk_connections']} -d{s['wrk_seconds']}s --latency`, "
        f"{s['wrk_runs']} runs per server, interleaved (the three servers in a rotating order "
        "each round; the two idle ones sleep meanwhile). keeper-server keeps its default rate "
        "limit (a burst of 100, then 10 heartbeats per second per session): the load is spread "
        f"over {f_int(s['live_sessions'])} sessions, so at the measured rate each one stays under "
        f"10 per second ({f_ratio(ks['heartbeats_per_s']['max'] / s['live_sessions'])} at the "
        "fastest run). wrk counts every non-2xx answer, and the bench stops if any appear, so "
        "no 429 is counted as a heartbeat.")
    add("")
    add(table(["server", "heartbeats/s, median", "range", "p50", "p99", "p99 range", "p99.9",
               "creates/s"], [
        [f"**{name}**", f"**{f_int(row['heartbeats_per_s']['median'])}**",
         rng(row["heartbeats_per_s"], f_int), f_us(row["p50_us"]["median"]),
         f_us(row["p99_us"]["median"]), rng(row["p99_us"], f_us), f_us(row["p999_us"]["median"]),
         f_int(row["creates_per_s"])]
        for name, row in sv.items()
    ]))
    add("")
    add(f"**keeper-server / FastAPI = {f_ratio(thr['ratio_ours_over_fastapi'])}x; keeper-server / "
        f"ceiling = {f_ratio(thr['ratio_ours_over_ceiling'])}** (medians of heartbeats per "
        "second).")
    add("")
    add("![Heartbeats per second and p50/p99 latency for keeper-server, FastAPI + uvicorn and the "
        "bare axum ceiling](bench/throughput.svg)")
    add("")
    fa_ratio = thr["ratio_ours_over_fastapi"]
    add(f"**Reading.** Against the seed's stack we win, {f_ratio(fa_ratio)}x the heartbeats on the "
        f"same core, with a p99 of {f_us(ks['p99_us']['median'])} against "
        f"{f_us(fa['p99_us']['median'])}: each FastAPI request runs Python through the ASGI "
        "stack, the `@app.middleware(\"http\")` function (Starlette's `BaseHTTPMiddleware`, which "
        "adds a task and a stream per request), pydantic's body validation and JSON encoding. "
        f"Against the ceiling we reach {f_ratio(thr['ratio_ours_over_ceiling'])} of what a bare "
        "axum endpoint does on this core. The rest is what a real heartbeat does and the "
        "ceiling does not: the layers every request goes through (CORS, the tracing span, the "
        "request timeout, the panic guard, the JSON error envelope, the 415 check), the id "
        "parse, reading and validating the JSON body, the store's shard lock and rate bucket, "
        "the client info copy (a heap allocation per heartbeat), two clock reads formatted as "
        "RFC 3339 and the JSON answer. The latency at this load is queueing behind "
        f"{s['wrk_connections']} connections on one core; "
        "it says how quickly each server drains the queue, not how fast one lone request is.")
    add("")

    # 5. Scale
    add("## 5. Scale: memory per session, a sweep of a million, heartbeats during it")
    add("")
    add("**Method.** A fresh keeper-server (release, `taskset -c 0`; the creator wrk on core 1) "
        f"with `--ttl {idle['ttl_s']}s --sweep-interval {idle['sweep_interval_s']}s`. VmRSS is "
        "read from `/proc/PID/status` when it is idle, then after `bench/lua/create.lua` has "
        f"created {f_int(int(small_n))} sessions, then {f_int(int(top_n))} (created as fast as "
        f"the server takes them: {idle['create_seconds']:.1f} s for all of them). The sweep "
        "interval is planned from the creation rate measured in section 4 so that every one of "
        "them has expired before the sweeper's first tick, which therefore removes them all in "
        "one sweep; its time is read from the server's own log line (`swept N sessions in X ms`, "
        "at info level, the sweep's wall time). A second fresh server repeats this with "
        f"--sweep-interval {loaded['sweep_interval_s']}s under load: shortly before its sweep, "
        f"{f_int(cfg['live_sessions'])} other sessions are created and heartbeated with the same "
        "wrk settings as section 4, back to back: a 2-second warm-up, a "
        f"{cfg['sweep_window_seconds']}-second baseline window (the expired sessions still in "
        f"memory, no sweep), then a {cfg['sweep_window_seconds']}-second window whose middle "
        "third holds the sweep; the bench checks from the log's timestamps that the sweep fell "
        "inside it"
        + (" (it did)." if loaded.get("sweep_inside_window") else
           " (**it did not in this run: read the last table with care**)."))
    add("")
    rss = idle["rss_bytes"]
    add(table(["live sessions", "VmRSS", "over idle", "bytes per session"], [
        ["0 (idle)", f"{f_bytes(rss['0'])} B ({f_mib(rss['0'])})", "", ""],
        *[[f_int(int(n)), f"{f_bytes(rss[n])} B ({f_mib(rss[n])})",
           f"{f_bytes(rss[n] - rss['0'])} B", f"**{f_int(bps[n])}**"]
          for n in [small_n, top_n]],
        ["0 again, after the sweep", f"{f_bytes(rss['after_sweep'])} B "
         f"({f_mib(rss['after_sweep'])})", "", ""],
    ]))
    add("")
    add(table(["sweep", "sessions removed", "wall time"], [
        ["no other load", f_int(idle["sweep"]["removed"]), f"**{f_ms(idle['sweep']['ms'])} ms**"],
        ["under heartbeat load", f_int(loaded["sweep"]["removed"]),
         f"**{f_ms(loaded['sweep']['ms'])} ms**"],
    ]))
    add("")
    lb, ld = loaded["baseline"], loaded["during"]
    add(table(["heartbeats", "per second", "p50", "p99", "p99.9", "max"], [
        [f"{cfg['sweep_window_seconds']} s before the sweep", f_int(lb["rate"]),
         f_us(lb["latency_us"]["p50"]), f_us(lb["latency_us"]["p99"]),
         f_us(lb["latency_us"]["p999"]), f_us(lb["latency_us"]["max"])],
        [f"**{cfg['sweep_window_seconds']} s spanning the sweep**", f_int(ld["rate"]),
         f_us(ld["latency_us"]["p50"]), f"**{f_us(ld['latency_us']['p99'])}**",
         f_us(ld["latency_us"]["p999"]), f_us(ld["latency_us"]["max"])],
    ]))
    add("")
    sweep_share = loaded["sweep"]["ms"] / (cfg["sweep_window_seconds"] * 1000)
    model = map_bytes_per_session(int(top_n))
    returned = rss["after_sweep"] < rss["0"] + (rss[top_n] - rss["0"]) / 4
    lbp99, ldp99 = lb["latency_us"]["p99"], ld["latency_us"]["p99"]
    add(f"**Reading.** {f_int(bps[top_n])} bytes per session at {f_int(int(top_n))} sessions "
        f"({f_int(bps[small_n])} at {f_int(int(small_n))}). The layout explains it: each session "
        "is a 16-byte key and a 48-byte entry (times as `u64`, the count as `u32`, the rate "
        "tokens as `f32`, the client info as an optional pointer) plus one control byte in a "
        "hash map, one per shard of 64, whose bucket count is a power of two kept at most 7/8 "
        f"full; at {f_int(int(top_n))} sessions that is {f_int(model)} B per session in the "
        "maps alone, and the rest is the expiry index (one 16-byte id per session, in vectors "
        "that grow by doubling) and the allocator. So the figure steps with the count: the "
        "maps are between 44% and 88% full. A session that has had a heartbeat also holds its "
        "client info (the heartbeat's body, `{}` from the keeper) in one more small heap "
        "allocation, not counted here since these sessions were only created.")
    add("")
    add(f"The sweep of {f_int(idle['sweep']['removed'])} expired sessions takes "
        f"{f_ms(idle['sweep']['ms'])} ms on an idle server: the expiry index hands it the expired "
        "ids second by second, shard by shard. Under load its wall time is "
        f"{f_ms(loaded['sweep']['ms'])} ms, because it yields to the runtime after every 1,024 "
        "records and heartbeats are served in between; that is about "
        f"{sweep_share * 100:.1f}% of the {cfg['sweep_window_seconds']}-second window, so the "
        "sweep can only move percentiles above that share. "
        + (f"In this run the window spanning the sweep has a p99 of {f_us(ldp99)} against "
           f"{f_us(lbp99)} before it" + (" (no visible effect)." if ldp99 <= lbp99 * 1.25 else
                                           ": the sweep is visible at the tail (see the p99.9 "
                                           "and max too).")))
    add("")
    add("Memory after the sweep: " + (
        f"{f_mib(rss['after_sweep'])}, most of it given back (each shard's map shrinks once "
        "it falls under a quarter of its capacity, and the allocator returns the freed pages)."
        if returned else
        f"{f_mib(rss['after_sweep'])}: most of it was **not** given back to the system."))
    add("")

    # 6. Economy
    add("## 6. Economy: requests per hour from one tab")
    add("")
    add("Command: `cargo run --release --example economy` (`examples/economy.rs`). It runs the "
        "keeper's real state machine in the native core's `Simulation` through one simulated "
        "hour with the default options (a heartbeat 5 minutes after the last one, at most one "
        "activity heartbeat per minute, retries from 2 s doubling to 60 s with jitter), against a "
        "server that answers at once with a 20-minute TTL. Requests are counted over the "
        "half-open hour [0, 60 min). The outage rows make every request between minutes 20 and "
        "30 fail as a refused connection, as when the server process is down. The retry jitter "
        "is seeded, so these figures are the same on every run.")
    add("")
    add(table(["tab", "requests per hour", "during the outage", "by reason"], [
        [row["name"], f"**{row['requests_per_hour']}**",
         "" if row["during_outage"] is None else str(row["during_outage"]),
         ", ".join(f"{k} {n}" for k, n in row["by_reason"].items())]
        for row in eco["rows"]
    ]))
    add("")
    extra_idle = outage_idle["requests_per_hour"] - idle_tab["requests_per_hour"]
    extra_active = outage_active["requests_per_hour"] - active["requests_per_hour"]
    same_during = outage_active["during_outage"] == outage_idle["during_outage"]
    add(f"**Reading.** An active user costs {active['requests_per_hour']} requests an hour (one "
        "per throttle window: activity never sends more than one a minute) and an idle tab "
        f"{idle_tab['requests_per_hour']} (one per 5-minute interval), whatever the event rate: "
        "a million open idle tabs are about "
        f"{f_int(idle_tab['requests_per_hour'] * 1_000_000 / 3600)} heartbeats per second, "
        f"{f_ratio(idle_tab['requests_per_hour'] * 1_000_000 / 3600 / ks['heartbeats_per_s']['median'] * 100)}% "
        "of what keeper-server answered on one core in section 4. A 10-minute outage costs an "
        f"idle tab {extra_idle} extra requests and an active one {extra_active}: the retries "
        "start at 2 s and double up to the 60-second cap, jittered down by up to half, so "
        "after the first minute each tab retries about once every 45 seconds while the server "
        "is down"
        + (", and activity adds nothing during the outage (both tabs sent "
           f"{outage_idle['during_outage']} requests in it: the activity gate waits for the next "
           "retry). Coming back, the server meets a trickle of retries, not a stampede."
           if same_during else "."))
    add("")
    # 7. Tabs
    add(tabs_section(tabs))

    add("## Files")
    add("")
    add("- `bench/run.sh`: the command; `bench/bench.py` measures and prints, `bench/report.py` "
        "writes this page and the plot.")
    add("- `bench/size.mjs`: the brotli and terser-minified sizes.")
    add("- `bench/activity/`: the event-cost page, the second browsing context for the leader "
        "and follower cases (`tab.html`), its React stand-in and its playwright-core driver.")
    add("- `bench/startup/`: the init()-to-first-heartbeat page and its driver.")
    add("- `bench/tabs/run.mjs`: several real Chromium tabs of one session, counted at the "
        "server (it shares `tests/e2e/harness.mjs` with the end-to-end tests).")
    add("- `bench/lua/`: wrk scripts (create exactly N sessions; cycle heartbeats; a shared "
        "machine-readable report).")
    add("- `bench/peers/`: the FastAPI peer and its pinned requirements.")
    add("- `bench/package.json`, `bench/package-lock.json`: the pinned npm packages (peer "
        "dependencies are not installed: `bench/.npmrc` sets `legacy-peer-deps`).")
    add("- `examples/economy.rs` (`cargo run --release --example economy -- --json`), "
        "`www/examples/ceiling.rs`.")
    add("- Raw outputs of the last run (server logs, every wrk output) in `bench/results/raw/`, "
        "not committed.")
    add("")
    return "\n".join(o)


def write(results: dict, md_path: Path, svg_path: Path) -> None:
    """Writes BENCHMARKS.md (with the reference server's sections when measured) and the plot."""
    if results.get("format", 1) < 2:
        # Format 1 (before brotli, the keeper's roles, startup and tabs) lacks what this page
        # shows: stop before writing anything.
        sys.exit("report: bench/results.json is from an older bench (no \"format\": 2); "
                 "bench/run.sh measures it anew")
    page = markdown(results)
    # The reference server's own figures (bench/server.py), when they have been measured.
    server_results = ROOT / "bench" / "server-results.json"
    if server_results.exists():
        import server_report
        page += server_report.markdown(json.loads(server_results.read_text()))
    md_path.write_text(page)
    svg_path.write_text(svg(results))


if __name__ == "__main__":
    data = json.loads((ROOT / "bench" / "results.json").read_text())
    write(data, ROOT / "BENCHMARKS.md", ROOT / "bench" / "throughput.svg")
    print("report: wrote BENCHMARKS.md and bench/throughput.svg from bench/results.json",
          file=sys.stderr)
