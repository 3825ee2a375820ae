// Several tabs of one session, for real: pages of ONE Chromium browser context, each running a
// SessionKeeper on the same session of a real keeper-server, at scaled timings (a heartbeat every
// 1.5 s). What the server received comes from its request log (`--demo`), what each tab saw from
// its keeper's events and getters.
//
//   node tabs.mjs <base-url> [--only <name part>]...
//
// The live-channel test needs a server with GET /api/v1/session/{id}/live (and /metrics); on one
// without, it is reported PENDING. A slow repeated race is listed but runs only by name.
//
// The server must run with --demo and a short TTL (`--ttl 10s`): the idle test waits for the TTL
// to end the session of an idle user. Each test opens its own browser context (its tabs share it,
// as tabs of one profile do), creates its own session, waits on events or on the server's log
// with a deadline, and closes everything it opened, pass or fail.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import {
  CHROMIUM,
  Server,
  events,
  keeperOptions,
  longestGap,
  openTab,
  harnessUrl,
  startKeepers,
  view,
  waitFor,
} from "./harness.mjs";

const INTERVAL_MS = 1_500;
const THROTTLE_MS = 500;
const FAST = { intervalMs: INTERVAL_MS, activityThrottleMs: THROTTLE_MS };
/** How late a timer may fire on a busy 2-core machine and still count as on time. */
const SLACK_MS = 350;
/** The fallback election's timings (keeper-core/src/election.rs). */
const BEACON_MS = 1_000;
const LEADER_TIMEOUT_MS = 3_500;
const CLAIM_MS = 300;
/** A follower's grace past the expiry (keeper-core/src/machine.rs PEER_GRACE_MS). */
const PEER_GRACE_MS = 2_000;
const NO_LOCKS = () =>
  Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined, configurable: true });

const started = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function parseArgs(argv) {
  const options = { base: process.env.DEMO_URL || "http://127.0.0.1:8080/", only: [] };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--only") options.only.push(argv[++i]);
    else if (argv[i].startsWith("-")) throw new Error(`unknown option ${argv[i]}`);
    else options.base = argv[i];
  }
  return options;
}

/** What a test gets: its server, contexts and tabs that are closed after it, and a log. */
class Run {
  constructor(browser, server, name) {
    this.browser = browser;
    this.server = server;
    this.name = name;
    this.contexts = [];
    this.problems = [];
    this.t0 = Date.now();
  }

  step(text) {
    console.log(`    ${secs(Date.now() - this.t0).padStart(6)}  ${text}`);
  }

  /** A browser context whose pages get the harness page; `locks: false` removes the Web Locks
   * API from every page, so the keepers fall back to their BroadcastChannel election. */
  async context({ locks = true } = {}) {
    const context = await this.browser.newContext({ viewport: { width: 800, height: 600 } });
    this.contexts.push(context);
    if (!locks) await context.addInitScript(NO_LOCKS);
    context.harness = harnessUrl(this.server.base);
    return context;
  }

  async tabs(context, count) {
    const pages = await Promise.all(
      Array.from({ length: count }, () => openTab(context, context.harness, this.problems)),
    );
    pages.forEach((page, i) => (page.label = `tab ${i + 1}`));
    return pages;
  }

  /** `count` tabs of a new session in a new context, each with a started keeper for `options`
   * (plus the session's url and id). */
  async keep(count, options = FAST, { locks = true } = {}) {
    const context = await this.context({ locks });
    const pages = await this.tabs(context, count);
    const session = await this.server.createSession();
    const keeper = keeperOptions(session, options);
    const startedAt = await startKeepers(pages, keeper);
    return { context, pages, session, keeper, startedAt };
  }

  async close() {
    await Promise.allSettled(this.contexts.map((context) => context.close()));
  }

  /** No page error and no console error or warning, except those `allowed` matches. */
  assertClean(allowed = []) {
    const unexpected = this.problems.filter((p) => !allowed.some((re) => re.test(p)));
    assert.deepEqual(unexpected, [], "no page errors, console errors or warnings");
  }
}

const views = (pages) => Promise.all(pages.map(view));
const leaders = async (pages) => (await views(pages)).filter((v) => v?.isLeader).length;

/** Samples how many tabs lead, every 100 ms for `ms`; resolves with the counts seen. */
async function leadersDuring(pages, ms) {
  const until = Date.now() + ms;
  const seen = new Set();
  await waitFor(
    `${secs(ms)} of sampling the leaders`,
    async () => {
      seen.add(await leaders(pages));
      return Date.now() >= until;
    },
    { timeoutMs: ms + 5_000, everyMs: 100 },
  );
  return [...seen];
}

/** The one tab that leads, once exactly one does. */
async function theLeader(pages, timeoutMs = 3_000) {
  return waitFor(
    "exactly one leader tab",
    async () => {
      const all = await views(pages);
      const leading = pages.filter((_, i) => all[i]?.isLeader);
      return leading.length === 1 ? leading[0] : null;
    },
    { timeoutMs },
  );
}

/** Waits until the server has received `count` heartbeats for the session (after `since`). */
function serverBeats(run, session, count, { since = 0, timeoutMs = 5_000 } = {}) {
  return waitFor(
    `${count} heartbeat(s) at the server since ${since ? secs(since - run.t0) : "the start"}`,
    async () => {
      const beats = (await run.server.heartbeats(session.id)).filter((b) => b.ms >= since);
      return beats.length >= count ? beats : null;
    },
    { timeoutMs },
  );
}

