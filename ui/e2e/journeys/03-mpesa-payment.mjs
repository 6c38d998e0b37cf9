import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";

export default journey(import.meta.url, [], "a clerk takes an M-Pesa payment in demo mode, saves its receipt and finds it in the history", () =>
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
