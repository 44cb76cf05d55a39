// The audit log as sentences: real actions through the APIs (an admin, a supervisor, the person
// themselves, the operator), then the audit read back as people read it — names and roles of who
// acted, the address acted on, the reason — and the filters by actor kind and time; the console's
// page in German; every type written has a sentence in both languages.
import { describe, expect, it } from 'vitest';
import { AUDIT_TYPES, type AuditView } from '../../src/features/audit/audit.ts';
import { auditSentencesDe, auditSentencesEn } from '../../src/features/audit/sentence-texts.ts';
import { auditSentence } from '../../src/features/audit/sentences.ts';
import { STRONG, unique, useTestApp, type Session } from '../helpers/app.ts';

const t = useTestApp();
const as = (s: Session) => ({ cookie: s.cookie, 'x-csrf-token': s.csrf });

async function floor() {
  const { slug } = await t.tenant();
  const ann = { email: `${unique('ann')}@example.com` };
  const sam = { email: `${unique('sam')}@example.com` };
  const ben = { email: `${unique('ben')}@example.com` };
  await t.user(slug, ann.email, { role: 'admin', name: 'Ann' });
  await t.user(slug, sam.email, { role: 'supervisor', name: 'Sam' });
  return { slug, ann, sam, ben, annSession: await t.login(ann.email), samSession: await t.login(sam.email) };
}

const textsOf = async (s: Session, query: string) => {
  const res = await t.api('GET', `/api/v1/admin/audit?${query}`, undefined, as(s));
  expect(res.status, res.raw).toBe(200);
  return (res.body.events as { text: string }[]).map((e) => e.text).reverse();
};

describe('the audit log reads as sentences', () => {
  it('names who acted with their role, the address acted on and the reason, oldest to newest', async () => {
    const f = await floor();
    const created = await t.api('POST', '/api/v1/admin/users', { email: f.ben.email, role: 'member', password: STRONG }, as(f.annSession));
    expect(created.status, created.raw).toBe(201);
    const id = created.body.id as string;
    const ben = await t.api('POST', `/api/v1/admin/users/${id}/password-reset`, { delivery: 'email', reason: 'locked out on the floor' }, as(f.annSession));
    expect(ben.status, ben.raw).toBe(202);
    await t.api('PATCH', `/api/v1/admin/users/${id}`, { role: 'supervisor' }, as(f.annSession));
    await t.api('PATCH', `/api/v1/admin/users/${id}`, { role: 'member' }, as(f.annSession));
    await t.drain(); // the admin's email out first: resetMail takes the next one to arrive
    await t.mail.waitFor((m) => m.to.includes(f.ben.email.toLowerCase()));
    const { token } = await t.resetMail(f.ben.email);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: 'Brand-New-Harbor-9!' })).status).toBe(200);
    expect((await t.login(f.ben.email, 'Brand-New-Harbor-9!')).status).toBe(200);
    const out = await t.api('POST', `/api/v1/admin/users/${id}/sign-out-everywhere`, {}, as(f.samSession));
    expect(out.status, out.raw).toBe(200);
    await t.api('PATCH', `/api/v1/admin/users/${id}`, { disabled: true }, as(f.annSession));
    expect((await t.op('PATCH', `/admin/v1/tenants/${f.slug}/users/${id}`, { disabled: false })).status).toBe(200);

    expect(await textsOf(f.annSession, `userId=${id}`)).toEqual([
      `Ann (admin) added ${f.ben.email} as a member`,
      `Ann (admin) sent a reset link to ${f.ben.email} — reason: locked out on the floor`,
      `Ann (admin) changed the role of ${f.ben.email} from member to supervisor`,
      `Ann (admin) changed the role of ${f.ben.email} from supervisor to member`,
      `A reset email was requested for ${f.ben.email}`,
      `${f.ben.email} set a new password with a reset link and was signed out everywhere`,
      `${f.ben.email} signed in`,
      `Sam (supervisor) signed ${f.ben.email} out everywhere (1 session ended)`,
      `Ann (admin) disabled ${f.ben.email} and signed them out everywhere`,
      `The operator enabled ${f.ben.email} again`,
    ]);
  });

  it('filters by who acted and by time, and refuses a date it cannot read with a 400 naming it', async () => {
    const f = await floor();
    const { id } = await t.user(f.slug, f.ben.email);
    t.clock.advance(2 * 86_400_000);
    const annSession = await t.login(f.ann.email); // the first one has expired meanwhile
    await t.api('PATCH', `/api/v1/admin/users/${id}`, { disabled: true }, as(annSession));
    const today = t.clock.now().toISOString().slice(0, 10);
    const yesterday = new Date(t.clock.now().getTime() - 86_400_000).toISOString().slice(0, 10);

    expect(await textsOf(annSession, `userId=${id}&actorType=operator`)).toEqual([`The operator added ${f.ben.email} as a member`]);
    expect(await textsOf(annSession, `userId=${id}&actorType=admin`)).toEqual([`Ann (admin) disabled ${f.ben.email} and signed them out everywhere`]);
    expect(await textsOf(annSession, `userId=${id}&from=${today}`)).toEqual([`Ann (admin) disabled ${f.ben.email} and signed them out everywhere`]);
    expect(await textsOf(annSession, `userId=${id}&to=${yesterday}`)).toEqual([`The operator added ${f.ben.email} as a member`]);
    expect(await textsOf(annSession, `userId=${id}&from=${today}&to=${today}`)).toHaveLength(1);
    // The operator's list across tenants takes the same filters.
    const operatorTexts = async (query: string) => ((await t.op('GET', `/admin/v1/audit?${query}`)).body.events as { text: string }[]).map((e) => e.text);
    expect(await operatorTexts(`userId=${id}&actorType=admin`)).toEqual([`Ann (admin) disabled ${f.ben.email} and signed them out everywhere`]);
    expect(await operatorTexts(`userId=${id}&to=${yesterday}`)).toEqual([`The operator added ${f.ben.email} as a member`]);
    expect(await operatorTexts(`userId=${id}&from=${today}&tenant=${f.slug}`)).toEqual([`Ann (admin) disabled ${f.ben.email} and signed them out everywhere`]);
    expect(await t.op('GET', '/admin/v1/audit?from=2025-02-30')).toMatchObject({ status: 400, body: { error: 'invalid_request', message: expect.stringContaining('from') } });

    for (const [name, value] of [['from', '2025-02-30'], ['to', 'yesterday']] as const) {
      const bad = await t.api('GET', `/api/v1/admin/audit?${name}=${value}`, undefined, as(annSession));
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: 'invalid_request', message: expect.stringContaining(name) });
    }
    expect((await t.api('GET', '/api/v1/admin/audit?actorType=robot', undefined, as(annSession))).status).toBe(400);
  });

  it("another tenant's admin never reads these events; the operator's list carries the sentence too", async () => {
    const f = await floor();
    const { id } = await t.user(f.slug, f.ben.email);
    const other = await floor();
    expect((await t.api('GET', `/api/v1/admin/audit?userId=${id}`, undefined, as(other.annSession))).status).toBe(404);
    const mine = await textsOf(other.annSession, '');
    expect(mine.join('\n')).not.toContain(f.ben.email);

    const op = await t.op('GET', `/admin/v1/audit?tenant=${f.slug}&type=user_created`);
    expect(op.status).toBe(200);
    expect(op.body.events.map((e: { text: string }) => e.text)).toContain(`The operator added ${f.ben.email} as a member`);
  });

  it('the console page shows the sentences in German for a German reader, each with its raw event', async () => {
    const f = await floor();
    const { id } = await t.user(f.slug, f.ben.email);
    await t.api('POST', `/api/v1/admin/users/${id}/password-reset`, { delivery: 'email', reason: 'Schichtbeginn, gesperrt' }, as(f.annSession));
    const page = await t.api('GET', `/admin/audit?userId=${id}`, undefined, { cookie: f.annSession.cookie, 'accept-language': 'de-DE' });
    expect(page.status).toBe(200);
    expect(page.raw).toContain(`Ann (Administrator) hat einen Reset-Link an ${f.ben.email} gesendet — Grund: Schichtbeginn, gesperrt`);
    expect(page.raw).toContain(`Der Betreiber hat ${f.ben.email} als Mitglied angelegt`);
    expect(page.raw).toContain('<summary>Rohdaten des Ereignisses</summary>');
    expect(page.raw).toContain('&#34;type&#34;: &#34;admin_reset_issued&#34;');
  });
});

