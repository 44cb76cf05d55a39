// Issue 13: security keys and passkeys through the JSON API, proved by a software authenticator
// (authenticator.ts): sane creation and request options, a key added and used to sign in and to
// reset, and forged, replayed, misdirected or garbage responses refused as wrong answers (401).
import { describe, expect, it } from 'vitest';
import { STRONG, STRONG2, useTestApp, type Session } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { asSession, expectError, PUBLIC_URL } from '../helpers/http.ts';
import { SoftKey } from './authenticator.ts';
import { mailsTo, secondStep, whoAmI } from './helpers.ts';

const t = useTestApp();
const RP_ID = new URL(PUBLIC_URL).hostname;

const creationOptions = (s: Session) => t.api('POST', '/api/v1/mfa/webauthn/options', { currentPassword: STRONG }, asSession(s));
const addKey = (s: Session, response: unknown, label = 'YubiKey') => t.api('POST', '/api/v1/mfa/webauthn', { response, label }, asSession(s));

/** An account with a software key added (and the session that added it). */
async function keyAccount(opts: Parameters<typeof account>[1] = {}) {
  const a = await account(t, opts);
  const session = await t.login(a.email);
  const key = new SoftKey({ origin: PUBLIC_URL });
  const added = await addKey(session, key.register((await creationOptions(session)).body));
  expect(added.status, added.raw).toBe(201);
  return { ...a, session, key, added: added.body };
}

/** The first step of a sign-in: the ticket and the WebAuthn request options. */
async function signInOffer(email: string) {
  const res = await t.api('POST', '/api/v1/login', { email, password: STRONG });
  expectError(res, 403, 'mfa_required');
  return res.body as { ticket: string; methods: string[]; webauthn: { challenge: string; rpId: string; allowCredentials: { id: string }[] } };
}

describe('adding a security key', () => {
  it('creation options: the RP is PUBLIC_URL\'s host, a fresh challenge, the user, no attestation, user verification preferred', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    const [one, two] = [(await creationOptions(s)).body, (await creationOptions(s)).body];
    expect(one.rp).toEqual({ id: RP_ID, name: a.slug.toUpperCase() });
    expect(one.user).toMatchObject({ name: a.email, id: expect.any(String) });
    expect(one.challenge).toMatch(/^[\w-]{32,}$/);
    expect(two.challenge).not.toBe(one.challenge);
    expect(one.attestation).toBe('none');
    expect(one.authenticatorSelection).toMatchObject({ userVerification: 'preferred' });
    expect(one.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toContain(-7);
    expect(one.excludeCredentials).toEqual([]);
    expectError(await t.api('POST', '/api/v1/mfa/webauthn/options', {}, asSession(s)), 400, 'invalid_request');
    expectError(await t.api('POST', '/api/v1/mfa/webauthn/options', { currentPassword: STRONG2 }, asSession(s)), 403, 'wrong_password');
  });

  it('the key\'s response adds it (201) with recovery codes as the first factor; the next options exclude it', async () => {
    const a = await keyAccount();
    expect(a.added.factor).toMatchObject({ type: 'webauthn', label: 'YubiKey', lastUsedAt: null });
    expect(a.added.recoveryCodes).toHaveLength(10);
    const list = await t.api('GET', '/api/v1/mfa', undefined, asSession(a.session));
    expect(list.body.factors).toEqual([expect.objectContaining({ id: a.added.factor.id, type: 'webauthn', label: 'YubiKey' })]);
    expect((await creationOptions(a.session)).body.excludeCredentials).toEqual([{ id: a.key.id, type: 'public-key', transports: ['usb'] }]);
    const [mail] = await mailsTo(t, a.email, 'Two-step verification: a new sign-in factor was added');
    expect(mail!.text).toContain('A security key or passkey ("YubiKey") was added');
  });

  it('garbage, another origin, another RP ID, another account\'s challenge or an expired one: 401 mfa_invalid, nothing added', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    const other = await t.login((await account(t)).email);
    const options = (await creationOptions(s)).body;
    const refused = [
      { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA' } },
      { id: 'garbage' },
      new SoftKey({ origin: 'https://evil.example' }).register(options),
      new SoftKey({ origin: PUBLIC_URL, rpId: 'evil.example' }).register(options),
      new SoftKey({ origin: PUBLIC_URL }).register((await creationOptions(other)).body),
    ];
    for (const response of refused) expectError(await addKey(s, response), 401, 'mfa_invalid');
    const late = (await creationOptions(s)).body;
    t.clock.advance(5 * 60_000 + 1_000);
    expectError(await addKey(s, new SoftKey({ origin: PUBLIC_URL }).register(late)), 401, 'mfa_invalid');
    expect((await t.api('GET', '/api/v1/mfa', undefined, asSession(s))).body.factors).toEqual([]);
    expectError(await addKey(s, 'not an object'), 400, 'invalid_request');
  });

  it('the same registration response sent again adds nothing: 409 factor_exists, never a 500', async () => {
    const a = await account(t);
    const s = await t.login(a.email);
    const response = new SoftKey({ origin: PUBLIC_URL }).register((await creationOptions(s)).body);
    expect((await addKey(s, response)).status).toBe(201);
    const again = await addKey(s, response);
    expectError(again, 409, 'factor_exists');
    expect((await t.api('GET', '/api/v1/mfa', undefined, asSession(s))).body.factors).toHaveLength(1);
  });
});

