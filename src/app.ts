// buildApp: the platform, then the features, on two listeners that never share a route.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import { assertProductionReady, databaseOptions, type Config } from './config.ts';
import { createCaptcha } from './features/abuse/captcha.ts';
import { LimitKeys } from './features/abuse/keys.ts';
import { createPasswordHasher } from './features/accounts/password-hash.ts';
import { operatorRoutes } from './features/admin/operator-routes.ts';
import { mfaRoutes } from './features/mfa/routes.ts';
import { tenantAdminRoutes } from './features/admin/tenant-admin-routes.ts';
import { passwordChangeRoutes } from './features/password-change/routes.ts';
import { passwordPolicyRoutes } from './features/password-policy/routes.ts';
import { loadStrengthEstimator } from './features/password-policy/strength.ts';
import { resolveRequests } from './features/password-reset/flow.ts';
import { sweepResolvedRequests } from './features/password-reset/store.ts';
import { passwordResetRoutes } from './features/password-reset/routes.ts';
import { openSessions } from './features/sessions/cache.ts';
import { sessionCounters } from './features/sessions/metrics.ts';
import { resetCounts } from './features/password-reset/metrics.ts';
import { ssoFailures } from './features/sso/metrics.ts';
import { sessionsPlugin } from './features/sessions/plugin.ts';
import { sessionRoutes } from './features/sessions/routes.ts';
import { signInRoutes } from './features/sign-in/routes.ts';
import { ssoRoutes } from './features/sso/routes.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import type { Ctx } from './context.ts';
import { randomToken, Secrets } from './platform/crypto.ts';
import { openDatabase, type Database } from './platform/db.ts';
import { installErrorHandling, installOriginCheck, installRequestLog, loggerOptions, RequestLog } from './platform/http.ts';
import { Worker } from './platform/jobs.ts';
import { DeliveryKinds } from './platform/outbox/http.ts';
import { sendDue } from './platform/outbox/outbox.ts';
import { AllowList } from './platform/outbox/ssrf.ts';
import { createTransport, type MailTransport } from './platform/mail/transport.ts';
import { openRateLimits } from './platform/rate-limit.ts';
import { installSecurityHeaders } from './platform/security-headers.ts';
import { Metrics, opsRoutes } from './platform/ops.ts';
import { openApiDocument, RouteCatalog, serveDocument } from './platform/openapi.ts';
import { webPages } from './web/plugin.ts';
import { sweepExpired } from './features/oidc/adapter.ts';
import { appSessionsEnded, BACKCHANNEL_LOGOUT, backchannelPreparer } from './features/oidc/logout.ts';
import { isProviderEndpoint, OidcProvider } from './features/oidc/provider.ts';
import { providerRoutes } from './features/oidc/routes.ts';
import { WEBHOOK_KIND } from './features/webhooks/events.ts';
import { webhookHooks, webhookPreparer } from './features/webhooks/delivery.ts';
import { scimRoutes } from './features/scim/routes.ts';

export interface AppOverrides {
  database?: Database;
  clock?: Clock;
  transport?: MailTransport;
  logStream?: NodeJS.WritableStream;
  /** Poll interval of the outbox worker. */
  pollMs?: number;
  /** Tests drain the worker themselves. */
  startWorker?: boolean;
}

