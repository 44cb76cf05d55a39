// /login/unlock: the link in the "sign-in was paused" email. Opening it (GET) changes nothing —
// mail scanners open links; one click POSTs, spends the link and makes this browser a trusted
// device for the address (features/abuse/devices.ts), which has a failure budget of its own.
import type { FastifyInstance } from 'fastify';
import { Devices, deviceCookieOf, setDeviceCookie } from '../../features/abuse/devices.ts';
import { redeemUnlock } from '../../features/abuse/unlock.ts';
import type { Ctx } from '../../context.ts';
import { brandOfLink } from '../brand.ts';
import { html } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, linkButton, page } from '../layout.ts';
import { messages, redirect, sendPage } from '../respond.ts';
import { confirmationPage, postedToken, type EmailedLink } from './emailed-link.ts';

export async function unlockPages(app: FastifyInstance, { ctx }: { ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'secrets'> }) {
  const link = (m: Messages): EmailedLink => ({ action: '/login/unlock', title: m.unlockTitle, text: m.unlockIntro, button: m.unlockButton, maxTokenLength: 100 });

  app.get('/login/unlock', async (request, reply) => confirmationPage(request, reply, link(messages(request)), (await brandOfLink(ctx, request)).brand));

  app.post('/login/unlock', async (request, reply) => {
    const m = messages(request);
    const token = postedToken(request, link(m));
    const email = token !== null ? await redeemUnlock(ctx, token) : null;
    const { brand } = await brandOfLink(ctx, request);
    const login = brand ? `/t/${brand.slug}/login` : '/login';
    if (!email) {
      return sendPage(request, reply, page({
        m, title: m.unlockGoneTitle, brand, body: html`${alert('error', m.unlockGoneText)}${linkButton(login, m.backToSignIn, 'secondary')}`,
      }), 410);
    }
    setDeviceCookie(ctx, reply, new Devices(ctx.secrets).remember(deviceCookieOf(request), email));
    return redirect(reply, `${login}?unlocked=1`);
  });
}
