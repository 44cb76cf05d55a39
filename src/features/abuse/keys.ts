// What a limit counts by. Spellings that reach the same account count as one (canonicalEmail:
// spaces, case, Unicode compatibility forms); addresses one client can rotate through count as one
// (an IPv6 /64, IPv4-mapped IPv6). Keys are keyed hashes, so no address or IP sits in Redis or the
// rate_limits table in the clear.
import { isIPv4, isIPv6 } from 'node:net';
import type { Secrets } from '../../platform/crypto.ts';
import { canonicalEmail } from '../accounts/email.ts';

/** The client IP as a limit sees it: IPv4 as is, IPv6 as its /64 network. */
export function ipSubject(ip: string): string {
  const bare = ip.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(bare)) return bare;
  const groups = isIPv6(bare) ? expandIpv6(bare) : null;
  if (!groups) return `other:${bare.toLowerCase()}`;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** Eight 16-bit groups of an IPv6 address (handles `::` and a trailing dotted IPv4). */
function expandIpv6(ip: string): number[] | null {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return null;
  const groups = [...left, ...Array<number>(fill).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** The account as a limit sees it: every spelling that finds the same account. */
export const accountSubject = (email: string): string => canonicalEmail(email);

/** A tenant, or "*" when the request names none (it may reach every tenant). */
export const tenantSubject = (slug: string | undefined | null): string => (slug ? slug.toLowerCase() : '*');

/** Derives the hashed keys the limits use. */
export class LimitKeys {
  constructor(private readonly secrets: Secrets) {}
  private h(kind: string, subject: string) { return this.secrets.hash('rate-limit', `${kind}\0${subject}`); }
  ip(ip: string) { return this.h('ip', ipSubject(ip)); }
  account(email: string) { return this.h('account', accountSubject(email)); }
  accountIp(email: string, ip: string) { return this.h('account+ip', `${accountSubject(email)}\0${ipSubject(ip)}`); }
  tenant(slug: string | undefined | null) { return this.h('tenant', tenantSubject(slug)); }
  user(id: string) { return this.h('user', id); }
  /** A trusted browser (device cookie entry), already bound to one address. */
  device(id: string) { return this.h('device', id); }
  captcha(id: string) { return this.h('captcha', id); }
}
