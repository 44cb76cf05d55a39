import { describe, expect, it } from 'vitest';
import { csvLine, csvRecords, CsvSyntaxError, parseCsv, toCsv } from './csv.ts';

describe('csv', () => {
  it('reads quoted fields, doubled quotes, CRLF and a BOM', () => {
    const rows = parseCsv('\uFEFFEmail,Name,Role\r\nann@x.com,"Ann, the ""boss""",admin\r\n\r\nbob@x.com,Bob,\n');
    expect(rows).toEqual([
      { email: 'ann@x.com', name: 'Ann, the "boss"', role: 'admin' },
      { email: 'bob@x.com', name: 'Bob', role: '' },
    ]);
  });

  it('knows the line each record starts on, across blank lines and line breaks inside quotes', () => {
    expect(csvRecords('a,b\n\n"x\ny",1\nz,2').map((r) => [r.line, r.fields])).toEqual([[1, ['a', 'b']], [3, ['x\ny', '1']], [5, ['z', '2']]]);
  });

  it('refuses a quote that never closes (it would swallow every later row), naming its line', () => {
    expect(() => csvRecords('email,name\na@x.com,Ann\nb@x.com,"Bob\nc@x.com,Cy\n')).toThrow(CsvSyntaxError);
    expect(() => csvRecords('email,name\na@x.com,Ann\nb@x.com,"Bob\nc@x.com,Cy\n')).toThrow(/line 3/);
  });

  it('writes CSV a spreadsheet cannot turn into a formula', () => {
    const out = toCsv([{ a: '=HYPERLINK("x")', b: 'x,y', c: { k: 1 } }], ['a', 'b', 'c']);
    expect(out).toBe('a,b,c\n"\'=HYPERLINK(""x"")","x,y","{""k"":1}"\n');
    expect(parseCsv(out)).toEqual([{ a: '\'=HYPERLINK("x")', b: 'x,y', c: '{"k":1}' }]);
    // Behind blanks, after a line break, and in the full-width forms some locales evaluate too.
    for (const cell of ['+1', '-1', '@SUM(A1)', '\t=1', '\r=1', '\n=1', '  =1+1', '\u3000=1', '\uFF1D1+1', '\uFF20SUM(A1)']) {
      expect(csvLine([cell]).replace(/^"/, ''), JSON.stringify(cell)).toMatch(/^'/);
    }
    for (const cell of ['ann@example.com', 'Ann', 'a=b', '']) expect(csvLine([cell])).toBe(cell);
  });
});
