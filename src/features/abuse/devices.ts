// Trusted devices (OWASP Authentication Cheat Sheet, "device cookies"): a browser that has signed
// in to an address before carries a signed entry for it and gets a failure budget of its own. A
// stranger who spends the address's budget then stops only browsers the address has never used;
// the owner's own browser, or one the owner trusts from the unlock email, goes on signing in.
//
// The cookie holds up to MAX_ENTRIES entries `nonce.signature`, newest first (shared desktops on a
// contact-centre floor serve several people). The signature binds the nonce to the canonical
// address under the server secret, so an entry is worth nothing for another address and cannot be
// forged; no address is in the cookie.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { randomToken, Secrets } from '../../platform/crypto.ts';

export const DEVICE_COOKIE = 'keyturn_device';
const MAX_ENTRIES = 10;
const LIFETIME_MS = 180 * 86_400_000;
const ENTRY = /^[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{43}$/;

export class Devices {
  constructor(private readonly secrets: Secrets) {}

  private sign(email: string, nonce: string): string {
    return this.secrets.hash('device', `${email}\0${nonce}`);
  }

  private entries(cookie: string | undefined): string[] {
    return (cookie ?? '').split('~').filter((e) => ENTRY.test(e)).slice(0, MAX_ENTRIES);
  }

  /** The id of this browser for the (canonical) address, when the cookie holds a valid entry for it. */
  idFor(cookie: string | undefined, email: string): string | null {
    for (const entry of this.entries(cookie)) {
      const [nonce, signature] = entry.split('.') as [string, string];
      if (Secrets.equal(signature, this.sign(email, nonce))) return nonce;
    }
    return null;
  }

  /** The cookie with this address's entry first (kept if it had one, new otherwise). */
  remember(cookie: string | undefined, email: string): string {
    const own = this.idFor(cookie, email);
    const nonce = own ?? randomToken(16);
    const mine = `${nonce}.${this.sign(email, nonce)}`;
    return [mine, ...this.entries(cookie).filter((e) => e !== mine)].slice(0, MAX_ENTRIES).join('~');
  }
}

export const deviceCookieOf = (request: FastifyRequest): string | undefined => request.cookies[DEVICE_COOKIE];

export function setDeviceCookie(ctx: Pick<Ctx, 'config'>, reply: FastifyReply, value: string): void {
  reply.setCookie(DEVICE_COOKIE, value, {
    path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.config.publicUrl.startsWith('https:'), maxAge: LIFETIME_MS / 1000,
  });
}
