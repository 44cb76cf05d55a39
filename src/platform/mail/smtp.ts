// SMTP delivery through nodemailer, over a few pooled connections: a new connection per message
// cost about 100 ms even on loopback (about 7 ms on a pooled one), which capped the outbox at ten
// messages a second.
//
// Errors are rebuilt from scratch: the message names the SMTP command and the server's
// reply (code + text), and never carries the credentials or the message body (which
// holds the reset link).
import nodemailer from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import type { SMTPSentMessageInfo, SMTPTransportOptions, Transporter } from 'nodemailer';
import type { MailTransport, OutgoingMail, SendResult } from './transport.ts';

/** Connections kept open to the SMTP server unless SMTP_URL says `?connections=N` (1 to 16). */
export const DEFAULT_SMTP_CONNECTIONS = 4;
const MAX_SMTP_CONNECTIONS = 16;

/** The mail itself is unacceptable (bad recipient, header injection attempt). Never retry. */
export class InvalidMailError extends Error {
  readonly code = 'EINVALIDMAIL';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMailError';
  }
}

/** Delivery failed. `transient` says whether retrying later may succeed. */
export class MailSendError extends Error {
  constructor(
    message: string,
    /** nodemailer's error code, e.g. 'EENVELOPE', 'ECONNECTION', 'ETIMEDOUT', 'EAUTH'. */
    readonly code: string | undefined,
    /** SMTP reply code when the server answered, e.g. 451 or 550. */
    readonly responseCode: number | undefined,
    /** The SMTP command that failed, e.g. 'RCPT TO', 'DATA', 'CONN'. */
    readonly command: string | undefined,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'MailSendError';
  }
}

export interface SmtpTimeouts {
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
}

const FORBIDDEN_HEADERS = new Set([
  'to', 'cc', 'bcc', 'from', 'sender', 'subject', 'date', 'message-id',
  'mime-version', 'content-type', 'content-transfer-encoding',
]);
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,76}$/;
const LINE_BREAK_OR_NUL = /[\r\n\0\u2028\u2029]/;

/** The mailer's rule for header text (sender, subject, headers); settings that end up in a header check it on input. */
export const isSingleLine = (value: string): boolean => !LINE_BREAK_OR_NUL.test(value);

/**
 * Defence in depth against header injection: exactly one recipient, no commas/semicolons,
 * no CR/LF anywhere in header material. Throws InvalidMailError (which never echoes the values).
 */
export function assertSafeOutgoingMail(mail: OutgoingMail): void {
  const { to } = mail;
  if (typeof to !== 'string' || to.trim() === '' || to.length > 998) {
    throw new InvalidMailError('Recipient must be a single, non-empty address.');
  }
  if (/[\r\n\0,;]/.test(to)) {
    throw new InvalidMailError('Recipient must be a single address without commas, semicolons or line breaks.');
  }
  const parsed = addressparser(to);
  const only = parsed[0];
  if (parsed.length !== 1 || !only || only.group !== undefined || !/^[^@\s]+@[^@\s]+$/.test(only.address)) {
    throw new InvalidMailError('Recipient must be exactly one email address.');
  }
  if (typeof mail.from !== 'string' || mail.from.trim() === '' || !isSingleLine(mail.from)) {
    throw new InvalidMailError('Sender must be a single line.');
  }
  if (typeof mail.subject !== 'string' || !isSingleLine(mail.subject)) {
    throw new InvalidMailError('Subject must be a single line.');
  }
  if (mail.messageId !== undefined && !/^<[^\s<>@]+@[^\s<>@]+>$/.test(mail.messageId)) {
    throw new InvalidMailError('Message-ID must look like <id@domain>.');
  }
  for (const [name, value] of Object.entries(mail.headers ?? {})) {
    if (!HEADER_NAME.test(name) || FORBIDDEN_HEADERS.has(name.toLowerCase())) {
      throw new InvalidMailError(`Header name not allowed: ${HEADER_NAME.test(name) ? name : '(invalid)'}`);
    }
    if (typeof value !== 'string' || !isSingleLine(value)) {
      throw new InvalidMailError(`Header ${name} must be a single line.`);
    }
  }
}

interface ParsedSmtpUrl {
  options: SMTPTransportOptions;
  connections: number;
  endpoint: string;
  secrets: string[];
}

