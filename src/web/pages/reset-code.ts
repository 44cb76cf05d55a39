// /reset-password/code: the address plus the 8-character code from the email, for when a link is
// mangled. A right code is kept in the reset cookie and leads to the same form as the link. The
// email's address names the tenant (`?tenant=`) when the code is for one tenant's account: only
// the page's brand and links follow it, the code itself is checked as always.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseEmail } from '../../features/accounts/email.ts';
import { inspectReset } from '../../features/password-reset/flow.ts';
import type { Ctx } from '../../context.ts';
import { brandOfLink } from '../brand.ts';
import { html } from '../html.ts';
import { alert, field, form, links, page, submit } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { formField, messages, redirect, sendPage } from '../respond.ts';
import { outcomePage } from './reset-outcomes.ts';
import { storeProof } from './reset-proof.ts';

interface CodeView { email?: string; code?: string; emailError?: string; codeError?: string; error?: string; }

export async function resetCodePages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {

  const codePage = async (request: FastifyRequest, reply: FastifyReply, v: CodeView, status = 200) => {
    const m = messages(request);
    const { brand } = await brandOfLink(ctx, request);
    const home = brand ? `/t/${brand.slug}` : '';
    return sendPage(request, reply, page({
      m, title: m.codeTitle, brand,
      body: html`${v.error ? alert('error', v.error, 'code-error') : ''}
<p class="lead">${m.codeIntro}</p>
${form(`/reset-password/code${brand ? `?tenant=${brand.slug}` : ''}`, html`
${field({ id: 'email', name: 'email', label: m.email, type: 'email', autocomplete: 'username', value: v.email ?? '', error: v.emailError })}
${field({
  // "off", not "one-time-code": a browser restores a field's value on Back unless autocomplete is off,
  // and after a reset that would put the spent code (and its form) in front of the reader again.
  id: 'code', name: 'code', label: m.codeLabel, type: 'text', autocomplete: 'off', value: v.code ?? '', hint: m.codeHint, error: v.codeError,
  attrs: html` class="code" maxlength="20" autocapitalize="characters"`,
})}
${submit(m.continue)}`)}
${links([{ href: `${home}/forgot-password`, label: m.requestNew }, { href: `${home}/login`, label: m.backToSignIn }])}`,
    }), status);
  };

  app.get('/reset-password/code', (request, reply) => codePage(request, reply, {}));

  app.post('/reset-password/code', async (request, reply) => {
    const m = messages(request);
    const typed = formField(request, 'email');
    const code = formField(request, 'code').trim().slice(0, 20);
    const email = parseEmail(typed);
    if (!email) return codePage(request, reply, { email: typed.slice(0, 254), code, emailError: m.invalidEmail }, 400);
    if (!/^[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}$/.test(code)) return codePage(request, reply, { email, code, codeError: m.codeWrong }, 400);
    try {
      await inspectReset(ctx, { email, code }, request.ip);
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => codePage(request, reply, { email, code, error }, status),
        codes: { token_invalid: () => codePage(request, reply, { email, code: '', codeError: m.codeWrong }, 404) },
        status: { 410: async (e) => outcomePage(ctx, request, reply, e, { email, byCode: true, ...(await brandOfLink(ctx, request)) }) },
      });
    }
    storeProof(ctx, reply, { email, code });
    return redirect(reply, '/reset-password');
  });
}
