import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";

export default journey(import.meta.url, [], "an administrator adds a clerk and a manager and keeps a secret in the OS keyring", () =>
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
