// The README's path, driven as a newcomer would: the `keyturn` command on an embedded data dir.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'keyturn.js');
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyturn-cli-'));
  dirs.push(d);
  return d;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...extra };
  return env;
}

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('keyturn command', () => {
  it('prints help with exit 0, and refuses unknown commands with exit 2', () => {
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['serve', 'migrate', 'tenant create', 'user create', 'reset-link', 'mailbox']) expect(help.out).toContain(c);
    expect(cli(['tenant', '--help']).code).toBe(0);
    expect(cli(['reset-link', '--help']).out).toContain('reset-link <tenant> <email>');
    expect(cli(['frobnicate']).code).toBe(2);
    expect(cli(['user', 'create', 'acme']).code).toBe(2);
  }, 60_000);

  it('stops on bad configuration with one line naming the key', () => {
    const r = cli(['tenant', 'list'], { PORT: 'eighty', DATA_DIR: dataDir() });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('PORT');
    const scale = cli(['tenant', 'list'], { RATE_LIMIT_SCALE: '0.5', NODE_ENV: 'production', DATA_DIR: dataDir() });
    expect(scale.code).toBe(1);
    expect(scale.err).toContain('RATE_LIMIT_SCALE');
  }, 60_000);

  it('manages tenants and users and prints a reset link without a running server', () => {
    const env = { DATA_DIR: dataDir(), PUBLIC_URL: 'https://id.example.com' };
    expect(cli(['tenant', 'create', 'acme', 'ACME'], env).code).toBe(0);
    expect(cli(['tenant', 'create', 'acme', 'ACME'], env).code).toBe(1); // slug taken
    const created = cli(['user', 'create', 'acme', 'ann@example.com', '--password', 'Sunny-Harbor-42!', '--role', 'admin'], env);
    expect(created.code).toBe(0);
    const weak = cli(['user', 'create', 'acme', 'bob@example.com', '--password', 'Password123!'], env);
    expect(weak.code).toBe(1);
    expect(weak.err).toMatch(/password rules/);
    const link = cli(['reset-link', 'acme', 'ann@example.com'], env);
    expect(link.code).toBe(0);
    expect(link.out).toMatch(/^https:\/\/id\.example\.com\/reset-password\?token=[A-Za-z0-9_-]{43}$/m);
    const list = cli(['user', 'list', 'acme', '--json'], env);
    expect(JSON.parse(list.out)).toEqual([expect.objectContaining({ email: 'ann@example.com', role: 'admin', status: 'active' })]);
    expect(cli(['user', 'disable', 'acme', 'ann@example.com'], env).out).toContain('disabled');
    expect(cli(['reset-link', 'acme', 'nobody@example.com'], env).code).toBe(1);
  }, 180_000);

  it('imports users from CSV all-or-nothing with reasons for skipped rows, and exports the audit log', async () => {
    const dir = dataDir();
    const env = { DATA_DIR: dir };
    expect(cli(['tenant', 'create', 'acme', 'ACME'], env).code).toBe(0);
    expect(cli(['user', 'create', 'acme', 'ann@example.com'], env).code).toBe(0);
    const csv = join(dir, 'users.csv');
    writeFileSync(csv, [
      'email,name,role',
      'bob@example.com,Bob,member',
      '"cy@example.com","Cy, Jr.",admin',
      'not-an-email,Nobody,member',
      'ANN@example.com,Ann again,member',
      'bob@example.com,Bob twice,member',
      'dee@example.com,Dee,owner',
    ].join('\n'));
    const r = cli(['user', 'import', 'acme', csv, '--json'], env);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.created).toBe(2);
    expect(summary.skipped.map((s: { row: number; reason: string }) => [s.row, s.reason])).toEqual([
      [3, 'not one valid email address'],
      [4, 'already a user of this tenant'],
      [5, 'appears earlier in the file'],
      [6, 'role must be admin or member, not "owner"'],
    ]);
    const users = JSON.parse(cli(['user', 'list', 'acme', '--json'], env).out);
    expect(users.map((u: { email: string }) => u.email).sort()).toEqual(['ann@example.com', 'bob@example.com', 'cy@example.com']);

    const jsonl = cli(['audit', 'export', '--tenant', 'acme'], env);
    expect(jsonl.code).toBe(0);
    const events = jsonl.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e: { type: string }) => e.type)).toEqual(['users_imported', 'user_created', 'tenant_created']);
    const csvOut = cli(['audit', 'export', '--tenant', 'acme', '--format', 'csv'], env).out;
    expect(csvOut.split('\n')[0]).toBe('id,at,type,tenantId,userId,actor,ip,data');
    expect(csvOut.trim().split('\n')).toHaveLength(4);
  }, 180_000);

  it('serves, takes CLI commands while running, delivers to the dev mailbox, and stops cleanly on SIGTERM', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const dir = dataDir();
    const env = { DATA_DIR: dir, PORT: String(port), ADMIN_PORT: String(adminPort) };
    const server: ChildProcess = spawn(process.execPath, [BIN, 'serve'], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let banner = '';
    server.stdout!.on('data', (c) => { banner += String(c); });
    server.stderr!.on('data', (c) => { banner += String(c); });
    try {
      await expect.poll(() => banner, { timeout: 30_000, interval: 200 }).toContain('Operator key');
      expect(banner).toContain(`http://localhost:${port}`);
      expect(banner).toContain(`127.0.0.1:${adminPort}/admin/v1`);
      expect(existsSync(join(dir, 'admin-api-key'))).toBe(true);

      expect(cli(['tenant', 'create', 'acme', 'ACME'], env).code).toBe(0);
      expect(cli(['user', 'create', 'acme', 'ann@example.com', '--password', 'Sunny-Harbor-42!'], env).code).toBe(0);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/password/forgot`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ann@example.com' }),
      });
      expect(res.status).toBe(202);
      await expect.poll(() => cli(['mailbox'], env).out, { timeout: 10_000, interval: 300 }).toContain('Reset your password');
      const shown = cli(['mailbox', '--show', '1'], env);
      expect(shown.out).toContain(`http://localhost:${port}/reset-password?token=`);

      const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
      const started = Date.now();
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(existsSync(join(dir, 'server.json'))).toBe(false);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }, 90_000);
});
