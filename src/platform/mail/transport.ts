// The one seam through which Keyturn sends mail. Production talks SMTP; development
// (and tests that do not need a real server) drop messages into a dev mailbox that a
// CLI or a dev-only page can read back.
import { join } from 'node:path';
import { DevMailbox } from './dev-mailbox.ts';
import { SmtpTransport } from './smtp.ts';

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
  /** `<id@domain>`: the same on every attempt of one outbox message. */
  messageId?: string;
}

export interface SendResult {
  /** The SMTP server's final reply line (e.g. "250 OK: queued as ..."), or "stored in dev mailbox". */
  response: string;
  messageId?: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'dev-mailbox';
  /** Messages it sends at once (the outbox's mail lanes); one when absent. */
  readonly connections?: number;
  send(mail: OutgoingMail): Promise<SendResult>;
  close(): Promise<void>;
}

export { DevMailbox, readMailbox, isValidMailId } from './dev-mailbox.ts';
export type { StoredMail, MailboxEntry } from './dev-mailbox.ts';
export { SmtpTransport, MailSendError, InvalidMailError, assertSafeOutgoingMail, isSingleLine } from './smtp.ts';

/**
 * smtpUrl set → SMTP; otherwise a dev mailbox in `<dataDir>/mailbox`, or in memory when
 * `memory` is true or there is no dataDir.
 */
export function createTransport(opts: { smtpUrl?: string; dataDir?: string; memory?: boolean; production?: boolean }): MailTransport {
  if (opts.smtpUrl) return new SmtpTransport(opts.smtpUrl);
  // The dev mailbox holds live reset links: it never exists on a server.
  if (opts.production) throw new Error('No SMTP_URL: the dev mailbox exists only outside production.');
  if (opts.memory || opts.dataDir === undefined) return new DevMailbox();
  return new DevMailbox({ dir: join(opts.dataDir, 'mailbox') });
}
