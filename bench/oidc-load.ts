// The load side of bench/oidc.ts for what autocannon cannot do: closed loops in which each request
// depends on the answer before it. Always in its own process, so it never shares an event loop
// with the Keyturn it measures. Reads one JSON job from the file named by argv[2], prints one JSON result.
//
//   {"kind":"codeflow", base, clientId, clientSecret, redirectUri, cookies:[…], connections, seconds?, amount?, keep?}
//     The whole authorization code flow, `connections` at a time, each connection a browser with
//     one Keyturn cookie (cookies[i % n]) and nothing else: GET /oidc/auth (PKCE S256) → 303 to the
//     interaction → its page → GET /oidc/auth/<uid> → 303 to the redirect URI with a code → POST
//     /oidc/token (client_secret_basic). `keep` returns the tokens (the bench's refresh chains).
//   {"kind":"refresh", base, clientId, clientSecret, tokens:[…], seconds}
//     One closed loop per refresh token: POST /oidc/token grant_type=refresh_token, and the next
//     request uses the refresh token that answer rotated to. A chain that fails stops.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

interface Common { base: string; clientId: string; clientSecret: string; }
interface CodeFlowJob extends Common { kind: 'codeflow'; redirectUri: string; cookies: string[]; connections: number; seconds?: number; amount?: number; keep?: boolean; }
interface RefreshJob extends Common { kind: 'refresh'; tokens: string[]; seconds: number; }
interface Tokens { access_token: string; refresh_token: string; id_token?: string; }

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (j: Common) => `Basic ${Buffer.from(`${encodeURIComponent(j.clientId)}:${encodeURIComponent(j.clientSecret)}`).toString('base64')}`;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * p))]! : NaN;
};

async function token(j: Common, body: Record<string, string>): Promise<Tokens> {
  const res = await fetch(`${j.base}/oidc/token`, { method: 'POST', headers: { ...form, authorization: basic(j) }, body: new URLSearchParams(body).toString() });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token endpoint ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as Tokens;
}

/** One code flow for a browser that holds only the Keyturn cookie; the tokens. */
async function codeFlow(j: CodeFlowJob, keyturnCookie: string): Promise<Tokens> {
  const jar = new Map<string, string>();
  const [k, v] = keyturnCookie.split('=', 2) as [string, string];
  jar.set(k, v);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL(`${j.base}/oidc/auth`);
  for (const [name, value] of Object.entries({
    client_id: j.clientId, redirect_uri: j.redirectUri, response_type: 'code', scope: 'openid email profile offline_access',
    state: 'st', code_challenge: challenge, code_challenge_method: 'S256',
  })) auth.searchParams.set(name, value);
  let url = auth.toString();
  for (let hop = 0; hop < 8; hop++) {
    if (url.startsWith(j.redirectUri)) {
      const code = new URL(url).searchParams.get('code');
      if (!code) throw new Error(`no code: ${url}`);
      return token(j, { grant_type: 'authorization_code', code, redirect_uri: j.redirectUri, code_verifier: verifier });
    }
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...jar].map(([a, b]) => `${a}=${b}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const kv = c.split(';', 1)[0]!;
      const i = kv.indexOf('=');
      if (i > 0) jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    const location = res.headers.get('location');
    const body = await res.text();
    if (location) { url = new URL(location, url).toString(); continue; }
    // the interaction answers with a page that continues by meta refresh (interaction.ts)
    const refresh = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(body)?.[1];
    if (!refresh) throw new Error(`${res.status} at ${url}: ${body.slice(0, 200)}`);
    url = new URL(refresh.replace(/&amp;/g, '&'), url).toString();
  }
  throw new Error('too many hops');
}

async function codeFlows(j: CodeFlowJob) {
  const end = j.seconds ? performance.now() + j.seconds * 1000 : Infinity;
  const times: number[] = [];
  const kept: Tokens[] = [];
  const errors: string[] = [];
  let started = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: j.connections }, async (_, c) => {
    while (performance.now() < end && (j.amount === undefined || started < j.amount)) {
      started++;
      const t = performance.now();
      try {
        const tokens = await codeFlow(j, j.cookies[c % j.cookies.length]!);
        times.push(performance.now() - t);
        if (j.keep) kept.push(tokens);
      } catch (e) {
        errors.push(String(e));
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  return { rps: times.length / seconds, total: times.length, p50: pct(times, 0.5), p99: pct(times, 0.99), errors: errors.length, firstError: errors[0], tokens: j.keep ? kept : undefined };
}

async function refreshes(j: RefreshJob) {
  const end = performance.now() + j.seconds * 1000;
  const times: number[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  await Promise.all(j.tokens.map(async (first) => {
    let current = first;
    while (performance.now() < end) {
      const t = performance.now();
      try {
        current = (await token(j, { grant_type: 'refresh_token', refresh_token: current })).refresh_token;
        if (!current) throw new Error('no refresh token in the answer');
        times.push(performance.now() - t);
      } catch (e) {
        errors.push(String(e));
        return; // the chain is broken (a spent token used again would revoke its grant)
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  return { rps: times.length / seconds, total: times.length, p50: pct(times, 0.5), p99: pct(times, 0.99), errors: errors.length, firstError: errors[0] };
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as CodeFlowJob | RefreshJob;
const result = job.kind === 'codeflow' ? await codeFlows(job) : await refreshes(job);
process.stdout.write(JSON.stringify(result));
