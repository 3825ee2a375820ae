// Checks an npm tarball made by `wasm-pack pack`: its package.json, and that it holds exactly the
// files that package.json names (plus package.json and the README).
//
//   node tarball.mjs <session-keeper-x.y.z.tgz> <web|bundler>
//
// For both targets: an ES module package (`type: module`) whose `main` and `module` name the
// same glue file, `types` its .d.ts, and the .wasm beside them. `sideEffects`: for --target web
// the glue only defines things until `init()` is called, so it must not be listed (a bundler may
// then drop it when unused); for --target bundler the glue instantiates the wasm when imported,
// so it must be listed, or a bundler could drop that.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

const [tarball, target] = process.argv.slice(2);
if (!tarball || !["web", "bundler"].includes(target)) {
  throw new Error("usage: node tarball.mjs <tarball> <web|bundler>");
}

const entries = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
  .split("\n")
  .filter(Boolean)
  .map((entry) => entry.replace(/^package\//, ""))
  .sort();
const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));

assert.equal(pkg.name, "session-keeper");
assert.match(pkg.version, /^\d+\.\d+\.\d+/);
assert.equal(pkg.type, "module", "not an ES module package");
assert.equal(pkg.main, "session_keeper.js");
assert.equal(pkg.module, pkg.main, "`module` must name the glue, like `main`");
assert.equal(pkg.types, "session_keeper.d.ts");
assert.ok(Array.isArray(pkg.sideEffects), "`sideEffects` must be a list");
const listsGlue = pkg.sideEffects.some((path) => path.replace(/^\.\//, "") === pkg.main);
if (target === "web") {
  assert.equal(listsGlue, false, `--target web: sideEffects lists the glue: ${pkg.sideEffects}`);
} else {
  assert.equal(listsGlue, true, `--target bundler: sideEffects must list the glue: ${pkg.sideEffects}`);
}
for (const field of ["description", "license", "repository"]) assert.ok(pkg[field], `no ${field}`);

const glue = target === "web" ? ["session_keeper.js"] : ["session_keeper.js", "session_keeper_bg.js"];
const expected = ["README.md", "package.json", "session_keeper.d.ts", "session_keeper_bg.wasm", ...glue].sort();
assert.deepEqual([...pkg.files].sort(), expected.filter((f) => !["README.md", "package.json"].includes(f)));
assert.deepEqual(entries, expected, "the tarball's files");

console.log(
  `tarball: ${tarball} (${target}): main = module = ${pkg.main}, types = ${pkg.types}, ` +
    `sideEffects = ${JSON.stringify(pkg.sideEffects)}; ${entries.length} files`,
);
