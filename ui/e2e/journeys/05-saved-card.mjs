import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";
import cardPayment from "./04-card-payment.mjs";

export default journey(import.meta.url, [cardPayment], "a returning customer pays with their saved card, taken without the mouse", () =>
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
