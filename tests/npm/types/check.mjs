// Checks the installed session-keeper package's TypeScript types with the pinned tsc, in strict
// mode and with the package's own .d.ts checked (no skipLibCheck):
//   - ok.ts compiles with no error, under `moduleResolution: bundler` (Vite and other bundlers)
//     and under `nodenext` (Node, server-side rendering);
//   - each misuse/*.ts fails, with only the error its first line names ("// Fails with TS2353:
//     ..."), and only in that file: a misuse that fails for another reason (say, the package
//     not found) does not count.
//
//   node check.mjs

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tsc = join(here, "node_modules", ".bin", "tsc");
// `lib: esnext` because wasm-bindgen's .d.ts declares `[Symbol.dispose]()` (ES2026 explicit
// resource management); `es2022,dom,esnext.disposable` is enough too.
const STRICT = ["--strict", "--noEmit", "--skipLibCheck", "false", "--target", "esnext", "--lib", "esnext,dom"];
const BUNDLER = [...STRICT, "--module", "esnext", "--moduleResolution", "bundler"];
const NODE = [...STRICT, "--module", "nodenext", "--moduleResolution", "nodenext"];

/** Runs tsc on one file; returns its exit status and its errors as { file, code, text }. */
function compile(file, flags) {
  const run = spawnSync(tsc, [...flags, file], { cwd: here, encoding: "utf8" });
  if (run.error) throw run.error;
  const output = `${run.stdout}${run.stderr}`;
  const errors = [...output.matchAll(/^(?:(\S+?)\(\d+,\d+\): )?error (TS\d+): (.*)$/gm)].map(
    ([, where, code, text]) => ({ file: where ?? "(global)", code, text }),
  );
  if (run.status !== 0 && errors.length === 0) {
    throw new Error(`tsc ${file} exited with ${run.status} and printed no error:\n${output}`);
  }
  return { status: run.status, errors, output };
}

let failed = 0;
function report(ok, text, detail = "") {
  console.log(`  ${ok ? "ok  " : "FAIL"} ${text}`);
  if (!ok) {
    failed += 1;
    if (detail) console.log(detail.replace(/^/gm, "       "));
  }
}

for (const [name, flags] of [["bundler", BUNDLER], ["nodenext", NODE]]) {
  const { status, errors, output } = compile("ok.ts", flags);
  report(status === 0 && errors.length === 0, `ok.ts compiles (moduleResolution ${name})`, output);
}

const misuses = readdirSync(join(here, "misuse")).filter((f) => f.endsWith(".ts")).sort();
if (misuses.length === 0) throw new Error("no misuse/*.ts files");
for (const name of misuses) {
  const file = `misuse/${name}`;
  const header = readFileSync(join(here, file), "utf8").match(/^\/\/ Fails with (TS\d+):/);
  if (!header) throw new Error(`${file}: the first line must say "// Fails with TSnnnn: why"`);
  const expected = header[1];
  const { status, errors, output } = compile(file, BUNDLER);
  const wrong = errors.filter((e) => e.code !== expected || e.file !== file);
  report(
    status !== 0 && errors.length > 0 && wrong.length === 0,
    `${file} fails with ${expected}`,
    status === 0 ? "it compiled" : output,
  );
}

if (failed) {
  console.error(`types: ${failed} check(s) failed`);
  process.exit(1);
}
console.log(`types: ok.ts compiles and ${misuses.length} misuses fail as expected (tsc --strict)`);
