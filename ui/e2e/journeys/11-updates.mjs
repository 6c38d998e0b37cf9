import { spawn, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { app, cli, relayBin, shots, e2eDir, portOpen, freePort, until, withApp, assert, signIn, office, officeEnv, journey } from "../support.mjs";

export default journey(import.meta.url, [], "an administrator reads a new version's notes; a package signed with another key is refused, the release key's is installed", async () => {
  // The company publishes with scripts/release into the folder its relay serves. The app here
  // is a copy, so installing replaces the copy (a bare executable updates in place, as an
  // AppImage does), not the build the other journeys use.
  const releaseKey = process.env.MALIPO_UPDATE_TEST_KEY;
  assert(releaseKey, "MALIPO_UPDATE_TEST_KEY names the release key this build trusts");
  const world = mkdtempSync(join(tmpdir(), "malipo-e2e-update-"));
  const folder = join(world, "updates");
  mkdirSync(folder);
  const running = join(world, "malipo-desktop");
  copyFileSync(app, running);
  chmodSync(running, 0o755);
  // The "new version": any executable stands in for it.
  const next = join(world, "malipo-desktop-next");
  copyFileSync("/usr/bin/true", next);
  const notes = join(world, "notes.txt");
  writeFileSync(notes, "Receipts print faster on 80 mm printers.\nPaybill arrivals name the branch.\n");
  const wrongKey = join(world, "wrong.key");
  execFileSync(resolve(e2eDir, "../node_modules/.bin/tauri"), ["signer", "generate", "--ci", "-p", "", "-w", wrongKey], { stdio: "ignore" });
  const relayPort = await freePort();
  const relayEnv = {
    ...process.env,
    MALIPO_RELAY_DATABASE_URL: join(world, "relay.sqlite3"),
    MALIPO_RELAY_LISTEN: `127.0.0.1:${relayPort}`,
    MALIPO_RELAY_UPDATES_DIR: folder,
  };
  const publish = (key) =>
    execFileSync(resolve(e2eDir, "../../scripts/release"),
      ["--publish", folder, "--version", "0.9.0", "--notes", notes, `linux-x86_64=${next}`], {
        env: {
          ...process.env,
          TAURI_SIGNING_PRIVATE_KEY_PATH: key,
          TAURI_SIGNING_PRIVATE_KEY_PASSWORD: "",
          MALIPO_UPDATE_BASE_URL: `http://127.0.0.1:${relayPort}/updates`,
        },
      });
  publish(wrongKey);
  const asAdmin = { ...officeEnv, MALIPO_USER: "wanjiku", MALIPO_PASSWORD: "counter-pass-2026" };
  execFileSync(cli, ["settings", "set", "updates.url", `http://127.0.0.1:${relayPort}/updates/latest.json`], { env: asAdmin });
  const relay = spawn(relayBin, ["serve"], { env: relayEnv, stdio: "ignore" });
  try {
    await until("the relay", () => portOpen(relayPort));
    await withApp(office, async (b) => {
      await signIn(b, "wanjiku", "counter-pass-2026");
      await b.$('[data-testid="nav-settings"]').click();
      const check = await b.$('[data-testid="update-check"]');
      await check.waitForDisplayed({ timeout: 10000 });
      await check.click();
      const offer = await b.$('[data-testid="update-available"]');
      await offer.waitForDisplayed({ timeout: 20000 });
      assert((await offer.getText()).includes("Malipo 0.9.0"), `the new version: ${await offer.getText()}`);
      assert((await b.$('[data-testid="update-notes"]').getText()).includes("Paybill arrivals name the branch."), "its notes are shown");
      await b.saveScreenshot(join(shots, "18-update-offered.png"));

      // Signed, but not with the key this build trusts: refused, nothing replaced.
      await b.$('[data-testid="update-install"]').click();
      const refused = await b.$('[data-testid="update-error"]');
      await refused.waitForDisplayed({ timeout: 30000 });
      assert((await refused.getText()).includes("not signed with the release key this copy of Malipo trusts"), `refused: ${await refused.getText()}`);
      assert(readFileSync(running).equals(readFileSync(app)), "the running app is untouched");
      await b.saveScreenshot(join(shots, "19-update-refused.png"));

      // A genuine package and signature passed off as a newer version (the manifest is not
      // signed; the signature names the version it was made for): refused.
      publish(releaseKey);
      const manifest = join(folder, "latest.json");
      writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, "utf8")), version: "0.9.1" }));
      await check.click();
      await until("the forged 0.9.1 offered", async () => (await offer.isExisting()) && (await offer.getText()).includes("Malipo 0.9.1"), 20000);
      await b.$('[data-testid="update-install"]').click();
      await refused.waitForDisplayed({ timeout: 30000 });
      assert((await refused.getText()).includes("not signed as that version"), `the forged version: ${await refused.getText()}`);
      assert(readFileSync(running).equals(readFileSync(app)), "the running app is still untouched");

      // The same version published again, signed with the release key: installed on request.
      publish(releaseKey);
      await check.click();
      await until("0.9.0 offered again", async () => (await offer.isExisting()) && (await offer.getText()).includes("Malipo 0.9.0"), 20000);
      await b.$('[data-testid="update-install"]').click();
      const installed = await b.$('[data-testid="update-installed"]');
      await installed.waitForDisplayed({ timeout: 30000 });
      assert((await installed.getText()).includes("0.9.0"), `installed: ${await installed.getText()}`);
      assert(readFileSync(running).equals(readFileSync(next)), "the signed package replaced the app");
      await b.saveScreenshot(join(shots, "20-update-installed.png"));
    }, {}, running);
    const audit = execFileSync(cli, ["audit", "--entity", "app", "--id", "malipo", "--json"], { env: asAdmin }).toString();
    assert(audit.includes("update.install") && audit.includes("0.9.0"), `the installation is in the audit log: ${audit}`);
  } finally {
    relay.kill();
    execFileSync(cli, ["settings", "set", "updates.url", ""], { env: asAdmin });
    rmSync(world, { recursive: true, force: true });
  }
});
