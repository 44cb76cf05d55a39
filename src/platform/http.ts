// HTTP plumbing shared by both listeners: the contract's error shape, body parsing, log redaction.
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, csrfFailed, internal, invalidRequest, malformedRequest, notFound, payloadTooLarge, unavailable, unsupportedMediaType } from '../errors.ts';

declare module 'fastify' {
  /** The contract error code of the answer, for metrics and the request log. */
  interface FastifyReply { errorCode?: string; }
  /** The tenant a request acted in, once known (session loaded, sign-in done); for the request log. */
  interface FastifyRequest { tenantSlug?: string; }
}

/**
 * One line per answered request, at info: request id (reqId), method, URL with secrets masked,
 * client IP, route template, status, outcome (the contract error code, or "ok"), tenant and time.
 * Never a body. It replaces Fastify's two lines per request; "incoming request" moves to debug.
 */
export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!error && (reply.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') === false) return;
    const params = request.params as { slug?: unknown } | undefined;
    const tenant = request.tenantSlug ?? (typeof params?.slug === 'string' ? params.slug : undefined);
    const line = {
      req: request,
      res: reply,
      route: request.routeOptions.url ?? null,
      outcome: reply.errorCode ?? (reply.statusCode < 400 ? 'ok' : 'error'),
      ...(tenant ? { tenant } : {}),
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...line, err: safeError(error) }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

/** The slot features fill with the tenant a request acted in. */
export function installRequestLog(app: FastifyInstance): void {
  app.decorateRequest('tenantSlug', undefined);
}

/** Validates a body/query against a zod schema; the first problem becomes a 400 naming the field. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID as the database's uuid columns take one (anything else would make them throw). */
export const isUuid = (value: string): boolean => UUID.test(value);

export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidRequest('The request body must be a JSON object.');
  }
  refuseNul(value);
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    throw invalidRequest(`${field}: ${issue.message}`, { field });
  }
  return result.data;
}

/** PostgreSQL text cannot hold U+0000: refuse it at the door (400 naming where) instead of failing in a query. */
export function refuseNul(value: unknown, name = 'body'): void {
  const nul = fieldWithNul(value);
  if (nul !== null) throw invalidRequest(`${nul || name}: must not contain a NUL character.`, { field: nul || name });
}

function fieldWithNul(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = fieldWithNul(v, path ? `${path}.${k}` : k);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * What of an unexpected error may be logged: its type, code and first message line. Query errors
 * carry the SQL parameters (hashes, addresses) in their message and fields; those never reach a log.
 */
export function safeError(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  const firstLine = (m?: string) => m?.split('\n')[0]?.replace(/^Failed query:.*/s, 'Failed query')?.slice(0, 300);
  return {
    type: e?.name,
    code: e?.code ?? e?.cause?.code,
    message: firstLine(e?.message),
    cause: e?.cause?.message ? firstLine(e.cause.message) : undefined,
    stack: e instanceof Error && !/query/i.test(e.message) ? e.stack?.split('\n').slice(0, 6).join('\n') : undefined,
  };
}

// Unreachable, restarting or overloaded (57014: cancelled by DATABASE_STATEMENT_TIMEOUT): 503, try again.
const DB_DOWN = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57014', '57P01', '57P03', '08006', '08001', '08003']);

function isDatabaseDown(err: unknown): boolean {
  let e = err as { code?: string; cause?: unknown; message?: string } | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code && DB_DOWN.has(e.code)) return true;
    if (typeof e.message === 'string' && /Connection terminated|timeout exceeded when trying to connect|is not queryable|Query read timeout/.test(e.message)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

// How much of a refused body is still read before the connection closes: enough for any honest
// client (20 MiB admin limit), not so much that a body that never ends holds the connection.
const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

/** Reads and discards the rest of a request body; gives up after the bounds above. */
function drainBody(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    let bytes = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData).off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    req.on('data', onData).once('end', done).once('close', done).once('error', done);
    req.resume();
  });
}

export function installErrorHandling(app: FastifyInstance): void {
  // A body over the limit (known from Content-Length alone, or once the limit is passed) is
  // answered with Connection: close while the client is still sending it. Closing at once resets
  // the connection under the client's writes and it may never read the answer (EPIPE, ECONNRESET);
  // so the rest is read first, within bounds, and the close that follows the answer is orderly.
  // A hook, not the error handler: the pages have their own handler.
  app.addHook('onError', async (request, _reply, error) => {
    if (error.statusCode === 413 && !request.raw.complete && !request.raw.destroyed) await drainBody(request.raw);
  });
  // Every answer of the handler is an AppError in the contract's shape.
  const send = (reply: FastifyReply, e: AppError) => {
    reply.errorCode = e.code;
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.status(e.status).send({ error: e.code, message: e.message, ...e.extra });
  };
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    if (err instanceof AppError) return send(reply, err);
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return send(reply,
        status === 413 ? payloadTooLarge()
        : status === 415 ? unsupportedMediaType()
        : malformedRequest(status, (err as FastifyError).code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(err.message)
          ? 'The request body is not valid JSON.'
          : 'The request is not valid.'));
    }
    if (isDatabaseDown(err)) {
      request.log.error({ err: safeError(err) }, 'database unavailable');
      return send(reply.header('retry-after', '5'), unavailable());
    }
    request.log.error({ err: safeError(err) }, 'unhandled error');
    return send(reply, internal());
  });
  app.setNotFoundHandler((_request, reply) => {
    const e = notFound('There is nothing at this address.');
    return reply.status(e.status).send({ error: e.code, message: e.message });
  });
}

/** Refuses state-changing requests sent by a page of another origin (login CSRF and friends). */
export function installOriginCheck(app: FastifyInstance, publicUrl: string, exempt: (url: string) => boolean = () => false): void {
  const origin = new URL(publicUrl).origin;
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    if (exempt(request.url)) return;
    const sent = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    // Under Referrer-Policy: no-referrer a browser sends `Origin: null` on our own form posts; the
    // browser-set (unforgeable) Sec-Fetch-Site then tells whether the form was ours.
    if (sent === 'null' && site === 'same-origin') return;
    if (sent !== undefined && sent !== origin) throw csrfFailed();
    if (sent === undefined && site === 'cross-site') throw csrfFailed();
  });
}

/** Secrets never reach a log line: query values of token-like parameters are masked. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|code|ticket|password)=)[^&#]*/gi, '$1[redacted]');
}

export const logRedactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-mfa-ticket"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.code',
  '*.newPassword',
  '*.currentPassword',
  '*.ticket',
  '*.secret',
  '*.recoveryCodes',
];

export function loggerOptions(level: string) {
  return {
    level,
    redact: { paths: logRedactPaths, censor: '[redacted]' },
    serializers: {
      req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), ip: req.ip }),
      res: (res: FastifyReply) => ({ statusCode: res.statusCode }),
    },
  };
}
