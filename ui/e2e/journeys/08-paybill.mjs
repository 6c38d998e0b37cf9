import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";
import usersAndKeyring from "./06-users-and-keyring.mjs";

export default journey(import.meta.url, [usersAndKeyring], "customers pay the paybill in demo mode: the clerk sees it arrive and prints with F8, a manager allocates a stray account", () => {
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
