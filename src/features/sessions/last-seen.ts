// When a session was last used, for the device list: recorded cheaply, off the request's path.
//   - A session check only notes the session in memory (a map lookup); it never waits on the
//     database for this.
//   - A session is written at most once per LAST_SEEN_EVERY_MS on this instance (and not at all in
//     its first minutes: a null last_seen_at reads as "when it began").
//   - The writes go out in batches (platform/batch.ts): one UPDATE for every session noted while
//     the previous one was in flight; `greatest` keeps a later time another instance wrote.
//   - The column is not announced to session caches (migration 0009): writing it empties no cache.
// Best effort: a failed write is logged and not retried before the next window.
import { sql } from 'drizzle-orm';
import { batched } from '../../platform/batch.ts';
import type { Db } from '../../platform/db.ts';

export const LAST_SEEN_EVERY_MS = 5 * 60_000;

interface Seen { idHash: string; at: Date; }

export class LastSeen {
  /** Session → when this instance last wrote (or queued) its time, oldest first. */
  private readonly noted = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly write: (item: Seen) => Promise<void>;

  constructor(
    db: () => Db,
    private readonly now: () => Date,
    private readonly onError: (err: unknown) => void,
    private readonly maxEntries = 100_000,
  ) {
    this.write = batched<Seen>(async (items) => {
      const rows = JSON.stringify(items.map((i) => ({ h: i.idHash, at: i.at.toISOString() })));
      await db().execute(sql`update sessions s set last_seen_at = greatest(s.last_seen_at, v.at)
        from jsonb_to_recordset(${rows}::jsonb) as v(h text, at timestamptz)
        where s.id_hash = v.h`);
    });
  }

  /** After a successful session check: queues a write when the session's time is over a window old. */
  seen(idHash: string, createdAt: Date): void {
    const now = this.now();
    const t = now.getTime();
    if (t - Math.max(this.noted.get(idHash) ?? 0, createdAt.getTime()) < LAST_SEEN_EVERY_MS) return;
    this.noted.delete(idHash); // re-inserted at the end: the map stays in the order of noting
    this.noted.set(idHash, t);
    this.prune(t);
    const p: Promise<void> = this.write({ idHash, at: now }).catch(this.onError).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** The time this instance noted for a session, if it is newer than what a row may say yet. */
  notedAt(idHash: string): Date | undefined {
    const t = this.noted.get(idHash);
    return t === undefined ? undefined : new Date(t);
  }

  /** Waits for the writes under way (on close: before the database goes). */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Forgets sessions noted more than a window ago; over the bound, the oldest (at worst, one more write each). */
  private prune(t: number): void {
    if (this.noted.size <= this.maxEntries) return;
    for (const [idHash, at] of this.noted) {
      if (this.noted.size <= this.maxEntries / 2 && t - at < LAST_SEEN_EVERY_MS) break;
      this.noted.delete(idHash);
    }
  }
}
