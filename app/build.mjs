// Builds the household app into dist/, which the hub embeds
// (src/api/app_files.rs includes dist/embedded.rs):
//   dist/files/assets/app-<hash>.js|css   bundled, minified, named by content
//   dist/files/index.html                 the shell, pointing at them
//   dist/files/<static>                   manifest, icons (static/; PNGs drawn by icons.mjs)
// Each text file is written twice, brotli (.br) and gzip (.gz), so the hub
// serves it compressed without compressing anything itself. The output
// depends only on the source and the pinned packages: CI rebuilds it and
// fails if it differs from what is committed (scripts/check-app.sh).
import { PNG_ICONS } from './icons.mjs';
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const here = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(here, 'dist');
const out = path.join(dist, 'files');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webmanifest': 'application/manifest+json',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.webmanifest', '.json', '.txt']);

const bundle = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.tsx' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'safari15', 'firefox100'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: 'assets/[name]-[hash]',
  outdir: 'out',
  write: false,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

/** @type {{path: string, bytes: Buffer, immutable: boolean}[]} */
const files = [];
let js;
let css;
for (const file of bundle.outputFiles) {
  const rel = '/' + path.relative(path.join(here, 'out'), file.path);
  files.push({ path: rel, bytes: Buffer.from(file.contents), immutable: true });
  if (rel.endsWith('.js')) js = rel;
  if (rel.endsWith('.css')) css = rel;
}
if (!js || !css) throw new Error('esbuild wrote no script or no stylesheet');

const shell = fs
  .readFileSync(path.join(here, 'static', 'index.html'), 'utf8')
  .replace('%APP_JS%', js)
  .replace('%APP_CSS%', css);
files.push({ path: '/index.html', bytes: Buffer.from(shell), immutable: false });
for (const name of fs.readdirSync(path.join(here, 'static')).sort()) {
  if (name === 'index.html') continue;
  files.push({ path: '/' + name, bytes: fs.readFileSync(path.join(here, 'static', name)), immutable: false });
}
for (const [name, draw] of Object.entries(PNG_ICONS)) files.push({ path: name, bytes: draw(), immutable: false });
// The service worker, told which files make this build (and so, by their
// hashes, which build it is).
const precache = files.map((f) => f.path);
// By content, not names: a changed shell or icon is a new build too.
const digest = createHash('sha256');
for (const f of files) digest.update(f.path).update('\0').update(f.bytes);
const version = digest.digest('hex').slice(0, 12);
const worker = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/sw.ts'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
  define: { APP_FILES: JSON.stringify(precache), APP_VERSION: JSON.stringify(version) },
});
files.push({ path: '/sw.js', bytes: Buffer.from(worker.outputFiles[0].contents), immutable: false });

files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

fs.rmSync(dist, { recursive: true, force: true });
const rust = [
  '// Written by app/build.mjs from app/src and app/static: do not edit.',
  'pub static FILES: &[AppFile] = &[',
];
const bytes = (p) => `Some(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/app/dist/files${p}")))`;
let compressedTotal = 0;
for (const f of files) {
  const ext = path.extname(f.path);
  const type = TYPES[ext];
  if (!type) throw new Error(`no content type for ${f.path}`);
  const etag = '"' + createHash('sha256').update(f.bytes).digest('hex').slice(0, 20) + '"';
  const target = path.join(out, f.path);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  let raw = 'None';
  let gzip = 'None';
  let br = 'None';
  if (COMPRESSIBLE.has(ext)) {
    const gz = zlib.gzipSync(f.bytes, { level: 9 });
    const brotli = zlib.brotliCompressSync(f.bytes, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: f.bytes.length,
      },
    });
    fs.writeFileSync(target + '.gz', gz);
    fs.writeFileSync(target + '.br', brotli);
    gzip = bytes(f.path + '.gz');
    br = bytes(f.path + '.br');
    compressedTotal += brotli.length;
    console.log(`${f.path}: ${f.bytes.length} B, ${brotli.length} B brotli, ${gz.length} B gzip`);
  } else {
    fs.writeFileSync(target, f.bytes);
    raw = bytes(f.path);
    compressedTotal += f.bytes.length;
    console.log(`${f.path}: ${f.bytes.length} B`);
  }
  rust.push(
    `    AppFile { path: ${JSON.stringify(f.path)}, content_type: ${JSON.stringify(type)}, ` +
      `etag: ${JSON.stringify(etag)}, immutable: ${f.immutable}, raw: ${raw}, gzip: ${gzip}, br: ${br} },`,
  );
}
rust.push('];', '');
fs.writeFileSync(path.join(dist, 'embedded.rs'), rust.join('\n'));
console.log(`app: ${files.length} files, ${compressedTotal} B as served (brotli)`);
