// Issue 15: a webhook is never lost to a crash. Two `keyturn serve` processes on one PostgreSQL
// database (OUTBOX_LEASE 3 s), a receiver on loopback (WEBHOOK_ALLOWED_HOSTS lists 127.0.0.1).
// Instance A commits a password change and its worker starts the delivery; the receiver holds that
// request open without answering, and A is killed with SIGKILL while it waits. The outbox row stays
// claimed by a dead process until its lease runs out; then B claims it and delivers the same event
// with the same `webhook-id`, verifiable with `standardwebhooks`.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from '../helpers/app.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/mail-catcher.ts';
import {
  cleanupDirs, freshDatabase, migrate, PG, query, sleep, startInstance, STRONG, STRONG2, type Instance,
} from './helpers.ts';

const NAME = 'webhooks: kill -9 of an instance between commit and delivery';
if (!PG) console.warn(`test/reliability/webhooks-crash SKIPPED: set TEST_DATABASE_URL to run "${NAME}"`);

interface Received { at: number; headers: IncomingHttpHeaders; body: string; socket: Socket; remotePort: number; owner: number | undefined; }

/**
 * The instance whose process owns the client end of a connection to the receiver (Linux /proc):
 * the TCP socket with local port `clientPort` and remote port `serverPort`, found among the file
 * descriptors of the given processes. undefined where /proc cannot tell.
 */
function socketOwner(clientPort: number, serverPort: number, pids: number[]): number | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1]!.endsWith(`:${hex(clientPort)}`) && f[2]!.endsWith(`:${hex(serverPort)}`)) inodes.add(f[9]!);
    }
  }
  for (const pid of pids) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return pid;
      } catch { /* closed meanwhile */ }
    }
  }
  return undefined;
}

