// /favicon.ico: Keyturn's mark (the header's rounded square with its ring) as a 16 and a 32 pixel
// icon, drawn here once at start-up, so no page view ends in a 404 for it. The layout links it.
import type { FastifyInstance } from 'fastify';

const PRIMARY = [0x1f, 0x4e, 0xd8] as const; // --primary in client/app.css

/** Signed distance from (x, y) to a rounded square of side `size` and corner radius `r` (negative inside). */
function roundedSquare(x: number, y: number, size: number, r: number): number {
  const half = size / 2;
  const qx = Math.abs(x - half) - (half - r);
  const qy = Math.abs(y - half) - (half - r);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** One image as BGRA rows, bottom row first (the BMP order inside an ICO). */
function draw(size: number): Buffer {
  // The CSS mark is 24 px: radius 7, a 5 px border of the colour, a white ring to 9 px, colour inside.
  const k = size / 24;
  const pixels = Buffer.alloc(size * size * 4);
  const SAMPLES = 4; // 4×4 samples per pixel for smooth edges
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let cover = 0;
      let white = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const d = -roundedSquare(x + (sx + 0.5) / SAMPLES, y + (sy + 0.5) / SAMPLES, size, 7 * k);
          if (d < 0) continue;
          cover++;
          if (d >= 5 * k && d < 9 * k) white++;
        }
      }
      const n = SAMPLES * SAMPLES;
      const w = cover ? white / cover : 0;
      const mix = (c: number) => Math.round(c * (1 - w) + 255 * w);
      const at = ((size - 1 - y) * size + x) * 4;
      pixels[at] = mix(PRIMARY[2]);
      pixels[at + 1] = mix(PRIMARY[1]);
      pixels[at + 2] = mix(PRIMARY[0]);
      pixels[at + 3] = Math.round((255 * cover) / n);
    }
  }
  return pixels;
}

/** An ICO file holding one 32-bit image per size. */
export function icoFile(sizes: number[]): Buffer {
  const images = sizes.map((size) => {
    const header = Buffer.alloc(40); // BITMAPINFOHEADER
    header.writeUInt32LE(40, 0);
    header.writeInt32LE(size, 4);
    header.writeInt32LE(size * 2, 8); // colour rows + mask rows
    header.writeUInt16LE(1, 12);
    header.writeUInt16LE(32, 14);
    const mask = Buffer.alloc(Math.ceil(size / 32) * 4 * size); // all zero: the alpha channel decides
    return Buffer.concat([header, draw(size), mask]);
  });
  const dir = Buffer.alloc(6 + 16 * sizes.length);
  dir.writeUInt16LE(1, 2); // type: icon
  dir.writeUInt16LE(sizes.length, 4);
  let offset = dir.length;
  sizes.forEach((size, i) => {
    const e = 6 + 16 * i;
    dir.writeUInt8(size % 256, e);
    dir.writeUInt8(size % 256, e + 1);
    dir.writeUInt16LE(1, e + 4); // planes
    dir.writeUInt16LE(32, e + 6); // bits per pixel
    dir.writeUInt32LE(images[i]!.length, e + 8);
    dir.writeUInt32LE(offset, e + 12);
    offset += images[i]!.length;
  });
  return Buffer.concat([dir, ...images]);
}

export const FAVICON_PATH = '/favicon.ico';

export async function faviconRoutes(app: FastifyInstance) {
  const icon = icoFile([16, 32]);
  app.get(FAVICON_PATH, async (_request, reply) =>
    reply.type('image/x-icon').header('cache-control', 'public, max-age=86400').send(icon));
}
