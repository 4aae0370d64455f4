// The app's PNG icons (home screens, Android's install prompt, iOS's
// apple-touch-icon), drawn from the same shapes as static/icon.svg: a
// rounded square and a house, anti-aliased by 4×4 supersampling, written
// as PNG with node's zlib. Deterministic: the same bytes on every build.
import zlib from 'node:zlib';

const BACKGROUND = [0xb4, 0x53, 0x2a];
const HOUSE = [0xff, 0xf7, 0xef];
// static/icon.svg's house, in its 64-unit box.
const HOUSE_PATH = [[32, 12], [10, 30], [16, 30], [16, 50], [28, 50], [28, 38], [36, 38], [36, 50], [48, 50], [48, 30], [54, 30]];

function inside(polygon, x, y) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function inRoundedSquare(x, y, radius) {
  const cx = Math.min(Math.max(x, radius), 64 - radius);
  const cy = Math.min(Math.max(y, radius), 64 - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
}

/** RGBA pixels of the icon at `size`; `maskable` fills the square and keeps
 * the house inside the central 80 % safe zone. */
function draw(size, maskable) {
  const pixels = Buffer.alloc(size * size * 4);
  const scale = maskable ? 0.7 : 1;
  const S = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let back = 0;
      let house = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const x = ((px + (sx + 0.5) / S) / size) * 64;
          const y = ((py + (sy + 0.5) / S) / size) * 64;
          if (!maskable && !inRoundedSquare(x, y, 14)) continue;
          back++;
          const hx = (x - 32) / scale + 32;
          const hy = (y - 32) / scale + 32;
          if (inside(HOUSE_PATH, hx, hy)) house++;
        }
      }
      const i = (py * size + px) * 4;
      const cover = back / (S * S);
      for (let c = 0; c < 3; c++) {
        pixels[i + c] = back ? Math.round((BACKGROUND[c] * (back - house) + HOUSE[c] * house) / back) : 0;
      }
      pixels[i + 3] = Math.round(cover * 255);
    }
  }
  return pixels;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** The icon at `size` pixels as PNG bytes. */
export function iconPng(size, maskable = false) {
  const pixels = draw(size, maskable);
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    rows[y * (size * 4 + 1)] = 0; // no filter
    pixels.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bits per channel
  header[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Every PNG the app serves: path → bytes. */
export const PNG_ICONS = {
  '/icon-192.png': () => iconPng(192),
  '/icon-512.png': () => iconPng(512),
  '/icon-maskable-512.png': () => iconPng(512, true),
  '/apple-touch-icon.png': () => iconPng(180, true),
};
