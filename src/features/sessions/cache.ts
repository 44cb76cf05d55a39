// Sessions kept in memory between requests, for PostgreSQL servers. The database stays the truth:
//   - every write that ends or changes a session is announced by a trigger (migration 0005) over
//     LISTEN/NOTIFY, whoever makes it, and every instance drops what it touched;
//   - a hit is answered only after a round trip on the LISTEN connection that began after the
//     request came in: PostgreSQL sends every notification committed before it ahead of its
//     answer, so a change committed anywhere before this request is applied before the answer
//     (requests overlapping in time share those round trips);
//   - while the LISTEN connection is down, or has not been heard from for a few heartbeats (a
//     stalled connection delivers nothing either), the cache answers nothing;
//   - a fill whose read may predate a change is thrown away (the epoch moved on meanwhile);
//   - this instance's own writes also hold the users they touch from the first statement until
//     the transaction settles: the instance that made a change does not depend on the trigger.
import type { FastifyBaseLogger } from 'fastify';
import { afterTransaction, LISTEN_HEARTBEAT_MS, type Db, type Listener } from '../../platform/db.ts';
import {
  StoredSessions, type AuthMethod, type DeviceSession, type NewSession, type RevokeReason, type SessionData, type SessionDeps,
  type NewAppSession, type SessionInfo, type Sessions, type SessionStats,
} from './sessions.ts';

export type CachedSession = SessionData;

interface Entry { session: CachedSession; filledAt: number; }

export const SESSION_CHANGES_CHANNEL = 'keyturn_session_changes';
/** A lost notification (it cannot be, while connected) would live at most this long. */
const MAX_AGE_MS = 60_000;

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Users that a transaction of this instance is changing: neither hits nor fills for them. */
  private readonly held = new Map<string, number>();
  private epoch = 0;
  private live = false;
  /** Lookups answered from memory / from the database, for /metrics. */
  readonly lookups = { hit: 0, miss: 0 };

  /**
   * Sessions read once recently; a session is kept from its second read on. A burst of sessions
   * checked once each (a script signing in for one call, a scan) then never pushes out the ones in
   * daily use, and the turnover does not fill the heap with short-lived entries.
   */
  private readonly seen = new Set<string>();

  /** True once every change committed before the call has been applied here (CachedSessions sets it). */
  caughtUp: () => Promise<boolean> = async () => false;
  /** False when the listener has not been heard from lately (a stalled connection): no hits then. */
  fresh: () => boolean = () => true;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = () => performance.now(),
    private readonly admitOnFirstRead = false,
  ) {}

  get size(): number { return this.entries.size; }
  get isLive(): boolean { return this.live; }

  /** Notifications flow (true) or may be missed (false): either way, start empty. */
  setLive(live: boolean): void {
    this.live = live;
    this.clear();
  }

  /** The cached session, if it may be used now. The caller still checks its expiry. */
  get(idHash: string): CachedSession | undefined {
    if (!this.live || !this.fresh()) return undefined;
    const e = this.entries.get(idHash);
    if (!e) return undefined;
    if (this.held.has(e.session.user.id) || this.now() - e.filledAt > MAX_AGE_MS) {
      this.remove(idHash);
      return undefined;
    }
    return e.session;
  }

  /** Whether a hit from get() may be answered: still there once every earlier change has been applied. */
  async confirm(idHash: string, hit: CachedSession): Promise<boolean> {
    return (await this.caughtUp()) && this.get(idHash) === hit;
  }

  /** Taken before reading the row; the fill counts only if nothing changed in between. */
  ticket(): number | null {
    return this.live ? this.epoch : null;
  }

  fill(ticket: number | null, idHash: string, session: CachedSession): void {
    if (ticket === null || ticket !== this.epoch || !this.live || this.held.has(session.user.id)) return;
    if (!this.admitOnFirstRead && !this.seen.delete(idHash)) {
      if (this.seen.size >= this.maxEntries) this.seen.delete(this.seen.values().next().value!);
      this.seen.add(idHash);
      return;
    }
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.remove(oldest);
    }
    this.entries.set(idHash, { session, filledAt: this.now() });
    let mine = this.byUser.get(session.user.id);
    if (!mine) this.byUser.set(session.user.id, (mine = new Set()));
    mine.add(idHash);
  }

  /** A notification: `u:<user id>` drops that user's sessions, anything else (`t:<tenant id>`) all. */
  onChange(payload: string): void {
    if (payload.startsWith('u:')) this.dropUser(payload.slice(2));
    else this.clear();
  }

  hold(userIds: string[]): void {
    this.epoch++;
    for (const id of userIds) {
      this.held.set(id, (this.held.get(id) ?? 0) + 1);
      this.dropUser(id);
    }
  }

  release(userIds: string[]): void {
    for (const id of userIds) {
      const n = (this.held.get(id) ?? 1) - 1;
      if (n > 0) this.held.set(id, n);
      else this.held.delete(id);
      this.dropUser(id);
    }
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.seen.clear();
    this.byUser.clear();
  }

  private dropUser(userId: string): void {
    this.epoch++;
    const mine = this.byUser.get(userId);
    if (!mine) return;
    for (const h of mine) this.entries.delete(h);
    this.byUser.delete(userId);
  }

  private remove(idHash: string): void {
    const e = this.entries.get(idHash);
    if (!e) return;
    this.entries.delete(idHash);
    const mine = this.byUser.get(e.session.user.id);
    mine?.delete(idHash);
    if (mine?.size === 0) this.byUser.delete(e.session.user.id);
  }
}

