import { join } from "node:path";
import { shots, withApp, assert, signIn, office, journey } from "../support.mjs";

export default journey(import.meta.url, [], "a clerk takes a card payment in demo mode: checkout link and QR code, then paid", () =>
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
