// Signing in at the platform's apps (CONTRACT §9) in a real Chromium: openid-client in the test
// process is the app, a tiny HTTP server on 127.0.0.1 is its redirect URI and hands each callback
// to the test. The person goes through Keyturn's hosted login (second step and tenant chooser
// included), and a browser already signed in goes straight back to the next app.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { account, browserSuite, h1, oneAddressTwoTenants, pathOf, STRONG, text, unique, visible } from '../helpers/browser.ts';
import { freshCode } from '../helpers/totp.ts';

vi.setConfig({ testTimeout: 30_000 });

const { live, browser, signIn } = browserSuite();

/** The app's redirect URI: every request to it is a callback, handed to whoever waits for one. */
let rp: Server;
let cb: string;
const waiting: ((url: string) => void)[] = [];
const arrived: string[] = [];
beforeAll(async () => {
  rp = createServer((req, res) => {
    // Only the redirect URI counts (the browser also asks for /favicon.ico).
    if (!req.url?.startsWith('/cb')) return void res.writeHead(404).end();
    const url = `${cb.replace(/\/cb$/, '')}${req.url}`;
    const w = waiting.shift();
    if (w) w(url); else arrived.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>The app</title><h1>Back at the app</h1>');
  });
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  cb = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`;
});
afterAll(async () => { await new Promise((resolve) => rp?.close(resolve)); });

/** The next callback the app receives. */
function nextCallback(): Promise<string> {
  const ready = arrived.shift();
  if (ready) return Promise.resolve(ready);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no callback reached the app')), 10_000);
    waiting.push((url) => { clearTimeout(t); resolve(url); });
  });
}

interface App { name: string; clientId: string; config: client.Configuration; }
async function register(type: 'public' | 'confidential', name = unique('App')): Promise<App> {
  const { clientId, clientSecret } = await live.op('POST', '/admin/v1/oidc/clients', { name, type, redirectUris: [cb] });
  const config = await client.discovery(new URL(live.url), clientId, clientSecret, clientSecret ? undefined : client.None(), { execute: [client.allowInsecureRequests] });
  return { name, clientId, config };
}

/** The authorization URL an app sends the browser to, with its PKCE verifier and state. */
async function start(app: App, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: cb, scope: 'openid email profile offline_access', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  }).toString();
  return { url, verifier, state };
}

/** The app's side of the callback: the code exchanged (PKCE), the tokens verified against the JWKS. */
async function finish(app: App, flow: { verifier: string; state: string }, callback: string) {
  expect(new URL(callback).searchParams.get('error'), callback).toBeNull();
  expect(new URL(callback).searchParams.get('code')).toBeTruthy();
  const tokens = await client.authorizationCodeGrant(app.config, new URL(callback), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
  const jwks = createRemoteJWKSet(new URL(app.config.serverMetadata().jwks_uri!));
  const id = await jwtVerify(tokens.id_token!, jwks, { issuer: live.url, audience: app.clientId });
  const access = await jwtVerify(tokens.access_token, jwks, { issuer: live.url, audience: live.url, typ: 'at+jwt' });
  expect(access.protectedHeader.typ).toBe('at+jwt');
  return { tokens, id: id.payload, access: access.payload };
}

/** Every page the browser loads in the top frame, as URLs. */
function visited(page: Page): string[] {
  const urls: string[] = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) urls.push(f.url()); });
  return urls;
}

describe('signing in at an app', () => {
  let context: BrowserContext;
  let page: Page;
  let person: { slug: string; email: string; id: string };
  let first: App;
  let firstTokens: client.TokenEndpointResponse;
  afterAll(async () => { await context?.close(); });

  it('a public app (PKCE): login page → password → authenticator code → back at the app; tokens verify', async () => {
    person = await account(live, { prefix: 'rp' });
    // The person's authenticator app, added through the API.
    const signedIn = await live.app.publicApp.inject({ method: 'POST', url: '/api/v1/login', payload: { email: person.email, password: STRONG, tokenType: 'bearer' } });
    const bearer = { authorization: `Bearer ${signedIn.json().token}` };
    const started = (await live.app.publicApp.inject({ method: 'POST', url: '/api/v1/mfa/totp', payload: { currentPassword: STRONG }, headers: bearer })).json();
    const verified = await live.app.publicApp.inject({ method: 'POST', url: `/api/v1/mfa/totp/${started.id}/verify`, payload: { code: freshCode(live.clock, started.secret) }, headers: bearer });
    expect(verified.statusCode, verified.body).toBe(200);

    first = await register('public', 'Softphone');
    context = await browser.newContext({ viewport: { width: 800, height: 900 }, locale: 'en-GB' });
    page = await context.newPage();
    const flow = await start(first);
    await page.goto(flow.url);
    await pathOf(page).toBe('/login');
    await h1(page).toBe('Sign in');
    expect(new URL(page.url()).searchParams.get('next')).toMatch(/^\/oidc\/interaction\/[A-Za-z0-9_-]+$/);
    await page.getByLabel('Email address').fill(person.email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await pathOf(page).toBe('/login/verify');
    await h1(page).toBe('Two-step verification');
    await page.getByLabel('Code from your authenticator app or a recovery code').fill(freshCode(live.clock, started.secret));
    await page.getByRole('button', { name: 'Verify' }).click();

    const url = await nextCallback();
    await page.waitForURL((u) => u.href.startsWith(cb));
    await visible(page.getByRole('heading', { name: 'Back at the app' })).toBe(true);
    const { tokens, id, access } = await finish(first, flow, url);
    firstTokens = tokens;
    expect(id.sub).toBe(person.id);
    expect(id.tenant).toBe(person.slug);
    expect(id.email).toBe(person.email);
    expect(id.amr).toContain('pwd');
    expect((id.amr as string[]).some((m) => m === 'otp' || m === 'mfa')).toBe(true);
    expect(access.sub).toBe(person.id);
    expect(access.tenant).toBe(person.slug);
    expect(access.client_id).toBe(first.clientId);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('already signed in: a second app gets its code at once, no login page shown', async () => {
    const second = await register('confidential', 'CRM embed');
    const pages = visited(page);
    const flow = await start(second);
    await page.goto(flow.url);
    const url = await nextCallback();
    await page.waitForURL((u) => u.href.startsWith(cb));
    expect(pages.filter((u) => u.startsWith(live.url) && new URL(u).pathname.startsWith('/login')), pages.join('\n')).toEqual([]);
    expect(pages.some((u) => u.includes('/oidc/interaction/')), pages.join('\n')).toBe(true);
    const { id } = await finish(second, flow, url);
    expect(id.sub).toBe(person.id);
    expect(id.tenant).toBe(person.slug);
  });

  it('the device list shows the app session by its name; "Sign out" on it ends the app\'s refresh token', async () => {
    await page.goto(`${live.url}/settings/sessions`);
    await h1(page).toBe('Signed-in devices');
    const row = page.locator('#sessions li').filter({ hasText: 'App: Softphone' });
    await expect.poll(() => row.count()).toBe(1);
    await text(row).toContain('Softphone');
    await row.getByRole('button', { name: 'Sign out Softphone' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await visible(page.getByText('The device was signed out.')).toBe(true);
    await expect.poll(() => page.locator('#sessions li').filter({ hasText: 'App: Softphone' }).count()).toBe(0);
    await expect(client.refreshTokenGrant(first.config, firstTokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The browser and the other app stay signed in.
    await text(page.locator('#sessions')).toContain('CRM embed');
  });
});

describe('an app without tenant=', () => {
  it('a person with accounts in two tenants picks one on the chooser; the ID token names it', async () => {
    const { b, email } = await oneAddressTwoTenants(live, { prefix: 'rptwo', names: ['North Ops', 'South Ops'] });
    const app = await register('public');
    const context = await browser.newContext({ viewport: { width: 800, height: 900 }, locale: 'en-GB' });
    try {
      const page = await context.newPage();
      const flow = await start(app);
        await signIn(page, new URL(flow.url).pathname + new URL(flow.url).search, email, STRONG);
      await h1(page).toBe('Choose an account');
      await page.getByRole('button', { name: 'Continue to South Ops' }).click();
      const url = await nextCallback();
      const { id, access } = await finish(app, flow, url);
      expect(id.tenant).toBe(b.slug);
      expect(access.tenant).toBe(b.slug);
    } finally {
      await context.close();
    }
  });
});
