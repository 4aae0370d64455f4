// The connection-lost banner and the resync, with the hub killed and
// started again under an open page: the test (tests/it/app_browser.rs)
// does the killing and starting when this script asks on stdout
// ("kill-hub", "start-hub") and says on stdin when it is done. A device is
// online when the hub dies (kill -9: it never tells anyone it went), so
// only a resync from the new hub's full state can show it offline.
// Prints what it saw as one JSON object on its last line.
//
//   node household_app_reconnect.mjs <hub base url> <setup code> <blynk port> <output dir>
import fs from 'node:fs';
import readline from 'node:readline';
import { WAIT, blynkClient, launchChromium, look, runWizard } from './browser.mjs';

const [base, setupCode, blynkPort, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const told = readline.createInterface({ input: process.stdin });
const ask = async (what, answer) => {
  const heard = new Promise((resolve) => told.once('line', resolve));
  console.log(what);
  facts[`${what}_answer`] = await heard;
  if (facts[`${what}_answer`] !== answer) throw new Error(`asked ${what}, was told ${facts[`${what}_answer`]}`);
};

const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(base + '/');
await runWizard(page, setupCode, 'admin@example.org');
const made = await page.evaluate(async () => {
  const me = await (await fetch('/api/v1/me')).json();
  const answer = await fetch('/api/v1/devices', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ org: me.memberships[0].org, name: 'Porch light' }),
  });
  return answer.json();
});
const row = page.locator(`.device[data-device="${made.id}"]`);
const device = blynkClient(blynkPort, made.token);
await device.says('connected');
await row.locator('.status.online').waitFor({ timeout: WAIT });
facts.before = await row.locator('.status').textContent();

await ask('kill-hub', 'killed');
facts.banner = await page.locator('.banner').textContent({ timeout: WAIT });
facts.while_lost = await row.locator('.status').textContent();
await look(page, 'connection-lost', facts, outDir);
device.child.kill();

await ask('start-hub', 'started');
await page.locator('.banner').waitFor({ state: 'detached', timeout: WAIT });
await row.locator('.status.offline').waitFor({ timeout: WAIT });
facts.after = await row.locator('.status').textContent();
await browser.close();
told.close();
console.log(JSON.stringify(facts));
