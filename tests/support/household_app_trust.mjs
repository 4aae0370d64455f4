// Trusting the hub, in Chromium as a person would: the hub's certificate
// authority imported into this HOME's NSS store (done by the test with
// certutil), the hub opened by its `.local` name (mapped to loopback) with
// certificate errors *not* ignored. Prints what it saw as one JSON object on
// its last line for tests/it/app_browser.rs to assert.
//
//   HOME=<dir with .pki/nssdb> node household_app_trust.mjs <https url of /trust> <output dir> <name> <port>
import fs from 'node:fs';
import { WAIT, launchChromium, look } from './browser.mjs';

const [url, outDir, name] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium([`--host-resolver-rules=MAP ${name} 127.0.0.1`]);
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
try {
  const answer = await page.goto(url);
  facts.opened = answer?.status() ?? 0;
} catch (e) {
  // A certificate the browser does not trust fails the navigation.
  facts.refused = String(e.message).split('\n')[0];
}
if (facts.opened) {
  facts.secure_context = await page.evaluate(() => window.isSecureContext);
  facts.trusted_notice = await page.locator('.ok[role="status"]').textContent({ timeout: WAIT });
  facts.fingerprint = (await page.getByLabel('Fingerprint').textContent()).replaceAll(' ', '').toLowerCase();
  facts.worker = await page.evaluate(async () => (await navigator.serviceWorker.ready).active.scriptURL);
  facts.platforms = await page.locator('.platforms summary').allTextContents();
  const download = await Promise.all([
    page.waitForEvent('download', { timeout: WAIT }),
    page.getByRole('link', { name: 'Download the certificate (.crt)' }).click(),
  ]).then(([d]) => d);
  facts.download_name = download.suggestedFilename();
  facts.download_bytes = fs.readFileSync(await download.path()).length;
  await page.locator('.platforms details').first().evaluate((d) => { d.open = true; });
  await look(page, 'trust', facts, outDir);
}
await browser.close();
console.log(JSON.stringify(facts));
