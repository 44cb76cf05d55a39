// The OpenAPI documents are made from the routes: every JSON route registered on a listener is in
// its document with a description, and the document names nothing that is not registered.
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { useTestApp } from '../helpers/app.ts';

const t = useTestApp();

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every (method, path) the listener routes, read off Fastify's own route tree, in OpenAPI spelling. */
function registered(app: FastifyInstance): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  // One node per line: indentation (4 characters a level), "── " + the path piece, then its methods.
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const at = line.indexOf('── ');
    if (at < 0) continue;
    const depth = Math.round((at - 1) / 4);
    const m = /^(\S+)(?: \(([^)]+)\))?/.exec(line.slice(at + 3))!;
    const path = (stack[depth - 1] ?? '') + m[1]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of m[2]?.split(', ') ?? []) {
      if (method !== 'HEAD') out.add(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return out;
}

function documented(docJson: any): Set<string> {
  const out = new Set<string>();
  for (const [path, ops] of Object.entries<Record<string, unknown>>(docJson.paths)) {
    for (const method of Object.keys(ops)) if (METHODS.includes(method)) out.add(`${method.toUpperCase()} ${path}`);
  }
  return out;
}

describe('OpenAPI 3.1 documents', () => {
  it('GET /api/v1/openapi.json lists every /api route of the public listener, and nothing else', async () => {
    const res = await t.api('GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const routes = [...registered(t.app.publicApp)].filter((r) => r.split(' ')[1]!.startsWith('/api/'));
    expect(routes.length).toBeGreaterThan(15);
    expect([...documented(res.body)].sort()).toEqual(routes.sort());
  });

  it('GET /admin/v1/openapi.json lists every route of the admin listener, and nothing else; it needs no key', async () => {
    const res = await t.app.adminApp.inject({ method: 'GET', url: '/admin/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const routes = [...registered(t.app.adminApp)];
    expect(routes).toContain('GET /readyz');
    expect([...documented(body)].sort()).toEqual(routes.sort());
    for (const [path, ops] of Object.entries<Record<string, any>>(body.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) expect(op.summary, `${method} ${path}`).not.toMatch(/^(GET|POST|PATCH|DELETE) /);
    }
    // The operator routes carry the key requirement; the operations endpoints do not.
    expect(body.paths['/admin/v1/tenants'].post.security).toEqual([{ operatorKey: [] }]);
    expect(body.paths['/healthz'].get.security).toEqual([]);
    expect(body.components.securitySchemes.operatorKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('every documented operation has a summary and its request schemas come from the zod schemas the routes parse with', async () => {
    const { body } = await t.api('GET', '/api/v1/openapi.json');
    for (const [path, ops] of Object.entries<Record<string, any>>(body.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        expect(op.summary, `${method} ${path}`).not.toMatch(/^(GET|POST|PATCH|DELETE) /); // described, not the fallback
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    const forgot = body.paths['/api/v1/password/forgot'].post;
    expect(forgot.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object', required: ['email'], properties: { email: { type: 'string', maxLength: 254 } },
    });
    expect(Object.keys(forgot.responses)).toEqual(expect.arrayContaining(['202', '400', '428', '429']));
    expect(forgot.security).toEqual([]);
    const session = body.paths['/api/v1/session'].get;
    expect(session.security).toEqual([{ sessionCookie: [] }, { sessionBearer: [] }]);
    expect(session.responses['200'].content['application/json'].schema.required).toEqual(expect.arrayContaining(['user', 'tenant', 'expiresAt']));
    const list = body.paths['/api/v1/admin/users'].get;
    expect(list.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['query:q', 'query:after', 'query:limit', 'query:status', 'query:role', 'query:mfa', 'query:method', 'query:inactiveDays']);
    const patch = body.paths['/api/v1/admin/users/{id}'].patch;
    expect(patch.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
  });

  it('the public document answers what a signed-in call really returns', async () => {
    const { slug } = await t.tenant();
    await t.user(slug, `doc-${slug}@example.com`);
    const s = await t.login(`doc-${slug}@example.com`);
    const res = await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie });
    const { body } = await t.api('GET', '/api/v1/openapi.json');
    const schema = body.paths['/api/v1/session'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(res.body).sort()).toEqual(Object.keys(schema.properties).sort());
  });
});
