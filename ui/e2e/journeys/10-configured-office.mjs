import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cli, relayBin, sandboxBin, shots, e2eDir, portOpen, freePort, until, withApp, assert, signIn, journey } from "../support.mjs";

export default journey(import.meta.url, [], "with provider settings from the environment: no demo, a payment through a separate simulator and relay", async () => {
  // Safaricom and Paystack stand-ins and the company relay as their own processes, the way
  // an office is set up for real; the app gets their settings from the environment.
  const world = mkdtempSync(join(tmpdir(), "malipo-e2e-world-"));
  const relayPort = await freePort();
  const sandboxPort = await freePort();
  const relayEnv = {
    ...process.env,
    MALIPO_RELAY_DATABASE_URL: join(world, "relay.sqlite3"),
    MALIPO_RELAY_SECRET_KEY: "6b".repeat(32),
    MALIPO_RELAY_PUBLIC_URL: `http://127.0.0.1:${relayPort}`,
    MALIPO_RELAY_LISTEN: `127.0.0.1:${relayPort}`,
  };
  const relayJson = (args, input) => JSON.parse(execFileSync(relayBin, args, { env: relayEnv, input }).toString());
  const tenant = relayJson(["tenant", "create", "--name", "Jubilee"]);
  execFileSync(relayBin, ["tenant", "set-paystack-secret", tenant.id], { env: relayEnv, input: "sk_test_sandbox" });
  const device = relayJson(["device", "add", "--tenant", tenant.id, "--name", "counter"]);
  const children = [
    spawn(relayBin, ["serve"], { env: relayEnv, stdio: "ignore" }),
    spawn(sandboxBin, [], {
      env: {
        ...process.env,
        MALIPO_SANDBOX_LISTEN: `127.0.0.1:${sandboxPort}`,
        MALIPO_SANDBOX_PAYSTACK_WEBHOOK_URL: tenant.paystack_webhook_url,
        MALIPO_SANDBOX_PAYSTACK_SECRET: "sk_test_sandbox",
      },
      stdio: "ignore",
    }),
  ];
  try {
    await until("the relay and the simulator", async () => (await portOpen(relayPort)) && (await portOpen(sandboxPort)));
    const sandbox = `http://127.0.0.1:${sandboxPort}`;
    const settings = {
      MALIPO_MPESA_BASE_URL: sandbox,
      MALIPO_MPESA_CONSUMER_KEY: "sandbox-consumer-key",
      MALIPO_MPESA_CONSUMER_SECRET: "sandbox-consumer-secret",
      MALIPO_MPESA_SHORTCODE: "174379",
      MALIPO_MPESA_PASSKEY: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
      MALIPO_MPESA_CALLBACK_URL: tenant.daraja_callback_url,
      MALIPO_PAYSTACK_BASE_URL: sandbox,
      MALIPO_PAYSTACK_SECRET_KEY: "sk_test_sandbox",
      MALIPO_RELAY_URL: `http://127.0.0.1:${relayPort}`,
      MALIPO_RELAY_TOKEN: device.token,
    };
    const real = join(world, "office");
    const realEnv = { ...process.env, MALIPO_DATA_DIR: real };
    execFileSync(cli, ["policy", "import", resolve(e2eDir, "../../demo/policies.csv")], { env: realEnv });
    execFileSync(cli, ["user", "add", "--username", "achieng", "--role", "admin"], {
      env: { ...realEnv, MALIPO_NEW_PASSWORD: "manager-pass-2026" },
    });
    await withApp(real, async (b) => {
      await signIn(b, "achieng", "manager-pass-2026");
      const pay = await b.$('[data-testid="pay-POL-1004"]');
      await pay.waitForDisplayed({ timeout: 10000 });
      assert(!(await b.$('[data-testid="demo-banner"]').isExisting()), "configured providers: no demo banner");
      await pay.click();
      await b.$('[data-testid="pay-phone"]').setValue("0708 374 149");
      await b.keys("Enter");
      // The premium has cents, which M-Pesa cannot move: said as typed, nothing sent.
      await until("the whole-shillings problem", async () =>
        (await b.$("#amount-error").isExisting()) && (await b.$("#amount-error").getText()).includes("whole shillings"));
      await b.$('[data-testid="pay-amount"]').setValue("850");
      await b.keys("Enter");
      const paid = await b.$('[data-testid="pay-succeeded"]');
      await paid.waitForDisplayed({ timeout: 30000 });
      assert((await paid.getText()).includes("KES 850.00"), `paid through the relay: ${await paid.getText()}`);
      await b.saveScreenshot(join(shots, "16-configured-paid.png"));
      await b.keys("Escape");
      await b.$('[data-testid="nav-dashboard"]').click();
      await until("the company's figures from the relay", async () => {
        const c = await b.$('[data-testid="dash-company"]');
        return (await c.isExisting()) && (await c.getText()).includes("KES 850.00");
      }, 20000);
      // The relay heard from M-Pesa for the company moments ago, and the manager reads so.
      const last = await b.$('[data-testid="dash-relay-last"]');
      assert((await last.getAttribute("data-stale")) === "false" && /last received .* (just now|\d+ minutes? ago)/.test(await last.getText()),
        `when the relay last heard from a provider: ${await last.getText()}`);
      // This device is counter 1 of its company: its numbers say so, and so does the company view.
      const counters = await b.$('[data-testid="dash-counters"]').getProperty("textContent");
      assert(/HQ-1\s+KES 850\.00 collected/.test(counters), `by counter: ${counters}`);
      await b.$('[data-testid="nav-history"]').click();
      await b.$('[data-testid="history-company"]').click();
      await until("the company's payments, this counter's among them", async () => {
        const t = await b.$('[data-testid="history-table"]');
        return (await t.isExisting()) && (await t.getText()).includes("HQ-1-000001");
      }, 20000);
      await b.saveScreenshot(join(shots, "17-company-payments.png"));
    }, settings);
    // The relay holds the callback that moved the payment, and the office's upload.
    const events = await fetch(`http://127.0.0.1:${relayPort}/v1/events?after=0`, {
      headers: { authorization: `Bearer ${device.token}` },
    }).then((r) => r.json());
    assert(events.events.length === 1 && events.events[0].provider === "daraja", `the relay's events: ${JSON.stringify(events)}`);
  } finally {
    for (const c of children) c.kill();
    rmSync(world, { recursive: true, force: true });
  }
});
