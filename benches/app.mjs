// The household app's benchmark, in Debian's Chromium against a real hub
// (started, set up and filled by benches/app.rs, which runs this script):
// prints numbers, asserts nothing.
//
//   node app.mjs <hub base url> <email> <password> <devices.json>
//
// devices.json: [{ id, token }] of devices whose template has V1 (double).
//   1. the app shell as transferred (compressed) and first contentful paint;
//   2. a person who sees all the devices: time until the (windowed) list is
//      on the page after a load, a re-render of the whole list, scrolling
//      frames;
//   3. 100 live updates a second arriving while the list is shown: frames
//      longer than 25 ms (a dropped frame at 60 fps is 16.7 ms; 25 ms leaves
//      headless Chromium's own jitter out);
//   4. device value → pixel: a value written through the HTTP device API
//      until the open device page shows it, p50/p99.
import fs from 'node:fs';
import https from 'node:https';
import { launchChromium, WAIT } from '../tests/support/browser.mjs';

const [base, email, password, devicesFile] = process.argv.slice(2);
const devices = JSON.parse(fs.readFileSync(devicesFile, 'utf8'));
const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 16 });

function update(token, value) {
  return new Promise((resolve, reject) => {
    https
      .get(`${base}/external/api/update?token=${token}&V1=${value}`, { agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`update: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Frame times (ms) of `page` while `during` runs. */
async function frames(page, during) {
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (now) => {
      window.__frames.push(now - last);
      last = now;
      if (window.__framing) requestAnimationFrame(tick);
    };
    window.__framing = true;
    requestAnimationFrame(tick);
  });
  await during();
  return page.evaluate(() => {
    window.__framing = false;
    return window.__frames.slice(1);
  });
}

const browser = await launchChromium();
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
const page = await context.newPage();

// 1. Cold load of the shell (the login page: nothing cached yet).
await page.goto(base + '/', { waitUntil: 'networkidle' });
const load = await page.evaluate(() => {
  const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
    .filter((e) => !new URL(e.name).pathname.startsWith('/api/'));
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {
    transferred: entries.reduce((sum, e) => sum + (e.encodedBodySize || 0), 0),
    decoded: entries.reduce((sum, e) => sum + (e.decodedBodySize || 0), 0),
    fcp: fcp ? fcp.startTime : null,
  };
});
console.log(`app shell: ${(load.transferred / 1024).toFixed(1)} KB transferred (${(load.decoded / 1024).toFixed(1)} KB decoded); first contentful paint ${load.fcp?.toFixed(0)} ms`);

await page.getByLabel('Email').fill(email);
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Log in' }).click();
await page.getByRole('heading', { name: 'Your devices' }).waitFor({ timeout: WAIT });

// 2. The whole list: after a load, re-rendered, scrolled.
const n = devices.length;
const start = Date.now();
await page.reload();
// The list is windowed: it is there when it says it holds every device and
// its first rows are on the page.
await page.waitForFunction((n) => document.querySelector('.devices')?.dataset.count === String(n)
  && document.querySelector('.device[aria-posinset="1"]'), n, { timeout: 60_000 });
const listed = Date.now() - start;
const rerender = await page.evaluate(async () => {
  const search = document.getElementById('device-search');
  const t0 = performance.now();
  search.value = 'zzz-nothing';
  search.dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise((r) => requestAnimationFrame(() => r()));
  search.value = '';
  search.dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
  return performance.now() - t0;
});
const scrolling = await frames(page, () =>
  page.evaluate(async () => {
    const end = performance.now() + 2000;
    while (performance.now() < end) {
      window.scrollBy(0, 120);
      await new Promise((r) => requestAnimationFrame(r));
    }
  }),
);
const slow = (fs_) => fs_.filter((f) => f > 25).length;
const inPage = await page.evaluate(() => ({
  rows: document.querySelectorAll('.device').length,
  height: document.querySelector('.devices').offsetHeight,
  last: document.querySelector('.device:last-child')?.getAttribute('aria-posinset'),
}));
console.log(`windowed: ${inPage.rows} rows in the page at the end of the scroll (the last is row ${inPage.last}), the list ${inPage.height} px high`);
console.log(`${n} devices: the list on the page ${listed} ms after a reload; the whole list emptied and re-rendered in ${rerender.toFixed(0)} ms`);
console.log(`scrolling 2 s: ${scrolling.length} frames, ${(1000 / (scrolling.reduce((a, b) => a + b, 0) / scrolling.length)).toFixed(0)} fps, ${slow(scrolling)} longer than 25 ms, longest ${Math.max(...scrolling).toFixed(0)} ms`);
await page.evaluate(() => window.scrollTo(0, 0));

// 3. 100 updates a second for 5 s, spread over 100 devices.
const updating = await frames(page, async () => {
  const until = Date.now() + 5000;
  let i = 0;
  while (Date.now() < until) {
    const tick = Date.now();
    await Promise.all(Array.from({ length: 10 }, () => {
      const d = devices[i++ % 100];
      return update(d.token, (i % 1000) / 10);
    }));
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
  }
});
console.log(`100 updates/s for 5 s on the list: ${updating.length} frames, ${slow(updating)} longer than 25 ms, longest ${Math.max(...updating).toFixed(0)} ms`);

// 4. Value to pixel on an open device page.
const target = devices[0];
await page.goto(`${base}/devices/${target.id}`);
await page.locator('.control[data-pin="1"] input[type=number]').waitFor({ timeout: WAIT });
const latencies = [];
for (let k = 0; k < 100; k++) {
  const value = (5 + (k % 25) + k / 1000).toFixed(3);
  const seen = page.evaluate((value) => new Promise((resolve) => {
    const look = () => {
      if (document.querySelector('.control[data-pin="1"] input[type=number]')?.value === value) resolve(Date.now());
      else requestAnimationFrame(look);
    };
    look();
  }), value);
  const sent = Date.now();
  await update(target.token, value);
  latencies.push((await seen) - sent);
}
console.log(`device value → pixel on its open page (100 values): p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`);

await browser.close();
agent.destroy();
