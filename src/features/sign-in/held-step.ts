// A browser's second step between pages. The hosted pages never put the ticket in a URL or in the
// HTML: the step waits in one sealed, HttpOnly, five-minute cookie that also holds the binding the
// ticket was issued for, so the ticket works only in the browser that proved the first factor.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { randomToken } from '../../platform/crypto.ts';
import { TICKET_TTL_MS } from '../mfa/tickets.ts';
import type { SecondStep } from './signed-in.ts';

export const SECOND_STEP_COOKIE = 'keyturn_second_step';

export interface HeldStep {
  ticket: string;
  binding: string;
  kind: SecondStep['kind'];
  /** Where the browser goes once signed in (a path on PUBLIC_URL). */
  returnTo?: string;
}

/** A fresh binding for a browser's sign-in: passed to signIn, kept in the cookie if a second step follows. */
export const newBinding = () => randomToken(18);

const cookieOptions = (ctx: Pick<Ctx, 'config'>) =>
  ({ path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.config.publicUrl.startsWith('https:') }) as const;

/** Keeps the step in the cookie; returns the page that continues it (/login/verify or /login/enroll). */
export function holdSecondStep(ctx: Pick<Ctx, 'config' | 'secrets'>, reply: FastifyReply, step: SecondStep, binding: string, returnTo?: string): string {
  const held: HeldStep = { ticket: step.ticket, binding, kind: step.kind, ...(returnTo ? { returnTo } : {}) };
  reply.setCookie(SECOND_STEP_COOKIE, ctx.secrets.seal(JSON.stringify(held)), { ...cookieOptions(ctx), maxAge: TICKET_TTL_MS / 1000 });
  return `${ctx.config.publicUrl}${step.kind === 'mfa-required' ? '/login/verify' : '/login/enroll'}`;
}

/** The step this browser holds, or null (none, expired, or not one we sealed). */
export function heldSecondStep(ctx: Pick<Ctx, 'secrets'>, request: FastifyRequest): HeldStep | null {
  const raw = request.cookies[SECOND_STEP_COOKIE];
  if (!raw) return null;
  try {
    const held = JSON.parse(ctx.secrets.open(raw)) as HeldStep;
    return typeof held.ticket === 'string' && typeof held.binding === 'string' ? held : null;
  } catch {
    return null;
  }
}

export function clearSecondStep(ctx: Pick<Ctx, 'config'>, reply: FastifyReply): void {
  reply.clearCookie(SECOND_STEP_COOKIE, cookieOptions(ctx));
}
