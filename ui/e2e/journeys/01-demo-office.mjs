import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shots, until, withApp, assert, empty, journey } from "../support.mjs";

export default journey(import.meta.url, [], "a new office opens in demo mode with its sample policies; its administrator adds, corrects and imports policies", () =>
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
    // Demo mode has its sample policies however it was started (here: the program alone), and
    // two due today whose premiums collect themselves (a saved card, an M-Pesa prompt).
    await until("the demo's sample policies", async () =>
      (await b.$$('[data-testid="policies-table"] tbody tr')).length === 10);

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
    await until("the imported policy listed", async () => (await b.$$('[data-testid="policies-table"] tbody tr')).length === 12);

    // The demo's paybill office reads M-Pesa's own list: Pull is registered with the simulator.
    await b.$('[data-testid="nav-dashboard"]').click();
    const ledger = await b.$('[data-testid="dash-ledger"]');
    await ledger.waitForDisplayed({ timeout: 10000 });
    assert(/read up to|Pull is registered/.test(await ledger.getText()), `the ledger line: ${await ledger.getText()}`);
    assert((await ledger.getAttribute("data-stale")) === "false", "a demo office is covered");
    await b.saveScreenshot(join(shots, "01-demo-office.png"));
  }),
);
