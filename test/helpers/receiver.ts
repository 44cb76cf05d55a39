// An HTTP receiver on 127.0.0.1 for what Keyturn sends out (webhooks, back-channel logout): started
// before the suite's tests and closed after them, it answers each path as told (200 "ok" by
// default, or never: 'hang') and keeps every request it got.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export interface Received { path: string; headers: IncomingHttpHeaders; body: string; }
export type Answer = { status: number; body?: string } | 'hang';

export function receiver() {
  const seen: Received[] = [];
  const answers = new Map<string, Answer>();
  let server: Server | undefined;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; });
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0]!;
        seen.push({ path, headers: req.headers, body });
        const a = answers.get(path) ?? { status: 200 };
        if (a === 'hang') return; // never answers
        res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.body ?? 'ok');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    port = (server!.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });
  return {
    seen, answers,
    url: (path: string, host = '127.0.0.1') => `http://${host}:${port}${path}`,
    to: (path: string) => seen.filter((s) => s.path === path),
  };
}
