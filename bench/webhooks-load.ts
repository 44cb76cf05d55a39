// The helper processes of bench/webhooks.ts, so that neither shares an event loop (or a core's
// worth of CPU) with the Keyturn it measures.
//
//   node --import tsx bench/webhooks-load.ts receiver
//     a plain node:http server on 127.0.0.1 answering every POST with 204 once its body is read;
//     prints {"port":N} on its first line; GET /count answers how many POSTs it has received.
//   node --import tsx bench/webhooks-load.ts JOB.json
//     {url, connections, changes:[{token, current, next}]}: a closed loop of password changes,
//     `connections` in flight, each change once (POST /api/v1/password/change with the bearer
//     token); prints {changes, seconds, perSecond, bad, p50, p99}.
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

if (process.argv[2] === 'receiver') {
  let count = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count }));
      return;
    }
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  interface Job { url: string; connections: number; changes: { token: string; current: string; next: string }[]; }
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
  const target = new URL('/api/v1/password/change', job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const post = (token: string, body: string) => new Promise<{ ms: number; status: number }>((resolve, reject) => {
    const start = performance.now();
    const req = request(target, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}`, 'user-agent': 'keyturn-bench' },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const times: number[] = [];
  let bad = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: job.connections }, async () => {
    while (next < job.changes.length) {
      const c = job.changes[next++]!;
      const r = await post(c.token, JSON.stringify({ currentPassword: c.current, newPassword: c.next }));
      times.push(r.ms);
      if (r.status !== 200) bad++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = times.sort((x, y) => x - y);
  process.stdout.write(JSON.stringify({
    changes: job.changes.length, seconds, perSecond: job.changes.length / seconds, bad,
    p50: sorted[Math.floor(sorted.length / 2)] ?? NaN, p99: sorted[Math.floor(sorted.length * 0.99)] ?? NaN,
  }));
}
