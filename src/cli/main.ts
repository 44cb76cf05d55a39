// `keyturn` — every command speaks the operator API: over HTTP to the running server when there is
// one (an embedded database can only be open in one process), or in-process otherwise. Each command
// is one entry of COMMANDS: parsing, usage errors and every --help text are made from that table.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, databaseOptions, loadConfig, serverFile, type Config } from '../config.ts';
import type { AuditView } from '../features/audit/audit.ts';
// Heavy modules (server, database) load only for the commands that need them: --help stays instant.

class UsageError extends Error {}

interface Option {
  name: string;
  /** What the value looks like; none for a switch. `a|b|c`: the only values taken. */
  value?: string;
  help: string;
}

interface Invocation {
  /** The command's arguments, in the order of its `args`. */
  args: string[];
  /** Its options: the value, or true for a switch. */
  flags: Record<string, string | true>;
  json: boolean;
  config: Config;
  /** Prints the human text, or with --json the data as one JSON document. */
  out(human: string, data: unknown): void;
  /** The operator API, opened on first use and closed when the command ends. */
  operator(): Promise<Call>;
}

interface Command {
  /** One word, or a group and a word ('user list'). */
  name: string;
  args: string[];
  options: Option[];
  /** One line, for the lists of commands. */
  summary: string;
  /** What `keyturn <name> --help` says under the usage line. */
  help: string;
  /** The exit code (nothing: 0), or RUNNING for a command that keeps the process alive. */
  run(c: Invocation): Promise<number | void>;
}

const RUNNING = -1;

const GLOBAL_OPTIONS: Option[] = [
  { name: 'json', help: 'machine-readable output: exactly one JSON document on stdout' },
  { name: 'help', help: 'this text' },
];

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
  // Logs go to stderr (stdout is the command's output), and the command's own requests are not
  // news: warn and up unless LOG_LEVEL asks for more.
  const logLevel = process.env.LOG_LEVEL ? config.logLevel : 'warn';
  const app = await buildApp({ ...config, logLevel }, { startWorker: false, logStream: process.stderr });
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

const document = (data: unknown) => JSON.stringify(data, null, 2);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const tenantPath = (slug: string) => `/admin/v1/tenants/${encodeURIComponent(slug)}`;

function expectOk(res: { status: number; body: any }): any {
  if (res.status >= 400) throw new Error(res.body?.message ?? `failed with status ${res.status}`);
  return res.body;
}

/** The value of a numeric option, if given. */
function count(c: Invocation, option: string): number | undefined {
  const v = c.flags[option];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[1-9]\d*$/.test(v)) throw new UsageError(`--${option} takes a whole number of at least 1, not "${v}".`);
  return Number(v);
}

interface UserRow { id: string; email: string; role: string; status: string; }
interface RowProblem { row: number; line?: number; email: string; reason: string; }

const problemLines = (rows: RowProblem[]) => rows.map((s) => `  line ${s.line ?? s.row} (${s.email || 'no email'}): ${s.reason}`);

/**
 * Users of a tenant in email order, following the operator API's keyset pages (200 at most each)
 * until `limit` users or the end. `next` is the `after` of the rest; null when none are left.
 */
async function usersOf(call: Call, tenant: string, filter: { q?: string; after?: string; limit?: number }) {
  const limit = filter.limit ?? Infinity;
  const users: UserRow[] = [];
  let next = filter.after ?? null;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(200, limit - users.length)) });
    if (filter.q) query.set('q', filter.q);
    if (next) query.set('after', next);
    const page = expectOk(await call('GET', `${tenantPath(tenant)}/users?${query}`)) as { users: UserRow[]; next: string | null };
    users.push(...page.users);
    next = page.next;
  } while (next && users.length < limit);
  return { users, next };
}

async function userId(call: Call, tenant: string, email: string): Promise<string> {
  // The search also finds longer addresses that contain this one: the exact match is picked here.
  const { users } = await usersOf(call, tenant, { q: email });
  const user = users.find((u) => u.email.toLowerCase() === email.trim().toLowerCase());
  if (!user) throw new Error(`No user ${email} in tenant ${tenant}.`);
  return user.id;
}

async function setDisabled(c: Invocation, disabled: boolean): Promise<void> {
  const [tenant, email] = c.args as [string, string];
  const call = await c.operator();
  const id = await userId(call, tenant, email);
  const u = expectOk(await call('PATCH', `${tenantPath(tenant)}/users/${id}`, { disabled }));
  c.out(`${u.email} is now ${u.status}.`, u);
}

