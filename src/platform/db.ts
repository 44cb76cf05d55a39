// One database handle for PGlite (embedded, default) and a PostgreSQL server. Features see only `Db`.
import { mkdirSync, readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Pool } from 'pg';

export type Db = PgDatabase<PgQueryResultHKT>;

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** The pg pool behind a PostgreSQL server connection (rate limits use it directly); absent for PGlite. */
  pgPool?: Pool;
  /** Applies the migrations this build ships that the database lacks; resolves to how many. */
  migrate(): Promise<number>;
  /** Number of applied migrations vs. the ones this build ships. */
  migrationState(): Promise<{ applied: number; shipped: number }>;
  ping(): Promise<void>;
  /**
   * LISTENs on a channel over a connection of its own, reconnecting when it drops (PostgreSQL
   * server only). `live(false)` means notifications may be missed from now on until `live(true)`.
   */
  listen?(channel: string, on: { message(payload: string): void; live(up: boolean): void }): Listener;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url?: string;
  dataDir: string;
  poolSize?: number;
  statementTimeoutMs?: number;
  /** How long to wait for a new server connection before the request fails (503). */
  connectTimeoutMs?: number;
  /** Unset: as the URL says (`?sslmode=`). Set: overrides any ssl parameter of the URL. */
  ssl?: 'disable' | 'require' | 'verify-full';
  /** PEM file of the CA that signed the server certificate (verify-full). */
  sslCaFile?: string;
}

const SSL_URL_PARAMS = ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'uselibpqcompat'];

/**
 * The pg connection settings for DATABASE_SSL. pg lets `?sslmode=` in the URL win over the `ssl`
 * option, so when DATABASE_SSL is set the URL's own ssl parameters are dropped.
 */
export function pgConnection(opts: Pick<DatabaseOptions, 'url' | 'ssl' | 'sslCaFile'>): { connectionString?: string; ssl?: false | ConnectionOptions } {
  if (!opts.ssl || !opts.url) return { connectionString: opts.url };
  const url = new URL(opts.url);
  for (const p of SSL_URL_PARAMS) url.searchParams.delete(p);
  const connectionString = url.toString();
  if (opts.ssl === 'disable') return { connectionString, ssl: false };
  if (opts.ssl === 'require') return { connectionString, ssl: { rejectUnauthorized: false } };
  return { connectionString, ssl: { rejectUnauthorized: true, ...(opts.sslCaFile ? { ca: readFileSync(opts.sslCaFile, 'utf8') } : {}) } };
}

const MIGRATION_LOCK = 7_141_592; // advisory lock id: several instances starting together migrate once

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.url && /^postgres(ql)?:/.test(opts.url)) return openPostgres(opts);
  return openPglite(opts.url === 'memory://' ? undefined : `${opts.dataDir}/pg`);
}

async function shippedMigrations(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const journal = JSON.parse(await readFile(`${migrationsFolder}/meta/_journal.json`, 'utf8'));
  return journal.entries.length;
}

async function appliedMigrations(db: Db): Promise<number> {
  try {
    const res = (await db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)) as unknown as {
      rows: { n: number }[];
    };
    return res.rows[0]?.n ?? 0;
  } catch {
    return 0; // no migrations table yet
  }
}

/** Runs a migrator and counts what it applied (the caller holds the lock, where there is one). */
async function countingApplied(db: Db, migrate: () => Promise<void>): Promise<number> {
  const before = await appliedMigrations(db);
  await migrate();
  return (await appliedMigrations(db)) - before;
}

async function openPglite(dir: string | undefined): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  // pg_trgm: the users search's index (migration 0014), as on a server.
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Options as the one argument: with a directory of undefined (in memory), the second one is ignored.
  const client = new PGlite({ dataDir: dir, extensions: { pg_trgm } });
  await client.waitReady;
  const db = drizzle(client);
  return {
    db: withSettleHooks(db as unknown as Db),
    kind: 'pglite',
    migrate: () => countingApplied(db as unknown as Db, () => migrate(db, { migrationsFolder })),
    migrationState: async () => ({ applied: await appliedMigrations(db as unknown as Db), shipped: await shippedMigrations() }),
    ping: async () => { await client.query('select 1'); },
    close: () => client.close(),
  };
}

/** Whether a query failed because its connection stopped answering (pg's client-side timeout). */
function wentSilent(e: unknown): boolean {
  for (let err = e as { message?: unknown; cause?: unknown } | undefined, depth = 0; err && depth < 4; err = err.cause as typeof err, depth++) {
    if (err.message === 'Query read timeout') return true;
  }
  return false;
}

