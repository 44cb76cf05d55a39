// /login/unlock: the link in the "sign-in was paused" email. Opening it (GET) changes nothing —
// mail scanners open links; one click POSTs, spends the link and makes this browser a trusted
// device for the address (features/abuse/devices.ts), which has a failure budget of its own.
import type { FastifyInstance } from 'fastify';
import { Devices, deviceCookieOf, setDeviceCookie } from '../../features/abuse/devices.ts';
import { redeemUnlock } from '../../features/abuse/unlock.ts';
import type { Ctx } from '../../context.ts';
import { html } from '../html.ts';
import { alert, form, linkButton, page, submit } from '../layout.ts';
import { formField, messages, queryField, redirect, sendPage } from '../respond.ts';

export async function unlockPages(app: FastifyInstance, { ctx }: { ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'secrets'> }) {
  app.get('/login/unlock', async (request, reply) => {
    const m = messages(request);
    const token = queryField(request, 'token');
    return sendPage(request, reply, page({
      m, title: m.unlockTitle,
      body: html`<p>${m.unlockIntro}</p>${form('/login/unlock', html`<input type="hidden" name="token" value="${token}">${submit(m.unlockButton)}`)}`,
    }));
  });

  app.post('/login/unlock', async (request, reply) => {
    const m = messages(request);
    const token = formField(request, 'token');
    const email = token.length > 0 && token.length <= 100 ? await redeemUnlock(ctx, token) : null;
    if (!email) {
      return sendPage(request, reply, page({
        m, title: m.unlockGoneTitle, body: html`${alert('error', m.unlockGoneText)}${linkButton('/login', m.backToSignIn, 'secondary')}`,
      }), 410);
    }
    setDeviceCookie(reply, new Devices(ctx.secrets).remember(deviceCookieOf(request), email), ctx.config.publicUrl.startsWith('https:'));
    return redirect(reply, '/login?unlocked=1');
  });
}
