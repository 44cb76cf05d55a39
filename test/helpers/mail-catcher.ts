// A real SMTP server for tests: accepts everything on 127.0.0.1, parses each message,
// and lets a test wait for a message, make the server fail with a given reply code, or
// take the server down and bring it back on the same port.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface CaughtMail {
  /** Envelope recipients (RCPT TO), lower-cased as sent. */
  to: string[];
  /** The From header as text, e.g. `Keyturn <no-reply@example.test>`. */
  from: string;
  /** Envelope sender (MAIL FROM). */
  envelopeFrom: string;
  subject: string;
  text: string;
  html: string;
  /** Header values keyed by lower-case name; the first occurrence wins. */
  headers: Record<string, string>;
  /** The message exactly as received. */
  raw: string;
  receivedAt: Date;
}

export interface MailCatcher {
  /** smtp://127.0.0.1:PORT — stays the same across stop()/start(). */
  readonly url: string;
  readonly port: number;
  /** Every message caught so far, oldest first (the same array across clear()). */
  readonly messages: CaughtMail[];
  /** How many SMTP connections were accepted so far. */
  readonly connections: number;
  readonly running: boolean;
  waitFor(predicate: (m: CaughtMail) => boolean, timeoutMs?: number): Promise<CaughtMail>;
  waitForCount(n: number, timeoutMs?: number): Promise<CaughtMail[]>;
  clear(): void;
  /** Reject RCPT and DATA with this reply code (e.g. 451, 550); null accepts again. */
  setFailing(replyCode: number | null): void;
  /** Holds each message this long after its data arrived before accepting it (a slow server). */
  setDelay(ms: number): void;
  /** Messages whose data arrived and which are not accepted yet (being sent right now). */
  readonly receiving: number;
  /** Closes the listener and drops open connections: the port refuses connections afterwards. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export interface MailCatcherOptions {
  /** Start out failing with this reply code (see setFailing). */
  rejectWith?: number | null;
  /** Fixed port; 0 (default) picks a free one. */
  port?: number;
}

function headerText(parsed: ParsedMail, key: string, rawLine: string): string {
  const value = parsed.headers.get(key);
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  const colon = rawLine.indexOf(':');
  return rawLine.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
}

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function failure(code: number): Error & { responseCode: number } {
  const text = code >= 500 ? 'Requested action not taken (mail catcher set to fail)' : 'Requested action aborted: try again later (mail catcher set to fail)';
  return Object.assign(new Error(text), { responseCode: code });
}

export async function startMailCatcher(opts: MailCatcherOptions = {}): Promise<MailCatcher> {
  const messages: CaughtMail[] = [];
  const waiters = new Set<() => void>();
  let failingWith: number | null = opts.rejectWith ?? null;
  let delayMs = 0;
  let receiving = 0;
  let port = opts.port ?? 0;
  let connections = 0;
  let server: SMTPServer | undefined;

  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const createServer = () =>
    new SMTPServer({
      authOptional: true,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      disabledCommands: ['STARTTLS'],
      logger: false,
      disableReverseLookup: true,
      size: 10 * 1024 * 1024,
      closeTimeout: 50,
      onConnect(_session, callback) {
        connections += 1;
        callback();
      },
      onAuth(auth, _session, callback) {
        callback(null, { user: auth.username ?? 'anyone' });
      },
      onRcptTo(_address, _session, callback) {
        callback(failingWith === null ? null : failure(failingWith));
      },
      onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
        receiving += 1;
        readAll(stream)
          .then(async (raw) => {
            if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
            if (failingWith !== null) return callback(failure(failingWith));
            const parsed = await simpleParser(raw);
            const headers: Record<string, string> = {};
            for (const { key, line } of parsed.headerLines) {
              if (!(key in headers)) headers[key] = headerText(parsed, key, line);
            }
            messages.push({
              to: session.envelope.rcptTo.map((a) => a.address),
              from: parsed.from?.text ?? '',
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              headers,
              raw: raw.toString('utf8'),
              receivedAt: new Date(),
            });
            // Accept only once the message is stored, so a resolved send() means it is in `messages`.
            callback(null, 'OK: queued by mail catcher');
            notify();
          })
          .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))))
          .finally(() => { receiving -= 1; });
      },
    });

  const start = async (): Promise<void> => {
    if (server) return;
    const s = createServer();
    s.on('error', () => undefined); // connection-level errors (client hung up) are not test failures
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      s.server.once('error', onError);
      s.listen(port, '127.0.0.1', () => {
        s.server.off('error', onError);
        resolve();
      });
    });
    port = (s.server.address() as AddressInfo).port;
    server = s;
  };

  const stop = async (): Promise<void> => {
    const s = server;
    if (!s) return;
    server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      // Do not wait for clients to finish: "down" means down now.
      for (const conn of s.connections) {
        conn.close();
      }
    });
  };

  const waitFor = (predicate: (m: CaughtMail) => boolean, timeoutMs = 5000): Promise<CaughtMail> =>
    new Promise((resolve, reject) => {
      let checked = 0;
      const check = () => {
        for (; checked < messages.length; checked++) {
          const m = messages[checked];
          if (m && predicate(m)) {
            done();
            resolve(m);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        const subjects = messages.map((m) => JSON.stringify(m.subject)).join(', ') || '(none)';
        reject(new Error(`mail catcher: no matching message within ${timeoutMs} ms; received ${messages.length}: ${subjects}`));
      }, timeoutMs);
      const onChange = () => {
        checked = Math.min(checked, messages.length);
        check();
      };
      const done = () => {
        clearTimeout(timer);
        waiters.delete(onChange);
      };
      waiters.add(onChange);
      check();
    });

  const waitForCount = (n: number, timeoutMs = 5000): Promise<CaughtMail[]> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (messages.length >= n) {
          done();
          resolve([...messages]);
        }
      };
      const timer = setTimeout(() => {
        done();
        const subjects = messages.map((m) => JSON.stringify(m.subject)).join(', ') || '(none)';
        reject(new Error(`mail catcher: expected ${n} message(s) within ${timeoutMs} ms; received ${messages.length}: ${subjects}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  await start();

  return {
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    messages,
    get connections() {
      return connections;
    },
    get running() {
      return server !== undefined;
    },
    waitFor,
    waitForCount,
    clear() {
      messages.length = 0;
      notify();
    },
    setFailing(replyCode: number | null) {
      failingWith = replyCode;
    },
    setDelay(ms: number) {
      delayMs = ms;
    },
    get receiving() {
      return receiving;
    },
    stop,
    start,
  };
}
