import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMailCatcher, type MailCatcher } from '../../../test/helpers/mail-catcher.ts';
import { ManualClock } from '../clock.ts';
import { DevMailbox, isValidMailId, readMailbox } from './dev-mailbox.ts';
import { InvalidMailError, MailSendError, SmtpTransport } from './smtp.ts';
import { createTransport, type OutgoingMail } from './transport.ts';

const RESET_LINK = 'https://keyturn.test/reset#token=Zm9vYmFyYmF6cXV4cXV1eA';

function mail(overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    from: 'Keyturn <no-reply@keyturn.test>',
    to: 'ada@example.test',
    subject: 'Reset your password',
    text: `Open this link to choose a new password:\n${RESET_LINK}\n`,
    html: `<p>Open <a href="${RESET_LINK}">this link</a> to choose a new password.</p>`,
    ...overrides,
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('SMTP transport', () => {
  let catcher: MailCatcher;
  beforeAll(async () => {
    catcher = await startMailCatcher();
  });
  afterAll(async () => {
    await catcher.stop();
  });
  afterEach(() => {
    catcher.setFailing(null);
    catcher.clear();
  });

  it('delivers a multipart text + HTML message and returns the server reply', async () => {
    const transport = createTransport({ smtpUrl: catcher.url });
    expect(transport.kind).toBe('smtp');
    const result = await transport.send(mail({ headers: { 'X-Keyturn-Kind': 'password-reset' } }));
    await transport.close();

    expect(result.response).toMatch(/^250 /);
    expect(result.response).toContain('queued by mail catcher');
    expect(result.messageId).toMatch(/^<.+@.+>$/);

    const got = await catcher.waitFor((m) => m.subject === 'Reset your password');
    expect(got.to).toEqual(['ada@example.test']);
    expect(got.envelopeFrom).toBe('no-reply@keyturn.test');
    expect(got.from).toContain('no-reply@keyturn.test');
    expect(got.text.trim()).toBe(`Open this link to choose a new password:\n${RESET_LINK}`);
    expect(got.html).toContain(`<a href="${RESET_LINK}">this link</a>`);
    expect(got.headers['content-type']).toContain('multipart/alternative');
    expect(got.headers['x-keyturn-kind']).toBe('password-reset');
    expect(got.headers['message-id']).toBe(result.messageId);
    expect(got.raw).toContain('Subject: Reset your password');
  });

  it('logs in with AUTH when the URL carries credentials', async () => {
    const url = catcher.url.replace('smtp://', 'smtp://keyturn:s3cret-pass@');
    const transport = new SmtpTransport(url);
    expect(transport.endpoint).toBe(catcher.url);
    await transport.send(mail({ subject: 'with auth' }));
    await transport.close();
    expect((await catcher.waitForCount(1))[0]?.subject).toBe('with auth');
  });

  it('rejects with the server reply (451) but without the body or credentials', async () => {
    catcher.setFailing(451);
    const transport = new SmtpTransport(catcher.url.replace('smtp://', 'smtp://keyturn:s3cret-pass@'));
    const err = await transport.send(mail()).then(
      () => undefined,
      (e: unknown) => e,
    );
    await transport.close();

    expect(err).toBeInstanceOf(MailSendError);
    const e = err as MailSendError;
    expect(e.message).toContain('451');
    expect(e.message).toContain('try again later');
    expect(e.message).not.toContain(RESET_LINK);
    expect(e.message).not.toContain('choose a new password');
    expect(e.message).not.toContain('s3cret-pass');
    expect(e.responseCode).toBe(451);
    expect(e.transient).toBe(true);
    expect(catcher.messages).toHaveLength(0);
  });

  it('marks a 5xx rejection as permanent', async () => {
    catcher.setFailing(550);
    const transport = new SmtpTransport(catcher.url);
    await expect(transport.send(mail())).rejects.toMatchObject({ responseCode: 550, transient: false });
    await transport.close();
  });

  it('reports a refused connection as transient, without credentials', async () => {
    const down = await startMailCatcher();
    await down.stop();
    const transport = new SmtpTransport(`smtp://keyturn:s3cret-pass@127.0.0.1:${down.port}`);
    const err = (await transport.send(mail()).catch((e: unknown) => e)) as MailSendError;
    await transport.close();
    expect(err).toBeInstanceOf(MailSendError);
    expect(err.transient).toBe(true);
    expect(err.message).not.toContain('s3cret-pass');
  });

  it.each([
    ['two addresses', 'ada@example.test, eve@evil.test'],
    ['a semicolon list', 'ada@example.test; eve@evil.test'],
    ['CRLF header injection', 'ada@example.test\r\nBcc: eve@evil.test'],
    ['a bare LF', 'ada@example.test\nBcc: eve@evil.test'],
    ['a group', 'friends: ada@example.test'],
    ['no address', 'not an address'],
    ['empty', ''],
  ])('refuses %s in `to` without connecting', async (_name, to) => {
    const before = catcher.connections;
    const transport = new SmtpTransport(catcher.url);
    await expect(transport.send(mail({ to }))).rejects.toBeInstanceOf(InvalidMailError);
    await transport.close();
    expect(catcher.connections).toBe(before);
    expect(catcher.messages).toHaveLength(0);
  });

  it('refuses line breaks in the subject and in extra headers', async () => {
    const transport = new SmtpTransport(catcher.url);
    await expect(transport.send(mail({ subject: 'Hi\r\nBcc: eve@evil.test' }))).rejects.toBeInstanceOf(InvalidMailError);
    await expect(transport.send(mail({ headers: { 'X-A': 'b\r\nBcc: eve@evil.test' } }))).rejects.toBeInstanceOf(
      InvalidMailError,
    );
    await expect(transport.send(mail({ headers: { Bcc: 'eve@evil.test' } }))).rejects.toBeInstanceOf(InvalidMailError);
    await transport.close();
    expect(catcher.messages).toHaveLength(0);
  });

  it('accepts a display name in `to`', async () => {
    const transport = new SmtpTransport(catcher.url);
    await transport.send(mail({ to: '"Ada Lovelace" <ada@example.test>' }));
    await transport.close();
    expect((await catcher.waitForCount(1))[0]?.to).toEqual(['ada@example.test']);
  });

  it('keeps four connections unless SMTP_URL names how many', () => {
    expect(new SmtpTransport('smtp://host').connections).toBe(4);
    expect(new SmtpTransport('smtp://host?connections=1').connections).toBe(1);
    expect(new SmtpTransport('smtps://u:p@host?requireTLS=1&connections=16').connections).toBe(16);
  });

  it('refuses bad URLs without echoing the password', () => {
    expect(() => new SmtpTransport('http://u:hunter2-pass@host')).toThrow(/scheme/);
    expect(() => new SmtpTransport('smtp://u:hunter2-pass@host:99999')).toThrow(/Invalid SMTP URL/);
    expect(() => new SmtpTransport('smtp://u:hunter2-pass@host?bogus=1')).toThrow(/bogus/);
    for (const n of ['0', '17', 'two', '2.5', '']) {
      expect(() => new SmtpTransport(`smtp://u:hunter2-pass@host?connections=${n}`)).toThrow(/connections must be a whole number from 1 to 16/);
    }
    try {
      new SmtpTransport('smtp://u:hunter2-pass@host:99999');
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
  });
});

describe('mail catcher', () => {
  it('waitFor sees messages already caught and arriving later; times out listing subjects', async () => {
    const catcher = await startMailCatcher();
    try {
      const transport = new SmtpTransport(catcher.url);
      await transport.send(mail({ subject: 'first' }));
      expect((await catcher.waitFor((m) => m.subject === 'first')).subject).toBe('first');

      const later = catcher.waitFor((m) => m.subject === 'second');
      await transport.send(mail({ subject: 'second' }));
      expect((await later).subject).toBe('second');
      expect(await catcher.waitForCount(2)).toHaveLength(2);

      await expect(catcher.waitFor((m) => m.subject === 'never', 50)).rejects.toThrow(/"first", "second"/);
      await transport.close();
    } finally {
      await catcher.stop();
    }
  });

  it('stops listening and starts again on the same port', async () => {
    const catcher = await startMailCatcher();
    const { port, url } = catcher;
    const transport = new SmtpTransport(url, { connectionTimeoutMs: 2000, greetingTimeoutMs: 2000 });
    try {
      await catcher.stop();
      expect(catcher.running).toBe(false);
      expect(await canConnect(port)).toBe(false);
      await expect(transport.send(mail({ subject: 'while down' }))).rejects.toMatchObject({ transient: true });

      await catcher.start();
      expect(catcher.port).toBe(port);
      expect(catcher.url).toBe(url);
      await transport.send(mail({ subject: 'back up' }));
      expect((await catcher.waitFor((m) => m.subject === 'back up')).to).toEqual(['ada@example.test']);
      expect(catcher.messages.map((m) => m.subject)).toEqual(['back up']);
    } finally {
      await transport.close();
      await catcher.stop();
    }
  });

  it('can start out failing', async () => {
    const catcher = await startMailCatcher({ rejectWith: 421 });
    const transport = new SmtpTransport(catcher.url);
    try {
      await expect(transport.send(mail())).rejects.toThrow(/421/);
      catcher.setFailing(null);
      await expect(transport.send(mail())).resolves.toMatchObject({ response: expect.stringMatching(/^250/) });
    } finally {
      await transport.close();
      await catcher.stop();
    }
  });
});

describe('dev mailbox', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keyturn-mail-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('stores messages as JSON files, lists newest first and gets by id', async () => {
    const transport = createTransport({ dataDir });
    expect(transport.kind).toBe('dev-mailbox');
    const box = transport as DevMailbox;
    const dir = join(dataDir, 'mailbox');
    expect(box.dir).toBe(dir);

    const first = await box.send(mail({ subject: 'one' }));
    const second = await box.send(mail({ subject: 'two', to: 'bob@example.test' }));
    const third = await box.send(mail({ subject: 'three' }));
    expect(first.response).toBe('stored in dev mailbox');

    const list = await box.list();
    expect(list.map((e) => e.subject)).toEqual(['three', 'two', 'one']);
    expect(list.map((e) => e.id)).toEqual([third.messageId, second.messageId, first.messageId]);
    expect(Object.keys(list[0] ?? {}).sort()).toEqual(['id', 'receivedAt', 'subject', 'to']);

    const got = await box.get(second.messageId ?? '');
    expect(got).toMatchObject({ id: second.messageId, to: 'bob@example.test', subject: 'two' });
    expect(got?.text).toContain(RESET_LINK);
    expect(got?.html).toContain(RESET_LINK);
    expect(new Date(got?.receivedAt ?? '').toISOString()).toBe(got?.receivedAt);
    expect(await box.get('nope')).toBeUndefined();

    const files = await readdir(dir);
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[A-Za-z0-9_-]+\.json$/);
    const onDisk: unknown = JSON.parse(await readFile(join(dir, files.find((f) => f.endsWith(`-${second.messageId}.json`)) ?? ''), 'utf8'));
    expect(Object.keys(onDisk as object).sort()).toEqual(['from', 'html', 'id', 'receivedAt', 'subject', 'text', 'to']);
    if (process.platform !== 'win32') expect((await stat(dir)).mode & 0o777).toBe(0o700);

    // The CLI helper reads the same directory without the transport.
    expect((await readMailbox(dir)).map((m) => m.subject)).toEqual(['three', 'two', 'one']);

    await box.clear();
    expect(await box.list()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('orders by receive time, ignores stray and temp files', async () => {
    const clock = new ManualClock();
    const dir = join(dataDir, 'ordered');
    const box = new DevMailbox({ dir, clock });
    await box.send(mail({ subject: 'old' }));
    clock.advance(60_000);
    await box.send(mail({ subject: 'new' }));
    await writeFile(join(dir, '.half-written.abcd1234.tmp'), '{"id":');
    await writeFile(join(dir, 'notes.txt'), 'hello');
    expect((await box.list()).map((e) => e.subject)).toEqual(['new', 'old']);
    expect(await readMailbox(join(dataDir, 'does-not-exist'))).toEqual([]);
  });

  it('rejects ids that are not [A-Za-z0-9_-] (no path traversal)', async () => {
    const box = new DevMailbox({ dir: join(dataDir, 'mailbox') });
    await writeFile(join(dataDir, 'x.json'), JSON.stringify({ id: 'x' }));
    for (const id of ['../x', '..', '../../etc/passwd', 'a/b', 'a\\b', 'a.json', '', ' ', 'x'.repeat(65), 'a\0b']) {
      expect(isValidMailId(id)).toBe(false);
      expect(await box.get(id)).toBeUndefined();
    }
    expect(isValidMailId('000001Ab3dE5fG_-')).toBe(true);
  });

  it('works in memory', async () => {
    for (const transport of [createTransport({}), createTransport({ dataDir, memory: true })]) {
      const box = transport as DevMailbox;
      expect(box.kind).toBe('dev-mailbox');
      expect(box.dir).toBeUndefined();
      const a = await box.send(mail({ subject: 'a' }));
      await box.send(mail({ subject: 'b' }));
      expect((await box.list()).map((e) => e.subject)).toEqual(['b', 'a']);
      expect((await box.get(a.messageId ?? ''))?.subject).toBe('a');
      expect(await box.get('../a')).toBeUndefined();
      await box.clear();
      expect(await box.list()).toEqual([]);
      await box.close();
    }
  });

  it('applies the same recipient rules as SMTP', async () => {
    const box = new DevMailbox();
    await expect(box.send(mail({ to: 'a@example.test, b@example.test' }))).rejects.toBeInstanceOf(InvalidMailError);
    await expect(box.send(mail({ to: 'a@example.test\r\nBcc: x@y.test' }))).rejects.toBeInstanceOf(InvalidMailError);
    expect(await box.list()).toEqual([]);
  });
});
