// The Bluetooth sensors page against a real hub and a real bridge
// (tests/it/app_sensors.rs publishes as the bridge when asked, with
// paho-mqtt, and asserts what this prints as its last line, JSON): the
// admin adds a bridge (token shown once, with the Theengs Gateway command);
// the bridge reports three sensors, which wait in the inbox with their
// readings, or why none (an encrypted one needs its bind key); the
// encrypted one is adopted with its bind key, a template and, its readings
// not yet known, the reading each datastream takes; a plain one
// with a reading mapped to a datastream of another name, and their next
// reports show on their device pages; the third is dismissed; the bridge
// is revoked.
// Usage: node household_sensors.mjs <base> <out dir>
import fs from 'node:fs';
import { ask, launchChromium, loggedIn, look } from './browser.mjs';

const [base, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();

async function sensorsPage(page) {
  await page.goto('/sensors');
  await page.getByRole('heading', { name: 'Bluetooth sensors' }).waitFor();
  await page.locator('[aria-busy="true"]').waitFor({ state: 'detached' });
}

try {
  const a = await loggedIn(browser, base, 'admin@example.org');
  await a.getByRole('link', { name: 'Sensors' }).click();
  await a.getByRole('heading', { name: 'Heard, not yet adopted' }).waitFor();
  facts.empty = await a.locator('section[aria-labelledby="inbox"] p').innerText();

  await a.locator('summary', { hasText: 'Add a bridge' }).click();
  await a.getByLabel('Gateway name').fill('TheengsGateway');
  await a.getByRole('form', { name: 'Add a bridge' }).getByRole('button', { name: 'Add' }).click();
  const token = (await a.locator('.bridge-token').innerText()).trim();
  facts.token_length = token.length;
  facts.command = await a.locator('.bridge-command').innerText();
  facts.bridges = await a.locator('.bridge .who').allInnerTexts();

  await ask({ publish: token, sensors: 'all' });
  await sensorsPage(a);
  facts.waiting = await a.locator('.waiting').allInnerTexts();
  await look(a, 'sensors-inbox', facts, outDir);

  // The encrypted one, with its bind key: its readings are not known yet,
  // so each datastream is told which reading it takes (its temperature to
  // V2, which no reading is named after).
  const encrypted = a.locator('.waiting', { hasText: '54:48:E6:8F:80:A5' });
  await encrypted.locator('summary', { hasText: 'Adopt as a device' }).click();
  const locked = encrypted.getByRole('form');
  await locked.getByLabel('Name').fill('Bedroom climate');
  await locked.getByLabel('Kind of device').selectOption({ label: 'Climate sensor' });
  await locked.getByLabel('Bind key').fill('231d39c1d7cc1ab1aee224cd096db932');
  facts.locked_choices = await locked.locator('fieldset.mapping label').allInnerTexts();
  await locked.getByLabel('V2 Air humidity').selectOption('temperature');
  await locked.getByRole('button', { name: 'Adopt' }).click();
  facts.adopted = await a.getByRole('status').first().innerText();
  facts.waiting_after_adopt = await a.locator('.waiting').count();

  // A plain one, its humidity sent to a datastream of another name.
  const plain = a.locator('.waiting', { hasText: 'A4:C1:38:00:00:01' });
  await plain.locator('summary', { hasText: 'Adopt as a device' }).click();
  const open = plain.getByRole('form');
  await open.getByLabel('Name').fill('Hall climate');
  await open.getByLabel('Kind of device').selectOption({ label: 'Climate sensor' });
  facts.mapping_choices = await open.locator('label', { hasText: 'goes to' }).allInnerTexts();
  await open.getByLabel('humidity goes to').selectOption({ label: 'V2 Air humidity' });
  await open.getByRole('button', { name: 'Adopt' }).click();
  await a.getByRole('status').first().filter({ hasText: 'Hall climate adopted' }).waitFor();

  await ask({ publish: token, sensors: 'adopted' });
  await a.goto('/');
  await a.getByRole('link', { name: 'Bedroom climate' }).click();
  await a.waitForFunction(() => document.querySelector('.control[data-pin="2"] input[type=number]')?.value === '25');
  facts.bedroom_v2 = await a.locator('.control[data-pin="2"] input[type=number]').inputValue();
  await a.goto('/');
  await a.getByRole('link', { name: 'Hall climate' }).click();
  await a.waitForFunction(() => document.querySelector('.control[data-pin="2"] input[type=number]')?.value === '50.55');
  facts.hall_humidity = await a.locator('.control[data-pin="2"] input[type=number]').inputValue();

  await sensorsPage(a);
  await a.locator('.waiting', { hasText: 'A4:C1:38:00:00:02' }).getByRole('button', { name: 'Dismiss' }).click();
  facts.dismissed = await a.getByRole('status').first().innerText();
  facts.waiting_after_dismiss = await a.locator('.waiting').count();

  const bridge = a.locator('.bridge', { hasText: 'TheengsGateway' });
  await bridge.getByRole('button', { name: 'Revoke' }).click();
  await bridge.getByRole('button', { name: 'Revoke TheengsGateway' }).click();
  await a.locator('.bridge.revoked').waitFor();
  facts.revoked = await a.getByRole('status').first().innerText();
  await look(a, 'sensors-done', facts, outDir);
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
process.exit(0);
