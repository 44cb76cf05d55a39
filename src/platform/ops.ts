// Operations: /healthz, /readyz and /metrics on the admin listener, and the request metrics of the
// public listener. Outcomes are read off the HTTP answers (route + status + error code), and the
// mail and session figures off the database, so every instance reports the same shared truth.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { Clock } from './clock.ts';
import { rowsOf, type Database, type Db } from './db.ts';
import './http.ts'; // FastifyReply.errorCode
import { doc } from './openapi.ts';
import type { CounterSource } from './tally.ts';
import { sql } from 'drizzle-orm';

const OUTBOX_LAG_READY_SECONDS = 300;

/** What the operations endpoints read: the database and the time. */
export interface OpsDeps { database: Database; db: Db; clock: Clock; }

/** Figures read from the database keep their last value while it is away: the scrape still answers. */
async function fromDatabase(read: () => Promise<void>): Promise<void> {
  try { await read(); } catch { /* /readyz says why */ }
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status' | 'outcome'>;
  readonly latency: Histogram<'route' | 'method' | 'status'>;

  /** `counters`: what the features count in memory (the composition root hands them in). */
  constructor(ctx: OpsDeps, counters: CounterSource[]) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'keyturn_process_' });
    this.requests = new Counter({
      name: 'keyturn_http_requests_total',
      help: 'Requests by route template, method, status and outcome (the error code, or "ok").',
      labelNames: ['route', 'method', 'status', 'outcome'], registers,
    });
    this.latency = new Histogram({
      name: 'keyturn_http_request_duration_seconds',
      help: 'Request latency by route template, method and status.',
      labelNames: ['route', 'method', 'status'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    });
    new Gauge({
      name: 'keyturn_outbox_messages', help: 'Messages in the outbox by status (all instances); failed: given up (refused for good, or unsent for OUTBOX_RETRY_FOR), each also logged at error level.', labelNames: ['status'], registers,
      async collect() {
        await fromDatabase(async () => {
          const rows = rowsOf<{ status: string; n: number }>(await ctx.db.execute(sql`select status, count(*)::int as n from outbox group by status`));
          this.reset();
          for (const r of rows) this.set({ status: r.status }, r.n);
        });
      },
    });
    new Gauge({
      name: 'keyturn_outbox_lag_seconds', help: 'Age of the oldest message waiting to be sent.', registers,
      async collect() { await fromDatabase(async () => this.set(await outboxLagSeconds(ctx))); },
    });
    for (const source of counters) {
      new Counter({
        name: source.name, help: source.help, labelNames: [...source.labelNames], registers,
        collect() {
          this.reset();
          for (const { labels, n } of source.read()) this.inc(labels, n);
        },
      });
    }
  }

  /** Counts every answer of the public listener; resets requested/completed/failed and rate-limit hits are among them. */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
      const route = request.routeOptions.url ?? 'unknown';
      const status = String(reply.statusCode);
      this.requests.inc({ route, method: request.method, status, outcome: reply.errorCode ?? (reply.statusCode < 400 ? 'ok' : 'error') });
      this.latency.observe({ route, method: request.method, status }, reply.elapsedTime / 1000);
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function outboxLagSeconds(ctx: Pick<OpsDeps, 'db' | 'clock'>): Promise<number> {
  const [r] = rowsOf<{ lag: number | null }>(await ctx.db.execute(sql`
    select extract(epoch from (${ctx.clock.now()}::timestamptz - min(created_at)))::float8 as lag
    from outbox where status in ('queued', 'sending') and channel = 'mail'`));
  return Math.max(0, Number(r?.lag ?? 0));
}

const Check = z.object({ ok: z.boolean(), detail: z.string().optional(), required: z.boolean().optional() });
const Readiness = z.object({ status: z.enum(['ready', 'degraded', 'not_ready']), checks: z.record(z.string(), Check) });

export async function opsRoutes(app: FastifyInstance, { ctx, metrics, pingRedis }: { ctx: OpsDeps; metrics: Metrics; pingRedis?: () => Promise<void> }) {
  app.get('/healthz', doc({
    summary: 'Liveness: the process answers', tags: ['operations'], auth: 'none',
    responses: { 200: { description: 'Up.', schema: z.object({ status: z.literal('ok') }) } },
  }), async () => ({ status: 'ok' }));

  app.get('/readyz', doc({
    summary: 'Readiness: database, migrations, outbox lag (and Redis when REDIS_URL is set)', tags: ['operations'], auth: 'none',
    description: 'Redis is reported but not required: while it is away each instance counts rate limits in its own memory, so taking every instance out of the load balancer would turn a degradation into an outage.',
    responses: {
      200: { description: '`ready`, or `degraded` when only Redis fails.', schema: Readiness },
      503: { description: '`not_ready`: database down, schema not current, or mail waiting too long.', schema: Readiness },
    },
  }), async (_request, reply) => {
    const checks: Record<string, { ok: boolean; detail?: string; required?: boolean }> = {};
    try {
      await ctx.database.ping();
      checks.database = { ok: true };
      const m = await ctx.database.migrationState();
      checks.migrations = { ok: m.applied === m.shipped, detail: `${m.applied}/${m.shipped}` };
      const lag = await outboxLagSeconds(ctx);
      checks.outbox = { ok: lag < OUTBOX_LAG_READY_SECONDS, detail: `oldest waiting message ${Math.round(lag)} s` };
    } catch (e) {
      checks.database = { ok: false, detail: (e as Error).message.split('\n')[0] };
    }
    if (pingRedis) {
      try {
        await withTimeout(pingRedis(), 2_000);
        checks.redis = { ok: true, required: false };
      } catch (e) {
        checks.redis = { ok: false, required: false, detail: `${(e as Error).message.split('\n')[0]}: rate limits count per instance until it is back` };
      }
    }
    const ready = Object.values(checks).every((c) => c.ok || c.required === false) && checks.database?.ok === true;
    const degraded = ready && Object.values(checks).some((c) => !c.ok);
    return reply.status(ready ? 200 : 503).send({ status: ready ? (degraded ? 'degraded' : 'ready') : 'not_ready', checks });
  });

  app.get('/metrics', doc({
    summary: 'Prometheus metrics of this instance', tags: ['operations'], auth: 'none',
    responses: { 200: { description: 'Text exposition format.', schema: z.string(), contentType: 'text/plain' } },
  }), async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
