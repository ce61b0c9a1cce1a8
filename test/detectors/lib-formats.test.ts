import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCef, parseCefExtension, cefSeverity, findCefStart } from '../../src/detectors/lib/cef.js';
import { parseLeef, decodeDelimiter } from '../../src/detectors/lib/leef.js';
import { parseKv } from '../../src/detectors/lib/kv.js';
import { getPath, parsePath, hasPath, JsonPathError } from '../../src/detectors/lib/jsonpath.js';
import { ParseError } from '../../src/detectors/detector.js';
import { finishes } from './helpers.js';

// ---- CEF ----

test('CEF header: \\| and \\\\ escapes, fields trimmed, extension after the seventh pipe', () => {
  const ev = parseCef('CEF:0|Sec\\|Corp|Fire\\\\Wall|1.0|100|Detected a \\| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1');
  assert.equal(ev.version, 0);
  assert.equal(ev.vendor, 'Sec|Corp');
  assert.equal(ev.product, 'Fire\\Wall');
  assert.equal(ev.name, 'Detected a | in message');
  assert.equal(ev.severity, '10');
  assert.equal(ev.extension.act, 'blocked a |'); // pipes need no escape in the extension
  assert.equal(ev.extension.dst, '1.1.1.1');
});

test('CEF extension: \\= \\\\ \\n \\r escapes, values with spaces, = inside URLs', () => {
  const x = parseCefExtension('fname=a\\=b.txt filePath=C:\\\\Windows\\\\x.exe msg=line one\\nline two\\r end request=https://e.example/?a=b&c=d cs3=DF MF cs3Label=Fragmentation Bits');
  assert.equal(x.fname, 'a=b.txt');
  assert.equal(x.filePath, 'C:\\Windows\\x.exe');
  assert.equal(x.msg, 'line one\nline two\r end');
  assert.equal(x.request, 'https://e.example/?a=b&c=d');
  assert.equal(x.cs3, 'DF MF');
  assert.equal(x.cs3Label, 'Fragmentation Bits');
});

test('CEF: custom labels, full key names, syslog envelope, first key wins', () => {
  const ev = parseCef('<134>Feb 13 12:00:00 dsa01 CEF:0|Trend Micro|Deep Security Agent|1.2.3|20|Log|0|cn1=1 cn1Label=Host ID sourceAddress=10.0.0.1 deviceCustomString2=0x00 ACK deviceCustomString2Label=TCP Flags src=10.9.9.9', { reference: new Date('2026-01-02T00:00:00Z') });
  assert.equal(ev.labels['Host ID'], '1');
  assert.equal(ev.labels['TCP Flags'], '0x00 ACK');
  assert.equal(ev.extension.src, '10.0.0.1');
  assert.equal(ev.prefix, '<134>Feb 13 12:00:00 dsa01');
  assert.equal(ev.envelope?.hostname, 'dsa01');
  assert.equal(ev.envelope?.timestamp, '2025-02-13T12:00:00.000Z');
  const proto = parseCefExtension('__proto__=x constructor=y');
  assert.equal(Object.getPrototypeOf(proto), null);
  assert.equal(proto['__proto__'], 'x');
});

test('CEF: truncated or missing header is a ParseError; a header without extension is fine', () => {
  assert.throws(() => parseCef('CEF:0|Vendor|Product|1.0|100|Name'), (e: unknown) => e instanceof ParseError && /5 of 7 fields/.test(e.message));
  assert.throws(() => parseCef('not cef at all'), /not a CEF record/);
  const ev = parseCef('CEF:0|V|P|1|2|N|7');
  assert.equal(ev.severity, '7');
  assert.deepEqual({ ...ev.extension }, {});
  const enveloped = '<13>1 2024-01-01T00:00:00Z h a - - - CEF:1|V|P|1|2|N|7|';
  assert.equal(findCefStart(enveloped), enveloped.indexOf('CEF:'));
  assert.equal(findCefStart('xCEF:0|'), -1);
});

test('CEF severity: 0-10 and the spec words', () => {
  assert.equal(cefSeverity('0'), 0);
  assert.equal(cefSeverity('3'), 30);
  assert.equal(cefSeverity('10'), 100);
  assert.equal(cefSeverity('Low'), 25);
  assert.equal(cefSeverity('medium'), 50);
  assert.equal(cefSeverity('High'), 75);
  assert.equal(cefSeverity('Very-High'), 95);
  assert.equal(cefSeverity('Unknown'), undefined);
  assert.equal(cefSeverity('11'), undefined);
  assert.equal(cefSeverity('x'), undefined);
});

test('CEF parsing is linear on pathological input', () => {
  for (const ext of [' '.repeat(1_000_000), 'a'.repeat(1_000_000), 'a= '.repeat(300_000), '\\'.repeat(1_000_000), `k=${'x='.repeat(400_000)}`]) {
    finishes(() => parseCef(`CEF:0|V|P|1|2|N|5|${ext}`));
  }
  finishes(() => { try { parseCef(`CEF:0${'|'.repeat(6)}${'\\|'.repeat(500_000)}`); } catch { /* fine */ } });
});

// ---- LEEF ----

test('LEEF 1.0: tab-delimited attributes', () => {
  const ev = parseLeef('LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tmsg=there are spaces in this message');
  assert.equal(ev.vendor, 'Microsoft');
  assert.equal(ev.eventId, '15345');
  assert.equal(ev.delimiter, '\t');
  assert.equal(ev.attributes.src, '192.0.2.0');
  assert.equal(ev.attributes.msg, 'there are spaces in this message');
});

