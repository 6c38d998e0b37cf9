// End-to-end journeys through the real desktop app: tauri-driver in front of WebKitWebDriver,
// the release binary with its bundled UI, a real office database written by the real CLI.
// Run by scripts/test under xvfb-run with MALIPO_APP, MALIPO_CLI, MALIPO_RELAY_BIN and
// MALIPO_SANDBOX_BIN set. Each journey is a file in journeys/ and a test of node's test runner,
// with its own pass or fail line:
//
//   node ui/e2e/run.mjs                  every journey, in the order of their files
//   node ui/e2e/run.mjs refund paybill   the journeys whose file names contain these words
//                                        (each after the journeys it starts from)
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const dir = join(import.meta.dirname, "journeys");
const files = readdirSync(dir).filter((f) => f.endsWith(".mjs")).sort();
const wanted = process.argv.slice(2);
const chosen = wanted.length === 0 ? files : files.filter((f) => wanted.some((w) => f.includes(w)));
if (chosen.length === 0) {
  throw new Error(`no journey's file name contains ${wanted.join(" or ")}; the journeys: ${files.join(", ")}`);
}
// Every file is loaded before the first test starts, so the tests are registered in order.
const journeys = [];
for (const file of chosen) {
  journeys.push((await import(pathToFileURL(join(dir, file)).href)).default);
}
for (const j of journeys) {
  test(j.title, { timeout: j.timeout }, () => j.ensure());
}
