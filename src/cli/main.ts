// `keyturn` — every command speaks the operator API: over HTTP to the running server when there is
// one (an embedded database can only be open in one process), or in-process otherwise.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, databaseOptions, loadConfig, serverFile, type Config } from '../config.ts';
import type { AuditView } from '../features/audit/audit.ts';
// Heavy modules (server, database) load only for the commands that need them: --help stays instant.

class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `Usage: keyturn <command> [options]

Commands:
  serve                              start Keyturn (public + operator listeners)
  migrate                            apply database migrations (PostgreSQL; the embedded database migrates itself)
  tenant create <slug> <name>        create a tenant   [--login-methods password,google] [--policy default|nist]
  tenant list                        list tenants
  user create <tenant> <email>       create a user     [--password P] [--name N] [--role admin|member]
  user list <tenant>                 list users        [--q text]
  user disable <tenant> <email>      disable a user (signs them out, kills pending reset links)
  user enable <tenant> <email>       enable a user again
  user import <tenant> <file.csv>    create users from CSV (email,name,role); all or nothing, with a summary
  audit export                       audit events as CSV or JSON Lines   [--tenant slug] [--format csv|jsonl] [--limit N]
  reset-link <tenant> <email>        print a fresh reset URL   [--expires-in 1h|24h|72h|7d] [--reason text]
  mailbox                            list dev-mailbox messages (newest first)   [--show N]

Options: --json (machine-readable output), --help (on every command).
Configuration comes from the environment (see README); exit codes: 0 ok, 1 failed, 2 usage error.`,
  serve: 'Usage: keyturn serve\n\nStarts the public listener (PORT/HOST) and the operator listener (ADMIN_PORT/ADMIN_HOST).',
  migrate: 'Usage: keyturn migrate\n\nApplies the database migrations once (under an advisory lock on PostgreSQL).',
  tenant: 'Usage:\n  keyturn tenant create <slug> <name> [--login-methods password,google] [--policy default|nist]\n  keyturn tenant list [--json]',
  user: 'Usage:\n  keyturn user create <tenant> <email> [--password P] [--name N] [--role admin|member]\n  keyturn user list <tenant> [--q text] [--json]\n  keyturn user disable <tenant> <email>\n  keyturn user enable <tenant> <email>\n  keyturn user import <tenant> <file.csv>   (columns: email, name, role; no passwords — users set theirs by reset link)',
  audit: 'Usage: keyturn audit export [--tenant slug] [--format csv|jsonl] [--limit N]\n\nWrites audit events, newest first, to standard output (default: JSON Lines).',
  'reset-link': 'Usage: keyturn reset-link <tenant> <email> [--expires-in 1h|24h|72h|7d] [--reason text]\n\nPrints a fresh reset URL for the user (an admin-made link; older links stop working).',
  mailbox: 'Usage: keyturn mailbox [--show N] [--json]\n\nLists the dev mailbox (DATA_DIR/mailbox), newest first; --show N prints message N (1 = newest) in full.',
};

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (v !== undefined) flags[k] = v;
      else if (['json', 'help'].includes(k) || argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) flags[k] = true;
      else flags[k] = argv[++i]!;
    } else if (a === '-h') flags.help = true;
    else positional.push(a);
  }
  return { positional, flags };
}

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** HTTP to the running embedded server, or the operator API in-process. */
async function operatorClient(config: Config): Promise<{ call: Call; close(): Promise<void> }> {
  const file = serverFile(config);
  if (!config.databaseUrl && existsSync(file)) {
    const { pid, adminUrl } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; adminUrl: string };
    let alive = true;
    try { process.kill(pid, 0); } catch { alive = false; }
    if (alive) {
      const key = config.adminApiKey ?? readFileSync(join(config.dataDir, 'admin-api-key'), 'utf8').trim();
      return {
        async call(method, path, body) {
          const res = await fetch(`${adminUrl}${path}`, {
            method,
            headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            body: body ? JSON.stringify(body) : undefined,
          });
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : null };
        },
        close: async () => {},
      };
    }
  }
  const { buildApp } = await import('../app.ts');
  const app = await buildApp(config, { startWorker: false });
  return {
    async call(method, path, body) {
      const res = await app.adminApp.inject({
        method: method as 'GET', url: path, headers: { authorization: `Bearer ${app.adminApiKey}` }, ...(body ? { payload: body as object } : {}),
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
    },
    close: () => app.close(),
  };
}

/** Progress goes to stderr (and only to a terminal), so stdout stays clean for pipes and --json. */
function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
}