/** How long after DATABASE_STATEMENT_TIMEOUT a query without any answer is given up by the client. */
const QUERY_TIMEOUT_MARGIN_MS = 2_000;

/**
 * A query the client gave up on leaves its connection waiting for an answer, and every later query
 * on it would time out in turn (a transaction's rollback, then whoever gets the connection from the
 * pool next). The connection is closed instead: its queries fail at once and the pool replaces it.
 * pg does the same for a pipelined connection; `connection.stream` is its socket.
 */
function dropWhenSilent(client: import('pg').PoolClient): void {
  // A checked-out client has no 'error' listener of the pool's: the socket closing (here, or by
  // the server during a transaction) would be an unhandled 'error' event and end the process. Its
  // queries report the failure to their callers; the pool drops it on release.
  client.on('error', () => {});
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const answer = query(...args);
    if (answer instanceof Promise) {
      answer.catch((e: unknown) => {
        if (wentSilent(e)) (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      });
    }
    return answer;
  };
}

async function openPostgres(opts: DatabaseOptions): Promise<Database> {
  const pg = (await import('pg')).default;
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const connection = pgConnection(opts);
  const statementTimeoutMs = opts.statementTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    ...connection,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    statement_timeout: statementTimeoutMs,
    // A connection gone half-open (a failover, a dropped NAT entry) answers nothing and reports
    // nothing: its caller, and every limit check queued behind the one counting statement, would
    // wait for the kernel to give up (about 15 minutes). The client gives up a little after the
    // server's own statement timeout would have fired, and the connection is dropped (below).
    ...(statementTimeoutMs > 0 ? { query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS } : {}),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // A dropped server connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  pool.on('connect', dropWhenSilent);
  const db = drizzle(pool);
  // drizzle's transaction on a pool hands its connection back only once BEGIN has succeeded: a
  // BEGIN that fails (a silent connection fails right there) would keep it out of the pool for good.
  db.transaction = (async (work: Parameters<typeof db.transaction>[0], config?: Parameters<typeof db.transaction>[1]) => {
    const client = await pool.connect();
    let failure: unknown;
    try {
      return await drizzle(client).transaction(work as never, config);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      client.release(wentSilent(failure) ? (failure as Error) : undefined); // an error drops it
    }
  }) as typeof db.transaction;
  return {
    db: withSettleHooks(db as unknown as Db),
    kind: 'postgres',
    pgPool: pool,
    listen: (channel, on) => pgListener(pg, connection, opts.connectTimeoutMs ?? 5_000, channel, on),
    async migrate() {
      const lock = await pool.connect();
      try {
        await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
        return await countingApplied(db as unknown as Db, () => migrate(db, { migrationsFolder }));
      } finally {
        await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
        lock.release();
      }
    },
    migrationState: async () => ({ applied: await appliedMigrations(db as unknown as Db), shipped: await shippedMigrations() }),
    ping: async () => { await pool.query('select 1'); },
    close: () => pool.end(),
  };
}

/** Built once per database handle (a prepared statement, a batched writer): composing it per request costs CPU. */
export function oncePerDatabase<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let statement = built.get(db);
    if (!statement) built.set(db, (statement = build(db)));
    return statement;
  };
}

// ── after a transaction ──────────────────────────────────────────────────────────────────────

type SettleHook = () => void;
const settleHooks = new WeakMap<object, SettleHook[]>();

/**
 * Wraps `db.transaction` so that work registered with afterTransaction runs once it is settled,
 * before the transaction's caller resumes.
 */
function withSettleHooks(db: Db): Db {
  const begin = db.transaction.bind(db);
  db.transaction = (async (work: (tx: Db) => Promise<unknown>, config?: unknown) => {
    const hooks: SettleHook[] = [];
    try {
      return await (begin as (w: (tx: Db) => Promise<unknown>, c?: unknown) => Promise<unknown>)(
        (tx) => { settleHooks.set(tx, hooks); return work(tx); }, config);
    } finally {
      for (const hook of hooks) hook();
    }
  }) as Db['transaction'];
  return db;
}

function hooksOf(tx: Db): SettleHook[] {
  const hooks = settleHooks.get(tx);
  if (!hooks) throw new Error('this write needs the transaction of the change (ctx.db.transaction)');
  return hooks;
}

