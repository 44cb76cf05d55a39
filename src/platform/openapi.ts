// OpenAPI 3.1 documents built from the routes themselves: each JSON route carries its zod schemas
// in `config.openapi` (the same schemas its handler parses with), a catalog hears every route as it
// is registered (onRoute), and the document is made from the catalog. A route without a
// description still appears (with a note), so the document can never silently miss one.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export type Auth = 'none' | 'session' | 'operator';

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteDoc {
  summary: string;
  description?: string;
  tags?: string[];
  body?: z.ZodType;
  query?: z.ZodType;
  responses: Record<number, string | ResponseDoc>;
  /** Who may call it; the document's default when absent. */
  auth?: Auth;
}

declare module 'fastify' {
  interface FastifyContextConfig { openapi?: RouteDoc; }
}

/** Route options carrying the description: `app.post(url, doc({...}), handler)`. */
export const doc = (d: RouteDoc) => ({ config: { openapi: d } });

/** The contract's error body: `{"error": code, "message": text}` plus fields some codes add. */
export const ErrorBody = z.looseObject({ error: z.string(), message: z.string() });
export const err = (description: string): ResponseDoc => ({ description, schema: ErrorBody });

/** Answers most routes share. */
export const common = {
  invalid: { 400: err('`invalid_request`: the body or query is not what this route takes (names the field).') },
  signIn: { 401: err('`unauthenticated`: no live session.') },
  csrf: { 403: err('`csrf_failed`: a cookie session sent no valid X-CSRF-Token, or the request came from another origin.') },
  limited: { 429: err('`rate_limited`, with `Retry-After` (seconds).') },
  notFound: { 404: err('`not_found`.') },
};

export interface CatalogRoute { method: string; url: string; doc?: RouteDoc; }

export class RouteCatalog {
  readonly routes: CatalogRoute[] = [];

  /** Call on the root instance before any route is registered. */
  listen(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const methods = ([] as string[]).concat(route.method);
      for (const method of methods) {
        if (method === 'HEAD') continue; // Fastify's automatic twin of each GET
        this.routes.push({ method, url: route.url, doc: route.config?.openapi });
      }
    });
  }

  has(method: string, url: string): boolean {
    return this.routes.some((r) => r.method === method && r.url === url);
  }
}

interface DocumentOptions {
  title: string;
  description: string;
  version: string;
  serverUrl: string;
  /** Routes of the catalog that belong in this document. */
  include: (route: CatalogRoute) => boolean;
  defaultAuth: Auth;
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  none: [],
  session: [{ sessionCookie: [] }, { sessionBearer: [] }],
  operator: [{ operatorKey: [] }],
};

export function openApiDocument(catalog: RouteCatalog, opts: DocumentOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of catalog.routes.filter(opts.include)) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const d = route.doc;
    const auth = d?.auth ?? opts.defaultAuth;
    const parameters: Record<string, unknown>[] = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
      name: m[1], in: 'path', required: true, schema: { type: 'string' },
    }));
    if (d?.query) {
      const q = jsonSchema(d.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(d?.responses ?? { 200: 'Not described yet.' })) {
      const res = typeof r === 'string' ? { description: r } : r;
      responses[status] = {
        description: res.description,
        ...(res.schema ? { content: { [res.contentType ?? 'application/json']: { schema: jsonSchema(res.schema, 'output') } } } : {}),
      };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').split(/[^A-Za-z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}`,
      summary: d?.summary ?? `${route.method} ${route.url}`,
      ...(d?.description ? { description: d.description } : {}),
      ...(d?.tags ? { tags: d.tags } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(d?.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(d.body, 'input') } } } } : {}),
      responses,
      security: SECURITY[auth],
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: opts.title, version: opts.version, description: opts.description },
    servers: [{ url: opts.serverUrl }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
      securitySchemes: {
        ...(opts.defaultAuth === 'operator'
          ? { operatorKey: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY' } }
          : {
            sessionCookie: { type: 'apiKey', in: 'cookie', name: 'keyturn_session', description: 'Session cookie from POST /api/v1/login. State-changing calls also need the X-CSRF-Token header (GET /api/v1/csrf).' },
            sessionBearer: { type: 'http', scheme: 'bearer', description: 'Session token from POST /api/v1/login with "tokenType":"bearer". No CSRF token needed.' },
          }),
      },
    },
  };
}

/** Serves a document at `url`, built once on first request (every route is registered by then). */
export function serveDocument(app: FastifyInstance, url: string, build: () => Record<string, unknown>, summary: string): void {
  let cached: string | undefined;
  app.get(url, doc({ summary, auth: 'none', tags: ['meta'], responses: { 200: 'This document (OpenAPI 3.1).' } }), async (_request, reply) => {
    cached ??= JSON.stringify(build());
    return reply.type('application/json; charset=utf-8').send(cached);
  });
}