/** Waits until every page has an event `cb` that `match` accepts; returns one per page. On a
 * timeout, the error lists what each tab that lacks one did see. */
async function eachSaw(pages, cb, match = () => true, timeoutMs = 5_000) {
  let found = [];
  try {
    return await waitFor(
      `${cb} in every tab`,
      async () => {
        found = await Promise.all(pages.map(async (page) => (await events(page, cb)).find(match)));
        return found.every(Boolean) ? found : null;
      },
      { timeoutMs },
    );
  } catch (error) {
    const missing = await Promise.all(
      pages
        .filter((_, i) => !found[i])
        .map(async (page) => {
          const seen = (await events(page).catch(() => [])).map(
            (e) => `${e.cb}(${e.reason ?? e.code ?? e.to ?? e.isLeader ?? ""}, ${e.source ?? ""})`,
          );
          return `${page.label}: ${seen.join(" ")}`;
        }),
    );
    throw new Error(`${error.message}\n      ${missing.join("\n      ")}`);
  }
}

/** Crashes a tab's renderer, as an out-of-memory kill would, and waits for the page to say so. */
async function crash(context, page) {
  const crashed = new Promise((resolve) => page.once("crash", resolve));
  const cdp = await context.newCDPSession(page);
  // The renderer dies before it can answer.
  cdp.send("Page.crash").catch(() => {});
  await Promise.race([crashed, pause(3_000)]);
}

/** Asserts the session's heartbeats form one stream: never two within `minGap`, never a pause
 * longer than `maxGap`. */
function assertOneStream(beats, { maxGap = INTERVAL_MS + SLACK_MS, minGap = INTERVAL_MS * 0.6 } = {}) {
  const times = beats.map((b) => b.ms);
  const { gap, at } = longestGap(times);
  assert.ok(gap <= maxGap, `no pause longer than ${maxGap} ms between heartbeats: ${gap} ms after ${at}`);
  for (let i = 1; i < times.length; i += 1) {
    assert.ok(
      times[i] - times[i - 1] >= minGap,
      `one stream: heartbeats ${times[i] - times[i - 1]} ms apart (at ${beats[i].at})`,
    );
  }
  return gap;
}

// ---------------------------------------------------------------------------------------------
// The tests

/** 1, 2 and 4 tabs of one session cost one tab's heartbeats; every tab hears every result. */
async function oneStreamForManyTabs(run) {
  const WINDOW_MS = 7 * INTERVAL_MS;
  const measure = async (n) => {
    const { pages, session } = await run.keep(n);
    await eachSaw(pages, "onHeartbeat");
    // One window of seven intervals, with the number of leaders sampled all along it.
    const from = Date.now();
    const leadersSeen = await leadersDuring(pages, WINDOW_MS);
    const until = from + WINDOW_MS;
    const beats = await run.server.heartbeats(session.id);
    const inWindow = beats.filter((b) => b.ms >= from && b.ms < until);
    // Each tab heard each heartbeat of the window: the leader as its own, the others from it.
    const heard = await Promise.all(
      pages.map(async (page) =>
        (await events(page, "onHeartbeat")).filter((e) => e.sentAt >= from - 50 && e.sentAt < until),
      ),
    );
    // The tabs agree on the session: same expiry and last heartbeat, within a second.
    await waitFor(
      `the ${n} tabs to agree on expiresAt and lastHeartbeatAt`,
      async () => {
        const all = await views(pages);
        return all.every(
          (v) => v.expiresAt === all[0].expiresAt && v.lastHeartbeatAt === all[0].lastHeartbeatAt,
        );
      },
      { timeoutMs: 1_000 },
    );
    return { n, session, beats, inWindow, heard, leadersSeen, pages };
  };
  const results = await Promise.all([1, 2, 4].map(measure));
  const one = results[0].inWindow.length;
  const expected = WINDOW_MS / INTERVAL_MS;
  for (const r of results) {
    const count = r.inWindow.length;
    run.step(
      `${r.n} tab(s): ${count} heartbeats in ${secs(WINDOW_MS)} ` +
        `(${(count / one).toFixed(2)}x one tab), leaders seen ${r.leadersSeen}`,
    );
    assert.deepEqual(r.leadersSeen, [1], `${r.n} tabs: exactly one leader all along`);
    assert.ok(r.beats.every((b) => b.status === 200), `${r.n} tabs: every heartbeat answered 200`);
    assert.ok(
      Math.abs(count - expected) <= 1,
      `${r.n} tabs: ${count} heartbeats in seven intervals, one stream expected`,
    );
    assert.ok(count <= Math.max(one * 1.1, one + 1), `${r.n} tabs cost ${count} vs ${one} for one tab`);
    assertOneStream(r.beats);
    const leaderIndex = r.heard.findIndex((list) => list.some((e) => e.source === "this-tab"));
    r.heard.forEach((list, i) => {
      const source = i === leaderIndex ? "this-tab" : "other-tab";
      assert.ok(
        Math.abs(list.length - count) <= 1,
        `${r.n} tabs: tab ${i + 1} heard ${list.length} of the ${count} heartbeats`,
      );
      assert.ok(
        list.every((e) => e.source === source),
        `${r.n} tabs: tab ${i + 1} hears its heartbeats as ${source}`,
      );
    });
  }
  run.assertClean();
}

