// Issue 11, item 5: an admin of one tenant cannot kill another tenant's reset links.
import { describe, expect, it } from 'vitest';
import { STRONG, unique, useTestApp, type Session } from '../helpers/app.ts';
import { asSession, cookieHeader, ORIGIN } from '../helpers/http.ts';

describe('issue 11 item 5: superseding is per account, admin links are limited, the page tells the truth', () => {
  // Real budgets (the suite's default scale of 1000 would hide the link limit).
  const t = useTestApp({ env: { RATE_LIMIT_SCALE: '1' } });

  async function adminOf(slug: string): Promise<Session> {
    const email = `${unique('admin')}@${slug}.example`;
    await t.user(slug, email, { role: 'admin' });
    return t.login(email, STRONG, { tenant: slug });
  }

  it('links made in another tenant for the same address leave the victim\'s link alive', async () => {
    // Attack: Mallory administers tenant "evil". She creates an account there with Vera's address
    // (Vera's real account is in tenant "good") and makes "link" resets for it, which send no mail.
    // Each used to supersede every pending link for the address in every tenant: Vera's link died,
    // and its page claimed a newer email had been sent.
    const good = await t.tenant(unique('good'));
    const evil = await t.tenant(unique('evil'));
    const vera = `${unique('vera')}@example.com`;
    await t.user(good.slug, vera);
    const { token } = await t.resetMail(vera, good.slug);

    const mallory = await adminOf(evil.slug);
    const decoy = await t.api('POST', '/api/v1/admin/users', { email: vera }, asSession(mallory));
    expect(decoy.status, decoy.raw).toBe(201);
    for (let i = 0; i < 3; i++) {
      const made = await t.api('POST', `/api/v1/admin/users/${decoy.body.id}/password-reset`, { delivery: 'link' }, asSession(mallory));
      expect(made.status, made.raw).toBe(201);
    }
    const inspect = await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN);
    expect(inspect.status, inspect.raw).toBe(200);
    expect(inspect.body.accounts.map((a: { tenant: string }) => a.tenant)).toEqual([good.slug]);
  });

  it('a newer link made by the account\'s own admin supersedes it, and the page says no email was sent', async () => {
    const good = await t.tenant(unique('good'));
    const vera = `${unique('vera')}@example.com`;
    const user = await t.user(good.slug, vera);
    const { token } = await t.resetMail(vera, good.slug);
    const admin = await adminOf(good.slug);
    expect((await t.api('POST', `/api/v1/admin/users/${user.id}/password-reset`, { delivery: 'link' }, asSession(admin))).status).toBe(201);

    const inspect = await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN);
    expect(inspect.status).toBe(410);
    expect(inspect.body).toMatchObject({ error: 'token_superseded', newer: 'link' });
    expect(inspect.body.message).toMatch(/administrator made a newer link/);

    const opened = await t.api('GET', `/reset-password?token=${token}`);
    const cookie = cookieHeader(opened);
    const page = await t.api('GET', '/reset-password', undefined, { cookie });
    expect(page.raw).toContain('administrator made a newer link');
    expect(page.raw).not.toContain('A newer link was sent');
  });

  it('a newer email still says so', async () => {
    const good = await t.tenant(unique('good'));
    const vera = `${unique('vera')}@example.com`;
    const user = await t.user(good.slug, vera);
    const { token } = await t.resetMail(vera, good.slug);
    expect((await t.op('POST', `/admin/v1/tenants/${good.slug}/users/${user.id}/password-reset`, { delivery: 'email' })).status).toBe(202);
    const inspect = await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN);
    expect(inspect.body).toMatchObject({ error: 'token_superseded', newer: 'email' });
  });

  it('a link that expired before a newer one was made still says it expired, and when', async () => {
    const good = await t.tenant(unique('good'));
    const vera = `${unique('vera')}@example.com`;
    await t.user(good.slug, vera);
    const { token } = await t.resetMail(vera, good.slug);
    const expiredAt = (await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN)).body.expiresAt;
    t.clock.advance(2 * 3_600_000);
    await t.resetMail(vera, good.slug);
    const inspect = await t.api('POST', '/api/v1/password/reset/inspect', { token }, ORIGIN);
    expect(inspect.body).toMatchObject({ error: 'token_expired', at: expiredAt });
  });

  it('admin-made links are rate-limited per user (429 + Retry-After)', async () => {
    // Attack: without a limit an admin (or a stolen admin session) churns links for an account
    // without bound, each one silently replacing the last.
    const evil = await t.tenant(unique('evil'));
    const mallory = await adminOf(evil.slug);
    const target = await t.api('POST', '/api/v1/admin/users', { email: `${unique('x')}@example.com` }, asSession(mallory));
    const url = `/api/v1/admin/users/${target.body.id}/password-reset`;
    for (let i = 0; i < 10; i++) expect((await t.api('POST', url, { delivery: 'link' }, asSession(mallory))).status).toBe(201);
    const refused = await t.api('POST', url, { delivery: 'link' }, asSession(mallory));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});
