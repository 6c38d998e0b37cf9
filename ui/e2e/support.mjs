// What the journeys share: the programs under test, the office they start from, waiting with a
// deadline, the app under WebDriver, and `journey`, which declares one journey with the
// journeys it builds on.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { remote } from "webdriverio";

export const app = process.env.MALIPO_APP;
export const cli = process.env.MALIPO_CLI;
export const relayBin = process.env.MALIPO_RELAY_BIN;
export const sandboxBin = process.env.MALIPO_SANDBOX_BIN;
if (!app || !cli || !relayBin || !sandboxBin) {
  throw new Error("set MALIPO_APP, MALIPO_CLI, MALIPO_RELAY_BIN and MALIPO_SANDBOX_BIN");
}
/** This folder (ui/e2e), for paths into the repository. */
export const e2eDir = import.meta.dirname;
export const shots = resolve(e2eDir, "../../test-output/e2e");
mkdirSync(shots, { recursive: true });

/** The longest one journey may take, its prerequisites included, before it fails. */
const JOURNEY_TIMEOUT_MS = 15 * 60 * 1000;

export function portOpen(port) {
  return new Promise((ok) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); ok(true); });
    s.once("error", () => ok(false));
  });
}

/** A port nothing listens on now. */
export function freePort() {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Waits until `fn` answers true, asking every 100 ms, for at most `ms`. */
export async function until(what, fn, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Starts the app (`application`, the built one unless given) on the office in `dataDir`,
 * runs `journey`, and always cleans up. */
export async function withApp(dataDir, journey, env = {}, application = app) {
  const driver = spawn("tauri-driver", ["--port", "4444", "--native-port", "4445"], {
    env: { ...process.env, ...env, MALIPO_DATA_DIR: dataDir },
    stdio: ["ignore", "inherit", "inherit"],
  });
  let browser;
  try {
    await until("tauri-driver on port 4444", () => portOpen(4444));
    browser = await remote({
      hostname: "127.0.0.1",
      port: 4444,
      logLevel: "error",
      capabilities: { "tauri:options": { application } },
    });
    try {
      await journey(browser);
    } catch (e) {
      await browser.saveScreenshot(join(shots, `failed-${Date.now()}.png`)).catch(() => {});
      throw e;
    }
  } finally {
    if (browser) await browser.deleteSession().catch(() => {});
    driver.kill();
    await until("tauri-driver to stop", async () => !(await portOpen(4444)), 5000);
  }
}

/** Signs in on the sign-in form. */
export async function signIn(b, username, password) {
  const form = await b.$('[data-testid="signin-form"]');
  await form.waitForDisplayed({ timeout: 10000 });
  await b.$('[data-testid="username"]').setValue(username);
  await b.$('[data-testid="password"]').setValue(password);
  await b.$('[data-testid="signin-submit"]').click();
}

/** A data directory with nothing in it: the app opens there in demo mode, first run. */
export const empty = mkdtempSync(join(tmpdir(), "malipo-e2e-empty-"));

/** The office most journeys work in, written by the real CLI: the demo's sample policies,
 * customer messages sent day and night, and its administrator wanjiku. The journeys that build
 * on one another (see their `needs`) leave it as the next expects. */
export const office = mkdtempSync(join(tmpdir(), "malipo-e2e-office-"));
export const officeEnv = { ...process.env, MALIPO_DATA_DIR: office };
execFileSync(cli, ["policy", "import", resolve(e2eDir, "../../demo/policies.csv")], {
  env: officeEnv,
  stdio: "inherit",
});
// Customer SMS go out day and night in the tests (the default holds them from 21:00 to 07:00).
execFileSync(cli, ["settings", "set", "messages.quiet_hours", "off"], { env: officeEnv, stdio: "inherit" });
execFileSync(cli, ["user", "add", "--username", "wanjiku", "--role", "admin"], {
  env: { ...officeEnv, MALIPO_NEW_PASSWORD: "counter-pass-2026" },
  stdio: "inherit",
});
process.on("exit", () => {
  rmSync(empty, { recursive: true, force: true });
  rmSync(office, { recursive: true, force: true });
});

/**
 * Declares a journey: its title, the journeys whose results it starts from (`needs`), and what
 * it does. `ensure()` runs it once per process, after what it needs (each also once): so a
 * journey run alone first brings the office to where it starts, and in a full run nothing runs
 * twice. A journey file run as a program (`node --test ui/e2e/journeys/07-refund.mjs`) is its
 * own test; `ui/e2e/run.mjs` makes the tests otherwise.
 */
export function journey(url, needs, title, run) {
  let state = null;
  const j = {
    title,
    ensure() {
      state ??= (async () => {
        for (const n of needs) {
          try {
            await n.ensure();
          } catch (e) {
            throw new Error(`it starts where "${n.title}" ends, and that failed: ${e.message}`);
          }
        }
        await run();
      })();
      return state;
    },
  };
  if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === url) {
    test(title, { timeout: JOURNEY_TIMEOUT_MS }, () => j.ensure());
  }
  j.timeout = JOURNEY_TIMEOUT_MS;
  return j;
}
