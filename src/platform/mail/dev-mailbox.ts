// A mailbox for development: messages are kept as JSON files (or in memory) instead of
// being sent, so a developer can read reset links without an SMTP server.
//
// Files are named <ISO-time-with-safe-chars>-<id>.json, e.g.
// 2025-01-31T12-30-05-123Z-000001Ab3dE5fG.json, so a plain name sort is a time sort.
// Writes go to a temp file first and are renamed into place: a concurrent reader sees
// either no file or the whole file.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.ts';
import { assertSafeOutgoingMail } from './smtp.ts';
import type { MailTransport, OutgoingMail, SendResult } from './transport.ts';

export interface StoredMail {
  id: string;
  /** ISO 8601 timestamp. */
  receivedAt: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailboxEntry {
  id: string;
  receivedAt: string;
  to: string;
  subject: string;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const FILE_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)-([A-Za-z0-9_-]{1,64})\.json$/;

/** Ids are [A-Za-z0-9_-]{1,64}; anything else (e.g. "../x") is never looked up. */
export function isValidMailId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

let sequence = 0;
/** Sortable within a process (sequence first), unguessable enough for a dev tool. */
function newId(): string {
  sequence = (sequence + 1) % 36 ** 6;
  return sequence.toString(36).padStart(6, '0') + randomBytes(6).toString('base64url');
}

function fileName(mail: StoredMail): string {
  return `${mail.receivedAt.replace(/[:.]/g, '-')}-${mail.id}.json`;
}

function isStoredMail(value: unknown): value is StoredMail {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (['id', 'receivedAt', 'from', 'to', 'subject', 'text', 'html'] as const).every(
    (k) => typeof v[k] === 'string',
  );
}

const toEntry = (m: StoredMail): MailboxEntry => ({ id: m.id, receivedAt: m.receivedAt, to: m.to, subject: m.subject });

/** Mail file names in dir, newest first. A missing directory is an empty mailbox. */
async function mailFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => FILE_PATTERN.test(n)).sort().reverse();
}

async function readMailFile(dir: string, name: string): Promise<StoredMail | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
    return isStoredMail(parsed) ? parsed : undefined;
  } catch (err) {
    // Deleted between readdir and read (clear() running), or not ours: skip it.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** All messages in a mailbox directory, newest first. For the CLI; needs no running server. */
export async function readMailbox(dir: string): Promise<StoredMail[]> {
  const out: StoredMail[] = [];
  for (const name of await mailFiles(dir)) {
    const mail = await readMailFile(dir, name);
    if (mail) out.push(mail);
  }
  return out;
}

export class DevMailbox implements MailTransport {
  readonly kind = 'dev-mailbox' as const;
  /** Directory the messages are written to; undefined for an in-memory mailbox. */
  readonly dir: string | undefined;
  private readonly clock: Clock;
  /** In-memory store, oldest first. */
  private readonly memory: StoredMail[] = [];

  constructor(opts: { dir?: string; clock?: Clock } = {}) {
    this.dir = opts.dir;
    this.clock = opts.clock ?? systemClock;
  }

  async send(mail: OutgoingMail): Promise<SendResult> {
    assertSafeOutgoingMail(mail); // same rules as SMTP, so dev catches what prod would refuse
    const stored: StoredMail = {
      id: newId(),
      receivedAt: this.clock.now().toISOString(),
      from: mail.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
    };
    if (this.dir === undefined) {
      this.memory.push(stored);
    } else {
      const dir = this.dir;
      await this.ensureDir(dir);
      const final = join(dir, fileName(stored));
      const tmp = join(dir, `.${stored.id}.${randomBytes(4).toString('hex')}.tmp`);
      try {
        await writeFile(tmp, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
        await rename(tmp, final);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
    }
    return { response: 'stored in dev mailbox', messageId: stored.id };
  }

  /** Newest first. */
  async list(): Promise<MailboxEntry[]> {
    if (this.dir === undefined) return [...this.memory].reverse().map(toEntry);
    return (await readMailbox(this.dir)).map(toEntry);
  }

  /** undefined for an unknown id, and for any id that is not [A-Za-z0-9_-]{1,64}. */
  async get(id: string): Promise<StoredMail | undefined> {
    if (!isValidMailId(id)) return undefined;
    if (this.dir === undefined) {
      const found = this.memory.find((m) => m.id === id);
      return found ? { ...found } : undefined;
    }
    for (const name of await mailFiles(this.dir)) {
      if (FILE_PATTERN.exec(name)?.[2] === id) {
        const mail = await readMailFile(this.dir, name);
        return mail?.id === id ? mail : undefined;
      }
    }
    return undefined;
  }

  /** Deletes every message (and any leftover temp file). */
  async clear(): Promise<void> {
    if (this.dir === undefined) {
      this.memory.length = 0;
      return;
    }
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const dir = this.dir;
    await Promise.all(
      names
        .filter((n) => FILE_PATTERN.test(n) || /^\.[A-Za-z0-9_-]+\.[0-9a-f]{8}\.tmp$/.test(n))
        .map((n) => rm(join(dir, n), { force: true })),
    );
  }

  async close(): Promise<void> {}

  private async ensureDir(dir: string): Promise<void> {
    // Every time, not once: someone may have deleted the directory since the last send.
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
}
