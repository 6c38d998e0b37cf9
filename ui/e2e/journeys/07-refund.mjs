import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";
import mpesaPayment from "./03-mpesa-payment.mjs";
import cardPayment from "./04-card-payment.mjs";
import savedCard from "./05-saved-card.mjs";
import usersAndKeyring from "./06-users-and-keyring.mjs";

export default journey(import.meta.url, [mpesaPayment, cardPayment, savedCard, usersAndKeyring], "a clerk asks for a refund and a manager approves it from the dashboard", () =>
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
