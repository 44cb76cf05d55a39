// What a test sends with its requests and reads off the answers: the Origin a browser on
// PUBLIC_URL sends, a signed-in browser's headers, form posts, cookies, the contract's error shape.
import { expect } from 'vitest';
import type { Res, Session, TestApp } from './app.ts';

/** PUBLIC_URL of the test app. */
export const PUBLIC_URL = 'https://keyturn.test';
/** The Origin header of a page on PUBLIC_URL (state-changing requests need it). */
export const ORIGIN = { origin: PUBLIC_URL };

/** The headers of a browser signed in as `s`: its cookie, the CSRF token and the Origin. */
export const asSession = (s: Session) => ({ cookie: s.cookie, 'x-csrf-token': s.csrf, ...ORIGIN });

/** A form body (application/x-www-form-urlencoded); a list repeats its field. */
export function form(fields: Record<string, string | string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of ([] as string[]).concat(v)) p.append(k, x);
  return p.toString();
}

/** Posts a form from a page on PUBLIC_URL, as a browser does; `headers` add to or replace its headers. */
export const postForm = (t: TestApp, url: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) =>
  t.api('POST', url, form(fields), { 'content-type': 'application/x-www-form-urlencoded', ...ORIGIN, ...headers });

/** The cookies an answer sets, each as `name=value` (attributes dropped). */
export const cookiesOf = (res: Res) => ([] as string[]).concat(res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);

/** The cookies an answer sets, as the Cookie header of the next request. */
export const cookieHeader = (res: Res) => cookiesOf(res).join('; ');

/** An error in the contract's shape: this status, this code, and a message. */
export function expectError(res: Res, status: number, code: string): void {
  expect(res.status, res.raw).toBe(status);
  expect(res.body).toMatchObject({ error: code, message: expect.any(String) });
}
