// Two Keyturn instances behind one address, on one PostgreSQL database (CONTRACT §9): an app signed
// in through instance A refreshes and introspects on instance B; a revocation made on A is seen by B
// on its very next request; a key rotated through A signs B's next tokens within seconds.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { buildApp, type App } from '../../src/app.ts';
import { configFrom } from '../../src/config.ts';
import { freshDatabase, STRONG, unique, useStarted } from '../helpers/app.ts';
import { startMailCatcher } from '../helpers/mail-catcher.ts';
import { freePort } from '../helpers/ports.ts';

const PG = process.env.TEST_DATABASE_URL;
const CB = 'http://127.0.0.1:9/cb';

interface Instance { app: App; url: string; }
interface Pair { a: Instance; b: Instance; close(): Promise<void>; }

async function twoInstances(): Promise<Pair> {
  const database = await freshDatabase('postgres');
  const mail = await startMailCatcher();
  const [portA, portB] = [await freePort(), await freePort()];
  // One deployment: one PUBLIC_URL (the issuer; A's address stands for the load balancer), the
  // same secret and operator key on every instance.
  const publicUrl = `http://127.0.0.1:${portA}`;
  const config = configFrom({
    NODE_ENV: 'test', DATABASE_URL: 'memory://', SMTP_URL: mail.url, PUBLIC_URL: publicUrl, LOG_LEVEL: 'silent',
    RATE_LIMIT_SCALE: '1000', CAPTCHA_PROVIDER: 'off', SECRET_KEY: 's'.repeat(48), ADMIN_API_KEY: 'a'.repeat(32),
  });
  const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });
  const a = await buildApp(config, { database, startWorker: false, logStream: quiet() });
  const b = await buildApp(config, { database, startWorker: false, logStream: quiet() });
  await a.publicApp.listen({ port: portA, host: '127.0.0.1' });
  await b.publicApp.listen({ port: portB, host: '127.0.0.1' });
  return {
    a: { app: a, url: publicUrl }, b: { app: b, url: `http://127.0.0.1:${portB}` },
    async close() {
      await a.close();
      await b.close();
      await database.drop();
      await mail.stop();
    },
  };
}

const op = async (inst: Instance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => {
  const res = await inst.app.adminApp.inject({ method, url, headers: { authorization: `Bearer ${inst.app.adminApiKey}` }, ...(payload ? { payload } : {}) });
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
  return res.body ? res.json() : undefined;
};

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

/** Follows redirects (and the interaction's meta refresh) with a cookie jar until one leaves `base`. */
async function follow(base: string, url: string, jar: Jar): Promise<string> {
  for (let i = 0; i < 20; i++) {
    if (!url.startsWith(base)) return url;
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader(jar) } });
    keep(jar, res);
    const loc = res.headers.get('location');
    if (loc) { url = new URL(loc, url).toString(); continue; }
    const body = await res.text();
    const refresh = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(body)?.[1];
    if (refresh) { url = new URL(refresh.replace(/&amp;/g, '&'), url).toString(); continue; }
    throw new Error(`stopped at ${url}: ${res.status} ${body.slice(0, 300)}`);
  }
  throw new Error('too many redirects');
}

/** The same app, talking to one instance: A's discovery with every endpoint moved to `inst`. */
function onInstance(base: client.Configuration, clientId: string, clientSecret: string, inst: Instance, issuer: string): client.Configuration {
  const meta = { ...base.serverMetadata() } as Record<string, unknown>;
  for (const [k, v] of Object.entries(meta)) {
    if (k !== 'issuer' && typeof v === 'string' && v.startsWith(issuer)) meta[k] = inst.url + v.slice(issuer.length);
  }
  const config = new client.Configuration(meta as client.ServerMetadata, clientId, clientSecret);
  client.allowInsecureRequests(config);
  return config;
}

