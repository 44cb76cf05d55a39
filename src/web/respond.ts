// How page handlers answer: HTML that is never cached, in the reader's language; redirects after
// a successful POST (POST-redirect-GET); form fields read defensively.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { allowImagesFrom } from '../platform/security-headers.ts';
import type { Html } from './html.ts';
import { PageHtml } from './layout.ts';
import { messagesFor, minutesText, type Messages } from './i18n/index.ts';

export const messages = (request: FastifyRequest): Messages => messagesFor(request.headers['accept-language']);

export function sendPage(request: FastifyRequest, reply: FastifyReply, body: Html, status = 200): FastifyReply {
  const m = messages(request);
  // A tenant's logo on another origin: images from there are allowed on this page, and no other.
  if (body instanceof PageHtml && body.imageOrigin) {
    reply.header('content-security-policy', allowImagesFrom(String(reply.getHeader('content-security-policy') ?? ''), body.imageOrigin));
  }
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('vary', 'Accept-Language, Cookie')
    .header('content-language', m.lang)
    .send(body.value);
}

/** 303 so the browser follows with a GET, and reload never re-posts. */
export function redirect(reply: FastifyReply, to: string): FastifyReply {
  return reply.header('cache-control', 'no-store').redirect(to, 303);
}

type Body = Record<string, unknown> | undefined;

/** One string field of a urlencoded form ('' when missing or not a string). */
export function formField(request: FastifyRequest, name: string): string {
  const v = (request.body as Body)?.[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return '';
}

/** A repeated field (checkboxes) as a list of strings. */
export function formList(request: FastifyRequest, name: string): string[] {
  const v = (request.body as Body)?.[name];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** A link to `path` carrying the fields that are set (a page's filters): `/admin?role=member`. */
export function hrefWith(path: string, fields: Record<string, string>): string {
  const query = new URLSearchParams(Object.entries(fields).filter(([, v]) => v !== ''));
  return `${path}${query.size ? `?${query}` : ''}`;
}

export function queryField(request: FastifyRequest, name: string): string {
  const v = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

/** A local path to go to after sign-in; anything else (other hosts, //, \) falls back. */
export function safeNext(next: string, fallback = '/account'): string {
  return /^\/(?![/\\])[A-Za-z0-9/_\-?=&.%]*$/.test(next) ? next : fallback;
}

/** The 429 sentence in the reader's language, or null when the error is not a rate limit. */
export function rateLimitMessage(m: Messages, err: unknown): string | null {
  if (!(err instanceof AppError) || err.status !== 429) return null;
  const seconds = typeof err.extra.retryAfter === 'number' ? err.extra.retryAfter : 60;
  return m.tooMany(minutesText(m, seconds));
}

export const isAppError = (err: unknown, code?: string): err is AppError =>
  err instanceof AppError && (code === undefined || err.code === code);

/** Copies an AppError's headers (Retry-After) onto the page's reply. */
export function errorHeaders(reply: FastifyReply, err: unknown): void {
  if (err instanceof AppError) for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
}