/** Real mouse moves in a follower tab make the leader send an activity heartbeat; a stream of
 * moves costs at most one heartbeat per activityThrottleMs. */
async function activityInAFollower(run) {
  // A long interval: any heartbeat before the session's safety margin is activity's.
  const { pages, session } = await run.keep(3, { intervalMs: 60_000, activityThrottleMs: THROTTLE_MS });
  const [startBeat] = await serverBeats(run, session, 1);
  // A tab that starts after the first heartbeat learns of it from the leader's snapshot, which
  // is no heartbeat event: every tab knows the expiry either way.
  await waitFor("every tab to know the expiry", async () =>
    (await views(pages)).every((v) => v.state === "running" && v.expiresAt !== undefined),
  );
  const leader = await theLeader(pages);
  const follower = pages.find((page) => page !== leader);
  const expiryBefore = (await view(follower)).expiresAt;
  run.step(`${leader.label} leads; moving the mouse in ${follower.label}`);

  // One move, once the throttle window after the start heartbeat is over.
  await waitFor("the throttle window to pass", async () => Date.now() > startBeat.ms + THROTTLE_MS + 50);
  const movedAt = Date.now();
  await follower.mouse.move(300, 200);
  await follower.mouse.move(320, 210);
  const beats = await serverBeats(run, session, 2, { timeoutMs: 3_000 });
  const activityBeat = beats[1];
  assert.equal(beats.length, 2, "exactly one heartbeat followed the move");
  assert.ok(activityBeat.ms >= movedAt, "the heartbeat came after the move");
  const after = activityBeat.ms - movedAt;
  assert.ok(after < 1_000, `the heartbeat came ${after} ms after the move`);
  assert.ok(activityBeat.ms > startBeat.ms, "and after the start heartbeat");
  const seen = await eachSaw(pages, "onHeartbeat", (e) => e.reason === "activity");
  pages.forEach((page, i) => {
    const source = page === leader ? "this-tab" : "other-tab";
    assert.equal(seen[i].source, source, `${page.label} hears the activity heartbeat as ${source}`);
    assert.ok(seen[i].sentAt >= movedAt, `${page.label}: sent after the move`);
  });
  const expiryAfter = (await view(follower)).expiresAt;
  assert.ok(expiryAfter > expiryBefore, "the follower's activity extended the session");
  run.step(`the server got an activity heartbeat ${after} ms after the move`);

  // A storm of moves for 3 s: throttled in the follower, at most one heartbeat per window.
  const stormFrom = Date.now();
  for (let i = 0; Date.now() - stormFrom < 3_000; i += 1) {
    await follower.mouse.move(100 + (i % 40) * 10, 100 + (i % 13) * 20);
    await pause(10);
  }
  const stormUntil = Date.now();
  const storm = (await run.server.heartbeats(session.id)).filter(
    (b) => b.ms >= stormFrom && b.ms <= stormUntil + 300,
  );
  const most = Math.ceil((stormUntil - stormFrom) / THROTTLE_MS) + 1;
  run.step(`3 s of mouse moves in ${follower.label}: ${storm.length} heartbeats (at most ${most})`);
  assert.ok(storm.length >= 3, `continuous activity keeps extending the session: ${storm.length}`);
  assert.ok(storm.length <= most, `activity is throttled: ${storm.length} heartbeats in 3 s`);
  assertOneStream(storm, { maxGap: Infinity, minGap: THROTTLE_MS - 50 });
  run.assertClean();
}

/** Closing the leader tab, then crashing the next one: another tab takes over each time, with
 * no pause in the heartbeats longer than one interval. */
async function leaderClosesAndCrashes(run) {
  const { context, pages, session } = await run.keep(4);
  await serverBeats(run, session, 2);
  let open = [...pages];
  for (const how of ["closed", "crashed"]) {
    const leader = await theLeader(open);
    const beforeCount = (await run.server.heartbeats(session.id)).length;
    const at = Date.now();
    if (how === "closed") {
      await leader.close();
    } else {
      await crash(context, leader);
    }
    open = open.filter((page) => page !== leader);
    const next = await theLeader(open, 3_000);
    const tookOver = Date.now() - at;
    const changes = await events(next, "onLeaderChange");
    assert.equal(changes.at(-1)?.isLeader, true, `${next.label} was told it leads`);
    await serverBeats(run, session, beforeCount + 3, { timeoutMs: 4 * INTERVAL_MS + 2_000 });
    const beats = await run.server.heartbeats(session.id);
    const gap = assertOneStream(beats);
    run.step(
      `leader ${leader.label} ${how}: ${next.label} leads after ${tookOver} ms; longest pause ${gap} ms`,
    );
  }
  // Crashing a tab logs nothing in the others.
  run.assertClean();
}