test('LEEF 2.0: custom delimiter as a character, as x5E / 0x5E, as x09, or absent', () => {
  const caret = parseLeef('LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21');
  assert.equal(caret.delimiter, '^');
  assert.equal(caret.attributes.dstPort, '21');
  assert.equal(parseLeef('LEEF:2.0|V|P|1|E|x5E|a=1^b=2').attributes.b, '2');
  assert.equal(parseLeef('LEEF:2.0|V|P|1|E|0x5E|a=1^b=2').attributes.b, '2');
  const tab = parseLeef('LEEF:2.0|V|P|1|E|x09|a=1\tb=two words');
  assert.equal(tab.delimiter, '\t');
  assert.equal(tab.attributes.b, 'two words');
  const absent = parseLeef('LEEF:2.0|V|P|1|E|a=1\tb=2');
  assert.equal(absent.attributes.a, '1');
  assert.equal(decodeDelimiter('='), undefined);
  assert.equal(decodeDelimiter('x3D'), undefined);
});

test('LEEF: syslog envelope, space-separated 1.0, delimiter inside a value, truncated header', () => {
  const ev = parseLeef('<13>Jan 18 11:07:53 host1 LEEF:1.0|Lastline|Enterprise|7.3|malware-callback|src=10.0.0.1 dst=203.0.113.9 msg=callback seen', { reference: new Date('2026-02-01T00:00:00Z') });
  assert.equal(ev.envelope?.hostname, 'host1');
  assert.equal(ev.envelope?.timestamp, '2026-01-18T11:07:53.000Z');
  assert.equal(ev.attributes.dst, '203.0.113.9');
  assert.equal(ev.attributes.msg, 'callback seen');
  assert.equal(parseLeef('LEEF:2.0|V|P|1|E|^|msg=a^b^c=1').attributes.msg, 'a^b');
  assert.throws(() => parseLeef('LEEF:1.0|V|P'), /2 of 5 fields/);
});

// ---- key=value ----

test('kv: FortiGate-style quoted values, escapes, PRI glued to the first key', () => {
  const { fields, prefix } = parseKv('<189>date=2019-05-15 time=18:03:36 devname="FW 01" logid="0419016384" msg="User \\"bob\\" blocked" srcip=10.1.100.11 url=/a?b=c empty="" single=\'x y\'');
  assert.equal(prefix, '<189>');
  assert.equal(fields.date, '2019-05-15');
  assert.equal(fields.devname, 'FW 01');
  assert.equal(fields.msg, 'User "bob" blocked');
  assert.equal(fields.srcip, '10.1.100.11');
  assert.equal(fields.url, '/a?b=c');
  assert.equal(fields.empty, '');
  assert.equal(fields.single, 'x y');
});

test('kv: syslog header as prefix, stray words skipped, unterminated quote kept, __proto__ is data', () => {
  const r = parseKv('Jan  1 00:00:00 fw01 device="SFW" noise log_type="Firewall" __proto__=polluted msg="truncated');
  assert.equal(r.prefix, 'Jan  1 00:00:00 fw01');
  assert.equal(r.fields.device, 'SFW');
  assert.equal(r.fields.log_type, 'Firewall');
  assert.equal(r.fields.msg, 'truncated');
  assert.equal(r.fields['__proto__'], 'polluted');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(parseKv('a=1 a=2').fields.a, '1');
  assert.equal(parseKv('a=1 a=2', { lastWins: true }).fields.a, '2');
  finishes(() => parseKv('a="'.repeat(300_000)));
  finishes(() => parseKv('=== '.repeat(300_000)));
});

// ---- jsonpath ----

test('jsonpath: dotted paths, indexes, quoted keys', () => {
  const v = { a: { b: [{ c: 1 }, { c: 2 }] }, 'x.y': { z: true } };
  assert.equal(getPath(v, 'a.b[0].c'), 1);
  assert.equal(getPath(v, 'a.b[-1].c'), 2);
  assert.equal(getPath(v, '["x.y"].z'), true);
  assert.equal(getPath(v, 'a.b[5].c'), undefined);
  assert.equal(getPath(v, 'a.b.c'), undefined);
  assert.equal(hasPath(v, 'a.b'), true);
  assert.deepEqual(parsePath('a[0]["b c"].d'), ['a', 0, 'b c', 'd']);
});

test('jsonpath: never walks the prototype', () => {
  assert.throws(() => parsePath('__proto__.polluted'), JsonPathError);
  assert.throws(() => parsePath('a.constructor.prototype'), /not allowed/);
  assert.throws(() => parsePath('a["__proto__"]'), /not allowed/);
  assert.throws(() => getPath({}, 'constructor'), JsonPathError);
  assert.equal(getPath({}, 'toString'), undefined); // inherited, not own
  assert.equal(getPath([], 'length'), undefined);
  assert.equal(getPath('abc', 'length'), undefined);
  const hostile = JSON.parse('{"__proto__":{"x":1},"a":{"hasOwnProperty":"no"}}') as unknown;
  assert.equal(getPath(hostile, 'a.hasOwnProperty'), 'no');
  for (const bad of ['', 'a.', '.a', 'a..b', 'a[', 'a[x]', 'a[0]x']) assert.throws(() => parsePath(bad), JsonPathError, bad);
});
