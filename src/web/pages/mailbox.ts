// /dev/mailbox: the messages the dev mailbox caught, newest first, each shown as it would render.
// Registered only when mail goes to the dev mailbox. The message HTML is served from its own route
// with a CSP that allows no script and a sandboxed frame, so a mail cannot act on this origin;
// links open in the top window, so a newcomer can click "Reset password" right here.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../context.ts';
import { DevMailbox } from '../../platform/mail/dev-mailbox.ts';
import { html } from '../html.ts';
import { links, page, time } from '../layout.ts';
import { messages, sendPage } from '../respond.ts';
import { notFoundPage } from './not-found.ts';

const FRAME_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "frame-ancestors 'self'",
  "form-action 'none'",
  'sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation',
].join('; ');

/** Links inside the message open in the whole window, not inside the frame. */
function withTopTarget(mailHtml: string): string {
  const base = '<base target="_top">';
  return /<head[^>]*>/i.test(mailHtml) ? mailHtml.replace(/<head[^>]*>/i, (h) => h + base) : base + mailHtml;
}

export async function mailboxPages(app: FastifyInstance, { ctx }: { ctx: Pick<Ctx, 'clock' | 'config' | 'transport'> }) {
  const box = ctx.transport;
  if (!(box instanceof DevMailbox) || ctx.config.env === 'production') return;

  app.get('/dev/mailbox', async (request, reply) => {
    const m = messages(request);
    const now = ctx.clock.now();
    const list = await box.list();
    const table = list.length === 0
      ? html`<p>${m.mailboxEmpty}</p>`
      : html`<div class="table-wrap"><table>
<thead><tr><th scope="col">${m.mailboxReceived}</th><th scope="col">${m.mailboxTo}</th><th scope="col">${m.mailboxSubject}</th></tr></thead>
<tbody>
${list.map((e) => html`<tr><td class="nowrap">${time(m, new Date(e.receivedAt), now)}</td><td>${e.to}</td><td><a href="/dev/mailbox/${e.id}">${e.subject}</a></td></tr>
`)}</tbody></table></div>`;
    return sendPage(request, reply, page({
      m, title: m.mailboxTitle, wide: true,
      body: html`<p class="lead">${m.mailboxIntro}</p>${table}${links([{ href: '/dev/mailbox', label: m.mailboxRefresh }])}`,
    }));
  });

  app.get<{ Params: { id: string } }>('/dev/mailbox/:id', async (request, reply) => {
    const m = messages(request);
    const mail = await box.get(request.params.id);
    if (!mail) return notFoundPage(request, reply);
    return sendPage(request, reply, page({
      m, title: mail.subject, wide: true,
      body: html`<dl class="mail-meta">
<dt>${m.mailboxFrom}</dt><dd>${mail.from}</dd>
<dt>${m.mailboxTo}</dt><dd>${mail.to}</dd>
<dt>${m.mailboxReceived}</dt><dd>${time(m, new Date(mail.receivedAt), ctx.clock.now())}</dd>
</dl>
<iframe class="mail-frame" src="/dev/mailbox/${mail.id}/html" title="${m.mailboxPreview}" sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"></iframe>
<details><summary>${m.mailboxPlain}</summary><pre>${mail.text}</pre></details>
${links([{ href: '/dev/mailbox', label: m.mailboxAll }])}`,
    }));
  });

  app.get<{ Params: { id: string } }>('/dev/mailbox/:id/html', async (request, reply) => {
    const mail = await box.get(request.params.id);
    if (!mail) return notFoundPage(request, reply);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', FRAME_CSP)
      .header('x-frame-options', 'SAMEORIGIN')
      .send(withTopTarget(mail.html));
  });
}
