// The load side of `npm run bench`, always in its own process so it never shares an event loop
// with the Keyturn it measures. Reads one JSON job from the file named by argv[2], prints one JSON result.
//
//   {"kind":"cannon", targets:[{url, method?, headers?, body?, bodies?, authorizations?, clients?}], connections, seconds?, amount?}
//     autocannon (programmatic API). `bodies` = one body per request, in order (single-use tokens);
//     `authorizations` = an Authorization header per request, in turn (many sessions);
//     `clients` = that many client addresses in turn, as a reverse proxy names them (X-Forwarded-For);
//     several targets run at once (one autocannon each, connections split) and their counts add up.
//   {"kind":"pairs", url, bodies:[[a…], [b…]], rounds, connections}
//     timing of two request kinds interleaved on the same connections (a, b, a, b …), measured with
//     the high-resolution clock: both kinds see the same load, so their medians can be compared to
//     a fraction of a millisecond (autocannon's histogram counts whole milliseconds).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

interface Target { url: string; method?: string; headers?: Record<string, string>; body?: string; bodies?: string[]; authorizations?: string[]; clients?: number; }
interface CannonJob { kind: 'cannon'; targets: Target[]; connections: number; seconds?: number; amount?: number; }
interface PairsJob { kind: 'pairs'; url: string; bodies: [string[], string[]]; rounds: number; connections: number; }

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

async function cannon(job: CannonJob) {
  const perTarget = Math.max(1, Math.floor(job.connections / job.targets.length));
  const runs = await Promise.all(job.targets.map((t) => {
    let next = 0;
    const { bodies, authorizations, clients } = t;
    const setupRequest = bodies || authorizations || clients
      ? (req: { headers?: Record<string, string> }) => {
        const i = next++;
        const headers = { ...req.headers };
        if (authorizations) headers.authorization = authorizations[i % authorizations.length]!;
        if (clients) headers['x-forwarded-for'] = `10.${(i % clients) >> 16 & 255}.${(i % clients) >> 8 & 255}.${(i % clients) & 255}`;
        return { ...req, headers, ...(bodies ? { body: bodies[i % bodies.length] } : {}) };
      }
      : undefined;
    return autocannon({
      url: t.url,
      connections: perTarget,
      method: t.method ?? 'GET',
      headers: { ...(t.body || bodies ? { 'content-type': 'application/json' } : {}), ...t.headers },
      ...(t.body ? { body: t.body } : {}),
      ...(job.amount ? { amount: Math.floor(job.amount / job.targets.length) } : { duration: job.seconds ?? 5 }),
      ...(setupRequest ? { requests: [{ setupRequest }] } : {}),
    });
  }));
  const total = runs.reduce((n, r) => n + r.requests.total, 0);
  const seconds = Math.max(...runs.map((r) => r.duration));
  return {
    rps: total / seconds,
    total,
    p50: Math.max(...runs.map((r) => r.latency.p50)),
    p99: Math.max(...runs.map((r) => r.latency.p99)),
    errors: runs.reduce((n, r) => n + r.errors + r.timeouts, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    perTarget: runs.map((r) => r.requests.total / r.duration),
  };
}

function post(agent: Agent, url: URL, body: string): Promise<{ ms: number; status: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

async function pairs(job: PairsJob) {
  const url = new URL(job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const times: [number[], number[]] = [[], []];
  let bad = 0;
  let round = 0;
  await Promise.all(Array.from({ length: job.connections }, async () => {
    while (round < job.rounds) {
      round++;
      for (const k of [0, 1] as const) {
        const list = job.bodies[k];
        const r = await post(agent, url, list[times[k].length % list.length]!);
        if (r.status !== 202) bad++;
        times[k].push(r.ms);
      }
    }
  }));
  agent.destroy();
  // The first tenth warms up connections and the JIT.
  const [a, b] = times.map((t) => t.slice(Math.floor(t.length / 10)));
  return { medianA: median(a!), medianB: median(b!), count: a!.length + b!.length, bad };
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as CannonJob | PairsJob;
const result = job.kind === 'cannon' ? await cannon(job) : await pairs(job);
process.stdout.write(JSON.stringify(result));
