// Server-side sessions behind one interface (README.md beside this file): a random token the
// client holds, only its keyed hash stored. Everything that reads a session or changes the
// sessions of an account goes through `Sessions`; `openSessions` picks the implementation: the
// row read on every request (here), or a cache that every change empties at once on every
// instance (cache.ts). Callers cannot tell them apart.
import { and, eq, gt, inArray, isNull, ne, sql, type SQL } from 'drizzle-orm';
import { isUuid } from '../../platform/http.ts';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../../platform/clock.ts';
import { randomToken, type Secrets } from '../../platform/crypto.ts';
import { oncePerDatabase, requireTransaction, rowsOf, type Database, type Db } from '../../platform/db.ts';
import { oidcClients, sessions, tenants, users } from '../../platform/schema.ts';
import { auditInsert } from '../audit/audit.ts';
import { deviceLabel } from './device.ts';
import { LastSeen } from './last-seen.ts';

export type AuthMethod = 'password' | 'google';

/** Why sessions were ended, as /metrics counts them. */
export type RevokeReason =
  | 'sign_out' | 'password_reset' | 'password_change' | 'sign_out_everywhere'
  | 'account_disabled' | 'account_locked' | 'identity_unlinked' | 'mfa_reset'
  /** One session ended from the device list (CONTRACT §8). */
  | 'session_ended'
  /** The account was erased (CONTRACT §11). */
  | 'account_erased'
  /** App sessions (CONTRACT §9): the operator removed the app; oidc-provider revoked the grant. */
  | 'app_removed' | 'app_grant_revoked';

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

/** A live session as the device list shows it (CONTRACT §8). The token's hash is never part of it. */
export interface DeviceSession {
  /** The public id (`sessions.id`). */
  id: string;
  /** The session of the request that asked. */
  current: boolean;
  createdAt: Date;
  /** When it was last used: now for the current one, otherwise to within a few minutes. */
  lastSeenAt: Date;
  ip: string | null;
  /** "Chrome on Windows" (device.ts). */
  device: string;
  /** How the person proved it was them (amr). */
  authMethods: string[];
  /** The app the session belongs to (OIDC clients, CONTRACT §9); absent for a browser session. */
  app?: { clientId: string; name: string };
}

/** What a revocation ended: one row per session (app sessions name their app and grant). */
export interface RevokedSession {
  idHash: string; id: string; userId: string; tenantId: string;
  clientId: string | null; grantId: string | null; oidcSid: string | null;
}

