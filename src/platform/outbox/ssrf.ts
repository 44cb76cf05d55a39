// Where Keyturn may send an HTTP request (CONTRACT §10). A webhook URL or a back-channel logout URI
// is typed by someone else, so it could point at our own network: loopback, private ranges, the
// cloud metadata address. Those are refused unless the operator lists the host or the address in
// WEBHOOK_ALLOWED_HOSTS. The check runs on the *resolved* addresses at every attempt, and the
// connection then goes to the address that was checked (http.ts pins it), so a name that resolves
// elsewhere a moment later (DNS rebinding) gains nothing.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

type Family = 'ipv4' | 'ipv6';

/** Ranges no outgoing request may reach unless allowed: [network, prefix, family, the rule's name]. */
const FORBIDDEN: readonly (readonly [string, number, Family, string])[] = [
  ['0.0.0.0', 8, 'ipv4', '"this network" address (0.0.0.0/8)'],
  ['10.0.0.0', 8, 'ipv4', 'private address (10.0.0.0/8)'],
  ['100.64.0.0', 10, 'ipv4', 'shared (CGNAT) address (100.64.0.0/10)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback address (127.0.0.0/8)'],
  ['169.254.0.0', 16, 'ipv4', 'link-local or cloud metadata address (169.254.0.0/16)'],
  ['172.16.0.0', 12, 'ipv4', 'private address (172.16.0.0/12)'],
  ['192.168.0.0', 16, 'ipv4', 'private address (192.168.0.0/16)'],
  ['224.0.0.0', 4, 'ipv4', 'multicast address (224.0.0.0/4)'],
  ['240.0.0.0', 4, 'ipv4', 'reserved or broadcast address (240.0.0.0/4)'],
  ['::', 128, 'ipv6', 'unspecified address (::)'],
  ['::1', 128, 'ipv6', 'loopback address (::1)'],
  ['fc00::', 7, 'ipv6', 'private (unique local) address (fc00::/7)'],
  ['fe80::', 10, 'ipv6', 'link-local address (fe80::/10)'],
  ['fec0::', 10, 'ipv6', 'site-local address (fec0::/10)'],
  ['ff00::', 8, 'ipv6', 'multicast address (ff00::/8)'],
];

const RULES = FORBIDDEN.map(([net, prefix, family, name]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return { list, family, name };
});

const unbracket = (host: string) => host.replace(/^\[(.*)\]$/, '$1');
const withoutZone = (address: string) => address.split('%')[0]!;

function ipv4Bytes(ip: string): number[] | null {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.map(Number);
}

/** The 16 bytes of an IPv6 address (`isIP` already said it is one). */
function ipv6Bytes(ip: string): number[] | null {
  let s = withoutZone(ip);
  let v4: number[] | null = null;
  const last = s.slice(s.lastIndexOf(':') + 1);
  if (last.includes('.')) {
    v4 = ipv4Bytes(last);
    if (!v4) return null;
    s = `${s.slice(0, s.lastIndexOf(':') + 1)}0:0`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (p: string | undefined) => (p ? p.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8) return null;
  const bytes = all.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; });
  if (v4) bytes.splice(12, 4, ...v4);
  return bytes;
}

/**
 * The IPv4 address an IPv6 address carries, where routing would reach it: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
 */
function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (!b) return null;
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const quad = (at: number) => b.slice(at, at + 4).join('.');
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return quad(12);
  if (zeros(0, 12)) return quad(12);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return quad(12);
  if (b[0] === 0x20 && b[1] === 0x02) return quad(2);
  return null;
}

/** The rule an address breaks (a sentence naming the range), or null when it may be reached. */
export function forbiddenRule(address: string): string | null {
  const ip = withoutZone(unbracket(address));
  const family = isIP(ip);
  if (family === 0) return 'not an IP address';
  const fam: Family = family === 4 ? 'ipv4' : 'ipv6';
  for (const rule of RULES) if (rule.family === fam && rule.list.check(ip, fam)) return rule.name;
  if (fam === 'ipv6') {
    const v4 = embeddedIpv4(ip);
    if (v4) {
      const rule = forbiddenRule(v4);
      if (rule) return `${rule} inside an IPv6 address`;
    }
  }
  return null;
}

/** A hostname (letters, digits, dashes, dots), lower-cased without a trailing dot; null if it is not one. */
function hostnameOf(value: string): string | null {
  const h = value.toLowerCase().replace(/\.$/, '');
  return /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/.test(h) ? h : null;
}

