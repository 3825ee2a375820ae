// The timeline: an SVG of the session's TTL window, redrawn from a plain view object.
//
// Time runs left to right with "now" fixed a little left of the middle: the past covers about
// one TTL, the future a little more, so the expiry marker sits in view and visibly jumps to the
// right with every accepted heartbeat. Three lanes: heartbeats the server accepted, heartbeats
// that failed (both from the keeper), and the page's own plain `fetch` sent the broken way.
// Heartbeats another tab sent (the leader, when this tab follows) are drawn hollow, in their
// reason's colour. Warnings, recoveries, the idle prompt and a push from the live channel are
// flags between the keeper's two lanes.

const SVG_NS = "http://www.w3.org/2000/svg";

/** How each heartbeat reason is drawn: a shape, a letter, and a colour (CSS class). */
export const REASONS = {
  start: { shape: "square", letter: "S", label: "Start" },
  timer: { shape: "circle", letter: "T", label: "Timer" },
  activity: { shape: "triangle", letter: "A", label: "Activity" },
  manual: { shape: "diamond", letter: "M", label: "Manual" },
  resume: { shape: "hexagon", letter: "W", label: "Resume (woke up)" },
  retry: { shape: "invtriangle", letter: "R", label: "Retry" },
};

const HEIGHT = 204;
const PAD_X = 12;
const BAND_Y = 30;
const BAND_H = 12;
const LANES = {
  ok: { y: 78, label: "keeper · accepted" },
  failed: { y: 120, label: "keeper · failed" },
  broken: { y: 162, label: "page's plain fetch, the broken way" },
};
const AXIS_Y = 184;
/** Vertical offsets for marks that would overlap their predecessor. */
const STAGGER = [0, -13, 13];

/** Creates an SVG element with attributes and optional text (always set as textContent). */
function el(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function points(list) {
  return list.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
}

/** The outline of a reason's shape centred on (x, y). */
export function shapeNode(shape, x, y, r = 9) {
  switch (shape) {
    case "square":
      return el("rect", { x: x - r + 1, y: y - r + 1, width: 2 * r - 2, height: 2 * r - 2, rx: 2 });
    case "circle":
      return el("circle", { cx: x, cy: y, r });
    case "triangle":
      return el("polygon", {
        points: points([
          [x, y - r - 1],
          [x + r + 1, y + r - 1],
          [x - r - 1, y + r - 1],
        ]),
      });
    case "invtriangle":
      return el("polygon", {
        points: points([
          [x - r - 1, y - r + 1],
          [x + r + 1, y - r + 1],
          [x, y + r + 1],
        ]),
      });
    case "diamond":
      return el("polygon", {
        points: points([
          [x, y - r - 1],
          [x + r + 1, y],
          [x, y + r + 1],
          [x - r - 1, y],
        ]),
      });
    case "hexagon": {
      const corners = [0, 1, 2, 3, 4, 5].map((i) => {
        const a = (Math.PI / 3) * i;
        return [x + r * Math.cos(a), y + r * Math.sin(a)];
      });
      return el("polygon", { points: points(corners) });
    }
    default:
      return el("circle", { cx: x, cy: y, r });
  }
}

/** A heartbeat mark: the reason's shape and letter, filled when accepted, outlined when not;
 * hollow when another tab sent it. */
function markNode(mark, x, y, title) {
  const style = REASONS[mark.reason] ?? REASONS.manual;
  const other = mark.tab === "other-tab" ? " from-other-tab" : "";
  const group = el("g", { class: `mark reason-${mark.reason} ${mark.ok ? "is-ok" : "is-failed"}${other}` });
  group.append(el("title", {}, title));
  group.append(shapeNode(style.shape, x, y));
  const dy = style.shape === "triangle" ? 3.5 : style.shape === "invtriangle" ? 0 : 1.5;
  group.append(
    el("text", { x, y: y + dy, class: "mark-letter", "dominant-baseline": "middle" }, style.letter),
  );
  return group;
}

/** The broken-way request: a red tag with its status. */
function brokenNode(mark, x, y, title) {
  const group = el("g", { class: "broken-mark" });
  group.append(el("title", {}, title));
  group.append(el("rect", { x: x - 16, y: y - 9, width: 32, height: 18, rx: 4 }));
  group.append(el("text", { x, y: y + 1.5, "dominant-baseline": "middle" }, String(mark.status || "×")));
  return group;
}

/** A warning or a recovery: a short flag between the keeper's lanes. */
function noteNode(mark, x) {
  const group = el("g", { class: `note note-${mark.tone}` });
  group.append(el("title", {}, mark.title));
  const top = LANES.ok.y + 14;
  const bottom = LANES.failed.y + 12;
  group.append(el("line", { x1: x, x2: x, y1: top, y2: bottom }));
  group.append(el("text", { x: x + 4, y: top + 8 }, mark.label));
  return group;
}

/** A step of about a tenth of the window, rounded to a friendly duration. */
function tickStep(windowMs) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
  return steps.find((s) => windowMs / s <= 10) ?? steps[steps.length - 1];
}

