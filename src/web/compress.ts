// Compression of the hosted pages' text answers (HTML, CSS, JavaScript, JSON): brotli or gzip, as
// the client's Accept-Encoding prefers, in an onSend hook of the pages' plugin. A dozen lines of
// node:zlib instead of a dependency: the pages send whole strings, never streams. Headers set
// before (the security headers, Cache-Control, Set-Cookie) are untouched; bodies under 1 KiB go
// as they are (the headers would eat the gain); every compressible answer says
// `Vary: Accept-Encoding`, so a cache never hands a compressed body to a client that did not ask.
// A route that sets its own Content-Encoding or ETag (/assets, gzipped once at build) manages its
// representations itself and is left alone.
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

const MIN_BYTES = 1024;
const COMPRESSIBLE = /^(?:text\/(?:html|css|javascript|plain)|application\/(?:json|javascript))\s*(?:;|$)/i;

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

export type Encoding = 'br' | 'gzip';

/** The encoding to use for an Accept-Encoding header: the highest q of br and gzip (br on a tie), or null. */
export function pickEncoding(header: string | string[] | undefined): Encoding | null {
  if (!header) return null;
  const q = new Map<string, number>();
  for (const part of String(header).split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const value = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    const weight = value === undefined ? 1 : Number(value);
    if (name && Number.isFinite(weight)) q.set(name.trim(), weight);
  }
  const weightOf = (name: Encoding) => q.get(name) ?? q.get('*') ?? 0;
  const br = weightOf('br');
  const gz = weightOf('gzip');
  if (br <= 0 && gz <= 0) return null;
  return br >= gz ? 'br' : 'gzip';
}

function addVary(reply: FastifyReply): void {
  const vary = String(reply.getHeader('vary') ?? '');
  if (vary.trim() === '*' || /(?:^|,)\s*accept-encoding\s*(?:,|$)/i.test(vary)) return;
  reply.header('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
}

/** The onSend hook (webPages registers it for every page, asset and error page). */
export async function compressText(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (!COMPRESSIBLE.test(String(reply.getHeader('content-type') ?? ''))) return payload;
  if (reply.getHeader('content-encoding') !== undefined || reply.getHeader('etag') !== undefined) return payload;
  addVary(reply);
  if (reply.statusCode === 204 || reply.statusCode === 304) return payload;
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload; // streams, nothing
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length < MIN_BYTES) return payload;
  const encoding = pickEncoding(request.headers['accept-encoding']);
  if (!encoding) return payload;
  // Quality 5 and level 6: a page of 6 KB takes well under a millisecond, off the event loop.
  const out = encoding === 'br'
    ? await brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } })
    : await gzipped(body, { level: 6 });
  reply.header('content-encoding', encoding);
  reply.removeHeader('content-length');
  return out;
}
