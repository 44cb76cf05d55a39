// Issue 13's benchmark: a sign-in with the second step (the password request, then the TOTP
// request) side by side with a password-only sign-in. The second step must be cheap — no second
// hash — so the pair may cost at most 5 % more than the password request alone.
//
//   node --import tsx bench/mfa.ts        prints the figures (PostgreSQL when BENCH_DATABASE_URL or
//                                         TEST_DATABASE_URL is set, otherwise PGlite in memory)
//   mfaSignIn({ db, smtpUrl })            the same as a scenario of bench/run.ts; mfaRow() is its row
//
// Keyturn runs in this process in production mode with production argon2 parameters; the load
// comes from bench/mfa-load.ts in a process of its own. Every account has the same password (one
// hash, so every verify costs the same). Each TOTP code is accepted once per account, and the clock
// of a production Keyturn cannot be moved: every two-step sign-in gets an account of its own, with
// an authenticator app and ten recovery codes. A few are enrolled through the feature functions
// (startTotp, confirmTotp) as a person would; those cost tens of milliseconds each (QR code, owner's
// email, audit), so the rest get, in bulk, the rows confirmTotp leaves — the sign-in reads
// the same rows either way, and the warm-up refuses to go on if any account cannot sign in.
//
// Password-only runs, two-step runs and runs of the first request alone take turns (A, B, F, A, B,
// F …) and each kind's median is taken, so a burst of load from elsewhere does not decide the ratio. Two ratios are reported: wall time per
// sign-in at saturation (sign-ins per second, password-only over two-step) and the CPU this process
// spent per sign-in (argon2's threads and, with PGlite, the database included; with a PostgreSQL
// server, not the server's share). The runs of the first request alone (the 403; accounts reused, as
// no code is spent) tell how much of the pair's cost is the TOTP request.
//   BENCH_MFA_SIGNINS (300) sign-ins per run; BENCH_ROUNDS (3) runs of each; 16 connections.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { accountById } from '../src/features/accounts/store.ts';
import { confirmTotp, startTotp } from '../src/features/mfa/factors.ts';
import { newRecoveryCodes } from '../src/features/mfa/recovery-codes.ts';
import { newTotpSecret } from '../src/features/mfa/totp.ts';
import { tenantBySlug } from '../src/features/tenants/store.ts';
import { openDatabase, rowsOf, type Database } from '../src/platform/db.ts';
import { mfaFactors, recoveryCodes } from '../src/platform/schema.ts';
import { emptyPostgresDatabase } from '../test/helpers/app.ts';
import { startSmtpSink } from './smtp-sink.ts';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'Sunny-Harbor-42!';
const WARM_UP = 40;
const PASSWORD_ACCOUNTS = 200;
const ENROLLED_BY_HAND = 10;
/** The ceiling: the pair costs at most this much more than the password request alone. */
export const MFA_TARGET = 1.05;

interface LoadResult { signIns: number; seconds: number; perSecond: number; bad: number; firstP50: number; secondP50: number | null; }
export interface MfaRun { perSecond: number; cpuMsPerSignIn: number; firstP50: number; secondP50: number | null; bad: number; }
export interface MfaFigures {
  /** POST /api/v1/login → 200, for an account without a factor. */
  passwordOnly: MfaRun;
  /** POST /api/v1/login → 403 mfa_required, then POST /api/v1/login/mfa with a TOTP code → 200. */
  twoStep: MfaRun;
  /** The 403 alone: what the first request of the pair costs, so the TOTP request's share is the difference. */
  firstStepAlone: MfaRun;
  /** Wall time per two-step sign-in over wall time per password-only sign-in, at saturation. */
  ratio: number;
  /** CPU of this process per two-step sign-in over the same per password-only sign-in. */
  cpuRatio: number;
  runs: { passwordOnly: number[]; twoStep: number[] };
  signInsPerRun: number; rounds: number; connections: number;
}

async function load(job: Record<string, unknown>): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-bench-mfa-'));
  try {
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(job));
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'mfa-load.ts'), file], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout) as LoadResult;
  } finally {
    rmSync(dir, { recursive: true, force: true }); // it holds the bench accounts' TOTP secrets
  }
}

