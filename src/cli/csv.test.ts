import { describe, expect, it } from 'vitest';
import { parseCsv, toCsv } from './csv.ts';

describe('csv', () => {
  it('reads quoted fields, doubled quotes, CRLF and a BOM', () => {
    const rows = parseCsv('\uFEFFEmail,Name,Role\r\nann@x.com,"Ann, the ""boss""",admin\r\n\r\nbob@x.com,Bob,\n');
    expect(rows).toEqual([
      { email: 'ann@x.com', name: 'Ann, the "boss"', role: 'admin' },
      { email: 'bob@x.com', name: 'Bob', role: '' },
    ]);
  });

  it('writes CSV a spreadsheet cannot turn into a formula', () => {
    const out = toCsv([{ a: '=HYPERLINK("x")', b: 'x,y', c: { k: 1 } }], ['a', 'b', 'c']);
    expect(out).toBe('a,b,c\n"\'=HYPERLINK(""x"")","x,y","{""k"":1}"\n');
    expect(parseCsv(out)).toEqual([{ a: '\'=HYPERLINK("x")', b: 'x,y', c: '{"k":1}' }]);
  });
});
