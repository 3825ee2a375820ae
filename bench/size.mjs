// The brotli and minified sizes of what a page downloads, for bench/bench.py's size section,
// which measures gzip -9 itself (the command scripts/size.sh runs).
//   node bench/size.mjs <out-dir> <file>...
// For each file: its raw bytes and its brotli bytes (Node's zlib at the highest quality, 11, with
// the file's size as the size hint; the default window, 22 bits, and the generic mode). For a
// JavaScript file also the same after `terser -c -m` (compress and mangle, as an ES module), as
// an app's bundler would ship it: the minified text is written to <out-dir> so that gzip can be
// run on it too. Prints one JSON line.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";
import { minify } from "terser";

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) throw new Error("usage: node bench/size.mjs <out-dir> <file>...");
mkdirSync(outDir, { recursive: true });

function brotli(bytes) {
  return brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }).length;
}

const out = {};
for (const [i, file] of files.entries()) {
  const bytes = readFileSync(file);
  const row = { raw: bytes.length, brotli: brotli(bytes) };
  if (/\.m?js$/.test(file)) {
    const { code } = await minify(bytes.toString("utf8"), {
      module: true,
      compress: true,
      mangle: true,
      format: { comments: false },
    });
    const minified = Buffer.from(code, "utf8");
    const path = join(outDir, `${i}-${basename(file)}`);
    writeFileSync(path, minified);
    row.minified = { path, raw: minified.length, brotli: brotli(minified) };
  }
  out[file] = row;
}
console.log(JSON.stringify(out));