export const COMMANDS: Command[] = [
  {
    name: 'serve', args: [], options: [],
    summary: 'start Keyturn (public + operator listeners)',
    help: 'Starts the public listener (PORT/HOST) and the operator listener (ADMIN_PORT/ADMIN_HOST).',
    async run(c) {
      await (await import('../server.ts')).serve(c.config);
      return RUNNING;
    },
  },
  {
    name: 'migrate', args: [], options: [],
    summary: 'apply database migrations (PostgreSQL; the embedded database migrates itself)',
    help: 'Applies the migrations this version ships that the database lacks (under an advisory lock on\n'
      + 'PostgreSQL) and says how many it applied. --json: {applied, total}.',
    async run(c) {
      const { openDatabase } = await import('../platform/db.ts');
      const db = await openDatabase(databaseOptions(c.config));
      try {
        const applied = await db.migrate();
        const total = (await db.migrationState()).applied;
        c.out(`${applied ? `Applied ${plural(applied, 'migration')}` : 'Nothing to apply'}; the database is current (${plural(total, 'migration')}).`, { applied, total });
      } finally {
        await db.close();
      }
    },
  },
  {
    name: 'tenant create', args: ['slug', 'name'],
    options: [
      { name: 'login-methods', value: 'password,google', help: 'how its people sign in (default: password)' },
      { name: 'policy', value: 'default|nist', help: 'the password policy preset (default: default)' },
    ],
    summary: 'create a tenant',
    help: 'Creates a tenant; <slug> is its name in URLs (lower-case letters, digits and dashes).',
    async run(c) {
      const [slug, name] = c.args;
      const body: Record<string, unknown> = { slug, name };
      if (typeof c.flags['login-methods'] === 'string') body.loginMethods = c.flags['login-methods'].split(',');
      if (typeof c.flags.policy === 'string') body.passwordPolicy = { preset: c.flags.policy };
      const t = expectOk(await (await c.operator())('POST', '/admin/v1/tenants', body));
      c.out(`Created tenant ${t.slug} (${t.id}).`, t);
    },
  },
  {
    name: 'tenant list', args: [], options: [],
    summary: 'list tenants',
    help: 'One line per tenant: slug, name, login methods.',
    async run(c) {
      const { tenants } = expectOk(await (await c.operator())('GET', '/admin/v1/tenants'));
      c.out(tenants.map((t: any) => `${t.slug}\t${t.name}\t${t.loginMethods.join(',')}`).join('\n') || 'No tenants yet.', tenants);
    },
  },
  {
    name: 'user create', args: ['tenant', 'email'],
    options: [
      { name: 'password', value: 'P', help: 'a first password, checked against the tenant\'s rules (without one, the user sets it by reset link)' },
      { name: 'name', value: 'N', help: 'the display name' },
      { name: 'role', value: 'admin|supervisor|member', help: 'default: member' },
    ],
    summary: 'create a user',
    help: 'Creates a user of the tenant.',
    async run(c) {
      const [tenant, email] = c.args as [string, string];
      const body: Record<string, unknown> = { email };
      for (const k of ['password', 'name', 'role']) if (typeof c.flags[k] === 'string') body[k] = c.flags[k];
      const u = expectOk(await (await c.operator())('POST', `${tenantPath(tenant)}/users`, body));
      c.out(`Created user ${u.email} (${u.id}) in ${tenant}.`, u);
    },
  },
  {
    name: 'user list', args: ['tenant'],
    options: [
      { name: 'q', value: 'text', help: 'only users whose email or name contains text' },
      { name: 'limit', value: 'N', help: 'stop after N users; when more exist, the last line says how to go on' },
      { name: 'after', value: 'email', help: 'start after this email (the one that line gives)' },
    ],
    summary: 'list users (all of them, unless --limit)',
    help: 'Every user of the tenant in email order, one line each: email, role, status, id. With --limit N\n'
      + 'it stops after N users and, when more exist, ends with "More users: run again with --after <email>".\n'
      + '--json: an array of users; with --limit, {users, next} (next: the --after of the rest, or null).',
    async run(c) {
      const [tenant] = c.args as [string];
      const limit = count(c, 'limit');
      const { users, next } = await usersOf(await c.operator(), tenant, {
        q: c.flags.q as string | undefined, after: c.flags.after as string | undefined, limit,
      });
      const lines = users.map((u) => `${u.email}\t${u.role}\t${u.status}\t${u.id}`);
      if (next) lines.push(`More users: run again with --after ${next}`);
      c.out(lines.join('\n') || 'No users.', limit === undefined ? users : { users, next });
    },
  },
  {
    name: 'user disable', args: ['tenant', 'email'], options: [],
    summary: 'disable a user (signs them out, kills pending reset links)',
    help: 'Disables the user: every session and every pending reset link ends at once.',
    run: (c) => setDisabled(c, true),
  },
  {
    name: 'user enable', args: ['tenant', 'email'], options: [],
    summary: 'enable a user again',
    help: 'Enables a disabled user again.',
    run: (c) => setDisabled(c, false),
  },
  {
    name: 'user mfa-reset', args: ['tenant', 'email'], options: [{ name: 'reason', value: 'text', help: 'why (required; it goes into the audit log and the owner\'s email)' }],
    summary: 'reset a user\'s two-step verification (a lost phone)',
    help: 'Removes every second factor and recovery code of the user, signs them out everywhere and emails them.\n'
      + 'They sign in with their password alone next time (or add a factor at once where their tenant requires one).',
    async run(c) {
      const [tenant, email] = c.args as [string, string];
      const reason = c.flags.reason;
      if (typeof reason !== 'string' || reason.trim() === '') throw new UsageError('--reason is required: say why, for the audit log.');
      const call = await c.operator();
      const id = await userId(call, tenant, email);
      const done = expectOk(await call('POST', `${tenantPath(tenant)}/users/${id}/mfa-reset`, { reason }));
      c.out(`Two-step verification of ${email} was reset: ${done.removed} factor${done.removed === 1 ? '' : 's'} removed, signed out everywhere, owner emailed.`, done);
    },
  },
  {
    name: 'oidc-client create', args: ['name'],
    options: [
      { name: 'type', value: 'confidential|public', help: 'public: a desktop, mobile or browser app that cannot keep a secret (PKCE required); default: confidential' },
      { name: 'redirect-uri', value: 'URL[,URL]', help: 'where the app receives the sign-in answer (required)' },
      { name: 'post-logout-uri', value: 'URL[,URL]', help: 'where end_session may send the person back' },
      { name: 'backchannel-logout-uri', value: 'URL', help: 'where the app is told that a session ended (OIDC Back-Channel Logout)' },
      { name: 'tenants', value: 'slug[,slug]', help: 'only people of these tenants may sign in to it (default: every tenant)' },
    ],
    summary: 'register an app that signs people in through Keyturn (OpenID Connect)',
    help: 'Registers one of the platform\'s apps with Keyturn\'s OpenID Provider and prints its client id\n'
      + '(and, for a confidential app, its secret: shown this once). Discovery: PUBLIC_URL/.well-known/openid-configuration.',
    async run(c) {
      const list = (k: string) => (typeof c.flags[k] === 'string' ? (c.flags[k] as string).split(',').map((x) => x.trim()).filter(Boolean) : undefined);
      const redirectUris = list('redirect-uri');
      if (!redirectUris?.length) throw new UsageError('--redirect-uri is required: where the app receives the sign-in answer.');
      const body: Record<string, unknown> = { name: c.args[0], type: c.flags.type === 'public' ? 'public' : 'confidential', redirectUris };
      if (list('post-logout-uri')) body.postLogoutRedirectUris = list('post-logout-uri');
      if (typeof c.flags['backchannel-logout-uri'] === 'string') body.backchannelLogoutUri = c.flags['backchannel-logout-uri'];
      if (list('tenants')) body.tenants = list('tenants');
      const created = expectOk(await (await c.operator())('POST', '/admin/v1/oidc/clients', body));
      c.out(`Registered ${created.name}: client id ${created.clientId}${created.clientSecret ? `\nclient secret (shown once): ${created.clientSecret}` : ' (public: no secret, PKCE required)'}`, created);
    },
  },
  {
    name: 'oidc-client list', args: [], options: [],
    summary: 'list the registered apps',
    help: 'One line per app: client id, type, name, redirect URIs. Secrets are never shown again.',
    async run(c) {
      const { clients } = expectOk(await (await c.operator())('GET', '/admin/v1/oidc/clients'));
      c.out(clients.map((a: any) => `${a.clientId}\t${a.type}\t${a.name}\t${a.redirectUris.join(',')}`).join('\n') || 'No apps yet.', clients);
    },
  },
  {
    name: 'oidc-client delete', args: ['client-id'], options: [],
    summary: 'remove an app: its sessions end and its tokens stop working',
    help: 'Removes the app. Everyone signed in to it is signed out of it (its refresh tokens stop working at\n'
      + 'once, and it is sent back-channel logouts).',
    async run(c) {
      expectOk(await (await c.operator())('DELETE', `/admin/v1/oidc/clients/${encodeURIComponent(c.args[0]!)}`));
      c.out(`Removed app ${c.args[0]}.`, { clientId: c.args[0] });
    },
  },
  {
    name: 'keys rotate', args: [], options: [],
    summary: 'add a new signing key for the OpenID Provider (the old one keeps verifying)',
    help: 'Adds a new signing key (ES256): ID and access tokens are signed with it from now on, on every\n'
      + 'instance within seconds. The previous keys stay published at the JWKS, so tokens in flight keep\n'
      + 'verifying; keys superseded more than a day ago are retired.',
    async run(c) {
      const { keys } = expectOk(await (await c.operator())('POST', '/admin/v1/oidc/keys/rotate'));
      c.out(keys.map((k: any) => `${k.kid}\t${k.alg}\t${k.createdAt}\t${k.signing ? 'signing' : k.retiredAt ? `retired ${k.retiredAt}` : 'verifying'}`).join('\n'), keys);
    },
  },
  {
    name: 'user import', args: ['tenant', 'file.csv'],
    options: [{ name: 'skip-invalid', help: 'create the rows that can be created and list the others with reasons' }],
    summary: 'create users from CSV (email,name,role): all or nothing',
    help: 'A UTF-8 CSV file with a header row naming its columns: email (required), name, role (admin,\n'
      + 'supervisor or member; default member). No passwords: users set theirs by reset link.\n'
      + 'All or nothing: if any row cannot be created (a bad email, role or name, more fields than the\n'
      + 'header, twice in the file, already a user — also one created while the import runs), nothing is\n'
      + 'created, every problem row is listed with its line and reason, and the exit code is 1. A file\n'
      + 'that cannot be read as a whole (a quote that never closes, an unknown column) is refused the same way.\n'
      + 'With --skip-invalid the other rows go in together, in one transaction, and the problem rows are\n'
      + 'listed as skipped. --json: {created, skipped}; refused, {created: 0, problems}.',
    async run(c) {
      const [tenant, file] = c.args as [string, string];
      const bytes = readFileSync(file);
      let csv: string;
      try {
        csv = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new Error(`${file} is not UTF-8 text: save it as "CSV UTF-8" and try again.`);
      }
      progress(`checking and importing ${file}…`);
      const res = await (await c.operator())('POST', `${tenantPath(tenant)}/users/import`, {
        csv, allOrNothing: c.flags['skip-invalid'] !== true,
      });
      if (res.status === 422 && res.body?.error === 'import_rejected') {
        const problems = res.body.problems as RowProblem[];
        if (c.json) console.log(document({ created: 0, problems }));
        const n = problems.length;
        throw new Error([`Nothing imported into ${tenant}: ${n === 1 ? '1 row has' : `${n} rows have`} problems.`, ...problemLines(problems)].join('\n'));
      }
      const r = expectOk(res);
      c.out([`Created ${r.created} users in ${tenant}; skipped ${r.skipped.length}.`, ...problemLines(r.skipped)].join('\n'), r);
    },
  },
  {
    name: 'audit export', args: [],
    options: [
      { name: 'tenant', value: 'slug', help: 'only this tenant\'s events' },
      { name: 'format', value: 'csv|jsonl', help: 'default: jsonl' },
      { name: 'limit', value: 'N', help: 'the newest N events only' },
    ],
    summary: 'audit events as CSV or JSON Lines',
    help: 'Writes audit events, newest first, to standard output (default: JSON Lines). --json: one JSON array.',
    async run(c) {
      const call = await c.operator();
      const limit = count(c, 'limit') ?? Infinity;
      const events: Record<string, unknown>[] = [];
      let before: number | undefined;
      while (events.length < limit) {
        const q = new URLSearchParams({ limit: '1000' });
        if (typeof c.flags.tenant === 'string') q.set('tenant', c.flags.tenant);
        if (before !== undefined) q.set('before', String(before));
        const page = expectOk(await call('GET', `/admin/v1/audit?${q}`)).events as { id: number }[];
        events.push(...page);
        progress(`exported ${events.length} events…`);
        if (page.length < 1000) break;
        before = page[page.length - 1]!.id;
      }
      const rows = events.slice(0, limit);
      if (c.json) {
        console.log(document(rows));
      } else if (c.flags.format === 'csv') {
        // The same columns as the admin console's download.
        const { AUDIT_CSV_COLUMNS, auditCsvLine } = await import('../features/audit/audit.ts');
        process.stdout.write(`${AUDIT_CSV_COLUMNS.join(',')}\n`);
        for (const e of rows as unknown as AuditView[]) process.stdout.write(`${auditCsvLine(e)}\n`);
      } else {
        for (const e of rows) process.stdout.write(`${JSON.stringify(e)}\n`);
      }
    },
  },
  {
    name: 'reset-link', args: ['tenant', 'email'],
    options: [
      { name: 'expires-in', value: '1h|24h|72h|7d', help: 'how long the link works (default: ADMIN_RESET_TOKEN_TTL)' },
      { name: 'reason', value: 'text', help: 'why, for the audit log' },
    ],
    summary: 'print a fresh reset URL',
    help: 'Prints a fresh reset URL for the user (an admin-made link; older links stop working).',
    async run(c) {
      const [tenant, email] = c.args as [string, string];
      const call = await c.operator();
      const id = await userId(call, tenant, email);
      const body: Record<string, unknown> = { delivery: 'link' };
      if (typeof c.flags['expires-in'] === 'string') body.expiresIn = c.flags['expires-in'];
      if (typeof c.flags.reason === 'string') body.reason = c.flags.reason;
      const r = expectOk(await call('POST', `${tenantPath(tenant)}/users/${id}/password-reset`, body));
      c.out(`${r.url}\n(expires ${r.expiresAt})`, r);
    },
  },
  {
    name: 'mailbox', args: [],
    options: [{ name: 'show', value: 'N', help: 'print message N (1 = newest) in full' }],
    summary: 'list dev-mailbox messages (newest first)',
    help: 'Lists the dev mailbox (DATA_DIR/mailbox), newest first.',
    async run(c) {
      if (c.config.env === 'production') throw new Error('There is no dev mailbox in production: mail goes to SMTP_URL.');
      const { readMailbox } = await import('../platform/mail/dev-mailbox.ts');
      const messages = await readMailbox(join(c.config.dataDir, 'mailbox'));
      const show = count(c, 'show');
      if (show !== undefined) {
        const m = messages[show - 1];
        if (!m) throw new Error(`No message ${show} (the mailbox holds ${messages.length}).`);
        c.out(`From: ${m.from}\nTo: ${m.to}\nDate: ${m.receivedAt}\nSubject: ${m.subject}\n\n${m.text}`, m);
        return;
      }
      c.out(messages.length === 0 ? 'The dev mailbox is empty.'
        : messages.map((m, i) => `${String(i + 1).padStart(3)}  ${m.receivedAt}  ${m.to}  ${m.subject}`).join('\n')
          + '\n\nShow one with: npx keyturn mailbox --show 1',
      messages.map(({ id, receivedAt, to, subject }) => ({ id, receivedAt, to, subject })));
    },
  },
];