export interface App {
  ctx: Ctx;
  publicApp: FastifyInstance;
  adminApp: FastifyInstance;
  adminApiKey: string;
  /** True when the operator key was generated just now (print it once). */
  adminKeyIsNew: boolean;
  close(): Promise<void>;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const inMemory = (config: Config) => config.databaseUrl === 'memory://';

/** A secret from the environment, or generated once into DATA_DIR (or kept in memory for memory://). */
function persistentSecret(config: Config, file: string, fromEnv: string | undefined): { value: string; isNew: boolean } {
  if (fromEnv) return { value: fromEnv, isNew: false };
  if (inMemory(config)) return { value: randomToken(32), isNew: true };
  const path = join(config.dataDir, file);
  if (existsSync(path)) return { value: readFileSync(path, 'utf8').trim(), isNew: false };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const value = randomToken(32);
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, isNew: true };
}

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  assertProductionReady(config);
  const options = loggerOptions(config.logLevel) as pino.LoggerOptions;
  const log: FastifyBaseLogger = overrides.logStream ? pino(options, overrides.logStream) : pino(options);
  const database = overrides.database ?? (await openDatabase(databaseOptions(config)));
  if (!overrides.database && database.kind === 'pglite') await database.migrate(); // embedded: always current
  const { applied, shipped } = await database.migrationState();
  if (applied !== shipped) {
    await database.close();
    throw new Error(applied < shipped
      ? `The database schema is behind this version (${applied}/${shipped} migrations): run \`keyturn migrate\` first.`
      : `The database schema is newer than this version of Keyturn (${applied} > ${shipped} migrations): upgrade Keyturn.`);
  }

  const secret = persistentSecret(config, 'secret.key', config.secretKey);
  const adminKey = persistentSecret(config, 'admin-api-key', config.adminApiKey);
  const transport = overrides.transport ?? createTransport({
    smtpUrl: config.smtpUrl, dataDir: inMemory(config) ? undefined : config.dataDir, memory: inMemory(config), production: config.env === 'production',
  });
  const secrets = new Secrets(secret.value);
  const rateLimits = await openRateLimits(config, database, log);
  const jobs: (() => Promise<number>)[] = [];
  const worker = new Worker(jobs, overrides.pollMs ?? 1000, (e) => log.error({ err: e }, 'background job failed'));
  const clock = overrides.clock ?? systemClock;
  const allowedHosts = new AllowList(config.webhooks.allowedHosts);
  const ctx: Ctx = {
    config,
    database,
    db: database.db,
    secrets,
    clock,
    hasher: createPasswordHasher(config.argon2),
    limits: rateLimits.limits,
    captcha: createCaptcha(config.captcha, { secrets, limits: rateLimits.limits, keys: new LimitKeys(secrets) }),
    worker,
    transport,
    deliveries: new DeliveryKinds(),
    log,
    strength: loadStrengthEstimator,
    // A session that ends takes the app tokens issued under it along (OpenID provider).
    sessions: openSessions({
      database, secrets, clock, ttlMs: config.sessionTtlMs, ended: (tx, ended) => appSessionsEnded(ctx, tx, ended),
    }, { cacheSize: config.sessionCacheSize, log }),
    tallies: { resets: resetCounts(), ssoFailures: ssoFailures() },
  };
  ctx.deliveries.register(BACKCHANNEL_LOGOUT, backchannelPreparer(ctx));
  ctx.deliveries.register(WEBHOOK_KIND, webhookPreparer(ctx), webhookHooks(ctx));
  const oidc = new OidcProvider(ctx);
  jobs.push(
    () => resolveRequests(ctx),
    () => sweepResolvedRequests(ctx.db),
    () => sweepExpired(ctx.db),
    // One worker for every outgoing delivery: mail, and HTTP POSTs prepared by the kind the
    // features registered on ctx.deliveries.
    () => sendDue(ctx.db, ctx.secrets, ctx.clock, {
      mail: { transport, from: config.mailFrom, retryForMs: config.outbox.retryForMs },
      http: { kinds: ctx.deliveries, allowed: allowedHosts, retryForMs: config.webhooks.retryWindowMs },
    }, { leaseMs: config.outbox.leaseMs, maxBackoffMs: config.outbox.maxBackoffMs, log, stopping: () => worker.stopping }),
  );
  void loadStrengthEstimator().catch((e) => log.error({ err: e }, 'password strength estimator failed to load'));

  const metrics = new Metrics(ctx, [ctx.tallies.resets, ctx.tallies.ssoFailures, ...sessionCounters(ctx.sessions)]);

  const common = {
    loggerInstance: log,
    bodyLimit: 64 * 1024,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    // While closing, a request that already reached an open connection is answered in full (its
    // client sent it before we stopped; Fastify adds `Connection: close`), not refused with a 503.
    return503OnClosing: false,
    genReqId: () => randomUUID(),
  } as const;

  const publicApp = Fastify({ ...common, logController: new RequestLog() });
  const publicRoutes = new RouteCatalog();
  publicRoutes.listen(publicApp);
  installErrorHandling(publicApp);
  installRequestLog(publicApp);
  installSecurityHeaders(publicApp, config.publicUrl);
  await publicApp.register(cookie);
  await publicApp.register(formbody, { bodyLimit: 64 * 1024 });
  // The provider's endpoints are called by apps from anywhere and protect themselves (PKCE, client
  // authentication, their own xsrf token on end_session).
  installOriginCheck(publicApp, config.publicUrl, (url) => isProviderEndpoint(url));
  metrics.instrument(publicApp);
  await publicApp.register(sessionsPlugin, { ctx });
  publicApp.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
  await publicApp.register(providerRoutes, { ctx, oidc });
  for (const feature of [signInRoutes, sessionRoutes, mfaRoutes, passwordPolicyRoutes, passwordResetRoutes, passwordChangeRoutes, tenantAdminRoutes, ssoRoutes, scimRoutes, webPages]) {
    await publicApp.register(feature, { ctx });
  }
  // The JSON API's description; hosted pages, SSO redirects and assets are HTML, not part of it.
  serveDocument(publicApp, '/api/v1/openapi.json', () => openApiDocument(publicRoutes, {
    title: 'Keyturn public API', version: VERSION, serverUrl: config.publicUrl, defaultAuth: 'session',
    description: 'Sign-in, sessions, password reset and change, and the tenant admin API (a session with role admin). Errors are {"error": code, "message": text}.',
    include: (r) => r.url.startsWith('/api/'),
  }), 'This document');

  const adminApp = Fastify({ ...common, logController: new RequestLog(), bodyLimit: 20 * 1024 * 1024 }); // bulk imports
  const adminRoutes = new RouteCatalog();
  adminRoutes.listen(adminApp);
  installErrorHandling(adminApp);
  installRequestLog(adminApp);
  await adminApp.register(opsRoutes, { ctx, metrics, pingRedis: rateLimits.ping });
  // Open like /healthz: it describes a surface the README already documents, holds no secret, and
  // tooling (client generators, API explorers) can fetch it without being handed the operator key.
  serveDocument(adminApp, '/admin/v1/openapi.json', () => openApiDocument(adminRoutes, {
    title: 'Keyturn operator API', version: VERSION, serverUrl: '/', defaultAuth: 'operator',
    description: 'The operator API (admin listener, Authorization: Bearer ADMIN_API_KEY) and the operations endpoints. Missing or wrong key: 401 with no detail.',
    include: () => true,
  }), 'This document');
  await adminApp.register(operatorRoutes, { ctx, apiKey: adminKey.value });

  if (overrides.startWorker !== false) worker.start();

  return {
    ctx,
    publicApp,
    adminApp,
    adminApiKey: adminKey.value,
    adminKeyIsNew: adminKey.isNew,
    async close() {
      // At once: stop accepting and finish the requests in flight; the worker finishes the message
      // it is sending and hands the rest of its claim back. Queued mail waits in the outbox for
      // the other instances (or this one's restart). The database closes last.
      await Promise.all([publicApp.close(), adminApp.close(), worker.stop()]);
      await ctx.sessions.close();
      await transport.close();
      await rateLimits.close();
      if (!overrides.database) await database.close();
    },
  };
}
