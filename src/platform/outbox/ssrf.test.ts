import { describe, expect, it } from 'vitest';
import { allowEntryError, AllowList, checkDestinationUrl, forbiddenRule, resolveDestination, type Resolver } from './ssrf.ts';

const none = new AllowList();

describe('addresses an outgoing request may not reach', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['169.254.169.254', 'metadata'], ['169.254.0.1', 'link-local'],
    ['100.64.0.1', 'CGNAT'], ['100.127.255.255', 'CGNAT'], ['0.0.0.0', 'this network'], ['0.1.2.3', 'this network'],
    ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['255.255.255.255', 'broadcast'],
  ])('IPv4 %s is refused as %s', (ip, words) => {
    expect(forbiddenRule(ip)).toContain(words);
  });

  it.each([
    ['::1', 'loopback'], ['::', 'unspecified'], ['fc00::1', 'private'], ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf::1', 'link-local'], ['ff02::1', 'multicast'],
    ['[::1]', 'loopback'],
  ])('IPv6 %s is refused as %s', (ip, words) => {
    expect(forbiddenRule(ip)).toContain(words);
  });

  it.each([
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a00:1', 'private'], ['::127.0.0.1', 'loopback'], ['64:ff9b::10.0.0.1', 'private'], ['2002:c0a8:101::1', 'private'],
  ])('an IPv4 address inside IPv6 (%s) is refused by the IPv4 rule (%s)', (ip, words) => {
    const rule = forbiddenRule(ip);
    expect(rule).toContain(words);
    expect(rule).toContain('inside an IPv6 address');
  });

  it.each(['8.8.8.8', '1.1.1.1', '100.128.0.1', '172.32.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '2001:db8::1'])(
    'a public address (%s) may be reached', (ip) => {
      expect(forbiddenRule(ip)).toBeNull();
    });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  it('takes hostnames, IPs and CIDRs (IPv4 and IPv6) and nothing else', () => {
    for (const ok of ['hooks.internal', 'localhost', '127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1', '[::1]', 'Example.COM.']) expect(allowEntryError(ok), ok).toBeNull();
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'http://x', 'a b', '1.2.3.4/x', '-bad-.com']) expect(allowEntryError(bad), bad).not.toBeNull();
  });

  it('an address in a listed CIDR is allowed, also as an IPv4-mapped IPv6 address', () => {
    const allowed = new AllowList(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    expect(allowed.allowsAddress('10.20.30.40')).toBe(true);
    expect(allowed.allowsAddress('127.0.0.1')).toBe(true);
    expect(allowed.allowsAddress('127.0.0.2')).toBe(false);
    expect(allowed.allowsAddress('::ffff:10.1.1.1')).toBe(true);
    expect(allowed.allowsAddress('fd00::5')).toBe(true);
    expect(allowed.allowsAddress('fc00::5')).toBe(false);
    expect(allowed.allowsAddress('192.168.0.1')).toBe(false);
  });

  it('a host is allowed by name, case and trailing dot aside', () => {
    const allowed = new AllowList(['Hooks.Internal']);
    expect(allowed.allowsHost('hooks.internal.')).toBe(true);
    expect(allowed.allowsHost('other.internal')).toBe(false);
  });
});

describe('checkDestinationUrl (when a URL is registered)', () => {
  it('takes http: and https: URLs to public hosts', () => {
    expect(checkDestinationUrl('https://hooks.example.com/keyturn?x=1', none)).toMatchObject({ ok: true });
    expect(checkDestinationUrl('http://203.0.113.7:8080/in', none)).toMatchObject({ ok: true });
  });

  it.each([
    ['ftp://example.com/x', 'http'], ['file:///etc/passwd', 'http'], ['javascript:alert(1)', 'http'], ['not a url', 'absolute'],
    ['https://user:pass@example.com/', 'credentials'], ['https://user@example.com/', 'credentials'],
  ])('refuses %s', (url, words) => {
    const r = checkDestinationUrl(url, none);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(words);
  });

  it.each(['http://127.0.0.1/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://169.254.169.254/latest/meta-data/', 'http://2130706433/', 'http://0x7f.1/', 'http://0/'])(
    'refuses a forbidden address written in the URL: %s', (url) => {
      const r = checkDestinationUrl(url, none);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain('WEBHOOK_ALLOWED_HOSTS');
    });

  it('takes a forbidden address the operator allowed', () => {
    expect(checkDestinationUrl('http://127.0.0.1:9000/', new AllowList(['127.0.0.1']))).toMatchObject({ ok: true });
  });
});

describe('resolveDestination (at every attempt)', () => {
  const resolver = (map: Record<string, string[]>): Resolver => async (host) =>
    (map[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('a name that resolves to a private address is refused, naming the rule', async () => {
    await expect(resolveDestination(new URL('http://evil.example/'), none, resolver({ 'evil.example': ['10.0.0.5'] })))
      .rejects.toThrow(/evil\.example resolves to 10\.0\.0\.5 is a private address .*WEBHOOK_ALLOWED_HOSTS/);
  });

  it('every address must pass: one public and one loopback address is refused', async () => {
    await expect(resolveDestination(new URL('http://mixed.example/'), none, resolver({ 'mixed.example': ['93.184.216.34', '::1'] })))
      .rejects.toThrow(/loopback/);
  });

  it('answers the checked address to connect to; a listed host or address passes', async () => {
    const r = resolver({ 'ok.example': ['93.184.216.34'], 'hooks.internal': ['10.0.0.7'], 'lab.internal': ['192.168.5.5'] });
    expect(await resolveDestination(new URL('https://ok.example/'), none, r)).toEqual({ address: '93.184.216.34', family: 4 });
    expect(await resolveDestination(new URL('https://hooks.internal/'), new AllowList(['hooks.internal']), r)).toEqual({ address: '10.0.0.7', family: 4 });
    expect(await resolveDestination(new URL('https://lab.internal/'), new AllowList(['192.168.0.0/16']), r)).toEqual({ address: '192.168.5.5', family: 4 });
  });

  it('a name that resolves to nothing is an error, not a pass', async () => {
    await expect(resolveDestination(new URL('http://nothing.example/'), none, resolver({}))).rejects.toThrow(/no address/);
  });
});
