// Keyturn as OpenID Provider (CONTRACT §9), driven over HTTP against a live listener: openid-client
// as the app, fetch with a cookie jar as the browser, jose to check what the provider signs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startLiveApp, type LiveApp } from '../helpers/browser.ts';
import { STRONG, STRONG2, unique } from '../helpers/app.ts';
import { rotateKeys } from '../../src/features/oidc/keys.ts';
import { newLockUrl } from '../../src/features/accounts/after-password-set.ts';

const CB = 'http://127.0.0.1:9/cb';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let live: LiveApp;
let hook: Server;
let hookUrl: string;
/** Back-channel logout requests received, by path. */
const received = new Map<string, { body: string; contentType: string | undefined }[]>();

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const list = received.get(req.url!) ?? [];
      list.push({ body, contentType: req.headers['content-type'] });
      received.set(req.url!, list);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  live = await startLiveApp({ env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });
}, 30_000);
afterAll(async () => {
  await live?.close();
  await new Promise((resolve) => hook?.close(resolve));
});

type Jar = Map<string, string>;
const cookieHeader = (jar: Jar) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
function keep(jar: Jar, res: Response) {
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const i = kv!.indexOf('=');
    const k = kv!.slice(0, i); const v = kv!.slice(i + 1);
    if (v && !/expires=Thu, 01 Jan 1970/i.test(c) && !/max-age=0/i.test(c)) jar.set(k, v); else jar.delete(k);
  }
}

interface Followed { url: string; chain: string[]; status?: number; body?: string; }
/** Follows redirects (and the interaction's meta refresh) by hand with a cookie jar, until one leaves Keyturn or a page stops it. */
async function follow(url: string, jar: Jar): Promise<Followed> {
  const chain: string[] = [];
  for (let i = 0; i < 20; i++) {
    chain.push(url);
    if (!url.startsWith(live.url)) return { url, chain };
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader(jar) } });
    keep(jar, res);
    const loc = res.headers.get('location');
    if (loc) { url = new URL(loc, url).toString(); continue; }
    const body = await res.text();
    const refresh = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(body)?.[1];
    if (refresh) { url = new URL(refresh.replace(/&amp;/g, '&'), url).toString(); continue; }
    return { url, chain, status: res.status, body };
  }
  throw new Error('too many redirects');
}

const op = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  live.app.adminApp.inject({ method, url, headers: { authorization: `Bearer ${live.app.adminApiKey}` }, ...(payload ? { payload } : {}) });

async function person(slug?: string) {
  slug ??= (await live.tenant()).slug;
  const email = `${unique('p')}@example.com`;
  const { id } = await live.user(slug, email);
  return { slug, email, id };
}

interface App { clientId: string; clientSecret?: string; config: client.Configuration; }
async function register(body: Record<string, unknown> = {}): Promise<App> {
  const reg = await op('POST', '/admin/v1/oidc/clients', { name: unique('App'), type: 'confidential', redirectUris: [CB], ...body });
  expect(reg.statusCode, reg.body).toBe(201);
  const { clientId, clientSecret } = reg.json();
  const config = await client.discovery(new URL(live.url), clientId, clientSecret, clientSecret ? undefined : client.None(), { execute: [client.allowInsecureRequests] });
  return { clientId, clientSecret, config };
}

