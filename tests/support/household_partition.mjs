// A removal on one hub while the other grants, seen in the app on both
// (tests/it/app_partition.rs runs the two hubs and their link, cuts and
// heals it when asked, and asserts what this prints as its last line,
// JSON): with the link cut, the admin on the first hub removes the spouse
// from the household while the admin on the second shares the garage door
// with her, and she sees it there; the link heals: on both hubs the door's
// "who can see it" no longer lists her, the activity says the share had no
// effect and why, and her session on the second hub is over.
// Usage: node household_partition.mjs <first hub> <second hub> <garage id> <out dir>
import fs from 'node:fs';
import { PASSWORD, ask, launchChromium, loggedIn, look } from './browser.mjs';

const [first, second, garage, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();

async function holders(page) {
  await page.goto(`/devices/${garage}`);
  await page.locator('.holder').first().waitFor();
  return page.locator('.holder .who').allInnerTexts();
}
async function activity(page) {
  await page.goto('/activity');
  // Entries name devices once the live list has arrived (it comes over the
  // stream, after the log): wait for the share to be named, then read.
  await page.locator('.entry .what', { hasText: 'shared Garage door' }).waitFor();
  return page.locator('.entry .what').allInnerTexts();
}
async function devices(page) {
  await page.goto('/');
  // The list arrives over the live stream: wait for it (or the empty list,
  // or the login a session that ended leads to), not for the network.
  await page.locator('.device .name')
    .or(page.getByText('No devices yet.'))
    .or(page.getByRole('button', { name: 'Log in' }))
    .first()
    .waitFor();
  return page.locator('.device .name').allInnerTexts();
}

try {
  const a = await loggedIn(browser, first, 'admin@example.org');
  const b = await loggedIn(browser, second, 'admin@example.org');
  const spouse = await loggedIn(browser, second, 'spouse@example.org');
  facts.spouse_at_first = await devices(spouse);

  await ask({ cut: true });
  // On the first hub: the spouse removed from the household.
  await a.goto('/people');
  const row = a.locator('.member', { hasText: 'spouse@example.org' });
  await row.getByRole('button', { name: 'Remove', exact: true }).click();
  facts.remove_warning = await row.locator('.confirm').innerText();
  await row.getByRole('button', { name: 'Remove spouse@example.org' }).click();
  await a.locator('.member', { hasText: 'spouse@example.org' }).waitFor({ state: 'detached' });
  // On the second, meanwhile: the garage door shared with her.
  await b.goto(`/devices/${garage}`);
  await b.locator('summary', { hasText: 'Share with someone' }).click();
  const share = b.getByRole('form', { name: 'Share this device' });
  await share.getByLabel('Share with').fill('spouse@example.org');
  await share.getByRole('button', { name: 'Share' }).click();
  facts.shared = await share.getByRole('status').innerText();
  facts.spouse_while_cut = await devices(spouse);
  facts.holders_second_while_cut = await holders(b);

  await ask({ heal: true });
  facts.holders_first = await holders(a);
  facts.holders_second = await holders(b);
  facts.activity_first = await activity(a);
  await look(a, 'partition-activity-first', facts, outDir);
  facts.activity_second = await activity(b);
  await look(b, 'partition-activity-second', facts, outDir);
  await spouse.goto('/');
  await spouse.getByRole('button', { name: 'Log in' })
    .or(spouse.locator('.device .name'))
    .or(spouse.getByText('No devices yet.'))
    .first()
    .waitFor();
  facts.spouse_after = (await spouse.getByRole('button', { name: 'Log in' }).count()) ? 'logged out' : 'still in';
  await spouse.getByLabel('Email').fill('spouse@example.org');
  await spouse.getByLabel('Password').fill(PASSWORD);
  await spouse.getByRole('button', { name: 'Log in' }).click();
  facts.spouse_login_after = await spouse.getByRole('alert').innerText();
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
process.exit(0);
