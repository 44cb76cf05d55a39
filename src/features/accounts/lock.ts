// "This wasn't me": the link in the password-changed notice locks the account, revokes every
// session and every pending reset link. Opening the link (GET) changes nothing: mail scanners open
// links; the page asks for one click, which POSTs.
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../platform/context.ts';
import { esc } from '../../platform/html.ts';
import { enqueueMail } from '../../platform/mail/outbox.ts';
import { lockTokens, tenants, users } from '../../platform/schema.ts';
import { audit } from '../audit/audit.ts';
import { accountLockedEmail } from '../password-reset/emails/messages.ts';
import { revokeTokensFor } from '../password-reset/store.ts';
import { revokeSessions } from '../sessions/sessions.ts';
import { mailBrandOf, senderOf } from '../tenants/settings.ts';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

export async function lockAccount(ctx: Ctx, token: string, ip: string): Promise<boolean> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    // Single use: only an unused, unexpired link matches.
    const [link] = await tx
      .update(lockTokens)
      .set({ usedAt: now })
      .where(and(eq(lockTokens.tokenHash, ctx.secrets.hash('lock', token)), isNull(lockTokens.usedAt), gt(lockTokens.expiresAt, now)))
      .returning({ userId: lockTokens.userId });
    if (!link) return false;
    const [row] = await tx.select({ user: users, tenant: tenants }).from(users)
      .innerJoin(tenants, eq(tenants.id, users.tenantId)).where(eq(users.id, link.userId));
    if (!row) return false;
    await tx.update(users).set({ lockedAt: now }).where(eq(users.id, row.user.id));
    await revokeSessions(tx, now, [row.user.id], 'account_locked');
    await revokeTokensFor(tx, row.user.emailCanonical, row.tenant.id, now, 'account_locked');
    await audit(tx, { type: 'user', id: row.user.id, ip }, now, { type: 'user_locked', tenantId: row.tenant.id, userId: row.user.id, data: { via: 'this_wasnt_me', sessionsRevoked: 'all' } });
    await enqueueMail(tx, ctx.secrets, ctx.clock, {
      ...accountLockedEmail({ tenantName: row.tenant.name, at: now, brand: mailBrandOf(row.tenant) }),
      kind: 'account_locked', to: row.user.email, tenantId: row.tenant.id, userId: row.user.id, from: senderOf(ctx.config.mailFrom, row.tenant),
    });
    return true;
  });
}

export async function accountLockRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.get('/account/lock', async (request, reply) => {
    const { token } = (request.query ?? {}) as { token?: string };
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
    return page('Lock your account?', `<p>Locking signs everybody out of this account and stops every reset link. Your administrator will have to unlock it.</p>
<form method="post" action="/account/lock"><input type="hidden" name="token" value="${esc(token ?? '')}"><button type="submit">Lock my account</button></form>`);
  });

  app.post('/account/lock', async (request, reply) => {
    const body = z.object({ token: z.string().max(200) }).safeParse(request.body);
    const ok = body.success && (await lockAccount(ctx, body.data.token, request.ip));
    if (ok) ctx.worker.kick();
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
    if (!ok) return reply.status(410).send(page('This link no longer works', '<p>It was already used or has expired. If you think someone else is in your account, contact your administrator.</p>'));
    return page('Your account is locked', '<p>Everybody was signed out and all reset links stopped working. Contact your administrator to unlock it.</p>');
  });
}