/** Deleting the session on the server: every tab reports it expired, and nothing more is sent. */
async function everyTabSeesTheExpiry(run) {
  const { pages, session } = await run.keep(3);
  await eachSaw(pages, "onHeartbeat");
  const leader = await theLeader(pages);
  assert.equal(await run.server.deleteSession(session.id), 204, "DELETE answered 204");
  const deletedAt = Date.now();
  const expired = await eachSaw(pages, "onExpired", () => true, INTERVAL_MS + 3_000);
  const all = await views(pages);
  for (const [i, page] of pages.entries()) {
    const source = page === leader ? "this-tab" : "other-tab";
    assert.equal(all[i].state, "expired", `${page.label} is expired`);
    assert.equal(expired[i].reason, "not_found", `${page.label}: expired, not_found`);
    assert.equal(expired[i].source, source, `${page.label}: the expiry is ${source} news`);
    // The 404 itself, once in every tab, even in one that the freed lock reaches before the
    // leader's last message (see "takes over from an expired leader" below).
    const errors = await events(page, "onError");
    assert.equal(errors.length, 1, `${page.label} reported the 404 once`);
    assert.equal(errors[0].status, 404, `${page.label}: the failed heartbeat was a 404`);
    assert.equal(errors[0].source, source, `${page.label}: the 404 is ${source} news`);
  }
  const spread = Math.max(...expired.map((e) => e.at)) - Math.min(...expired.map((e) => e.at));
  assert.ok(spread < 1_000, `every tab knew within a second: ${spread} ms apart`);
  const took = Date.now() - deletedAt;
  run.step(`every tab expired (not_found) within ${spread} ms, ${took} ms after the DELETE`);

  // Nothing after the expiry, for two intervals: no request, no event, nobody leading.
  const requests = (await run.server.requests(session.id)).length;
  const eventCounts = await Promise.all(pages.map(async (page) => (await events(page)).length));
  const quietUntil = Date.now() + 2 * INTERVAL_MS;
  await waitFor(
    "two quiet intervals after the expiry",
    async () => {
      const now = (await run.server.requests(session.id)).length;
      assert.equal(now, requests, "no request reached the server after the expiry");
      return Date.now() >= quietUntil;
    },
    { timeoutMs: 2 * INTERVAL_MS + 3_000, everyMs: 200 },
  );
  const after = await Promise.all(pages.map(async (page) => (await events(page)).length));
  assert.deepEqual(after, eventCounts, "no event after the expiry");
  assert.equal(await leaders(pages), 0, "nobody leads a session that is gone");
  run.step("two intervals later: no request, no event, no leader");
  run.assertClean([/status of 404/]);
}

/** The idle policy across tabs: the prompt and idle in every tab on time, activity ignored while
 * prompted, activate() in one tab dismissing the prompt in all, and no heartbeat after idle, so
 * the server's TTL ends the session. */
async function idlePolicyAcrossTabs(run) {
  const IDLE_MS = 6_000;
  const PROMPT_MS = 3_000;
  const policy = { idleTimeoutMs: IDLE_MS, promptBeforeIdleMs: PROMPT_MS };
  const { pages, session, startedAt } = await run.keep(3, { ...FAST, ...policy });
  const leader = await theLeader(pages);
  const follower = pages.find((page) => page !== leader);
  // Opening a tab is activity: the idle clock runs from the last tab's start.
  const expectedIdleAt = Math.max(...startedAt);

  // The prompt, in every tab, idleTimeout - promptBefore after the last start.
  const prompts = await eachSaw(pages, "onPrompt", () => true, IDLE_MS);
  for (const [i, prompt] of prompts.entries()) {
    assert.ok(
      Math.abs(prompt.idleAt - (expectedIdleAt + IDLE_MS)) <= 50,
      `${pages[i].label}: idleAt ${prompt.idleAt - expectedIdleAt} ms after the last start`,
    );
    const early = prompt.at - (prompt.idleAt - PROMPT_MS);
    assert.ok(early >= -5 && early <= SLACK_MS, `${pages[i].label}: prompted ${early} ms after its time`);
    assert.ok(prompt.remainingMs <= PROMPT_MS && prompt.remainingMs >= PROMPT_MS - SLACK_MS);
  }
  assert.ok(
    (await views(pages)).every((v) => v.presence === "prompted"),
    "every tab is prompted",
  );
  run.step(`every tab prompted ${prompts[0].remainingMs} ms before idle`);

  // Ordinary activity while prompted does not dismiss the prompt (a bumped mouse is no consent).
  for (let i = 0; i < 20; i += 1) {
    await follower.mouse.move(200 + i * 10, 200 + (i % 3) * 10);
    await pause(25);
  }
  await pause(300);
  assert.ok(
    (await views(pages)).every((v) => v.presence === "prompted"),
    "mouse moves leave every tab prompted",
  );
  assert.equal((await Promise.all(pages.map((page) => events(page, "onActive")))).flat().length, 0);
  run.step(`mouse moves in ${follower.label} left every tab prompted`);

  // "Stay signed in" in a follower: onActive everywhere, and the leader beats.
  const activatedAt = await follower.evaluate(() => window.tab.activate());
  const active = await eachSaw(pages, "onActive", () => true, 1_000);
  pages.forEach((page, i) => {
    const source = page === follower ? "this-tab" : "other-tab";
    assert.equal(active[i].source, source, `${page.label}: onActive from ${source}`);
  });
  assert.ok((await views(pages)).every((v) => v.presence === "active"), "every tab is active again");
  // The leader's manual heartbeat; or, when a heartbeat was already on its way as the leader
  // heard of activate(), that one, which the request joins (as beat() does).
  const answered = await eachSaw(
    pages,
    "onHeartbeat",
    (e) => (e.reason === "manual" && e.sentAt >= activatedAt) || (e.at >= activatedAt && e.sentAt < activatedAt),
  );
  assert.equal(answered[pages.indexOf(leader)].source, "this-tab", "the leader sent the heartbeat");
  const idleAts = (await views(pages)).map((v) => v.idleAt);
  assert.ok(
    idleAts.every((t) => Math.abs(t - (activatedAt + IDLE_MS)) <= 50),
    `the idle clock restarted at activate() in every tab: ${idleAts.map((t) => t - activatedAt)}`,
  );
  run.step(`activate() in ${follower.label}: onActive in every tab, the leader's heartbeat answered it`);

  // Idle at idleTimeoutMs after activate(), in every tab, with a prompt before.
  const idle = await eachSaw(pages, "onIdle", () => true, IDLE_MS + 2_000);
  const second = await Promise.all(pages.map(async (page) => (await events(page, "onPrompt")).length));
  assert.deepEqual(second, [2, 2, 2], "a second prompt came before idle");
  for (const [i, e] of idle.entries()) {
    const late = e.at - e.idleAt;
    assert.ok(Math.abs(e.idleAt - (activatedAt + IDLE_MS)) <= 50, `${pages[i].label}: idleAt`);
    assert.ok(late >= -5 && late <= SLACK_MS, `${pages[i].label}: idle ${late} ms after its time`);
  }
  const idleAt = idle[0].idleAt;
  run.step("every tab idle, idleTimeoutMs after activate()");

  // No heartbeat after idle: the session lives out its TTL and ends; every tab reports it.
  const lastBeat = (await run.server.heartbeats(session.id)).at(-1);
  const expired = await eachSaw(
    pages,
    "onExpired",
    () => true,
    lastBeat.ms + session.ttlMs + PEER_GRACE_MS + 3_000 - Date.now(),
  );
  assert.ok(expired.every((e) => e.reason === "ttl_elapsed"), "expired: ttl_elapsed");
  const beats = await run.server.heartbeats(session.id);
  const late = beats.filter((b) => b.ms > idleAt + 100);
  assert.deepEqual(late, [], "no heartbeat reached the server after idle");
  assert.equal(await run.server.sessionStatus(session.id), 404, "the server's TTL ended the session");
  run.step(`no heartbeat after idle; the session ended ${secs(expired[0].at - idleAt)} after idle`);
  run.assertClean();
}

