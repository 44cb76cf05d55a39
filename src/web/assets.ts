// /assets/*: the stylesheet and the client script, bundled by esbuild in memory (no build step).
// Built once per process (when the server listens, or on the first request) and kept; the zxcvbn dictionaries land in a separate chunk
// the browser fetches only when someone starts typing a new password.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

export interface Asset { body: Buffer; gzip: Buffer | null; type: string; etag: string; immutable: boolean; }

let pending: Promise<Map<string, Asset>> | null = null;

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

async function buildAssets(): Promise<Map<string, Asset>> {
  const { build } = await import('esbuild');
  const entry = (name: string) => fileURLToPath(new URL(`./client/${name}`, import.meta.url));
  const result = await build({
    entryPoints: [entry('app.ts'), entry('app.css')],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    write: false,
    outdir: '/assets',
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) continue;
    const body = Buffer.from(file.contents);
    assets.set(name, {
      body,
      gzip: body.length > 1024 ? gzipSync(body, { level: 9 }) : null,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: name.startsWith('chunk-'),
    });
  }
  return assets;
}

/** The bundle, built on the first call; a failed build is forgotten so the next call retries. */
export function clientAssets(): Promise<Map<string, Asset>> {
  if (!pending) {
    pending = buildAssets();
    pending.catch(() => { pending = null; });
  }
  return pending;
}

export async function assetRoutes(app: FastifyInstance) {
  // Built when the server starts listening, so the first page view does not wait (pages never
  // depend on it). Not at registration: CLI commands build the app too and never serve a page.
  app.addHook('onListen', async () => {
    clientAssets().catch((err: unknown) => app.log.error({ err }, 'client bundle failed to build'));
  });

  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const asset = (await clientAssets()).get(request.params.name);
    if (!asset) return reply.status(404).type('text/plain; charset=utf-8').send('Not found');
    reply
      .type(asset.type)
      .header('etag', asset.etag)
      .header('vary', 'Accept-Encoding')
      .header('x-content-type-options', 'nosniff')
      // Fixed names are revalidated (cheap 304s); hashed chunk names never change content.
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
    const gzip = asset.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (gzip) reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? asset.gzip : asset.body);
  });
}
