// The sharing stories driven through the household app, one browser
// context per person, against a real hub (tests/it/app_sharing.rs asserts
// what this prints as its last line, JSON):
// - the admin defines roles (Viewer: own devices only; Guest: nothing, which
//   the invite form warns about), invites the spouse (link and QR code), and
//   lends her the garage door for 48 hours from its sharing panel; she opens
//   the link and sees the garage door and not the beer machine;
// - transfers to the current owner and to an outsider are answered clearly;
// - a Family organization is made below, the garage door moved there, and a
//   kid invited into it sees only the garage door; on every page they open,
//   neither the page nor any answer it fetched names the household above;
// - the activity page tells it as sentences; stopping the share takes the
//   door from the spouse's open list;
// - the forum thread: the spouse, who has an account, is invited into
//   Family too; the beer machine is transferred to her (she is in two
//   organizations, so the app asks which); she sees both devices on one
//   list; removing her from the household says the beer machine is left
//   without an owner.
// Usage: node household_sharing.mjs <base> <setup code> <out dir>
import fs from 'node:fs';
import path from 'node:path';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { PASSWORD, WAIT, launchChromium, look, runWizard } from './browser.mjs';

const [base, setupCode, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const HOUSEHOLD = 'Hillcrest House';
const facts = { axe: {}, screenshots: [], leaks: {} };
const browser = await launchChromium();

async function person() {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  // Every answer the page fetched, to look for names it may not know.
  const bodies = [];
  page.on('response', async (r) => {
    try {
      bodies.push(`${r.url()} ${await r.text()}`);
    } catch {
      // a redirect or a stream: no body
    }
  });
  return { context, page, bodies };
}

/** Opens the folded section whose summary says `text` (if it is not open). */
async function unfold(page, text) {
  const section = page.locator('details', { has: page.locator('summary', { hasText: text }) }).last();
  if ((await section.getAttribute('open')) === null) await section.locator('summary').click();
}

const items = (page, selector) => page.locator(selector).allInnerTexts();

/** The invite (or password) link on the page, and what its QR code says. */
async function handedOver(page) {
  const box = page.locator('.handover').last();
  const link = (await box.locator('.link-text').innerText()).trim();
  const png = PNG.sync.read(await box.locator('svg.qr').screenshot());
  const read = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  return { link, qr: read?.data ?? null };
}

async function joinWith(link) {
  const who = await person();
  await who.page.goto(link);
  await who.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await who.page.getByLabel('Password again').fill(PASSWORD);
  await who.page.getByRole('button', { name: /join|set|continue/i }).click();
  await who.page.getByRole('heading', { name: 'Your devices' }).waitFor();
  return who;
}

// ---- the admin founds the household and adds two devices -------------------
const admin = await person();
const a = admin.page;
await a.goto('/');
await runWizard(a, setupCode, 'admin@example.org', HOUSEHOLD);
const root = await a.evaluate(async () => (await (await fetch('/api/v1/me')).json()).memberships[0].org);
facts.root = root;
const add = (name) => a.evaluate(async ([org, name]) => {
  const r = await fetch('/api/v1/devices', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org, name }) });
  return (await r.json()).id;
}, [root, name]);
const garage = await add('Garage door');
const beer = await add('Beer machine');

// ---- roles -----------------------------------------------------------------
await a.getByRole('link', { name: 'Roles' }).click();
await a.getByRole('heading', { name: 'Roles' }).waitFor();
const newRole = async (name, checks) => {
  await unfold(a, `New role in ${HOUSEHOLD}`);
  const form = a.getByRole('form', { name: `New role in ${HOUSEHOLD}` });
  await form.getByLabel('Name').fill(name);
  for (const [label, on] of checks) await form.getByLabel(label, { exact: true }).setChecked(on);
  await form.getByRole('button', { name: 'Create role' }).click();
  await a.locator('.role-card h3', { hasText: name }).waitFor();
};
await newRole('Viewer', [['See own devices', true]]);
await newRole('Guest', [['See own devices', false]]);
facts.permission_lines = await a.locator('.role-card[data-role="admin"] .permissions small').allInnerTexts();
facts.builtin_editable = await a.locator('.role-card[data-role="admin"] input[type=checkbox]:not([disabled])').count();
await look(a, 'roles', facts, outDir);

