// SIGTERM under a small load, on a real `keyturn serve`: the listener stops taking connections,
// every request already in flight gets its full answer, the email being sent when the signal came
// is delivered and recorded as sent, the rest of the outbox is handed back, and the process exits 0
// within 10 seconds.
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { MailCatcher } from '../helpers/mail-catcher.ts';
import { deployment, query, seedUsers, servicesMissing, sleep, STRONG, suiteName, type Deployment, type Instance } from './helpers.ts';

interface Outcome { what: string; start: number; end: number; status?: number; error?: string; }

/** One request on its own connection (no keep-alive: no idle socket for the server to close under us). */
function send(base: string, what: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Outcome> {
  const start = Date.now();
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(`${base}${path}`, {
      method, agent: false, timeout: 20_000,
      headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...headers },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ what, start, end: Date.now(), status: res.statusCode }));
      res.on('error', (e) => resolve({ what, start, end: Date.now(), error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.on('error', (e) => resolve({ what, start, end: Date.now(), error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}

/**
 * A request whose body arrives in two halves, the second when `finish` is called: it is in flight
 * across the signal whatever the machine's load (the load's own requests may all be quick).
 */
function sendSlowly(base: string, what: string, path: string, body: unknown): { outcome: Promise<Outcome>; finish(): void } {
  const start = Date.now();
  const payload = JSON.stringify(body);
  let req!: ReturnType<typeof httpRequest>;
  const outcome = new Promise<Outcome>((resolve) => {
    req = httpRequest(`${base}${path}`, {
      method: 'POST', agent: false, timeout: 20_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ what, start, end: Date.now(), status: res.statusCode }));
    });
    req.on('error', (e) => resolve({ what, start, end: Date.now(), error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.write(payload.slice(0, 5));
  });
  return { outcome, finish: () => req.end(payload.slice(5)) };
}

describe.skipIf(servicesMissing)(suiteName('graceful shutdown under load'), () => {
  let db: Deployment['db'];
  let mail: MailCatcher;
  let k: Instance;

  deployment(async (d) => {
    ({ db, mail } = d);
    // Costly password hashing (hundreds of ms a sign-in), so sign-ins are caught in flight.
    k = await d.start('K', { ARGON2_MEMORY_KIB: '19456', ARGON2_ITERATIONS: '30' });
  });

  it('SIGTERM: stops accepting, finishes requests in flight and the email being sent, exits 0 within 10 s', async () => {
    const { slug, emails } = await seedUsers(k, 40, 'load');
    const email = `ann-${slug}@example.com`;
    expect((await k.op('POST', `/admin/v1/tenants/${slug}/users`, { email, password: STRONG })).status).toBe(201);
    const token = (await k.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' })).body.token as string;
    mail.setDelay(2_500); // each message takes 2.5 s to be accepted

    const outcomes: Outcome[] = [];
    let stopLoad = false;
    let n = 0;
    // Two clients sign in (slow), four read their session and ask for resets (fast), back to back.
    const client = async (kinds: ('login' | 'session' | 'forgot')[]) => {
      while (!stopLoad) {
        const i = n++;
        const kind = kinds[i % kinds.length]!;
        const o = kind === 'session'
          ? await send(k.url, 'session', 'GET', '/api/v1/session', undefined, { authorization: `Bearer ${token}` })
          : kind === 'login'
            ? await send(k.url, 'login', 'POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' })
            : await send(k.url, 'forgot', 'POST', '/api/v1/password/forgot', { email: emails[i % emails.length] });
        outcomes.push(o);
        if (o.error === 'ECONNREFUSED') return; // the listener is closed
        await sleep(10);
      }
    };
    const load = Promise.all([
      client(['login']), client(['login']),
      client(['session', 'forgot']), client(['forgot', 'session']), client(['session']), client(['session', 'session', 'forgot']),
    ]);

    // Wait until a message is in the middle of being sent, and some load has gone through.
    await expect.poll(() => mail.receiving, { timeout: 30_000, interval: 50 }).toBeGreaterThan(0);
    await sleep(300);
    const slow = sendSlowly(k.url, 'forgot (slow body)', '/api/v1/password/forgot', { email: emails[0] });
    await sleep(200);
    const before = mail.messages.length;
    const signalledAt = Date.now();
    k.process.kill('SIGTERM');
    await sleep(200);
    slow.finish();
    outcomes.push(await slow.outcome);
    const code = await k.exited;
    const exitedAt = Date.now();
    stopLoad = true;
    await load;

    expect(code).toBe(0);
    expect(exitedAt - signalledAt).toBeLessThan(10_000);

    // Requests in flight when the signal came got their full answer.
    const inFlight = outcomes.filter((o) => o.start < signalledAt - 100 && o.end > signalledAt);
    expect(inFlight.length).toBeGreaterThan(0);
    for (const o of outcomes.filter((x) => x.start < signalledAt - 100)) {
      expect(o.error, `${o.what} started ${signalledAt - o.start} ms before SIGTERM`).toBeUndefined();
      expect([200, 202]).toContain(o.status);
    }
    // Afterwards: refused at the door, or (already on an open connection) answered in full — never a half answer.
    for (const o of outcomes.filter((x) => x.start > signalledAt)) {
      if (o.error) expect(['ECONNREFUSED', 'ECONNRESET']).toContain(o.error);
      else expect([200, 202]).toContain(o.status);
    }
    expect(outcomes.some((o) => o.start > signalledAt && o.error === 'ECONNREFUSED')).toBe(true);

    // The email being sent was delivered and recorded; the rest waits, unclaimed, for the next instance.
    expect(mail.messages.length).toBeGreaterThan(before);
    const rows = await query<{ status: string; n: number }>(db.url, 'select status, count(*)::int as n from outbox group by status');
    const count = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
    expect(count('sending')).toBe(0);
    expect(count('sent')).toBe(mail.messages.length);
    const leased = await query<{ n: number }>(db.url, 'select count(*)::int as n from reset_requests where processed_at is null and lease_until is not null');
    expect(leased[0]!.n).toBe(0);
    // The shutdown is in the log, and nothing failed on the way out.
    expect(k.output.some((l) => l.includes('shutting down'))).toBe(true);
    expect(k.output.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  }, 120_000);
});
