// Driving the SSO flow without a browser: start at Keyturn, follow the IdP's redirects with a
// cookie jar (the login interaction finishes by itself), come back to the callback with the state cookie.
import { expect } from 'vitest';
import { unique, useStarted, useTestApp, type Res, type TestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { PUBLIC_URL as PUBLIC } from '../helpers/http.ts';
import { startIdp, type Idp } from './idp.ts';

export { PUBLIC };
export const callbackUri = (slug: string) => `${PUBLIC}/t/${slug}/sso/callback`;

/**
 * The hooks of an SSO test file: a Keyturn and an IdP whose client accepts the callback of each of
 * `slugs`, started before the tests and stopped after them.
 */
export function ssoSuite(slugs: readonly string[]): { t: TestApp; idp: Idp } {
  const t = useTestApp();
  const idp = useStarted('the IdP', () => startIdp({ redirectUris: slugs.map(callbackUri) }), (i) => i.stop());
  return { t, idp };
}

/** A Keyturn user of tenant `slug` and the account at `idp` that says the same (verified) email. */
export async function person(t: TestApp, idp: Idp, slug: string, opts: { password?: string | null; role?: string; hd?: string; verified?: boolean } = {}) {
  const { email, id } = await account(t, { prefix: 'g', slug, password: opts.password, role: opts.role });
  const sub = unique('sub');
  idp.account({ sub, email, email_verified: opts.verified ?? true, ...(opts.hd ? { hd: opts.hd } : {}) });
  return { email, id, sub };
}

export function setCookies(res: Res): Map<string, { value: string; attrs: string }> {
  const out = new Map<string, { value: string; attrs: string }>();
  for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const [pair, ...attrs] = c.split(';');
    const eq = pair!.indexOf('=');
    out.set(pair!.slice(0, eq).trim(), { value: pair!.slice(eq + 1), attrs: attrs.join(';').trim() });
  }
  return out;
}

/** The session cookie a response set (not a clearing one), as a Cookie header, or undefined. */
export function sessionCookie(res: Res): string | undefined {
  const c = setCookies(res).get('keyturn_session');
  return c && c.value ? `keyturn_session=${c.value}` : undefined;
}

export async function begin(t: TestApp, slug: string, query = '') {
  const res = await t.api('GET', `/t/${slug}/sso/start${query}`);
  return { res, location: String(res.headers.location ?? ''), state: setCookies(res).get('keyturn_sso')?.value };
}

export async function finish(t: TestApp, callbackUrl: string, state: string | undefined): Promise<Res> {
  const u = new URL(callbackUrl);
  return t.api('GET', `${u.pathname}${u.search}`, undefined, state ? { cookie: `keyturn_sso=${state}` } : {});
}

/** Started at Keyturn as `sub`, through the IdP and back to the callback URL — not followed yet. */
export async function atCallback(t: TestApp, idp: Idp, slug: string, sub: string | undefined) {
  idp.nextLogin = sub;
  const b = await begin(t, slug);
  const callback = await idp.authorize(b.location, PUBLIC);
  return { ...b, callback };
}

/** The whole round trip for the IdP account `sub`; returns the callback's answer and the session cookie. */
export async function ssoSignIn(t: TestApp, idp: Idp, slug: string, sub: string | undefined, query = '') {
  idp.nextLogin = sub;
  const b = await begin(t, slug, query);
  expect(b.res.status).toBe(303);
  expect(b.location.startsWith(idp.issuer)).toBe(true);
  const callback = await idp.authorize(b.location, PUBLIC);
  const res = await finish(t, callback, b.state);
  return { res, session: sessionCookie(res), callback, state: b.state! };
}

/** Refused: back to the tenant's login page with the reason, and no session. */
export function expectRefused(res: Res, slug: string, reason: string): void {
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe(`${PUBLIC}/t/${slug}/login?sso_error=${reason}`);
  expect(sessionCookie(res)).toBeUndefined();
}

export async function who(t: TestApp, cookie: string | undefined): Promise<Res> {
  return t.api('GET', '/api/v1/session', undefined, cookie ? { cookie } : {});
}

/** The `sso` object of the newest "sso sign-in refused/failed" log line. */
export function lastSsoLog(t: TestApp): { reason: string; detail: string; error?: Record<string, unknown> } {
  const line = [...t.logs].reverse().find((l) => l.includes('"msg":"sso sign-in'));
  if (!line) throw new Error('no sso log line');
  return JSON.parse(line).sso;
}