// ---- invite the spouse -----------------------------------------------------
await a.getByRole('link', { name: 'People' }).click();
await a.getByRole('heading', { name: 'People' }).waitFor();
await unfold(a, `Invite someone into ${HOUSEHOLD}`);
const invite = a.getByRole('form', { name: `Invite someone into ${HOUSEHOLD}` });
await invite.getByLabel('Role').selectOption({ label: 'Guest' });
facts.blind_warning = await invite.locator('.notice').innerText();
facts.blind_button = await invite.getByRole('button', { name: 'Invite anyway' }).count();
await invite.getByLabel('Role').selectOption({ label: 'Viewer' });
facts.viewer_warning = await invite.locator('.notice').count();
await invite.getByLabel('Email').fill('spouse@example.org');
await invite.getByRole('button', { name: 'Invite' }).click();
await a.locator('.invited').waitFor();
facts.spouse_invite = await handedOver(a);
facts.pending = await a.locator('.member', { hasText: 'spouse@example.org' }).locator('.badge').innerText();
await look(a, 'people-invited', facts, outDir);

// ---- lend her the garage door for 48 hours ---------------------------------
await a.goto(`/devices/${garage}`);
await a.getByRole('heading', { name: 'Who can see and control it' }).waitFor();
await unfold(a, 'Share with someone');
const share = a.getByRole('form', { name: 'Share this device' });
const transfer = a.getByRole('form', { name: 'Transfer ownership' });
await share.getByLabel('Share with').fill('spouse@example.org');
await share.getByLabel('For how long').selectOption({ label: '48 hours' });
await share.getByRole('button', { name: 'Share' }).click();
await a.locator('.holder', { hasText: 'spouse@example.org' }).waitFor();
facts.holders = await items(a, '.holder');
await look(a, 'device-sharing', facts, outDir);

const spouse = await joinWith(facts.spouse_invite.link);
await spouse.page.locator('.device .name').first().waitFor();
facts.spouse_devices = await items(spouse.page, '.device .name');
await spouse.page.goto(`/devices/${garage}`);
await spouse.page.getByRole('heading', { name: 'Garage door' }).waitFor();
await spouse.page.waitForLoadState('networkidle');
facts.spouse_sees_panel = await spouse.page.locator('.sharing').count();

// ---- transfers answered clearly --------------------------------------------
await unfold(a, 'Transfer ownership');
// What the form says after this attempt (the hub's answer or refusal).
const answered = async (form, press) => {
  const said = form.locator('[role=status], .problem');
  const before = (await said.count()) ? await said.first().innerText() : null;
  await press();
  await a.waitForFunction(([label, before]) => {
    const el = document.querySelector(`form[aria-label="${label}"] :is([role=status], .problem)`);
    return el && el.textContent !== before;
  }, [await form.getAttribute('aria-label'), before]);
  return said.first().innerText();
};
const tryTransfer = (to) => answered(transfer, async () => {
  await transfer.getByLabel('New owner').fill(to);
  await transfer.getByRole('button', { name: 'Transfer' }).click();
});
facts.transfer_to_owner = await tryTransfer('admin@example.org');
facts.transfer_to_outsider = await tryTransfer('neighbour@example.org');

// ---- a Family organization below, the garage door moved there ---------------
await a.goto('/people');
await a.locator(`section[data-org="${root}"] > .org-actions`).getByRole('button', { name: 'Add an organization below' }).click();
await a.getByRole('form', { name: `New organization in ${HOUSEHOLD}` }).getByLabel('Name of the new organization').fill('Family');
await a.getByRole('button', { name: 'Create' }).click();
await a.getByRole('heading', { name: 'Family' }).waitFor();
const family = await a.locator('section.org', { has: a.getByRole('heading', { name: 'Family' }) }).last().getAttribute('data-org');
await a.goto('/roles');
await unfold(a, 'New role in Family');
const familyRole = a.getByRole('form', { name: 'New role in Family' });
await familyRole.getByLabel('Name').fill('Family viewer');
await familyRole.getByLabel('See all devices', { exact: true }).check();
await familyRole.getByRole('button', { name: 'Create role' }).click();
await a.locator('.role-card h3', { hasText: 'Family viewer' }).waitFor();
await a.goto(`/devices/${garage}`);
await unfold(a, 'Move to another organization');
await a.getByLabel('Organization', { exact: true }).selectOption({ label: 'Family' });
await a.getByRole('button', { name: 'Move' }).click();
await a.getByText('Garage door moved to Family.').waitFor();
await a.goto('/people');
await unfold(a, 'Invite someone into Family');
const kidInvite = a.getByRole('form', { name: 'Invite someone into Family' });
await kidInvite.getByLabel('Email').fill('kid@example.org');
await kidInvite.getByLabel('Role').selectOption({ label: 'Family viewer' });
await kidInvite.getByRole('button', { name: 'Invite' }).click();
await a.locator('.invited').waitFor();
const kidLink = (await handedOver(a)).link;

