// Links in security emails ("this wasn't me", "sign-in was paused") open a page that changes
// nothing — mail scanners open links — and shows one button; only the click POSTs the token.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html } from '../html.ts';
import { form, page, submit, type PageBrand } from '../layout.ts';
import { formField, messages, queryField, sendPage } from '../respond.ts';

export interface EmailedLink { action: string; title: string; text: string; button: string; maxTokenLength: number; }

/** GET: the one-button page that posts the link's token back to `action`, in the brand of the tenant the link names. */
export function confirmationPage(request: FastifyRequest, reply: FastifyReply, link: EmailedLink, brand?: PageBrand): FastifyReply {
  const token = queryField(request, 'token').slice(0, link.maxTokenLength);
  const action = brand ? `${link.action}?tenant=${brand.slug}` : link.action;
  return sendPage(request, reply, page({
    m: messages(request), title: link.title, brand,
    body: html`<p>${link.text}</p>${form(action, html`<input type="hidden" name="token" value="${token}">${submit(link.button)}`)}`,
  }));
}

/** POST: the token sent by that page, or null when it cannot be one. */
export function postedToken(request: FastifyRequest, link: Pick<EmailedLink, 'maxTokenLength'>): string | null {
  const token = formField(request, 'token');
  return token !== '' && token.length <= link.maxTokenLength ? token : null;
}
