// A guest's 48-hour share, through the household app, on a hub whose clock
// the test drives (tests/it/app_guest_share.rs serves an in-process node on
// a manual clock and asserts what this prints as its last line, JSON):
// the admin lends the garage door to the guest for 48 hours from its
// sharing panel; the guest sees it; the test moves the hub's clock to 1 ms
// before the end (still there) and then to the end (gone from the guest's
// list and page, and from the admin's "who can see it"), with nobody doing
// anything in between.
// Asks the test to move the clock by printing {"ask": {"advance_ms": N}}
// and waiting for its "done".
// Usage: node household_guest_share.mjs <base> <guest invite code> <device id> <out dir>
import fs from 'node:fs';
import { PASSWORD, WAIT, ask, launchChromium, loggedIn, look } from './browser.mjs';

const [base, inviteCode, garage, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const HOURS_48 = 48 * 3600 * 1000;
const advance = (ms) => ask({ advance_ms: ms });

const browser = await launchChromium();
async function person() {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  return page;
}
const names = (page) => page.locator('.device .name').allInnerTexts();
async function devicesOf(page) {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Your devices' }).waitFor();
  await page.locator('[aria-busy="true"]').waitFor({ state: 'detached' });
  await page.waitForLoadState('networkidle');
  return names(page);
}

try {
  const a = await loggedIn(browser, base, 'admin@example.org');

  const guest = await person();
  await guest.goto(`/invite#code=${inviteCode}`);
  await guest.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await guest.getByLabel('Password again').fill(PASSWORD);
  await guest.getByRole('button', { name: /join|set|continue/i }).click();
  await guest.getByRole('heading', { name: 'Your devices' }).waitFor();
  facts.guest_before_share = await devicesOf(guest);

  await a.goto(`/devices/${garage}`);
  await a.locator('summary', { hasText: 'Share with someone' }).click();
  const share = a.getByRole('form', { name: 'Share this device' });
  await share.getByLabel('Share with').fill('guest@example.org');
  await share.getByLabel('They may').selectOption({ label: 'See and control it' });
  await share.getByLabel('For how long').selectOption({ label: '48 hours' });
  await share.getByRole('button', { name: 'Share' }).click();
  facts.shared = await share.getByRole('status').innerText();
  facts.reason = await a.locator('.holder', { hasText: 'guest@example.org' }).locator('.reasons').innerText();
  facts.expires = await a.evaluate(async (id) => {
    const holders = await (await fetch(`/api/v1/devices/${id}/access`)).json();
    return holders.flatMap((h) => h.reasons).find((r) => r.kind === 'share')?.expires ?? null;
  }, garage);
  facts.guest_shared = await devicesOf(guest);
  await look(guest, 'guest-shared', facts, outDir);

  await advance(HOURS_48 - 1);
  facts.guest_a_moment_before = await devicesOf(guest);

  await advance(1);
  facts.guest_after = await devicesOf(guest);
  await guest.goto(`/devices/${garage}`);
  facts.guest_device_page = await guest.getByRole('alert').innerText();
  await look(guest, 'guest-share-ended', facts, outDir);
  await a.goto(`/devices/${garage}`);
  await a.locator('.holder').first().waitFor();
  facts.holders_after = await a.locator('.holder .who').allInnerTexts();
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
process.exit(0);
