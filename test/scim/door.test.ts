// Issue 16 item 5, the SCIM door itself (CONTRACT §11): tokens of one tenant never reach another,
// the filter accepts only `userName eq` and `externalId eq`, every refusal is in SCIM's error
// shape, and a token works until it is revoked — made and revoked by the operator or a tenant admin.
import { describe, expect, it } from 'vitest';
import { unique, useTestApp } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError } from '../helpers/http.ts';
import { receiver } from '../helpers/receiver.ts';
import { expectScimError, scimClient, scimToken, userNameFilter } from './helpers.ts';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('the SCIM door', () => {
  const t = useTestApp({ env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });

  it("a token of tenant A is a 401 on tenant B's URL, and B's users never show through A", async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const tokenA = (await scimToken(t, a.slug)).token;
    const emailB = `${unique('b')}@example.com`;
    const userB = await t.user(b.slug, emailB);

    const onB = scimClient(t, b.slug, tokenA);
    for (const [method, path] of [['GET', '/Users'], ['GET', `/Users/${userB.id}`], ['GET', userNameFilter(emailB)], ['DELETE', `/Users/${userB.id}`], ['GET', '/ServiceProviderConfig']]) {
      const res = await onB(method!, path!);
      expectScimError(res, 401);
      expect(res.raw).not.toContain(emailB);
    }
    const patch = await onB('PATCH', `/Users/${userB.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expectScimError(patch, 401);
    expect((await t.op('GET', `/admin/v1/tenants/${b.slug}/users/${userB.id}`)).body.status).toBe('active');

    const onA = scimClient(t, a.slug, tokenA);
    expect((await onA('GET', userNameFilter(emailB))).body.totalResults).toBe(0);
    expect((await onA('GET', '/Users')).body.totalResults).toBe(0);
    expectScimError(await onA('GET', `/Users/${userB.id}`), 404);
    expectScimError(await onA('PATCH', `/Users/${userB.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }), 404);
    expectScimError(await onA('DELETE', `/Users/${userB.id}`), 404);
    // The same address may live in both tenants: A creating it makes A's own account.
    const mine = await onA('POST', '/Users', { schemas: [USER_SCHEMA], userName: emailB });
    expect(mine.status, mine.raw).toBe(201);
    expect(mine.body.id).not.toBe(userB.id);
  });

  it('no token, a wrong token, an unknown tenant: the same 401 in SCIM shape with WWW-Authenticate', async () => {
    const { slug } = await t.tenant();
    await scimToken(t, slug);
    for (const res of [
      await scimClient(t, slug, null)('GET', '/Users'),
      await scimClient(t, slug, 'scim_not-a-real-token')('GET', '/Users'),
      await scimClient(t, 'no-such-tenant', 'scim_not-a-real-token')('GET', '/Users'),
      await scimClient(t, slug, null)('GET', '/Users', undefined, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }),
    ]) {
      expectScimError(res, 401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body.detail).toBe('A valid SCIM bearer token for this tenant is required.');
    }
  });

  it('the filter takes userName eq and externalId eq only; injection attempts are 400 invalidFilter', async () => {
    const { slug } = await t.tenant();
    const scim = scimClient(t, slug, (await scimToken(t, slug)).token);
    const email = `${unique('f')}@example.com`;
    await t.user(slug, email);
    const filter = (f: string) => scim('GET', `/Users?filter=${encodeURIComponent(f)}`);
    for (const bad of [
      `userName eq "${email}" or userName pr`,
      `userName eq "x" or 1 eq 1`,
      `userName eq '${email}'`,
      `userName eq ${email}`,
      `userName co "example"`,
      `userName sw ""`,
      `emails eq "${email}"`,
      `emails[type eq "work"].value eq "${email}"`,
      `(userName eq "${email}")`,
      `userName eq "x"; drop table users; --`,
      `userName eq "x" and active eq true`,
      `name.givenName eq "x"`,
      `userName pr`,
      `userName eq "\u0001"`,
      `userName eq "${'a'.repeat(1100)}"`,
      '',
    ]) {
      expectScimError(await filter(bad), 400, 'invalidFilter');
    }
    // A quote inside the value is part of the value (a JSON escape), not the end of the filter.
    expect((await filter(`userName eq "${email}\\" or \\"1\\" eq \\"1"`)).body.totalResults).toBe(0);
    expect((await filter(`userName eq "%' OR '1'='1"`)).body.totalResults).toBe(0);
    expect((await filter(`externalId eq "x' OR 1=1 --"`)).body.totalResults).toBe(0);
    expect((await filter(`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "${email}"`)).body.totalResults).toBe(1);
    expect((await filter(`username EQ "${email.toUpperCase()}"`)).body.totalResults).toBe(1);
  });

  it('bad bodies are SCIM errors: not JSON, too large, a taken userName or externalId, an invalid op', async () => {
    const { slug } = await t.tenant();
    const scim = scimClient(t, slug, (await scimToken(t, slug)).token);
    expectScimError(await scim('POST', '/Users', '{"userName": '), 400, 'invalidSyntax');
    expectScimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'x'.repeat(70_000) }), 413);
    expectScimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA] }), 400, 'invalidValue');
    expectScimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'a@example.com\u0000' }), 400, 'invalidValue');
    expectScimError(await scim('POST', '/Users', 'userName=a@example.com', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
    // application/json is taken too (some clients send it).
    const email = `${unique('dup')}@example.com`;
    const first = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: email, externalId: 'ext-1' }, { 'content-type': 'application/json' });
    expect(first.status, first.raw).toBe(201);
    expectScimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: email.toUpperCase() }), 409, 'uniqueness');
    expectScimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: `${unique('other')}@example.com`, externalId: 'ext-1' }), 409, 'uniqueness');
    const second = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: `${unique('second')}@example.com` });
    expectScimError(await scim('PATCH', `/Users/${second.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userName', value: email }] }), 409, 'uniqueness');
    expectScimError(await scim('PATCH', `/Users/${second.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'externalId', value: 'ext-1' }] }), 409, 'uniqueness');
    expectScimError(await scim('PATCH', `/Users/${second.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'move', path: 'active', value: false }] }), 400, 'invalidSyntax');
    expectScimError(await scim('PATCH', `/Users/${second.body.id}`, { schemas: [PATCH_OP], Operations: [] }), 400, 'invalidSyntax');
    expectScimError(await scim('PATCH', `/Users/${second.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] }), 400, 'invalidValue');
    expectScimError(await scim('PATCH', `/Users/${second.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'active' }] }), 400, 'invalidValue');
    expectScimError(await scim('GET', '/Groups'), 404);
    expect((await t.op('GET', `/admin/v1/tenants/${slug}/users/${second.body.id}`)).body.status).toBe('active');
  });

  it('an admin\'s or supervisor\'s address is not for provisioning to change; disabling them is', async () => {
    const { slug } = await t.tenant();
    const { token } = await scimToken(t, slug);
    const scim = scimClient(t, slug, token);
    const email = `${unique('boss')}@example.com`;
    const boss = await t.user(slug, email, { role: 'admin' });
    await t.user(slug, `${unique('boss2')}@example.com`, { role: 'admin' }); // not the last admin: that one stays
    for (const body of [
      { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { userName: 'attacker@evil.example' } }] },
      { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'userName', value: 'attacker@evil.example' }] },
    ]) expectScimError(await scim('PATCH', `/Users/${boss.id}`, body), 400, 'mutability');
    expect((await t.op('GET', `/admin/v1/tenants/${slug}/users/${boss.id}`)).body.email).toBe(email);
    // The same address in other letters is no change; deactivating is allowed.
    const off = await scim('PATCH', `/Users/${boss.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { userName: email.toUpperCase(), active: false } }] });
    expect(off.status, off.raw).toBe(200);
    expect(off.body.active).toBe(false);
  });

  it('tokens: shown once, listed without the token, last use noted; revoked → 401; another tenant cannot revoke', async () => {
    const { slug } = await t.tenant();
    const other = await t.tenant();
    const made = await scimToken(t, slug, 'Okta production');
    expect(made.token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    const scim = scimClient(t, slug, made.token);
    expect((await scim('GET', '/Users')).status).toBe(200);

    const list = await t.op('GET', `/admin/v1/tenants/${slug}/scim-tokens`);
    expect(list.body.tokens).toEqual([{ id: made.id, label: 'Okta production', createdAt: expect.any(String), lastUsedAt: expect.any(String) }]);
    expect(list.raw).not.toContain(made.token);
    expect(t.logs.join('')).not.toContain(made.token);

    expectError(await t.op('DELETE', `/admin/v1/tenants/${other.slug}/scim-tokens/${made.id}`), 404, 'not_found');
    expect((await scim('GET', '/Users')).status).toBe(200);
    expect((await t.op('DELETE', `/admin/v1/tenants/${slug}/scim-tokens/${made.id}`)).status).toBe(204);
    expectScimError(await scim('GET', '/Users'), 401);
    expect((await t.op('GET', `/admin/v1/tenants/${slug}/scim-tokens`)).body.tokens).toEqual([]);
    const audit = await t.op('GET', `/admin/v1/audit?tenant=${slug}`);
    expect((audit.body.events as { type: string }[]).map((e) => e.type)).toEqual(expect.arrayContaining(['scim_token_created', 'scim_token_revoked']));
  });

  it('a tenant admin makes and revokes tokens under /api/v1/admin/scim-tokens; a member cannot', async () => {
    const f = await tenantWithAdmin(t);
    const made = await t.api('POST', '/api/v1/admin/scim-tokens', { label: 'Entra ID' }, asSession(f.adminSession));
    expect(made.status, made.raw).toBe(201);
    expect((await scimClient(t, f.slug, made.body.token)('GET', '/Users')).status).toBe(200);
    const list = await t.api('GET', '/api/v1/admin/scim-tokens', undefined, asSession(f.adminSession));
    expect(list.body.tokens.map((x: { id: string }) => x.id)).toEqual([made.body.id]);
    expectError(await t.api('GET', '/api/v1/admin/scim-tokens', undefined, asSession(f.memberSession)), 403, 'forbidden');
    expect((await t.api('DELETE', `/api/v1/admin/scim-tokens/${made.body.id}`, undefined, asSession(f.adminSession))).status).toBe(204);
    expectScimError(await scimClient(t, f.slug, made.body.token)('GET', '/Users'), 401);
  });

  describe('deactivation reaches the platform', () => {
    const rx = receiver();

    it('active:false emits user.disabled for the user, with the SCIM token as the actor in the audit', async () => {
      const { slug } = await t.tenant();
      const hook = await t.op('POST', '/admin/v1/webhooks', { url: rx.url('/hook'), events: ['user.disabled'], tenants: [slug] });
      expect(hook.status, hook.raw).toBe(201);
      const { id } = await t.user(slug, `${unique('leaver')}@example.com`);
      const { token, id: tokenId } = await scimToken(t, slug);
      await scimClient(t, slug, token)('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
      await t.drain();
      const events = () => rx.to('/hook').map((r) => JSON.parse(r.body) as { type: string; data: { userId: string } });
      await expect.poll(() => events().filter((e) => e.data.userId === id).map((e) => e.type)).toEqual(['user.disabled']);
      const audit = await t.op('GET', `/admin/v1/audit?tenant=${slug}&type=user_disabled`);
      expect(audit.body.events[0]).toMatchObject({ userId: id, actor: { type: 'system', id: `scim:${tokenId}` } });
    });
  });
});
