// The household app away from home (tests/it/app_cloud.rs runs a cloud,
// two households' hubs linked to it, and a real device on one of them;
// it answers what this asks and asserts what this prints as its last
// line, JSON): Sam logs in once at the cloud's own address and sees both
// households and all his devices; the thermostat opens in its household's
// app, served by the cloud, and a command made there reaches the device
// through the relay; with the hub gone, the list and the device page say
// the device cannot be reached and a command says why; logging out of the
// cloud ends the sessions in both households, and a page of another site
// can do neither. Kim, a member of a sub-organization of one household
// only, sees that household by her organization's name and nothing on any
// page, nor in any answer, names its root.
// Usage: node household_cloud.mjs <cloud base> <out dir> <home's root id>
import fs from 'node:fs';
import { PASSWORD, WAIT, ask, launchChromium, look } from './browser.mjs';

const [base, outDir, rootId] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [], fetched: [] };
const browser = await launchChromium();
try {
  const context = await browser.newContext({ baseURL: base, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('response', (r) => facts.fetched.push(`${r.status()} ${new URL(r.url()).pathname}`));

  await page.goto('/');
  await page.getByRole('heading', { name: 'Log in to Hearth away from home' }).waitFor();
  await look(page, 'cloud-login', facts, outDir);
  await page.getByLabel('Email').fill('sam@example.org');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  facts.refused = await page.getByRole('alert').innerText();
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Your households' }).waitFor();
  await page.locator('.devices li').nth(1).waitFor();
  facts.households = await page.locator('.households a').allInnerTexts();
  facts.household_links = await page.locator('.households a')
    .evaluateAll((links) => links.map((a) => [a.textContent, a.getAttribute('href')]));
  facts.devices = await page.locator('.devices li').allInnerTexts();
  facts.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite }));
  await look(page, 'cloud-home', facts, outDir);

  // The thermostat, in its household's app served by the cloud.
  await page.locator('.devices a', { hasText: 'Thermostat' }).click();
  await page.getByRole('heading', { name: 'Thermostat' }).waitFor();
  facts.device_path = new URL(page.url()).pathname;
  await page.locator('p.status.online').waitFor();
  facts.banner = await page.locator('.banner.away').innerText();
  facts.nav = await page.locator('nav a').allInnerTexts();
  await page.locator('.control[data-pin="1"] input[type=range]').focus();
  await page.keyboard.press('ArrowRight');
  await ask({ command_sent: true });
  await look(page, 'cloud-device', facts, outDir);
  // Another page of the household's app keeps the prefix.
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.getByRole('heading', { name: 'Activity' }).waitFor();
  facts.activity_path = new URL(page.url()).pathname;

  // The hub goes away.
  await ask({ stop_hub: true });
  await page.goto('/');
  await page.locator('.devices li', { hasText: 'Thermostat' }).getByText('Not reachable now').waitFor();
  facts.devices_hub_gone = await page.locator('.devices li').allInnerTexts();
  await page.locator('.devices a', { hasText: 'Thermostat' }).click();
  await page.getByRole('heading', { name: 'Thermostat' }).waitFor();
  facts.offline_notice = await page.locator('.notice').first().innerText();
  await page.locator('.control[data-pin="1"] input[type=range]').focus();
  await page.keyboard.press('ArrowRight');
  facts.command_refused = await page.locator('.control[data-pin="1"] [role=alert]').innerText();
  await look(page, 'cloud-device-hub-gone', facts, outDir);

  // Logging out of the cloud logs out of both households.
  await page.goto('/');
  const held = (await context.cookies()).find((c) => c.name === '__Host-hearth_cloud')?.value;
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in to Hearth away from home' }).waitFor();
  facts.cookies_after_logout = (await context.cookies()).map((c) => c.name);
  // The sessions it held are over in both households, not only forgotten.
  const replay = await context.request.get('/cloud/v1/me', { headers: { authorization: `Bearer ${held}` } });
  facts.held_sessions_after_logout = replay.status();
  await page.goto(facts.device_path);
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  facts.household_after_logout = 'login';

  // Kim, in another browser: what she sees of home names nothing above
  // her organization.
  const kim = await browser.newContext({ baseURL: base, ignoreHTTPSErrors: true });
  const kimPage = await kim.newPage();
  kimPage.setDefaultTimeout(WAIT);
  facts.kim_saw_root = [];
  facts.kim_looked_at = 0;
  const answers = [];
  kimPage.on('response', (r) => answers.push(r));
  const lookedAt = async (what) => {
    facts.kim_looked_at += 1;
    if ((await kimPage.content()).includes(rootId)) facts.kim_saw_root.push(`page ${what}`);
  };
  await kimPage.goto('/');
  await kimPage.getByLabel('Email').fill('kim@example.org');
  await kimPage.getByLabel('Password').fill(PASSWORD);
  await kimPage.getByRole('button', { name: 'Log in' }).click();
  await kimPage.locator('.devices li').first().waitFor();
  facts.kim_households = await kimPage.locator('.households a').allInnerTexts();
  facts.kim_devices = await kimPage.locator('.devices li').allInnerTexts();
  await lookedAt('cloud home');
  await kimPage.locator('.devices a', { hasText: 'Garage door' }).click();
  await kimPage.getByRole('heading', { name: 'Garage door' }).waitFor();
  facts.kim_device_path = new URL(kimPage.url()).pathname;
  await lookedAt('device');
  for (const [link, heading] of [['Devices', 'Your devices'], ['People', 'People'], ['Activity', 'Activity'], ['kim@example.org', 'Your account']]) {
    const nav = kimPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link });
    if ((await nav.count()) === 0) continue;
    await nav.click();
    await kimPage.getByRole('heading', { name: heading, exact: true }).first().waitFor();
    await kimPage.waitForLoadState('networkidle');
    await lookedAt(link);
  }
  await look(kimPage, 'cloud-kim-account', facts, outDir);
  for (const r of answers) {
    const body = await r.body().catch(() => Buffer.alloc(0));
    if (body.includes(rootId)) facts.kim_saw_root.push(`answer ${new URL(r.url()).pathname}`);
  }

  // A page of another site, with Kim's cookie: refused by the cloud and
  // by the household alike.
  const tenantPrefix = facts.kim_device_path.split('/devices/')[0];
  const crossSite = { origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' };
  facts.cross_site_logout = (await kim.request.post('/cloud/v1/logout', { headers: crossSite })).status();
  facts.cross_site_household = (await kim.request.post(`${tenantPrefix}/api/v1/logout`, { headers: crossSite })).status();
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
process.exit(0);
