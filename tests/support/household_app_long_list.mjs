// A person who sees 300 devices: the list is windowed (only the rows on
// screen are in the page), yet says it holds all 300, scrolls to the last
// one, and search finds a device that was not in the page. Prints what it
// saw as one JSON object on its last line for tests/it/app_browser.rs.
//
//   node household_app_long_list.mjs <hub base url> <setup code> <output dir>
import fs from 'node:fs';
import { WAIT, launchChromium, look, runWizard } from './browser.mjs';

const [base, setupCode, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(base + '/');
await runWizard(page, setupCode, 'admin@example.org');
facts.created = await page.evaluate(async () => {
  const me = await (await fetch('/api/v1/me')).json();
  const org = me.memberships[0].org;
  let created = 0;
  for (let batch = 0; batch < 30; batch++) {
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => fetch('/api/v1/devices', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ org, name: `Sensor ${String(batch * 10 + i + 1).padStart(3, '0')}` }),
    })));
    created += answers.filter((a) => a.status === 201).length;
  }
  return created;
});
const list = page.locator('.devices');
await page.waitForFunction(() => document.querySelector('.devices')?.dataset.count === '300', null, { timeout: WAIT });
const rows = () => page.evaluate(() => [...document.querySelectorAll('.device')].map((r) => ({
  at: Number(r.getAttribute('aria-posinset')), of: Number(r.getAttribute('aria-setsize')), name: r.querySelector('.name').textContent,
})));
facts.top = await rows();
facts.label = await list.getAttribute('aria-label');
await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
await page.waitForFunction(() => document.querySelector('.device:last-child')?.getAttribute('aria-posinset') === '300', null, { timeout: WAIT });
facts.bottom = await rows();
await look(page, 'long-list-end', facts, outDir);
await page.evaluate(() => window.scrollTo(0, 0));
await page.getByLabel('Search').fill('Sensor 250');
await page.locator('.devices[data-count="1"]').waitFor({ timeout: WAIT });
facts.found = await rows();
await browser.close();
console.log(JSON.stringify(facts));
