// Writes docs/api.md from the two OpenAPI documents Keyturn serves: GET /api/v1/openapi.json on the
// public listener and GET /admin/v1/openapi.json on the operator listener. Those documents are made
// from the routes themselves (src/platform/openapi.ts), so this reference follows the code.
//
//   node --import tsx docs/generate-api.ts
//
// test/docs.test.ts renders the same markdown in memory and fails when docs/api.md differs.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildApp } from '../src/app.ts';
import { configFrom } from '../src/config.ts';
import { openDatabase } from '../src/platform/db.ts';

/** The part of an OpenAPI 3.1 document this script reads. */
export interface OpenApiDocument {
  info: { title: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, SecurityScheme> };
}

interface Operation {
  summary: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
}

interface SecurityScheme { type: string; scheme?: string; in?: string; name?: string; description?: string; }

// A JSON Schema node, as z.toJSONSchema writes it.
type Schema = Record<string, any>;

export const API_MD = fileURLToPath(new URL('./api.md', import.meta.url));

/** Builds Keyturn in-process (in-memory database, no worker) and fetches both documents. */
export async function fetchDocuments(): Promise<{ publicDoc: OpenApiDocument; adminDoc: OpenApiDocument }> {
  const database = await openDatabase({ url: 'memory://', dataDir: '' });
  try {
    await database.migrate();
    const config = configFrom({ NODE_ENV: 'test', DATABASE_URL: 'memory://', SMTP_URL: 'smtp://127.0.0.1:1', LOG_LEVEL: 'silent' });
    const app = await buildApp(config, { database, startWorker: false });
    try {
      const pub = await app.publicApp.inject({ method: 'GET', url: '/api/v1/openapi.json' });
      const adm = await app.adminApp.inject({ method: 'GET', url: '/admin/v1/openapi.json' });
      if (pub.statusCode !== 200 || adm.statusCode !== 200) throw new Error(`openapi.json answered ${pub.statusCode} / ${adm.statusCode}`);
      return { publicDoc: pub.json(), adminDoc: adm.json() };
    } finally {
      await app.close();
    }
  } finally {
    await database.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
// Sections in the order a reader meets them; a tag not listed here follows, alphabetically.
const TAG_ORDER = ['sessions', 'password reset', 'password change', 'password policy', 'tenants', 'users', 'audit', 'deliveries', 'operations', 'meta'];
const SCHEME_NAMES: Record<string, string> = { sessionCookie: 'session cookie', sessionBearer: 'bearer token', operatorKey: 'operator key' };

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (text: string) => `\`${text}\``;
const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Headings and their GitHub anchors (a repeated heading gets -1, -2 …). */
class Anchors {
  private seen = new Map<string, number>();
  slug(heading: string): string {
    const base = heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const n = this.seen.get(base) ?? 0;
    this.seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  }
}

/** `{X, null}` → X, nullable. */
function unwrap(schema: Schema): { schema: Schema; nullable: boolean } {
  const members: Schema[] | undefined = schema.anyOf ?? schema.oneOf;
  if (members) {
    const rest = members.filter((m) => m.type !== 'null');
    if (rest.length === 1 && rest.length < members.length) return { schema: rest[0]!, nullable: true };
  }
  if (Array.isArray(schema.type) && schema.type.includes('null')) {
    const types = schema.type.filter((t: string) => t !== 'null');
    return { schema: { ...schema, type: types.length === 1 ? types[0] : types }, nullable: true };
  }
  return { schema, nullable: false };
}

function typeOf(raw: Schema): string {
  const { schema, nullable } = unwrap(raw);
  let type: string;
  const members: Schema[] | undefined = schema.anyOf ?? schema.oneOf;
  if (members) type = members.map(typeOf).join(' or ');
  else if ('const' in schema) type = typeof schema.const === 'string' ? 'string' : typeof schema.const;
  else if (Array.isArray(schema.type)) type = schema.type.join(' or ');
  else if (schema.type === 'array') type = schema.items ? `array of ${plural(typeOf(schema.items))}` : 'array';
  else if (schema.type) type = schema.format ? `${schema.type} (${schema.format})` : schema.type;
  else type = 'any';
  return nullable ? `${type} or null` : type;
}

const plural = (type: string) => (/^(string|integer|number|boolean|object)\b/.test(type) ? type.replace(/^(\w+)/, '$1s') : type);

function notes(raw: Schema): string {
  const { schema } = unwrap(raw);
  const out: string[] = [];
  if ('const' in schema) out.push(`always ${code(JSON.stringify(schema.const))}`);
  if (schema.enum) out.push(`one of ${schema.enum.map((v: unknown) => code(String(v))).join(', ')}`);
  if (schema.type === 'array' && schema.items?.enum) out.push(`each one of ${schema.items.enum.map((v: unknown) => code(String(v))).join(', ')}`);
  out.push(...range(schema.minLength, schema.maxLength, 'characters'));
  out.push(...range(schema.minimum, schema.maximum, ''));
  out.push(...range(schema.minItems, schema.maxItems, 'items'));
  if (schema.pattern && !schema.format) out.push(`pattern ${code(schema.pattern)}`);
  if ('default' in schema) out.push(`default ${code(JSON.stringify(schema.default))}`);
  if (schema.description) out.push(schema.description);
  return out.join('; ');
}

function range(min: number | undefined, max: number | undefined, unit: string): string[] {
  // zod writes ±Number.MAX_SAFE_INTEGER for a plain integer: no bound worth telling.
  if (min !== undefined && Math.abs(min) >= Number.MAX_SAFE_INTEGER) min = undefined;
  if (max !== undefined && Math.abs(max) >= Number.MAX_SAFE_INTEGER) max = undefined;
  const u = unit ? ` ${unit}` : '';
  if (min !== undefined && max !== undefined) return [min === max ? `exactly ${min}${u}` : `${min}–${max}${u}`];
  if (max !== undefined) return [`at most ${max}${u}`];
  if (min !== undefined && min > 0) return [`at least ${min}${u}`];
  return [];
}

interface Field { path: string; type: string; required: boolean; notes: string; }

/** The fields of an object schema, nested ones as `parent.child` and `list[].child`. */
function fields(schema: Schema, prefix = ''): Field[] {
  const out: Field[] = [];
  for (const [name, raw] of Object.entries<Schema>(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    out.push({ path, type: typeOf(raw), required: (schema.required ?? []).includes(name), notes: notes(raw) });
    const inner = unwrap(raw).schema;
    if (inner.properties) out.push(...fields(inner, `${path}.`));
    if (inner.type === 'array' && inner.items?.properties) out.push(...fields(inner.items, `${path}[].`));
  }
  return out;
}

function authOf(op: Operation): string {
  const security = op.security ?? [];
  if (security.length === 0) return 'none';
  return security.map((req) => Object.keys(req).map((k) => SCHEME_NAMES[k] ?? k).join(' and ')).join(' or ');
}

function schemeLine(name: string, s: SecurityScheme): string {
  const how = s.type === 'apiKey' ? `${s.in} ${code(s.name ?? '')}` : s.type === 'http' ? `header ${code(`Authorization: ${capital(s.scheme ?? '')} …`)}` : s.type;
  return `- **${SCHEME_NAMES[name] ?? name}** (${how})${s.description ? `: ${s.description}` : ''}`;
}

function responseMeaning(r: Operation['responses'][string]): string {
  let text = r.description;
  for (const [type, { schema }] of Object.entries(r.content ?? {})) {
    if (type !== 'application/json') { text += ` (${code(type)})`; continue; }
    const names = Object.keys(schema.properties ?? {});
    const plainError = names.length === 2 && names.includes('error') && names.includes('message');
    if (names.length && !plainError) text += ` Fields: ${names.map(code).join(', ')}.`;
    else if (schema.type === 'array') text += ` A JSON array.`;
  }
  return text;
}

interface Part { title: string; doc: OpenApiDocument; served: string; listener: string; }

interface Entry { method: string; path: string; op: Operation; tag: string; }

function entries(doc: OpenApiDocument): Entry[] {
  const out: Entry[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (METHODS.includes(method)) out.push({ method: method.toUpperCase(), path, op, tag: op.tags?.[0] ?? 'other' });
    }
  }
  const tagRank = (t: string) => (TAG_ORDER.includes(t) ? TAG_ORDER.indexOf(t) : TAG_ORDER.length);
  return out.sort((a, b) => tagRank(a.tag) - tagRank(b.tag) || a.tag.localeCompare(b.tag)
    || a.path.localeCompare(b.path) || METHODS.indexOf(a.method.toLowerCase()) - METHODS.indexOf(b.method.toLowerCase()));
}

function renderPart(part: Part, anchors: Anchors): string[] {
  const { doc } = part;
  const lines: string[] = [];
  lines.push(`## ${part.title}`, '');
  anchors.slug(part.title);
  lines.push(`Served by the ${part.listener}. Its OpenAPI document: ${code(part.served)}.`, '');
  if (doc.info.description) lines.push(doc.info.description, '');
  const schemes = Object.entries(doc.components?.securitySchemes ?? {});
  if (schemes.length) {
    lines.push('How a caller proves who it is:', '');
    for (const [name, s] of schemes) lines.push(schemeLine(name, s));
    lines.push('');
  }

  const list = entries(doc);
  // Anchors are given in document order: tag headings and route headings, as they appear below.
  const slugs = new Map<Entry, string>();
  let tag = '';
  for (const e of list) {
    if (e.tag !== tag) { tag = e.tag; anchors.slug(capital(tag)); }
    slugs.set(e, anchors.slug(`${e.method} ${e.path}`));
  }

  lines.push('| method | path | what it does | auth |', '|---|---|---|---|');
  for (const e of list) lines.push(`| ${e.method} | [${code(e.path)}](#${slugs.get(e)}) | ${cell(e.op.summary)} | ${authOf(e.op)} |`);
  lines.push('');

  tag = '';
  for (const e of list) {
    if (e.tag !== tag) { tag = e.tag; lines.push(`### ${capital(tag)}`, ''); }
    const { op } = e;
    lines.push(`#### ${e.method} ${e.path}`, '');
    lines.push(/[.!?]$/.test(op.summary) ? op.summary : `${op.summary}.`, '');
    if (op.description) lines.push(op.description, '');
    lines.push(`Auth: ${authOf(op)}.`, '');

    if (op.parameters?.length) {
      lines.push('Parameters:', '', '| name | in | type | required | notes |', '|---|---|---|---|---|');
      for (const p of op.parameters) {
        lines.push(`| ${code(p.name)} | ${p.in} | ${cell(typeOf(p.schema ?? {}))} | ${p.required ? 'yes' : 'no'} | ${cell(notes(p.schema ?? {}))} |`);
      }
      lines.push('');
    }

    for (const [type, { schema }] of Object.entries(op.requestBody?.content ?? {})) {
      const rows = fields(schema);
      lines.push(`Request body (${code(type)}):`, '');
      if (rows.length === 0) { lines.push(`${cell(typeOf(schema))}.`, ''); continue; }
      lines.push('| field | type | required | notes |', '|---|---|---|---|');
      for (const f of rows) lines.push(`| ${code(f.path)} | ${cell(f.type)} | ${f.required ? 'yes' : 'no'} | ${cell(f.notes)} |`);
      lines.push('');
    }

    lines.push('Responses:', '', '| status | meaning |', '|---|---|');
    for (const [status, r] of Object.entries(op.responses)) lines.push(`| ${status} | ${cell(responseMeaning(r))} |`);
    lines.push('');
  }
  return lines;
}

/** The whole of docs/api.md, from the two documents. */
export function renderApiReference(publicDoc: OpenApiDocument, adminDoc: OpenApiDocument): string {
  const anchors = new Anchors();
  const lines: string[] = [
    '# API reference',
    '',
    '<!-- Generated by docs/generate-api.ts from the OpenAPI documents. Do not edit by hand. -->',
    '',
    'Keyturn describes its own HTTP API in two OpenAPI 3.1 documents, built from the routes',
    'themselves (`src/platform/openapi.ts`). This page is made from those documents:',
    '',
    '- the public API under `/api/v1`, on the public listener (`PORT`, default 3000);',
    '- the operator API under `/admin/v1` and the operations endpoints, on the operator listener',
    '  (`ADMIN_PORT`, default 3001).',
    '',
    'Do not edit this file by hand. After you change a route, run',
    '`node --import tsx docs/generate-api.ts`. The test `test/docs.test.ts` fails while this file',
    'and the documents differ.',
    '',
    'Every error answer has the body `{"error": code, "message": text}`; a few codes add fields,',
    'named below. Bodies are JSON (`content-type: application/json`). Responses list the top-level',
    'fields only: the full schemas are in the documents. The hosted pages (HTML) are not part of',
    'the API: see [the hosted pages](../src/web/README.md).',
    '',
    'SCIM 2.0 for identity providers (`/scim/v2/{slug}` on the public listener) speaks SCIM\'s own',
    'JSON (`application/scim+json`, RFC 7644) and is described in the README:',
    '[Provisioning with Okta / Entra ID](../README.md#provisioning-with-okta--entra-id).',
    '',
  ];
  anchors.slug('API reference');
  lines.push(...renderPart({ title: 'Public API', doc: publicDoc, served: 'GET /api/v1/openapi.json', listener: 'public listener' }, anchors));
  lines.push(...renderPart({ title: 'Operator API', doc: adminDoc, served: 'GET /admin/v1/openapi.json', listener: 'operator listener (keep it on a private network)' }, anchors));
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}

async function main(): Promise<void> {
  const { publicDoc, adminDoc } = await fetchDocuments();
  writeFileSync(API_MD, renderApiReference(publicDoc, adminDoc));
  console.log(`wrote ${API_MD}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(() => process.exit(0), (e: unknown) => { console.error(e); process.exit(1); });
}
