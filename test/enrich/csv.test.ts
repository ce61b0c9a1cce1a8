import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvError, parseCsv, parseCsvTable } from '../../src/enrich/csv.js';

test('csv: quoted fields with commas, doubled quotes and newlines; CRLF; BOM; blank lines', () => {
  const text = '\ufeffhost,tags\r\n"ws-1, the one","a ""quoted"" tag"\r\n\r\n"multi\nline",x\nlast,\n';
  const recs = parseCsv(text, { file: 'inv.csv' });
  assert.deepEqual(
    recs.map((r) => [r.line, r.fields]),
    [
      [1, ['host', 'tags']],
      [2, ['ws-1, the one', 'a "quoted" tag']],
      [4, ['multi\nline', 'x']],
      [6, ['last', '']],
    ],
  );
});

test('csv: records after a multi-line field keep their true line numbers in errors', () => {
  const text = 'host,ip\n"a\nb",1\nc,2,3\n';
  assert.throws(() => parseCsvTable(text, { file: 'inv.csv' }), (e: unknown) => {
    assert.ok(e instanceof CsvError);
    assert.equal(e.message, 'inv.csv:4: expected 2 fields (host,ip), got 3');
    return true;
  });
});

test('csv: unterminated quote names the line where it opened; junk after a closing quote is an error', () => {
  assert.throws(() => parseCsv('a,b\n"open,c\nd\n', { file: 'f.csv' }), /^CsvError: f\.csv:2: unterminated quoted field/);
  assert.throws(() => parseCsv('a,b\n"x"y,c\n', { file: 'f.csv' }), /f\.csv:2: unexpected character "y" after a closing quote/);
});

test('csv table: required and duplicate columns; comments; trimmed values', () => {
  assert.throws(() => parseCsvTable('ip,mac\n1,2\n', { file: 'x.csv', required: ['host'] }), /x\.csv:1: header must include "host"/);
  assert.throws(() => parseCsvTable('host,Host\n1,2\n', { file: 'x.csv' }), /x\.csv:1: duplicate column "host"/);
  const t = parseCsvTable('# export of 2026-11-27\nHost , IP\n ws-1 , 10.0.0.1 \n# gone\n', { file: 'x.csv', comments: true });
  assert.deepEqual(t.header, ['host', 'ip']);
  assert.deepEqual(t.rows, [{ line: 3, values: { host: 'ws-1', ip: '10.0.0.1' } }]);
});