// ── usage, made from the table ───────────────────────────────────────────────────────────────

const synopsis = (c: Command) => [c.name, ...c.args.map((a) => `<${a}>`)].join(' ');
const optionSynopsis = (options: Option[]) => options.map((o) => `[--${o.name}${o.value ? ` ${o.value}` : ''}]`).join(' ');

function commandList(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => synopsis(c).length)) + 3;
  return commands.map((c) => `  ${synopsis(c).padEnd(width)}${c.summary}${c.options.length ? `   ${optionSynopsis(c.options)}` : ''}`).join('\n');
}

const mainHelp = () => `Usage: keyturn <command> [options]

Commands:
${commandList(COMMANDS)}

Options: --json (machine-readable output), --help (on every command).
Configuration comes from the environment (see README); exit codes: 0 ok, 1 failed, 2 usage error.`;

const groupHelp = (group: string, commands: Command[]) =>
  `Usage: keyturn ${group} <command> [options]\n\nCommands:\n${commandList(commands)}\n\nkeyturn ${group} <command> --help describes one.`;

function commandHelp(c: Command): string {
  const options = [...c.options, ...GLOBAL_OPTIONS].map((o) => [`--${o.name}${o.value ? ` ${o.value}` : ''}`, o.help] as const);
  const width = Math.max(...options.map(([flag]) => flag.length)) + 3;
  return `Usage: keyturn ${[synopsis(c), optionSynopsis(c.options)].filter(Boolean).join(' ')}\n\n${c.help}\n\nOptions:\n`
    + options.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`).join('\n');
}

// ── parsing ──────────────────────────────────────────────────────────────────────────────────

/** Switches take no value, so `--skip-invalid acme` leaves `acme` an argument. */
const SWITCHES = new Set([...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options)].filter((o) => !o.value).map((o) => o.name));

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      if (v !== undefined) flags[k] = v;
      else if (SWITCHES.has(k) || argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) flags[k] = true;
      else flags[k] = argv[++i]!;
    } else if (a === '-h') flags.help = true;
    else positional.push(a);
  }
  return { positional, flags };
}

function findCommand(positional: string[]): { command: Command; args: string[] } | undefined {
  const [first, second] = positional;
  const pair = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (pair) return { command: pair, args: positional.slice(2) };
  const single = COMMANDS.find((c) => c.name === first);
  return single && { command: single, args: positional.slice(1) };
}

/** No command matched: the help asked for, or a usage error naming what is wrong. */
function noCommand(positional: string[], help: boolean): number {
  const [first, second] = positional;
  if (first === undefined) {
    if (!help) throw new UsageError(mainHelp());
    console.log(mainHelp());
    return 0;
  }
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
  if (group.length === 0) throw new UsageError(`Unknown command "${first}".\n\n${mainHelp()}`);
  if (second === undefined && help) {
    console.log(groupHelp(first, group));
    return 0;
  }
  throw new UsageError(`${second === undefined ? `"${first}" needs a command.` : `Unknown command "${first} ${second}".`}\n\n${groupHelp(first, group)}`);
}

function checkUsage(command: Command, args: string[], flags: Record<string, string | true>): void {
  const wrong = (problem: string) => new UsageError(`${problem}\n\n${commandHelp(command)}`);
  const missing = command.args.find((_, i) => !args[i]);
  if (missing) throw wrong(`Missing <${missing}>.`);
  if (args.length > command.args.length) throw wrong(`Too many arguments: ${args.slice(command.args.length).join(' ')}`);
  for (const [name, value] of Object.entries(flags)) {
    const option = [...command.options, ...GLOBAL_OPTIONS].find((o) => o.name === name);
    if (!option) throw wrong(`Unknown option --${name}.`);
    if (!option.value && value !== true) throw wrong(`--${name} takes no value.`);
    if (option.value && value === true) throw wrong(`--${name} needs a value (${option.value}).`);
    const choices = option.value?.includes('|') ? option.value.split('|') : undefined;
    if (choices && !choices.includes(value as string)) throw wrong(`--${name} takes ${choices.join(', ')}; not "${value}".`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  const found = findCommand(positional);
  if (!found) return noCommand(positional, flags.help === true);
  const { command, args } = found;
  if (flags.help) {
    console.log(commandHelp(command));
    return 0;
  }
  checkUsage(command, args, flags);

  const config = loadConfig();
  const json = flags.json === true;
  let client: Awaited<ReturnType<typeof operatorClient>> | undefined;
  try {
    const code = await command.run({
      args, flags, json, config,
      out: (human, data) => console.log(json ? document(data) : human),
      operator: async () => (client ??= await operatorClient(config)).call,
    });
    return code ?? 0;
  } finally {
    await client?.close();
  }
}

export async function run(argv: string[]): Promise<void> {
  try {
    const code = await main(argv);
    if (code !== RUNNING) process.exit(code);
  } catch (e) {
    if (e instanceof UsageError) { console.error(e.message); process.exit(2); }
    if (e instanceof ConfigError) { console.error(e.message); process.exit(1); }
    console.error(`keyturn: ${(e as Error).message}`);
    process.exit(1);
  }
}