/** A browser signed in to Keyturn: its cookie jar and CSRF token. */
async function signIn(email: string, slug: string, password = STRONG): Promise<{ jar: Jar; csrf: string }> {
  const res = await fetch(`${live.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password, tenant: slug }) });
  expect(res.status, await res.clone().text()).toBe(200);
  const jar: Jar = new Map();
  keep(jar, res);
  const csrf = (await (await fetch(`${live.url}/api/v1/csrf`, { headers: { cookie: cookieHeader(jar) } })).json()).csrfToken as string;
  return { jar, csrf };
}

function authUrl(app: App, verifier: string | undefined, challenge: string | undefined, extra: Record<string, string> = {}) {
  return client.buildAuthorizationUrl(app.config, {
    redirect_uri: CB, scope: 'openid email profile offline_access', state: 'st',
    ...(challenge ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}), ...extra,
  }).toString();
}

/** The code flow for a signed-in browser: the tokens, and the redirect chain it took. */
async function authorize(app: App, jar: Jar, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const followed = await follow(authUrl(app, verifier, await client.calculatePKCECodeChallenge(verifier), extra), jar);
  expect(followed.url.startsWith(CB), `${followed.url} ${followed.status} ${followed.body?.slice(0, 300)}`).toBe(true);
  const tokens = await client.authorizationCodeGrant(app.config, new URL(followed.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
  return { tokens, chain: followed.chain };
}

const userinfoStatus = async (app: App, accessToken: string) =>
  (await fetch(app.config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;

async function expectDead(app: App, tokens: { refresh_token?: string; access_token: string }) {
  await expect(client.refreshTokenGrant(app.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect((await client.tokenIntrospection(app.config, tokens.refresh_token!)).active).toBe(false);
  expect(await userinfoStatus(app, tokens.access_token)).toBe(401);
}

const signInCsrf = async (jar: Jar) => (await (await fetch(`${live.url}/api/v1/csrf`, { headers: { cookie: cookieHeader(jar) } })).json()).csrfToken as string;

const devices = async (jar: Jar) => {
  const res = await fetch(`${live.url}/api/v1/sessions`, { headers: { cookie: cookieHeader(jar) } });
  expect(res.status).toBe(200);
  return (await res.json()).sessions as { id: string; current: boolean; app?: { clientId: string; name: string } }[];
};

describe('authorization requests', () => {
  it('public client: PKCE required, redirect_uri checked; discovery says what §9 says', async () => {
    const { slug, email } = await person();
    const app = await register({ type: 'public' });
    expect(app.clientSecret).toBeUndefined();
    const { jar } = await signIn(email, slug);

    const noPkce = await follow(authUrl(app, undefined, undefined), jar);
    expect(noPkce.url).not.toMatch(/[?&]code=/);
    if (noPkce.url.startsWith(CB)) expect(new URL(noPkce.url).searchParams.get('error')).toBe('invalid_request');
    else expect(noPkce.status).toBeGreaterThanOrEqual(400);

    const verifier = client.randomPKCECodeVerifier();
    const wrong = await follow(authUrl(app, verifier, await client.calculatePKCECodeChallenge(verifier), { redirect_uri: 'http://127.0.0.1:9/evil' }), jar);
    expect(wrong.chain.some((u) => u.startsWith('http://127.0.0.1:9/'))).toBe(false);
    expect(wrong.status).toBe(400);

    // and the proper request works (a public client at the token endpoint, no secret)
    const { tokens } = await authorize(app, jar);
    expect(tokens.refresh_token).toBeTruthy();

    const d = await (await fetch(`${live.url}/.well-known/openid-configuration`)).json();
    expect(d.issuer).toBe(live.url);
    for (const k of ['jwks_uri', 'end_session_endpoint', 'introspection_endpoint', 'userinfo_endpoint', 'revocation_endpoint', 'token_endpoint', 'authorization_endpoint']) {
      expect(typeof d[k], k).toBe('string');
    }
    expect(d.backchannel_logout_supported).toBe(true);
    expect(d.code_challenge_methods_supported).toContain('S256');
  });

  it('already signed in: a second app gets a code without a prompt; without a cookie the chain stops at the login page', async () => {
    const { slug, email } = await person();
    const a = await register();
    const b = await register();
    const { jar } = await signIn(email, slug);
    await authorize(a, jar);
    const second = await authorize(b, jar);
    expect(second.chain.some((u) => new URL(u).pathname.includes('login'))).toBe(false);

    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const anon = await follow(authUrl(b, verifier, challenge), new Map());
    const at = new URL(anon.url);
    expect(at.pathname).toBe('/login');
    expect(at.searchParams.get('next')).toMatch(/^\/oidc\/interaction\/[A-Za-z0-9_-]+$/);

    const withTenant = await follow(authUrl(b, verifier, challenge, { tenant: slug }), new Map());
    const at2 = new URL(withTenant.url);
    expect(at2.pathname).toBe(`/t/${slug}/login`);
    expect(at2.searchParams.get('next')).toMatch(/^\/oidc\/interaction\/[A-Za-z0-9_-]+$/);
  });

  it('prompt=none: a code while the Keyturn session lives (no new app session), login_required once it ended', async () => {
    const { slug, email } = await person();
    const app = await register();
    const { jar } = await signIn(email, slug);
    await authorize(app, jar);
    const again = await authorize(app, jar, { prompt: 'none' });
    expect(again.chain.some((u) => new URL(u).pathname.startsWith('/oidc/interaction/'))).toBe(false);
    expect((await devices(jar)).filter((d) => d.app)).toHaveLength(1);

    const r = await fetch(`${live.url}/api/v1/sessions/revoke-others`, { method: 'POST', headers: { cookie: cookieHeader(jar), 'x-csrf-token': (await signInCsrf(jar)) } });
    expect(r.status).toBe(200);
    const verifier = client.randomPKCECodeVerifier();
    const silent = await follow(authUrl(app, verifier, await client.calculatePKCECodeChallenge(verifier), { prompt: 'none' }), jar);
    expect(new URL(silent.url).searchParams.get('error')).toBe('login_required');
  });

  it('prompt=login asks a signed-in person to sign in again, on a page naming the app, then gives a code', async () => {
    const { slug, email } = await person();
    const app = await register({ name: 'Softphone Desktop' });
    const { jar } = await signIn(email, slug);
    const before = jar.get('keyturn_session');
    const verifier = client.randomPKCECodeVerifier();
    const stopped = await follow(authUrl(app, verifier, await client.calculatePKCECodeChallenge(verifier), { prompt: 'login', tenant: slug }), jar);
    const at = new URL(stopped.url);
    expect(at.pathname).toBe(`/t/${slug}/login`);
    expect(at.searchParams.get('again')).toBe('1');
    expect(stopped.body).toContain('to continue to Softphone Desktop');
    // A link that names no live interaction names no app.
    const crafted = await fetch(`${live.url}/t/${slug}/login?next=${encodeURIComponent('/oidc/interaction/madeup')}`);
    expect(await crafted.text()).not.toContain('to continue to');

    const posted = await fetch(`${live.url}${at.pathname}`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(jar) },
      body: new URLSearchParams({ email, password: STRONG, next: at.searchParams.get('next')! }).toString(),
    });
    keep(jar, posted);
    expect(jar.get('keyturn_session')).not.toBe(before);
    const back = await follow(new URL(posted.headers.get('location')!, live.url).toString(), jar);
    expect(back.url.startsWith(CB), `${back.url} ${back.body?.slice(0, 200)}`).toBe(true);
    const tokens = await client.authorizationCodeGrant(app.config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
    expect(tokens.claims()!.sub).toBeTruthy();
  });

  it('a client limited to tenant A never gives a code to a person signed in to tenant B', async () => {
    const { slug: a } = await live.tenant();
    const { slug: b, email } = await person();
    const app = await register({ tenants: [a] });
    const { jar } = await signIn(email, b);
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);

    const plain = await follow(authUrl(app, verifier, challenge), jar);
    expect(plain.url).not.toMatch(/[?&]code=/);
    if (plain.url.startsWith(CB)) expect(new URL(plain.url).searchParams.get('error')).toBe('access_denied');
    else expect(new URL(plain.url).pathname).toBe(`/t/${a}/login`);

    const asB = await follow(authUrl(app, verifier, challenge, { tenant: b }), jar);
    expect(asB.url.startsWith(CB), asB.url).toBe(true);
    expect(new URL(asB.url).searchParams.get('error')).toBe('access_denied');
    expect(new URL(asB.url).searchParams.get('code')).toBeNull();
  });
});

describe('refresh tokens', () => {
  it('live as long as the app session: once the browser session it came from expires, refresh answers invalid_grant', async () => {
    const { slug, email } = await person();
    const app = await register();
    const { jar } = await signIn(email, slug);
    const { tokens } = await authorize(app, jar);
    const fresh = await client.refreshTokenGrant(app.config, tokens.refresh_token!);
    const past = live.app.ctx.config.sessionTtlMs + 60_000;
    live.clock.advance(past);
    try {
      await expect(client.refreshTokenGrant(app.config, fresh.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      live.clock.advance(-past);
    }
  });

  it('rotate on use; a spent one used again kills the whole chain and ends the app session', async () => {
    const { slug, email, id } = await person();
    const app = await register({ name: 'Softphone' });
    const { jar } = await signIn(email, slug);
    const { tokens } = await authorize(app, jar);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(id);
    expect(claims.tenant).toBe(slug);
    expect(claims).toMatchObject({ email, email_verified: true, role: 'member' });
    expect(claims.amr).toContain('pwd');
    expect(typeof claims.auth_time).toBe('number');
    expect(claims.sid).toBeTruthy();

    const before = await devices(jar);
    expect(before).toHaveLength(2); // the browser session and the app session
    const appSession = before.find((d) => !d.current)!;

    const r1 = await client.refreshTokenGrant(app.config, tokens.refresh_token!);
    expect(r1.refresh_token).toBeTruthy();
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);
    expect(r1.claims()?.sid).toBe(claims.sid);
    await expect(client.refreshTokenGrant(app.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expectDead(app, r1);
    const after = await devices(jar);
    expect(after.map((d) => d.id)).not.toContain(appSession.id);
    expect(after).toHaveLength(1);
    expect(after[0]!.current).toBe(true);
  });

  // Known gap: StoredSessions.list (src/features/sessions/sessions.ts) never fills `app`, though
  // routes.ts documents it. Turn this into `it` once it does.
  it('the device list names the app of an app session (CONTRACT §8 `app`)', async () => {
    const { slug, email } = await person();
    const app = await register({ name: 'CRM embed' });
    const { jar } = await signIn(email, slug);
    await authorize(app, jar);
    const list = await devices(jar);
    expect(list.find((d) => !d.current)?.app).toEqual({ clientId: app.clientId, name: 'CRM embed' });
    expect(list.find((d) => d.current)?.app).toBeUndefined();
  });
});

type Subject = { slug: string; email: string; id: string; jar: Jar; csrf: string };
const actions: [string, (s: Subject) => Promise<void>][] = [
  ['password change', async (s) => {
    const res = await fetch(`${live.url}/api/v1/password/change`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie: cookieHeader(s.jar), 'x-csrf-token': s.csrf },
      body: JSON.stringify({ currentPassword: STRONG, newPassword: STRONG2 }),
    });
    expect(res.status, await res.text()).toBe(200);
  }],
  ['password reset', async (s) => {
    const since = live.mail.messages.length;
    const f = await fetch(`${live.url}/api/v1/password/forgot`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: s.email, tenant: s.slug }) });
    expect(f.status).toBe(202);
    const { token } = await live.resetMailFor(s.email, since);
    const r = await fetch(`${live.url}/api/v1/password/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password: STRONG2 }) });
    expect(r.status, await r.text()).toBe(200);
  }],
  ['operator sign-out-everywhere', async (s) => {
    const r = await op('POST', `/admin/v1/tenants/${s.slug}/users/${s.id}/sign-out-everywhere`);
    expect(r.statusCode, r.body).toBe(200);
  }],
  ['DELETE /api/v1/sessions/{id} of the browser session', async (s) => {
    const browser = (await devices(s.jar)).find((d) => d.current)!;
    const other = await signIn(s.email, s.slug); // ended from another device
    const r = await fetch(`${live.url}/api/v1/sessions/${browser.id}`, { method: 'DELETE', headers: { cookie: cookieHeader(other.jar), 'x-csrf-token': other.csrf } });
    expect(r.status, await r.text()).toBe(204);
  }],
  ['operator disable', async (s) => {
    const r = await op('PATCH', `/admin/v1/tenants/${s.slug}/users/${s.id}`, { disabled: true });
    expect(r.statusCode, r.body).toBe(200);
  }],
  ['lock ("this wasn\'t me")', async (s) => {
    const url = await newLockUrl(live.app.ctx, live.app.ctx.db, { userId: s.id, tenantSlug: s.slug }, live.app.ctx.clock.now());
    const token = new URL(url).searchParams.get('token')!;
    const r = await fetch(`${live.url}/account/lock`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: live.url }, body: new URLSearchParams({ token }).toString() });
    expect(r.status, await r.text()).toBe(200);
  }],
  ['admin MFA reset', async (s) => {
    const r = await op('POST', `/admin/v1/tenants/${s.slug}/users/${s.id}/mfa-reset`, { reason: 'lost phone' });
    expect(r.statusCode, r.body).toBe(200);
  }],
];

