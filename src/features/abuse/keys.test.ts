import { describe, expect, it } from 'vitest';
import { Secrets } from '../../platform/crypto.ts';
import { accountSubject, ipSubject, LimitKeys, tenantSubject } from './keys.ts';

const keys = new LimitKeys(new Secrets('k'.repeat(40)));

describe('limit keys', () => {
  it('spellings that find the same account count as one account', () => {
    const variants = [
      'ann@example.com',
      '  Ann@Example.COM ',
      '\tANN@EXAMPLE.COM\n',
      'ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ',           // full-width letters
      'ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ',          // full-width @ and dot too
      'ANN@EXAMPLE.COM',
    ];
    for (const v of variants) {
      expect(accountSubject(v), JSON.stringify(v)).toBe('ann@example.com');
      expect(keys.account(v)).toBe(keys.account('ann@example.com'));
    }
    // The Kelvin sign is a compatibility form of K.
    expect(keys.account('\u212Aate@example.com')).toBe(keys.account('kate@example.com'));
  });

  it('different accounts, and a look-alike that finds no account, stay apart', () => {
    expect(keys.account('ann@example.com')).not.toBe(keys.account('anna@example.com'));
    // Dotless ı is not i: it cannot reach ann's account, so it gets its own (empty) budget.
    expect(keys.account('ann@exampl\u0131e.com')).not.toBe(keys.account('ann@examplie.com'));
  });

  it('an IPv4-mapped IPv6 address is the IPv4 address', () => {
    expect(ipSubject('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(ipSubject('::FFFF:203.0.113.7')).toBe('203.0.113.7');
    expect(keys.ip('::ffff:203.0.113.7')).toBe(keys.ip('203.0.113.7'));
  });

  it('every address of one IPv6 /64 counts as one client', () => {
    const a = ipSubject('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(ipSubject('2001:0db8:0001:0002::1')).toBe(a);
    expect(ipSubject('2001:db8:1:2::ffff:1.2.3.4')).toBe(a);
    expect(ipSubject('[2001:db8:1:2::5]')).toBe(a);
    expect(ipSubject('2001:db8:1:2::5%eth0')).toBe(a);
    expect(ipSubject('2001:db8:1:3::1')).not.toBe(a);
    expect(ipSubject('::1')).toBe('0:0:0:0::/64');
  });

  it('account+IP combines both normalisations', () => {
    expect(keys.accountIp(' Ann@Example.com', '::ffff:198.51.100.9')).toBe(keys.accountIp('ann@example.com', '198.51.100.9'));
    expect(keys.accountIp('ann@example.com', '198.51.100.9')).not.toBe(keys.accountIp('ann@example.com', '198.51.100.10'));
  });

  it('no tenant is its own key, and slugs ignore case', () => {
    expect(tenantSubject(undefined)).toBe('*');
    expect(keys.tenant('Acme')).toBe(keys.tenant('acme'));
    expect(keys.tenant(undefined)).not.toBe(keys.tenant('acme'));
  });

  it('keys are keyed hashes: no address or IP in the clear, and kinds never collide', () => {
    const k = keys.account('ann@example.com');
    expect(k).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(k).not.toContain('ann');
    expect(keys.ip('203.0.113.7')).not.toContain('203');
    expect(keys.user('ann@example.com')).not.toBe(k);
    expect(new LimitKeys(new Secrets('o'.repeat(40))).account('ann@example.com')).not.toBe(k);
  });
});
