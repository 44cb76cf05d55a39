// The documentation cannot drift from the code: docs/api.md is what docs/generate-api.ts makes from
// the OpenAPI documents, docs/configuration.md names every key of the configuration schema, the
// layout in docs/architecture.md names only paths that exist, and no document links outside the
// repository.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../src/config.ts';
import { API_MD, fetchDocuments, renderApiReference } from '../docs/generate-api.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Text outside fenced code blocks (``` … ```), line by line. */
function prose(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) { fenced = !fenced; continue; }
    if (!fenced) out.push(line);
  }
  return out;
}

/** GitHub's anchors for the headings of a markdown file (a repeated heading gets -1, -2 …). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const base = m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const DOCUMENTS = [
  'README.md',
  'bench/RESULTS.md',
  ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'src/features')).map((f) => `src/features/${f}/README.md`).filter((f) => existsSync(join(ROOT, f))),
  'src/web/README.md',
];

describe('documentation', () => {
  it('docs/api.md is what docs/generate-api.ts makes from the two OpenAPI documents', async () => {
    const { publicDoc, adminDoc } = await fetchDocuments();
    const fresh = renderApiReference(publicDoc, adminDoc);
    const current = readFileSync(API_MD, 'utf8');
    if (current !== fresh) {
      const a = current.split('\n');
      const b = fresh.split('\n');
      let line = 0;
      while (line < Math.max(a.length, b.length) && a[line] === b[line]) line++;
      expect.fail(
        `docs/api.md is out of date: run node --import tsx docs/generate-api.ts\n`
        + `first difference at line ${line + 1}:\n  in the file: ${a[line] ?? '(end of file)'}\n  generated:   ${b[line] ?? '(end of file)'}`,
      );
    }
    // Every route of both documents has its section.
    for (const doc of [publicDoc, adminDoc]) {
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const method of Object.keys(ops)) expect(current).toContain(`#### ${method.toUpperCase()} ${path}\n`);
      }
    }
  }, 120_000);

  it('docs/configuration.md describes every key of the configuration schema, and no other', () => {
    const rows = new Set(prose(read('docs/configuration.md')).map((l) => /^\| `([A-Z0-9_]+)` \|/.exec(l)?.[1]).filter(Boolean));
    const missing = CONFIG_KEYS.filter((k) => !rows.has(k));
    expect(missing, 'keys of src/config.ts without a row in docs/configuration.md').toEqual([]);
    const unknown = [...rows].filter((k) => !(CONFIG_KEYS as string[]).includes(k!));
    expect(unknown, 'rows of docs/configuration.md that are not keys of src/config.ts').toEqual([]);
  });

  it('the layout in docs/architecture.md names only paths that exist', () => {
    const md = read('docs/architecture.md');
    const named: string[] = [];
    // Code spans that are repository paths.
    for (const line of prose(md)) {
      for (const m of line.matchAll(/`((?:src|test|bench|docs|migrations|bin)\/[\w./-]*)`/g)) named.push(m[1]!);
    }
    // The layout tree: an entry's name starts before column 20, its description after it. A name in
    // a description is relative to the entry (a folder) or to the entry's folder (a file), unless
    // it starts at the top of the repository.
    const tree = /```\n(src\/\n[\s\S]*?)```/.exec(md)?.[1];
    expect(tree, 'the layout block (``` then src/)').toBeDefined();
    const stack: { indent: number; path: string }[] = [];
    let here = '';
    const TOP = /^(src|test|bench|docs|migrations|bin)\//;
    const TOKEN = /(?<=^|[\s(,;])((?:[\w.-]+\/)*[\w.-]+\.(?:ts|md|sql|js|css)|(?:[\w.-]+\/)+)(?=$|[\s),;:])/g;
    for (const line of tree!.split('\n')) {
      if (!line.trim()) continue;
      const indent = line.length - line.trimStart().length;
      let description = line.trim();
      if (indent < 20) {
        const name = description.split(/\s+/)[0]!;
        description = description.slice(name.length);
        while (stack.length && stack.at(-1)!.indent >= indent) stack.pop();
        const parent = stack.at(-1)?.path ?? '';
        const path = TOP.test(name) && !parent ? name : parent + name;
        named.push(path);
        if (name.endsWith('/')) { stack.push({ indent, path }); here = path; } else here = parent;
      }
      for (const m of description.matchAll(TOKEN)) named.push(TOP.test(m[1]!) ? m[1]! : here + m[1]!);
    }
    expect(named.length).toBeGreaterThan(50);
    expect(named.filter((p) => !existsSync(join(ROOT, p))), 'paths named in docs/architecture.md that do not exist').toEqual([]);
  });

  it('issue 11 item 16: the README says which test services to use and that the database must exist', () => {
    const tests = read('README.md').split('\n## Tests')[1]?.split('\n## ')[0] ?? '';
    expect(tests).toMatch(/TEST_DATABASE_URL=postgres:\/\/\S+/);
    expect(tests).toMatch(/TEST_REDIS_URL=redis:\/\/\S+/);
    expect(tests).toMatch(/database must exist/);
  });

  it('the README and the docs link only to files inside the repository', () => {
    const problems: string[] = [];
    for (const doc of DOCUMENTS) {
      for (const line of prose(read(doc))) {
        for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = m[1]!;
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) { problems.push(`${doc}: ${target} leaves the repository`); continue; }
          const [file, fragment] = target.split('#') as [string, string | undefined];
          const path = file ? resolve(join(ROOT, dirname(doc)), file) : join(ROOT, doc);
          if (relative(ROOT, path).startsWith(`..${sep}`)) { problems.push(`${doc}: ${target} leaves the repository`); continue; }
          if (!existsSync(path)) { problems.push(`${doc}: ${target} does not exist`); continue; }
          if (fragment && path.endsWith('.md') && !anchors(readFileSync(path, 'utf8')).has(fragment)) problems.push(`${doc}: ${target} names no heading`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
