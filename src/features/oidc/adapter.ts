// oidc-provider's storage over Keyturn's database (PGlite or PostgreSQL): one table, `oidc_payloads`,
// for every model it persists (grants, codes, refresh tokens, interactions, its session records),
// and the registered apps from `oidc_clients`. Every lookup reads the database, so a revocation
// on one instance is seen by the next request on every other.
import { sql } from 'drizzle-orm';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Clock } from '../../platform/clock.ts';
import type { Secrets } from '../../platform/crypto.ts';
import { rowsOf, type Db } from '../../platform/db.ts';
import { clientMetadata } from './clients.ts';

export interface AdapterDeps {
  db: Db; secrets: Secrets; clock: Clock;
  /** A grant oidc-provider revoked (refresh-token reuse, end_session): its app session ends. */
  grantRevoked?: (grantId: string) => Promise<void>;
}

/**
 * JWT access tokens are not stored by oidc-provider, so userinfo could not find them. We keep each
 * one's payload under its `jti` (formats.customizers.jwt calls this) and answer a lookup by the
 * token's value with it: a revoked grant then makes its access tokens useless at userinfo on the
 * next request, like its refresh tokens. (Introspection refuses JWTs by design: an API verifies
 * them offline, and they live OIDC_ACCESS_TOKEN_TTL; refresh tokens are introspected.)
 */
export async function rememberJwtAccessToken(deps: AdapterDeps, jti: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
  await new DbAdapter('AccessToken', deps).upsert(jti, payload, expiresIn);
}

/** The jti of a compact JWT, read without trusting it: it only names a row we wrote ourselves. */
function jtiOfJwt(value: string): string | undefined {
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { jti?: unknown };
    return typeof claims.jti === 'string' && claims.jti.length <= 64 ? claims.jti : undefined;
  } catch {
    return undefined;
  }
}

export class DbAdapter implements Adapter {
  constructor(private readonly kind: string, private readonly deps: AdapterDeps) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    // oidc-provider keeps time by the system clock, so its rows expire by it too.
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    await this.deps.db.execute(sql`
      insert into oidc_payloads (kind, id, payload, grant_id, uid, expires_at)
      values (${this.kind}, ${id}, ${JSON.stringify(payload)}::jsonb, ${payload.grantId ?? null}, ${payload.uid ?? null}, ${expiresAt})
      on conflict (kind, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
        uid = excluded.uid, expires_at = excluded.expires_at`);
    // The ID token's `sid` for this app session: a back-channel logout token must carry the same.
    if (this.kind === 'AuthorizationCode' && payload.grantId && payload.sid) {
      await this.deps.db.execute(sql`update sessions set oidc_sid = ${payload.sid} where grant_id = ${payload.grantId} and oidc_sid is null`);
    }
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.kind === 'Client') return clientMetadata(this.deps, id);
    const key = this.kind === 'AccessToken' && id.includes('.') ? jtiOfJwt(id) : id;
    if (!key) return undefined;
    // Whatever belongs to a grant lives only while its app session does (the session's expiry
    // included, which rotating refresh tokens would otherwise outlive).
    const live = sql`(grant_id is null or exists (select 1 from sessions s where s.grant_id = oidc_payloads.grant_id
      and s.revoked_at is null and s.expires_at > ${this.deps.clock.now()}))`;
    return this.one(sql`kind = ${this.kind} and id = ${key} and ${live}`);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.one(sql`kind = ${this.kind} and uid = ${uid}`);
  }

  async findByUserCode(): Promise<AdapterPayload | undefined> {
    return undefined; // the device flow is not enabled
  }

  async consume(id: string): Promise<void> {
    await this.deps.db.execute(sql`
      update oidc_payloads set consumed_at = now(),
        payload = jsonb_set(payload, '{consumed}', to_jsonb(extract(epoch from now())::bigint))
      where kind = ${this.kind} and id = ${id}`);
  }

  async destroy(id: string): Promise<void> {
    await this.deps.db.execute(sql`delete from oidc_payloads where kind = ${this.kind} and id = ${id}`);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await revokeGrants(this.deps.db, [grantId]);
    await this.deps.grantRevoked?.(grantId);
  }

  private async one(where: ReturnType<typeof sql>): Promise<AdapterPayload | undefined> {
    const [row] = rowsOf<{ payload: AdapterPayload }>(await this.deps.db.execute(sql`
      select payload from oidc_payloads where ${where} and (expires_at is null or expires_at > now())`));
    return row?.payload;
  }
}

/**
 * Revokes grants: everything issued under them goes (codes, access and refresh tokens, the grant)
 * and their app sessions end. oidc-provider calls this on refresh-token reuse and at end_session;
 * Keyturn calls it when a session ends (sessions-hook.ts), inside that transaction.
 */
export async function revokeGrants(tx: Db, grantIds: string[]): Promise<void> {
  if (grantIds.length === 0) return;
  const ids = sql.join(grantIds.map((g) => sql`${g}`), sql`, `);
  await tx.execute(sql`delete from oidc_payloads where grant_id in (${ids}) or (kind = 'Grant' and id in (${ids}))`);
}

/** Expired rows, at most `batch` per call; how many went. */
export async function sweepExpired(db: Db, batch = 1000): Promise<number> {
  const rows = rowsOf<{ n: number }>(await db.execute(sql`
    with gone as (
      delete from oidc_payloads where ctid in (
        select ctid from oidc_payloads where expires_at < now() - interval '1 minute' limit ${batch})
      returning 1)
    select count(*)::int as n from gone`));
  return rows[0]?.n ?? 0;
}