/** Without the Web Locks API the tabs elect a leader over BroadcastChannel: exactly one leads,
 * one stream of heartbeats, and a leader that closes or crashes is replaced. */
async function broadcastChannelElection(run) {
  const { context, pages, session, startedAt: starts } = await run.keep(4, FAST, { locks: false });
  const startedAt = Math.max(...starts);
  const missing = await Promise.all(pages.map((page) => page.evaluate(() => navigator.locks === undefined)));
  assert.deepEqual(missing, [true, true, true, true], "navigator.locks is gone in every tab");
  await theLeader(pages, 2_000);
  const electedIn = Date.now() - startedAt;
  // Seven intervals, sampling the number of leaders: it must stay one.
  assert.deepEqual(await leadersDuring(pages, 7 * INTERVAL_MS), [1], "exactly one leader all along");
  let beats = await run.server.heartbeats(session.id);
  const expected = (beats.at(-1).ms - beats[0].ms) / INTERVAL_MS + 1;
  assert.ok(beats.length <= expected + 1, `one stream: ${beats.length} heartbeats`);
  assertOneStream(beats);
  run.step(`4 tabs elected one leader in ${electedIn} ms; ${beats.length} heartbeats, one stream`);

  // The leader closes: it resigns on pagehide, another takes over at once.
  let leader = await theLeader(pages);
  let at = Date.now();
  await leader.close();
  let open = pages.filter((page) => page !== leader);
  let next = await theLeader(open, 2_000);
  const closedIn = Date.now() - at;
  let count = (await run.server.heartbeats(session.id)).length;
  beats = await serverBeats(run, session, count + 2, { timeoutMs: 3 * INTERVAL_MS + 2_000 });
  let gap = assertOneStream(beats);
  run.step(`leader closed: ${next.label} leads after ${closedIn} ms; longest pause ${gap} ms`);

  // The leader crashes: no resignation, so the others wait out its silence.
  leader = next;
  at = Date.now();
  await crash(context, leader);
  open = open.filter((page) => page !== leader);
  next = await theLeader(open, LEADER_TIMEOUT_MS + BEACON_MS + CLAIM_MS + 2_000);
  const crashedIn = Date.now() - at;
  count = (await run.server.heartbeats(session.id)).length;
  beats = await serverBeats(run, session, count + 2, { timeoutMs: 3 * INTERVAL_MS + 2_000 });
  // A silent leader is given up after LEADER_TIMEOUT_MS, so with an interval shorter than that
  // the pause is the election's, not the interval.
  gap = assertOneStream(beats, {
    maxGap: Math.max(INTERVAL_MS, LEADER_TIMEOUT_MS + BEACON_MS + CLAIM_MS) + SLACK_MS,
  });
  assert.ok(crashedIn <= LEADER_TIMEOUT_MS + BEACON_MS + CLAIM_MS + SLACK_MS, `took over in ${crashedIn} ms`);
  run.step(`leader crashed: ${next.label} leads after ${crashedIn} ms; longest pause ${gap} ms`);
  run.assertClean();
}

/** The Page Lifecycle: a leader that is frozen or hidden for the back/forward cache gives the
 * heartbeats away, and takes part again when it resumes. */
