// webPages: the hosted pages (sign-in, forgot, reset by link or code, settings, dev mailbox) and
// their assets. Pages call the same feature functions as the JSON API and never duplicate them.
// Errors inside these routes become HTML pages; a page never shows a stack.
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import type { Ctx } from '../context.ts';
import { refuseNul, safeError } from '../platform/http.ts';
import { assetRoutes } from './assets.ts';
import { brandRoutes } from './brand.ts';
import { compressText } from './compress.ts';
import { faviconRoutes } from './favicon.ts';
import { html } from './html.ts';
import { alert, linkButton, page } from './layout.ts';
import { adminPages } from './pages/admin.ts';
import { forgotPages } from './pages/forgot.ts';
import { lockPages } from './pages/lock.ts';
import { loginPages } from './pages/login.ts';
import { mailboxPages } from './pages/mailbox.ts';
import { unlockPages } from './pages/unlock.ts';
import { notFoundPage } from './pages/not-found.ts';
import { resetCodePages } from './pages/reset-code.ts';
import { resetPages } from './pages/reset.ts';
import { secondStepPages } from './pages/second-step.ts';
import { settingsPages } from './pages/settings.ts';
import { securityPages } from './pages/security.ts';
import { sessionsPages } from './pages/sessions.ts';
import { errorHeaders, messages, rateLimitMessage, sendPage } from './respond.ts';

export async function webPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
    const m = messages(request);
    const limited = rateLimitMessage(m, err);
    if (limited) {
      errorHeaders(reply, err);
      return sendPage(request, reply, page({ m, title: m.errorHeading, body: alert('error', limited) }), 429);
    }
    const status = err instanceof AppError ? err.status : (err as FastifyError).statusCode ?? 500;
    if (status === 404) return notFoundPage(request, reply);
    if (status >= 400 && status < 500) {
      // A form from another origin, a stale CSRF token, a body that is not a form.
      const text = status === 403 ? m.formExpired : m.requestInvalid;
      return sendPage(request, reply, page({ m, title: m.errorHeading, body: html`${alert('error', text)}${linkButton('/login', m.backToSignIn, 'secondary')}` }), status);
    }
    request.log.error({ err: safeError(err) }, 'page failed'); // a query error holds what was typed
    return sendPage(request, reply, page({ m, title: m.errorHeading, body: alert('error', m.genericError) }), 500);
  });

  // Every page input in one place, before a handler (or the console's door) passes it to a query: a
  // NUL is a 400 page. The request line and cookies on arrival, the form once it is read. Only our
  // own cookies: one that another app on this host set is never read.
  app.addHook('onRequest', async (request) => {
    const cookies = Object.entries(request.cookies).filter(([name]) => name.startsWith('keyturn_'));
    refuseNul({ params: request.params, query: request.query, cookies: Object.fromEntries(cookies) });
  });
  app.addHook('preValidation', async (request) => { refuseNul({ form: request.body }); });

  app.addHook('onSend', compressText); // HTML, CSS and JS over 1 KiB, as brotli or gzip (compress.ts)
  await app.register(assetRoutes);
  await app.register(faviconRoutes);
  for (const pages of [brandRoutes, loginPages, secondStepPages, forgotPages, resetPages, resetCodePages, settingsPages, securityPages, sessionsPages, lockPages, mailboxPages, adminPages, unlockPages]) {
    await app.register(pages, { ctx });
  }
}
