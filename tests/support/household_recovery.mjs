// What a member sees in the app of a household with no administrator left
// (tests/it/household_recovery.rs makes one, runs this before and after
// recovering it on the hub, and asserts the JSON this prints last): the
// alert with the recovery commands on their devices page, or none.
// Usage: node household_recovery.mjs <hub base> <email> <out dir> <name>
import fs from 'node:fs';
import { launchChromium, loggedIn, look } from './browser.mjs';

const [base, email, outDir, name] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const facts = { axe: {}, screenshots: [] };
const browser = await launchChromium();
try {
  const page = await loggedIn(browser, base, email);
  await page.waitForLoadState('networkidle');
  const alert = page.getByRole('alert', { name: 'No administrator left' });
  facts.banner = (await alert.count()) ? await alert.innerText() : null;
  await look(page, name, facts, outDir);
} finally {
  await browser.close();
}
console.log(JSON.stringify(facts));