async function pageLifecycle(run) {
  const { pages, session } = await run.keep(2);
  await serverBeats(run, session, 2);
  const a = await theLeader(pages);
  const b = pages.find((page) => page !== a);

  // Freeze. Headless Chromium keeps every page visible, and CDP's Page.setWebLifecycleState
  // freezes hidden pages only; so the page gets the `freeze` event the browser would send.
  let at = Date.now();
  await a.evaluate(() => document.dispatchEvent(new Event("freeze")));
  assert.equal(await theLeader(pages, 2_000), b, `${b.label} leads once ${a.label} froze`);
  run.step(`${a.label} frozen: ${b.label} leads after ${Date.now() - at} ms`);
  assert.deepEqual(
    (await events(a, "onLeaderChange")).map((e) => e.isLeader),
    [true, false],
    `${a.label} was told it no longer leads`,
  );
  let count = (await run.server.heartbeats(session.id)).length;
  await serverBeats(run, session, count + 2, { timeoutMs: 3 * INTERVAL_MS + 2_000 });

  // Resume: it follows, hears the heartbeats, and stands in line for the lead.
  at = Date.now();
  await a.evaluate(() => document.dispatchEvent(new Event("resume")));
  await waitFor(`${a.label} to hear a heartbeat after resuming`, async () =>
    (await events(a, "onHeartbeat")).some((e) => e.source === "other-tab" && e.sentAt > at),
  );
  assert.equal((await view(a)).isLeader, false, `${a.label} follows after resuming`);
  assert.equal((await view(a)).state, "running");
  await b.close();
  await waitFor(`${a.label} to lead once ${b.label} closed`, async () => (await view(a)).isLeader, {
    timeoutMs: 2_000,
  });
  count = (await run.server.heartbeats(session.id)).length;
  let beats = await serverBeats(run, session, count + 2, { timeoutMs: 3 * INTERVAL_MS + 2_000 });
  const gap = assertOneStream(beats);
  run.step(`${a.label} resumed, followed, and led again when ${b.label} closed; longest pause ${gap} ms`);

  // pagehide into the back/forward cache: the lock is given up and nothing is sent meanwhile;
  // pageshow: it leads again and beats at once, the heartbeat being overdue.
  const hiddenAt = Date.now();
  await a.evaluate(() => dispatchEvent(new PageTransitionEvent("pagehide", { persisted: true })));
  assert.equal((await view(a)).isLeader, false, "a hidden page does not lead");
  count = (await run.server.heartbeats(session.id)).length;
  const quietUntil = hiddenAt + 2 * INTERVAL_MS;
  await waitFor(
    "two intervals in the back/forward cache",
    async () => {
      assert.equal((await run.server.heartbeats(session.id)).length, count, "nothing sent while hidden");
      return Date.now() >= quietUntil;
    },
    { timeoutMs: 2 * INTERVAL_MS + 3_000, everyMs: 200 },
  );
  const shownAt = Date.now();
  await a.evaluate(() => dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true })));
  beats = await serverBeats(run, session, 1, { since: shownAt, timeoutMs: 2_000 });
  const back = await waitFor("the heartbeat after pageshow", async () =>
    (await events(a, "onHeartbeat")).find((e) => e.sentAt >= shownAt),
  );
  assert.equal((await view(a)).isLeader, true, `${a.label} leads again after pageshow`);
  assert.equal(back.reason, "resume", "the overdue heartbeat goes out as a resume");
  run.step(
    `pagehide: nothing sent for ${secs(shownAt - hiddenAt)}; ` +
      `pageshow: a resume heartbeat ${beats[0].ms - shownAt} ms later`,
  );
  run.assertClean();
}

/** The server going away for a few seconds: every tab hears each failure, one warning and the
 * recovery, and they agree on the state all along. */
async function failuresReachEveryTab(run) {
  const OUTAGE_MS = 4_000;
  const options = { ...FAST, failureWarningMs: 2_000, retryMinMs: 300, retryMaxMs: 1_000 };
  const { pages } = await run.keep(3, options);
  await eachSaw(pages, "onHeartbeat");
  const leader = await theLeader(pages);
  const response = await fetch(run.server.url("/api/v1/demo/outage"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ms: OUTAGE_MS }),
  });
  assert.equal(response.status, 202, "the server agreed to go away");
  const wentAt = Date.now();
  // During the outage the tabs agree that heartbeats fail.
  const failing = await waitFor("every tab failing", async () => {
    const all = await views(pages);
    return all.every((v) => v.state === "failing") ? all : null;
  });
  const recovered = await eachSaw(pages, "onRecovered", () => true, OUTAGE_MS + 5_000);
  const all = await views(pages);
  const perTab = await Promise.all(
    pages.map(async (page) => ({
      errors: await events(page, "onError"),
      warnings: await events(page, "onWarning"),
      recovered: await events(page, "onRecovered"),
    })),
  );
  const leaderErrors = perTab[pages.indexOf(leader)].errors.length;
  pages.forEach((page, i) => {
    const source = page === leader ? "this-tab" : "other-tab";
    const { errors, warnings } = perTab[i];
    assert.equal(all[i].state, "running", `${page.label} is running again`);
    assert.equal(all[i].consecutiveFailures, 0, `${page.label}: no failure counted any more`);
    assert.equal(errors.length, leaderErrors, `${page.label} heard each of the ${leaderErrors} failures`);
    assert.ok(errors.every((e) => e.source === source && e.status === 0), `${page.label}: ${source} failures`);
    assert.equal(warnings.length, 1, `${page.label}: one warning for the episode`);
    assert.equal(warnings[0].source, source, `${page.label}: the warning is ${source} news`);
    assert.equal(perTab[i].recovered.length, 1, `${page.label}: one recovery`);
    assert.equal(recovered[i].source, source, `${page.label}: the recovery is ${source} news`);
  });
  assert.ok(failing.every((v) => v.consecutiveFailures >= 1));
  const consoleWarnings = run.problems.filter((p) => /failing for failureWarningMs/.test(p));
  assert.equal(consoleWarnings.length, 1, `one console warning, the leader's: ${consoleWarnings}`);
  run.step(
    `server away for ${secs(OUTAGE_MS)}: ${leaderErrors} failures, a warning and the recovery in ` +
      `every tab, ${secs(recovered[0].at - wentAt)} after it went`,
  );
  run.assertClean([/net::ERR_CONNECTION_REFUSED/, /heartbeats have been failing for failureWarningMs/]);
}