/** One load run, with the CPU this process (the server) spent on it. */
async function measured(job: Record<string, unknown>): Promise<MfaRun> {
  const before = process.cpuUsage();
  const r = await load(job);
  const cpu = process.cpuUsage(before);
  return { perSecond: r.perSecond, cpuMsPerSignIn: (cpu.user + cpu.system) / 1000 / r.signIns, firstP50: r.firstP50, secondP50: r.secondP50, bad: r.bad };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function mfaSignIn(opts: { db: Database; smtpUrl: string; signIns?: number; rounds?: number; connections?: number; log?: (line: string) => void }): Promise<MfaFigures> {
  const signIns = opts.signIns ?? Number(process.env.BENCH_MFA_SIGNINS ?? 300);
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  const connections = opts.connections ?? 16;
  const log = opts.log ?? (() => {});
  const config = configFrom({
    NODE_ENV: 'production', SMTP_URL: opts.smtpUrl, DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', RATE_LIMIT_SCALE: '1000000',
    PUBLIC_URL: 'http://127.0.0.1:3900', SECRET_KEY: 'bench-secret-'.padEnd(48, 'b'), ADMIN_API_KEY: 'bench-operator-key-'.padEnd(40, 'k'),
    RATE_LIMIT_PREFIX: `kt-bench-mfa-${Date.now()}`,
  });
  const app = await buildApp(config, { database: opts.db });
  try {
    await app.publicApp.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.publicApp.server.address() as { port: number }).port}`;
    const op = async (url: string, body: unknown) => {
      const res = await app.adminApp.inject({ method: 'POST', url, headers: { authorization: `Bearer ${app.adminApiKey}` }, payload: body as object });
      if (res.statusCode >= 400) throw new Error(`${url}: ${res.body}`);
    };

    // Accounts: password-only ones (reused in turn), and one enrolled account per two-step sign-in.
    const slug = `bench-mfa-${Date.now().toString(36)}`;
    await op('/admin/v1/tenants', { slug, name: 'Bench MFA' });
    const enrolled = WARM_UP + rounds * signIns;
    await op(`/admin/v1/tenants/${slug}/users/import`, {
      users: [
        ...Array.from({ length: PASSWORD_ACCOUNTS }, (_, i) => ({ email: `p${i}@${slug}.example` })),
        ...Array.from({ length: enrolled }, (_, i) => ({ email: `m${i}@${slug}.example` })),
      ],
    });
    const tenant = (await tenantBySlug(app.ctx.db, slug))!;
    await app.ctx.db.execute(sql`update users set password_hash = ${await app.ctx.hasher.hash(PASSWORD)} where tenant_id = ${tenant.id}`);
    const ids = rowsOf<{ id: string; email: string }>(await app.ctx.db.execute(sql`select id, email from users where tenant_id = ${tenant.id} and email like 'm%' order by email`));
    const t0 = Date.now();
    const twoStepAccounts: { email: string; secret: string }[] = [];
    for (const { id, email } of ids.slice(0, ENROLLED_BY_HAND)) {
      const account = (await accountById(app.ctx.db, id))!;
      const started = await startTotp(app.ctx, account);
      const code = new TOTP({ secret: Secret.fromBase32(started.secret) }).generate({ timestamp: Date.now() });
      await confirmTotp(app.ctx, account, started.id, code, { type: 'user', id });
      twoStepAccounts.push({ email, secret: started.secret });
    }
    const now = new Date();
    const step = Math.floor(now.getTime() / 30_000);
    for (let i = ENROLLED_BY_HAND; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500).map(({ id, email }) => ({ id, email, secret: newTotpSecret() }));
      await app.ctx.db.insert(mfaFactors).values(batch.map((u) => ({
        userId: u.id, type: 'totp', label: 'Authenticator app', status: 'active', sealedSecret: app.ctx.secrets.seal(u.secret, 'mfa', u.id),
        lastStep: step, lastUsedAt: now, createdAt: now,
      })));
      await app.ctx.db.insert(recoveryCodes).values(batch.flatMap((u) => newRecoveryCodes(app.ctx.secrets, u.id).hashes.map((codeHash) => ({ userId: u.id, codeHash, createdAt: now }))));
      twoStepAccounts.push(...batch.map(({ email, secret }) => ({ email, secret })));
    }
    await app.ctx.worker.drain();
    log(`enrolled ${enrolled} accounts with an authenticator app in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const passwordAccounts = Array.from({ length: PASSWORD_ACCOUNTS }, (_, i) => ({ email: `p${i}@${slug}.example` }));

    const job = (accounts: { email: string; secret?: string }[], amount: number, firstOnly = false) =>
      ({ url: base, password: PASSWORD, connections, amount, accounts, firstOnly });
    let unused = 0;
    const fresh = (n: number) => twoStepAccounts.slice(unused, (unused += n));
    // Warm-up (connections, JIT, the database's caches), starting with the accounts enrolled by hand.
    const warm = [await load(job(passwordAccounts, WARM_UP)), await load(job(fresh(WARM_UP), WARM_UP))];
    if (warm.some((r) => r.bad > 0)) throw new Error(`warm-up: ${warm[0]!.bad} password-only and ${warm[1]!.bad} two-step sign-ins did not go through`);
    const runs: Record<'a' | 'b' | 'f', MfaRun[]> = { a: [], b: [], f: [] };
    for (let i = 0; i < rounds; i++) {
      runs.a.push(await measured(job(passwordAccounts, signIns)));
      runs.b.push(await measured(job(fresh(signIns), signIns)));
      runs.f.push(await measured(job(twoStepAccounts, signIns, true)));
      const say = (r: MfaRun) => `${r.perSecond.toFixed(1)}/s, ${r.cpuMsPerSignIn.toFixed(1)} ms CPU`;
      log(`round ${i + 1}: password-only ${say(runs.a[i]!)}; two-step ${say(runs.b[i]!)}; first step alone ${say(runs.f[i]!)}`);
    }
    const mid = (xs: MfaRun[]): MfaRun => ({
      perSecond: median(xs.map((r) => r.perSecond)), cpuMsPerSignIn: median(xs.map((r) => r.cpuMsPerSignIn)),
      firstP50: median(xs.map((r) => r.firstP50)), secondP50: xs[0]!.secondP50 === null ? null : median(xs.map((r) => r.secondP50!)),
      bad: xs.reduce((n, r) => n + r.bad, 0),
    });
    const [passwordOnly, twoStep, firstStepAlone] = [mid(runs.a), mid(runs.b), mid(runs.f)];
    return {
      passwordOnly, twoStep, firstStepAlone,
      ratio: passwordOnly.perSecond / twoStep.perSecond,
      cpuRatio: twoStep.cpuMsPerSignIn / passwordOnly.cpuMsPerSignIn,
      runs: { passwordOnly: runs.a.map((r) => r.perSecond), twoStep: runs.b.map((r) => r.perSecond) },
      signInsPerRun: signIns, rounds, connections,
    };
  } finally {
    await app.close();
  }
}

