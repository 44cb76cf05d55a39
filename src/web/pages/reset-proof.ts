// Where the reset page keeps its proof between requests: an HttpOnly, SameSite=Strict cookie
// scoped to /reset-password that lives 30 minutes. The token leaves the URL on first open, so it
// is not in the history, a Referer or an access log afterwards. The code path uses the same
// cookie, so one form serves both proofs.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ResetProof } from '../../features/password-reset/flow.ts';
import type { Ctx } from '../../context.ts';
import { refuseNul } from '../../platform/http.ts';

export const RESET_COOKIE = 'keyturn_reset';
const PATH = '/reset-password';
const MAX_AGE_SECONDS = 30 * 60;

const TOKEN = /^[A-Za-z0-9_-]{20,100}$/;

/** A token of the right shape (the lookup decides whether it is real). */
export const plausibleToken = (token: string) => TOKEN.test(token);

const options = (ctx: Pick<Ctx, 'config'>) => ({
  path: PATH,
  httpOnly: true,
  sameSite: 'strict' as const,
  secure: ctx.config.publicUrl.startsWith('https:'),
});

export function storeProof(ctx: Pick<Ctx, 'config'>, reply: FastifyReply, proof: ResetProof): void {
  const value = 'token' in proof
    ? `t.${proof.token}`
    : `c.${Buffer.from(proof.email, 'utf8').toString('base64url')}.${proof.code.replace(/[^A-Za-z0-9]/g, '')}`;
  reply.setCookie(RESET_COOKIE, value, { ...options(ctx), maxAge: MAX_AGE_SECONDS });
  reply.clearCookie(DONE_COOKIE, options(ctx)); // a new proof: the last reset's "done" no longer applies
}

export function readProof(request: FastifyRequest): ResetProof | null {
  const value = request.cookies[RESET_COOKIE];
  if (!value) return null;
  const [kind, a, b] = value.split('.');
  if (kind === 't' && a !== undefined && (a === '' || plausibleToken(a))) return { token: a }; // '' = a mangled link
  if (kind === 'c' && a && b) {
    const email = Buffer.from(a, 'base64url').toString('utf8');
    refuseNul(email, RESET_COOKIE); // decoded here, after the pages' check of what was sent
    return { email, code: b };
  }
  return null;
}

export function clearProof(ctx: Pick<Ctx, 'config'>, reply: FastifyReply): void {
  reply.clearCookie(RESET_COOKIE, options(ctx));
}

// After a successful reset the proof goes, and this marker takes its place (same scope and
// lifetime, no secret: only the tenant the sign-in button leads to, '' for several). Back from
// /reset-password/done then lands on /reset-password showing "Your password has been reset", not
// "Open the link from your email" with a way back to the form the spent code was typed in.
const DONE_COOKIE = 'keyturn_reset_done';

export function markDone(ctx: Pick<Ctx, 'config'>, reply: FastifyReply, tenant: string | undefined): void {
  reply.setCookie(DONE_COOKIE, tenant ?? '-', { ...options(ctx), maxAge: MAX_AGE_SECONDS });
}

/** The finished reset's marker: { tenant } ('' when several were reset), or null. */
export function readDone(request: FastifyRequest): { tenant: string } | null {
  const value = request.cookies[DONE_COOKIE];
  if (value === undefined) return null;
  return { tenant: value === '-' ? '' : value };
}
