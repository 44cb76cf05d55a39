// Server-side sessions: a random token the client holds, only its keyed hash stored. A request
// reads the row, or (PostgreSQL server) a copy that every change drops at once on every instance
// (cache.ts), so a revocation takes effect on the very next request everywhere.
import { and, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { Ctx } from '../../platform/context.ts';
import { randomToken } from '../../platform/crypto.ts';
import { oncePerDatabase, type Db } from '../../platform/db.ts';
import { sessions, tenants, users } from '../../platform/schema.ts';
import { auditInsert } from '../audit/audit.ts';
import { sessionsChanging } from './cache.ts';
import { countRevoked, type RevokeReason } from './metrics.ts';

export type AuthMethod = 'password' | 'google';

export interface SessionInfo {
  idHash: string;
  via: 'cookie' | 'bearer';
  user: { id: string; email: string; name: string; role: string };
  tenant: { id: string; slug: string; name: string };
  authMethod: string;
  createdAt: Date;
  expiresAt: Date;
}

export const SESSION_COOKIE = 'keyturn_session';

export const sessionHash = (ctx: Pick<Ctx, 'secrets'>, token: string) => ctx.secrets.hash('session', token);

/**
 * A new session, the account's last sign-in time and the `signed_in` audit line, written as one
 * statement (data-modifying CTEs): atomic without a transaction of its own, and one round trip
 * instead of five (BEGIN, three statements, COMMIT).
 */
export async function createSession(
  ctx: Ctx, db: Db,
  input: { userId: string; tenantId: string; authMethod: AuthMethod; ip?: string; userAgent?: string; auditData: Record<string, unknown> },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomToken();
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + ctx.config.sessionTtlMs);
  const line = auditInsert({ type: 'user', id: input.userId, ip: input.ip }, now, {
    type: 'signed_in', tenantId: input.tenantId, userId: input.userId, data: input.auditData,
  });
  const at = now.toISOString();
  // Plain SQL of fixed text: otherwise the query builder composes three statements on every sign-in.
  await db.execute(sql`with s as (
      insert into sessions (id_hash, user_id, tenant_id, auth_method, created_at, expires_at, ip, user_agent)
      values (${sessionHash(ctx, token)}, ${input.userId}::uuid, ${input.tenantId}::uuid, ${input.authMethod}, ${at}::timestamptz,
        ${expiresAt.toISOString()}::timestamptz, ${input.ip ?? null}, ${input.userAgent?.slice(0, 300) ?? null})
    ), u as (update users set last_login_at = ${at}::timestamptz where id = ${input.userId}::uuid),
    a as (${line})
    select 1`);
  return { token, expiresAt };
}

/**
 * The session lookup, built once per database handle: composing it anew on every request cost
 * about a fifth of a session check's CPU. Prepared with placeholders (and as a named server-side
 * statement on PostgreSQL). What it reads may be kept in the session cache.
 */
function sessionQuery(db: Db) {
  return db
    .select({
      s: { authMethod: sessions.authMethod, createdAt: sessions.createdAt, expiresAt: sessions.expiresAt },
      u: { id: users.id, email: users.email, name: users.name, role: users.role },
      t: { id: tenants.id, slug: tenants.slug, name: tenants.name },
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(tenants, eq(tenants.id, sessions.tenantId))
    .where(and(
      eq(sessions.idHash, sql.placeholder('idHash')),
      isNull(sessions.revokedAt),
      gt(sessions.expiresAt, sql.placeholder('now')),
      isNull(users.disabledAt),
      isNull(users.lockedAt),
    ))
    .prepare('keyturn_load_session');
}
const preparedSessionQuery = oncePerDatabase(sessionQuery);

/** The live session for a token, or null: unknown, expired, revoked, or its account disabled or locked. */
export async function loadSession(ctx: Ctx, token: string, via: SessionInfo['via']): Promise<SessionInfo | null> {
  if (token.length < 20 || token.length > 100) return null;
  const idHash = sessionHash(ctx, token);
  const cache = ctx.sessionCache;
  const hit = cache?.get(idHash);
  // Still there once every change committed before this request was applied, and not expired:
  // the row says the same.
  if (hit && (await cache!.confirm(idHash, hit)) && hit.expiresAt.getTime() > ctx.clock.now().getTime()) {
    cache!.lookups.hit++;
    return { idHash, via, ...hit };
  }
  if (cache) cache.lookups.miss++;
  const ticket = cache?.ticket() ?? null;
  const [row] = await preparedSessionQuery(ctx.db).execute({ idHash, now: ctx.clock.now() });
  if (!row) return null;
  const session = { user: row.u, tenant: row.t, authMethod: row.s.authMethod, createdAt: row.s.createdAt, expiresAt: row.s.expiresAt };
  cache?.fill(ticket, idHash, session);
  return { idHash, via, ...session };
}

/**
 * Revokes every live session of these accounts (all auth methods unless one is named), optionally
 * keeping one. Counted for /metrics as the statement runs: a transaction that later rolls back
 * over-counts, which a counter of revocations can live with.
 */
export async function revokeSessions(
  tx: Db, at: Date, userIds: string[], reason: RevokeReason,
  opts: { keepIdHash?: string; authMethod?: AuthMethod } = {},
): Promise<number> {
  if (userIds.length === 0) return 0;
  sessionsChanging(tx, { userIds });
  const rows = await tx
    .update(sessions)
    .set({ revokedAt: at })
    .where(and(
      inArray(sessions.userId, userIds),
      isNull(sessions.revokedAt),
      opts.keepIdHash ? ne(sessions.idHash, opts.keepIdHash) : undefined,
      opts.authMethod ? eq(sessions.authMethod, opts.authMethod) : undefined,
    ))
    .returning({ id: sessions.idHash });
  countRevoked(reason, rows.length);
  return rows.length;
}

export async function revokeSession(tx: Db, at: Date, s: Pick<SessionInfo, 'idHash' | 'user'>): Promise<void> {
  sessionsChanging(tx, { userIds: [s.user.id] });
  const rows = await tx.update(sessions).set({ revokedAt: at })
    .where(and(eq(sessions.idHash, s.idHash), isNull(sessions.revokedAt)))
    .returning({ id: sessions.idHash });
  countRevoked('sign_out', rows.length);
}

export function sessionView(s: SessionInfo) {
  return {
    user: s.user,
    tenant: { slug: s.tenant.slug, name: s.tenant.name },
    authMethod: s.authMethod,
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
  };
}
