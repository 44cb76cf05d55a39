// The README's path, driven as a newcomer would: the `keyturn` command on an embedded data dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyPostgresDatabase } from './helpers/app.ts';
import { BIN, runKeyturn as run, useTempDirs } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';

const dataDir = useTempDirs('keyturn-cli-');

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...extra };
  return env;
}

const cli = (args: string[], env: Record<string, string> = {}) => run(args, cleanEnv(env));

/** Users to import: two good rows, then one row for each reason a row is refused. */
const PROBLEM_CSV = [
  'email,name,role',
  'bob@example.com,Bob,member',
  '"cy@example.com","Cy, Jr.",admin',
  'not-an-email,Nobody,member',
  'ANN@example.com,Ann again,member',
  'bob@example.com,Bob twice,member',
  'dee@example.com,Dee,owner',
].join('\n');

/** A data dir with tenant acme, ann@example.com in it, and PROBLEM_CSV in users.csv. */
function acmeWithProblemCsv() {
  const dir = dataDir();
  const env = { DATA_DIR: dir };
  expect(cli(['tenant', 'create', 'acme', 'ACME'], env).code).toBe(0);
  expect(cli(['user', 'create', 'acme', 'ann@example.com'], env).code).toBe(0);
  const csv = join(dir, 'users.csv');
  writeFileSync(csv, PROBLEM_CSV);
  return { dir, env, csv };
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

  it('imports users from CSV with --skip-invalid, with reasons for skipped rows, and exports the audit log', async () => {
    const { env, csv } = acmeWithProblemCsv();
    const r = cli(['user', 'import', 'acme', csv, '--skip-invalid', '--json'], env);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.created).toBe(2);
    expect(summary.skipped.map((s: { row: number; reason: string }) => [s.row, s.reason])).toEqual([
      [3, 'not one valid email address'],
      [4, 'already a user of this tenant'],
      [5, 'appears earlier in the file'],
      [6, 'role must be admin, supervisor or member, not "owner"'],
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

const PG = process.env.TEST_DATABASE_URL;
const SHIPPED = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'migrations', 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;

/** As a newcomer runs it: no LOG_LEVEL, so the default level applies. */
const asIs = (args: string[], env: Record<string, string>) =>
  run(args, { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env });

/** A clean run with --json: exit 0, one JSON document on stdout, nothing at all on stderr. */
function oneDocument(r: ReturnType<typeof run>): any {
  expect(r.err, r.out).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

/** The commands `keyturn --help` lists, each with the options it shows for it. */
function helpCommands(): { name: string; options: string[] }[] {
  const help = cli(['--help']).out;
  return [...help.matchAll(/^ {2}([a-z-]+(?: [a-z-]+)?)(?= <| {2})(.*)$/gm)].map(([, name, rest]) => ({ name: name!, options: rest!.match(/--[a-z-]+/g) ?? [] }));
}

describe('issue 11 item 14: the CLI', () => {
  it('item 14: --json prints exactly one JSON document, and a clean run writes nothing to stderr (embedded)', () => {
    const env = { DATA_DIR: dataDir() };
    expect(oneDocument(asIs(['tenant', 'create', 'acme', 'ACME', '--json'], env))).toMatchObject({ slug: 'acme' });
    expect(oneDocument(asIs(['user', 'create', 'acme', 'ann@example.com', '--json'], env))).toMatchObject({ email: 'ann@example.com' });
    expect(oneDocument(asIs(['reset-link', 'acme', 'ann@example.com', '--json'], env))).toMatchObject({ url: expect.stringContaining('/reset-password?token=') });
    expect(oneDocument(asIs(['user', 'list', 'acme', '--json'], env))).toEqual([expect.objectContaining({ email: 'ann@example.com' })]);
    const events = oneDocument(asIs(['audit', 'export', '--json'], env)) as { type: string }[];
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['tenant_created', 'user_created']));
    expect(oneDocument(asIs(['migrate', '--json'], env))).toEqual({ applied: 0, total: SHIPPED });
    expect(oneDocument(asIs(['mailbox', '--json'], env))).toEqual([]);
  }, 400_000);

  it.runIf(PG)(`item 14: --json prints exactly one JSON document, and a clean run writes nothing to stderr (PostgreSQL)${PG ? '' : ' — SKIPPED: set TEST_DATABASE_URL to run'}`, async () => {
    const db = await emptyPostgresDatabase('cli');
    try {
      const env = { DATA_DIR: dataDir(), DATABASE_URL: db.url };
      expect(oneDocument(asIs(['migrate', '--json'], env))).toEqual({ applied: SHIPPED, total: SHIPPED });
      expect(oneDocument(asIs(['migrate', '--json'], env))).toEqual({ applied: 0, total: SHIPPED });
      expect(oneDocument(asIs(['tenant', 'create', 'acme', 'ACME', '--json'], env))).toMatchObject({ slug: 'acme' });
      expect(oneDocument(asIs(['user', 'create', 'acme', 'ann@example.com', '--json'], env))).toMatchObject({ email: 'ann@example.com' });
      expect(oneDocument(asIs(['reset-link', 'acme', 'ann@example.com', '--json'], env))).toMatchObject({ url: expect.stringContaining('/reset-password?token=') });
      expect(oneDocument(asIs(['user', 'disable', 'acme', 'ann@example.com', '--json'], env))).toMatchObject({ status: 'disabled' });
    } finally {
      await db.drop();
    }
  }, 400_000);

  it('item 14: user list returns every user, past the operator API\'s pages of 200, and --limit says when more exist', () => {
    const dir = dataDir();
    const env = { DATA_DIR: dir };
    expect(cli(['tenant', 'create', 'acme', 'ACME'], env).code).toBe(0);
    const emails = Array.from({ length: 250 }, (_, i) => `u${String(i).padStart(3, '0')}@example.com`);
    const csv = join(dir, 'many.csv');
    writeFileSync(csv, ['email', ...emails].join('\n'));
    expect(cli(['user', 'import', 'acme', csv], env).code).toBe(0);

    const all = JSON.parse(cli(['user', 'list', 'acme', '--json'], env).out) as { email: string }[];
    expect(all.map((u) => u.email)).toEqual(emails);
    const first = cli(['user', 'list', 'acme', '--limit', '120'], env);
    expect(first.code).toBe(0);
    const lines = first.out.trim().split('\n');
    expect(lines.slice(0, -1).map((l) => l.split('\t')[0])).toEqual(emails.slice(0, 120));
    expect(lines.at(-1)).toBe(`More users: run again with --after ${emails[119]}`);
    const rest = JSON.parse(cli(['user', 'list', 'acme', '--after', emails[119]!, '--limit', '200', '--json'], env).out);
    expect(rest).toEqual({ users: emails.slice(120).map((email) => expect.objectContaining({ email })), next: null });
  }, 300_000);

  it('item 14: user import is all or nothing: it creates nothing when a row is bad, and lists every problem row with its line', () => {
    const { dir, env, csv } = acmeWithProblemCsv();

    const human = cli(['user', 'import', 'acme', csv], env);
    expect(human.code).toBe(1);
    expect(human.out).toBe('');
    expect(human.err).toContain('Nothing imported into acme: 4 rows have problems');
    expect(human.err).toContain('line 4 (not-an-email): not one valid email address');
    expect(human.err).toMatch(/line 5 \(ann@example\.com\): already a user of this tenant/i);
    expect(human.err).toContain('line 6 (bob@example.com): appears earlier in the file');
    expect(human.err).toContain('line 7 (dee@example.com): role must be admin, supervisor or member, not "owner"');
    const json = cli(['user', 'import', 'acme', csv, '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toEqual({ created: 0, problems: [
      { row: 3, line: 4, email: 'not-an-email', code: 'email', reason: 'not one valid email address' },
      { row: 4, line: 5, email: expect.stringMatching(/^ann@example\.com$/i), code: 'taken', reason: 'already a user of this tenant' },
      { row: 5, line: 6, email: 'bob@example.com', code: 'duplicate', reason: 'appears earlier in the file' },
      { row: 6, line: 7, email: 'dee@example.com', code: 'role', reason: 'role must be admin, supervisor or member, not "owner"' },
    ] });
    expect(JSON.parse(cli(['user', 'list', 'acme', '--json'], env).out).map((u: { email: string }) => u.email)).toEqual(['ann@example.com']);

    // A quote that never closes would hide every row after it: the file is refused whole.
    const open = join(dir, 'open-quote.csv');
    writeFileSync(open, 'email,name\nbob@example.com,"Bob\ncy@example.com,Cy\n');
    const refused = cli(['user', 'import', 'acme', open, '--skip-invalid'], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('line 2');
    // Not UTF-8 (a spreadsheet's Latin-1 export): refused rather than garbled.
    const latin1 = join(dir, 'latin1.csv');
    writeFileSync(latin1, Buffer.from('email,name\nbob@example.com,Bj\xf6rn\n', 'latin1'));
    const garbled = cli(['user', 'import', 'acme', latin1], env);
    expect(garbled.code).toBe(1);
    expect(garbled.err).toContain('not UTF-8');
    expect(JSON.parse(cli(['user', 'list', 'acme', '--json'], env).out).map((u: { email: string }) => u.email)).toEqual(['ann@example.com']);

    const good = join(dir, 'good.csv');
    writeFileSync(good, 'email,name\nbob@example.com,Bob\ncy@example.com,Cy\n');
    const ok = cli(['user', 'import', 'acme', good, '--json'], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual({ created: 2, skipped: [] });
  }, 300_000);

  it('item 14: migrate says how many migrations it applied', () => {
    const env = { DATA_DIR: dataDir() };
    expect(cli(['migrate'], env).out.trim()).toBe(`Applied ${SHIPPED} migrations; the database is current (${SHIPPED} migrations).`);
    expect(cli(['migrate'], env).out.trim()).toBe(`Nothing to apply; the database is current (${SHIPPED} migrations).`);
  }, 120_000);

  it('item 14: README\'s command table lists every command with its options', () => {
    const commands = helpCommands();
    expect(commands.length).toBeGreaterThanOrEqual(12);
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const section = readme.split(/^## Commands$/m)[1]!.split(/^## /m)[0]!;
    const rows = section.split('\n').filter((l) => l.startsWith('| `keyturn '));
    for (const { name, options } of commands) {
      const row = rows.find((r) => r.startsWith(`| \`keyturn ${name}\``) || r.startsWith(`| \`keyturn ${name} `));
      expect(row, name).toBeDefined();
      for (const o of options) expect(row, `${name} ${o}`).toContain(o);
    }
  }, 60_000);
});

describe('issue 12 item 9: commands as a table', () => {
  it('item 9: every command has its own --help, generated from the table', () => {
    for (const { name, options } of helpCommands()) {
      const r = cli([...name.split(' '), '--help']);
      expect(r.code, name).toBe(0);
      expect(r.out.split('\n')[0], name).toMatch(new RegExp(`^Usage: keyturn ${name}( |$)`));
      for (const o of [...options, '--json', '--help']) expect(r.out, `${name} ${o}`).toContain(o);
    }
  }, 120_000);

  it('item 9: unknown commands and options, and missing arguments, print the usage and exit 2', () => {
    const unknown = cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('Unknown command "frobnicate"');
    expect(unknown.err).toContain('Usage: keyturn <command>');
    const group = cli(['user']);
    expect(group.code).toBe(2);
    expect(group.err).toContain('Usage: keyturn user <command>');
    expect(group.err).toContain('user list <tenant>');
    const missing = cli(['user', 'create', 'acme']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('Usage: keyturn user create <tenant> <email>');
    const option = cli(['user', 'list', 'acme', '--limt', '5'], { DATA_DIR: dataDir() });
    expect(option.code).toBe(2);
    expect(option.err).toContain('Unknown option --limt');
  }, 120_000);
});
