// Server-side rendering: frameworks import a page's modules in Node, where there is no window.
// Against the installed (packed) session-keeper package, --target web, this checks that:
//   - importing it does not throw and defines no globals;
//   - after `initSync({ module: bytes })` or `await init({ module_or_path: bytes })`,
//     `new SessionKeeper(...)` throws an Error that says there is no window;
//   - constructing before the wasm is initialized throws too (it cannot work, and it must not
//     pass silently);
//   - the process then exits on its own: nothing keeps Node alive.
// With a --target bundler package folder as argument, it also imports that build in plain Node
// and reports what happens: Node cannot load its `import ... from "./session_keeper_bg.wasm"`
// without --experimental-wasm-modules; with the flag, the same no-window Error is required.
//
//   node ssr.mjs [bundler-pkg-dir]
//
// Each case runs in its own Node process, so each starts with a fresh, uninitialized module.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const NO_WINDOW = /needs a browser page: there is no window/;
const OPTIONS = { url: "/api/v1/session/{sessionId}/heartbeat", sessionId: "ssr" };

/** What happens when `construct()` runs: { threw, name, message, isError }. */
function attempt(construct) {
  try {
    construct();
    return { threw: false };
  } catch (error) {
    return { threw: true, name: error?.name, message: String(error?.message), isError: error instanceof Error };
  }
}

/** The cases, each run in a child process; each prints one JSON line. */
const CASES = {
  async import() {
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    const pkg = await import("session-keeper");
    const added = Object.getOwnPropertyNames(globalThis).filter((name) => !before.has(name));
    return {
      exports: Object.keys(pkg).sort(),
      types: [typeof pkg.default, typeof pkg.initSync, typeof pkg.SessionKeeper],
      added,
    };
  },
  async initSync() {
    const { initSync, SessionKeeper } = await import("session-keeper");
    const bytes = await readFile(fileURLToPath(import.meta.resolve("session-keeper/session_keeper_bg.wasm")));
    initSync({ module: bytes });
    return attempt(() => new SessionKeeper(OPTIONS));
  },
  async init() {
    const { default: init, SessionKeeper } = await import("session-keeper");
    const bytes = await readFile(fileURLToPath(import.meta.resolve("session-keeper/session_keeper_bg.wasm")));
    await init({ module_or_path: bytes });
    return attempt(() => new SessionKeeper(OPTIONS));
  },
  async uninitialized() {
    const { SessionKeeper } = await import("session-keeper");
    return attempt(() => new SessionKeeper(OPTIONS));
  },
  async bundler(dir) {
    try {
      const { SessionKeeper } = await import(pathToFileURL(resolve(dir, "session_keeper.js")).href);
      return { imported: true, ...attempt(() => new SessionKeeper(OPTIONS)) };
    } catch (error) {
      return { imported: false, code: error?.code, message: String(error?.message) };
    }
  },
};

/** Runs one case in a fresh Node process, with `flags`; returns its JSON result. */
function run(name, args = [], flags = []) {
  const child = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), "--case", name, ...args], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(child.signal, null, `${name}: killed by ${child.signal} (did something keep Node alive?)`);
  assert.equal(child.status, 0, `${name}: exited with ${child.status}\n${child.stdout}${child.stderr}`);
  const line = child.stdout.trim().split("\n").at(-1);
  return JSON.parse(line);
}

function check(text, fn) {
  fn();
  console.log(`  ok   ${text}`);
}

const argv = process.argv.slice(2);
if (argv[0] === "--case") {
  console.log(JSON.stringify(await CASES[argv[1]](...argv.slice(2))));
} else {
  assert.equal(typeof globalThis.window, "undefined", "this test must run where there is no window");
  const bundlerDir = argv[0];

  const imported = run("import");
  check(`import "session-keeper" in Node: exports ${imported.exports.join(", ")}`, () => {
    assert.deepEqual(imported.types, ["function", "function", "function"]);
    assert.deepEqual(imported.added, [], `the import defined globals: ${imported.added}`);
  });

  for (const name of ["initSync", "init"]) {
    const result = run(name);
    check(`after ${name === "init" ? "await init" : "initSync"}({ ... bytes }), new SessionKeeper() throws: "${result.message}"`, () => {
      assert.equal(result.threw, true, "constructing in Node did not throw");
      assert.equal(result.isError, true, `it threw a ${result.name}, not an Error`);
      assert.equal(result.name, "Error");
      assert.match(result.message, NO_WINDOW);
    });
  }

  const early = run("uninitialized");
  check(`before init, new SessionKeeper() throws too: ${early.name}: ${early.message}`, () => {
    assert.equal(early.threw, true, "constructing before init did not throw");
  });

  if (bundlerDir) {
    const plain = run("bundler", [bundlerDir]);
    if (plain.imported) {
      check(`--target bundler imports in plain Node; new SessionKeeper() throws: "${plain.message}"`, () => {
        assert.equal(plain.isError, true);
        assert.match(plain.message, NO_WINDOW);
      });
    } else {
      check(`--target bundler does not import in plain Node: ${plain.code}: ${plain.message}`, () => {
        assert.equal(plain.code, "ERR_UNKNOWN_FILE_EXTENSION", plain.message);
      });
      const flagged = run("bundler", [bundlerDir], ["--experimental-wasm-modules", "--no-warnings"]);
      check(`--target bundler with node --experimental-wasm-modules: new SessionKeeper() throws: "${flagged.message}"`, () => {
        assert.equal(flagged.imported, true, `${flagged.code}: ${flagged.message}`);
        assert.equal(flagged.isError, true);
        assert.match(flagged.message, NO_WINDOW);
      });
    }
  }
  console.log("ssr: the package imports in Node, and a keeper says there is no window");
}