const kid = await joinWith(kidLink);
await kid.page.locator('.device .name').first().waitFor();
facts.kid_devices = await items(kid.page, '.device .name');
facts.kid_where = await items(kid.page, '.device .where');
for (const [name, where] of [['devices', '/'], ['device', `/devices/${garage}`], ['people', '/people'], ['activity', '/activity'], ['account', '/account']]) {
  await kid.page.goto(where);
  await kid.page.locator('h1').first().waitFor();
  await kid.page.waitForLoadState('networkidle');
  await kid.page.locator('[aria-busy="true"]').waitFor({ state: 'detached' });
  const dom = await kid.page.content();
  const fetched = kid.bodies.join('\n');
  facts.leaks[name] = [HOUSEHOLD, root, 'admin@example.org', 'spouse@example.org', 'Beer machine']
    .filter((secret) => dom.includes(secret) || fetched.includes(secret));
  await look(kid.page, `kid-${name}`, facts, outDir);
}
facts.kid_orgs = await kid.page.evaluate(async () => (await (await fetch('/api/v1/orgs')).json()).map((o) => o.name));

// ---- the activity, and the share stopped -----------------------------------
await a.goto('/activity');
await a.locator('.entry').first().waitFor();
facts.activity = await items(a, '.entry .what');
await look(a, 'activity', facts, outDir);
await a.goto(`/devices/${garage}`);
await a.locator('.holder', { hasText: 'spouse@example.org' }).getByRole('button', { name: 'Stop sharing' }).click();
await a.getByText('Share removed.').waitFor();
facts.holders_after = await items(a, '.holder .who');
await spouse.page.goto('/');
await spouse.page.getByRole('heading', { name: 'Your devices' }).waitFor();
await spouse.page.waitForLoadState('networkidle');
facts.spouse_devices_after = await items(spouse.page, '.device .name');

// ---- the forum thread: an address with an account, all devices at once -----
await a.goto('/people');
await unfold(a, 'Invite someone into Family');
await kidInvite.getByLabel('Email').fill('spouse@example.org');
await kidInvite.getByLabel('Role').selectOption({ label: 'Family viewer' });
await kidInvite.getByRole('button', { name: 'Invite' }).click();
await a.locator('.invited', { hasText: 'already' }).waitFor();
facts.existing_invite = await a.locator('.invited').innerText();
await a.goto(`/devices/${beer}`);
await unfold(a, 'Transfer ownership');
await transfer.getByLabel('New owner').fill('spouse@example.org');
await transfer.getByLabel('Into their organization').selectOption({ label: HOUSEHOLD });
facts.transfer_choices = await transfer.locator('#transfer-org option').allInnerTexts();
facts.transfer_done = await answered(transfer, () => transfer.getByRole('button', { name: 'Transfer' }).click());
await spouse.page.goto('/');
await spouse.page.locator('.device .name', { hasText: 'Beer machine' }).waitFor();
await spouse.page.locator('.device .name', { hasText: 'Garage door' }).waitFor();
facts.spouse_devices_both = await items(spouse.page, '.device .name');
facts.spouse_where_both = await items(spouse.page, '.device .where');
await look(spouse.page, 'spouse-devices', facts, outDir);

// ---- removing the spouse says what she owned --------------------------------
await a.goto('/people');
const row = a.locator(`section[data-org="${root}"] > .members > .member`, { hasText: 'spouse@example.org' });
await row.getByRole('button', { name: 'Remove' }).click();
facts.remove_warning = await row.locator('.confirm p').innerText();
await row.getByRole('button', { name: 'Remove spouse@example.org' }).click();
await row.waitFor({ state: 'detached' });
facts.members_after = await items(a, `section[data-org="${root}"] > .members > .member .who`);

await browser.close();
console.log(JSON.stringify(facts));
