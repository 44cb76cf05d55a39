// A small RFC 4180 reader and writer: quoted fields, doubled quotes, CRLF or LF, a header row.

/** One record of a file, with the line it starts on (the header is line 1). */
export interface CsvRecord { line: number; fields: string[]; }

/** The file cannot be read as CSV at all (a quote that never closes swallows every later row). */
export class CsvSyntaxError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/** Every non-blank record, with its line; throws CsvSyntaxError for a quote that never closes. */
export function csvRecords(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let field = '';
  let fields: string[] = [];
  let quoted = false;
  let line = 1;
  let start = 1;
  let quoteLine = 1;
  const src = text.replace(/^\uFEFF/, '');
  const end = () => {
    fields.push(field);
    if (fields.some((f) => f !== '')) records.push({ line: start, fields });
    field = '';
    fields = [];
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else {
        if (c === '\n' || (c === '\r' && src[i + 1] !== '\n')) line++;
        field += c;
      }
    } else if (c === '"' && field === '') { quoted = true; quoteLine = line; }
    else if (c === ',') { fields.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      end();
      line++;
      start = line;
    } else field += c;
  }
  if (quoted) throw new CsvSyntaxError(quoteLine, `line ${quoteLine}: a quoted field never closes (a " is missing), so the rows after it cannot be read.`);
  end();
  return records;
}

/** Rows as objects keyed by the header's lower-cased names (extra fields are dropped). */
export function parseCsv(text: string): Record<string, string>[] {
  const [header, ...body] = csvRecords(text);
  if (!header) return [];
  const keys = header.fields.map((h) => h.trim().toLowerCase());
  return body.map((r) => Object.fromEntries(keys.map((k, i) => [k, (r.fields[i] ?? '').trim()])));
}

// What a spreadsheet may run as a formula: a cell starting with = + - @ (or their full-width
// forms, which some locales read the same), also behind leading blanks, or starting with a tab or
// line break.
const FORMULA = /^(?:[\t\r\n]|\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/u;

/** One CSV line (no line break) of these values. */
export function csvLine(values: unknown[]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    // A leading apostrophe makes the spreadsheet show the cell as text instead of running it.
    const safe = FORMULA.test(s) ? `'${s}` : s;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return values.map(cell).join(',');
}

export function toCsv(rows: Record<string, unknown>[], columns: string[]): string {
  return [columns.join(','), ...rows.map((r) => csvLine(columns.map((c) => r[c])))].join('\n') + '\n';
}