describe('every revoking action ends the app (§9)', () => {
  it.each(actions)('%s', async (_name, act) => {
    const p = await person();
    const app = await register();
    const { jar, csrf } = await signIn(p.email, p.slug);
    const { tokens } = await authorize(app, jar);
    expect((await client.tokenIntrospection(app.config, tokens.refresh_token!)).active).toBe(true);
    expect(await userinfoStatus(app, tokens.access_token)).toBe(200);
    await act({ ...p, jar, csrf });
    await expectDead(app, tokens);
  });
});

async function waitFor<T>(get: () => T | undefined, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('back-channel logout', () => {
  it('each app of the person gets a signed logout token with sub and sid; another person\'s app gets none', async () => {
    const p = await person();
    const other = await person();
    const [pa, pb, pc] = [`/bc/${unique('a')}`, `/bc/${unique('b')}`, `/bc/${unique('c')}`];
    const a = await register({ backchannelLogoutUri: hookUrl + pa });
    const b = await register({ backchannelLogoutUri: hookUrl + pb });
    const c = await register({ backchannelLogoutUri: hookUrl + pc });
    const { jar } = await signIn(p.email, p.slug);
    const ta = (await authorize(a, jar)).tokens;
    const tb = (await authorize(b, jar)).tokens;
    const oj = await signIn(other.email, other.slug);
    const tc = (await authorize(c, oj.jar)).tokens;

    const r = await op('POST', `/admin/v1/tenants/${p.slug}/users/${p.id}/sign-out-everywhere`);
    expect(r.statusCode, r.body).toBe(200);

    const jwks = createRemoteJWKSet(new URL(a.config.serverMetadata().jwks_uri!));
    for (const [app, path, tokens] of [[a, pa, ta], [b, pb, tb]] as const) {
      const [got] = await waitFor(() => received.get(path));
      expect(got!.contentType).toContain('application/x-www-form-urlencoded');
      const logoutToken = new URLSearchParams(got!.body).get('logout_token')!;
      const { payload, protectedHeader } = await jwtVerify(logoutToken, jwks, { issuer: live.url, audience: app.clientId, typ: 'logout+jwt' });
      expect(protectedHeader.typ).toBe('logout+jwt');
      expect(payload.sub).toBe(p.id);
      expect(payload.events).toHaveProperty([EVENT]);
      expect(payload.nonce).toBeUndefined();
      const sid = tokens.claims()!.sid;
      expect(sid, 'the ID token carries sid').toBeTruthy();
      expect(payload.sid).toBe(sid);
    }
    await new Promise((res) => setTimeout(res, 500));
    expect(received.get(pc)).toBeUndefined();
    expect((await client.tokenIntrospection(c.config, tc.refresh_token!)).active).toBe(true);
  });
});

describe('end_session', () => {
  it('confirming sign-out lands on the post-logout URI, ends the Keyturn session and the app\'s tokens', async () => {
    const { slug, email } = await person();
    const post = 'http://127.0.0.1:9/bye';
    const app = await register({ postLogoutRedirectUris: [post] });
    const { jar } = await signIn(email, slug);
    const { tokens } = await authorize(app, jar);
    const keyturnCookie = `keyturn_session=${jar.get('keyturn_session')}`;

    const endUrl = client.buildEndSessionUrl(app.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: post, state: 'bye' });
    const page = await fetch(endUrl, { redirect: 'manual', headers: { cookie: cookieHeader(jar) } });
    keep(jar, page);
    const html = await page.text();
    expect(page.status, html.slice(0, 300)).toBe(200);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    expect(action).toMatch(/\/oidc\/session\/end\/confirm$/);
    expect(xsrf).toBeTruthy();
    const confirm = await fetch(new URL(action!.replace(/&amp;/g, '&'), live.url), {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(jar), origin: live.url },
      body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString(),
    });
    keep(jar, confirm);
    const landed = await follow(new URL(confirm.headers.get('location') ?? '/', live.url).toString(), jar);
    expect(landed.url.startsWith(post), `${confirm.status} ${landed.url}`).toBe(true);
    expect(new URL(landed.url).searchParams.get('state')).toBe('bye');

    expect((await fetch(`${live.url}/api/v1/session`, { headers: { cookie: keyturnCookie } })).status).toBe(401);
    await expectDead(app, tokens);
  });
});