describe('the sentences themselves', () => {
  const event = (over: Partial<AuditView>): AuditView => ({
    id: 1, type: 'user_disabled', tenantId: null, userId: null, actor: { type: 'operator', id: null }, ip: null, data: {}, at: new Date(0).toISOString(), ...over,
  });
  const ben = '00000000-0000-4000-8000-00000000000b';
  const people = new Map([[ben, { name: '', email: 'ben@example.com', role: 'member' as const }]]);

  it('every type written has a sentence in English and in German', () => {
    expect(AUDIT_TYPES.filter((type) => !auditSentencesEn.types[type])).toEqual([]);
    expect(AUDIT_TYPES.filter((type) => !auditSentencesDe.types[type])).toEqual([]);
  });

  it('an erased person reads as "an erased user" with the start of their id, as actor and as target', () => {
    const gone = 'deadbeef-0000-4000-8000-000000000000';
    expect(auditSentence(event({ userId: gone }), people, auditSentencesEn)).toBe('The operator disabled an erased user (#deadbeef) and signed them out everywhere');
    expect(auditSentence(event({ userId: ben, actor: { type: 'admin', id: gone } }), people, auditSentencesEn))
      .toBe('An erased user (#deadbeef) disabled ben@example.com and signed them out everywhere');
  });

  it('SCIM provisioning and Keyturn itself are named as such; an unknown type still reads', () => {
    expect(auditSentence(event({ userId: ben, actor: { type: 'system', id: 'scim:1234' } }), people, auditSentencesEn))
      .toBe('SCIM provisioning disabled ben@example.com and signed them out everywhere');
    expect(auditSentence(event({ type: 'webhook_disabled', actor: { type: 'system', id: null }, data: { url: 'https://hooks.example/k', reason: 'failing' } }), people, auditSentencesEn))
      .toBe('Keyturn disabled the webhook endpoint https://hooks.example/k — reason: it kept failing');
    expect(auditSentence(event({ type: 'badge_printed', userId: ben }), people, auditSentencesEn)).toBe('The operator: badge printed — ben@example.com');
  });
});
