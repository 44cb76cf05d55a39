// The limits in PostgreSQL (a server and no Redis): the `rate_limits` table in SQL of our own, one
// round trip per call however many counters it concerns — a read is one SELECT, counting is one
// call of keyturn_limits_add (migrations 0008 and 0013: all or none, under ceilings, atomic) — where
// rate-limiter-flexible made a statement per counter. Rows keep the shape it gave them (key, points,
// expire in epoch ms, NULL = never; a row past its expire is absent) and a counter in one row keeps
// its key, so instances of an older build count on the same rows during a rolling upgrade.
import { createHash, randomInt } from 'node:crypto';
import type { Pool } from 'pg';
import { batchedCalls } from './batch.ts';
import type { Count } from './rate-limit.ts';

/** A counter as stored: its key, and how many rows it is spread over (1: the key's own row). */
export interface StoredCounter { key: string; spread: number; }

/** What to count on a counter: `points`, in a window of `windowMs` should one start (0: no expiry). */
export interface Addition extends StoredCounter {
  points: number;
  windowMs: number;
  /** Counted only if every counter of the call is below its ceiling. */
  ceiling?: number;
}

/**
 * An INSERT that rides with the counting: the statement that counts a call also writes the call's
 * row, only if the call is counted, so a request's own write costs no round trip and no commit of
 * its own after its limits. Table, column names and types come from code, never from input.
 */
export interface RidingInsert<Row> {
  table: string;
  /** Each column: its name, its PostgreSQL type, and its value in a row. */
  columns: readonly { name: string; type: string; of(row: Row): unknown }[];
}

/** A call of add(): its counters, and the row that rides with it, if any. */
interface Call { additions: Addition[]; ride?: { insert: RidingInsert<unknown>; row: unknown }; }

/** Rows deleted per sweeping statement: each is short, whatever the backlog. */
export const SWEEP_BATCH = 1000;
/** A row is swept this long after it expired: an instance whose clock is behind still sees it live. */
const SWEEP_GRACE_MS = 60_000;
const INT_MAX = 2 ** 31 - 1;
/** Calls counted by one statement at most. */
const MAX_CALLS = 64;

const membersOf = (c: StoredCounter): string[] =>
  c.spread > 1 ? Array.from({ length: c.spread }, (_, i) => `${c.key}#${i}`) : [c.key];

interface Row { key?: string; points: number; expire: string | number | null; }

/** The count of a counter from its live rows, as rate-limiter-flexible reports one row. */
function total(rows: Row[], now: number): Count {
  if (rows.length === 0) return { consumed: 0, msBeforeNext: 0 };
  const consumed = rows.reduce((n, r) => n + Number(r.points), 0);
  if (rows.some((r) => r.expire === null)) return { consumed, msBeforeNext: -1 };
  return { consumed, msBeforeNext: Math.max(0, Math.max(...rows.map((r) => Number(r.expire))) - now) };
}

interface Statement { name: string; text: string; }

const COUNTING = 'select counter, points, expire from keyturn_limits_add($1, $2, $3, $4, $5, $6, $7, $8, $9)';
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const TYPE = /^[a-z_][a-z0-9_ ]*$/;

const signatures = new WeakMap<RidingInsert<unknown>, string>();

/** What a riding insert writes, as text (inserts alike share it); refuses names that are not plain. */
function signatureOf(insert: RidingInsert<unknown>): string {
  let signature = signatures.get(insert);
  if (signature === undefined) {
    const plain = IDENTIFIER.test(insert.table) && insert.columns.length > 0
      && insert.columns.every((c) => IDENTIFIER.test(c.name) && c.name !== 'keyturn_call' && TYPE.test(c.type));
    if (!plain) throw new Error(`not a riding insert: ${insert.table}`);
    signature = `${insert.table}(${insert.columns.map((c) => `${c.name} ${c.type}`).join(', ')})`;
    signatures.set(insert, signature);
  }
  return signature;
}

/**
 * The counting statement; with riding inserts, one that also inserts, for each, the rows of the
 * calls it counted (a call is counted on all its counters or on none: it is counted if any of its
 * counters comes back). After the function's nine parameters, each insert has the calls of its
 * rows (by position in the batch), then one array per column.
 */