/** Why an entry of WEBHOOK_ALLOWED_HOSTS is not a hostname, an IP address or a CIDR; null when it is. */
export function allowEntryError(entry: string): string | null {
  const value = unbracket(entry.trim());
  const slash = value.indexOf('/');
  if (slash >= 0) {
    const ip = value.slice(0, slash);
    const prefix = value.slice(slash + 1);
    const family = isIP(ip);
    if (family === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128))
      return `"${entry}" is not a CIDR like 10.0.0.0/8 or fd00::/8`;
    return null;
  }
  if (isIP(value) || hostnameOf(value)) return null;
  return `"${entry}" is not a hostname, an IP address or a CIDR`;
}

/** WEBHOOK_ALLOWED_HOSTS: hosts and addresses the rules above do not apply to. */
export class AllowList {
  private readonly hosts = new Set<string>();
  private readonly addresses = new BlockList();
  private empty = true;

  constructor(readonly entries: readonly string[] = []) {
    for (const raw of entries) {
      const error = allowEntryError(raw);
      if (error) throw new Error(`WEBHOOK_ALLOWED_HOSTS: ${error}`);
      const value = unbracket(raw.trim());
      this.empty = false;
      const slash = value.indexOf('/');
      if (slash >= 0) {
        const ip = value.slice(0, slash);
        this.addresses.addSubnet(ip, Number(value.slice(slash + 1)), isIP(ip) === 4 ? 'ipv4' : 'ipv6');
      } else if (isIP(value)) {
        this.addresses.addAddress(value, isIP(value) === 4 ? 'ipv4' : 'ipv6');
      } else {
        this.hosts.add(hostnameOf(value)!);
      }
    }
  }

  /** The URL's host is listed by name. */
  allowsHost(hostname: string): boolean {
    const h = hostnameOf(unbracket(hostname));
    return h !== null && this.hosts.has(h);
  }

  /** The address (or the IPv4 address an IPv6 one carries) is listed, alone or in a CIDR. */
  allowsAddress(address: string): boolean {
    if (this.empty) return false;
    const ip = withoutZone(unbracket(address));
    const family = isIP(ip);
    if (family === 0) return false;
    if (this.addresses.check(ip, family === 4 ? 'ipv4' : 'ipv6')) return true;
    const v4 = family === 6 ? embeddedIpv4(ip) : null;
    return v4 !== null && this.addresses.check(v4, 'ipv4');
  }
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Syntax only: an absolute http: or https: URL, no credentials, not absurdly long. */
export function parseDestinationUrl(value: string): UrlCheck {
  if (value.length > 2048) return { ok: false, reason: 'the URL is longer than 2048 characters' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'only http: and https: URLs are allowed' };
  if (url.username || url.password) return { ok: false, reason: 'a URL with credentials (user:password@) is refused' };
  if (!url.hostname) return { ok: false, reason: 'the URL names no host' };
  return { ok: true, url };
}

const refusal = (address: string, rule: string) =>
  `${address} is a ${rule}: refused (not in WEBHOOK_ALLOWED_HOSTS)`;

/**
 * For the features, when a URL is registered: syntax and scheme, and a host written as an IP
 * address must not be a forbidden one. A hostname is resolved only at delivery (it may change).
 */
export function checkDestinationUrl(value: string, allowed: AllowList): UrlCheck {
  const parsed = parseDestinationUrl(value);
  if (!parsed.ok) return parsed;
  const host = unbracket(parsed.url.hostname);
  if (isIP(host) && !allowed.allowsHost(host) && !allowed.allowsAddress(host)) {
    const rule = forbiddenRule(host);
    if (rule) return { ok: false, reason: refusal(host, rule) };
  }
  return parsed;
}

export interface ResolvedAddress { address: string; family: 4 | 6; }
/** Every address of a name (node:dns lookup, as the operating system resolves it). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** The destination may not be reached: no retry will change that. */
export class DestinationRefused extends Error {}

/**
 * The address to connect to: the URL's host resolved (every address must pass: a name that
 * resolves to one public and one private address is refused), or the literal address it names.
 * Throws DestinationRefused for a forbidden address; a failed lookup throws as it is (retried).
 */
export async function resolveDestination(url: URL, allowed: AllowList, resolve: Resolver = systemResolver): Promise<ResolvedAddress> {
  const host = unbracket(url.hostname);
  const literal = isIP(host);
  const addresses: ResolvedAddress[] = literal ? [{ address: host, family: literal === 6 ? 6 : 4 }] : await resolve(host);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  if (allowed.allowsHost(host)) return addresses[0]!;
  for (const a of addresses) {
    if (allowed.allowsAddress(a.address)) continue;
    const rule = forbiddenRule(a.address);
    if (rule) throw new DestinationRefused(literal ? refusal(a.address, rule) : `${host} resolves to ${refusal(a.address, rule)}`);
  }
  return addresses[0]!;
}
