// What the household app's browser scripts share: Debian's Chromium,
// headless, launched as this machine allows (playwright-core pointed at
// /usr/bin/chromium; --no-sandbox as root), and a look at a page: axe-core's
// serious and critical violations, and screenshots at phone and desktop size.
import path from 'node:path';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export const WAIT = 15_000;
export const PASSWORD = 'correct horse battery';

/** Chromium, with `extra` arguments. */
export function launchChromium(extra = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
      ...extra,
    ],
  });
}

/** Records axe-core's findings on `page` in `facts.axe[name]` and its
 * screenshots (phone, desktop) under `outDir` in `facts.screenshots`. */
export async function look(page, name, facts, outDir) {
  await page.waitForLoadState('networkidle');
  const results = await new AxeBuilder({ page }).analyze();
  facts.axe[name] = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  for (const [size, viewport] of [['phone', { width: 360, height: 740 }], ['desktop', { width: 1280, height: 800 }]]) {
    await page.setViewportSize(viewport);
    const file = path.join(outDir, `${name}-${size}.png`);
    await page.screenshot({ path: file, fullPage: true });
    facts.screenshots.push(file);
  }
}

/** The first-run wizard, filled in as a person would. */
export async function runWizard(page, setupCode, email, household = 'Home') {
  await page.getByLabel('Setup code').fill(setupCode);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Household name').fill(household);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Password again').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set up' }).click();
  await page.getByRole('heading', { name: 'Your devices' }).waitFor({ timeout: WAIT });
}

/** A real Blynk device (blynklib, through blynk_py_client.py) on the hub's
 * Blynk port with `token`: `says(event)` waits (bounded) for one of its
 * JSON lines, `send` gives it a command. */
export function blynkClient(blynkPort, token, host = '127.0.0.1') {
  const child = spawn('python3', [
    path.join(path.dirname(new URL(import.meta.url).pathname), 'blynk_py_client.py'),
    'blynklib', host, String(blynkPort), token,
  ], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const says = (event, match = () => true) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Blynk client never said ${event}`)), WAIT);
    const listen = (line) => {
      let said = null;
      try {
        said = JSON.parse(line);
      } catch {
        return; // the library's own chatter
      }
      if (said.event === event && match(said)) {
        clearTimeout(timer);
        lines.off('line', listen);
        resolve(said);
      }
    };
    lines.on('line', listen);
  });
  return { child, says, send: (command) => child.stdin.write(command + '\n') };
}

let replies = null;
/** Asks the test for something (`{"ask": what}` on stdout) and waits for
 * its "done" (tests/it/app_browser.rs `converse`). */
export async function ask(what) {
  replies ??= readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log(JSON.stringify({ ask: what }));
  const { value } = await replies.next();
  if (value !== 'done') throw new Error(`the test answered ${value} to ${JSON.stringify(what)}`);
}

/** A page in a new context of `browser` at `base`, logged in as `email`
 * through the login page (the tests pin the hub themselves, so the page
 * may ignore its certificate). */
export async function loggedIn(browser, base, email) {
  const context = await browser.newContext({ baseURL: base, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Your devices' }).waitFor();
  return page;
}
