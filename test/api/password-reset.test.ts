import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { resolveRequests } from '../../src/features/password-reset/flow.ts';
import { sweepResolvedRequests } from '../../src/features/password-reset/store.ts';
import { rowsOf } from '../../src/platform/db.ts';
import { databaseKinds, STRONG, STRONG2, unique, useTestApp } from '../helpers/app.ts';
import { account, oneAddressTwoTenants } from '../helpers/fixtures.ts';
import { asSession, postForm } from '../helpers/http.ts';

// The whole flow runs on the embedded database and, when CI provides one, on PostgreSQL.
describe.each(databaseKinds())('on %s', (kind) => {
  const t = useTestApp({ db: kind });
  const reset = (body: Record<string, unknown>) => t.api('POST', '/api/v1/password/reset', body);
  const inspect = (body: Record<string, unknown>) => t.api('POST', '/api/v1/password/reset/inspect', body);

  describe('the reset email', () => {
    it('carries the button link on PUBLIC_URL, the same URL in text, an XXXX-XXXX code, the expiry and the tenant name', async () => {
      const a = await account(t);
      const { token, code, mail } = await t.resetMail(a.email);
      expect(mail.to).toEqual([a.email]);
      expect(mail.subject).toBe('Reset your password');
      const url = `https://keyturn.test/reset-password?token=${token}`;
      expect(mail.text).toContain(url);
      expect(mail.html).toContain(`href="${url}"`);
      expect(mail.html).toContain('Reset password');
      expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
      expect(mail.text).toContain(a.slug.toUpperCase());
      expect(mail.text).toMatch(/expire at \d\d:\d\d UTC/);
    });

    it('a burst mixing unknown, known and disabled addresses: each known one gets one email, the rest nothing or the notice, every request is closed and deleted', async () => {
      const { slug } = await t.tenant();
      const known = Array.from({ length: 4 }, () => `${unique('mix')}@example.com`);
      const disabled = `${unique('mixoff')}@example.com`;
      for (const e of known) await t.user(slug, e);
      const off = await t.user(slug, disabled);
      expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${off.id}`, { disabled: true })).status).toBe(200);
      const unknown = Array.from({ length: 60 }, () => `${unique('nobody')}@example.com`);
      const before = t.mail.messages.length;
      // Concurrent: the requests share INSERTs and the worker claims them in batches.
      const answers = await Promise.all([...unknown.slice(0, 30), ...known, disabled, ...unknown.slice(30)].map((e) => t.forgot(e)));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
      await t.drain();
      const mails = t.mail.messages.slice(before);
      for (const e of known) expect(mails.filter((m) => m.to.includes(e)).map((m) => m.subject)).toEqual(['Reset your password']);
      expect(mails.filter((m) => m.to.includes(disabled))).toHaveLength(1);
      expect(mails.filter((m) => unknown.some((u) => m.to.includes(u)))).toEqual([]);
      expect(mails).toHaveLength(known.length + 1);
      // Closed means gone: no row keeps an address someone typed, known or not.
      const kept = await t.app.ctx.db.execute(sql`select count(*)::int as n from reset_requests
        where email_canonical = any(${sql.param([...known, disabled, ...unknown])}::text[])`);
      expect((kept as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(0);
    });

    it('requests an earlier build resolved and kept are deleted by the worker, 1,000 at a time', async () => {
      const kept = unique('kept');
      await t.app.ctx.db.execute(sql`insert into reset_requests (email_canonical, created_at, processed_at)
        select ${kept} || g || '@example.com', now(), now() from generate_series(1, 1500) g`);
      const left = async () => rowsOf<{ n: number }>(await t.app.ctx.db.execute(sql`select count(*)::int as n
        from reset_requests where email_canonical like ${`${kept}%`}`))[0]!.n;
      expect(await sweepResolvedRequests(t.app.ctx.db)).toBe(1000);
      expect(await left()).toBe(500);
      await t.drain();
      expect(await left()).toBe(0);
    });

    it('a request claimed by two workers (the first one\'s lease lapsed) is resolved once: one email, one audit line', async () => {
      const a = await account(t);
      const before = t.mail.messages.length;
      expect((await t.forgot(a.email)).status).toBe(202);
      const lease = t.app.ctx.config.outbox.leaseMs;
      // Worker 1 claims; its lease lapses while it works; worker 2 claims the same request.
      const first = resolveRequests(t.app.ctx);
      t.clock.advance(lease + 1_000);
      const second = resolveRequests(t.app.ctx);
      await Promise.all([first, second]);
      try {
        await t.drain();
        await t.mail.waitFor((m) => t.mail.messages.indexOf(m) >= before && m.to.includes(a.email));
      } finally {
        t.clock.advance(-(lease + 1_000));
      }
      expect(t.mail.messages.slice(before).filter((m) => m.to.includes(a.email))).toHaveLength(1);
      const audit = await t.op('GET', `/admin/v1/tenants/${a.slug}/audit?type=password_reset_requested`);
      expect(audit.body.events).toHaveLength(1);
    });

    it('goes to the stored address, not the spelling that was typed', async () => {
      const a = await account(t);
      const { mail } = await t.resetMail(`  ${a.email.toUpperCase()} `);
      expect(mail.to).toEqual([a.email]);
    });
  });

  describe('inspect and reset by link', () => {
    it('inspect lists the account and does not consume; reset updates, signs everyone out and does not sign in', async () => {
      const a = await account(t);
      const cookieSession = await t.login(a.email);
      const bearer = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG, tokenType: 'bearer' });
      const { token } = await t.resetMail(a.email);

      for (let i = 0; i < 2; i++) {
        const seen = await inspect({ token });
        expect(seen.status).toBe(200);
        expect(seen.body.accounts).toEqual([{ tenant: a.slug, tenantName: a.slug.toUpperCase(), mfa: null }]);
        expect(new Date(seen.body.expiresAt).getTime()).toBeGreaterThan(Date.now());
      }

      const done = await reset({ token, password: STRONG2 });
      expect(done.status).toBe(200);
      expect(done.body).toEqual({ updated: [a.slug] });
      expect(done.headers['set-cookie']).toBeUndefined();

      // Every session is gone on the very next request, cookie and bearer alike.
      expect((await t.api('GET', '/api/v1/session', undefined, { cookie: cookieSession.cookie })).status).toBe(401);
      expect((await t.api('GET', '/api/v1/session', undefined, { authorization: `Bearer ${bearer.body.token}` })).status).toBe(401);
      expect((await t.login(a.email, STRONG)).status).toBe(401);
      expect((await t.login(a.email, STRONG2)).status).toBe(200);
    });

    it('sends a "password changed" notice with a working "this wasn\'t me" link and no reset token', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      await reset({ token, password: STRONG2 });
      await t.drain();
      const notice = await t.mail.waitFor((m) => m.subject === 'Your password was changed' && m.to.includes(a.email));
      expect(notice.text).not.toContain(token);
      expect(notice.text).not.toContain(STRONG2);
      const lockToken = /account\/lock\?token=([A-Za-z0-9_-]+)/.exec(notice.text)?.[1];
      expect(lockToken).toBeTruthy();

      const s = await t.login(a.email, STRONG2);
      // Opening the link changes nothing; the POST locks and revokes everything.
      expect((await t.api('GET', `/account/lock?token=${lockToken}`)).status).toBe(200);
      expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(200);
      const lock = await postForm(t, '/account/lock', { token: lockToken! });
      expect(lock.status).toBe(200);
      expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(401);
      // The right password is told the account is locked (issue 11 item 11); a wrong one learns nothing.
      expect((await t.login(a.email, STRONG2)).body.error).toBe('account_locked');
      expect((await t.login(a.email, STRONG)).body.error).toBe('invalid_credentials');
      const users = await t.op('GET', `/admin/v1/tenants/${a.slug}/users?q=${encodeURIComponent(a.email)}`);
      expect(users.body.users[0].status).toBe('locked');
    });

    it('writes the audit trail: requested, completed', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      await reset({ token, password: STRONG2 });
      const audit = await t.op('GET', `/admin/v1/tenants/${a.slug}/audit?userId=${a.id}`);
      const types = audit.body.events.map((e: { type: string }) => e.type);
      expect(types).toContain('password_reset_requested');
      expect(types).toContain('password_reset_completed');
    });

    it('twenty concurrent resets with one token: exactly one wins', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => reset({ token, password: `${STRONG2}${i}` })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s !== 200 && s !== 410), JSON.stringify(results.map((r) => r.body))).toEqual([]);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 410)).toHaveLength(19);
      for (const r of results.filter((x) => x.status === 410)) expect(r.body.error).toBe('token_used');
    });

    it('a used link answers 410 token_used with when it was used', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      await reset({ token, password: STRONG2 });
      const again = await inspect({ token });
      expect(again.status).toBe(410);
      expect(again.body.error).toBe('token_used');
      expect(Date.parse(again.body.at)).not.toBeNaN();
    });

    it('a newer request supersedes the older link, which says when the newer one was sent', async () => {
      const a = await account(t);
      const first = await t.resetMail(a.email);
      const second = await t.resetMail(a.email);
      const old = await inspect({ token: first.token });
      expect(old.status).toBe(410);
      expect(old.body.error).toBe('token_superseded');
      expect(Date.parse(old.body.at)).not.toBeNaN();
      expect((await inspect({ token: second.token })).status).toBe(200);
      expect((await reset({ token: first.token, password: STRONG2 })).status).toBe(410);
    });

    it('an expired link answers 410 token_expired with its expiry time', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      t.clock.advance(61 * 60_000);
      try {
        const res = await inspect({ token });
        expect(res.status).toBe(410);
        expect(res.body.error).toBe('token_expired');
        expect(Date.parse(res.body.at)).toBeLessThan(t.clock.now().getTime());
        expect((await reset({ token, password: STRONG2 })).status).toBe(410);
      } finally {
        t.clock.advance(-61 * 60_000);
      }
    });

    it('an unknown token answers 404 token_invalid', async () => {
      const res = await inspect({ token: 'A'.repeat(43) });
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('token_invalid');
    });

    it('a password against the policy answers 422 with the failed rule ids and spends nothing', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      const weak = await reset({ token, password: 'short' });
      expect(weak.status).toBe(422);
      expect(weak.body.error).toBe('password_policy');
      expect(weak.body.failed).toEqual(expect.arrayContaining(['min_length', 'uppercase', 'number', 'special']));
      const common = await reset({ token, password: 'Password123!' });
      expect(common.status).toBe(422);
      expect(common.body.failed).toEqual(['not_common']);
      const asEmail = await reset({ token, password: a.email.toUpperCase() + '1!' });
      expect(asEmail.status).toBe(422);
      expect((await reset({ token, password: STRONG2 })).status).toBe(200);
    });
  });

  describe('reset by code', () => {
    it('works with the code in any case and without the dash', async () => {
      const a = await account(t);
      const { code } = await t.resetMail(a.email);
      const plain = code.replace('-', '').toLowerCase();
      const seen = await inspect({ email: a.email, code: plain });
      expect(seen.status).toBe(200);
      expect(seen.body.accounts[0].tenant).toBe(a.slug);
      expect((await reset({ email: a.email.toUpperCase(), code: plain, password: STRONG2 })).status).toBe(200);
      expect((await t.login(a.email, STRONG2)).status).toBe(200);
    });

    it('five wrong codes burn it, the link keeps working', async () => {
      const a = await account(t);
      const { code, token } = await t.resetMail(a.email);
      for (let i = 0; i < 5; i++) {
        const wrong = await inspect({ email: a.email, code: 'AAAA-AAAA' });
        expect(wrong.status).toBe(404);
      }
      const right = await inspect({ email: a.email, code });
      expect(right.status).toBe(404);
      expect(right.body.error).toBe('token_invalid');
      expect((await inspect({ token })).status).toBe(200);
    });

    it('a code for another address is refused', async () => {
      const a = await account(t);
      const b = await account(t);
      const { code } = await t.resetMail(a.email);
      expect((await inspect({ email: b.email, code })).status).toBe(404);
    });
  });

  describe('same email in two tenants', () => {
    async function twoTenants() {
      const { a, b, email } = await oneAddressTwoTenants(t, { prefix: 'both' });
      return { x: a.slug, y: b.slug, email };
    }

    it('a reset without a tenant covers both in one email; `tenants` picks which to update', async () => {
      const { x, y, email } = await twoTenants();
      const before = t.mail.messages.length;
      const { token, mail } = await t.resetMail(email);
      expect(t.mail.messages.slice(before).filter((m) => m.subject === 'Reset your password')).toHaveLength(1);
      expect(mail.text).toContain(x.toUpperCase());
      expect(mail.text).toContain(y.toUpperCase());
      const seen = await inspect({ token });
      expect(seen.body.accounts.map((a: { tenant: string }) => a.tenant).sort()).toEqual([x, y].sort());
      const done = await reset({ token, password: STRONG2, tenants: [y] });
      expect(done.body).toEqual({ updated: [y] });
      expect((await t.login(email, STRONG2, { tenant: y })).status).toBe(200);
      expect((await t.login(email, STRONG, { tenant: x })).status).toBe(200);
    });

    it('a reset asked from a tenant covers that tenant only', async () => {
      const { x, email } = await twoTenants();
      const { token } = await t.resetMail(email, x);
      const seen = await inspect({ token });
      expect(seen.body.accounts).toEqual([{ tenant: x, tenantName: x.toUpperCase(), mfa: null }]);
    });

    it('refuses a tenant the link does not cover', async () => {
      const { x, email } = await twoTenants();
      const other = await t.tenant();
      const { token } = await t.resetMail(email, x);
      const res = await reset({ token, password: STRONG2, tenants: [other.slug] });
      expect(res.status).toBe(400);
    });
  });

  describe('pending links die with the account changes', () => {
    it('disabling the account kills its sessions and pending links at once', async () => {
      const a = await account(t);
      const s = await t.login(a.email);
      const { token } = await t.resetMail(a.email);
      await t.op('PATCH', `/admin/v1/tenants/${a.slug}/users/${a.id}`, { disabled: true });
      expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(401);
      const res = await inspect({ token });
      expect(res.status).toBe(410);
      expect(res.body.reason).toBe('account_disabled');
    });

    it('an email change kills pending links', async () => {
      const a = await account(t);
      const { token } = await t.resetMail(a.email);
      await t.op('PATCH', `/admin/v1/tenants/${a.slug}/users/${a.id}`, { email: `${unique('new')}@example.com` });
      expect((await inspect({ token })).status).toBe(410);
    });
  });

  describe('change password', () => {
    it('needs the current password, applies the policy, keeps this session, ends the others and kills pending links', async () => {
      const a = await account(t);
      const here = await t.login(a.email);
      const elsewhere = await t.login(a.email);
      const { token } = await t.resetMail(a.email);
      const headers = asSession(here);

      const wrong = await t.api('POST', '/api/v1/password/change', { currentPassword: 'Nope-nope-1!', newPassword: STRONG2 }, headers);
      expect(wrong.status).toBe(403);
      expect(wrong.body.error).toBe('wrong_password');
      const weak = await t.api('POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: 'Password123!' }, headers);
      expect(weak.status).toBe(422);
      expect(weak.body.failed).toEqual(['not_common']);

      const ok = await t.api('POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: STRONG2 }, headers);
      expect(ok.status).toBe(200);
      expect((await t.api('GET', '/api/v1/session', undefined, { cookie: here.cookie })).status).toBe(200);
      expect((await t.api('GET', '/api/v1/session', undefined, { cookie: elsewhere.cookie })).status).toBe(401);
      expect((await inspect({ token })).status).toBe(410);
      expect((await t.login(a.email, STRONG2)).status).toBe(200);
    });

    it('needs a session', async () => {
      const res = await t.api('POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: STRONG2 });
      expect(res.status).toBe(401);
    });
  });

  describe('password policy endpoint', () => {
    it('returns the rules with stable ids for the default and the nist preset', async () => {
      const def = await t.tenant();
      const nist = await t.tenant(unique('nist'), { passwordPolicy: { preset: 'nist' } });
      const a = await t.api('GET', `/api/v1/password/policy?tenant=${def.slug}`);
      expect(a.body.minLength).toBe(8);
      expect(a.body.maxLength).toBe(256);
      expect(a.body.rules.map((r: { id: string }) => r.id)).toEqual(expect.arrayContaining(['min_length', 'uppercase', 'number', 'special', 'not_common']));
      const b = await t.api('GET', `/api/v1/password/policy?tenant=${nist.slug}`);
      expect(b.body.minLength).toBe(15);
      expect(b.body.rules.map((r: { id: string }) => r.id)).not.toContain('uppercase');
      expect((await t.api('GET', '/api/v1/password/policy?tenant=nope-nope')).status).toBe(404);
    });
  });
});