function countingStatement(inserts: RidingInsert<unknown>[]): Statement {
  if (inserts.length === 0) return { name: 'keyturn-limits-add', text: COUNTING };
  let next = 10;
  const ridden = inserts.map((insert, i) => {
    const list = insert.columns.map((c) => c.name).join(', ');
    const calls = `$${next++}::integer[]`;
    const columns = insert.columns.map((c) => `$${next++}::${c.type}[]`).join(', ');
    return `ridden${i} as (insert into ${insert.table} (${list})
        select ${list} from unnest(${calls}, ${columns}) as r(keyturn_call, ${list})
        where r.keyturn_call in (select ($2::integer[])[counter] from counted))`;
  });
  const text = `with counted as materialized (${COUNTING}),\n      ${ridden.join(',\n      ')}\n      select counter, points, expire from counted`;
  return { name: `keyturn-limits-add-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
}

export class PostgresCounters {
  private sweeping?: { timer?: NodeJS.Timeout; run?: Promise<void>; stopped: boolean };
  /**
   * Calls that arrive while one is in flight go out together as the next statement: each is
   * decided on its own, in order, seeing what the calls before it counted (as separate statements
   * would), but a statement and its commit cost far more than the counting, so concurrent requests
   * share them (as group commit does for writes).
   */
  private readonly counting = batchedCalls((calls: Call[]) => this.addMany(calls), MAX_CALLS);
  /** The counting statements made so far, by the signatures of the inserts riding in them. */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly pool: Pool) {}

  /** Several counters as they stand: one statement. */
  async read(counters: StoredCounter[]): Promise<Count[]> {
    const now = Date.now();
    const members = counters.map(membersOf);
    const res = await this.pool.query<Row & { key: string }>({
      name: 'keyturn-limits-read',
      text: 'select key, points, expire from rate_limits where key = any($1) and (expire > $2 or expire is null)',
      values: [members.flat(), now],
    });
    const live = new Map(res.rows.map((r) => [r.key, r]));
    return members.map((keys) => total(keys.flatMap((k) => live.get(k) ?? []), now));
  }

  /**
   * Counts on every counter, all or none, in one call; each counter's new count. With ceilings,
   * null when one was reached: then nothing was counted. With `ride`, its row is inserted by the
   * same statement if, and only if, the call is counted.
   */
  async add<Row>(additions: Addition[], ride?: { insert: RidingInsert<Row>; row: Row }): Promise<Count[] | null> {
    if (ride) signatureOf(ride.insert as RidingInsert<unknown>); // a bad insert fails its own call, before it joins a batch
    if (additions.length === 0) {
      if (ride) throw new Error('a riding insert needs a counter to ride with');
      return [];
    }
    return this.counting({ additions, ride: ride as Call['ride'] });
  }

  /** Several calls of add() in one statement; each call's answer. */
  private async addMany(calls: Call[]): Promise<(Count[] | null)[]> {
    try {
      return await this.addManyOnce(calls);
    } catch (e) {
      // Statements lock in key order and do not deadlock, but for a row deleted between the read
      // and the lock (a sweep, a clear): the one PostgreSQL stops has changed nothing, so again.
      if ((e as { code?: string }).code === '40P01') return this.addManyOnce(calls);
      throw e;
    }
  }

  /** The statement for the batch, and the values of its riding inserts: alike inserts go together. */
  private riding(batch: Call[]): { statement: Statement; values: unknown[][] } {
    const groups = new Map<string, { insert: RidingInsert<unknown>; calls: number[]; columns: unknown[][] }>();
    batch.forEach((call, c) => {
      if (!call.ride) return;
      const { insert, row } = call.ride;
      const signature = signatureOf(insert);
      let group = groups.get(signature);
      if (!group) groups.set(signature, (group = { insert, calls: [], columns: insert.columns.map(() => []) }));
      group.calls.push(c + 1);
      insert.columns.forEach((column, j) => group!.columns[j]!.push(column.of(row)));
    });
    const key = [...groups.keys()].join('\n');
    let statement = this.statements.get(key);
    if (!statement) this.statements.set(key, (statement = countingStatement([...groups.values()].map((g) => g.insert))));
    return { statement, values: [...groups.values()].flatMap((g) => [g.calls, ...g.columns]) };
  }

  private async addManyOnce(batch: Call[]): Promise<(Count[] | null)[]> {
    const calls = batch.map((c) => c.additions);
    const now = Date.now();
    // Every row concerned once, a counter's rows side by side; counters refer to them by position.
    const position = new Map<string, number>();
    const rows: string[] = [];
    // A spread counter is counted on one of its rows, picked at random for the statement: the
    // statements of several instances rarely meet, and a statement writes each row once.
    const picked = new Map<string, number>();
    const counters = calls.flatMap((call, c) => call.map((a) => {
      const members = membersOf(a);
      if (!position.has(members[0]!)) {
        for (const key of members) position.set(key, rows.push(key));
        picked.set(members[0]!, a.spread > 1 ? randomInt(a.spread) : 0);
      }
      const first = position.get(members[0]!)!;
      return { call: c + 1, first, last: first + members.length - 1, target: first + picked.get(members[0]!)!, a };
    }));
    const { statement, values: riding } = this.riding(batch);
    const res = await this.pool.query<Row & { counter: number }>({
      ...statement,
      values: [
        rows, counters.map((c) => c.call), counters.map((c) => c.target), counters.map((c) => c.first), counters.map((c) => c.last),
        counters.map((c) => c.a.points), counters.map((c) => c.a.windowMs),
        counters.map((c) => (c.a.ceiling === undefined ? null : Math.min(c.a.ceiling, INT_MAX))), now, ...riding,
      ],
    });
    const counted = new Map(res.rows.map((r) => [r.counter, total([r], now)]));
    let next = 1;
    return calls.map((call) => {
      const mine = call.map(() => counted.get(next++));
      return mine.every((c) => c !== undefined) ? mine as Count[] : null;
    });
  }

  /** Sets a counter's one row, whatever it held (a marker). */
  async set(key: string, points: number, windowMs: number): Promise<void> {
    await this.pool.query({
      name: 'keyturn-limits-set',
      text: `insert into rate_limits (key, points, expire) values ($1, $2, $3)
        on conflict (key) do update set points = excluded.points, expire = excluded.expire`,
      values: [key, points, Date.now() + windowMs],
    });
  }

  /** Forgets counters: one statement. */
  async delete(counters: StoredCounter[]): Promise<void> {
    // Locked in key order, as keyturn_limits_add locks: the two never wait on each other in a circle.
    await this.pool.query({
      name: 'keyturn-limits-delete',
      text: 'delete from rate_limits where key in (select key from rate_limits where key = any($1) order by key for update)',
      values: [counters.flatMap(membersOf)],
    });
  }

  /**
   * Deletes at most `batch` rows that expired before `before`; returns how many. Rows another
   * statement holds are left for the next sweep, so sweeping never waits on a request.
   */
  async sweep(batch = SWEEP_BATCH, before = Date.now() - SWEEP_GRACE_MS): Promise<number> {
    const res = await this.pool.query({
      name: 'keyturn-limits-sweep',
      text: `delete from rate_limits where key in (
        select key from rate_limits where expire < $1 order by expire limit $2 for update skip locked)`,
      values: [before, batch],
    });
    return res.rowCount ?? 0;
  }

  /** Sweeps every `everyMs`, batch after batch while they come back full. */
  startSweeping(everyMs: number, onError: (e: unknown) => void): void {
    const state: NonNullable<typeof this.sweeping> = { stopped: false };
    this.sweeping = state;
    const run = async () => {
      try {
        let swept = SWEEP_BATCH;
        while (!state.stopped && swept === SWEEP_BATCH) swept = await this.sweep();
      } catch (e) {
        onError(e);
      }
    };
    const next = () => {
      if (state.stopped) return;
      state.timer = setTimeout(() => { state.run = run().finally(next); }, everyMs);
      state.timer.unref();
    };
    next();
  }

  /** Stops sweeping; waits for a sweep in flight. */
  async close(): Promise<void> {
    const state = this.sweeping;
    if (!state) return;
    state.stopped = true;
    clearTimeout(state.timer);
    await state.run;
  }
}
