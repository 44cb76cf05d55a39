// /account/lock: the "this wasn't me" link in the password-changed notice. Opening the link (GET)
// changes nothing — mail scanners open links — and shows one button; the click POSTs and locks the
// account (lockAccount: every session and every pending reset link end). A link that was used or
// has expired answers 410. `?tenant=` in the link dresses the pages in that tenant's brand.
import type { FastifyInstance } from 'fastify';
import { lockAccount } from '../../features/accounts/lock.ts';
import type { Ctx } from '../../context.ts';
import { brandOfLink } from '../brand.ts';
import { html } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, page } from '../layout.ts';
import { messages, sendPage } from '../respond.ts';
import { confirmationPage, postedToken, type EmailedLink } from './emailed-link.ts';

export async function lockPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  // Lock tokens are randomToken()s; anything much longer is not one.
  const link = (m: Messages): EmailedLink => ({ action: '/account/lock', title: m.lockTitle, text: m.lockText, button: m.lockButton, maxTokenLength: 200 });

  app.get('/account/lock', async (request, reply) => confirmationPage(request, reply, link(messages(request)), (await brandOfLink(ctx, request)).brand));

  app.post('/account/lock', async (request, reply) => {
    const m = messages(request);
    const token = postedToken(request, link(m));
    const locked = token !== null && (await lockAccount(ctx, token, request.ip));
    const { brand } = await brandOfLink(ctx, request);
    if (!locked) return sendPage(request, reply, page({ m, title: m.lockDeadTitle, brand, body: html`<p>${m.lockDeadText}</p>` }), 410);
    ctx.worker.kick(); // the "account locked" email
    return sendPage(request, reply, page({ m, title: m.lockedTitle, brand, body: alert('success', m.lockedText) }));
  });
}