describe('signing keys', () => {
  it('after a rotation new tokens carry the new kid and the old ones still verify', async () => {
    const { slug, email } = await person();
    const app = await register();
    const { jar } = await signIn(email, slug);
    const old = (await authorize(app, jar)).tokens;
    const oldKid = decodeProtectedHeader(old.id_token!).kid;

    await rotateKeys(live.app.ctx);
    await new Promise((r) => setTimeout(r, 2500));
    const fresh = (await authorize(app, jar)).tokens;
    const newKid = decodeProtectedHeader(fresh.id_token!).kid;
    expect(newKid).not.toBe(oldKid);
    expect(decodeProtectedHeader(fresh.access_token).kid).toBe(newKid);

    const jwks = createRemoteJWKSet(new URL(app.config.serverMetadata().jwks_uri!));
    await jwtVerify(old.id_token!, jwks, { issuer: live.url, audience: app.clientId });
    await jwtVerify(old.access_token, jwks, { issuer: live.url, audience: live.url });
    await jwtVerify(fresh.id_token!, jwks, { issuer: live.url, audience: app.clientId });
    // the old refresh token still works (rotation is about signing, not sessions)
    expect((await client.refreshTokenGrant(app.config, old.refresh_token!)).access_token).toBeTruthy();
  });
});

