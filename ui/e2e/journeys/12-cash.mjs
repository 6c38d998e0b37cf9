import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";
import usersAndKeyring from "./06-users-and-keyring.mjs";

export default journey(import.meta.url, [usersAndKeyring], "a clerk takes cash with change and closes the day; a manager signs it off and records the deposit", () =>
  withApp(office, async (b) => {
    await signIn(b, "otieno", "otieno-pass-2026");
    const pay = await b.$('[data-testid="pay-POL-1004"]');
    await pay.waitForDisplayed({ timeout: 10000 });
    await pay.click();
    await b.$('[data-testid="method-cash"]').click();
    const tendered = await b.$('[data-testid="pay-tendered"]');
    await tendered.waitForDisplayed({ timeout: 5000 });
    // Less than the premium is caught as typed; nothing is recorded.
    await tendered.setValue("500");
    await until("the short tender to show", async () =>
      (await b.$("#tendered-error").isExisting()) &&
      (await b.$("#tendered-error").getText()).includes("Less than the amount due"));
    // KES 850.50 due, 1,000 handed over: KES 149.50 change, in large type before anything is sent.
    await tendered.setValue("1,000");
    await until("the change as typed", async () =>
      (await b.$('[data-testid="pay-change"]').isExisting()) &&
      (await b.$('[data-testid="pay-change"]').getText()).includes("KES 149.50"));
    const size = await b.$('[data-testid="pay-change"]').getCSSProperty("font-size");
    assert(Number.parseFloat(size.value) >= 24, `the change is large: ${size.value}`);
    await b.$('[data-testid="pay-send"]').click();
    const paid = await b.$('[data-testid="pay-succeeded"]');
    await paid.waitForDisplayed({ timeout: 10000 });
    const said = await paid.getText();
    assert(said.includes("KES 850.50") && /receipt HQ-[\w-]+/.test(said), `the paid screen: ${said}`);
    assert((await b.$('[data-testid="pay-change-given"]').getText()).includes("KES 149.50"), "the change given is shown");
    await b.saveScreenshot(join(shots, "30-cash-paid.png"));
    await b.keys("Escape");

    // The day's end: the drawer should hold 850.50; the clerk counts 800.50, note by note.
    await b.$('[data-testid="nav-cash"]').click();
    const expected = await b.$('[data-testid="my-expected"]');
    await expected.waitForDisplayed({ timeout: 10000 });
    assert((await expected.getText()) === "KES 850.50", `expected: ${await expected.getText()}`);
    await b.$('[data-testid="count-by-notes"]').click();
    await b.$('[data-testid="close-notes"]').setValue("500x1,200x1,50x2,0.50x1");
    await b.$('[data-testid="close-send"]').click();
    const closed = await b.$('[data-testid="my-closed"]');
    await closed.waitForDisplayed({ timeout: 10000 });
    assert((await closed.getText()).includes("KES 50.00 short"), `the close: ${await closed.getText()}`);
    assert(!(await b.$('[data-testid="close-form"]').isExisting()), "a closed drawer is not closed twice");
    await b.saveScreenshot(join(shots, "31-cash-closed.png"));

    // A closed drawer takes no more cash today.
    await b.$('[data-testid="nav-policies"]').click();
    await b.$('[data-testid="pay-POL-1004"]').click();
    await b.$('[data-testid="method-cash"]').click();
    await b.$('[data-testid="pay-tendered"]').setValue("850.50");
    await b.$('[data-testid="pay-send"]').click();
    const refused = await b.$('[data-testid="pay-error"]');
    await refused.waitForDisplayed({ timeout: 10000 });
    assert((await refused.getText()).includes("closed"), `refused: ${await refused.getText()}`);
    await b.keys("Escape");
    await b.$("header button").click();

    // The manager: the short drawer needs a note to be signed off; then the deposit.
    await signIn(b, "halima", "halima-pass-2026");
    await b.$('[data-testid="nav-cash"]').click();
    const signOff = await b.$('[data-testid="sign-off-otieno"]');
    await signOff.waitForDisplayed({ timeout: 10000 });
    await signOff.click();
    await b.$('[data-testid="sign-off-send"]').click();
    const needsNote = await b.$('[data-testid="cash-error"]');
    await needsNote.waitForDisplayed({ timeout: 10000 });
    assert((await needsNote.getText()).includes("short"), `a variance needs a note: ${await needsNote.getText()}`);
    await b.$('[data-testid="sign-off-note"]').setValue("KES 50 given as change twice; clerk told");
    await b.$('[data-testid="sign-off-send"]').click();
    await until("the drawer signed off", async () =>
      (await b.$('[data-testid="drawer-otieno"]').getText()).includes("halima"));
    const undeposited = await b.$('[data-testid="undeposited"]');
    assert((await undeposited.getText()).startsWith("KES 850.50 not yet deposited"), `before the deposit: ${await undeposited.getText()}`);
    await b.$('[data-testid="deposit-amount"]').setValue("800.50");
    await b.$('[data-testid="deposit-ref"]').setValue("EQ-DEP-0001");
    await b.$('[data-testid="deposit-send"]').click();
    await until("the deposit recorded", async () =>
      (await b.$('[data-testid="undeposited"]').getText()).startsWith("KES 50.00 not yet deposited"));
    await b.saveScreenshot(join(shots, "32-cash-signed-off.png"));
    await b.$('[data-testid="nav-dashboard"]').click();
    const card = await b.$('[data-testid="dash-cash"]');
    await card.waitForDisplayed({ timeout: 10000 });
    assert((await card.getText()).includes("KES 50.00"), `the dashboard's cash: ${await card.getText()}`);
  }));
