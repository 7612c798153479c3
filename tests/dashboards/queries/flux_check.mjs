// Checks Flux scripts with Flux's own parser and semantic analyser (types, builtin signatures),
// from the @influxdata/flux-lsp-browser package (wasm). Usage:
//   node flux_check.mjs PACKAGE_DIR QUERIES.json     (QUERIES: [[where, script], ...])
// Prints one line per invalid script and exits 1 if any. The package is built for bundlers
// (its glue module imports the .wasm directly); here the glue is loaded with the wasm
// instantiated by hand.
import { readFileSync, writeFileSync, mkdtempSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

const [pkg, queriesFile] = process.argv.slice(2);
let glue = readFileSync(join(pkg, "flux-lsp-browser_bg.js"), "utf8");
glue = glue.replace(
  /^import \* as wasm from .*$/m,
  "let wasm; export function __set_wasm(w) { wasm = w; " +
    "cachedInt32Memory0 = new Int32Array(wasm.memory.buffer); " +
    "cachedUint8Memory0 = new Uint8Array(wasm.memory.buffer); }",
);
glue = glue.replace(/^cached(Int32|Uint8)Memory0 = new .*$/gm, "");
const gluePath = join(mkdtempSync(join(tmpdir(), "fluxcheck-")), "glue.mjs");
writeFileSync(gluePath, glue);
const bg = await import(gluePath);
const bytes = readFileSync(join(pkg, "flux-lsp-browser_bg.wasm"));
const { instance } = await WebAssembly.instantiate(bytes, { "./flux-lsp-browser_bg.js": bg });
bg.__set_wasm(instance.exports);

// Grafana provides v.timeRangeStart, v.timeRangeStop and v.windowPeriod; declare them.
const V = "v = {timeRangeStart: 2026-01-01T00:00:00Z, timeRangeStop: 2026-01-01T06:00:00Z, " +
  "windowPeriod: 1m}";
let bad = 0;
for (const [where, script] of JSON.parse(readFileSync(queriesFile, "utf8"))) {
  const lines = script.split("\n");
  let k = 0;
  while (k < lines.length && lines[k].startsWith("import ")) k++;
  const full = [...lines.slice(0, k), V, ...lines.slice(k)].join("\n");
  let ok = false;
  try {
    ok = bg.is_valid_flux(full) && new bg.Flux(full).is_valid();
  } catch (e) {
    ok = false;
  }
  if (!ok) {
    bad++;
    console.log(`invalid Flux: ${where}`);
  }
}
console.log(`checked ${JSON.parse(readFileSync(queriesFile, "utf8")).length}, invalid ${bad}`);
process.exit(bad ? 1 : 0);
