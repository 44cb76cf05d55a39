// The HTTP channel of the outbox: one POST per attempt. The body is not stored: the feature that
// queued the row registers a preparer for its kind, which builds (and signs) the body at send time
// from the sealed payload — a back-channel logout token's `iat`, a webhook's timestamp signature.
import type { LookupFunction } from 'node:net';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DestinationRefused, resolveDestination, systemResolver, type AllowList, type ResolvedAddress, type Resolver } from './ssrf.ts';

export interface PreparedRequest {
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

/** Builds the request of one attempt. Throw PermanentDeliveryError to give the delivery up. */
export type HttpPreparer = (payload: unknown, attempt: { id: string; attempts: number }) => Promise<PreparedRequest>;

/** What one attempt came to, for a kind that keeps its own log of attempts (webhooks). */
export interface AttemptOutcome {
  /** The attempt's number (1 for the first). */
  attempt: number;
  at: Date;
  /** delivered (2xx), retry (queued again after a backoff) or failed (given up). */
  outcome: 'delivered' | 'retry' | 'failed';
  /** Why it was given up: the receiver or a preparer refused for good, or the retry window ended. */
  cause?: 'refused' | 'retry_window_ended';
  status: number | null;
  /** The first 1 KiB of the answer's body. */
  body: string | null;
  error: string | null;
}

export interface DeliveryHooks {
  /** Called after every attempt has been recorded on the row; an error here is logged, never retried. */
  onAttempt?(rowId: string, outcome: AttemptOutcome): Promise<void>;
}

/**
 * The kinds of HTTP delivery and who prepares each: features register theirs while the app is
 * built (`ctx.deliveries.register('backchannel_logout', …)`); the worker asks at send time.
 */
export class DeliveryKinds {
  private readonly preparers = new Map<string, HttpPreparer>();
  private readonly hooks = new Map<string, DeliveryHooks>();

  register(kind: string, preparer: HttpPreparer, hooks: DeliveryHooks = {}): void {
    if (this.preparers.has(kind)) throw new Error(`delivery kind "${kind}" is registered twice`);
    this.preparers.set(kind, preparer);
    this.hooks.set(kind, hooks);
  }

  preparerOf(kind: string): HttpPreparer | undefined {
    return this.preparers.get(kind);
  }

  hooksOf(kind: string): DeliveryHooks | undefined {
    return this.hooks.get(kind);
  }
}

/** Retrying cannot help: the receiver refused for good, the destination is forbidden, or a preparer said so. */
export class PermanentDeliveryError extends Error {}

/** One attempt that did not end in a 2xx; `permanent` says whether retrying can help. */
export class HttpDeliveryError extends Error {
  constructor(message: string, readonly permanent: boolean, readonly status: number | null = null, readonly responseBody: string | null = null) {
    super(message);
  }
}

export interface HttpAnswer { status: number; body: string; }

export const RESPONSE_BODY_BYTES = 1024;
export const HTTP_TIMEOUT_MS = 10_000;

/** 2xx delivered; 408, 429 and 5xx worth another try; anything else refused for good. */
export const isRetryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** The URL as it may be shown or logged: no query string (it may carry a token), no fragment. */
export function displayUrl(value: string): string {
  try {
    const url = new URL(value);
    url.search = '';
    url.hash = '';
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return value.split(/[?#]/)[0]!;
  }
}

/** Connects to the address that was checked, whatever the name resolves to by now. */
const pinnedLookup = (to: ResolvedAddress): LookupFunction => (_hostname, options, callback) => {
  if (options.all) callback(null, [{ address: to.address, family: to.family }]);
  else callback(null, to.address, to.family);
};

export interface PostOptions {
  allowed: AllowList;
  timeoutMs?: number;
  resolve?: Resolver;
}

/**
 * POSTs one prepared request: checks the destination (ssrf.ts), connects to the checked address,
 * and answers the status and the first 1 KiB of the body on 2xx; throws HttpDeliveryError otherwise.
 * Redirects are not followed.
 */
export async function postOnce(url: URL, prepared: PreparedRequest, options: PostOptions): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? HTTP_TIMEOUT_MS;
  let to: ResolvedAddress;
  try {
    to = await resolveDestination(url, options.allowed, options.resolve ?? systemResolver);
  } catch (e) {
    if (e instanceof DestinationRefused) throw new HttpDeliveryError(e.message, true);
    throw new HttpDeliveryError(`could not resolve ${url.hostname}: ${(e as Error).message}`, false);
  }
  const answer = await send(url, to, prepared, timeoutMs);
  if (answer.status >= 200 && answer.status < 300) return answer;
  const redirect = answer.status >= 300 && answer.status < 400 ? ' (redirects are not followed)' : '';
  throw new HttpDeliveryError(`HTTP ${answer.status}${redirect}`, !isRetryableStatus(answer.status), answer.status, answer.body);
}

function send(url: URL, to: ResolvedAddress, prepared: PreparedRequest, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let status: number | null = null;
    const chunks: Buffer[] = [];
    let size = 0;
    const text = () => Buffer.concat(chunks).subarray(0, RESPONSE_BODY_BYTES).toString('utf8').replace(/\0/g, '');
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      // An answer whose status came in time counts, even if its body is slow.
      if (status !== null) settle(() => resolve({ status: status!, body: text() }));
      else settle(() => reject(new HttpDeliveryError(`no answer within ${Math.round(timeoutMs / 1000)} s`, false)));
      req?.destroy();
    }, timeoutMs);
    const body = Buffer.from(prepared.body, 'utf8');
    let req: ReturnType<typeof httpRequest> | undefined;
    try {
      req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: false, // a fresh connection per attempt, to the address just checked
        lookup: pinnedLookup(to),
        headers: { 'user-agent': 'Keyturn', ...prepared.headers, 'content-type': prepared.contentType, 'content-length': String(body.length) },
      }, (res: IncomingMessage) => {
        status = res.statusCode ?? 0;
        const done = () => settle(() => resolve({ status: status!, body: text() }));
        res.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_BODY_BYTES) { chunks.push(chunk); size += chunk.length; }
          if (size >= RESPONSE_BODY_BYTES) { done(); res.destroy(); }
        });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
    } catch (e) {
      settle(() => reject(new HttpDeliveryError(`the request could not be built: ${(e as Error).message}`, true)));
      return;
    }
    req.on('error', (e) => settle(() => reject(new HttpDeliveryError((e as Error).message || String(e), false))));
    req.end(body);
  });
}
