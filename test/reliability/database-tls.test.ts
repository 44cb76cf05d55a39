// DATABASE_SSL against a real PostgreSQL server with TLS: a throwaway cluster (the machine's own
// PostgreSQL binaries, run as the postgres user) with a certificate for `localhost` signed by a CA
// made here. verify-full must accept it only with that CA and only under the certified name.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/platform/db.ts';
import { freePort } from '../helpers/ports.ts';

const pgBin = (() => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort().pop();
  const bin = version && join(root, version, 'bin');
  return bin && existsSync(join(bin, 'initdb')) ? bin : undefined;
})();
const asPostgres = (cmd: string, args: string[]) => spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' });
const usable = !!pgBin && process.getuid?.() === 0 && spawnSync('openssl', ['version']).status === 0
  && spawnSync('id', ['postgres']).status === 0;
const why = usable ? '' : ' — SKIPPED: needs root, the postgres user, PostgreSQL binaries and openssl';

describe.skipIf(!usable)(`DATABASE_SSL against a PostgreSQL server with TLS${why}`, () => {
  let dir: string;
  let port: number;
  let started = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyturn-tls-'));
    chmodSync(dir, 0o755);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Keyturn test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem');
    // Another CA, which did not sign the server's certificate.
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Someone else', '-keyout', 'other.key', '-out', 'other.pem');
    // PostgreSQL reads its key only if it owns it and nobody else can.
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
    chownSync(join(dir, 'server.key'), id('-u'), id('-g'));
    chmodSync(join(dir, 'server.key'), 0o600);
    const data = join(dir, 'data');
    execFileSync('install', ['-d', '-o', 'postgres', '-g', 'postgres', '-m', '700', data]);
    const init = asPostgres(join(pgBin!, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
    port = await freePort();
    const opts = [`-c port=${port}`, "-c listen_addresses='127.0.0.1'", `-c unix_socket_directories='${data}'`, '-c ssl=on',
      `-c ssl_cert_file='${join(dir, 'server.pem')}'`, `-c ssl_key_file='${join(dir, 'server.key')}'`, '-c fsync=off'].join(' ');
    const start = asPostgres(join(pgBin!, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(data, 'server.log'), '-w', '-t', '60', 'start']);
    if (start.status !== 0) throw new Error(`pg_ctl start: ${start.stderr}${start.stdout}`);
    started = true;
  }, 120_000);

  afterAll(() => {
    if (started) asPostgres(join(pgBin!, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (host: string, ssl: 'require' | 'verify-full', sslCaFile?: string) =>
    openDatabase({ url: `postgres://postgres@${host}:${port}/postgres`, dataDir: '', ssl, sslCaFile, connectTimeoutMs: 5_000 });

  async function connects(host: string, ssl: 'require' | 'verify-full', sslCaFile?: string): Promise<true | string> {
    const db = await open(host, ssl, sslCaFile);
    try {
      const res = await db.db.execute('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
      return (res as unknown as { rows: { ssl: boolean }[] }).rows[0]?.ssl === true ? true : 'connected without TLS';
    } catch (e) {
      const err = e as Error & { cause?: Error }; // drizzle wraps the driver's error
      return String(err.cause?.message ?? err.message);
    } finally {
      await db.close();
    }
  }

  it('verify-full with the CA that signed the certificate connects over TLS, and migrations run', async () => {
    expect(await connects('localhost', 'verify-full', join(dir, 'ca.pem'))).toBe(true);
    const db = await open('localhost', 'verify-full', join(dir, 'ca.pem'));
    try {
      await db.migrate();
      const state = await db.migrationState();
      expect(state.applied).toBe(state.shipped);
    } finally {
      await db.close();
    }
  });

  it('verify-full refuses a certificate its CA did not sign, or the system CAs do not know', async () => {
    expect(await connects('localhost', 'verify-full', join(dir, 'other.pem'))).toMatch(/unable to verify the first certificate/);
    expect(await connects('localhost', 'verify-full')).toMatch(/unable to verify the first certificate/);
  });

  it('verify-full refuses a host name the certificate is not for; require (no checks) still encrypts', async () => {
    expect(await connects('127.0.0.1', 'verify-full', join(dir, 'ca.pem'))).toMatch(/does not match certificate's altnames/);
    expect(await connects('127.0.0.1', 'require')).toBe(true);
  });
});
