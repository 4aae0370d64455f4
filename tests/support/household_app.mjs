// Drives the household app in Debian's Chromium (headless, through
// playwright-core) against a running hub, as two people would, and prints
// what it saw as one JSON object on its last line; the Rust test
// (tests/it/app_browser.rs) asserts on it. It asserts nothing itself, so
// every fact it reports is checked where the test names it.
//
//   node household_app.mjs <hub base url> <setup code> <dir of another origin's cert.pem and key.pem> <output dir> <blynk port>
//
// Screenshots of each page at phone and desktop size go to <output dir>.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { PASSWORD, WAIT, blynkClient, launchChromium, look as lookAt, runWizard } from './browser.mjs';

const [base, setupCode, attackerCerts, outDir, blynkPort] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });

const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();
const newContext = () => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
const look = (page, name) => lookAt(page, name, facts, outDir);

const heading = (page) => page.locator('h1').first().textContent({ timeout: WAIT });

// 1. First run: the wizard, ending logged in.
const admin = await newContext();
const page = await admin.newPage();
const violations = [];
page.on('console', (m) => {
  if (m.type() === 'error') violations.push(m.text());
});
await page.goto(base + '/');
facts.first_heading = await heading(page);
await look(page, 'setup');
await runWizard(page, setupCode, 'admin@example.org');
facts.after_wizard = await heading(page);

// 2. The session is a cookie the page cannot read.
const cookies = await admin.cookies();
facts.cookies = cookies.map(({ name, httpOnly, secure, sameSite, path: p }) => ({ name, httpOnly, secure, sameSite, path: p }));
facts.document_cookie = await page.evaluate(() => document.cookie);
facts.local_storage = await page.evaluate(() => Object.keys(localStorage));

