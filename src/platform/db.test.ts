import { describe, expect, it } from 'vitest';
import { pgConnection } from './db.ts';

describe('DATABASE_SSL reaches the pg driver', () => {
  const url = 'postgres://k:pw@db.internal:5432/keyturn?sslmode=disable&application_name=keyturn';

  it('unset: the URL decides (its sslmode stays)', () => {
    expect(pgConnection({ url })).toEqual({ connectionString: url });
  });

  it('set: replaces the URL\'s ssl parameters (pg would let them win) and keeps the others', () => {
    const r = pgConnection({ url, ssl: 'require' });
    expect(r.connectionString).toBe('postgres://k:pw@db.internal:5432/keyturn?application_name=keyturn');
    expect(r.ssl).toEqual({ rejectUnauthorized: false });
    expect(pgConnection({ url, ssl: 'disable' }).ssl).toBe(false);
  });

  it('verify-full checks the chain and host name, against the given CA file', () => {
    expect(pgConnection({ url, ssl: 'verify-full' }).ssl).toEqual({ rejectUnauthorized: true });
    const withCa = pgConnection({ url, ssl: 'verify-full', sslCaFile: '/etc/hostname' }).ssl as { ca: string; rejectUnauthorized: boolean };
    expect(withCa.rejectUnauthorized).toBe(true);
    expect(withCa.ca.length).toBeGreaterThan(0);
  });
});