describe.skipIf(!PG)(PG ? NAME : `${NAME} — SKIPPED: set TEST_DATABASE_URL to run`, () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let mail: MailCatcher;
  let a: Instance;
  let b: Instance;
  let server: Server;
  let port = 0;
  const seen: Received[] = [];
  /** While true, a request is kept waiting: no answer, the connection left open. */
  let holding = true;
  const held: Received[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    migrate(db.url);
    mail = await startMailCatcher();
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; });
      req.on('end', () => {
        const remotePort = req.socket.remotePort ?? 0;
        // Looked up while the sender's end is still open (it closes once answered).
        const owner = socketOwner(remotePort, port, [a, b].filter(Boolean).map((i) => i.process.pid!));
        const r: Received = { at: Date.now(), headers: req.headers, body, socket: req.socket, remotePort, owner };
        seen.push(r);
        if (holding) { held.push(r); return; } // the sender waits for an answer that never comes
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    const common = {
      databaseUrl: db.url, smtpUrl: mail.url, prefix: `kt-rel-${unique()}`,
      env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', OUTBOX_LEASE: '3s', OUTBOX_MAX_BACKOFF: '2s', WEBHOOK_RETRY_WINDOW: '10m' },
    };
    [a, b] = await Promise.all([startInstance({ ...common, name: 'A' }), startInstance({ ...common, name: 'B' })]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((i) => i.stop('SIGKILL')));
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await mail?.stop();
    await db?.drop();
    cleanupDirs();
  });

  it('A commits a password change and dies mid-delivery; B takes the lease when it expires and delivers the same webhook-id', async () => {
    const slug = unique('whk');
    expect((await a.op('POST', '/admin/v1/tenants', { slug, name: 'Crash' })).status).toBe(201);
    const email = `agent-${slug}@example.com`;
    const created = await a.op('POST', `/admin/v1/tenants/${slug}/users`, { email, password: STRONG });
    expect(created.status).toBe(201);
    const endpoint = await a.op('POST', '/admin/v1/webhooks', { url: `http://127.0.0.1:${port}/hooks`, events: ['user.password_changed'], tenants: [slug] });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    const secret = endpoint.body.secret as string;

    const login = await a.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' });
    expect(login.status).toBe(200);
    const changed = await a.api('POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: STRONG2 }, { authorization: `Bearer ${login.body.token}` });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);

    // A's worker is kicked by the change and claims the row at once (B only polls, once a second).
    for (const deadline = Date.now() + 10_000; held.length === 0 && Date.now() < deadline;) await sleep(20);
    expect(held, 'the first delivery attempt reached the receiver').toHaveLength(1);
    const first = held[0]!;
    const [row] = await query<{ id: string; status: string; attempts: number }>(db.url,
      `select o.id, o.status, o.attempts from outbox o join webhook_deliveries d on d.outbox_id = o.id where d.id = $1`, [String(first.headers['webhook-id'])]);
    expect(row, 'the event was committed with its delivery').toBeDefined();
    expect(row).toMatchObject({ status: 'sending', attempts: 1 }); // claimed, not delivered

    // Who sent it: almost always A (its worker was kicked); if B's poll happened to win, the roles swap.
    const owner = first.owner;
    if (process.platform === 'linux') expect(owner, 'the sender of the held request, from /proc').toBeDefined();
    const [dying, survivor] = owner === b.process.pid ? [b, a] : [a, b];
    const socketClosed = new Promise<void>((r) => (first.socket.destroyed ? r() : first.socket.once('close', () => r())));
    dying.process.kill('SIGKILL');
    expect(await dying.exited).toBeNull(); // killed by the signal, mid-delivery
    await Promise.race([socketClosed, sleep(5_000).then(() => { throw new Error(`the held request was not ${dying.name}'s: its connection stayed open after the kill`); })]);
    const killedAt = Date.now();
    holding = false; // from now on the receiver answers 204

    // The survivor takes the row once the 3 s lease has run out (it polls every second).
    for (const deadline = Date.now() + 20_000; seen.length < 2 && Date.now() < deadline;) await sleep(50);
    expect(seen.length, `${survivor.name} delivered after the lease expired`).toBeGreaterThanOrEqual(2);
    const second = seen[1]!;
    expect(second.at - first.at, 'not before the lease ran out').toBeGreaterThanOrEqual(2_900);
    expect(second.at - killedAt).toBeLessThan(10_000);
    if (owner !== undefined) expect(second.owner, 'sent by the survivor').toBe(survivor.process.pid);

    // Same event, same webhook-id; both copies verify with the endpoint's secret.
    await sleep(1_000); // a late duplicate would show here (allowed, but with the same id)
    const ids = new Set(seen.map((r) => String(r.headers['webhook-id'])));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toBe(String(first.headers['webhook-id']));
    for (const r of seen) {
      const event = new Webhook(secret).verify(r.body, {
        'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']),
      }) as { type: string; tenant: { slug: string }; data: { userId: string; email: string } };
      expect(event).toMatchObject({ type: 'user.password_changed', tenant: { slug }, data: { userId: created.body.id, email } });
    }
    expect(() => new Webhook(secret).verify(second.body.replace(slug, `${slug}x`), {
      'webhook-id': String(second.headers['webhook-id']), 'webhook-timestamp': String(second.headers['webhook-timestamp']), 'webhook-signature': String(second.headers['webhook-signature']),
    })).toThrow();

    // The outbox row is sent on the second attempt; the log shows the survivor's delivered attempt
    // (the dead process never got to record its own).
    const [after] = await query<{ status: string; attempts: number }>(db.url, 'select status, attempts from outbox where id = $1', [row!.id]);
    expect(after).toEqual({ status: 'sent', attempts: 2 });
    const list = await survivor.op('GET', `/admin/v1/webhooks/${endpoint.body.id}/deliveries`);
    expect(list.status).toBe(200);
    expect(list.body.deliveries).toHaveLength(1);
    expect(list.body.deliveries[0]).toMatchObject({ id: String(first.headers['webhook-id']), type: 'user.password_changed', status: 'sent' });
    expect(list.body.deliveries[0].attempts).toEqual([expect.objectContaining({ attempt: 2, outcome: 'delivered', status: 204 })]);

    // And the change itself was committed: the new password signs in on the survivor.
    expect((await survivor.api('POST', '/api/v1/login', { email, password: STRONG2, tokenType: 'bearer' })).status).toBe(200);
  }, 60_000);
});