/** Whether the server has the live channel: a plain GET (no upgrade) of a live session's
 * `/live` is 426 there, and 404 on a server without it. */
async function hasLiveChannel(server, session) {
  const response = await fetch(server.url(`/api/v1/session/${encodeURIComponent(session.id)}/live`));
  await response.arrayBuffer();
  return response.status === 426;
}

/** The server's count of open live sockets, from its /metrics. */
async function liveSockets(server) {
  const text = await (await fetch(server.url("/metrics"))).text();
  return Number(/^keeper_live_sockets (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Follows the WebSockets a page opens: how many, and whether the newest one has heard the
 * server (its first message, the session's expiry, comes as soon as it is open). */
function watchSockets(page) {
  page.sockets = [];
  page.on("websocket", (ws) => {
    const socket = { url: ws.url(), frames: 0, closed: false };
    page.sockets.push(socket);
    ws.on("framereceived", () => (socket.frames += 1));
    ws.on("close", () => (socket.closed = true));
  });
}

const listening = (page) => page.sockets.some((s) => s.frames > 0 && !s.closed);

/** With the live channel (`live: true`), only the leader tab holds a socket, the next leader
 * takes it over, and a deletion on the server reaches every tab within a second, without a
 * heartbeat. */
async function liveChannelInTheLeaderOnly(run) {
  const probe = await run.server.createSession();
  const available = await hasLiveChannel(run.server, probe);
  await run.server.deleteSession(probe.id);
  if (!available) {
    run.step("PENDING: this server has no live channel (GET /api/v1/session/{id}/live)");
    run.pending = true;
    return;
  }
  // A long interval: nothing but the start heartbeat is due while the test runs.
  const options = { intervalMs: 60_000, activityThrottleMs: THROTTLE_MS, live: true };
  const context = await run.context();
  const pages = await run.tabs(context, 3);
  pages.forEach(watchSockets);
  const session = await run.server.createSession();
  await startKeepers(pages, keeperOptions(session, options));
  const leader = await theLeader(pages);
  await waitFor(`${leader.label}'s socket to hear the server`, () => listening(leader));
  const seen = new Set();
  const until = Date.now() + 1_000;
  await waitFor(
    "a second of 3 tabs",
    async () => {
      seen.add(await liveSockets(run.server));
      return Date.now() >= until;
    },
    { everyMs: 100 },
  );
  assert.deepEqual([...seen], [1], "three tabs, one socket at the server");
  assert.deepEqual(
    pages.map((page) => page.sockets.length),
    pages.map((page) => (page === leader ? 1 : 0)),
    "only the leader tab opened one",
  );
  await leader.close();
  const open = pages.filter((page) => page !== leader);
  const next = await theLeader(open);
  await waitFor(`${next.label}'s socket to hear the server`, () => listening(next), { timeoutMs: 3_000 });
  await waitFor("the closed tab's socket to be gone", async () => (await liveSockets(run.server)) === 1);
  assert.equal(next.sockets.length, 1, `${next.label} opened one socket`);
  assert.deepEqual(
    open.filter((page) => page !== next).map((page) => page.sockets.length),
    [0],
    "the follower left opened none",
  );
  run.step(`3 tabs held one live socket; ${next.label} took it over when ${leader.label} closed`);

  const beats = (await run.server.heartbeats(session.id)).length;
  const deletedAt = Date.now();
  assert.equal(await run.server.deleteSession(session.id), 204);
  const expired = await eachSaw(open, "onExpired", () => true, 2_000);
  const latest = Math.max(...expired.map((e) => e.at)) - deletedAt;
  assert.ok(expired.every((e) => e.reason === "revoked"), "expired: revoked");
  assert.ok(latest < 1_000, `every tab knew within a second: ${latest} ms`);
  assert.equal((await run.server.heartbeats(session.id)).length, beats, "no heartbeat was needed");
  await waitFor("the socket closed", async () => (await liveSockets(run.server)) === 0);
  run.step(`deleted on the server: every tab expired (revoked) within ${latest} ms, by the push`);
  run.assertClean();
}

/** A tab opened while the others show the idle prompt agrees with them: prompted, with their
 * idleAt. Its own opening is ordinary activity, which a prompt ignores; had it counted, the new
 * tab would stay "active" with a later idleAt and no prompt while the leader went idle and
 * stopped the heartbeats. */
async function aTabOpenedDuringThePrompt(run) {
  const policy = { idleTimeoutMs: 6_000, promptBeforeIdleMs: 3_000 };
  const { context, pages, keeper } = await run.keep(2, { ...FAST, ...policy });
  await eachSaw(pages, "onPrompt", () => true, 6_000);
  const [late] = await run.tabs(context, 1);
  late.label = "the new tab";
  await startKeepers([late], keeper);
  const all = [...pages, late];
  await waitFor("the new tab to agree", async () => {
    const list = await views(all);
    return list.every((v) => v.presence === list[0].presence && v.idleAt === list[0].idleAt);
  }, { timeoutMs: 1_000 }).catch(async () => {
    const list = await views(all);
    throw new Error(`tabs disagree: ${JSON.stringify(list.map((v) => [v.presence, v.idleAt]))}`);
  });
  run.assertClean();
}

/** When the leader learns that the session is gone, it frees the lock; the next tab in line must
 * still hear the leader's last failure and not send again, though the lock may reach it before
 * the leader's last message does. A race, so the scenario runs 12 times (about 45 s: run it by
 * name). Before the failure travelled with the end (one message, "gone"), a tab led for a moment,
 * ignored the failure as a leader ignores other tabs' failures, and sent one more heartbeat to
 * the deleted session, in about one round of six. */
async function takesOverFromAnExpiredLeader(run) {
  for (let round = 1; round <= 12; round += 1) {
    const { context, pages, session } = await run.keep(3);
    await eachSaw(pages, "onHeartbeat");
    assert.equal(await run.server.deleteSession(session.id), 204);
    await eachSaw(pages, "onExpired", () => true, INTERVAL_MS + 3_000);
    const missed = [];
    for (const page of pages) {
      if ((await events(page, "onError")).length !== 1) {
        const seen = (await events(page)).map((e) => `${e.cb}(${e.reason ?? e.isLeader ?? ""})`);
        missed.push(`${page.label}: ${seen.join(" ")}`);
      }
    }
    const notFound = (await run.server.heartbeats(session.id)).filter((b) => b.status === 404).length;
    assert.deepEqual(missed, [], `round ${round}: every tab reports the 404 once`);
    assert.equal(notFound, 1, `round ${round}: one heartbeat reached the deleted session`);
    await context.close();
  }
  run.step("12 rounds: every tab reported the 404, and only one heartbeat reached the deleted session");
  run.assertClean([/status of 404/]);
}

const KINDS = { slow: "a race, repeated for 45 s" };

const TESTS = [
  ["one stream of heartbeats for 1, 2 and 4 tabs", oneStreamForManyTabs, 60_000],
  ["activity in a follower tab", activityInAFollower, 30_000],
  ["the leader closes, then crashes", leaderClosesAndCrashes, 40_000],
  ["every tab sees the expiry", everyTabSeesTheExpiry, 30_000],
  ["the idle policy across tabs", idlePolicyAcrossTabs, 60_000],
  ["the BroadcastChannel election without Web Locks", broadcastChannelElection, 60_000],
  ["the Page Lifecycle: freeze, resume, pagehide, pageshow", pageLifecycle, 40_000],
  ["failures, the warning and the recovery reach every tab", failuresReachEveryTab, 30_000],
  ["the live channel in the leader tab only", liveChannelInTheLeaderOnly, 30_000],
  ["a tab opened during the prompt agrees with the others", aTabOpenedDuringThePrompt, 20_000],
  // Run by name only (--only): a race repeated.
  ["the next tab takes over from an expired leader", takesOverFromAnExpiredLeader, 90_000, "slow"],
];

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const server = new Server(options.base);
  const probe = await server.createSession();
  assert.ok(
    probe.ttlMs <= 20_000,
    `the server's TTL is ${secs(probe.ttlMs)}: run it with a short one (--ttl 10s) for these tests`,
  );
  await server.deleteSession(probe.id);
  console.log(`tabs e2e: ${server.base} (server TTL ${secs(probe.ttlMs)})`);
  const browser = await chromium.launch(CHROMIUM);
  const failures = [];
  const pending = [];
  const byName = [];
  try {
    for (const [name, test, budget, known] of TESTS) {
      const named = options.only.some((part) => name.includes(part));
      if (options.only.length > 0 ? !named : known) {
        if (known && options.only.length === 0) byName.push(`${name} (${KINDS[known]})`);
        continue;
      }
      const run = new Run(browser, server, name);
      console.log(`  ${name}`);
      let timer;
      try {
        await Promise.race([
          test(run),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`over its ${secs(budget)} budget`)), budget);
          }),
        ]);
        if (run.pending) pending.push(name);
        else console.log(`  ok: ${name} (${secs(Date.now() - run.t0)})`);
      } catch (error) {
        failures.push(name);
        console.error(`  FAILED: ${name} after ${secs(Date.now() - run.t0)}`);
        console.error(error);
      } finally {
        clearTimeout(timer);
        await run.close();
      }
    }
  } finally {
    await browser.close();
  }
  const took = secs(Date.now() - started);
  if (failures.length > 0) {
    console.error(`tabs e2e: ${failures.length} FAILED (${failures.join("; ")}) in ${took}`);
    process.exit(1);
  }
  for (const name of pending) console.log(`tabs e2e: PENDING on this server: ${name}`);
  for (const name of byName) console.log(`tabs e2e: not run, --only to run it: ${name}`);
  console.log(`tabs e2e: passed in ${took}`);
}

main().catch((error) => {
  console.error("tabs e2e: FAILED");
  console.error(error);
  process.exit(1);
});
