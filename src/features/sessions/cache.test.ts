// The session cache's rules, without a database: what it may keep, and when it must forget.
import { describe, expect, it } from 'vitest';
import { SessionCache, type CachedSession } from './cache.ts';

const session = (userId: string, tenantId = 'T1'): CachedSession => ({
  user: { id: userId, email: `${userId}@example.com`, name: '', role: 'member' },
  tenant: { id: tenantId, slug: tenantId.toLowerCase(), name: tenantId },
  authMethod: 'password', amr: ['pwd'], createdAt: new Date(0), expiresAt: new Date(8.64e15),
});

// These rules are about what may be kept: every session is admitted on its first read here.
function liveCache(max = 100, now?: () => number) {
  const c = new SessionCache(max, now, true);
  c.setLive(true);
  return c;
}

describe('session cache', () => {
  it('keeps nothing while notifications are not flowing, and forgets everything when they stop', () => {
    const c = new SessionCache(100, undefined, true);
    c.fill(c.ticket(), 'h1', session('U1'));
    expect(c.get('h1')).toBeUndefined();
    c.setLive(true);
    c.fill(c.ticket(), 'h1', session('U1'));
    expect(c.get('h1')?.user.id).toBe('U1');
    c.setLive(false);
    expect(c.get('h1')).toBeUndefined();
    c.setLive(true);
    expect(c.get('h1')).toBeUndefined(); // what was kept before the gap is not trusted after it
  });

  it('a read that started before a change is not kept (the change may have come after the read)', () => {
    const c = liveCache();
    const before = c.ticket();
    c.onChange('u:U1');
    c.fill(before, 'h1', session('U1'));
    expect(c.get('h1')).toBeUndefined();
    // Any change moves the epoch on: another user's too (simple, and a refused fill only costs a read).
    const again = c.ticket();
    c.onChange('u:U2');
    c.fill(again, 'h1', session('U1'));
    expect(c.get('h1')).toBeUndefined();
  });

  it('a change to a user drops that user\'s sessions only; a tenant change drops all', () => {
    const c = liveCache();
    c.fill(c.ticket(), 'a1', session('A'));
    c.fill(c.ticket(), 'a2', session('A'));
    c.fill(c.ticket(), 'b1', session('B'));
    c.onChange('u:A');
    expect([c.get('a1'), c.get('a2')]).toEqual([undefined, undefined]);
    expect(c.get('b1')?.user.id).toBe('B');
    c.onChange('t:T1');
    expect(c.get('b1')).toBeUndefined();
  });

  it('a user held by a transaction of this instance is neither answered nor filled until it settles', () => {
    const c = liveCache();
    c.fill(c.ticket(), 'a1', session('A'));
    c.hold(['A']);
    expect(c.get('a1')).toBeUndefined();
    c.fill(c.ticket(), 'a1', session('A'));
    expect(c.get('a1')).toBeUndefined();
    c.hold(['A']); // a second transaction on the same user
    c.release(['A']);
    c.fill(c.ticket(), 'a1', session('A'));
    expect(c.get('a1')).toBeUndefined();
    c.release(['A']);
    c.fill(c.ticket(), 'a1', session('A'));
    expect(c.get('a1')?.user.id).toBe('A');
  });

  it('answers nothing while the listener has not been heard from lately, and keeps its entries for when it is', () => {
    const c = liveCache();
    let heard = true;
    c.fresh = () => heard;
    c.fill(c.ticket(), 'h1', session('U1'));
    heard = false;
    expect(c.get('h1')).toBeUndefined();
    heard = true;
    expect(c.get('h1')?.user.id).toBe('U1');
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const c = liveCache(3);
    for (const h of ['h1', 'h2', 'h3', 'h4']) c.fill(c.ticket(), h, session(h.toUpperCase()));
    expect(c.size).toBe(3);
    expect(c.get('h1')).toBeUndefined();
    expect(c.get('h4')?.user.id).toBe('H4');
  });

  it('an entry is read again from the database after a minute even without a notification', () => {
    let now = 0;
    const c = liveCache(100, () => now);
    c.fill(c.ticket(), 'h1', session('U1'));
    now = 59_000;
    expect(c.get('h1')).toBeDefined();
    now = 61_000;
    expect(c.get('h1')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('a session is kept from its second read on: sessions read once each do not push out the ones in use', () => {
    const c = new SessionCache(3);
    c.setLive(true);
    c.fill(c.ticket(), 'a', session('A'));
    expect(c.get('a')).toBeUndefined();
    c.fill(c.ticket(), 'a', session('A'));
    expect(c.get('a')?.user.id).toBe('A');
    for (let i = 0; i < 10; i++) c.fill(c.ticket(), `once${i}`, session(`O${i}`));
    expect(c.size).toBe(1);
    expect(c.get('a')?.user.id).toBe('A');
  });
});
