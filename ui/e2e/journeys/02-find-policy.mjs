import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";

export default journey(import.meta.url, [], "a clerk signs in and finds a policy by holder name and by local phone number", () =>
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
