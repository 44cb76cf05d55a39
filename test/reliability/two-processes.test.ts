// Two `keyturn serve` processes on one PostgreSQL database and one Redis, mail to one SMTP catcher:
// what one instance does, the other sees on the next request; a single-use link is used once across
// both; and when one is killed mid-burst, the other sends every accepted request's mail exactly once.
import { describe, expect, it } from 'vitest';
import type { MailCatcher } from '../helpers/mail-catcher.ts';
import {
  deployment, query, seedUsers, servicesMissing, sleep, STRONG, STRONG2, suiteName, tokenOf, type Deployment, type Instance,
} from './helpers.ts';

describe.skipIf(servicesMissing)(suiteName('two Keyturn processes on one PostgreSQL and one Redis'), () => {
  let db: Deployment['db'];
  let mail: MailCatcher;
  let a: Instance;
  let b: Instance;

  deployment(async (d) => {
    ({ db, mail } = d);
    [a, b] = await Promise.all([d.start('A'), d.start('B')]);
  });

  it('a session ended on one process is refused by the other on the very next request', async () => {
    const { slug } = await seedUsers(a, 0);
    const email = `rev-${slug}@example.com`;
    expect((await b.op('POST', `/admin/v1/tenants/${slug}/users`, { email, password: STRONG })).status).toBe(201);
    const signIn = async (inst: Instance) => (await inst.api('POST', '/api/v1/login', { email, password: STRONG, tokenType: 'bearer' })).body.token as string;
    const who = (inst: Instance, token: string) => inst.api('GET', '/api/v1/session', undefined, { authorization: `Bearer ${token}` });

    // Both processes keep sessions in memory (PostgreSQL): each round, A has the session cached
    // when B ends it, and the very next check on A must refuse it — twenty times in a row.
    for (let round = 0; round < 20; round++) {
      const s1 = await signIn(a);
      for (const inst of [a, a, a, b, b]) expect((await who(inst, s1)).status).toBe(200); // kept from the second check on
      expect((await b.api('POST', '/api/v1/logout', undefined, { authorization: `Bearer ${s1}` })).status).toBe(204);
      expect((await who(a, s1)).status, `round ${round}`).toBe(401);
    }
    const metrics = await (await fetch(`${a.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/keyturn_session_cache_lookups_total\{result="hit"\} [1-9]/);

    // Every session of the account, ended by the operator through B, is refused at once by A.
    const [s2, s3] = [await signIn(a), await signIn(b)];
    for (const inst of [a, a, a]) for (const s of [s2, s3]) expect((await who(inst, s)).status).toBe(200);
    const user = (await a.op('GET', `/admin/v1/tenants/${slug}/users?q=rev`)).body.users[0];
    expect((await b.op('POST', `/admin/v1/tenants/${slug}/users/${user.id}/sign-out-everywhere`)).body.revoked).toBe(2);
    expect((await who(a, s2)).status).toBe(401);
    expect((await who(a, s3)).status).toBe(401);
  }, 60_000);

  it('one reset link sent to both processes at once: exactly one wins, the others are told it was used', async () => {
    const { slug, emails } = await seedUsers(a, 1, 'race');
    const email = emails[0]!;
    expect((await a.api('POST', '/api/v1/password/forgot', { email })).status).toBe(202);
    const m = await mail.waitFor((x) => x.to.includes(email), 30_000);
    const token = tokenOf(m.text)!;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      (i % 2 ? a : b).api('POST', '/api/v1/password/reset', { token, password: i % 3 ? STRONG : STRONG2 })));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    for (const r of answers.filter((x) => x.status !== 200)) expect(r.body).toMatchObject({ error: 'token_used' });
    const events = (await b.op('GET', `/admin/v1/tenants/${slug}/audit?type=password_reset_completed`)).body.events;
    expect(events).toHaveLength(1);
  }, 60_000);

  it('kill -9 of one process during a burst of forgot-password requests: the survivor sends every accepted request\'s email exactly once', async () => {
    const { emails } = await seedUsers(b, 30, 'burst');
    mail.setDelay(150); // a slow SMTP server: both workers hold claimed messages when A dies
    const accepted = new Set<string>();
    let answered = 0;
    let killed = false;
    // Four clients at a time, alternating instances; A is killed once a third has been answered.
    const queue = [...emails.entries()];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [i, email] = next;
        const target = i % 2 ? a : b;
        try {
          const r = await target.api('POST', '/api/v1/password/forgot', { email });
          if (r.status === 202) accepted.add(email);
        } catch { /* A is gone: not accepted */ }
        if (++answered === 10 && !killed) {
          killed = true;
          a.process.kill('SIGKILL');
        }
      }
    }));
    expect(await a.exited).toBeNull(); // killed by the signal
    expect(accepted.size).toBeGreaterThanOrEqual(15);

    // B takes over what A had claimed once the lease (3 s here) runs out.
    const deliveredTo = (email: string) => mail.messages.filter((x) => x.to.includes(email));
    const deadline = Date.now() + 60_000;
    while ([...accepted].some((e) => deliveredTo(e).length === 0) && Date.now() < deadline) await sleep(250);
    mail.setDelay(0);
    await sleep(4_000); // a late duplicate would arrive within one more lease
    for (const email of accepted) {
      const copies = deliveredTo(email);
      expect(copies.length, `${email}: delivered`).toBeGreaterThanOrEqual(1);
      expect(new Set(copies.map((c) => c.headers['message-id'])).size, `${email}: one message`).toBe(1);
    }
    // A message can reach the SMTP server twice only if A died between the server's "250 OK" and
    // recording it as sent: at most the one message A had in hand, and with the same Message-ID.
    const extra = [...accepted].reduce((n, e) => n + deliveredTo(e).length - 1, 0);
    expect(extra).toBeLessThanOrEqual(1);
    const stuck = await query<{ n: number }>(db.url, `select count(*)::int as n from outbox where status <> 'sent'`);
    expect(stuck[0]!.n).toBe(0);
    const pending = await query<{ n: number }>(db.url, 'select count(*)::int as n from reset_requests where processed_at is null');
    expect(pending[0]!.n).toBe(0);
  }, 120_000);
});
