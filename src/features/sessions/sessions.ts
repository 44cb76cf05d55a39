// Server-side sessions behind one interface (README.md beside this file): a random token the
// client holds, only its keyed hash stored. Everything that reads a session or changes the
// sessions of an account goes through `Sessions`; `openSessions` picks the implementation: the
// row read on every request (here), or a cache that every change empties at once on every
// instance (cache.ts). Callers cannot tell them apart.
import { and, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import type { Clock } from '../../platform/clock.ts';
import { randomToken, type Secrets } from '../../platform/crypto.ts';
import { oncePerDatabase, requireTransaction, type Database, type Db } from '../../platform/db.ts';
import { sessions, tenants, users } from '../../platform/schema.ts';
import { auditInsert } from '../audit/audit.ts';

export type AuthMethod = 'password' | 'google';

/** Why sessions were ended, as /metrics counts them. */
export type RevokeReason =
  | 'sign_out' | 'password_reset' | 'password_change' | 'sign_out_everywhere'
  | 'account_disabled' | 'account_locked' | 'identity_unlinked' | 'mfa_reset';

/** What a session shows: the account and tenant as they are now. */
export interface SessionData {
  user: { id: string; email: string; name: string; role: string };
  tenant: { id: string; slug: string; name: string };
  authMethod: string;
  /** How the person proved it was them (RFC 8176 values: pwd, otp, hwk, google, mfa). */
  amr: string[];
  createdAt: Date;
  expiresAt: Date;
}

export interface SessionInfo extends SessionData {
  idHash: string;
  via: 'cookie' | 'bearer';
}

export const SESSION_COOKIE = 'keyturn_session';

export interface NewSession {
  userId: string; tenantId: string; authMethod: AuthMethod; amr: string[]; ip?: string; userAgent?: string;
  /** The `signed_in` audit line's data. */
  auditData: Record<string, unknown>;
}

/**
 * The only door to sessions. Every method that changes sessions takes the transaction of the
 * change: the change and what it does to sessions commit together, and an implementation that
 * keeps sessions in memory learns of it there (a writer cannot forget to announce it).
 */
export interface Sessions {
  /** The live session for a token, or null: unknown, expired, revoked, or its account disabled or locked. */
  read(token: string, via: SessionInfo['via']): Promise<SessionInfo | null>;
  /** A new session, the account's last sign-in time and the `signed_in` audit line, as one statement. */
  create(db: Db, input: NewSession): Promise<{ token: string; expiresAt: Date }>;
  /** Ends the live sessions of these accounts (all auth methods unless one is named), optionally but one. */
  revoke(tx: Db, userIds: string[], reason: RevokeReason, opts?: { keepIdHash?: string; authMethod?: AuthMethod }): Promise<number>;
  /** Ends one session (sign-out). */
  end(tx: Db, s: Pick<SessionInfo, 'idHash' | 'user'>): Promise<void>;
  /** What a session shows or refuses on changed for these accounts: name, email, role, status. */
  accountsChanged(tx: Db, userIds: string[]): void;
  /** A tenant's name changed: sessions show it. */
  tenantChanged(tx: Db): void;
  /** Figures for /metrics, since this app started. */
  stats(): SessionStats;
  close(): Promise<void>;
}

export interface SessionStats {
  revoked: Partial<Record<RevokeReason, number>>;
  /** Checks answered from memory or by reading the row; absent without a cache. */
  lookups?: { hit: number; miss: number };
}

export interface SessionDeps {
  database: Database;
  secrets: Secrets;
  clock: Clock;
  ttlMs: number;
}

/**
 * The session lookup, built once per database handle: composing it anew on every request cost
 * about a fifth of a session check's CPU. Prepared with placeholders (and as a named server-side
 * statement on PostgreSQL).
 */
const sessionQuery = oncePerDatabase((db: Db) => db
  .select({
    s: { authMethod: sessions.authMethod, amr: sessions.amr, createdAt: sessions.createdAt, expiresAt: sessions.expiresAt },
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
  .prepare('keyturn_load_session'));

/** Sessions as rows: every request reads its row, so every change counts from the next request. */
export class StoredSessions implements Sessions {
  private readonly revoked = new Map<RevokeReason, number>();
  constructor(private readonly deps: SessionDeps) {}

  hash(token: string): string { return this.deps.secrets.hash('session', token); }

  /** A token of a plausible length, as its stored hash; null for anything else. */
  idHashOf(token: string): string | null {
    return token.length < 20 || token.length > 100 ? null : this.hash(token);
  }

  async readRow(idHash: string): Promise<SessionData | null> {
    const [row] = await sessionQuery(this.deps.database.db).execute({ idHash, now: this.deps.clock.now() });
    return row ? { user: row.u, tenant: row.t, authMethod: row.s.authMethod, amr: row.s.amr, createdAt: row.s.createdAt, expiresAt: row.s.expiresAt } : null;
  }

  async read(token: string, via: SessionInfo['via']): Promise<SessionInfo | null> {
    const idHash = this.idHashOf(token);
    const data = idHash ? await this.readRow(idHash) : null;
    return data && { idHash: idHash!, via, ...data };
  }

  async create(db: Db, input: NewSession): Promise<{ token: string; expiresAt: Date }> {
    const token = randomToken();
    const now = this.deps.clock.now();
    const expiresAt = new Date(now.getTime() + this.deps.ttlMs);
    const line = auditInsert({ type: 'user', id: input.userId, ip: input.ip }, now, {
      type: 'signed_in', tenantId: input.tenantId, userId: input.userId, data: input.auditData,
    });
    const at = now.toISOString();
    // One statement of fixed text (data-modifying CTEs): atomic without a transaction of its own,
    // one round trip instead of five, and no query builder composing three statements per sign-in.
    await db.execute(sql`with s as (
        insert into sessions (id_hash, user_id, tenant_id, auth_method, amr, created_at, expires_at, ip, user_agent)
        values (${this.hash(token)}, ${input.userId}::uuid, ${input.tenantId}::uuid, ${input.authMethod}, ${JSON.stringify(input.amr)}::jsonb, ${at}::timestamptz,
          ${expiresAt.toISOString()}::timestamptz, ${input.ip ?? null}, ${input.userAgent?.slice(0, 300) ?? null})
      ), u as (update users set last_login_at = ${at}::timestamptz where id = ${input.userId}::uuid),
      a as (${line})
      select 1`);
    return { token, expiresAt };
  }

  async revoke(tx: Db, userIds: string[], reason: RevokeReason, opts: { keepIdHash?: string; authMethod?: AuthMethod } = {}): Promise<number> {
    requireTransaction(tx);
    if (userIds.length === 0) return 0;
    const rows = await tx
      .update(sessions)
      .set({ revokedAt: this.deps.clock.now() })
      .where(and(
        inArray(sessions.userId, userIds),
        isNull(sessions.revokedAt),
        opts.keepIdHash ? ne(sessions.idHash, opts.keepIdHash) : undefined,
        opts.authMethod ? eq(sessions.authMethod, opts.authMethod) : undefined,
      ))
      .returning({ id: sessions.idHash });
    this.count(reason, rows.length);
    return rows.length;
  }

  async end(tx: Db, s: Pick<SessionInfo, 'idHash' | 'user'>): Promise<void> {
    requireTransaction(tx);
    const rows = await tx.update(sessions).set({ revokedAt: this.deps.clock.now() })
      .where(and(eq(sessions.idHash, s.idHash), isNull(sessions.revokedAt)))
      .returning({ id: sessions.idHash });
    this.count('sign_out', rows.length);
  }

  accountsChanged(tx: Db): void { requireTransaction(tx); }
  tenantChanged(tx: Db): void { requireTransaction(tx); }

  /** Counted as the statement runs: a transaction that later rolls back over-counts, which a counter of revocations can live with. */
  private count(reason: RevokeReason, n: number): void {
    if (n > 0) this.revoked.set(reason, (this.revoked.get(reason) ?? 0) + n);
  }

  stats(): SessionStats { return { revoked: Object.fromEntries(this.revoked) }; }
  async close(): Promise<void> {}
}

export function sessionView(s: SessionInfo) {
  return {
    user: s.user,
    tenant: { slug: s.tenant.slug, name: s.tenant.name },
    authMethod: s.authMethod,
    amr: s.amr,
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
  };
}
