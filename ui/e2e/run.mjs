// End-to-end journeys through the real desktop app: tauri-driver in front of WebKitWebDriver,
// the release binary with its bundled UI, a real office database written by the real CLI.
// Run by scripts/test under xvfb-run with MALIPO_APP and MALIPO_CLI set.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { remote } from "webdriverio";

const app = process.env.MALIPO_APP;
const cli = process.env.MALIPO_CLI;
if (!app || !cli) throw new Error("set MALIPO_APP and MALIPO_CLI");
const shots = resolve(import.meta.dirname, "../../test-output/e2e");
mkdirSync(shots, { recursive: true });

function portOpen(port) {
  return new Promise((ok) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); ok(true); });
    s.once("error", () => ok(false));
  });
}

async function until(what, fn, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Starts the app on the office in `dataDir`, runs `journey`, and always cleans up. */
async function withApp(dataDir, journey) {
  const driver = spawn("tauri-driver", ["--port", "4444", "--native-port", "4445"], {
    env: { ...process.env, MALIPO_DATA_DIR: dataDir },
    stdio: ["ignore", "inherit", "inherit"],
  });
  let browser;
  try {
    await until("tauri-driver on port 4444", () => portOpen(4444));
    browser = await remote({
      hostname: "127.0.0.1",
      port: 4444,
      logLevel: "error",
      capabilities: { "tauri:options": { application: app } },
    });
    await journey(browser);
  } finally {
    if (browser) await browser.deleteSession().catch(() => {});
    driver.kill();
    await until("tauri-driver to stop", async () => !(await portOpen(4444)), 5000);
  }
}

const results = [];
async function journey(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const empty = mkdtempSync(join(tmpdir(), "malipo-e2e-empty-"));
const office = mkdtempSync(join(tmpdir(), "malipo-e2e-office-"));
const officeEnv = { ...process.env, MALIPO_DATA_DIR: office };
execFileSync(cli, ["policy", "import", resolve(import.meta.dirname, "../../demo/policies.csv")], {
  env: officeEnv,
  stdio: "inherit",
});
execFileSync(cli, ["user", "add", "--username", "wanjiku", "--role", "admin"], {
  env: { ...officeEnv, MALIPO_NEW_PASSWORD: "counter-pass-2026" },
  stdio: "inherit",
});

/** Signs in on the sign-in form. */
async function signIn(b, username, password) {
  const form = await b.$('[data-testid="signin-form"]');
  await form.waitForDisplayed({ timeout: 10000 });
  await b.$('[data-testid="username"]').setValue(username);
  await b.$('[data-testid="password"]').setValue(password);
  await b.$('[data-testid="signin-submit"]').click();
}

try {
  await journey("a new office opens in demo mode, creates its administrator and says how to add policies", () =>
    withApp(empty, async (b) => {
      const url = await b.getUrl();
      assert(!url.startsWith("http://localhost"), `the app loaded the dev server: ${url}`);
      const banner = await b.$('[data-testid="demo-banner"]');
      await banner.waitForDisplayed({ timeout: 10000 });
      assert((await banner.getText()).includes("no money moves"), "the demo banner is unmistakable");
      await b.$('[data-testid="password-again"]').waitForDisplayed({ timeout: 10000 });
      await b.saveScreenshot(join(shots, "00-first-run.png"));
      await b.$('[data-testid="username"]').setValue("admin");
      await b.$('[data-testid="password"]').setValue("first-admin-pass");
      await b.$('[data-testid="password-again"]').setValue("first-admin-pass");
      await b.$('[data-testid="signin-submit"]').click();
      await until("signed in as the new administrator", async () =>
        (await b.$('[data-testid="signed-in"]').isExisting()) &&
        (await b.$('[data-testid="signed-in"]').getText()).includes("admin (admin)"));
      const emptyState = await b.$('[data-testid="policies-empty"]');
      await emptyState.waitForDisplayed({ timeout: 10000 });
      assert((await emptyState.getText()).includes("malipo policy add"), "the empty state names the command");
      await b.saveScreenshot(join(shots, "01-empty-office.png"));
    }),
  );

  await journey("a clerk signs in and finds a policy by holder name and by local phone number", () =>
    withApp(office, async (b) => {
      await signIn(b, "wanjiku", "wrong-password");
      const refused = await b.$('[data-testid="signin-error"]');
      await refused.waitForDisplayed({ timeout: 10000 });
      await signIn(b, "wanjiku", "counter-pass-2026");
      const table = await b.$('[data-testid="policies-table"]');
      await table.waitForDisplayed({ timeout: 10000 });
      const rows = await b.$$('[data-testid="policies-table"] tbody tr');
      assert(rows.length === 8, `expected the 8 demo policies, saw ${rows.length}`);
      assert((await table.getText()).includes("KES 12,000.00"), "premiums are shown as money");
      await b.saveScreenshot(join(shots, "02-policies.png"));

      const search = await b.$('[data-testid="policy-search"]');
      await search.setValue("Otieno");
      await until("the list to narrow to Otieno", async () =>
        (await b.$$('[data-testid="policies-table"] tbody tr')).length === 1);
      assert((await table.getText()).includes("POL-1002"), "Otieno holds POL-1002");

      await search.setValue("0110 123");
      await until("a match on the phone number", async () => {
        const t = await b.$('[data-testid="policies-table"]');
        return (await t.isExisting()) && (await t.getText()).includes("POL-1003");
      });
      await search.setValue("nobody-like-this");
      await b.$('[data-testid="policies-empty"]').waitForDisplayed({ timeout: 5000 });
      await b.saveScreenshot(join(shots, "03-no-match.png"));
    }),
  );

  await journey("a clerk takes an M-Pesa payment in demo mode, saves its receipt and finds it in the history", () =>
    withApp(office, async (b) => {
      await signIn(b, "wanjiku", "counter-pass-2026");
      const pay = await b.$('[data-testid="pay-POL-1001"]');
      await pay.waitForDisplayed({ timeout: 10000 });
      await pay.click();
      const phone = await b.$('[data-testid="pay-phone"]');
      await phone.waitForDisplayed({ timeout: 5000 });
      // A wrong number is caught as typed, before anything is sent.
      await phone.setValue("0812 345 678");
      await b.keys("Enter");
      await until("the phone problem to show", async () =>
        (await b.$("#phone-error").isExisting()) &&
        (await b.$("#phone-error").getText()).includes("not a Kenyan mobile"));
      await phone.setValue("0708 374 149");
      await b.keys("Enter");
      await b.$('[data-testid="pay-waiting"]').waitForDisplayed({ timeout: 10000 });
      await b.saveScreenshot(join(shots, "04-prompt-sent.png"));
      const paid = await b.$('[data-testid="pay-succeeded"]');
      await paid.waitForDisplayed({ timeout: 30000 });
      assert((await paid.getText()).includes("KES 1,500.00"), "the amount paid is shown");
      await b.$('[data-testid="save-a4"]').click();
      const saved = await b.$('[data-testid="receipt-saved"]');
      await saved.waitForDisplayed({ timeout: 10000 });
      const path = (await saved.$("code").getText()).trim();
      const text = execFileSync("pdftotext", [path, "-"]).toString();
      assert(text.includes("OFFICIAL RECEIPT") && text.includes("POL-1001"), `the saved receipt: ${text}`);
      await b.saveScreenshot(join(shots, "05-paid-receipt-saved.png"));

      // The day's log names the payment with the phone masked, never the whole number.
      const logs = join(office, "logs");
      let log = "";
      await until("the payment in the log", async () => {
        const files = existsSync(logs) ? readdirSync(logs) : [];
        log = files.map((f) => readFileSync(join(logs, f), "utf8")).join("");
        return log.includes("payment started") && log.includes("payment moved");
      });
      assert(log.includes("254708***149"), `the log masks the phone: ${log}`);
      assert(!log.includes("254708374149"), "the log holds a whole phone number");

      // The payment in the history: found by status, gone under another status, exported.
      await b.keys("Escape");
      await b.$('[data-testid="nav-history"]').click();
      const table = await b.$('[data-testid="history-table"]');
      await table.waitForDisplayed({ timeout: 10000 });
      await b.$('[data-testid="history-status"]').selectByAttribute("value", "succeeded");
      await until("the paid payment under Paid", async () => {
        const rows = await b.$$('[data-testid="history-table"] tbody tr');
        return rows.length === 1 && (await rows[0].getText()).includes("POL-1001");
      });
      await b.$('[data-testid="history-status"]').selectByAttribute("value", "failed");
      await b.$('[data-testid="history-empty"]').waitForDisplayed({ timeout: 10000 });
      await b.$('[data-testid="history-status"]').selectByAttribute("value", "");
      await b.$('[data-testid="history-search"]').setValue("Amina");
      await until("the search to find Amina's payment", async () =>
        (await b.$$('[data-testid="history-table"] tbody tr')).length === 1);
      await b.$('[data-testid="history-export"]').click();
      const exported = await b.$('[data-testid="history-note"]');
      await exported.waitForDisplayed({ timeout: 10000 });
      const csvPath = (await exported.getText()).replace("Saved to ", "").trim();
      const csv = readFileSync(csvPath, "utf8");
      assert(csv.split("\n")[0].startsWith("number,created_at,policy"), `the CSV header: ${csv}`);
      assert(csv.includes("POL-1001") && csv.includes("1500.00"), `the CSV rows: ${csv}`);
      await b.saveScreenshot(join(shots, "06-history.png"));
    }),
  );

  await journey("a clerk takes a card payment in demo mode: checkout link and QR code, then paid", () =>
    withApp(office, async (b) => {
      await signIn(b, "wanjiku", "counter-pass-2026");
      const pay = await b.$('[data-testid="pay-POL-1002"]');
      await pay.waitForDisplayed({ timeout: 10000 });
      await pay.click();
      await b.$('[data-testid="method-card"]').click();
      const email = await b.$('[data-testid="pay-email"]');
      await email.waitForDisplayed({ timeout: 5000 });
      await email.setValue("otieno@example.co.ke");
      await b.keys("Enter");
      const link = await b.$('[data-testid="checkout-link"]');
      await link.waitForDisplayed({ timeout: 10000 });
      assert(await b.$(".qr svg").isExisting(), "the checkout link is shown as a QR code");
      await b.saveScreenshot(join(shots, "07-card-checkout.png"));
      // The customer pays on the simulator's checkout (as their phone would after scanning).
      const checkout = new URL(await link.getText());
      const reference = await b.$('[data-testid="pay-reference"]').getText();
      const r = await fetch(`${checkout.origin}/__sandbox/paystack/pay`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ reference, card: "4084084084084081" }),
      });
      assert(r.ok, `the simulated customer could not pay: ${await r.text()}`);
      const paid = await b.$('[data-testid="pay-succeeded"]');
      await paid.waitForDisplayed({ timeout: 30000 });
      assert((await paid.getText()).includes("ending 4081"), `the card is shown: ${await paid.getText()}`);
      await b.saveScreenshot(join(shots, "08-card-paid.png"));
    }),
  );
} finally {
  rmSync(empty, { recursive: true, force: true });
  rmSync(office, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok).length;
console.log(`e2e: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
