// The Hubs page against real hubs (tests/it/app_hubs.rs starts them and
// asserts what this prints as its last line, JSON): on the first hub the
// admin sees its name, id and fingerprint and no links yet, and pairs a new
// hub (a join command with the code and the fingerprint, also as a QR
// code); the test runs that command on a second hub, which the first then
// lists among the household's hubs; on the second hub's page its link to
// the first shows connected; the test stops the first hub, the link shows
// down with the problem in words, and the admin revokes the dead hub there.
// Usage: node household_hubs.mjs <first hub> <second hub> <out dir>
import fs from 'node:fs';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { ask, launchChromium, loggedIn, look } from './browser.mjs';

const [base, second, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();

async function hubsPage(page) {
  await page.goto('/hubs');
  await page.getByRole('heading', { name: 'Hubs and sync' }).waitFor();
  await page.locator('[aria-busy="true"]').waitFor({ state: 'detached' });
}

try {
  const a = await loggedIn(browser, base, 'admin@example.org');
  await a.getByRole('link', { name: 'Hubs' }).click();
  await a.locator('dd.hub-id').waitFor();
  facts.this_hub = await a.locator('dl.facts').innerText();
  facts.hub_name = await a.locator('dl.facts .hub-name').innerText();
  facts.hub_id = await a.locator('dd.hub-id').innerText();
  facts.fingerprint = await a.locator('dd.fingerprint').innerText();
  facts.links_before = await a.locator('.link').count();
  facts.hubs_before = await a.locator('.hub .who').allInnerTexts();
  facts.conflicts = await a.locator('section[aria-labelledby="conflicts"] p').innerText();

  await a.getByRole('button', { name: 'Pair a new hub' }).click();
  facts.join = await a.locator('.join-command').innerText();
  const png = PNG.sync.read(await a.locator('.pairing svg.qr').screenshot());
  facts.join_qr = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null;
  await look(a, 'hubs-pairing', facts, outDir);

  await ask({ join: facts.join });
  await hubsPage(a);
  facts.hubs_joined = await a.locator('.hub .who').allInnerTexts();
  facts.incoming = await a.locator('.links.incoming .link').allInnerTexts();
  await look(a, 'hubs-dialed', facts, outDir);

  const b = await loggedIn(browser, second, 'admin@example.org');
  await hubsPage(b);
  facts.b_hub_id = await b.locator('dd.hub-id').innerText();
  await b.locator('.link.up').first().waitFor();
  facts.link_up = await b.locator('.link.up').first().innerText();
  await look(b, 'hubs-linked', facts, outDir);

  await ask({ stop: true });
  await hubsPage(b);
  facts.link_down = await b.locator('.link.down').first().innerText();

  const dead = b.locator('.hub', { hasNotText: '(this hub)' });
  await dead.getByRole('button', { name: 'Revoke' }).click();
  facts.revoke_warning = await dead.getByRole('alertdialog').innerText();
  await dead.getByRole('button', { name: /^Revoke hub / }).click();
  await b.getByText('Hub revoked.').waitFor();
  facts.revoked = await b.locator('.hub.revoked').innerText();
  await look(b, 'hubs-revoked', facts, outDir);
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
process.exit(0);