/** Throws unless `tx` is a transaction opened with `db.transaction`. */
export function requireTransaction(tx: Db): void {
  hooksOf(tx);
}

/** Runs `hook` once the transaction `tx` has committed or rolled back, before its caller resumes. */
export function afterTransaction(tx: Db, hook: SettleHook): void {
  hooksOf(tx).push(hook);
}

// ── LISTEN ───────────────────────────────────────────────────────────────────────────────────

export interface Listener {
  /**
   * Resolves true once a round trip on the listening connection, sent after the call, has come
   * back: PostgreSQL sends a listener every notification committed before a query ahead of that
   * query's answer, so by then every change committed before the call has been handled here.
   * Calls that overlap share round trips. False when not listening, or no answer within `timeoutMs`.
   */
  caughtUp(timeoutMs: number): Promise<boolean>;
  /** True while connected and heard from (a heartbeat answer or a notification) within `ms`. */
  heardWithin(ms: number): boolean;
  close(): Promise<void>;
}

const LISTEN_RETRY_MS = 1_000;
/** A connection that silently stopped answering would also stop delivering: it is asked this often. */
export const LISTEN_HEARTBEAT_MS = 1_000;

function pgListener(
  pg: typeof import('pg').default, connection: ReturnType<typeof pgConnection>, connectTimeoutMs: number,
  channel: string, on: { message(payload: string): void; live(up: boolean): void },
): Listener {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let current: import('pg').Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let lastHeard = 0;
  // The round trip on the wire answers only the calls made before it was sent; calls made
  // meanwhile join the next one, sent when it is back (one in flight, one waiting, at most).
  let sent: Promise<boolean> | undefined;
  let waiting: Promise<boolean> | undefined;

  const heartbeat = setInterval(() => {
    const c = current;
    if (!c) return;
    const timeout = setTimeout(() => drop(c), LISTEN_HEARTBEAT_MS);
    c.query('select 1').then(
      () => { clearTimeout(timeout); if (current === c) lastHeard = Date.now(); },
      () => { clearTimeout(timeout); drop(c); });
  }, LISTEN_HEARTBEAT_MS);
  heartbeat.unref();

  const dropped = new WeakSet<object>();
  function drop(c: import('pg').Client): void {
    if (dropped.has(c)) return;
    dropped.add(c);
    if (current === c) { current = undefined; on.live(false); }
    c.end().catch(() => {});
    if (!closed) { retry = setTimeout(connect, LISTEN_RETRY_MS); retry.unref(); }
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      ...connection, keepAlive: true, connectionTimeoutMillis: connectTimeoutMs, query_timeout: connectTimeoutMs,
      application_name: `keyturn-listen-${channel}`,
    });
    c.on('error', () => drop(c));
    c.on('end', () => drop(c));
    c.on('notification', (n) => {
      if (n.channel !== channel || current !== c) return;
      lastHeard = Date.now();
      on.message(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch {
      drop(c);
      return;
    }
    if (dropped.has(c)) return; // it failed while LISTEN was answered: drop() already retries
    if (closed) { dropped.add(c); await c.end().catch(() => {}); return; }
    current = c;
    lastHeard = Date.now();
    on.live(true);
  }
  void connect();

  function roundTrip(timeoutMs: number): Promise<boolean> {
    const c = current;
    if (!c) return Promise.resolve(false); // not listening: nothing is known to be caught up
    const trip = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs); // slow: the caller reads the row
      // An empty query: the cheapest round trip (no plan), and PostgreSQL still sends the
      // notifications pending for this connection before it says it is ready again.
      c.query('').then(
        () => { clearTimeout(timer); resolve(current === c); },
        () => { clearTimeout(timer); drop(c); resolve(false); });
    });
    sent = trip;
    void trip.then(() => { if (sent === trip) sent = undefined; });
    return trip;
  }

  return {
    caughtUp(timeoutMs) {
      if (!sent) return roundTrip(timeoutMs);
      // The one in flight may have been sent before this call: wait for it, then send another.
      return (waiting ??= sent.then((ok) => {
        waiting = undefined;
        return ok ? roundTrip(timeoutMs) : false;
      }));
    },
    heardWithin: (ms) => current !== undefined && Date.now() - lastHeard <= ms,
    async close() {
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(retry);
      const c = current;
      current = undefined;
      if (c) { dropped.add(c); on.live(false); await c.end().catch(() => {}); }
    },
  };
}

/** Rows of a raw `db.execute` on either driver. */
export function rowsOf<T>(result: unknown): T[] {
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
