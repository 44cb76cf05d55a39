// The HTML 404 for page routes (unknown tenant slug, unknown mailbox message).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html } from '../html.ts';
import { page } from '../layout.ts';
import { messages, sendPage } from '../respond.ts';

export function notFoundPage(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const m = messages(request);
  return sendPage(request, reply, page({ m, title: m.notFoundTitle, body: html`<p>${m.notFoundText}</p>` }), 404);
}
