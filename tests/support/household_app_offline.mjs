// The household app on a hub serving plain HTTP (`api.tls = false`) at
// http://localhost: the wizard's session cookie (HttpOnly, SameSite=Strict,
// and without Secure, which plain HTTP could not keep), the service worker
// keeping the app shell, and the app opening with the hub out of reach.
// Prints what it saw as one JSON object on its last line for
// tests/it/app_browser.rs to assert.
//
//   node household_app_offline.mjs <hub base url> <setup code> <output dir>
import fs from 'node:fs';
import { WAIT, launchChromium, look, runWizard } from './browser.mjs';

const [base, setupCode, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();

await page.goto(base + '/');
// The first visit installs the worker; it takes over this page when active.
facts.worker = await page.evaluate(async () => {
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  return navigator.serviceWorker.controller.scriptURL;
});
await runWizard(page, setupCode, 'admin@example.org');
facts.cookies = (await context.cookies()).map(({ name, httpOnly, secure, sameSite }) => ({ name, httpOnly, secure, sameSite }));

// The hub out of reach: the app still opens, and says why it shows nothing.
await context.setOffline(true);
await page.reload();
facts.offline_problem = await page.getByRole('alert').textContent({ timeout: WAIT });
facts.offline_title = await page.title();
facts.api_offline = await page.evaluate(async () => fetch('/api/v1/health').then(() => 'answered', () => 'failed'));
await look(page, 'offline', facts, outDir);
await context.setOffline(false);
// Back in reach: "Try again" asks the hub again, without a reload.
await page.getByRole('button', { name: 'Try again' }).click();
facts.back_online = await page.getByRole('heading', { name: 'Your devices' }).textContent({ timeout: WAIT });

await browser.close();
console.log(JSON.stringify(facts));