/** An app signed in under a browser session (CONTRACT §9): it lives and ends with it. */
export interface NewAppSession { parentIdHash: string; clientId: string; grantId: string; ip?: string; userAgent?: string; }

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
  /** An app session under a live browser session (its account, tenant, amr and expiry). */
  startApp(tx: Db, input: NewAppSession): Promise<void>;
  /** Ends the app sessions of an app, or of one grant. */
  endApps(tx: Db, which: { clientId: string } | { grantId: string }, reason: RevokeReason): Promise<number>;
  /** Ends one live session of this account by its public id; false when it is not one. */
  endById(tx: Db, userId: string, id: string, reason: RevokeReason): Promise<boolean>;
  /** The account's live sessions, most recently used first; `currentIdHash` marks the caller's. */
  list(userId: string, currentIdHash?: string): Promise<DeviceSession[]>;
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
  /** Told, inside the transaction, of every session that ended (the provider revokes app tokens). */
  ended?: (tx: Db, sessions: RevokedSession[]) => Promise<void>;
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
  private readonly lastSeen: LastSeen;
  constructor(private readonly deps: SessionDeps, log?: FastifyBaseLogger) {
    let warned = false;
    this.lastSeen = new LastSeen(() => deps.database.db, () => deps.clock.now(), (err) => {
      if (!warned) log?.warn({ err }, 'writing when sessions were last used failed (the device list shows older times)');
      warned = true;
    });
  }

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
    if (!data) return null;
    this.seen(idHash!, data);
    return { idHash: idHash!, via, ...data };
  }

  /** A session was used just now: its last-used time is written later, at most every few minutes (last-seen.ts). */
  seen(idHash: string, data: Pick<SessionData, 'createdAt'>): void {
    this.lastSeen.seen(idHash, data.createdAt);
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
    const rows = await this.revokeWhere(tx, reason, and(
      inArray(sessions.userId, userIds),
      opts.keepIdHash ? ne(sessions.idHash, opts.keepIdHash) : undefined,
      opts.authMethod ? eq(sessions.authMethod, opts.authMethod) : undefined,
    ));
    return rows.length;
  }

  async end(tx: Db, s: Pick<SessionInfo, 'idHash' | 'user'>): Promise<void> {
    await this.revokeWhere(tx, 'sign_out', eq(sessions.idHash, s.idHash));
  }

  async endById(tx: Db, userId: string, id: string, reason: RevokeReason): Promise<boolean> {
    requireTransaction(tx);
    if (!isUuid(id)) return false; // not an id at all: the uuid column would refuse it
    const rows = await this.revokeWhere(tx, reason, and(
      eq(sessions.id, id), eq(sessions.userId, userId), gt(sessions.expiresAt, this.deps.clock.now()),
    ));
    return rows.length > 0;
  }

  /**
   * Every revocation goes through here (revoke, end, endById): one UPDATE of the live rows that
   * match, answering which sessions it ended. What else must happen when a session ends (its app
   * tokens, CONTRACT §9) hooks in here, once, for every path.
   */
  private async revokeWhere(tx: Db, reason: RevokeReason, where: SQL | undefined): Promise<RevokedSession[]> {
    requireTransaction(tx);
    const revoke = (condition: SQL | undefined) => tx.update(sessions).set({ revokedAt: this.deps.clock.now() })
      .where(and(isNull(sessions.revokedAt), condition))
      .returning({
        idHash: sessions.idHash, id: sessions.id, userId: sessions.userId, tenantId: sessions.tenantId,
        clientId: sessions.clientId, grantId: sessions.grantId, oidcSid: sessions.oidcSid,
      });
    const rows = await revoke(where);
    // The apps signed in under a session end with it.
    const parents = rows.filter((r) => r.clientId === null).map((r) => r.idHash);
    if (parents.length > 0) rows.push(...await revoke(inArray(sessions.parentIdHash, parents)));
    this.count(reason, rows.length);
    if (rows.length > 0) await this.deps.ended?.(tx, rows);
    return rows;
  }

  async startApp(tx: Db, input: NewAppSession): Promise<void> {
    requireTransaction(tx);
    const now = this.deps.clock.now();
    // Never presented: an app holds OpenID tokens, not this; a random value keeps the key unique.
    const idHash = this.hash(randomToken());
    const made = await tx.execute(sql`
      insert into sessions (id_hash, user_id, tenant_id, auth_method, amr, created_at, expires_at, ip, user_agent, client_id, parent_id_hash, grant_id)
      select ${idHash}, p.user_id, p.tenant_id, p.auth_method, p.amr, ${now.toISOString()}::timestamptz, p.expires_at,
        ${input.ip ?? null}, ${input.userAgent?.slice(0, 300) ?? null}, ${input.clientId}, p.id_hash, ${input.grantId}
      from sessions p where p.id_hash = ${input.parentIdHash} and p.revoked_at is null and p.expires_at > ${now.toISOString()}::timestamptz
      returning user_id`);
    if (rowsOf(made).length === 0) throw new Error('the browser session ended before the app was signed in');
  }

  async endApps(tx: Db, which: { clientId: string } | { grantId: string }, reason: RevokeReason): Promise<number> {
    const where = 'clientId' in which ? eq(sessions.clientId, which.clientId) : eq(sessions.grantId, which.grantId);
    return (await this.revokeWhere(tx, reason, where)).length;
  }

  async list(userId: string, currentIdHash?: string): Promise<DeviceSession[]> {
    const now = this.deps.clock.now();
    if (!isUuid(userId)) return [];
    const rows = await this.deps.database.db
      .select({
        id: sessions.id, idHash: sessions.idHash, createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt,
        ip: sessions.ip, userAgent: sessions.userAgent, amr: sessions.amr,
        clientId: sessions.clientId, appName: oidcClients.name,
      })
      .from(sessions)
      .leftJoin(oidcClients, eq(oidcClients.clientId, sessions.clientId))
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)));
    const latest = (...times: (Date | null | undefined)[]) => new Date(Math.max(...times.map((t) => t?.getTime() ?? 0)));
    return rows
      .map((r): DeviceSession => {
        const current = r.idHash === currentIdHash;
        return {
          id: r.id,
          current,
          createdAt: r.createdAt,
          // The row is written every few minutes at most; this instance may know a later use.
          lastSeenAt: current ? now : latest(r.createdAt, r.lastSeenAt, this.lastSeen.notedAt(r.idHash)),
          ip: r.ip,
          // An app session is the app: the browser that signed it in is its parent's device.
          device: r.clientId ? (r.appName ?? 'App') : deviceLabel(r.userAgent),
          authMethods: r.amr,
          ...(r.clientId ? { app: { clientId: r.clientId, name: r.appName ?? r.clientId } } : {}),
        };
      })
      .sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime() || b.createdAt.getTime() - a.createdAt.getTime());
  }

  accountsChanged(tx: Db): void { requireTransaction(tx); }
  tenantChanged(tx: Db): void { requireTransaction(tx); }

  /** Counted as the statement runs: a transaction that later rolls back over-counts, which a counter of revocations can live with. */
  private count(reason: RevokeReason, n: number): void {
    if (n > 0) this.revoked.set(reason, (this.revoked.get(reason) ?? 0) + n);
  }

  stats(): SessionStats { return { revoked: Object.fromEntries(this.revoked) }; }
  async close(): Promise<void> { await this.lastSeen.flush(); }
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
