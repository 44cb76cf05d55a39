// A tenant's OpenID Connect connection: where it lives (tenants.settings.google), when it is on,
// which issuers are acceptable, and the discovered IdP configuration (cached briefly per process).
import * as oidc from 'openid-client';
import { z } from 'zod';
import { invalidRequest } from '../../errors.ts';
import type { Tenant } from '../tenants/store.ts';

/** Google is the preset; any standard OpenID Connect issuer works the same way. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

export interface OidcConnection {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Google Workspace domain (`hd` claim) every account must belong to; unset = any. */
  hostedDomain?: string;
}

/** An http issuer is accepted on loopback only (127.0.0.0/8, ::1, localhost): that is how tests run an IdP. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/** Why this issuer URL cannot be used, or null when it can. */
export function issuerProblem(issuer: string): string | null {
  let url: URL;
  try { url = new URL(issuer); } catch { return 'must be a URL like https://accounts.google.com'; }
  if (url.username || url.password || url.search || url.hash) return 'must not carry credentials, a query or a fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  return 'must use https (http only on loopback: 127.0.0.0/8, ::1, localhost)';
}

/** The operator API's shape of a connection. The issuer defaults to Google. */
export const ConnectionInput = z.object({
  issuer: z.string().max(500).default(GOOGLE_ISSUER).superRefine((v, c) => {
    const problem = issuerProblem(v);
    if (problem) c.addIssue({ code: 'custom', message: problem });
  }),
  clientId: z.string().min(1).max(500),
  clientSecret: z.string().min(1).max(500),
  hostedDomain: z.string().min(1).max(253).regex(/^[a-z0-9.-]+$/i, 'must be a domain like example.com').optional(),
});

const Stored = z.object({
  issuer: z.string(), clientId: z.string(), clientSecret: z.string(), hostedDomain: z.string().optional(),
});

/** The connection as stored, configured or not (the operator view and PATCH use this). */
export function storedConnection(tenant: Tenant): OidcConnection | null {
  const parsed = Stored.safeParse(tenant.settings.google);
  return parsed.success ? parsed.data : null;
}

/** The connection when SSO is on for this tenant: configured and 'google' among its login methods. */
export function ssoConnection(tenant: Tenant): OidcConnection | null {
  return tenant.loginMethods.includes('google') ? storedConnection(tenant) : null;
}

/** For the login page: show "Sign in with Google" and link to the start URL. */
export const ssoStartPath = (tenant: Pick<Tenant, 'slug'>) => `/t/${tenant.slug}/sso/start`;

/** The operator's view of a connection: never the secret. */
export function connectionView(c: OidcConnection | null) {
  return c ? { issuer: c.issuer, clientId: c.clientId, hostedDomain: c.hostedDomain ?? null, clientSecretSet: true } : null;
}

const DISCOVERY_TTL_MS = 5 * 60_000;
const TIMEOUT_SECONDS = 5;

/**
 * Discovered IdP configurations per (issuer, client). Every start discovers afresh — that is also
 * the check that the IdP answers at all, so an outage ends on our login page instead of a browser
 * error at the IdP — and the callback reuses it for a few minutes. Failures are never cached.
 */
export class OidcConfigs {
  private readonly cache = new Map<string, { config: oidc.Configuration; at: number }>();

  private key(c: OidcConnection): string {
    return JSON.stringify([c.issuer, c.clientId, c.clientSecret]);
  }

  async get(c: OidcConnection, opts: { fresh?: boolean } = {}): Promise<oidc.Configuration> {
    const problem = issuerProblem(c.issuer);
    if (problem) throw new Error(`issuer ${problem}`);
    const key = this.key(c);
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && !opts.fresh && now - hit.at < DISCOVERY_TTL_MS) return hit.config;
    const insecure = new URL(c.issuer).protocol === 'http:'; // loopback only, checked above
    const config = await oidc.discovery(new URL(c.issuer), c.clientId, c.clientSecret, undefined, {
      execute: insecure ? [oidc.allowInsecureRequests] : [],
      timeout: TIMEOUT_SECONDS,
    });
    this.cache.set(key, { config, at: now });
    return config;
  }

  forget(c: OidcConnection): void {
    this.cache.delete(this.key(c));
  }
}

/** PATCH shape: any field may be left out and keeps its stored value; `null` removes the connection. */
export const ConnectionPatch = z.object({
  issuer: z.string().max(500).optional(),
  clientId: z.string().min(1).max(500).optional(),
  clientSecret: z.string().min(1).max(500).optional(),
  hostedDomain: z.string().max(253).nullable().optional(),
});

/** The stored connection with a patch applied, checked like a new one; throws a 400 naming the field. */
export function mergeConnection(
  stored: OidcConnection | null, patch: z.infer<typeof ConnectionPatch> | null,
): OidcConnection | null {
  if (patch === null) return null;
  const { hostedDomain, ...rest } = { ...stored, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
  const parsed = ConnectionInput.safeParse({ ...rest, ...(hostedDomain ? { hostedDomain } : {}) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = `google.${issue.path.join('.')}`;
    throw invalidRequest(`${field}: ${issue.message}`, { field });
  }
  return parsed.data;
}

/** 'google' among the login methods needs a connection; the methods cannot be empty. */
export function checkLoginMethods(loginMethods: string[], connection: OidcConnection | null | undefined): void {
  if (loginMethods.includes('google') && !connection) {
    throw invalidRequest('loginMethods: "google" needs a google connection {issuer, clientId, clientSecret}.', { field: 'loginMethods' });
  }
}

/** Password sign-in is off and SSO is on: reset links make no sense there. */
export const ssoEnforced = (tenant: Tenant) => !tenant.loginMethods.includes('password') && ssoConnection(tenant) !== null;

/** Signs in only through SSO: no password of its own, in a tenant with SSO on. */
export const ssoOnly = (a: { user: { passwordHash: string | null }; tenant: Tenant }) =>
  a.user.passwordHash === null && ssoConnection(a.tenant) !== null;

/** Where a tenant's people sign in (the "Sign in with Google" button is there). */
export const tenantLoginUrl = (publicUrl: string, tenant: Pick<Tenant, 'slug'>) => `${publicUrl}/t/${tenant.slug}/login`;