function relativeLabel(deltaMs) {
  if (Math.abs(deltaMs) < 1) return "now";
  const sign = deltaMs < 0 ? "−" : "+";
  const s = Math.round(Math.abs(deltaMs) / 1000);
  if (s < 60) return `${sign}${s} s`;
  const m = s / 60;
  return `${sign}${Number.isInteger(m) ? m : m.toFixed(1)} min`;
}

/**
 * Redraws `svg` for `view`:
 * { now, pastMs, futureMs, createdAt, expiresAt, ghosts: [ms], endedAt, endedLabel,
 *   marks: [{ at, source: "keeper"|"broken"|"note", tab, ok, reason, status, title, tone, label }],
 *   outages: [{ from, to }],
 *   formatTime: (ms) => string, formatIn: (ms) => string }
 */
export function drawTimeline(svg, view) {
  const width = Math.max(280, Math.round(svg.getBoundingClientRect().width) || 800);
  svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  svg.setAttribute("height", String(HEIGHT));
  const left = view.now - view.pastMs;
  const right = view.now + view.futureMs;
  const x = (t) => PAD_X + ((t - left) / (right - left)) * (width - 2 * PAD_X);
  const clampX = (t) => x(Math.min(right, Math.max(left, t)));
  const inView = (t) => t >= left && t <= right;

  const desc = svg.querySelector("desc");
  const frame = document.createDocumentFragment();
  if (desc) frame.append(desc);

  // Lanes and their labels.
  for (const lane of Object.values(LANES)) {
    frame.append(el("line", { x1: PAD_X, x2: width - PAD_X, y1: lane.y, y2: lane.y, class: "lane" }));
  }

  // Outages the page asked for.
  for (const outage of view.outages) {
    if (outage.to < left || outage.from > right) continue;
    const x1 = clampX(outage.from);
    const x2 = clampX(outage.to);
    frame.append(
      el("rect", {
        x: x1,
        y: BAND_Y - 4,
        width: Math.max(1, x2 - x1),
        height: AXIS_Y - BAND_Y + 4,
        class: "outage",
      }),
    );
    if (x2 - x1 > 70) {
      frame.append(el("text", { x: (x1 + x2) / 2, y: AXIS_Y - 6, class: "outage-label" }, "server down"));
    }
  }

  // The session's life: lived (up to now or its end), then granted (up to the expiry).
  const end = view.endedAt ?? view.expiresAt;
  if (view.createdAt !== undefined && end !== undefined) {
    const livedEnd = Math.min(view.now, end);
    if (livedEnd > left) {
      const x1 = clampX(view.createdAt);
      const x2 = clampX(livedEnd);
      frame.append(
        el("rect", {
          x: x1,
          y: BAND_Y,
          width: Math.max(0, x2 - x1),
          height: BAND_H,
          rx: 3,
          class: "band-lived",
        }),
      );
    }
    if (view.endedAt === undefined && view.expiresAt > view.now) {
      const x1 = clampX(view.now);
      const x2 = clampX(view.expiresAt);
      frame.append(
        el("rect", {
          x: x1,
          y: BAND_Y,
          width: Math.max(0, x2 - x1),
          height: BAND_H,
          rx: 3,
          class: "band-granted",
        }),
      );
    }
  }
  frame.append(el("text", { x: PAD_X, y: BAND_Y - 9, class: "lane-label" }, "session alive · granted"));

  // Earlier expiries, superseded by a later heartbeat: the expiry being pushed forward.
  for (const ghost of view.ghosts) {
    if (!inView(ghost)) continue;
    frame.append(
      el("line", { x1: x(ghost), x2: x(ghost), y1: BAND_Y - 4, y2: BAND_Y + BAND_H + 4, class: "ghost" }),
    );
  }

  // Lane labels go over the lane lines and under the marks.
  for (const lane of Object.values(LANES)) {
    frame.append(el("text", { x: PAD_X, y: lane.y - 15, class: "lane-label" }, lane.label));
  }

  // The axis, ticks relative to now.
  frame.append(el("line", { x1: PAD_X, x2: width - PAD_X, y1: AXIS_Y, y2: AXIS_Y, class: "axis" }));
  const step = tickStep(view.pastMs + view.futureMs);
  const minPx = 46;
  let lastLabelX = -Infinity;
  for (let k = -Math.floor(view.pastMs / step); k * step <= view.futureMs; k += 1) {
    const tx = x(view.now + k * step);
    frame.append(el("line", { x1: tx, x2: tx, y1: AXIS_Y, y2: AXIS_Y + 4, class: "tick" }));
    if (k !== 0 && tx - lastLabelX >= minPx && Math.abs(tx - x(view.now)) >= minPx / 1.5) {
      frame.append(el("text", { x: tx, y: AXIS_Y + 15, class: "tick-label" }, relativeLabel(k * step)));
      lastLabelX = tx;
    }
  }

  // Now.
  const nowX = x(view.now);
  frame.append(el("line", { x1: nowX, x2: nowX, y1: BAND_Y - 4, y2: AXIS_Y + 4, class: "now" }));
  frame.append(el("text", { x: nowX, y: AXIS_Y + 15, class: "tick-label now-label" }, "now"));

  // Marks, oldest first so the newest is drawn on top; marks closer than their width are
  // staggered up and down so that each one stays readable.
  const previous = {};
  for (const mark of view.marks) {
    if (!inView(mark.at)) continue;
    const mx = x(mark.at);
    if (mark.source === "note") {
      frame.append(noteNode(mark, mx));
      continue;
    }
    const lane = mark.source === "broken" ? "broken" : mark.ok ? "ok" : "failed";
    const minGap = lane === "broken" ? 34 : 19;
    const last = previous[lane];
    const level = last && mx - last.x < minGap ? (last.level + 1) % STAGGER.length : 0;
    previous[lane] = { x: mx, level };
    const my = LANES[lane].y + STAGGER[level];
    frame.append(
      lane === "broken" ? brokenNode(mark, mx, my, mark.title) : markNode(mark, mx, my, mark.title),
    );
  }

  // The end, or the current expiry.
  if (view.endedAt !== undefined) {
    if (inView(view.endedAt)) {
      const ex = x(view.endedAt);
      frame.append(el("line", { x1: ex, x2: ex, y1: BAND_Y - 6, y2: AXIS_Y, class: "ended" }));
      frame.append(edgeLabel(ex, width, BAND_Y - 9, view.endedLabel, "ended-label"));
    }
  } else if (view.expiresAt !== undefined) {
    if (view.expiresAt <= right) {
      const ex = x(view.expiresAt);
      frame.append(el("line", { x1: ex, x2: ex, y1: BAND_Y - 6, y2: AXIS_Y, class: "expiry" }));
      frame.append(
        el("polygon", {
          points: points([
            [ex - 6, BAND_Y - 8],
            [ex + 6, BAND_Y - 8],
            [ex, BAND_Y - 1],
          ]),
          class: "expiry-head",
        }),
      );
      frame.append(
        edgeLabel(ex, width, BAND_Y - 11, `expires ${view.formatTime(view.expiresAt)}`, "expiry-label"),
      );
    } else {
      const ex = width - PAD_X;
      frame.append(
        el("polygon", {
          points: points([
            [ex - 10, BAND_Y - 1],
            [ex, BAND_Y + BAND_H / 2],
            [ex - 10, BAND_Y + BAND_H + 1],
          ]),
          class: "expiry-head",
        }),
      );
      frame.append(
        edgeLabel(
          ex,
          width,
          BAND_Y - 11,
          `expires in ${view.formatIn(view.expiresAt - view.now)} →`,
          "expiry-label",
        ),
      );
    }
  }

  svg.replaceChildren(frame);
}

