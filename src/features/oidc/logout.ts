// When app sessions end — whatever ended them: a reset, a password change, sign-out everywhere, the
// device list, disable, lock, an MFA reset, end_session — their grants are revoked in the same
// transaction (refresh tokens, access tokens at introspection and userinfo: dead on the next
// request, on every instance) and every app with a back-channel logout URI is sent an OIDC
// Back-Channel Logout token through the outbox, signed when it leaves.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { importJWK, SignJWT, type JWK } from 'jose';
import type { Ctx } from '../../context.ts';
import { rowsOf, type Db } from '../../platform/db.ts';
import { enqueueHttp } from '../../platform/outbox/outbox.ts';
import type { RevokedSession as EndedSession } from '../sessions/sessions.ts';
import { revokeGrants } from './adapter.ts';
import { loadSigningKeys } from './keys.ts';

export const BACKCHANNEL_LOGOUT = 'backchannel_logout';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface LogoutPayload { clientId: string; sub: string; sid: string | null; }

/** Revokes the grants of the app sessions that ended and queues their back-channel logouts. */
export async function appSessionsEnded(ctx: Pick<Ctx, 'secrets' | 'clock'>, tx: Db, ended: EndedSession[]): Promise<void> {
  const apps = ended.filter((s) => s.grantId && s.clientId);
  if (apps.length === 0) return;
  await revokeGrants(tx, apps.map((s) => s.grantId!));
  const clientIds = [...new Set(apps.map((s) => s.clientId!))];
  const uris = new Map(rowsOf<{ client_id: string; backchannel_logout_uri: string }>(await tx.execute(sql`
    select client_id, backchannel_logout_uri from oidc_clients
    where backchannel_logout_uri is not null and client_id in (${sql.join(clientIds.map((c) => sql`${c}`), sql`, `)})`))
    .map((r) => [r.client_id, r.backchannel_logout_uri]));
  for (const s of apps) {
    const url = uris.get(s.clientId!);
    if (!url) continue;
    const payload: LogoutPayload = { clientId: s.clientId!, sub: s.userId, sid: s.oidcSid };
    await enqueueHttp(tx, ctx.secrets, ctx.clock, { kind: BACKCHANNEL_LOGOUT, url, tenantId: s.tenantId, userId: s.userId, payload });
  }
}

/** Builds the logout token when the delivery leaves (its `iat` is then, not when it was queued). */
export function backchannelPreparer(ctx: Ctx) {
  let cached: { version: string; key: CryptoKey | Uint8Array; kid: string; alg: string } | undefined;
  return async (raw: unknown) => {
    const payload = raw as LogoutPayload;
    const { keys, version } = await loadSigningKeys(ctx);
    if (cached?.version !== version) {
      const jwk = keys[0] as JWK & { kid: string; alg: string };
      cached = { version, key: await importJWK(jwk, jwk.alg), kid: jwk.kid, alg: jwk.alg };
    }
    const token = await new SignJWT({ events: { [EVENT]: {} }, ...(payload.sid ? { sid: payload.sid } : {}) })
      .setProtectedHeader({ alg: cached.alg, kid: cached.kid, typ: 'logout+jwt' })
      .setIssuer(ctx.config.publicUrl)
      .setAudience(payload.clientId)
      .setSubject(payload.sub)
      .setIssuedAt()
      .setExpirationTime('2m')
      .setJti(randomUUID())
      .sign(cached.key);
    return { body: new URLSearchParams({ logout_token: token }).toString(), contentType: 'application/x-www-form-urlencoded' };
  };
}