// 3. Devices and an invite, made through the API as a bearer client would.
const apiClient = await (await import('playwright-core')).request.newContext({ ignoreHTTPSErrors: true, baseURL: base });
const call = async (method, url, token, data) => {
  const r = await apiClient.fetch('/api/v1' + url, {
    method, data, headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: r.status(), body: await r.json().catch(() => null) };
};
const login = await call('POST', '/login', null, { email: 'admin@example.org', password: PASSWORD });
facts.bearer_login = { status: login.status, has_token: typeof login.body?.token === 'string' };
const token = login.body.token;
const me = await call('GET', '/me', token);
const root = me.body.memberships[0].org;
const garage = await call('POST', '/devices', token, { org: root, name: 'Garage door' });
await call('POST', '/devices', token, { org: root, name: 'Beer machine' });
const hostile = '<img src=x onerror="window.__xss=1">Attic <b>fan</b>';
await call('POST', '/devices', token, { org: root, name: hostile });
const invited = await call('POST', '/members', token, { email: 'spouse@example.org', org: root, role: 'user' });
const shared = await call('POST', `/devices/${garage.body.id}/shares`, token, { with: 'spouse@example.org', level: 'view' });
facts.setup_calls = [garage.status, invited.status, shared.status];

// The list follows the hub live: the new devices arrive without a reload.
await page.locator('.device').nth(2).waitFor({ timeout: WAIT });
facts.admin_devices = await page.locator('.device .name').allTextContents();
facts.injected_images = await page.locator('.devices img, .devices b').count();
facts.xss_ran = await page.evaluate(() => window.__xss === 1);
await look(page, 'devices');

// 3b. A real Blynk device (PyPI blynklib) comes online and goes offline:
// the open page shows both without a reload.
const garageRow = page.locator(`.device[data-device="${garage.body.id}"]`);
facts.garage_before = await garageRow.locator('.status').textContent({ timeout: WAIT });
/** A real Blynk device (blynk_py_client.py) with `token`: `says(event)`
 * resolves with the first line of that event that `match` accepts. */
const blynkDevice = (token) => blynkClient(blynkPort, token);
const device = blynkDevice(garage.body.token);
await device.says('connected');
const connectedAt = Date.now();
await garageRow.locator('.status.online').waitFor({ timeout: WAIT });
facts.online_shown_ms = Date.now() - connectedAt;
facts.garage_online = await garageRow.locator('.status').textContent();
device.send('quit');
await garageRow.locator('.status.offline').waitFor({ timeout: WAIT });
facts.garage_offline = await garageRow.locator('.status').textContent();
device.child.kill();

// 3c. A thermostat's page: controls from its template, live values, a
// command that waits for the device's confirmation.
const template = await call('POST', '/templates', token, {
  org: root, name: 'Thermostat', definition: { datastreams: [
    { pin: 0, name: 'Heating', type: 'int', min: 0, max: 1, wait_for_confirmation: true },
    { pin: 1, name: 'Temperature', type: 'double', min: 5, max: 35, step: 0.5, unit: '°C', wait_for_confirmation: true },
    { pin: 2, name: 'Mode', type: 'enum', values: ['eco', 'comfort', 'away'] },
  ], events: [{ code: 'overheat', name: 'Overheating' }] },
});
const thermostat = await call('POST', '/devices', token, { org: root, name: 'Thermostat', template: template.body.id });
await call('POST', `/devices/${thermostat.body.id}/shares`, token, { with: 'spouse@example.org', level: 'view' });
facts.template_calls = [template.status, thermostat.status];
const thermo = blynkDevice(thermostat.body.token);
await thermo.says('connected');
await page.getByRole('link', { name: 'Thermostat' }).click();
await page.getByRole('heading', { name: 'Thermostat' }).waitFor({ timeout: WAIT });
await page.locator('p.status.online').waitFor({ timeout: WAIT });
facts.thermostat_controls = await page.evaluate(() =>
  [...document.querySelectorAll('.control')].map((c) => c.querySelector('[role=switch], [type=range], [role=radiogroup], output')?.getAttribute('role') ?? c.querySelector('[type=range], output')?.tagName.toLowerCase()));
thermo.send('vw 1 21.5');
await page.waitForFunction(() => document.querySelector('.control[data-pin="1"] input[type=number]')?.value === '21.5', null, { timeout: WAIT });
facts.temperature_shown = await page.locator('.control[data-pin="1"] input[type=number]').inputValue();
facts.temperature_step = await page.locator('.control[data-pin="1"] input[type=range]').getAttribute('step');
const written = thermo.says('write', (w) => w.pin === 0);
await page.getByRole('switch', { name: 'Heating' }).click();
facts.device_received = (await written).values;
await page.locator('.control[data-pin="0"] .pending').waitFor({ timeout: WAIT });
facts.pending_shown = true;
thermo.send('vw 0 1');
await page.locator('.control[data-pin="0"] .pending').waitFor({ state: 'detached', timeout: WAIT });
facts.switch_after_confirm = await page.getByRole('switch', { name: 'Heating' }).getAttribute('aria-checked');
// The slider: one step to the right (the keyboard, as a person without a
// mouse would) reaches the device; its echo clears the pending state.
const slid = thermo.says('write', (w) => w.pin === 1);
await page.locator('.control[data-pin="1"] input[type=range]').focus();
await page.keyboard.press('ArrowRight');
facts.slider_received = (await slid).values;
await page.locator('.control[data-pin="1"] .pending').waitFor({ timeout: WAIT });
thermo.send(`vw 1 ${facts.slider_received[0]}`);
await page.locator('.control[data-pin="1"] .pending').waitFor({ state: 'detached', timeout: WAIT });
facts.slider_after_confirm = await page.locator('.control[data-pin="1"] input[type=number]').inputValue();

// History: the last hour's raw values as a chart, and as CSV.
const temperature = page.locator('.control[data-pin="1"]');
await temperature.locator('summary', { hasText: 'History' }).click();
await temperature.getByRole('button', { name: '1 h' }).click();
await temperature.locator('.history .when', { hasText: '2 values' }).waitFor({ timeout: WAIT });
facts.chart_canvases = await temperature.locator('.chart canvas').count();
const [download] = await Promise.all([
  page.waitForEvent('download', { timeout: WAIT }),
  temperature.getByRole('button', { name: 'CSV' }).click(),
]);
facts.csv = fs.readFileSync(await download.path(), 'utf8');
// An event the device logs appears in the timeline, named by the template.
thermo.send('event overheat Too hot in the attic');
await page.locator('.timeline li', { hasText: 'Overheating' }).waitFor({ timeout: WAIT });
facts.timeline = await page.locator('.timeline li').first().textContent();
await look(page, 'device');

// 4. CSP: an inline script injected into the page does not run.
facts.inline_script_ran = await page.evaluate(async () => {
  const blocked = new Promise((resolve) => document.addEventListener('securitypolicyviolation', () => resolve('blocked'), { once: true }));
  const s = document.createElement('script');
  s.textContent = 'window.__inline = 1';
  document.body.appendChild(s);
  await Promise.race([blocked, new Promise((r) => setTimeout(r, 2000))]);
  return window.__inline === 1;
});
facts.csp_violation_seen = violations.some((v) => v.includes('Content Security Policy'));

// 5. A page of another origin on the same site (another port of the same
// host) posts to the hub with the cookie: the hub refuses it, the session lives.
const attacker = https.createServer(
  { cert: fs.readFileSync(path.join(attackerCerts, 'cert.pem')), key: fs.readFileSync(path.join(attackerCerts, 'key.pem')) },
  (req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>attacker</title>
      <form method="POST" action=${JSON.stringify(base + '/api/v1/logout')}><button>Win a prize</button></form>`);
  },
);
await new Promise((r) => attacker.listen(0, '127.0.0.1', r));
const attackerPage = await admin.newPage();
await attackerPage.goto(`https://127.0.0.1:${attacker.address().port}/`);
// The form's POST is a navigation: the browser sends the cookie (same site:
// another port of the same host) and shows what the hub answered.
await Promise.all([
  attackerPage.waitForURL(base + '/api/v1/logout', { timeout: WAIT }),
  attackerPage.getByRole('button', { name: 'Win a prize' }).click(),
]);
facts.attacker_answer = await attackerPage.evaluate(() => document.body.innerText);
attacker.close();
facts.me_after_attack = await page.evaluate(async () => (await fetch('/api/v1/me')).status);

// 6. The invited person opens their link in another browser.
const spouse = await newContext();
const spousePage = await spouse.newPage();
await spousePage.goto(`${base}/invite#code=${encodeURIComponent(invited.body.invite_code)}`);
facts.invite_heading = await heading(spousePage);
await look(spousePage, 'invite');
await spousePage.getByLabel('Password', { exact: true }).fill(PASSWORD);
await spousePage.getByLabel('Password again').fill(PASSWORD);
await spousePage.getByRole('button', { name: 'Join' }).click();
await spousePage.locator('.device').first().waitFor({ timeout: WAIT });
facts.spouse_url = new URL(spousePage.url()).pathname + new URL(spousePage.url()).hash;
facts.spouse_devices = await spousePage.locator('.device').allTextContents();
await spousePage.getByRole('link', { name: 'Thermostat' }).click();
await spousePage.getByRole('heading', { name: 'Thermostat' }).waitFor({ timeout: WAIT });
await spousePage.locator('.control output').first().waitFor({ timeout: WAIT });
// Any control that would send a command (history's range buttons only read).
facts.spouse_enabled_controls = await spousePage.locator(
  '.controls :is([role=switch], [role=radio], input[type=range], input[type=number], .text-entry input, .text-entry button):enabled',
).count();
facts.spouse_readings = await spousePage.locator('.control output').allTextContents();
facts.spouse_reason = await spousePage.getByRole('note').textContent();
await look(spousePage, 'device-view-only');

// The thermostat goes away: its page says it is offline, commands wait.
thermo.send('quit');
await page.locator('p.status.offline').waitFor({ timeout: WAIT });
facts.offline_notice = await page.getByRole('note').textContent();
thermo.child.kill();

// 6b. Filters on the list: by template, by online state, by name.
await page.getByRole('link', { name: 'Devices', exact: true }).click();
await page.locator('.device').nth(3).waitFor({ timeout: WAIT });
await page.getByLabel('Template').selectOption('Thermostat');
facts.by_template = await page.locator('.device .name').allTextContents();
await page.getByLabel('Template').selectOption('');
await page.getByLabel('State').selectOption('online');
facts.online_now = await page.locator('.device .name').allTextContents();
await page.getByLabel('State').selectOption('');
await page.getByLabel('Search').fill('beer');
facts.by_name = await page.locator('.device .name').allTextContents();
await page.getByLabel('Search').fill('');

// 7. The account page, logging out, and logging in again.
await page.getByRole('link', { name: 'admin@example.org' }).click();
await page.getByRole('heading', { name: 'Your account' }).waitFor({ timeout: WAIT });
await page.locator('.sessions li').first().waitFor({ timeout: WAIT });
facts.sessions_listed = await page.locator('.sessions li').count();
facts.this_session = await page.locator('.sessions li[aria-current="true"]').allTextContents();
await look(page, 'account');
await page.getByRole('button', { name: 'Log out' }).click();
await page.getByRole('heading', { name: 'Log in' }).waitFor({ timeout: WAIT });
facts.cookies_after_logout = (await admin.cookies()).map((c) => c.name);
await look(page, 'login');
await page.getByLabel('Email').fill('admin@example.org');
await page.getByLabel('Password').fill('wrong password here');
await page.getByRole('button', { name: 'Log in' }).click();
facts.wrong_password = await page.getByRole('alert').textContent({ timeout: WAIT });
await page.getByLabel('Password').fill(PASSWORD);
await page.getByRole('button', { name: 'Log in' }).click();
await page.getByRole('heading', { name: 'Your devices' }).waitFor({ timeout: WAIT });
facts.after_login = await heading(page);

await browser.close();
await apiClient.dispose();
console.log(JSON.stringify(facts));
