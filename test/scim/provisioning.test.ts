// Issue 16 item 5, SCIM 2.0 (CONTRACT §11): the requests Okta and Microsoft Entra ID send, as their
// own documentation shows them, against a real Keyturn; what an identity provider's deactivation
// does to a signed-in person; and the error shape every refusal comes in.
import { describe, expect, it } from 'vitest';
import { databaseKinds, STRONG, unique, useTestApp } from '../helpers/app.ts';
import { expectScimError, scimClient, scimToken, SCIM_JSON, userNameFilter } from './helpers.ts';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

describe.each(databaseKinds())('SCIM provisioning (%s)', (db) => {
  const t = useTestApp({ db });

  it('Okta: test connection, look up, create, read, update (PUT and PATCH), deactivate and reactivate', async () => {
    const { slug } = await t.tenant();
    const { token } = await scimToken(t, slug);
    const scim = scimClient(t, slug, token);
    const email = `${unique('test.user')}@okta.local`;

    // "Test Connector Configuration"
    const probe = await scim('GET', '/Users?startIndex=1&count=2');
    expect(probe.status, probe.raw).toBe(200);
    expect(String(probe.headers['content-type'])).toContain(SCIM_JSON);
    expect(probe.body).toMatchObject({ schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

    // Before creating, Okta asks whether the userName exists.
    const none = await scim('GET', `${userNameFilter(email)}&startIndex=1&count=100`);
    expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });

    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: email,
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: email, type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    });
    expect(created.status, created.raw).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.location).toBe(`https://keyturn.test/scim/v2/${slug}/Users/${id}`);
    expect(created.body).toMatchObject({
      schemas: [USER_SCHEMA], id, userName: email, externalId: '00ujl29u0le5T6Aj10h7', active: true, displayName: 'Test User',
      name: { formatted: 'Test User', givenName: 'Test', familyName: 'User' },
      emails: [{ value: email, type: 'work', primary: true }],
      meta: { resourceType: 'User', created: expect.any(String), lastModified: expect.any(String), location: created.headers.location },
    });
    // A member, without the password Okta sent (they set their own from the welcome email).
    const op = await t.op('GET', `/admin/v1/tenants/${slug}/users/${id}`);
    expect(op.body).toMatchObject({ email, name: 'Test User', role: 'member', hasPassword: false });

    const found = await scim('GET', `${userNameFilter(email.toUpperCase())}&startIndex=1&count=100`);
    expect(found.body).toMatchObject({ totalResults: 1, itemsPerPage: 1, Resources: [{ id, userName: email }] });
    expect((await scim('GET', `/Users/${id}`)).body).toMatchObject({ id, userName: email, active: true });

    const put = await scim('PUT', `/Users/${id}`, {
      schemas: [USER_SCHEMA], id, userName: email,
      name: { givenName: 'Another', familyName: 'User' },
      emails: [{ primary: true, value: email, type: 'work' }],
      displayName: 'Another User', locale: 'en-US', groups: [], password: '1mz050nq', active: true,
    });
    expect(put.status, put.raw).toBe(200);
    expect(put.body).toMatchObject({ id, displayName: 'Another User', externalId: '00ujl29u0le5T6Aj10h7', active: true });

    const deactivated = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(deactivated.status, deactivated.raw).toBe(200);
    expect(deactivated.body).toMatchObject({ id, active: false });
    expect((await t.op('GET', `/admin/v1/tenants/${slug}/users/${id}`)).body.status).toBe('disabled');

    const reactivated = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id, active: true } }] });
    expect(reactivated.body).toMatchObject({ id, active: true });
    const renamed = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'name.givenName', value: 'Third' }] });
    expect(renamed.body).toMatchObject({ displayName: 'Third User', name: { givenName: 'Third', familyName: 'User' } });

    const audit = await t.op('GET', `/admin/v1/audit?tenant=${slug}`);
    const types = (audit.body.events as { type: string; actor: { type: string; id: string } }[]).filter((e) => e.actor.id?.startsWith('scim:')).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['user_created', 'user_renamed', 'user_disabled', 'user_enabled', 'admin_reset_issued']));
  });

  it('Entra ID: the create with a non-email userName is refused; then create, filter by externalId, capitalised ops, "False", delete', async () => {
    const { slug } = await t.tenant();
    const { token } = await scimToken(t, slug, 'Entra ID');
    const scim = scimClient(t, slug, token);

    // Entra's probe of a userName that does not exist.
    const probe = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"')}`);
    expect(probe.body).toMatchObject({ schemas: [LIST], totalResults: 0, Resources: [] });

    const entraCreate = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
    };
    // userName is the email in Keyturn: Entra's sample userName is no address.
    expectScimError(await scim('POST', '/Users', entraCreate), 400, 'invalidValue');

    const upn = `${unique('test_user')}@testuser.com`;
    const created = await scim('POST', '/Users', { ...entraCreate, userName: upn, emails: [{ primary: true, type: 'work', value: upn }] });
    expect(created.status, created.raw).toBe(201);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ userName: upn, displayName: 'givenName familyName', externalId: entraCreate.externalId });

    const byExternalId = await scim('GET', `/Users?filter=${encodeURIComponent(`externalId eq "${entraCreate.externalId}"`)}`);
    expect(byExternalId.body).toMatchObject({ totalResults: 1, Resources: [{ id }] });
    // Attribute names are case-insensitive (RFC 7644 §3.4.2.2).
    expect((await scim('GET', `/Users?filter=${encodeURIComponent(`EXTERNALID Eq "${entraCreate.externalId}"`)}`)).body.totalResults).toBe(1);

    const newAddress = `${unique('updated')}@microsoft.com`;
    const patched = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: newAddress },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ],
    });
    expect(patched.status, patched.raw).toBe(200);
    expect(patched.body).toMatchObject({ userName: newAddress, name: { familyName: 'updatedFamilyName' }, displayName: 'givenName updatedFamilyName' });

    const renamedUpn = `${unique('5b50642d')}@testuser.com`;
    const userName = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'userName', value: renamedUpn }] });
    expect(userName.body.userName).toBe(renamedUpn);

    // Unknown attributes are ignored (Entra sends what its mappings have, e.g. the enterprise extension).
    const extra = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Floor 3' },
        { op: 'Add', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0100' },
        { op: 'Add', path: 'externalId', value: 'entra-object-2' },
      ],
    });
    expect(extra.status, extra.raw).toBe(200);
    expect(extra.body.externalId).toBe('entra-object-2');

    const disabled = await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'Replace', path: 'active', value: 'False' }], schemas: [PATCH_OP] });
    expect(disabled.body.active).toBe(false);
    const again = await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'Replace', path: 'active', value: false }], schemas: [PATCH_OP] });
    expect(again.body.active).toBe(false);

    const deleted = await scim('DELETE', `/Users/${id}`);
    expect(deleted.status, deleted.raw).toBe(204);
    expectScimError(await scim('GET', `/Users/${id}`), 404);
    expect((await scim('GET', userNameFilter(renamedUpn))).body.totalResults).toBe(0);
    // The address is free again: the directory may create the person anew.
    expect((await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: renamedUpn })).status).toBe(201);
  });

  it('active:false signs the person out at once: their session gets 401 on its next request', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('agent')}@example.com`;
    const { id } = await t.user(slug, email);
    const s = await t.login(email, STRONG);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(200);
    const { token } = await scimToken(t, slug);
    const res = await scimClient(t, slug, token)('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(res.status, res.raw).toBe(200);
    expect((await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie })).status).toBe(401);
    expect((await t.login(email, STRONG)).status).toBe(401);
  });

  it('a created user gets the welcome email, unless the tenant turned it off (scim.sendWelcome)', async () => {
    const { slug } = await t.tenant();
    const scim = scimClient(t, slug, (await scimToken(t, slug)).token);
    const welcomed = `${unique('new')}@example.com`;
    expect((await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: welcomed, displayName: 'New Agent' })).status).toBe(201);
    await t.drain();
    const mail = await t.mail.waitFor((m) => m.to.includes(welcomed));
    expect(mail.subject).toBe('Welcome — set your password');

    const patched = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { scim: { sendWelcome: false } });
    expect(patched.status, patched.raw).toBe(200);
    expect(patched.body.scim).toEqual({ sendWelcome: false });
    const quiet = `${unique('quiet')}@example.com`;
    expect((await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: quiet })).status).toBe(201);
    await t.drain();
    const outbox = await t.op('GET', `/admin/v1/deliveries?tenant=${slug}`);
    expect((outbox.body.deliveries as { to: string }[]).some((d) => d.to === quiet)).toBe(false);
  });

  it('paging: startIndex is 1-based, count is clipped to 200, the order is stable', async () => {
    const { slug } = await t.tenant();
    await t.op('PATCH', `/admin/v1/tenants/${slug}`, { scim: { sendWelcome: false } });
    const scim = scimClient(t, slug, (await scimToken(t, slug)).token);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: `${unique(`p${i}`)}@example.com` });
      ids.push(r.body.id);
    }
    const all = await scim('GET', '/Users');
    expect(all.body).toMatchObject({ totalResults: 5, itemsPerPage: 5, startIndex: 1 });
    const order = (all.body.Resources as { id: string }[]).map((r) => r.id);
    expect(new Set(order)).toEqual(new Set(ids));

    const page = await scim('GET', '/Users?startIndex=2&count=2');
    expect(page.body).toMatchObject({ totalResults: 5, itemsPerPage: 2, startIndex: 2 });
    expect((page.body.Resources as { id: string }[]).map((r) => r.id)).toEqual(order.slice(1, 3));
    const last = await scim('GET', '/Users?startIndex=5&count=2');
    expect((last.body.Resources as { id: string }[]).map((r) => r.id)).toEqual(order.slice(4));
    expect((await scim('GET', '/Users?startIndex=9')).body).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
    expect((await scim('GET', '/Users?count=0')).body).toMatchObject({ totalResults: 5, itemsPerPage: 0 });
    expect((await scim('GET', '/Users?count=100000&startIndex=0')).body).toMatchObject({ itemsPerPage: 5, startIndex: 1 });
    expectScimError(await scim('GET', '/Users?count=ten'), 400, 'invalidValue');
  });

  it('discovery: ServiceProviderConfig, ResourceTypes and Schemas', async () => {
    const { slug } = await t.tenant();
    const scim = scimClient(t, slug, (await scimToken(t, slug)).token);
    const spc = await scim('GET', '/ServiceProviderConfig');
    expect(spc.body).toMatchObject({
      patch: { supported: true }, filter: { supported: true, maxResults: 200 },
      bulk: { supported: false }, sort: { supported: false }, etag: { supported: false }, changePassword: { supported: false },
      authenticationSchemes: [{ type: 'oauthbearertoken' }],
    });
    expect((await scim('GET', '/ResourceTypes')).body).toMatchObject({ totalResults: 1, Resources: [{ id: 'User', endpoint: '/Users', schema: USER_SCHEMA }] });
    const schemas = await scim('GET', '/Schemas');
    expect((schemas.body.Resources[0].attributes as { name: string }[]).map((a) => a.name)).toEqual(['userName', 'externalId', 'name', 'displayName', 'emails', 'active']);
    expect((await scim('GET', `/Schemas/${USER_SCHEMA}`)).body.id).toBe(USER_SCHEMA);
  });
});