/** A label anchored at x, kept inside the chart. */
function edgeLabel(x, width, y, text, cls) {
  const anchor = x > width - 150 ? "end" : x < 150 ? "start" : "middle";
  const dx = anchor === "end" ? 4 : anchor === "start" ? -4 : 0;
  return el("text", { x: x + dx, y, class: cls, "text-anchor": anchor }, text);
}

/** Fills the legend list: each reason's shape and letter, and what the lanes and lines mean. */
export function drawLegend(list) {
  const items = [];
  for (const [reason, style] of Object.entries(REASONS)) {
    const svg = el("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": "true" });
    svg.append(markNode({ reason, ok: true }, 12, 12, style.label));
    svg.querySelector("title")?.remove();
    items.push([svg, style.label]);
  }
  const other = el("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": "true" });
  other.append(markNode({ reason: "timer", ok: true, tab: "other-tab" }, 12, 12, ""));
  other.querySelector("title")?.remove();
  items.push([other, "Sent by the leader tab (hollow)"]);
  const failed = el("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": "true" });
  failed.append(markNode({ reason: "timer", ok: false }, 12, 12, ""));
  failed.querySelector("title")?.remove();
  items.push([failed, "Failed (outlined, lower lane)"]);
  const broken = el("svg", { viewBox: "0 0 36 24", width: 33, height: 22, "aria-hidden": "true" });
  broken.append(brokenNode({ status: 415 }, 18, 12, ""));
  broken.querySelector("title")?.remove();
  items.push([broken, "Plain fetch without JSON Content-Type"]);
  const expiry = el("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": "true" });
  expiry.append(el("line", { x1: 12, x2: 12, y1: 6, y2: 24, class: "expiry" }));
  expiry.append(el("polygon", { points: "6,2 18,2 12,9", class: "expiry-head" }));
  items.push([expiry, "Expiry now"]);
  const ghost = el("svg", { viewBox: "0 0 24 24", width: 22, height: 22, "aria-hidden": "true" });
  ghost.append(el("rect", { x: 0, y: 8, width: 24, height: 8, rx: 2, class: "band-granted" }));
  ghost.append(el("line", { x1: 12, x2: 12, y1: 4, y2: 20, class: "ghost" }));
  items.push([ghost, "Earlier expiry, pushed forward"]);

  list.replaceChildren(
    ...items.map(([icon, label]) => {
      const li = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = label;
      li.append(icon, text);
      return li;
    }),
  );
}