/** The CPU of the TOTP request: the pair's less that of its first request alone. */
export const totpRequestCpuMs = (f: MfaFigures) => f.twoStep.cpuMsPerSignIn - f.firstStepAlone.cpuMsPerSignIn;

/** The scenario as a row of bench/RESULTS.md (the shape of bench/run.ts's rows). */
export function mfaRow(f: MfaFigures) {
  const n = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  return {
    scenario: 'sign-in: password + TOTP vs password only',
    measured: `${n(f.twoStep.perSecond)} vs ${n(f.passwordOnly.perSecond)} sign-ins/s; CPU ${n(f.twoStep.cpuMsPerSignIn, 1)} vs ${n(f.passwordOnly.cpuMsPerSignIn, 1)} ms per sign-in (the TOTP request ${n(totpRequestCpuMs(f), 1)} ms of it)`,
    ceiling: 'password request alone',
    ratio: `${n(f.ratio, 3)} (CPU ${n(f.cpuRatio, 3)})`,
    target: `≤ ${MFA_TARGET}`,
  };
}

async function main() {
  const smtpUrl = await startSmtpSink();
  const pgBase = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  const fresh = pgBase ? await emptyPostgresDatabase('bench_mfa', pgBase) : undefined;
  const db = await openDatabase({ url: fresh?.url ?? 'memory://', dataDir: '', ...(fresh ? { poolSize: 20 } : {}) });
  try {
    await db.migrate();
    const label = fresh ? 'PostgreSQL server' : 'PGlite (embedded, in memory)';
    const load1 = () => loadavg()[0]!.toFixed(1);
    const loadBefore = load1();
    const f = await mfaSignIn({ db, smtpUrl, log: (line) => console.log(line) });
    const r = mfaRow(f);
    console.log(`\nTwo-step sign-in benchmark — ${label}; ${availableParallelism()} cores, load average ${loadBefore} before and ${load1()} after; ${f.rounds} runs of ${f.signInsPerRun} sign-ins each, ${f.connections} connections`);
    console.log(`password only:   ${f.passwordOnly.perSecond.toFixed(1)} sign-ins/s (runs ${f.runs.passwordOnly.map((x) => x.toFixed(1)).join(', ')}), ${f.passwordOnly.cpuMsPerSignIn.toFixed(2)} ms CPU each, login p50 ${f.passwordOnly.firstP50.toFixed(1)} ms`);
    console.log(`password + TOTP: ${f.twoStep.perSecond.toFixed(1)} sign-ins/s (runs ${f.runs.twoStep.map((x) => x.toFixed(1)).join(', ')}), ${f.twoStep.cpuMsPerSignIn.toFixed(2)} ms CPU each, login p50 ${f.twoStep.firstP50.toFixed(1)} ms, TOTP request p50 ${f.twoStep.secondP50?.toFixed(1)} ms`);
    console.log(`first step alone: ${f.firstStepAlone.perSecond.toFixed(1)}/s, ${f.firstStepAlone.cpuMsPerSignIn.toFixed(2)} ms CPU each (so the TOTP request ≈ ${totpRequestCpuMs(f).toFixed(2)} ms CPU, the 403 ${(f.firstStepAlone.cpuMsPerSignIn - f.passwordOnly.cpuMsPerSignIn).toFixed(2)} ms more than a 200)`);
    console.log(`pair cost / password request alone: ${f.ratio.toFixed(3)} by wall time, ${f.cpuRatio.toFixed(3)} by CPU (target ≤ ${MFA_TARGET})`);
    const bad = f.passwordOnly.bad + f.twoStep.bad + f.firstStepAlone.bad;
    if (bad) console.log(`answers not as expected: ${f.passwordOnly.bad} password-only, ${f.twoStep.bad} two-step, ${f.firstStepAlone.bad} first step alone`);
    console.log(`\n| ${r.scenario} | ${r.measured} | ${r.ceiling} | ${r.ratio} | ${r.target} |`);
  } finally {
    await db.close();
    await fresh?.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