function parseSmtpUrl(raw: string): ParsedSmtpUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the URL: it may contain the password.
    throw new Error('Invalid SMTP URL (expected smtp://user:pass@host:port or smtps://...)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`Invalid SMTP URL scheme "${url.protocol}" (expected smtp: or smtps:)`);
  }
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('Invalid SMTP URL: missing host');
  const port = url.port ? Number(url.port) : secure ? 465 : 587;
  let user: string;
  let pass: string;
  try {
    user = decodeURIComponent(url.username);
    pass = decodeURIComponent(url.password);
  } catch {
    throw new Error('Invalid SMTP URL: malformed percent-encoding in credentials');
  }
  let requireTLS = false;
  let connections = DEFAULT_SMTP_CONNECTIONS;
  for (const [key, value] of url.searchParams) {
    if (key === 'requireTLS') requireTLS = value === '' || value === 'true' || value === '1';
    else if (key === 'connections') {
      // A relay that allows fewer connections answers the extra ones 421: the operator says how many.
      connections = /^\d{1,2}$/.test(value) ? Number(value) : 0;
      if (connections < 1 || connections > MAX_SMTP_CONNECTIONS) throw new Error(`Invalid SMTP URL: connections must be a whole number from 1 to ${MAX_SMTP_CONNECTIONS}`);
    } else throw new Error(`Invalid SMTP URL: unsupported parameter "${key.slice(0, 40)}"`);
  }
  const options: SMTPTransportOptions = { host, port, secure, requireTLS };
  if (user) options.auth = { user, pass };
  const secrets = [user, pass, url.username, url.password].filter((s) => s.length >= 3);
  return { options, connections, endpoint: `${url.protocol}//${url.host}`, secrets };
}

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY', 'EPROTOCOL']);

interface NodemailerLikeError {
  message?: unknown;
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
  command?: unknown;
}

function redact(text: string, secrets: readonly string[], mail: OutgoingMail): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[redacted]');
  for (const body of [mail.text, mail.html]) {
    if (body && body.length >= 8) out = out.split(body).join('[redacted]');
  }
  // A server that echoes part of the message (e.g. the reset link) must not leak it into logs.
  out = out
    .split(/(\s+)/)
    .map((word) =>
      word.length >= 12 && (mail.text.includes(word) || mail.html.includes(word)) ? '[redacted]' : word,
    )
    .join('');
  return out.length > 500 ? `${out.slice(0, 500)}…` : out;
}

function toSendError(err: unknown, secrets: readonly string[], mail: OutgoingMail): MailSendError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as NodemailerLikeError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const command = typeof e.command === 'string' ? e.command : undefined;
  const response = typeof e.response === 'string' ? e.response.replace(/[\r\n]+/g, ' ').trim() : undefined;
  const responseCode =
    typeof e.responseCode === 'number' ? e.responseCode : response ? Number(/^(\d{3})/.exec(response)?.[1]) || undefined : undefined;
  let message: string;
  if (response) {
    message = `SMTP ${command && command !== 'API' ? `${command} ` : ''}rejected: ${response}`;
  } else {
    const base = typeof e.message === 'string' ? e.message.replace(/[\r\n]+/g, ' ') : 'unknown error';
    message = `SMTP send failed${code ? ` (${code})` : ''}: ${base}`;
  }
  const transient = responseCode !== undefined
    ? responseCode < 500 || responseCode === 503
    : code === undefined || TRANSIENT_CODES.has(code);
  return new MailSendError(redact(message, secrets, mail), code, responseCode, command, transient);
}

export class SmtpTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  /** Scheme, host and port, without credentials: safe to log. */
  readonly endpoint: string;
  readonly connections: number;
  private readonly transporter: Transporter<SMTPSentMessageInfo, SMTPTransportOptions>;
  private readonly secrets: string[];

  constructor(smtpUrl: string, timeouts: SmtpTimeouts = {}) {
    const parsed = parseSmtpUrl(smtpUrl);
    this.endpoint = parsed.endpoint;
    this.secrets = parsed.secrets;
    this.connections = parsed.connections;
    this.transporter = nodemailer.createTransport({
      ...parsed.options,
      pool: true,
      maxConnections: parsed.connections,
      connectionTimeout: timeouts.connectionTimeoutMs ?? 10_000,
      greetingTimeout: timeouts.greetingTimeoutMs ?? 10_000,
      socketTimeout: timeouts.socketTimeoutMs ?? 30_000,
      dnsTimeout: 10_000,
      logger: false,
      debug: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(mail: OutgoingMail): Promise<SendResult> {
    assertSafeOutgoingMail(mail); // throws before any connection is made
    let info: SMTPSentMessageInfo;
    try {
      info = await this.transporter.sendMail({
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        ...(mail.messageId ? { messageId: mail.messageId } : {}),
        ...(mail.headers ? { headers: { ...mail.headers } } : {}),
      });
    } catch (err) {
      throw toSendError(err, this.secrets, mail);
    }
    return { response: info.response, messageId: info.messageId };
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}
