import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { cli, shots, until, withApp, assert, signIn, office, officeEnv, journey } from "../support.mjs";
import usersAndKeyring from "./06-users-and-keyring.mjs";

// A policy whose first instalment fell due five days ago (Nairobi), written by the real CLI.
function fiveDaysAgo() {
  const nairobi = new Date(Date.now() + 3 * 3600 * 1000 - 5 * 86400 * 1000);
  return nairobi.toISOString().slice(0, 10);
}

export default journey(import.meta.url, [usersAndKeyring], "a manager sees a policy in grace and sets its collection by M-Pesa prompt, with the holder's consent", () => {
  const asAdmin = { ...officeEnv, MALIPO_USER: "wanjiku", MALIPO_PASSWORD: "counter-pass-2026" };
  execFileSync(cli, ["policy", "add", "--number", "POL-2001", "--holder", "Grace Wambui", "--phone", "0712 000 201", "--premium", "2,000", "--start", fiveDaysAgo()], { env: asAdmin });
  return withApp(office, async (b) => {
    await signIn(b, "halima", "halima-pass-2026");
    const search = await b.$('[data-testid="policy-search"]');
    await search.waitForDisplayed({ timeout: 10000 });
    await search.setValue("POL-2001");
    await until("the policy in the list", async () =>
      (await b.$$('[data-testid="policies-table"] tbody tr')).length === 1);
    const pill = await b.$('[data-testid="standing-POL-2001"]');
    await pill.waitForDisplayed({ timeout: 5000 });
    assert((await pill.getText()) === "in grace", `the list marks it: ${await pill.getText()}`);
    await b.$('[data-testid="open-POL-2001"]').click();
    const standing = await b.$('[data-testid="details-standing"]');
    await standing.waitForDisplayed({ timeout: 10000 });
    assert((await standing.getText()).startsWith("In grace"), `the policy's screen says so: ${await standing.getText()}`);

    // Set without consent is not offered; with it, the instruction is recorded and shown.
    const set = await b.$('[data-testid="collection-set"]');
    assert(!(await set.isEnabled()), "no consent, no instruction");
    await b.$('[data-testid="collection-consent"]').setValue("Prompt me on each due date");
    await set.click();
    const shown = await b.$('[data-testid="details-collection"]');
    await until("the instruction on the policy's screen", async () =>
      (await shown.getText()).includes("An M-Pesa prompt goes to 0712 000 201 on each due date"));
    assert((await shown.getText()).includes("halima"), `who took the consent: ${await shown.getText()}`);
    await b.saveScreenshot(join(shots, "33-collection-set.png"));

    // Anyone may stop it.
    await b.$('[data-testid="collection-stop"]').click();
    await until("the instruction stopped", async () =>
      (await shown.getText()).includes("Collected at the counter"));
  });
});