describe('signing in with a security key', () => {
  it('the first step offers webauthn with request options for the account\'s keys; the assertion signs in with amr ["pwd","hwk"]', async () => {
    const a = await keyAccount();
    const offer = await signInOffer(a.email);
    expect(offer.methods).toEqual(['webauthn', 'recovery_code']);
    expect(offer.webauthn).toMatchObject({ rpId: RP_ID, userVerification: 'preferred', allowCredentials: [{ id: a.key.id, type: 'public-key' }] });
    const done = await secondStep(t, { ticket: offer.ticket, method: 'webauthn', response: a.key.assert(offer.webauthn), tokenType: 'bearer' });
    expect(done.status, done.raw).toBe(200);
    expect((await whoAmI(t, { token: done.body.token })).body.amr).toEqual(['pwd', 'hwk']);
    const listed = (await t.api('GET', '/api/v1/mfa', undefined, asSession(a.session))).body.factors[0];
    expect(listed.lastUsedAt).not.toBeNull();
  });

  it('an assertion works for its own ticket only: replayed on a new ticket, or for another ticket\'s challenge, it is refused', async () => {
    const a = await keyAccount();
    const first = await signInOffer(a.email);
    const response = a.key.assert(first.webauthn);
    expect((await secondStep(t, { ticket: first.ticket, method: 'webauthn', response })).status).toBe(200);
    const second = await signInOffer(a.email);
    expectError(await secondStep(t, { ticket: second.ticket, method: 'webauthn', response }), 401, 'mfa_invalid');
    const third = await signInOffer(a.email);
    expectError(await secondStep(t, { ticket: third.ticket, method: 'webauthn', response: a.key.assert(second.webauthn) }), 401, 'mfa_invalid');
    expect((await secondStep(t, { ticket: third.ticket, method: 'webauthn', response: a.key.assert(third.webauthn) })).status).toBe(200);
  });

  it('another key, a signature counter that went back (a cloned key), or garbage: 401 mfa_invalid with attempts left, never a 500', async () => {
    const a = await keyAccount();
    const offer = await signInOffer(a.email);
    const stranger = new SoftKey({ origin: PUBLIC_URL });
    expect((await secondStep(t, { ticket: offer.ticket, method: 'webauthn', response: a.key.assert(offer.webauthn) })).status).toBe(200);
    const next = await signInOffer(a.email);
    const forged = a.key.assert(next.webauthn);
    forged.response.signature = Buffer.from(forged.response.signature, 'base64url').reverse().toString('base64url');
    const answers = [
      stranger.assert(next.webauthn),
      { ...stranger.assert(next.webauthn), id: a.key.id, rawId: a.key.id },
      forged,
      { id: a.key.id },
      { id: a.key.id, rawId: a.key.id, type: 'public-key', response: { clientDataJSON: '!!', authenticatorData: '', signature: '' } },
    ];
    const left: number[] = [];
    for (const response of answers) {
      const res = await secondStep(t, { ticket: next.ticket, method: 'webauthn', response });
      expectError(res, 401, 'mfa_invalid');
      left.push(res.body.attemptsLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    // A clone still at the old counter is refused; the key that moved on is not.
    const later = await signInOffer(a.email);
    a.key.counter = 0;
    expectError(await secondStep(t, { ticket: later.ticket, method: 'webauthn', response: a.key.assert(later.webauthn) }), 401, 'mfa_invalid');
    a.key.counter = 10;
    expect((await secondStep(t, { ticket: later.ticket, method: 'webauthn', response: a.key.assert(later.webauthn) })).status).toBe(200);
  });

  it('a tenant that requires a factor: the enrolment ticket adds a key without the password, then signs in with amr ["pwd","hwk"]', async () => {
    const a = await account(t, { tenant: { mfa: 'everyone' } });
    const login = await t.api('POST', '/api/v1/login', { email: a.email, password: STRONG });
    expectError(login, 403, 'mfa_enrollment_required');
    const h = { 'x-mfa-ticket': login.body.ticket };
    const options = await t.api('POST', '/api/v1/mfa/webauthn/options', {}, h);
    expect(options.status).toBe(200);
    const key = new SoftKey({ origin: PUBLIC_URL });
    expect((await t.api('POST', '/api/v1/mfa/webauthn', { response: key.register(options.body), label: 'Passkey' }, h)).status).toBe(201);
    const done = await secondStep(t, { ticket: login.body.ticket, tokenType: 'bearer' });
    expect(done.status).toBe(200);
    expect((await whoAmI(t, { token: done.body.token })).body.amr).toEqual(['pwd', 'hwk']);
  });
});

describe('a reset with a security key', () => {
  it('inspect gives request options bound to the link; their assertion completes the reset; a sign-in assertion does not', async () => {
    const a = await keyAccount();
    const { token } = await t.resetMail(a.email);
    const seen = await t.api('POST', '/api/v1/password/reset/inspect', { token });
    const mfa = seen.body.accounts[0].mfa;
    expect(mfa).toMatchObject({ methods: ['webauthn', 'recovery_code'], webauthn: { rpId: RP_ID, allowCredentials: [{ id: a.key.id, type: 'public-key' }] } });

    const signIn = await signInOffer(a.email);
    const misdirected = await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2, mfa: { tenant: a.slug, method: 'webauthn', response: a.key.assert(signIn.webauthn) } });
    expectError(misdirected, 401, 'mfa_invalid');
    const done = await t.api('POST', '/api/v1/password/reset', { token, password: STRONG2, mfa: { tenant: a.slug, method: 'webauthn', response: a.key.assert(mfa.webauthn) } });
    expect(done.status, done.raw).toBe(200);
    // An assertion made for one reset's challenge does not open another reset of the same account.
    const again = await t.resetMail(a.email);
    const replay = await t.api('POST', '/api/v1/password/reset', { token: again.token, password: 'Brisk-Lantern-58$', mfa: { tenant: a.slug, method: 'webauthn', response: a.key.assert(mfa.webauthn) } });
    expectError(replay, 401, 'mfa_invalid');
  });
});