describe.skipIf(!PG)(PG ? 'OpenID provider on two instances, one PostgreSQL' : 'OpenID provider on two instances — SKIPPED: set TEST_DATABASE_URL to run', () => {
  const p = useStarted('twoInstances()', twoInstances, (pair) => pair.close());

  /** A person in a new tenant, an app registered on A, signed in on A: the app's views of A and B and its tokens. */
  async function signedInApp() {
    const slug = unique('oidc2');
    await op(p.a, 'POST', '/admin/v1/tenants', { slug, name: 'Two' });
    const email = `${unique('p')}@example.com`;
    const { id } = await op(p.a, 'POST', `/admin/v1/tenants/${slug}/users`, { email, password: STRONG });
    const { clientId, clientSecret } = await op(p.a, 'POST', '/admin/v1/oidc/clients', { name: unique('App'), type: 'confidential', redirectUris: [CB] });
    const onA = await client.discovery(new URL(p.a.url), clientId, clientSecret, undefined, { execute: [client.allowInsecureRequests] });
    const onB = onInstance(onA, clientId, clientSecret, p.b, p.a.url);

    const login = await fetch(`${p.a.url}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: STRONG, tenant: slug }) });
    expect(login.status, await login.clone().text()).toBe(200);
    const jar: Jar = new Map();
    keep(jar, login);
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(onA, {
      redirect_uri: CB, scope: 'openid email profile offline_access', state: 'st',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).toString();
    const callback = await follow(p.a.url, url, jar);
    expect(callback.startsWith(CB), callback).toBe(true);
    const tokens = await client.authorizationCodeGrant(onA, new URL(callback), { pkceCodeVerifier: verifier, expectedState: 'st' });
    return { slug, id, jar, onA, onB, tokens };
  }

  const userinfoStatus = async (config: client.Configuration, accessToken: string) =>
    (await fetch(config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;

  it('signed in on A: B refreshes and introspects; a sign-out-everywhere on A is refused by B on the next request', async () => {
    const { slug, id, onA, onB, tokens } = await signedInApp();
    expect(onB.serverMetadata().token_endpoint!.startsWith(p.b.url)).toBe(true);

    const refreshed = await client.refreshTokenGrant(onB, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.claims()?.sub).toBe(id);
    expect(refreshed.claims()?.iss).toBe(p.a.url);
    expect((await client.tokenIntrospection(onB, refreshed.refresh_token!)).active).toBe(true);
    expect(await userinfoStatus(onB, refreshed.access_token)).toBe(200);
    // The spent refresh token is refused on A too (rotation is shared, not per instance).
    expect((await client.tokenIntrospection(onA, tokens.refresh_token!)).active).toBe(false);

    const r = await op(p.a, 'POST', `/admin/v1/tenants/${slug}/users/${id}/sign-out-everywhere`);
    expect(r.revoked).toBeGreaterThanOrEqual(1);

    expect((await client.tokenIntrospection(onB, refreshed.refresh_token!)).active).toBe(false);
    await expect(client.refreshTokenGrant(onB, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(onB, refreshed.access_token)).toBe(401);
  });

  it('DELETE /api/v1/sessions/{id} on A of the app session ends its tokens on B at once', async () => {
    const { jar, onB, tokens } = await signedInApp();
    expect((await client.tokenIntrospection(onB, tokens.refresh_token!)).active).toBe(true);
    const csrf = (await (await fetch(`${p.a.url}/api/v1/csrf`, { headers: { cookie: cookieHeader(jar) } })).json()).csrfToken as string;
    const list = (await (await fetch(`${p.a.url}/api/v1/sessions`, { headers: { cookie: cookieHeader(jar) } })).json()).sessions as { id: string; current: boolean }[];
    const appSession = list.find((s) => !s.current)!;
    expect(appSession).toBeTruthy();
    const del = await fetch(`${p.a.url}/api/v1/sessions/${appSession.id}`, { method: 'DELETE', headers: { cookie: cookieHeader(jar), 'x-csrf-token': csrf, origin: p.a.url } });
    expect(del.status, await del.text()).toBe(204);

    expect((await client.tokenIntrospection(onB, tokens.refresh_token!)).active).toBe(false);
    await expect(client.refreshTokenGrant(onB, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await userinfoStatus(onB, tokens.access_token)).toBe(401);
  });

  it('a key rotated through A\'s operator API signs the tokens B issues within ~3 s', async () => {
    const { onB, tokens } = await signedInApp();
    let current = await client.refreshTokenGrant(onB, tokens.refresh_token!); // B has built its provider
    const oldKid = decodeProtectedHeader(current.id_token!).kid;

    const { keys } = await op(p.a, 'POST', '/admin/v1/oidc/keys/rotate');
    const newKid = keys[0].kid as string;
    expect(newKid).not.toBe(oldKid);
    const rotatedAt = Date.now();
    while (decodeProtectedHeader(current.id_token!).kid !== newKid) {
      expect(Date.now() - rotatedAt, 'B still signs with the old key').toBeLessThan(3_500);
      await new Promise((r) => setTimeout(r, 200));
      current = await client.refreshTokenGrant(onB, current.refresh_token!);
    }
    expect(decodeProtectedHeader(current.access_token).kid).toBe(newKid);

    // B's JWKS verifies both: the new tokens and the ones signed before the rotation.
    const jwks = createRemoteJWKSet(new URL(onB.serverMetadata().jwks_uri!));
    await jwtVerify(current.id_token!, jwks, { issuer: p.a.url, audience: onB.clientMetadata().client_id });
    await jwtVerify(current.access_token, jwks, { issuer: p.a.url, audience: p.a.url, typ: 'at+jwt' });
    await jwtVerify(tokens.id_token!, jwks, { issuer: p.a.url, audience: onB.clientMetadata().client_id });
  });
});
