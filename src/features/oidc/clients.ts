// The platform's apps, registered by the operator (`POST /admin/v1/oidc/clients`,
// `keyturn oidc-client create`). A confidential app gets a secret, shown once and kept sealed; a
// public one (desktop, mobile, single-page) has none and must use PKCE.
import { sql } from 'drizzle-orm';
import type { AdapterPayload } from 'oidc-provider';
import { z } from 'zod';
import { invalidRequest } from '../../errors.ts';
import type { Clock } from '../../platform/clock.ts';
import { randomToken, type Secrets } from '../../platform/crypto.ts';
import { rowsOf, type Db } from '../../platform/db.ts';
import type { Config } from '../../config.ts';
import { AllowList, checkDestinationUrl } from '../../platform/outbox/ssrf.ts';
import { SLUG } from '../tenants/store.ts';
import { usesBasicAuth } from './request-context.ts';

const Uri = z.string().min(1).max(2000);

export const ClientInput = z.object({
  name: z.string().trim().min(1).max(200),
  type: z.enum(['confidential', 'public']),
  redirectUris: z.array(Uri).min(1).max(20),
  postLogoutRedirectUris: z.array(Uri).max(20).optional(),
  backchannelLogoutUri: Uri.optional(),
  tenants: z.array(z.string().regex(SLUG)).min(1).max(1000).optional(),
});
export type ClientInput = z.infer<typeof ClientInput>;

export interface ClientView {
  clientId: string; name: string; type: 'confidential' | 'public'; redirectUris: string[];
  postLogoutRedirectUris: string[]; backchannelLogoutUri: string | null; tenants: string[] | null; createdAt: string;
}

interface ClientRow {
  client_id: string; name: string; type: 'confidential' | 'public'; sealed_secret: string | null; redirect_uris: string[];
  post_logout_redirect_uris: string[]; backchannel_logout_uri: string | null; tenants: string[] | null; created_at: Date | string;
}

const view = (r: ClientRow): ClientView => ({
  clientId: r.client_id, name: r.name, type: r.type, redirectUris: r.redirect_uris,
  postLogoutRedirectUris: r.post_logout_redirect_uris, backchannelLogoutUri: r.backchannel_logout_uri,
  tenants: r.tenants, createdAt: new Date(r.created_at).toISOString(),
});

/**
 * A redirect URI an app may be sent back to: https anywhere; http only to a loopback address (a
 * desktop app's local listener, RFC 8252); or a private-use scheme (`com.example.app:/cb`) for a
 * mobile app. Never a fragment.
 */
function checkRedirectUri(uri: string, field: string): void {
  let url: URL;
  try { url = new URL(uri); } catch { throw invalidRequest(`${field}: ${uri} is not an absolute URL.`); }
  if (url.hash) throw invalidRequest(`${field}: ${uri} must not have a fragment.`);
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    throw invalidRequest(`${field}: ${uri} must use https (http only for localhost, 127.0.0.1 or [::1]).`);
  }
  if (/^(javascript|data|file|vbscript):$/i.test(url.protocol)) throw invalidRequest(`${field}: ${uri} has a scheme that is not allowed.`);
}

export async function createClient(deps: { db: Db; secrets: Secrets; clock: Clock; config: Pick<Config, 'webhooks'> }, input: ClientInput): Promise<ClientView & { clientSecret?: string }> {
  input.redirectUris.forEach((u) => checkRedirectUri(u, 'redirectUris'));
  input.postLogoutRedirectUris?.forEach((u) => checkRedirectUri(u, 'postLogoutRedirectUris'));
  if (input.backchannelLogoutUri) {
    // The same rules as every delivery (checked again on the resolved address when it leaves).
    const checked = checkDestinationUrl(input.backchannelLogoutUri, new AllowList(deps.config.webhooks.allowedHosts));
    if (!checked.ok) throw invalidRequest(`backchannelLogoutUri: ${checked.reason}`);
  }
  if (input.tenants) {
    const known = rowsOf<{ slug: string }>(await deps.db.execute(sql`select slug from tenants where slug in (${sql.join(input.tenants.map((t) => sql`${t}`), sql`, `)})`));
    const missing = input.tenants.filter((t) => !known.some((k) => k.slug === t));
    if (missing.length) throw invalidRequest(`tenants: no tenant ${missing.join(', ')}.`);
  }
  const clientId = `kt_${randomToken(12)}`;
  const clientSecret = input.type === 'confidential' ? randomToken(32) : undefined;
  const [row] = rowsOf<ClientRow>(await deps.db.execute(sql`
    insert into oidc_clients (client_id, name, type, sealed_secret, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, tenants, created_at)
    values (${clientId}, ${input.name}, ${input.type}, ${clientSecret ? deps.secrets.seal(clientSecret, 'oidc', clientId) : null},
      ${JSON.stringify(input.redirectUris)}::jsonb, ${JSON.stringify(input.postLogoutRedirectUris ?? [])}::jsonb,
      ${input.backchannelLogoutUri ?? null}, ${input.tenants ? JSON.stringify(input.tenants) : null}::jsonb, ${deps.clock.now()})
    returning *`));
  return { ...view(row!), ...(clientSecret ? { clientSecret } : {}) };
}

