// The load side of bench/mfa.ts, in its own process so it never shares an event loop (or the CPU
// count) with the Keyturn it measures. Reads one JSON job from the file named by argv[2], prints one
// JSON result. A closed loop: `connections` sign-ins in flight, `amount` in all.
//
//   {url, password, connections, amount, accounts:[{email, secret?}], firstOnly?}
//     without `secret`: POST /api/v1/login → 200 (accounts taken in turn, reused);
//     with it: POST /api/v1/login → 403 mfa_required, then POST /api/v1/login/mfa with the TOTP code
//     (each account once: a code is accepted once per account and time step);
//     `firstOnly`: the 403 alone, no second request (accounts reused: no code is spent).
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';

interface Job { url: string; password: string; connections: number; amount: number; accounts: { email: string; secret?: string }[]; firstOnly?: boolean; }

function post(agent: Agent, url: URL, body: string): Promise<{ ms: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'keyturn-bench' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The code of the next time step: the accounts were enrolled with a code of the current step
 * (which the server will not take again), and one step of drift is accepted — the same check.
 */
const nextStepCode = (secret: string) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + 30_000 });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const login = new URL('/api/v1/login', job.url);
const second = new URL('/api/v1/login/mfa', job.url);
const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
const firstMs: number[] = [];
const secondMs: number[] = [];
let bad = 0;
let next = 0;
const started = performance.now();
await Promise.all(Array.from({ length: job.connections }, async () => {
  while (next < job.amount) {
    const account = job.accounts[next++ % job.accounts.length]!;
    const first = await post(agent, login, JSON.stringify({ email: account.email, password: job.password }));
    firstMs.push(first.ms);
    if (!account.secret) {
      if (first.status !== 200) bad++;
      continue;
    }
    const ticket = first.status === 403 ? (JSON.parse(first.body) as { ticket?: string }).ticket : undefined;
    if (!ticket) { bad++; continue; }
    if (job.firstOnly) continue;
    const done = await post(agent, second, JSON.stringify({ ticket, method: 'totp', code: nextStepCode(account.secret) }));
    secondMs.push(done.ms);
    if (done.status !== 200) bad++;
  }
}));
const seconds = (performance.now() - started) / 1000;
agent.destroy();
process.stdout.write(JSON.stringify({
  signIns: job.amount, seconds, perSecond: job.amount / seconds, bad,
  firstP50: median(firstMs), secondP50: secondMs.length ? median(secondMs) : null,
}));
