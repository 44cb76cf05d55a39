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
import { afterTransaction, requireTransaction, type Db } from '../../platform/db.ts';

export interface CachedSession {
  user: { id: string; email: string; name: string; role: string };
  tenant: { id: string; slug: string; name: string };
  authMethod: string;
  createdAt: Date;
  expiresAt: Date;
}

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

  /** True once every change committed before the call has been applied here (app.ts sets it). */
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

// Every cache of this process: this instance's own writes reach them without waiting for the
// notification (tests run several instances in one process; dropping too much is harmless).
const caches = new Set<SessionCache>();

export function registerCache(cache: SessionCache): () => void {
  caches.add(cache);
  return () => { caches.delete(cache); };
}

/**
 * Called by every write that ends or changes these users' sessions, inside its transaction: the
 * users are held until it settles, then dropped. Other instances hear it from the trigger.
 */
export function sessionsChanging(tx: Db, change: { userIds: string[] } | { tenant: true }): void {
  requireTransaction(tx); // refused everywhere, not only where a cache runs
  if (caches.size === 0) return;
  const all = [...caches];
  if ('tenant' in change) {
    for (const c of all) c.clear();
    afterTransaction(tx, () => { for (const c of all) c.clear(); });
    return;
  }
  for (const c of all) c.hold(change.userIds);
  afterTransaction(tx, () => { for (const c of all) c.release(change.userIds); });
}