export async function listClients(db: Db): Promise<ClientView[]> {
  return rowsOf<ClientRow>(await db.execute(sql`select * from oidc_clients order by created_at, client_id`)).map(view);
}

export async function findClient(db: Db, clientId: string): Promise<ClientView | null> {
  const [row] = rowsOf<ClientRow>(await db.execute(sql`select * from oidc_clients where client_id = ${clientId}`));
  return row ? view(row) : null;
}

/**
 * Deletes an app: its grants and tokens go with it, and its app sessions end (the caller passes
 * the transaction in which Keyturn ends them; see routes.ts).
 */
export async function deleteClient(db: Db, tx: Db, clientId: string): Promise<boolean> {
  const rows = rowsOf<{ client_id: string }>(await tx.execute(sql`delete from oidc_clients where client_id = ${clientId} returning client_id`));
  cacheOf(db).delete(clientId);
  return rows.length > 0;
}

/**
 * Apps as read, for a few seconds: every token request, introspection and userinfo names its app,
 * and reading and unsealing it each time cost more than the rest of the lookup. A removed app's
 * grants and tokens are deleted with it, so a stale entry can never admit a token.
 */
const CLIENT_CACHE_MS = 5_000;
type CachedClient = { row: ClientRow | null; secret?: string; at: number };
const clientCaches = new WeakMap<Db, Map<string, CachedClient>>();
const cacheOf = (db: Db) => {
  let cache = clientCaches.get(db);
  if (!cache) clientCaches.set(db, cache = new Map());
  return cache;
};

async function cachedClient(deps: { db: Db; secrets: Secrets }, clientId: string) {
  const now = Date.now();
  const clientCache = cacheOf(deps.db);
  const hit = clientCache.get(clientId);
  if (hit && now - hit.at < CLIENT_CACHE_MS) return hit;
  const [row] = rowsOf<ClientRow>(await deps.db.execute(sql`select * from oidc_clients where client_id = ${clientId}`));
  const entry = { row: row ?? null, secret: row?.sealed_secret ? deps.secrets.open(row.sealed_secret, 'oidc', row.client_id) : undefined, at: now };
  if (clientCache.size > 1000) clientCache.clear();
  clientCache.set(clientId, entry);
  return entry;
}

/** The app as oidc-provider wants its metadata; undefined when there is none. */
export async function clientMetadata(deps: { db: Db; secrets: Secrets }, clientId: string): Promise<AdapterPayload | undefined> {
  if (clientId.length > 100) return undefined;
  const { row, secret } = await cachedClient(deps, clientId);
  if (!row) return undefined;
  const isPublic = row.type === 'public';
  return {
    client_id: row.client_id,
    client_name: row.name,
    ...(isPublic ? {} : { client_secret: secret }),
    // Either way of presenting the secret (RFC 6749 §2.3.1): oidc-provider takes one per client,
    // so the one this request uses is named; the secret is the same.
    token_endpoint_auth_method: isPublic ? 'none' : usesBasicAuth() ? 'client_secret_basic' : 'client_secret_post',
    // native: loopback redirects on any port and private-use schemes (RFC 8252)
    application_type: isPublic ? 'native' : 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: row.redirect_uris,
    post_logout_redirect_uris: row.post_logout_redirect_uris,
  } as AdapterPayload;
}
