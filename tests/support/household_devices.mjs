// Setting devices up through the household app, against a real hub and
// real device clients (tests/it/app_devices.rs asserts what this prints as
// its last line, JSON):
// - the admin defines a Thermostat template on the Templates page: the
//   hub's validation message shows for a minimum above the maximum, then
//   the template is made with two datastreams and an event;
// - adds "Hall thermostat" with it from the Devices page: the token is
//   shown once with the Blynk firmware lines, MQTT settings and the HTTP
//   API, and each is used as shown: a real Blynk client (blynklib) on the
//   port in the firmware lines, a real MQTT client (paho) with the settings
//   shown, and the HTTP API line fetched as it is written; the open device
//   page shows it online and each value as it comes;
// - renames it, issues a new token (the old one stops), is refused
//   deleting the template while the device uses it, makes it a device
//   without a template (its controls go) and a thermostat again, deletes
//   the device and then the template.
// Usage: node household_devices.mjs <base> <setup code> <out dir>
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { WAIT, blynkClient, launchChromium, look, runWizard } from './browser.mjs';

const [base, setupCode, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();
const context = await browser.newContext({ baseURL: base });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
const a = await context.newPage();
a.setDefaultTimeout(WAIT);
const children = [];

/** A real MQTT device (paho, mqtt_device.py) logged in as shown. */
function mqttDevice(host, port, username, password) {
  const child = spawn('python3', [path.join(path.dirname(new URL(import.meta.url).pathname), 'mqtt_device.py'),
    host, String(port), username, password], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = readline.createInterface({ input: child.stdout });
  const says = (event) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the MQTT device never said ${event}`)), WAIT);
    const listen = (line) => {
      const said = JSON.parse(line);
      if (said.event === event) {
        clearTimeout(timer);
        lines.off('line', listen);
        resolve(said);
      }
    };
    lines.on('line', listen);
  });
  return { says, send: (command) => child.stdin.write(command + '\n') };
}

const snippet = (label) => a.locator('figure.snippet', { has: a.locator('figcaption', { hasText: label }) }).locator('code').innerText();
const setting = (text, key) => text.split('\n').find((l) => l.startsWith(key))?.slice(key.length).trim().split(/\s+/)[0];
const status = (scope) => scope.getByRole('status').last().innerText();

try {
  await a.goto('/');
  await runWizard(a, setupCode, 'admin@example.org', 'Maple Cottage');

  // ---- a template, refused once, then made --------------------------------
  await a.getByRole('link', { name: 'Templates' }).click();
  await a.locator('summary', { hasText: 'New template' }).click();
  const form = a.getByRole('form', { name: 'New template' });
  await form.getByLabel('Name', { exact: true }).fill('Thermostat');
  await form.getByRole('button', { name: 'Add a datastream' }).click();
  const first = form.locator('fieldset.datastream').nth(0);
  await first.getByLabel('Pin (V)').fill('1');
  await first.getByLabel('Name').fill('Temperature');
  await first.getByLabel('Type').selectOption('double');
  await first.getByLabel('Minimum').fill('35');
  await first.getByLabel('Maximum').fill('5');
  await first.getByLabel('Unit').fill('°C');
  await form.getByRole('button', { name: 'Create template' }).click();
  facts.invalid = await form.getByRole('alert').innerText();
  await first.getByLabel('Minimum').fill('5');
  await first.getByLabel('Maximum').fill('35');
  await form.getByRole('button', { name: 'Add a datastream' }).click();
  const second = form.locator('fieldset.datastream').nth(1);
  await second.getByLabel('Pin (V)').fill('2');
  await second.getByLabel('Name').fill('Heating');
  await second.getByLabel('Wait for the device to confirm a command').check();
  await form.getByRole('button', { name: 'Add an event' }).click();
  await form.getByLabel('Code').fill('overheat');
  await form.getByLabel('Name', { exact: true }).last().fill('Too hot');
  await form.getByLabel('Notify').check();
  await form.getByRole('button', { name: 'Create template' }).click();
  facts.created = await status(form);
  await a.locator('details.template summary', { hasText: 'Thermostat' }).click();
  facts.template_summary = await a.locator('details.template summary').innerText();
  await look(a, 'templates', facts, outDir);

  // ---- a device added with it: its token and how to connect ---------------
  await a.getByRole('link', { name: 'Devices' }).click();
  await a.locator('summary', { hasText: 'Add a device' }).click();
  const add = a.getByRole('form', { name: 'Add a device' });
  await add.getByLabel('Name').fill('Hall thermostat');
  await add.getByLabel('Kind of device').selectOption({ label: 'Thermostat' });
  await add.getByRole('button', { name: 'Add' }).click();
  await a.locator('.token-card').waitFor();
  const token = (await snippet('Auth token')).trim();
  facts.token_length = token.length;
  facts.blynk = await snippet('Blynk firmware');
  facts.mqtt = await snippet('MQTT');
  facts.http = await snippet('Blynk HTTP API');
  facts.tls_line = await a.locator('.token-card p.tls').count();
  await a.getByRole('button', { name: 'Copy: Auth token' }).click();
  await a.getByRole('button', { name: 'Copied: Auth token' }).waitFor();
  facts.copied = await a.evaluate(() => navigator.clipboard.readText());
  await look(a, 'device-added', facts, outDir);
  await a.getByRole('link', { name: 'Open Hall thermostat' }).click();
  await a.getByRole('heading', { name: 'Hall thermostat' }).waitFor();
  facts.token_after_leaving = (await a.content()).includes(token);

  // The firmware lines, as a Blynk client: the host and port they name
  // (mDNS is off here, so the host is the one this browser used).
  const [, host, port] = facts.blynk.match(/"([^"]+)", (\d+)\);/);
  facts.blynk_host = host;
  facts.blynk_port = Number(port);
  const blynk = blynkClient(Number(port), token, host);
  children.push(blynk.child);
  await blynk.says('connected');
  await a.locator('p.status.online').waitFor();
  blynk.send('vw 1 21.5');
  await a.locator('.control[data-pin="1"] .reading, .control[data-pin="1"] input[type=number]').first().waitFor();
  await a.waitForFunction(() => document.querySelector('.control[data-pin="1"] input[type=number]')?.value === '21.5');
  facts.blynk_value = await a.locator('.control[data-pin="1"] input[type=number]').inputValue();

  // The MQTT settings, as a paho client (the Blynk client gone first: a
  // device has one connection, the newest).
  blynk.send('quit');
  await a.locator('p.status.offline').waitFor();
  const mqtt = mqttDevice(setting(facts.mqtt, 'host'), setting(facts.mqtt, 'port'), setting(facts.mqtt, 'username'), setting(facts.mqtt, 'password'));
  facts.mqtt_connected = (await mqtt.says('connected')).rc;
  await a.locator('p.status.online').waitFor();
  mqtt.send('pubwait ds/Temperature 23');
  await mqtt.says('done');
  await a.waitForFunction(() => document.querySelector('.control[data-pin="1"] input[type=number]')?.value === '23');
  facts.mqtt_value = '23';

  // The HTTP API line, fetched as written.
  const update = facts.http.split('\n')[0].match(/curl '([^']+)'/)[1];
  facts.http_status = (await fetch(update)).status;
  await a.waitForFunction(() => document.querySelector('.control[data-pin="1"] input[type=number]')?.value === '5');
  facts.http_value = '5';

  // ---- settings: rename, a new token, the template refused, delete --------
  const settings = a.locator('section.settings');
  await settings.getByLabel('Name', { exact: true }).fill('Hallway thermostat');
  await settings.getByRole('button', { name: 'Rename' }).click();
  facts.renamed = await status(settings);
  await a.getByRole('heading', { name: 'Hallway thermostat' }).waitFor();
  await settings.getByRole('button', { name: 'New auth token' }).click();
  facts.token_warning = await settings.getByRole('alertdialog').innerText();
  await settings.getByRole('button', { name: 'Issue a new token' }).click();
  await settings.locator('.token-card').waitFor();
  const fresh = (await settings.locator('figure.snippet', { hasText: 'Auth token' }).locator('code').innerText()).trim();
  facts.new_token_differs = fresh !== token && fresh.length === token.length;
  const connected = (t) => fetch(`${base}/external/api/isHardwareConnected?token=${t}`).then(async (r) => [r.status, await r.text()]);
  facts.old_token = await connected(token);
  facts.new_token = await connected(fresh);
  await look(a, 'device-settings', facts, outDir);

  await a.getByRole('link', { name: 'Templates' }).click();
  const card = a.locator('details.template', { hasText: 'Thermostat' });
  await card.locator('summary').click();
  await card.getByRole('button', { name: 'Delete template' }).click();
  await card.getByRole('button', { name: 'Delete Thermostat' }).click();
  facts.template_refused = await card.getByRole('alert').innerText();

  // The device made one without a template: its controls go; made a
  // thermostat again, they come back.
  await a.goto('/');
  await a.getByRole('link', { name: 'Hallway thermostat' }).click();
  const kind = a.locator('section.settings');
  await a.locator('.control[data-pin="1"]').waitFor();
  await kind.getByLabel('Template', { exact: true }).selectOption('');
  await kind.getByRole('button', { name: 'Change template' }).click();
  facts.untemplated = await status(kind);
  await a.locator('.control[data-pin="1"]').waitFor({ state: 'detached' });
  facts.controls_untemplated = await a.locator('.control').count();
  await kind.getByLabel('Template', { exact: true }).selectOption({ label: 'Thermostat' });
  await kind.getByRole('button', { name: 'Change template' }).click();
  await a.locator('.control[data-pin="1"]').waitFor();
  facts.templated = await status(kind);

  await a.goto('/');
  await a.getByRole('link', { name: 'Hallway thermostat' }).click();
  await a.locator('section.settings').getByRole('button', { name: 'Delete device' }).click();
  facts.delete_warning = await a.locator('section.settings').getByRole('alertdialog').innerText();
  await a.getByRole('button', { name: 'Delete Hallway thermostat' }).click();
  await a.getByRole('heading', { name: 'Your devices' }).waitFor();
  // The list loaded (not merely not yet shown), and the device not in it.
  await a.getByText('No devices yet.').waitFor();
  facts.devices_after = await a.locator('.device .name').allInnerTexts();

  await a.getByRole('link', { name: 'Templates' }).click();
  const again = a.locator('details.template', { hasText: 'Thermostat' });
  await again.locator('summary').click();
  await again.getByRole('button', { name: 'Delete template' }).click();
  await again.getByRole('button', { name: 'Delete Thermostat' }).click();
  facts.template_deleted = await a.getByRole('status').filter({ hasText: 'deleted' }).innerText();
  await a.getByText('No templates yet.').waitFor();
  facts.templates_after = await a.locator('details.template').count();
} finally {
  for (const child of children) child.kill();
  await browser.close();
}
console.log(JSON.stringify(facts));
