// End-to-end journeys through the real desktop app: tauri-driver in front of WebKitWebDriver,
// the release binary with its bundled UI, a real office database written by the real CLI.
// Run by scripts/test under xvfb-run with MALIPO_APP and MALIPO_CLI set.
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { remote } from "webdriverio";

const app = process.env.MALIPO_APP;
const cli = process.env.MALIPO_CLI;
const relayBin = process.env.MALIPO_RELAY_BIN;
const sandboxBin = process.env.MALIPO_SANDBOX_BIN;
if (!app || !cli || !relayBin || !sandboxBin) {
  throw new Error("set MALIPO_APP, MALIPO_CLI, MALIPO_RELAY_BIN and MALIPO_SANDBOX_BIN");
}
const shots = resolve(import.meta.dirname, "../../test-output/e2e");
mkdirSync(shots, { recursive: true });

function portOpen(port) {
  return new Promise((ok) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); ok(true); });
    s.once("error", () => ok(false));
  });
}

/** A port nothing listens on now. */
function freePort() {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
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

/** Starts the app (`application`, the built one unless given) on the office in `dataDir`,
 * runs `journey`, and always cleans up. */
async function withApp(dataDir, journey, env = {}, application = app) {
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

const results = [];
// MALIPO_E2E_ONLY=words runs only the journeys whose names contain them (while working on one).
const only = process.env.MALIPO_E2E_ONLY;
async function journey(name, fn) {
  if (only && !name.includes(only)) return;
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
// Customer SMS go out day and night in the tests (the default holds them from 21:00 to 07:00).
execFileSync(cli, ["settings", "set", "messages.quiet_hours", "off"], { env: officeEnv, stdio: "inherit" });
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
  await journey("a new office opens in demo mode with its sample policies; its administrator adds, corrects and imports policies", () =>
    withApp(empty, async (b) => {
      const url = await b.getUrl();
      assert(!url.startsWith("http://localhost"), `the app loaded the dev server: ${url}`);
      const banner = await b.$('[data-testid="demo-banner"]');
      await banner.waitForDisplayed({ timeout: 10000 });
      assert((await banner.getText()).includes("no money moves"), "the demo banner is unmistakable");
      await b.$('[data-testid="password-again"]').waitForDisplayed({ timeout: 10000 });
      await b.saveScreenshot(join(shots, "00-first-run.png"));
      // The window may call the app's own commands and nothing of Tauri's core.
      const core = await b.executeAsync((done) => {
        window.__TAURI_INTERNALS__.invoke("plugin:app|version", {}).then(
          () => done("allowed"),
          (e) => done(`refused: ${e}`),
        );
      });
      assert(core.startsWith("refused"), `a core command answered: ${core}`);
      const own = await b.executeAsync((done) => {
        window.__TAURI_INTERNALS__.invoke("app_info", {}).then((i) => done(`first_run=${i.first_run}`), (e) => done(`refused: ${e}`));
      });
      assert(own === "first_run=true", `the app's own command: ${own}`);
      // Reading policies needs someone signed in, whatever the screen shows.
      const anonymous = await b.executeAsync((done) => {
        window.__TAURI_INTERNALS__.invoke("list_policies", { request: {} }).then(() => done("allowed"), (e) => done(`refused: ${e.code}`));
      });
      assert(anonymous === "refused: unauthenticated", `policies before sign-in: ${anonymous}`);
      await b.$('[data-testid="username"]').setValue("admin");
      await b.$('[data-testid="password"]').setValue("first-admin-pass");
      await b.$('[data-testid="password-again"]').setValue("first-admin-pass");
      await b.$('[data-testid="signin-submit"]').click();
      await until("signed in as the new administrator", async () =>
        (await b.$('[data-testid="signed-in"]').isExisting()) &&
        (await b.$('[data-testid="signed-in"]').getText()).includes("admin (admin)"));
      // Idle, the paybill arrivals are one line above the screens.
      assert(await b.$('[data-testid="paybill-idle"]').isDisplayed(), "no paybill payment yet: one line");
      // Demo mode has its sample policies however it was started (here: the program alone).
      await until("the demo's sample policies", async () =>
        (await b.$$('[data-testid="policies-table"] tbody tr')).length === 8);

      // An administrator adds a policy: a wrong phone is named, then it is added.
      await b.$('[data-testid="policies-add"]').click();
      await b.$('[data-testid="editor-number"]').setValue("POL-2001");
      await b.$('[data-testid="editor-holder"]').setValue("Wairimu Njoroge");
      await b.$('[data-testid="editor-phone"]').setValue("0712 99");
      await b.$('[data-testid="editor-premium"]').setValue("1,200");
      await b.$('[data-testid="editor-save"]').click();
      const editorError = await b.$('[data-testid="editor-error"]');
      await editorError.waitForDisplayed({ timeout: 10000 });
      assert((await editorError.getText()).toLowerCase().includes("phone"), `the wrong field is named: ${await editorError.getText()}`);
      await b.$('[data-testid="editor-phone"]').setValue("0712 999 000");
      await b.$('[data-testid="editor-save"]').click();
      await until("the new policy in the list", async () =>
        (await b.$('[data-testid="policy-row-POL-2001"]').isExisting()) &&
        (await b.$('[data-testid="policies-added"]').isExisting()));
      assert((await b.$('[data-testid="policy-row-POL-2001"]').getText()).includes("KES 1,200.00"), "its first instalment is due");

      // It is corrected from its details: the premium changes, what is due follows.
      await b.$('[data-testid="open-POL-2001"]').click();
      await b.$('[data-testid="details-correct"]').click();
      await b.$('[data-testid="editor-premium"]').setValue("1,350");
      await b.$('[data-testid="editor-save"]').click();
      await until("the correction saved", async () =>
        (await b.$('[data-testid="details-corrected"]').isExisting()) &&
        (await b.$('[data-testid="details-corrected"]').getText()).startsWith("Corrected"));
      assert((await b.$('[data-testid="policy-details"]').getText()).includes("premium KES 1,350.00"), "the new premium shows");
      await b.saveScreenshot(join(shots, "01-policy-corrected.png"));
      await b.keys("Escape");

      // The register from the core system: a file with a wrong row imports nothing and names it;
      // the corrected file adds its policy.
      const folder = mkdtempSync(join(tmpdir(), "malipo-e2e-register-"));
      const header = "policy_number,holder_name,phone,email,premium,frequency,instalments,start_date";
      writeFileSync(join(folder, "bad.csv"), `${header}\nPOL-3001,Kamau Njenga,0722 123 456,,"3,000",monthly,12,01/12/2026\nPOL-3002,Achieng Atieno,0722,,500,monthly,12,01/12/2026\n`);
      writeFileSync(join(folder, "good.csv"), `${header}\nPOL-3001,Kamau Njenga,0722 123 456,,"3,000",monthly,12,01/12/2026\n`);
      await b.$('[data-testid="policies-import"]').click();
      await b.$('[data-testid="import-file"]').setValue(join(folder, "bad.csv"));
      await b.$('[data-testid="import-run"]').click();
      await b.$('[data-testid="import-refused"]').waitForDisplayed({ timeout: 10000 });
      const refused = await b.$('[data-testid="import-refused"]').getText();
      assert(refused.includes("3") && refused.includes("POL-3002") && refused.toLowerCase().includes("phone"), `the refused row, its line and why: ${refused}`);
      assert((await b.$('[data-testid="import-report"]').getText()).startsWith("Nothing was imported"), "one refused row imports nothing");
      await b.$('[data-testid="import-file"]').setValue(join(folder, "good.csv"));
      await b.$('[data-testid="import-check"]').click();
      await until("the check", async () => (await b.$('[data-testid="import-report"]').getText()).startsWith("Check of 1 row: 1 to add"));
      await b.$('[data-testid="import-run"]').click();
      await until("the import", async () => (await b.$('[data-testid="import-report"]').getText()).startsWith("Imported: 1 added"));
      await until("the imported policy listed", async () => (await b.$$('[data-testid="policies-table"] tbody tr')).length === 10);

      // The demo's paybill office reads M-Pesa's own list: Pull is registered with the simulator.
      await b.$('[data-testid="nav-dashboard"]').click();
      const ledger = await b.$('[data-testid="dash-ledger"]');
      await ledger.waitForDisplayed({ timeout: 10000 });
      assert(/read up to|Pull is registered/.test(await ledger.getText()), `the ledger line: ${await ledger.getText()}`);
      assert((await ledger.getAttribute("data-stale")) === "false", "a demo office is covered");
      await b.saveScreenshot(join(shots, "01-demo-office.png"));
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
      assert((await table.getText()).includes("KES 12,000.00"), "what is due is shown as money");
      await b.saveScreenshot(join(shots, "02-policies.png"));

      // The counter's first question: the longest overdue first, with what is due and when.
      await b.$('[data-testid="policies-overdue-first"]').click();
      await until("the longest overdue policy first", async () => {
        const first = await b.$('[data-testid="policies-table"] tbody tr');
        return (await first.isExisting()) && (await first.getAttribute("data-testid")) === "policy-row-POL-1005";
      });
      const late = await b.$('[data-testid="policy-row-POL-1005"]');
      const overdue = await late.$('[data-testid="overdue"]').getText();
      assert(/^\d{3} days · KES 45,000\.00$/.test(overdue), `POL-1005's annual premium is overdue: ${overdue}`);
      const next = await late.$('[data-testid="next-due"]').getText();
      assert(next === "10/01/2026 · KES 45,000.00", `due day first, with its amount: ${next}`);
      assert((await late.$('[data-testid="paid-to-date"]').getText()) === "KES 0.00", "nothing paid yet");
      await b.saveScreenshot(join(shots, "02-policies-overdue-first.png"));
      await b.$('[data-testid="policies-overdue-first"]').click();

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
      // What the clerk reads out: the M-Pesa code and the receipt number, before any receipt is saved.
      const codes = await b.$('[data-testid="pay-codes"]').getText();
      assert(/M-Pesa code \w{10}/.test(codes) && /receipt HQ-[\w-]+/.test(codes), `the paid screen's codes: ${codes}`);
      await b.$('[data-testid="save-a4"]').click();
      const saved = await b.$('[data-testid="receipt-saved"]');
      await saved.waitForDisplayed({ timeout: 10000 });
      const path = (await saved.$("code").getText()).trim();
      const text = execFileSync("pdftotext", [path, "-"]).toString();
      assert(text.includes("OFFICIAL RECEIPT") && text.includes("POL-1001"), `the saved receipt: ${text}`);
      // Amina has an e-mail address but the demo office sends no e-mail: the paper one is the original.
      assert(!text.includes("COPY") && !(await saved.getText()).includes("(copy)"), `the first receipt is the original: ${text}`);
      const original = readFileSync(path);
      await b.saveScreenshot(join(shots, "05-paid-receipt-saved.png"));
      // Saved again: a copy, in a file of its own; the original is untouched.
      await b.$('[data-testid="save-a4"]').click();
      await until("the copy saved", async () => (await saved.getText()).includes("(copy)"));
      const copyPath = (await saved.$("code").getText()).trim();
      assert(copyPath !== path, `the copy went to ${copyPath}`);
      assert(execFileSync("pdftotext", [copyPath, "-"]).toString().includes("COPY"), "the copy says COPY");
      assert(readFileSync(path).equals(original), "the original file is untouched");

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
      const csvPath = (await exported.getText()).match(/Saved to (\S+)/)[1];
      const csv = readFileSync(csvPath, "utf8");
      assert(csv.split("\n")[0].startsWith("number,created_at,policy"), `the CSV header: ${csv}`);
      assert(csv.includes("POL-1001") && csv.includes("1500.00"), `the CSV rows: ${csv}`);
      assert(/^[^,]+,\d{4}-\d\d-\d\dT[\d:.]+\+03:00,/m.test(csv.split("\n")[1]), `times in Nairobi time: ${csv}`);
      // The row opens its payment's details; its status reads as the filter does.
      const amina = await b.$('[data-testid="history-table"] tbody tr');
      assert((await amina.getText()).includes("Paid"), `the row's status in the filter's words: ${await amina.getText()}`);
      await amina.$("button.linkish").click();
      const detail = await b.$('[data-testid="history-detail"]');
      await detail.waitForDisplayed({ timeout: 5000 });
      assert(/M-Pesa code[\s\S]*Receipt[\s\S]*HQ-/.test(await detail.getText()), `the payment's details: ${await detail.getText()}`);
      await b.saveScreenshot(join(shots, "06-history.png"));

      // Everything the app wrote in the office is its user's alone: the data directory and its
      // folders 0700, the database, its journal, the logs, the receipt and the export 0600.
      const modes = [];
      const walk = (dir) => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          const st = statSync(path);
          modes.push([path, st.mode & 0o777, st.isDirectory()]);
          if (st.isDirectory()) walk(path);
        }
      };
      walk(office);
      assert((statSync(office).mode & 0o777) === 0o700, `the data directory is ${(statSync(office).mode & 0o777).toString(8)}`);
      const open = modes.filter(([, mode, dir]) => mode !== (dir ? 0o700 : 0o600));
      assert(modes.some(([p]) => p.includes("logs")) && modes.some(([p]) => p.endsWith(".pdf")), `files: ${modes.map(([p]) => p)}`);
      assert(open.length === 0, `files others could read: ${open.map(([p, m]) => `${p} ${m.toString(8)}`).join(", ")}`);
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

  await journey("a returning customer pays with their saved card, taken without the mouse", () =>
    withApp(office, async (b) => {
      // Keyboard only from the policy search: type, Enter to pay, the form, Enter.
      await signIn(b, "wanjiku", "counter-pass-2026");
      await b.$('[data-testid="policy-search"]').waitForDisplayed({ timeout: 10000 });
      await until("the search box to have the focus", () =>
        b.execute(() => document.activeElement?.getAttribute("data-testid") === "policy-search"));
      await b.keys([..."Fatuma"]);
      await until("one policy to match", async () =>
        (await b.$$('[data-testid="policies-table"] tbody tr')).length === 1);
      await b.keys("Enter");
      await b.$('[data-testid="pay-amount"]').waitForDisplayed({ timeout: 5000 });
      // The amount has the focus and holds the premium; Tab reaches the phone number.
      await b.keys(["Tab", "Control", "a", "Control", ..."0708 374 149", "Enter"]);
      const paid = await b.$('[data-testid="pay-succeeded"]');
      await paid.waitForDisplayed({ timeout: 30000 });
      assert((await paid.getText()).includes("KES 1,000.00"), `Fatuma's premium was paid: ${await paid.getText()}`);
      await b.saveScreenshot(join(shots, "09-keyboard-payment.png"));
      await b.keys("Escape");

      // Otieno paid by card in the last journey: his card is offered and charged directly.
      const pay = await b.$('[data-testid="pay-POL-1002"]');
      await pay.waitForDisplayed({ timeout: 10000 });
      await pay.click();
      await b.$('[data-testid="method-card"]').click();
      await b.$('[data-testid="pay-email"]').setValue("otieno@example.co.ke");
      const saved = await b.$('[data-testid="saved-card-4081"]');
      await saved.waitForDisplayed({ timeout: 10000 });
      await saved.click();
      await b.$('[data-testid="pay-send"]').click();
      // Otieno paid 2,750 by card moments ago: the clerk is asked to check before charging again.
      const anyway = await b.$('[data-testid="pay-anyway"]');
      await anyway.waitForDisplayed({ timeout: 10000 });
      assert((await b.$('[data-testid="pay-error"]').getText()).includes("check with the customer"), "the repeat is questioned");
      await until("the question in view, so Enter is not lost below the edge", () => anyway.isDisplayed({ withinViewport: true }), 5000);
      await anyway.click();
      const charged = await b.$('[data-testid="pay-succeeded"]');
      await charged.waitForDisplayed({ timeout: 30000 });
      assert((await charged.getText()).includes("ending 4081"), `the saved card paid: ${await charged.getText()}`);
      await b.saveScreenshot(join(shots, "10-saved-card-paid.png"));
    }),
  );

  await journey("an administrator adds a clerk and a manager and keeps a secret in the OS keyring", () =>
    withApp(office, async (b) => {
      await signIn(b, "wanjiku", "counter-pass-2026");
      await b.$('[data-testid="nav-settings"]').click();
      await b.$('[data-testid="user-form"]').waitForDisplayed({ timeout: 10000 });

      // The set-up check, against the demo's simulator and relay: every check answers, none fails.
      await b.$('[data-testid="doctor-run"]').click();
      await b.$('[data-testid="doctor-checks"]').waitForDisplayed({ timeout: 30000 });
      for (const name of ["mpesa.credentials", "mpesa.passkey", "mpesa.callback_url", "paystack.key", "paystack.webhook", "relay.reachable", "relay.token", "relay.clock"]) {
        const row = await b.$(`[data-testid="doctor-${name}"]`);
        assert((await row.getAttribute("data-status")) === "pass", `${name} passes: ${await row.getText()}`);
      }
      const failing = await b.$$('[data-testid="doctor-checks"] tr[data-status="fail"]');
      assert(failing.length === 0, `no check fails: ${await b.$('[data-testid="doctor-checks"]').getText()}`);
      assert(!(await b.$('[data-testid="doctor-summary"]').getText()).includes("before going live"), "the summary says nothing needs fixing");
      await b.saveScreenshot(join(shots, "11-set-up-check.png"));
      for (const [name, role] of [["otieno", "clerk"], ["halima", "manager"]]) {
        await b.$('[data-testid="new-username"]').setValue(name);
        await b.$('[data-testid="new-role"]').selectByAttribute("value", role);
        await b.$('[data-testid="new-password"]').setValue(`${name}-pass-2026`);
        await b.$('[data-testid="add-user"]').click();
        await until(`${name} in the users table`, async () =>
          (await b.$('[data-testid="users-table"]').getText()).includes(name));
      }
      await b.$('[data-testid="setting-office.name"]').setValue("Jubilee Counter Ltd");
      await b.$('[data-testid="office-form"] button[type="submit"]').click();
      await until("the office name saved", async () =>
        (await b.$('[data-testid="settings-note"]').isExisting()) &&
        (await b.$('[data-testid="settings-note"]').getText()).includes("Company name"));

      // The device token goes to the OS credential store (the kernel keyring on this machine).
      const keyring = await b.$('[data-testid="keyring"]').getText();
      assert(keyring.startsWith("Kept in"), `a credential store is reachable here: ${keyring}`);
      await b.$('[data-testid="secret-relay.token"]').setValue("mrt_e2e_secret_value_0451");
      await b.$('[data-testid="save-secret-relay.token"]').click();
      await until("the token kept", async () =>
        (await b.$('[data-testid="secret-source-relay.token"]').getText()) === "saved");
      await b.$('[data-testid="restart-needed"]').waitForDisplayed({ timeout: 5000 });
      await b.saveScreenshot(join(shots, "11-settings.png"));
      const db = readFileSync(join(office, "malipo.sqlite3"));
      assert(!db.includes("mrt_e2e_secret_value_0451"), "the token is not in the office database");
      await b.$('[data-testid="remove-secret-relay.token"]').click();
      await until("the token removed", async () =>
        (await b.$('[data-testid="secret-source-relay.token"]').getText()) === "not set");

      await b.$('[data-testid="nav-audit"]').click();
      await b.$('[data-testid="audit-entity"]').selectByAttribute("value", "secret");
      await until("the secret's store and removal in the audit log", async () => {
        const t = await b.$('[data-testid="audit-table"]');
        if (!(await t.isExisting())) return false;
        const text = await t.getText();
        return text.includes("kept the secret") && text.includes("removed the secret") && !text.includes("mrt_e2e");
      });
    }),
  );

  await journey("a clerk asks for a refund and a manager approves it from the dashboard", () =>
    withApp(office, async (b) => {
      await signIn(b, "otieno", "otieno-pass-2026");
      await b.$('[data-testid="nav-history"]').waitForDisplayed({ timeout: 10000 });
      assert(!(await b.$('[data-testid="nav-dashboard"]').isExisting()), "a clerk has no dashboard");
      assert(!(await b.$('[data-testid="nav-settings"]').isExisting()), "a clerk has no settings");
      await b.$('[data-testid="nav-history"]').click();
      await b.$('[data-testid="history-search"]').setValue("Amina");
      await until("Amina's payment", async () =>
        (await b.$$('[data-testid="history-table"] tbody tr')).length === 1);
      const row = await b.$('[data-testid="history-table"] tbody tr');
      const number = (await row.$("td").getText()).trim();
      await b.$(`[data-testid="refund-${number}"]`).click();
      await b.$('[data-testid="refund-amount"]').setValue("500");
      await b.$('[data-testid="refund-reason"]').setValue("Paid one month twice");
      await b.$('[data-testid="refund-send"]').click();
      const asked = await b.$('[data-testid="history-note"]');
      await asked.waitForDisplayed({ timeout: 10000 });
      assert((await asked.getText()).includes("KES 500.00"), `the request: ${await asked.getText()}`);
      await b.saveScreenshot(join(shots, "12-refund-requested.png"));
      await b.$("header button").click();

      await signIn(b, "halima", "halima-pass-2026");
      await b.$('[data-testid="nav-dashboard"]').click();
      const collected = await b.$('[data-testid="dash-collected"]');
      await collected.waitForDisplayed({ timeout: 10000 });
      // Paid so far: 1,500 (M-Pesa), 2,750 (card), 1,000 (M-Pesa) and 2,750 (saved card).
      assert((await collected.getText()) === "KES 8,000.00", `collected: ${await collected.getText()}`);
      // textContent: WebDriver's visible text skips the clipped (ellipsis) label cells.
      const methods = await b.$('[data-testid="dash-methods"]').getProperty("textContent");
      assert(/M-Pesa\s+KES 2,500\.00 collected, 2 payments · attempted KES [\d,.]+, \d+ payments/.test(methods) &&
        /Card\s+KES 5,500\.00 collected, 2 payments · attempted/.test(methods), `by method: ${methods}`);
      // By-method collected adds up to the collected total, whatever else was attempted.
      let byMethod = 0;
      for (const el of await b.$$('[data-testid="dash-methods"] [data-testid="collected"]')) {
        byMethod += Number((await el.getProperty("textContent")).replace(/[^\d]/g, ""));
      }
      assert(byMethod === 800000, `by-method collected adds up to KES 8,000.00: ${byMethod} cents`);
      const clerks = await b.$('[data-testid="dash-clerks"]').getProperty("textContent");
      assert(/wanjiku\s+KES 8,000\.00 collected, 4 payments/.test(clerks), `by clerk: ${clerks}`);
      await b.$('[data-testid="dash-overdue"]').waitForDisplayed({ timeout: 5000 });
      await until("the company view from the relay", async () =>
        (await b.$('[data-testid="dash-company"]').isExisting()) ||
        (await b.$('[data-testid="dash-company-missing"]').isExisting()));
      assert(await b.$('[data-testid="dash-company"]').isExisting(),
        `the demo relay answers: ${await b.$('[data-testid="dash-company-missing"]').getText().catch(() => "")}`);
      await b.saveScreenshot(join(shots, "13-dashboard.png"));
      await b.$('[data-testid="dash-refunds"]').click();
      const approve = await b.$('[data-testid="refunds-table"] [data-testid^="approve-"]');
      await approve.waitForDisplayed({ timeout: 10000 });
      await approve.click();
      // Nothing goes back before the manager confirms, seeing how much and to whom.
      const confirm = await b.$('[data-testid="refund-confirm"]');
      await confirm.waitForDisplayed({ timeout: 5000 });
      const asks = await confirm.getText();
      assert(asks.includes("KES 500.00") && asks.includes("Amina Wanjiru") && asks.includes("POL-1001"), `the confirmation: ${asks}`);
      assert((await b.$('[data-testid="refunds-table"]').getText()).includes("Amina Wanjiru"), "the row names the customer");
      await b.saveScreenshot(join(shots, "14a-refund-confirm.png"));
      await b.$('[data-testid="refund-confirm-yes"]').click();
      await until("the reversal processed by M-Pesa", async () => {
        const t = await b.$('[data-testid="refunds-table"]');
        return (await t.isExisting()) && (await t.getText()).includes("processed");
      }, 30000);
      assert((await b.$('[data-testid="refunds-table"]').getText()).includes("halima"), "who decided is shown");
      await b.saveScreenshot(join(shots, "14-refund-processed.png"));
      // The manager's figures keep the refund apart: collected stays, refunded and net follow.
      await b.$('[data-testid="nav-dashboard"]').click();
      await until("the refund in the dashboard", async () => {
        const r = await b.$('[data-testid="dash-refunded"]');
        return (await r.isExisting()) && (await r.getText()) === "KES 500.00";
      });
      assert((await b.$('[data-testid="dash-collected"]').getText()) === "KES 8,000.00", "collected is what was received");
      assert((await b.$('[data-testid="dash-net"]').getText()) === "KES 7,500.00", `net: ${await b.$('[data-testid="dash-net"]').getText()}`);
      assert((await b.$('[data-testid="dash-messages"]').getText()).includes("not sent"), "skipped messages are apart from sent");
      // The audit log says it in words.
      await b.$('[data-testid="nav-audit"]').click();
      await b.$('[data-testid="audit-entity"]').selectByAttribute("value", "refund");
      await until("the approval in the audit log, in a sentence", async () => {
        const t = await b.$('[data-testid="audit-table"]');
        return (await t.isExisting()) && /halima approved a refund of KES 500\.00 on HQ-[\w-]+: Paid one month twice/.test(await t.getText());
      });
      assert(/otieno asked for a refund of KES 500\.00/.test(await b.$('[data-testid="audit-table"]').getText()), "the request too");
      await b.saveScreenshot(join(shots, "14b-audit-sentences.png"));

      // Four eyes: the manager asks for a refund herself; she cannot approve it, and a rejection
      // needs its reason.
      await b.$('[data-testid="nav-history"]').click();
      await b.$('[data-testid="history-search"]').setValue("Amina");
      await until("Amina's payment", async () =>
        (await b.$$('[data-testid="history-table"] tbody tr')).length === 1);
      const paidRow = await b.$('[data-testid="history-table"] tbody tr');
      const paidNumber = (await paidRow.$("td").getText()).trim();
      await b.$(`[data-testid="refund-${paidNumber}"]`).click();
      await b.$('[data-testid="refund-amount"]').setValue("100");
      await b.$('[data-testid="refund-reason"]').setValue("Bank charges");
      await b.$('[data-testid="refund-send"]').click();
      await b.$('[data-testid="history-note"]').waitForDisplayed({ timeout: 10000 });
      await b.$('[data-testid="nav-refunds"]').click();
      await b.$('[data-testid="refunds-status"]').selectByAttribute("value", "requested");
      const own = await b.$('[data-testid="refunds-table"] [data-testid^="approve-"]');
      await own.waitForDisplayed({ timeout: 10000 });
      const ownId = (await own.getAttribute("data-testid")).replace("approve-", "");
      await own.click();
      await b.$('[data-testid="refund-confirm-yes"]').click();
      const refused = await b.$('[data-testid="refunds-error"]');
      await refused.waitForDisplayed({ timeout: 10000 });
      assert((await refused.getText()).includes("another manager"), `her own refund: ${await refused.getText()}`);
      await b.$('[data-testid="refund-confirm-cancel"]').click();
      await b.$(`[data-testid="reject-${ownId}"]`).click();
      await b.$('[data-testid="refund-confirm-yes"]').click();
      await until("a reason asked for", async () =>
        (await b.$('[data-testid="refunds-error"]').isExisting()) &&
        (await b.$('[data-testid="refunds-error"]').getText()).includes("Say why"));
      await b.$('[data-testid="reject-reason"]').setValue("Asked in error");
      await b.$('[data-testid="refund-confirm-yes"]').click();
      const noted = await b.$(`[data-testid="refund-note-${ownId}"]`);
      await noted.waitForDisplayed({ timeout: 10000 });
      assert((await noted.getText()).includes("Asked in error"), `the reason kept: ${await noted.getText()}`);
      await b.saveScreenshot(join(shots, "14b-refund-rejected.png"));
      await b.$('[data-testid="nav-review"]').click();
      await b.$('[data-testid="reconcile-run"]').click();
      await b.$('[data-testid="reconcile-summary"]').waitForDisplayed({ timeout: 20000 });
      await b.saveScreenshot(join(shots, "15-review.png"));
      // An M-Pesa statement from the portal, picked with the file picker: checked, imported,
      // and imported again without changing anything. Its one row is a business charge, so
      // nothing in it waits for Safaricom's proof.
      const statement = join(mkdtempSync(join(tmpdir(), "malipo-e2e-statement-")), "statement.csv");
      writeFileSync(statement, [
        "Account Holder:,Demo Insurance",
        "Time Period:,01-12-2026 00:00:00 - 01-12-2026 23:59:59",
        "",
        "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.",
        'SCH0000001,01-12-2026 10:00:00,01-12-2026 10:00:00,Business Charge,Completed,,-50.00,"49,147.00",true,Business Charge,,,',
        "",
      ].join("\r\n"));
      await b.$('[data-testid="statement-file"]').setValue(statement);
      const counts = async () => {
        const el = await b.$('[data-testid="statement-counts"]');
        return (await el.isExisting()) ? await el.getText() : "";
      };
      await b.$('[data-testid="statement-check"]').click();
      await until("the check's counts", async () => (await counts()).startsWith("Check: 1 row"));
      assert((await counts()).includes("1 not premiums"), `checked: ${await counts()}`);
      await b.$('[data-testid="statement-import"]').click();
      await until("the import's counts", async () => (await counts()).startsWith("1 row"));
      await b.$('[data-testid="statement-import"]').click();
      await until("a second import changes nothing", async () => (await counts()).includes("Imported before"));
      await b.saveScreenshot(join(shots, "15b-statement.png"));
    }),
  );

  await journey("customers pay the paybill in demo mode: the clerk sees it arrive and prints with F8, a manager allocates a stray account", () => {
    // A printer that keeps what it is sent, so F8's print can be read back.
    const spool = mkdtempSync(join(tmpdir(), "malipo-e2e-lp-"));
    writeFileSync(join(spool, "lp"), `#!/bin/sh\nfor f; do last="$f"; done\ncp "$last" "${spool}/printed.pdf"\necho "request id is office-1"\n`, { mode: 0o755 });
    return withApp(office, async (b) => {
      await signIn(b, "otieno", "otieno-pass-2026");
      // The demo's customer is a click away.
      const open = await b.$('[data-testid="demo-paybill-open"]');
      await open.waitForDisplayed({ timeout: 10000 });
      await open.click();
      const form = await b.$('[data-testid="demo-paybill"]');
      await form.waitForDisplayed({ timeout: 10000 });
      const paidToDate = async () => {
        const cell = await b.$('[data-testid="policy-row-POL-1001"] [data-testid="paid-to-date"]');
        return (await cell.isExisting()) ? Number((await cell.getText()).replace(/[^\d]/g, "")) : -1;
      };
      await until("the policy list", async () => (await paidToDate()) >= 0);
      const paidBefore = await paidToDate();
      // The account as customers type it: lower case, a space for the hyphen.
      await b.$('[data-testid="demo-paybill-account"]').setValue("pol 1001");
      await b.$('[data-testid="demo-paybill-amount"]').setValue("2,000");
      await b.$('[data-testid="demo-paybill-pay"]').click();
      const note = await b.$('[data-testid="demo-paybill-note"]');
      await note.waitForDisplayed({ timeout: 10000 });
      const code = (await note.getText()).match(/code (\w+)/)?.[1];
      assert(code, `the demo payment: ${await note.getText()}`);
      const arrival = await b.$(`[data-testid="arrival-${code}"]`);
      await arrival.waitForDisplayed({ timeout: 60000 });
      const said = await arrival.getText();
      assert(said.includes("John Doe") && said.includes("KES 2,000.00") && said.includes("POL-1001"), `the arrival: ${said}`);
      await b.saveScreenshot(join(shots, "18-paybill-arrived.png"));
      // The list behind it follows the arrival, without a new search.
      await until("POL-1001's paid to date to include the arrival", async () => (await paidToDate()) === paidBefore + 200000);
      await b.keys("F8");
      const printed = await b.$('[data-testid="arrival-printed"]');
      await printed.waitForDisplayed({ timeout: 15000 });
      const receipt = execFileSync("pdftotext", [join(spool, "printed.pdf"), "-"]).toString();
      assert(receipt.includes("M-Pesa Pay Bill") && receipt.includes(code) && receipt.includes("POL-1001"), `the printed receipt: ${receipt}`);
      rmSync(join(spool, "printed.pdf"));

      // The same code typed at the counter is the same payment, not a second one.
      await b.$('[data-testid="pay-POL-1001"]').click();
      await b.$('[data-testid="verify-code"]').setValue(code.toLowerCase());
      await b.$('[data-testid="verify-send"]').click();
      const paid = await b.$('[data-testid="pay-succeeded"]');
      await paid.waitForDisplayed({ timeout: 30000 });
      assert((await paid.getText()).includes(code), `the code at the counter: ${await paid.getText()}`);
      await b.keys("Escape");

      // The same code brought for another customer: it says whose it is, and nothing reads paid.
      await b.$('[data-testid="pay-POL-1002"]').click();
      await b.$('[data-testid="verify-code"]').setValue(code);
      await b.$('[data-testid="verify-send"]').click();
      const refused = await b.$('[data-testid="pay-error"]');
      await refused.waitForDisplayed({ timeout: 30000 });
      const why = await refused.getText();
      assert(why.includes("already paid policy POL-1001 (Amina Wanjiru)") && why.includes("not a payment for POL-1002"), `another's code: ${why}`);
      assert(!(await b.$('[data-testid="pay-succeeded"]').isExisting()), "nothing reads paid for POL-1002");
      await b.saveScreenshot(join(shots, "18b-paybill-code-of-another-policy.png"));
      await b.keys("Escape");

      // An account nobody has: Safaricom confirms it, it waits in suspense for a manager.
      await b.$('[data-testid="demo-paybill-account"]').setValue("NOBODY 77");
      await b.$('[data-testid="demo-paybill-amount"]').setValue("700");
      await b.$('[data-testid="demo-paybill-pay"]').click();
      await until("the second demo payment", async () => (await note.getText()).includes("code") && !(await note.getText()).includes(code));
      const stray = (await note.getText()).match(/code (\w+)/)?.[1];
      await b.$("header button").click();
      await signIn(b, "halima", "halima-pass-2026");
      // The dashboard counts what waits in suspense, and opens it.
      await b.$('[data-testid="nav-dashboard"]').click();
      await until("the stray payment counted in suspense", async () => {
        const card = await b.$('[data-testid="dash-suspense"]');
        if (await card.isExisting() && (await card.getText()).includes("KES 700.00")) return true;
        await b.$('[data-testid="nav-policies"]').click();
        await b.$('[data-testid="nav-dashboard"]').click();
        return false;
      }, 60000);
      await b.$('[data-testid="dash-suspense"]').click();
      const item = await b.$(`[data-testid="suspense-${stray}"]`);
      await until("the stray payment in suspense", async () => {
        if (await item.isExisting()) return true;
        await b.$('[data-testid="nav-review"]').click();
        await b.$('[data-testid="nav-suspense"]').click();
        return false;
      }, 60000);
      assert((await item.getText()).includes("NOBODY 77"), `the suspense item: ${await item.getText()}`);
      const strayText = await item.getText();
      assert(strayText.includes("John Doe (") && strayText.includes("*"), `the payer's name and masked phone: ${strayText}`);
      // The number as a customer would type it finds the policy, shown with its holder.
      await item.$('[data-testid="suspense-policy"]').setValue("pol 1002");
      await until("the policy found as validation reads accounts", async () => {
        const c = await item.$('[data-testid="suspense-chosen"]');
        return (await c.isExisting()) && (await c.getText()).includes("POL-1002");
      });
      const pair = await item.$('[data-testid="suspense-chosen"]').getText();
      assert(pair.includes("John Doe") && pair.includes("Otieno Odhiambo"), `the payer beside the holder: ${pair}`);
      await item.$('[data-testid="suspense-note"]').setValue("Customer phoned with the SMS");
      await item.$('[data-testid="suspense-allocate"]').click();
      const done = await b.$('[data-testid="suspense-message"]');
      await done.waitForDisplayed({ timeout: 15000 });
      assert((await done.getText()).includes("allocated to POL-1002"), `the allocation: ${await done.getText()}`);
      await b.$('[data-testid="suspense-empty"]').waitForDisplayed({ timeout: 10000 });
      await b.saveScreenshot(join(shots, "19-suspense-allocated.png"));
      await b.$('[data-testid="nav-history"]').click();
      await b.$('[data-testid="history-method"]').selectByAttribute("value", "paybill");
      await until("both paybill payments, once each", async () => {
        const rows = await b.$$('[data-testid="history-table"] tbody tr');
        return rows.length === 2;
      });
      // Reprint prints: the payment printed with F8 again, now a copy.
      await b.$('[data-testid="history-search"]').setValue(code);
      await until("the F8 payment alone", async () => {
        const rows = await b.$$('[data-testid="history-table"] tbody tr');
        return rows.length === 1 && (await rows[0].getText()).includes("POL-1001");
      });
      await b.$('[data-testid="history-table"] tbody tr [data-testid^="reprint-"]').click();
      await until("the reprint sent to the printer", async () => {
        const n = await b.$('[data-testid="history-note"]');
        return (await n.isExisting()) && (await n.getText()).includes("sent to the printer");
      });
      await until("the reprint printed", async () => existsSync(join(spool, "printed.pdf")));
      assert(execFileSync("pdftotext", [join(spool, "printed.pdf"), "-"]).toString().includes("COPY"), "a reprint is a copy");

      // Each payment's SMS receipt went to the simulator's Africa's Talking, and its delivery
      // report came back through the relay.
      await b.$('[data-testid="nav-messages"]').click();
      await until("an SMS receipt reported delivered", async () => {
        const t = await b.$('[data-testid="messages-table"]');
        return (await t.isExisting()) && /SMS receipt[\s\S]*delivered/.test(await t.getText());
      }, 60000);
      assert((await b.$('[data-testid="messages-table"]').getText()).includes("POL-1001"), "the paybill payment's receipt");
      await b.saveScreenshot(join(shots, "20-messages.png"));
      // The holder of POL-1001 wants no more messages.
      await b.$('[data-testid="nav-policies"]').click();
      await b.$('[data-testid="open-POL-1001"]').click();
      const optOut = await b.$('[data-testid="details-opt-out"]');
      await optOut.waitForDisplayed({ timeout: 10000 });
      await optOut.click();
      await until("the opt-out kept", async () => (await optOut.isSelected()) === true);
      assert((await b.$('[data-testid="details-messages"]').getText()).includes("SMS receipt"), "the policy's messages");
    }, { PATH: `${spool}:${process.env.PATH}` }).finally(() => rmSync(spool, { recursive: true, force: true }));
  });

  await journey("every screen fits the common office screens, 1366×768 and 1280×720", () =>
    withApp(office, async (b) => {
      await signIn(b, "wanjiku", "counter-pass-2026");
      await b.$('[data-testid="policies-table"]').waitForDisplayed({ timeout: 10000 });
      for (const [width, height] of [[1366, 768], [1280, 720]]) {
        await b.setWindowSize(width, height);
        await until(`the window at ${width}×${height}`, async () =>
          (await b.execute(() => window.innerWidth)) <= width && (await b.execute(() => window.innerWidth)) > width - 40);
        const tabs = await b.$$("nav.tabs button");
        assert(tabs.length === 9, `an administrator's screens: ${tabs.length}`);
        for (const tab of tabs) {
          const screen = (await tab.getAttribute("data-testid")).replace("nav-", "");
          await tab.click();
          await until(`the ${screen} screen`, async () => (await tab.getAttribute("aria-current")) === "page");
          // Nothing runs off the side, and the screen's heading is in view under the tabs.
          const fit = await b.execute(() => ({
            wide: document.documentElement.scrollWidth - window.innerWidth,
            heading: document.querySelector("main h2")?.getBoundingClientRect().bottom ?? 9999,
            height: window.innerHeight,
          }));
          assert(fit.wide <= 0, `${screen} at ${width}×${height} runs ${fit.wide} px off the side`);
          assert(fit.heading < fit.height / 2, `${screen} at ${width}×${height}: its heading sits at ${fit.heading} px of ${fit.height}`);
          await b.saveScreenshot(join(shots, `30-${width}x${height}-${screen}.png`));
        }
        // Taking a payment: the form, its button and the code check are all in view.
        await b.$('[data-testid="nav-policies"]').click();
        await b.$('[data-testid="pay-POL-1003"]').click();
        for (const id of ["pay-amount", "pay-send", "verify-send"]) {
          assert(await b.$(`[data-testid="${id}"]`).isDisplayed({ withinViewport: true }), `${id} at ${width}×${height} is out of view`);
        }
        await b.saveScreenshot(join(shots, `30-${width}x${height}-take-payment.png`));
        await b.keys("Escape");
      }
    }),
  );

  await journey("with provider settings from the environment: no demo, a payment through a separate simulator and relay", async () => {
    // Safaricom and Paystack stand-ins and the company relay as their own processes, the way
    // an office is set up for real; the app gets their settings from the environment.
    const world = mkdtempSync(join(tmpdir(), "malipo-e2e-world-"));
    const relayPort = await freePort();
    const sandboxPort = await freePort();
    const relayEnv = {
      ...process.env,
      MALIPO_RELAY_DATABASE_URL: join(world, "relay.sqlite3"),
      MALIPO_RELAY_SECRET_KEY: "6b".repeat(32),
      MALIPO_RELAY_PUBLIC_URL: `http://127.0.0.1:${relayPort}`,
      MALIPO_RELAY_LISTEN: `127.0.0.1:${relayPort}`,
    };
    const relayJson = (args, input) => JSON.parse(execFileSync(relayBin, args, { env: relayEnv, input }).toString());
    const tenant = relayJson(["tenant", "create", "--name", "Jubilee"]);
    execFileSync(relayBin, ["tenant", "set-paystack-secret", tenant.id], { env: relayEnv, input: "sk_test_sandbox" });
    const device = relayJson(["device", "add", "--tenant", tenant.id, "--name", "counter"]);
    const children = [
      spawn(relayBin, ["serve"], { env: relayEnv, stdio: "ignore" }),
      spawn(sandboxBin, [], {
        env: {
          ...process.env,
          MALIPO_SANDBOX_LISTEN: `127.0.0.1:${sandboxPort}`,
          MALIPO_SANDBOX_PAYSTACK_WEBHOOK_URL: tenant.paystack_webhook_url,
          MALIPO_SANDBOX_PAYSTACK_SECRET: "sk_test_sandbox",
        },
        stdio: "ignore",
      }),
    ];
    try {
      await until("the relay and the simulator", async () => (await portOpen(relayPort)) && (await portOpen(sandboxPort)));
      const sandbox = `http://127.0.0.1:${sandboxPort}`;
      const settings = {
        MALIPO_MPESA_BASE_URL: sandbox,
        MALIPO_MPESA_CONSUMER_KEY: "sandbox-consumer-key",
        MALIPO_MPESA_CONSUMER_SECRET: "sandbox-consumer-secret",
        MALIPO_MPESA_SHORTCODE: "174379",
        MALIPO_MPESA_PASSKEY: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
        MALIPO_MPESA_CALLBACK_URL: tenant.daraja_callback_url,
        MALIPO_PAYSTACK_BASE_URL: sandbox,
        MALIPO_PAYSTACK_SECRET_KEY: "sk_test_sandbox",
        MALIPO_RELAY_URL: `http://127.0.0.1:${relayPort}`,
        MALIPO_RELAY_TOKEN: device.token,
      };
      const real = join(world, "office");
      const realEnv = { ...process.env, MALIPO_DATA_DIR: real };
      execFileSync(cli, ["policy", "import", resolve(import.meta.dirname, "../../demo/policies.csv")], { env: realEnv });
      execFileSync(cli, ["user", "add", "--username", "achieng", "--role", "admin"], {
        env: { ...realEnv, MALIPO_NEW_PASSWORD: "manager-pass-2026" },
      });
      await withApp(real, async (b) => {
        await signIn(b, "achieng", "manager-pass-2026");
        const pay = await b.$('[data-testid="pay-POL-1004"]');
        await pay.waitForDisplayed({ timeout: 10000 });
        assert(!(await b.$('[data-testid="demo-banner"]').isExisting()), "configured providers: no demo banner");
        await pay.click();
        await b.$('[data-testid="pay-phone"]').setValue("0708 374 149");
        await b.keys("Enter");
        // The premium has cents, which M-Pesa cannot move: said as typed, nothing sent.
        await until("the whole-shillings problem", async () =>
          (await b.$("#amount-error").isExisting()) && (await b.$("#amount-error").getText()).includes("whole shillings"));
        await b.$('[data-testid="pay-amount"]').setValue("850");
        await b.keys("Enter");
        const paid = await b.$('[data-testid="pay-succeeded"]');
        await paid.waitForDisplayed({ timeout: 30000 });
        assert((await paid.getText()).includes("KES 850.00"), `paid through the relay: ${await paid.getText()}`);
        await b.saveScreenshot(join(shots, "16-configured-paid.png"));
        await b.keys("Escape");
        await b.$('[data-testid="nav-dashboard"]').click();
        await until("the company's figures from the relay", async () => {
          const c = await b.$('[data-testid="dash-company"]');
          return (await c.isExisting()) && (await c.getText()).includes("KES 850.00");
        }, 20000);
        // This device is counter 1 of its company: its numbers say so, and so does the company view.
        const counters = await b.$('[data-testid="dash-counters"]').getProperty("textContent");
        assert(/HQ-1\s+KES 850\.00 collected/.test(counters), `by counter: ${counters}`);
        await b.$('[data-testid="nav-history"]').click();
        await b.$('[data-testid="history-company"]').click();
        await until("the company's payments, this counter's among them", async () => {
          const t = await b.$('[data-testid="history-table"]');
          return (await t.isExisting()) && (await t.getText()).includes("HQ-1-000001");
        }, 20000);
        await b.saveScreenshot(join(shots, "17-company-payments.png"));
      }, settings);
      // The relay holds the callback that moved the payment, and the office's upload.
      const events = await fetch(`http://127.0.0.1:${relayPort}/v1/events?after=0`, {
        headers: { authorization: `Bearer ${device.token}` },
      }).then((r) => r.json());
      assert(events.events.length === 1 && events.events[0].provider === "daraja", `the relay's events: ${JSON.stringify(events)}`);
    } finally {
      for (const c of children) c.kill();
      rmSync(world, { recursive: true, force: true });
    }
  });

  await journey("an administrator reads a new version's notes; a package signed with another key is refused, the release key's is installed", async () => {
    // The company publishes with scripts/release into the folder its relay serves. The app here
    // is a copy, so installing replaces the copy (a bare executable updates in place, as an
    // AppImage does), not the build the other journeys use.
    const releaseKey = process.env.MALIPO_UPDATE_TEST_KEY;
    assert(releaseKey, "MALIPO_UPDATE_TEST_KEY names the release key this build trusts");
    const world = mkdtempSync(join(tmpdir(), "malipo-e2e-update-"));
    const folder = join(world, "updates");
    mkdirSync(folder);
    const running = join(world, "malipo-desktop");
    copyFileSync(app, running);
    chmodSync(running, 0o755);
    // The "new version": any executable stands in for it.
    const next = join(world, "malipo-desktop-next");
    copyFileSync("/usr/bin/true", next);
    const notes = join(world, "notes.txt");
    writeFileSync(notes, "Receipts print faster on 80 mm printers.\nPaybill arrivals name the branch.\n");
    const wrongKey = join(world, "wrong.key");
    execFileSync(resolve(import.meta.dirname, "../node_modules/.bin/tauri"), ["signer", "generate", "--ci", "-p", "", "-w", wrongKey], { stdio: "ignore" });
    const relayPort = await freePort();
    const relayEnv = {
      ...process.env,
      MALIPO_RELAY_DATABASE_URL: join(world, "relay.sqlite3"),
      MALIPO_RELAY_LISTEN: `127.0.0.1:${relayPort}`,
      MALIPO_RELAY_UPDATES_DIR: folder,
    };
    const publish = (key) =>
      execFileSync(resolve(import.meta.dirname, "../../scripts/release"),
        ["--publish", folder, "--version", "0.9.0", "--notes", notes, `linux-x86_64=${next}`], {
          env: {
            ...process.env,
            TAURI_SIGNING_PRIVATE_KEY_PATH: key,
            TAURI_SIGNING_PRIVATE_KEY_PASSWORD: "",
            MALIPO_UPDATE_BASE_URL: `http://127.0.0.1:${relayPort}/updates`,
          },
        });
    publish(wrongKey);
    const asAdmin = { ...officeEnv, MALIPO_USER: "wanjiku", MALIPO_PASSWORD: "counter-pass-2026" };
    execFileSync(cli, ["settings", "set", "updates.url", `http://127.0.0.1:${relayPort}/updates/latest.json`], { env: asAdmin });
    const relay = spawn(relayBin, ["serve"], { env: relayEnv, stdio: "ignore" });
    try {
      await until("the relay", () => portOpen(relayPort));
      await withApp(office, async (b) => {
        await signIn(b, "wanjiku", "counter-pass-2026");
        await b.$('[data-testid="nav-settings"]').click();
        const check = await b.$('[data-testid="update-check"]');
        await check.waitForDisplayed({ timeout: 10000 });
        await check.click();
        const offer = await b.$('[data-testid="update-available"]');
        await offer.waitForDisplayed({ timeout: 20000 });
        assert((await offer.getText()).includes("Malipo 0.9.0"), `the new version: ${await offer.getText()}`);
        assert((await b.$('[data-testid="update-notes"]').getText()).includes("Paybill arrivals name the branch."), "its notes are shown");
        await b.saveScreenshot(join(shots, "18-update-offered.png"));

        // Signed, but not with the key this build trusts: refused, nothing replaced.
        await b.$('[data-testid="update-install"]').click();
        const refused = await b.$('[data-testid="update-error"]');
        await refused.waitForDisplayed({ timeout: 30000 });
        assert((await refused.getText()).includes("not signed with the release key this copy of Malipo trusts"), `refused: ${await refused.getText()}`);
        assert(readFileSync(running).equals(readFileSync(app)), "the running app is untouched");
        await b.saveScreenshot(join(shots, "19-update-refused.png"));

        // A genuine package and signature passed off as a newer version (the manifest is not
        // signed; the signature names the version it was made for): refused.
        publish(releaseKey);
        const manifest = join(folder, "latest.json");
        writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, "utf8")), version: "0.9.1" }));
        await check.click();
        await until("the forged 0.9.1 offered", async () => (await offer.isExisting()) && (await offer.getText()).includes("Malipo 0.9.1"), 20000);
        await b.$('[data-testid="update-install"]').click();
        await refused.waitForDisplayed({ timeout: 30000 });
        assert((await refused.getText()).includes("not signed as that version"), `the forged version: ${await refused.getText()}`);
        assert(readFileSync(running).equals(readFileSync(app)), "the running app is still untouched");

        // The same version published again, signed with the release key: installed on request.
        publish(releaseKey);
        await check.click();
        await until("0.9.0 offered again", async () => (await offer.isExisting()) && (await offer.getText()).includes("Malipo 0.9.0"), 20000);
        await b.$('[data-testid="update-install"]').click();
        const installed = await b.$('[data-testid="update-installed"]');
        await installed.waitForDisplayed({ timeout: 30000 });
        assert((await installed.getText()).includes("0.9.0"), `installed: ${await installed.getText()}`);
        assert(readFileSync(running).equals(readFileSync(next)), "the signed package replaced the app");
        await b.saveScreenshot(join(shots, "20-update-installed.png"));
      }, {}, running);
      const audit = execFileSync(cli, ["audit", "--entity", "app", "--id", "malipo", "--json"], { env: asAdmin }).toString();
      assert(audit.includes("update.install") && audit.includes("0.9.0"), `the installation is in the audit log: ${audit}`);
    } finally {
      relay.kill();
      execFileSync(cli, ["settings", "set", "updates.url", ""], { env: asAdmin });
      rmSync(world, { recursive: true, force: true });
    }
  });
} finally {
  rmSync(empty, { recursive: true, force: true });
  rmSync(office, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok).length;
console.log(`e2e: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