describe('operator API', () => {
  it('validates, lists without secrets, deletes (and the app\'s tokens die)', async () => {
    const bad = await op('POST', '/admin/v1/oidc/clients', { name: 'X', type: 'public', redirectUris: ['http://app.example.com/cb'] });
    expect(bad.statusCode, bad.body).toBe(400);
    const noTenant = await op('POST', '/admin/v1/oidc/clients', { name: 'X', type: 'public', redirectUris: [CB], tenants: ['no-such-tenant-zz'] });
    expect(noTenant.statusCode, noTenant.body).toBe(400);
    for (const uri of ['http://169.254.169.254/latest', 'http://10.0.0.7/logout', 'ftp://example.com/x']) {
      const refused = await op('POST', '/admin/v1/oidc/clients', { name: 'X', type: 'public', redirectUris: [CB], backchannelLogoutUri: uri });
      expect(refused.statusCode, uri).toBe(400);
      expect(refused.json().message).toMatch(/backchannelLogoutUri/);
    }
    const ok = await op('POST', '/admin/v1/oidc/clients', { name: 'X', type: 'public', redirectUris: ['https://app.example.com/cb', 'http://[::1]/cb', 'com.example.app:/cb'] });
    expect(ok.statusCode, ok.body).toBe(201);

    const { slug, email } = await person();
    const app = await register();
    const { jar } = await signIn(email, slug);
    const { tokens } = await authorize(app, jar);

    const list = await op('GET', '/admin/v1/oidc/clients');
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(app.clientSecret!);
    const mine = list.json().clients.find((c: { clientId: string }) => c.clientId === app.clientId);
    expect(mine).toBeTruthy();
    expect(mine).not.toHaveProperty('clientSecret');

    expect((await op('DELETE', `/admin/v1/oidc/clients/${app.clientId}`)).statusCode).toBe(204);
    expect((await op('DELETE', `/admin/v1/oidc/clients/${app.clientId}`)).statusCode).toBe(404);
    // The client itself is gone, so the token endpoint refuses it (invalid_client) — either way the token is dead.
    await expect(client.refreshTokenGrant(app.config, tokens.refresh_token!)).rejects.toMatchObject({ error: expect.stringMatching(/^invalid_(grant|client)$/) });
    expect(await userinfoStatus(app, tokens.access_token)).toBe(401);
    expect((await devices(jar)).filter((d) => !d.current)).toHaveLength(0);
  });
});
