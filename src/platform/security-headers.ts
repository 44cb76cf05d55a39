// The security headers of every answer on the public listener, computed once at start-up. They
// are helmet's defaults with our CSP and no-referrer; @fastify/helmet rebuilt them on every
// request, a fifth of a session check's CPU.
import type { FastifyInstance } from 'fastify';

export function securityHeaders(publicUrl: string): Record<string, string> {
  const https = publicUrl.startsWith('https:');
  const csp = [
    "default-src 'self'", "base-uri 'none'", "font-src 'self' https: data:", "form-action 'self'", "frame-ancestors 'none'",
    "img-src 'self' data:", "object-src 'none'", "script-src 'self'", "script-src-attr 'none'", "style-src 'self'",
    ...(https ? ['upgrade-insecure-requests'] : []),
  ].join(';');
  return {
    'content-security-policy': csp,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    // Pages carry tokens in their address (the reset link): never pass it on to another site.
    'referrer-policy': 'no-referrer',
    ...(https ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  };
}

/** The policy with images also allowed from `origin` (a tenant's logo, checked when it was saved). */
export function allowImagesFrom(csp: string, origin: string): string {
  return csp.replace(/(^|;)img-src ([^;]*)/, (_all, start: string, sources: string) => `${start}img-src ${sources} ${origin}`);
}

/** Sets them first thing, so a route can still override one (the dev mailbox's framed CSP). */
export function installSecurityHeaders(app: FastifyInstance, publicUrl: string): void {
  const headers = securityHeaders(publicUrl);
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
