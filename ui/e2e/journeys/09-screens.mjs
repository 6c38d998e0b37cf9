import { join } from "node:path";
import { shots, until, withApp, assert, signIn, office, journey } from "../support.mjs";

export default journey(import.meta.url, [], "every screen fits the common office screens, 1366×768 and 1280×720", () =>
  withApp(office, async (b) => {
    await signIn(b, "wanjiku", "counter-pass-2026");
    await b.$('[data-testid="policies-table"]').waitForDisplayed({ timeout: 10000 });
    for (const [width, height] of [[1366, 768], [1280, 720]]) {
      await b.setWindowSize(width, height);
      await until(`the window at ${width}×${height}`, async () =>
        (await b.execute(() => window.innerWidth)) <= width && (await b.execute(() => window.innerWidth)) > width - 40);
      const tabs = await b.$$("nav.tabs button");
      assert(tabs.length === 10, `an administrator's screens: ${tabs.length}`);
      for (const tab of tabs) {
        const screen = (await tab.getAttribute("data-testid")).replace("nav-", "");
        await tab.click();
        await until(`the ${screen} screen`, async () => (await tab.getAttribute("aria-current")) === "page");
        // Nothing runs off the side, and the screen's heading is in view under the tabs.
        const fit = await b.execute(() => ({
          wide: document.documentElement.scrollWidth - window.innerWidth,
          heading: document.querySelector("main h2")?.getBoundingClientRect().bottom ?? 9999,
          height: window.innerHeight,
        }));
        assert(fit.wide <= 0, `${screen} at ${width}×${height} runs ${fit.wide} px off the side`);
        assert(fit.heading < fit.height / 2, `${screen} at ${width}×${height}: its heading sits at ${fit.heading} px of ${fit.height}`);
        await b.saveScreenshot(join(shots, `30-${width}x${height}-${screen}.png`));
      }
      // Taking a payment: the form, its button and the code check are all in view.
      await b.$('[data-testid="nav-policies"]').click();
      await b.$('[data-testid="pay-POL-1003"]').click();
      for (const id of ["pay-amount", "pay-send", "verify-send"]) {
        assert(await b.$(`[data-testid="${id}"]`).isDisplayed({ withinViewport: true }), `${id} at ${width}×${height} is out of view`);
      }
      await b.saveScreenshot(join(shots, `30-${width}x${height}-take-payment.png`));
      await b.keys("Escape");
    }
  }),
);
