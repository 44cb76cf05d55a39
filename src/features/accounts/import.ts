// Creating users from a list (a CSV file or the JSON API's rows). Every door — the JSON API, the
// CLI (through the operator API) and the console's preview — runs the same check and the same apply.
//
// Rules:
// - Each row is created, or says why it cannot be: not an email, a role that does not exist, a
//   name too long, more fields than the header has, twice in this file, already a user.
// - A CSV file that cannot be read as a whole (a quote that never closes, no email column, a
//   column we do not know) is refused before any row is looked at.
// - The check costs one query for the whole file: which of its addresses are users already.
// - Apply checks again inside its transaction and inserts with ON CONFLICT DO NOTHING, so an
//   address someone created after the check is found, not a crash: all or nothing refuses the
//   import (the transaction rolls back), otherwise that row is skipped like any other.
// - One audit line for the batch (users_imported; its webhook event finds the batch's users),
//   plus, when asked, each new user's welcome email in the same transaction.
import { importRejected, invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import type { Db } from '../../platform/db.ts';
import { csvRecords, CsvSyntaxError } from '../../platform/csv.ts';
import { audit, type Actor } from '../audit/audit.ts';
import type { Tenant } from '../tenants/store.ts';
import { canonicalEmail, parseEmail } from './email.ts';
import { insertUsers, ROLES, takenAddresses, type Role, type User } from './store.ts';

export const IMPORT_COLUMNS = ['email', 'name', 'role'] as const;
export const MAX_IMPORT_ROWS = 100_000;
/** The largest import request a route takes (a file of 100,000 rows fits; the server's default is smaller). */
export const IMPORT_BODY_LIMIT = 16 * 1024 * 1024;
const MAX_NAME = 200;
const BATCH = 1000;

export interface ImportRow {
  email: string;
  name?: string;
  role?: string;
  /** Where the row starts in its CSV file (the header is line 1). */
  line?: number;
  /** How many fields the CSV record had beyond the header's (a comma in an unquoted name). */
  extraFields?: number;
}

export type ProblemCode = 'email' | 'role' | 'name' | 'fields' | 'duplicate' | 'taken';
/** `row`: the row's place in the list, from 1; `line`: its line in the CSV file. */
export interface ImportProblem { row: number; line?: number; email: string; code: ProblemCode; reason: string; }
export interface ImportResult { created: number; skipped: ImportProblem[]; }

/** One row as the check sees it: what will be created, or the problem that stops it. */
export interface PlannedRow {
  row: number;
  line?: number;
  email: string;
  canonical: string;
  name: string;
  role: string;
  problem: ImportProblem | null;
}

export interface ImportPlan { rows: PlannedRow[]; problems: ImportProblem[]; toCreate: number; }

/**
 * A CSV file's rows (columns email, name, role; a header row; any order). Throws invalid_request
 * (field `csv`) when the file as a whole cannot be read.
 */
export function rowsFromCsv(text: string): ImportRow[] {
  let records;
  try {
    records = csvRecords(text);
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw invalidRequest(`csv: ${e.message}`, { field: 'csv', line: e.line });
    throw e;
  }
  const [header, ...body] = records;
  const columns = header?.fields.map((h) => h.trim().toLowerCase()) ?? [];
  if (!columns.includes('email')) throw invalidRequest('csv: the first line must name the columns: email, name, role (email is required).', { field: 'csv', line: 1 });
  const unknown = columns.find((c) => !(IMPORT_COLUMNS as readonly string[]).includes(c));
  if (unknown !== undefined) throw invalidRequest(`csv: the first line names a column "${unknown}" — the columns are email, name, role.`, { field: 'csv', line: 1 });
  const twice = columns.find((c, i) => columns.indexOf(c) !== i);
  if (twice) throw invalidRequest(`csv: the first line names the column "${twice}" twice.`, { field: 'csv', line: 1 });
  if (body.length === 0) throw invalidRequest('csv: there are no rows under the first line.', { field: 'csv', line: 2 });
  if (body.length > MAX_IMPORT_ROWS) throw invalidRequest(`csv: at most ${MAX_IMPORT_ROWS} rows at once — split the file.`, { field: 'csv' });
  return body.map((r) => {
    const value = (c: string) => { const i = columns.indexOf(c); return i < 0 ? undefined : (r.fields[i] ?? '').trim(); };
    const extra = r.fields.length - columns.length;
    return { email: value('email') ?? '', name: value('name'), role: value('role'), line: r.line, ...(extra > 0 ? { extraFields: extra } : {}) };
  });
}

const problemOf = (code: ProblemCode, r: ImportRow, detail = ''): string => {
  switch (code) {
    case 'fields': return `${r.extraFields} more field${r.extraFields === 1 ? '' : 's'} than the header has (put a name with a comma in quotes)`;
    case 'email': return 'not one valid email address';
    case 'name': return detail;
    case 'role': return `role must be ${ROLES.slice(0, -1).join(', ')} or ${ROLES.at(-1)}, not "${detail}"`;
    case 'duplicate': return 'appears earlier in the file';
    case 'taken': return 'already a user of this tenant';
  }
};

/**
 * What importing these rows into this tenant would do, row by row (nothing is written). `db` may be
 * a transaction: apply runs the same check inside its own.
 */
export async function checkImport(db: Db, tenant: Tenant, rows: ImportRow[]): Promise<ImportPlan> {
  const seen = new Set<string>();
  const planned: PlannedRow[] = rows.map((r, i) => {
    const row = i + 1;
    const email = parseEmail(r.email);
    const name = r.name ?? '';
    const role = r.role === undefined || r.role.trim() === '' ? 'member' : r.role.trim().toLowerCase();
    const base = { row, ...(r.line !== undefined ? { line: r.line } : {}), email: email ?? String(r.email ?? ''), canonical: email ? canonicalEmail(email) : '', name, role };
    const problem = (code: ProblemCode, detail?: string): PlannedRow =>
      ({ ...base, problem: { row, ...(r.line !== undefined ? { line: r.line } : {}), email: base.email, code, reason: problemOf(code, r, detail) } });
    if (r.extraFields) return problem('fields');
    if (!email) return problem('email');
    if (name.length > MAX_NAME) return problem('name', `name is longer than ${MAX_NAME} characters`);
    if (/\p{Cc}/u.test(name)) return problem('name', 'name has a line break or another control character');
    if (!(ROLES as readonly string[]).includes(role)) return problem('role', r.role);
    if (seen.has(base.canonical)) return problem('duplicate');
    seen.add(base.canonical);
    return { ...base, problem: null };
  });
  const taken = await takenAddresses(db, tenant.id, [...seen]);
  for (const p of planned) {
    if (!p.problem && taken.has(p.canonical)) {
      p.problem = { row: p.row, ...(p.line !== undefined ? { line: p.line } : {}), email: p.email, code: 'taken', reason: problemOf('taken', p) };
    }
  }
  const problems = planned.flatMap((p) => (p.problem ? [p.problem] : []));
  return { rows: planned, problems, toCreate: planned.length - problems.length };
}

export interface ImportOptions {
  /** Create nothing unless every row can be created (422 import_rejected listing every problem). */
  allOrNothing?: boolean;
  /** Runs in the import's transaction with the new users (their welcome emails). */
  createdInTx?: (tx: Db, users: User[]) => Promise<void>;
}

/** Creates the rows that can be created, in one transaction (see the rules at the top). */
export async function importUsers(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, rows: ImportRow[], actor: Actor, opts: ImportOptions = {}): Promise<ImportResult> {
  return ctx.db.transaction(async (tx) => {
    const plan = await checkImport(tx, tenant, rows);
    if (opts.allOrNothing && plan.problems.length > 0) throw importRejected(plan.problems);
    const fresh = plan.rows.filter((p) => !p.problem);
    const now = ctx.clock.now();
    const created: User[] = [];
    for (let i = 0; i < fresh.length; i += BATCH) {
      created.push(...await insertUsers(tx, fresh.slice(i, i + BATCH).map((v) => ({
        tenantId: tenant.id, email: v.email, emailCanonical: v.canonical, name: v.name, role: v.role as Role, createdAt: now,
      }))));
    }
    // Created by someone else between the check and the insert.
    const made = new Set(created.map((u) => u.emailCanonical));
    const late = fresh.filter((p) => !made.has(p.canonical))
      .map((p): ImportProblem => ({ row: p.row, ...(p.line !== undefined ? { line: p.line } : {}), email: p.email, code: 'taken', reason: problemOf('taken', p) }));
    if (opts.allOrNothing && late.length > 0) throw importRejected(late);
    const skipped = [...plan.problems, ...late].sort((a, b) => a.row - b.row);
    if (created.length > 0) {
      await audit(tx, actor, now, { type: 'users_imported', tenantId: tenant.id, data: { created: created.length, skipped: skipped.length } });
      await opts.createdInTx?.(tx, created);
    }
    return { created: created.length, skipped };
  });
}