function expectOk(res: { status: number; body: any }): any {
  if (res.status >= 400) throw new Error(res.body?.message ?? `failed with status ${res.status}`);
  return res.body;
}

async function userId(call: Call, tenant: string, email: string): Promise<string> {
  const list = expectOk(await call('GET', `/admin/v1/tenants/${encodeURIComponent(tenant)}/users?q=${encodeURIComponent(email)}&limit=200`));
  const user = (list.users as { id: string; email: string }[]).find((u) => u.email.toLowerCase() === email.trim().toLowerCase());
  if (!user) throw new Error(`No user ${email} in tenant ${tenant}.`);
  return user.id;
}

export async function main(argv: string[]): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  const [command, sub, ...rest] = positional;
  const json = flags.json === true;
  const out = (human: string, data: unknown) => console.log(json ? JSON.stringify(data, null, 2) : human);
  if (!command) { console.log(HELP.main); return flags.help ? 0 : 2; }
  if (flags.help) {
    const help = HELP[command];
    if (!help) throw new UsageError(`Unknown command "${command}".`);
    console.log(help);
    return 0;
  }

  const config = loadConfig();
  switch (command) {
    case 'serve':
      await (await import('../server.ts')).serve(config);
      return -1; // keeps running
    case 'migrate': {
      const { openDatabase } = await import('../platform/db.ts');
      const db = await openDatabase(databaseOptions(config));
      try {
        await db.migrate();
        const state = await db.migrationState();
        out(`Database is current (${state.applied} migrations).`, state);
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'mailbox': {
      const { readMailbox } = await import('../platform/mail/dev-mailbox.ts');
      const messages = await readMailbox(join(config.dataDir, 'mailbox'));
      if (typeof flags.show === 'string') {
        const m = messages[Number(flags.show) - 1];
        if (!m) throw new Error(`No message ${flags.show} (the mailbox holds ${messages.length}).`);
        out(`From: ${m.from}\nTo: ${m.to}\nDate: ${m.receivedAt}\nSubject: ${m.subject}\n\n${m.text}`, m);
        return 0;
      }
      out(messages.length === 0 ? 'The dev mailbox is empty.'
        : messages.map((m, i) => `${String(i + 1).padStart(3)}  ${m.receivedAt}  ${m.to}  ${m.subject}`).join('\n')
          + '\n\nShow one with: npx keyturn mailbox --show 1',
      messages.map(({ id, receivedAt, to, subject }) => ({ id, receivedAt, to, subject })));
      return 0;
    }
    case 'tenant':
    case 'user':
    case 'reset-link':
    case 'audit':
      break;
    default:
      throw new UsageError(`Unknown command "${command}". Run keyturn --help.`);
  }

  const need = (n: number, usage: string) => {
    const args = command === 'reset-link' ? [sub, ...rest] : rest;
    if (args.length < n || args.slice(0, n).some((a) => !a)) throw new UsageError(usage);
    return args as [string, string, ...string[]];
  };
  const client = await operatorClient(config);
  try {
    const { call } = client;
    if (command === 'tenant' && sub === 'create') {
      const [slug, name] = need(2, HELP.tenant!);
      const body: Record<string, unknown> = { slug, name };
      if (typeof flags['login-methods'] === 'string') body.loginMethods = flags['login-methods'].split(',');
      if (typeof flags.policy === 'string') body.passwordPolicy = { preset: flags.policy };
      const t = expectOk(await call('POST', '/admin/v1/tenants', body));
      out(`Created tenant ${t.slug} (${t.id}).`, t);
    } else if (command === 'tenant' && sub === 'list') {
      const { tenants } = expectOk(await call('GET', '/admin/v1/tenants'));
      out(tenants.map((t: any) => `${t.slug}\t${t.name}\t${t.loginMethods.join(',')}`).join('\n') || 'No tenants yet.', tenants);
    } else if (command === 'user' && sub === 'create') {
      const [tenant, email] = need(2, HELP.user!);
      const body: Record<string, unknown> = { email };
      for (const k of ['password', 'name', 'role']) if (typeof flags[k] === 'string') body[k] = flags[k];
      const u = expectOk(await call('POST', `/admin/v1/tenants/${encodeURIComponent(tenant)}/users`, body));
      out(`Created user ${u.email} (${u.id}) in ${tenant}.`, u);
    } else if (command === 'user' && sub === 'list') {
      const [tenant] = need(1, HELP.user!);
      const q = typeof flags.q === 'string' ? `?q=${encodeURIComponent(flags.q)}&limit=200` : '?limit=200';
      const { users } = expectOk(await call('GET', `/admin/v1/tenants/${encodeURIComponent(tenant)}/users${q}`));
      out(users.map((u: any) => `${u.email}\t${u.role}\t${u.status}\t${u.id}`).join('\n') || 'No users.', users);
    } else if (command === 'user' && (sub === 'disable' || sub === 'enable')) {
      const [tenant, email] = need(2, HELP.user!);
      const id = await userId(call, tenant, email);
      const u = expectOk(await call('PATCH', `/admin/v1/tenants/${encodeURIComponent(tenant)}/users/${id}`, { disabled: sub === 'disable' }));
      out(`${u.email} is now ${u.status}.`, u);
    } else if (command === 'user' && sub === 'import') {
      const [tenant, file] = need(2, HELP.user!);
      const { parseCsv } = await import('./csv.ts');
      const rows = parseCsv(readFileSync(file, 'utf8'));
      progress(`read ${rows.length} rows from ${file}; checking and importing…`);
      const r = expectOk(await call('POST', `/admin/v1/tenants/${encodeURIComponent(tenant)}/users/import`, {
        users: rows.map((row) => ({ email: row.email ?? '', name: row.name, role: row.role })),
      }));
      const lines = [`Created ${r.created} users in ${tenant}; skipped ${r.skipped.length}.`];
      for (const s of r.skipped) lines.push(`  row ${s.row} (${s.email || 'no email'}): ${s.reason}`);
      out(lines.join('\n'), r);
    } else if (command === 'audit' && sub === 'export') {
      const format = flags.format === 'csv' ? 'csv' : 'jsonl';
      const limit = typeof flags.limit === 'string' ? Number(flags.limit) : Infinity;
      const events: Record<string, unknown>[] = [];
      let before: number | undefined;
      while (events.length < limit) {
        const q = new URLSearchParams({ limit: '1000' });
        if (typeof flags.tenant === 'string') q.set('tenant', flags.tenant);
        if (before !== undefined) q.set('before', String(before));
        const page = expectOk(await call('GET', `/admin/v1/audit?${q}`)).events as { id: number }[];
        events.push(...page);
        progress(`exported ${events.length} events…`);
        if (page.length < 1000) break;
        before = page[page.length - 1]!.id;
      }
      const rows = events.slice(0, limit);
      if (format === 'csv') {
        // The same columns as the admin console's download.
        const { AUDIT_CSV_COLUMNS, auditCsvLine } = await import('../features/audit/audit.ts');
        process.stdout.write(`${AUDIT_CSV_COLUMNS.join(',')}\n`);
        for (const e of rows as unknown as AuditView[]) process.stdout.write(`${auditCsvLine(e)}\n`);
      } else {
        for (const e of rows) process.stdout.write(`${JSON.stringify(e)}\n`);
      }
    } else if (command === 'reset-link') {
      const [tenant, email] = need(2, HELP['reset-link']!);
      const id = await userId(call, tenant, email);
      const body: Record<string, unknown> = { delivery: 'link' };
      if (typeof flags['expires-in'] === 'string') body.expiresIn = flags['expires-in'];
      if (typeof flags.reason === 'string') body.reason = flags.reason;
      const r = expectOk(await call('POST', `/admin/v1/tenants/${encodeURIComponent(tenant)}/users/${id}/password-reset`, body));
      out(`${r.url}\n(expires ${r.expiresAt})`, r);
    } else {
      throw new UsageError(HELP[command] ?? HELP.main!);
    }
    return 0;
  } finally {
    await client.close();
  }
}

export async function run(argv: string[]): Promise<void> {
  try {
    const code = await main(argv);
    if (code >= 0) process.exit(code);
  } catch (e) {
    if (e instanceof UsageError) { console.error(e.message); process.exit(2); }
    if (e instanceof ConfigError) { console.error(e.message); process.exit(1); }
    console.error(`keyturn: ${(e as Error).message}`);
    process.exit(1);
  }
}
