// The household app away from home (tests/it/app_cloud.rs runs a cloud,
// two households' hubs linked to it, and a real device on one of them;
// it answers what this asks and asserts what this prints as its last
// line, JSON): Sam logs in once at the cloud's own address and sees both
// households and all his devices; the thermostat opens in its household's
// app, served by the cloud, and a command made there reaches the device
// through the relay; with the hub gone, the list and the device page say
// the device cannot be reached and a command says why; logging out of the
// cloud ends the sessions in both households.
// Usage: node household_cloud.mjs <cloud base> <out dir>
import fs from 'node:fs';
import { PASSWORD, WAIT, ask, launchChromium, look } from './browser.mjs';

const [base, outDir] = process.argv.slice(2);
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
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
process.exit(0);
