// Browser tests: a Keyturn listening on a real loopback port (PUBLIC_URL = that address, worker
// running, mail over real SMTP to the catcher) and Debian's Chromium driven by playwright-core.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { buildApp, type App } from '../../src/app.ts';
import { configFrom } from '../../src/config.ts';
import { ManualClock } from '../../src/platform/clock.ts';
import { DevMailbox } from '../../src/platform/mail/dev-mailbox.ts';
import { SmtpTransport, type MailTransport, type OutgoingMail, type SendResult } from '../../src/platform/mail/transport.ts';
import { extractReset, freshDatabase, late, STRONG, unique } from './app.ts';
import { startMailCatcher, type CaughtMail, type MailCatcher } from './mail-catcher.ts';
import { freePort } from './ports.ts';

export { STRONG, STRONG2, unique, extractReset } from './app.ts';
export { account, oneAddressTwoTenants } from './fixtures.ts';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

/** A dev mailbox (so /dev/mailbox exists) that also delivers every message over SMTP to the catcher. */
export class TeeMailbox extends DevMailbox {
  private readonly smtp: SmtpTransport;
  constructor(smtpUrl: string) {
    super();
    this.smtp = new SmtpTransport(smtpUrl);
  }
  override async send(mail: OutgoingMail): Promise<SendResult> {
    await this.smtp.send(mail);
    return super.send(mail);
  }
  override async close(): Promise<void> {
    await this.smtp.close();
  }
}

export interface LiveApp {
  app: App;
  /** http://127.0.0.1:PORT — also PUBLIC_URL. */
  url: string;
  mail: MailCatcher;
  clock: ManualClock;
  logs: string[];
  tenant(slug?: string, extra?: Record<string, unknown>): Promise<{ slug: string; name: string }>;
  user(slug: string, email: string, opts?: { password?: string; role?: string }): Promise<{ id: string }>;
  /** The operator API, for seeding what a test does not drive through pages; throws on an error answer. */
  op(method: 'POST' | 'PATCH', path: string, body: object): Promise<any>;
  /** Set when started with devMailbox: the mailbox behind /dev/mailbox. */
  mailbox?: DevMailbox;
  /** The next "Reset your password" mail to this address after `since` messages. */
  resetMailFor(to: string, since?: number): Promise<{ token: string; code: string; mail: CaughtMail }>;
  close(): Promise<void>;
}

export interface LiveAppOptions {
  env?: Record<string, string>;
  devMailbox?: boolean;
  /** 'localhost' for WebAuthn, whose RP ID must be a domain (localhost is a secure context over http); still listens on 127.0.0.1. */
  host?: 'localhost';
}

