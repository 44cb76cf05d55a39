// /account/lock: the "this wasn't me" link in the password-changed notice. Opening the link (GET)
// changes nothing — mail scanners open links — and shows one button; the click POSTs and locks the
// account (lockAccount: every session and every pending reset link end). A link that was used or
// has expired answers 410.
import type { FastifyInstance } from 'fastify';
import { lockAccount } from '../../features/accounts/lock.ts';
import type { Ctx } from '../../context.ts';
import { html } from '../html.ts';
import { alert, form, page, submit } from '../layout.ts';
import { formField, messages, queryField, sendPage } from '../respond.ts';

/** Lock tokens are randomToken()s; anything much longer is not one. */
const MAX_TOKEN_LENGTH = 200;

export async function lockPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.get('/account/lock', async (request, reply) => {
    const m = messages(request);
    const token = queryField(request, 'token').slice(0, MAX_TOKEN_LENGTH);
    return sendPage(request, reply, page({
      m, title: m.lockTitle,
      body: html`<p>${m.lockText}</p>
${form('/account/lock', html`<input type="hidden" name="token" value="${token}">
${submit(m.lockButton)}`)}`,
    }));
  });

  app.post('/account/lock', async (request, reply) => {
    const m = messages(request);
    const token = formField(request, 'token');
    const locked = token !== '' && token.length <= MAX_TOKEN_LENGTH && (await lockAccount(ctx, token, request.ip));
    if (!locked) return sendPage(request, reply, page({ m, title: m.lockDeadTitle, body: html`<p>${m.lockDeadText}</p>` }), 410);
    ctx.worker.kick(); // the "account locked" email
    return sendPage(request, reply, page({ m, title: m.lockedTitle, body: alert('success', m.lockedText) }));
  });
}