// A round trip on the listener slower than this sends the check to the database; a check that
// joined the next round trip behind a slow one waits at most twice this.
const CATCH_UP_TIMEOUT_MS = 250;

/** Sessions kept in memory between requests, on a PostgreSQL server (see the rules at the top). */
export class CachedSessions implements Sessions {
  readonly cache: SessionCache;
  private readonly stored: StoredSessions;
  private readonly listener: Listener;
  /** Closing is not an interruption: no warning for it. */
  private closing = false;

  constructor(private readonly deps: SessionDeps, size: number, log: FastifyBaseLogger) {
    const listen = deps.database.listen;
    if (!listen) throw new Error('the session cache needs a database that can LISTEN');
    this.stored = new StoredSessions(deps, log);
    const cache = (this.cache = new SessionCache(size));
    let wasLive = false;
    this.listener = listen(SESSION_CHANGES_CHANNEL, {
      message: (payload) => cache.onChange(payload),
      live: (up) => {
        cache.setLive(up);
        if (!up && wasLive && !this.closing) log.warn('session change notifications interrupted: every request reads its session from the database until they are back');
        wasLive = up;
      },
    });
    cache.caughtUp = () => this.listener.caughtUp(CATCH_UP_TIMEOUT_MS);
    cache.fresh = () => this.listener.heardWithin(2.5 * LISTEN_HEARTBEAT_MS);
  }

  async read(token: string, via: SessionInfo['via']): Promise<SessionInfo | null> {
    const idHash = this.stored.idHashOf(token);
    if (!idHash) return null;
    const cache = this.cache;
    const hit = cache.get(idHash);
    // Still there once every change committed before this request was applied, and not expired:
    // the row says the same.
    if (hit && (await cache.confirm(idHash, hit)) && hit.expiresAt.getTime() > this.deps.clock.now().getTime()) {
      cache.lookups.hit++;
      this.stored.seen(idHash, hit);
      return { idHash, via, ...hit };
    }
    cache.lookups.miss++;
    const ticket = cache.ticket();
    const data = await this.stored.readRow(idHash);
    if (!data) return null;
    cache.fill(ticket, idHash, data);
    this.stored.seen(idHash, data);
    return { idHash, via, ...data };
  }

  create(db: Db, input: NewSession) { return this.stored.create(db, input); }

  async revoke(tx: Db, userIds: string[], reason: RevokeReason, opts?: { keepIdHash?: string; authMethod?: AuthMethod }): Promise<number> {
    this.accountsChanged(tx, userIds);
    return this.stored.revoke(tx, userIds, reason, opts);
  }

  async end(tx: Db, s: Pick<SessionInfo, 'idHash' | 'user'>): Promise<void> {
    this.accountsChanged(tx, [s.user.id]);
    await this.stored.end(tx, s);
  }

  /** App sessions are never checked by `read`: nothing cached to drop. */
  startApp(tx: Db, input: NewAppSession): Promise<void> { return this.stored.startApp(tx, input); }
  endApps(tx: Db, which: { clientId: string } | { grantId: string }, reason: RevokeReason): Promise<number> {
    return this.stored.endApps(tx, which, reason);
  }

  async endById(tx: Db, userId: string, id: string, reason: RevokeReason): Promise<boolean> {
    this.accountsChanged(tx, [userId]);
    return this.stored.endById(tx, userId, id, reason);
  }

  /** Read from the rows: the cache keeps what a check needs, not the device list. */
  list(userId: string, currentIdHash?: string): Promise<DeviceSession[]> { return this.stored.list(userId, currentIdHash); }

  /**
   * This instance's own writes hold the users they touch until the transaction settles, then drop
   * them: it does not depend on its own notification. Other instances hear it from the trigger.
   */
  accountsChanged(tx: Db, userIds: string[]): void {
    this.stored.accountsChanged(tx);
    if (userIds.length === 0) return;
    this.cache.hold(userIds);
    afterTransaction(tx, () => this.cache.release(userIds));
  }

  tenantChanged(tx: Db): void {
    this.stored.tenantChanged(tx);
    this.cache.clear();
    afterTransaction(tx, () => this.cache.clear());
  }

  stats(): SessionStats { return { ...this.stored.stats(), lookups: { ...this.cache.lookups } }; }

  async close(): Promise<void> {
    this.closing = true;
    await this.listener.close();
    await this.stored.close();
  }
}

/**
 * The sessions of an app: kept in memory on a PostgreSQL server (unless `cacheSize` is 0), read
 * from the row on every request otherwise (embedded: one process, and reads are cheap).
 */
export function openSessions(deps: SessionDeps, opts: { cacheSize: number; log: FastifyBaseLogger }): Sessions {
  return deps.database.listen && opts.cacheSize > 0 ? new CachedSessions(deps, opts.cacheSize, opts.log) : new StoredSessions(deps, opts.log);
}