export async function startLiveApp(opts: LiveAppOptions = {}): Promise<LiveApp> {
  const mail = await startMailCatcher();
  const port = await freePort();
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  const clock = new ManualClock();
  const logs: string[] = [];
  const logStream = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const config = configFrom({
    NODE_ENV: 'test', DATABASE_URL: 'memory://', SMTP_URL: mail.url, PUBLIC_URL: url, PORT: String(port),
    LOG_LEVEL: 'info', RATE_LIMIT_SCALE: '1000', ...opts.env,
  });
  const database = await freshDatabase('pglite');
  const mailbox = opts.devMailbox ? new TeeMailbox(mail.url) : undefined;
  const transport: MailTransport | undefined = mailbox;
  const app = await buildApp(config, { database, clock, logStream, startWorker: true, pollMs: 50, ...(transport ? { transport } : {}) });
  await app.publicApp.listen({ port, host: '127.0.0.1' });
  const op = async (method: 'POST' | 'PATCH', path: string, body: object) => {
    const res = await app.adminApp.inject({ method, url: path, payload: body, headers: { authorization: `Bearer ${app.adminApiKey}` } });
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  return {
    app, url, mail, clock, logs, mailbox, op,
    async tenant(slug = unique('acme'), extra = {}) {
      const name = String(extra.name ?? `${slug.charAt(0).toUpperCase()}${slug.slice(1).replace(/[0-9a-z]{6,}$/, '')} Corp`);
      await op('POST', '/admin/v1/tenants', { slug, name, ...extra });
      return { slug, name };
    },
    async user(slug, email, o = {}) {
      return op('POST', `/admin/v1/tenants/${slug}/users`, { email, password: o.password ?? STRONG, role: o.role ?? 'member' });
    },
    async resetMailFor(to, since = 0) {
      const m = await mail.waitFor((x, ) => mail.messages.indexOf(x) >= since && x.subject === 'Reset your password' && x.to.includes(to.toLowerCase()), 10_000);
      return { ...extractReset(m), mail: m };
    },
    async close() {
      await app.close();
      await database.drop();
      await mail.stop();
    },
  };
}

/**
 * The hooks of a browser test file: a live Keyturn and Chromium, started (and handed to `ready`, in
 * the same hook, for the file's own set-up) before the tests and closed after them; with the steps
 * the files share. `live` and `browser` stand for them once started.
 */
export function browserSuite(app: LiveAppOptions = {}, ready: (s: { live: LiveApp; browser: Browser }) => void | Promise<void> = () => {}) {
  let live: LiveApp | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    [live, browser] = await Promise.all([startLiveApp(app), launchBrowser()]);
    await ready({ live, browser });
  });
  afterAll(async () => {
    await browser?.close();
    await live?.close();
  });
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });
  return {
    live: late(() => live, 'the live app'),
    browser: late(() => browser, 'the browser'),
    /** A page in a new browser context, closed after the test. */
    async openPage(options: BrowserContextOptions = {}): Promise<Page> {
      const context = await browser!.newContext(options);
      contexts.push(context);
      return context.newPage();
    },
    async signIn(page: Page, path: string, email: string, password: string): Promise<void> {
      await page.goto(live!.url + path);
      await page.getByLabel('Email address').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    },
    /** Asks for a reset on /forgot-password; the mail it sends. */
    async requestReset(page: Page, email: string) {
      const since = live!.mail.messages.length;
      await page.goto(`${live!.url}/forgot-password`);
      await page.getByLabel('Email address').fill(email);
      await page.getByRole('button', { name: 'Send reset email' }).click();
      await pathOf(page).toBe('/forgot-password/sent');
      return live!.resetMailFor(email, since);
    },
    /** Opens the reset link the way a person does: a click in a mail shown by another site (webmail). */
    async openMailLink(page: Page, mailHtml: string): Promise<void> {
      await page.goto('about:blank');
      await page.setContent(mailHtml);
      await page.getByRole('link', { name: 'Reset password' }).click();
      await page.waitForURL(`${live!.url}/reset-password`);
    },
  };
}

/** Sends the address and the code from the email on the reset-by-code form. */
export async function enterResetCode(page: Page, email: string, code: string): Promise<void> {
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Code from the email').fill(code);
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Types a new password and its repeat on the reset or settings form. */
export async function fillNewPassword(page: Page, password: string, repeat = password): Promise<void> {
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('Repeat the new password').fill(repeat);
}

/**
 * Opens a reset link by typing it into the address bar. The interstitial refreshes at once, so the
 * goto only waits for the first response, then for the token-free page.
 */
export async function openResetLink(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForURL((u) => u.pathname === '/reset-password' && u.search === '', { waitUntil: 'load' });
}

const SHOTS = join(process.cwd(), 'test-results', 'screenshots');

/** Saves the page at desktop width and at 360 px (full page) as NAME-desktop.png / NAME-360.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const size = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: join(SHOTS, `${name}-360.png`), fullPage: true });
  await page.setViewportSize(size);
}

// Web-first assertions for vitest (playwright-core has no `expect`): each polls until it holds.
const POLL = { timeout: 8000, interval: 50 };
export const text = (loc: Locator) => expect.poll(() => loc.innerText(), POLL);
export const attr = (loc: Locator, name: string) => expect.poll(() => loc.getAttribute(name), POLL);
export const visible = (loc: Locator) => expect.poll(() => loc.isVisible(), POLL);
export const disabled = (loc: Locator) => expect.poll(() => loc.isDisabled(), POLL);
export const checked = (loc: Locator) => expect.poll(() => loc.isChecked(), POLL);
export const pathOf = (page: Page) => expect.poll(() => new URL(page.url()).pathname, POLL);
export const h1 = (page: Page) => text(page.getByRole('heading', { level: 1 }));

/** The signed-in session's amr, asked by the page itself (its cookie). */
export const amrIn = (page: Page) => page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).amr as string[]);

/**
 * A virtual security key in this page's browser context (CDP WebAuthn; it answers by itself, user
 * verified). The live app must run on localhost: a WebAuthn RP ID is a domain, never an IP.
 */
export async function virtualKey(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

export interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[]; }

/** Runs axe-core in the page (evaluated over CDP, so the page's strict CSP does not block it). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const { source } = (await import('axe-core')).default;
  await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
}

/** Serious or critical axe violations (the ones a page must not have), as readable lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  return (await axeViolations(page))
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}
