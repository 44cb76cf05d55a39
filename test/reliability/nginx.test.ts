// The README's nginx example, run as written (ports filled in) in front of two Keyturn processes:
// requests reach both, and the client address nginx passes in X-Forwarded-For is believed only
// because TRUSTED_PROXIES lists 127.0.0.1 — a forged header from anywhere else is ignored.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unique } from '../helpers/app.ts';
import { freePort } from '../helpers/ports.ts';
import { deployment, servicesMissing, sleep, STRONG, suiteName, type Instance } from './helpers.ts';

const nginxBinary = (() => {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  return undefined;
})();
if (!nginxBinary && !servicesMissing) console.warn('test/reliability/nginx.test.ts SKIPPED: nginx is not installed (apt-get install nginx-light)');

/** The nginx example from the README, verbatim. */
function readmeExample(): string {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const m = /<!-- nginx-example -->\s*```nginx\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no nginx example (<!-- nginx-example --> followed by an nginx code block)');
  return m[1]!;
}

/** The README config with this test's ports, plus what a non-system nginx needs (its own pid file, logs, temp dirs). */
function configFor(dir: string, listen: number, upstreams: Instance[]): string {
  let conf = readmeExample();
  const ports = upstreams.map((u) => new URL(u.url).port);
  conf = conf.replace('server 127.0.0.1:3000 ', `server 127.0.0.1:${ports[0]} `);
  conf = ports[1] ? conf.replace('server 127.0.0.1:3010 ', `server 127.0.0.1:${ports[1]} `) : conf.replace(/^\s*server 127\.0\.0\.1:3010 .*$/m, '');
  conf = conf.replace(/listen 80;/, `listen 127.0.0.1:${listen};`);
  if (conf.includes(':3000') || conf.includes(':3010') || !conf.includes(`listen 127.0.0.1:${listen};`)) throw new Error(`README example changed shape:\n${conf}`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((p) => `  ${p}_temp_path ${join(dir, `${p}_temp`)};`).join('\n');
  return `pid ${join(dir, 'nginx.pid')};\nerror_log ${join(dir, 'error.log')} warn;\n${conf.replace(/http \{/, `http {\n  access_log ${join(dir, 'access.log')};\n${temp}`)}`;
}

async function startNginx(listen: number, upstreams: Instance[]): Promise<{ process: ChildProcess; dir: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'keyturn-nginx-'));
  chmodSync(dir, 0o755); // workers drop to an unprivileged user when nginx starts as root
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, configFor(dir, listen, upstreams));
  const test = spawnSync(nginxBinary!, ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', file], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t: ${test.stderr}`);
  const child = spawn(nginxBinary!, ['-p', dir, '-e', join(dir, 'error.log'), '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += String(c); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await fetch(`http://127.0.0.1:${listen}/api/v1/password/policy`, { signal: AbortSignal.timeout(2_000) });
      break;
    } catch {
      if (i > 100) throw new Error(`nginx did not answer: ${stderr}`);
      await sleep(100);
    }
  }
  return {
    process: child, dir,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT'); // graceful
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A request from a chosen local address (127.0.0.2 is loopback too), with extra headers. */
function from(localAddress: string, url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += String(c); });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const requestsSeen = async (inst: Instance, route: string) => {
  const text = await (await fetch(`${inst.adminUrl}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`keyturn_http_requests_total\\{route="${route.replace(/\//g, '\\/')}"[^}]*\\} (\\d+)`, 'g'))) n += Number(m[1]);
  return n;
};

describe.skipIf(servicesMissing || !nginxBinary)(
  nginxBinary ? suiteName('nginx in front of two instances (README example)') : 'nginx in front of two instances — SKIPPED: nginx is not installed (apt-get install nginx-light)',
  () => {
    let a: Instance;
    let b: Instance;
    let untrusting: Instance;
    let nginx: Awaited<ReturnType<typeof startNginx>>;
    let nginxToUntrusting: Awaited<ReturnType<typeof startNginx>>;
    let front: string;
    let untrustingFront: string;
    let slug: string;
    const email = `ann-${unique('ngx')}@example.com`;

    deployment(async (d) => {
      [a, b, untrusting] = await Promise.all([
        d.start('A', { TRUSTED_PROXIES: '127.0.0.1' }),
        d.start('B', { TRUSTED_PROXIES: '127.0.0.1' }),
        d.start('C (no TRUSTED_PROXIES)'),
      ]);
      const [p1, p2] = [await freePort(), await freePort()];
      nginx = await startNginx(p1, [a, b]);
      nginxToUntrusting = await startNginx(p2, [untrusting]);
      front = `http://127.0.0.1:${p1}`;
      untrustingFront = `http://127.0.0.1:${p2}`;
      slug = unique('ngx');
      await a.op('POST', '/admin/v1/tenants', { slug, name: 'NGX' });
      await a.op('POST', `/admin/v1/tenants/${slug}/users`, { email, password: STRONG });
    });

    // Registered after the deployment's: nginx stops first, then the instances.
    afterAll(async () => {
      await nginx?.stop();
      await nginxToUntrusting?.stop();
    });

    it('spreads requests over both instances', async () => {
      for (let i = 0; i < 20; i++) expect((await fetch(`${front}/api/v1/password/policy`)).status).toBe(200);
      expect(await requestsSeen(a, '/api/v1/password/policy')).toBeGreaterThan(0);
      expect(await requestsSeen(b, '/api/v1/password/policy')).toBeGreaterThan(0);
    }, 60_000);

    it('believes the client address nginx sets, ignores what a client claims, and only with TRUSTED_PROXIES', async () => {
      const forged = { 'x-forwarded-for': '203.0.113.9' };
      const lastSignInIp = async () => {
        const { events } = (await a.op('GET', `/admin/v1/tenants/${slug}/audit?type=signed_in&limit=1`)).body;
        return events[0]?.ip as string;
      };
      // Through nginx from 127.0.0.2: nginx replaces the forged header with the address it saw.
      expect((await from('127.0.0.2', `${front}/api/v1/login`, { email, password: STRONG }, forged)).status).toBe(200);
      expect(await lastSignInIp()).toBe('127.0.0.2');
      // Straight to an instance from 127.0.0.2 (not a trusted proxy): the header is ignored.
      expect((await from('127.0.0.2', `${a.url}/api/v1/login`, { email, password: STRONG }, forged)).status).toBe(200);
      expect(await lastSignInIp()).toBe('127.0.0.2');
      // Through nginx to an instance without TRUSTED_PROXIES: nginx's header is not believed either.
      expect((await from('127.0.0.2', `${untrustingFront}/api/v1/login`, { email, password: STRONG }, forged)).status).toBe(200);
      expect(await lastSignInIp()).toBe('127.0.0.1');
    }, 60_000);
  },
);
