import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import zeek from '../../src/detectors/zeek.js';
import { createRegistry, normalizeRecord } from '../../src/detectors/lib/registry.js';
import { fastEnough, sampleLines } from './helpers.js';
import { OTHER_FORMATS, alertOf, alertsOf, contextOf, holdsContract, othersExcept, reasonOf, sniff } from './net-helpers.js';

// Records written after the Zeek documentation: base/frameworks/notice (Notice::Info), intel (Intel::Info),
// weird (Weird::Info), and the ASCII writer's TSV header (#separator, #fields, #types, …).

const T = '\t';
const NOTICE_HEADER = [
  '#separator \\x09',
  '#set_separator\t,',
  '#empty_field\t(empty)',
  '#unset_field\t-',
  '#path\tnotice',
  '#open\t2024-11-30-10-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tfuid\tfile_mime_type\tfile_desc\tproto\tnote\tmsg\tsub\tsrc\tdst\tp\tn\tpeer_descr\tactions\temail_dest\tsuppress_for\tremote_location.country_code\tremote_location.region\tremote_location.city\tremote_location.latitude\tremote_location.longitude',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tenum\tenum\tstring\tstring\taddr\taddr\tport\tcount\tstring\tset[enum]\tset[string]\tinterval\tstring\tstring\tstring\tdouble\tdouble',
];
const SCAN = ['1732960800.123456', '-', '-', '-', '-', '-', '-', '-', '-', '-', 'Scan::Port_Scan', '198.51.100.23 scanned at least 15 unique ports of host 10.0.0.5 in 0m2s', 'local', '198.51.100.23', '10.0.0.5', '-', '-', 'worker-1', 'Notice::ACTION_LOG', '(empty)', '3600.000000', '-', '-', '-', '-', '-'].join(T);
const SSL = ['1732960801.500000', 'CHhAvVGS1DHFjwGM9', '10.0.0.7', '51234', '203.0.113.10', '443', 'FvqO9L1wHkXXh1Ck0a', '-', '-', 'tcp', 'SSL::Invalid_Server_Cert', 'SSL certificate validation failed with (unable to get local issuer certificate)', 'CN=evil.example,O=Evil', '10.0.0.7', '203.0.113.10', '443', '-', '-', 'Notice::ACTION_LOG,Notice::ACTION_EMAIL', 'soc@corp.example', '86400.000000', '-', '-', '-', '-', '-'].join(T);

test('shared JSON samples: notices become alerts with note, msg, 5-tuple and time', () => {
  const lines = sampleLines('zeek', '.jsonl');
  assert.equal(lines.length, 2);
  const [loss, cert] = lines.map((l) => alertOf(zeek, l.text));
  assert.equal(loss!.rule?.id, 'CaptureLoss::Too_Much_Loss');
  assert.equal(loss!.title, 'The capture loss script detected an estimated loss rate above 88.306%');
  assert.equal(loss!.severity_label, 'info');
  assert.equal(loss!.time, '2021-03-30T09:49:00.958Z');
  assert.equal(cert!.title, 'SSL certificate validation failed with (self signed certificate)');
  assert.deepEqual(cert!.rule, { id: 'SSL::Invalid_Server_Cert', name: 'SSL::Invalid_Server_Cert', category: 'SSL' });
  assert.deepEqual(cert!.src, { ip: '10.156.0.2', port: 48818 });
  assert.deepEqual(cert!.dst, { ip: '89.160.20.156', port: 443 });
  assert.equal(cert!.severity, 30);
  assert.equal(cert!.vendor_id, 'CmvrSS1wIiuOGYCbfi:SSL::Invalid_Server_Cert:1617097929.601155');
  for (const l of lines) assert.equal(sniff(zeek, l.text), 0.95);
});

test('a whole TSV notice.log (header + lines + #close) is one record of alerts', () => {
  const file = [...NOTICE_HEADER, SCAN, SSL, '#close\t2024-11-30-11-00-00', ''].join('\n');
  assert.equal(sniff(zeek, file), 0.95);
  const [scan, ssl] = alertsOf(zeek, file);
  assert.equal(scan!.title, '198.51.100.23 scanned at least 15 unique ports of host 10.0.0.5 in 0m2s');
  assert.equal(scan!.rule?.id, 'Scan::Port_Scan');
  assert.equal(scan!.severity, 50);
  assert.equal(scan!.src?.ip, '198.51.100.23');
  assert.equal(scan!.dst?.ip, '10.0.0.5');
  assert.equal(scan!.time, '2024-11-30T10:00:00.123Z');
  assert.equal(ssl!.src?.port, 51234);
  assert.equal(ssl!.vendor_id, 'CHhAvVGS1DHFjwGM9:SSL::Invalid_Server_Cert:1732960801.500000');
});

test('"lines prefixed with the fields": a #fields line followed by one data line, custom columns included', () => {
  const custom = `#fields\tts\tnote\tmsg\tid.orig_h\tid.resp_h\tcustom_tag\n1732960800\tHTTP::SQL_Injection_Attacker\tAn SQL injection attacker was discovered!\t203.0.113.99\t10.0.0.80\tblue`;
  const a = alertOf(zeek, custom);
  assert.equal(a.rule?.id, 'HTTP::SQL_Injection_Attacker');
  assert.equal(a.severity, 70);
  assert.equal(a.src?.ip, '203.0.113.99');
  assert.match(reasonOf(zeek, `#fields\tts\tnote\tmsg\n1732960800\tA::B`), /2 columns but #fields names 3/);
});

test('line by line (how fido normalize reads a file): headers are context, data lines use the default layout', () => {
  const registry = createRegistry([zeek]);
  const results = [...NOTICE_HEADER, SCAN, SSL, '#close\t2024-11-30-11-00-00'].map((line) => normalizeRecord(registry, line, 'auto', { receivedAt: '2024-12-01T00:00:00Z' }));
  for (const r of results) assert.ok(!('error' in r), JSON.stringify(r));
  assert.equal(results.filter((r) => 'context' in r).length, 9);
  const alerts = results.flatMap((r) => ('alerts' in r ? r.alerts : []));
  assert.deepEqual(alerts.map((a) => a.rule?.id), ['Scan::Port_Scan', 'SSL::Invalid_Server_Cert']);
  const [header] = contextOf(zeek, NOTICE_HEADER[6]!);
  assert.equal(header!.kind, 'zeek_log_header');
  assert.match(String((header!.data.directives as Record<string, string>).fields), /^ts uid id\.orig_h/);
});

test('btest baselines: masked timestamps fall back to the received time; Bro 2.x layout (dropped column)', () => {
  const masked = SCAN.replace('1732960800.123456', 'XXXXXXXXXX.XXXXXX').replace('3600.000000', '360XXXXXXXXXX.XXXXXX');
  assert.equal(alertOf(zeek, masked).time, '2024-12-01T00:00:00.000Z');
  const file = ['### BTest baseline data generated by btest-diff. Do not edit.', ...NOTICE_HEADER, masked, '#close XXXX-XX-XX-XX-XX-XX'].join('\n');
  assert.equal(alertsOf(zeek, file).length, 1);
  const bro = ['1400000000.000000', 'C1', '10.0.0.1', '22', '10.0.0.2', '22', '-', '-', '-', 'tcp', 'SSH::Password_Guessing', '10.0.0.1 appears to be guessing SSH passwords (seen in 30 connections).', 'Sampled servers:  10.0.0.2', '10.0.0.1', '-', '-', '-', 'bro', 'Notice::ACTION_LOG', '3600.000000', 'F', '-', '-', '-', '-', '-'].join(T);
  const a = alertOf(zeek, bro);
  assert.equal(a.severity, 60);
  assert.equal(a.time, '2014-05-13T16:53:20.000Z');
  const legacy = ['1300000000.0', 'C2', '10.0.0.1', '80', '10.0.0.2', '80', 'tcp', 'HTTP::MD5', 'hash seen', '-', '10.0.0.1', '10.0.0.2', '80', '-', 'bro', 'Notice::ACTION_LOG', '3600', 'F'].join(T);
  assert.equal(alertOf(zeek, legacy).rule?.id, 'HTTP::MD5');
});

test('ACTION_DROP → blocked; sub as URL; nested "id" JSON; ISO ts; _path notice', () => {
  const a = alertOf(zeek, '{"_path":"notice","ts":"2024-11-30T10:00:00.250Z","id":{"orig_h":"10.0.0.9","orig_p":40000,"resp_h":"203.0.113.80","resp_p":80},"note":"HTTP::Malicious_Download","msg":"Known malware downloaded","sub":"http://dl.evil.example/x.exe","actions":["Notice::ACTION_LOG","Notice::ACTION_DROP"]}');
  assert.equal(a.action, 'blocked');
  assert.equal(a.url, 'http://dl.evil.example/x.exe');
  assert.deepEqual(a.src, { ip: '10.0.0.9', port: 40000 });
  assert.equal(a.time, '2024-11-30T10:00:00.250Z');
});

test('intel.log: JSON and TSV hits become alerts with the indicator in its field', () => {
  const dom = alertOf(zeek, '{"ts":1732960800.5,"uid":"CAbc","id.orig_h":"10.0.0.7","id.orig_p":53000,"id.resp_h":"10.0.0.53","id.resp_p":53,"seen.indicator":"evil.example.com","seen.indicator_type":"Intel::DOMAIN","seen.where":"DNS::IN_REQUEST","seen.node":"worker-1","matched":["Intel::DOMAIN"],"sources":["abuse.ch feed"]}');
  assert.equal(dom.title, 'Intel hit: evil.example.com (DOMAIN) seen in DNS::IN_REQUEST');
  assert.equal(dom.domain, 'evil.example.com');
  assert.deepEqual(dom.rule, { id: 'intel:abuse.ch feed', name: 'abuse.ch feed', category: 'Intel::DOMAIN' });
  assert.equal(dom.severity, 70);
  const tsv = ['1732960800.500000', 'CXyz', '10.0.0.7', '49152', '198.51.100.66', '443', '198.51.100.66', 'Intel::ADDR', 'Conn::IN_RESP', 'worker-2', 'Intel::ADDR', 'threat-feed-a,threat-feed-b', '-', '-', '-'].join(T);
  assert.ok(sniff(zeek, tsv) >= 0.85);
  const addr = alertOf(zeek, tsv);
  assert.ok(addr.observables.some((o) => o.type === 'ip' && o.value === '198.51.100.66' && o.role === 'intel'));
  assert.equal(addr.rule?.name, 'threat-feed-a, threat-feed-b');
  const hash = alertOf(zeek, '{"ts":1732960800,"fuid":"F1","seen.indicator":"44D88612FEA8A8F36DE82E1278ABB02F","seen.indicator_type":"Intel::FILE_HASH","seen.where":"Files::IN_HASH","sources":["x"]}');
  assert.equal(hash.file?.md5, '44d88612fea8a8f36de82e1278abb02f');
  const url = alertOf(zeek, '{"ts":1732960800,"seen":{"indicator":"evil.example.net/drop.php","indicator_type":"Intel::URL","where":"HTTP::IN_URL"},"sources":["y"]}');
  assert.equal(url.url, 'http://evil.example.net/drop.php');
});

test('weird.log → context "weird"; other Zeek JSON logs with _path → context of that kind', () => {
  const [w] = contextOf(zeek, ['1732960800.000000', 'C5', '10.0.0.1', '1234', '10.0.0.2', '80', 'bad_HTTP_request', '-', 'F', 'zeek', '-'].join(T));
  assert.equal(w!.kind, 'weird');
  assert.equal(w!.data.name, 'bad_HTTP_request');
  const [wj] = contextOf(zeek, '{"ts":1732960800.1,"uid":"C6","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"name":"truncated_header","notice":false,"peer":"zeek"}');
  assert.equal(wj!.kind, 'weird');
  const [conn] = contextOf(zeek, '{"_path":"conn","ts":1732960800.1,"uid":"C7","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp"}');
  assert.equal(conn!.kind, 'flow');
  const [weirdFile] = contextOf(zeek, '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tname\taddl\tnotice\tpeer\n1732960800\tC8\t10.0.0.1\t1\t10.0.0.2\t2\tdns_unmatched_msg\t-\tF\tzeek');
  assert.equal(weirdFile!.kind, 'weird');
});

test('sniff: Zeek high; Suricata EVE, Snort JSON and other formats low', () => {
  assert.equal(sniff(zeek, OTHER_FORMATS.zeek_json!), 0.95);
  assert.ok(sniff(zeek, OTHER_FORMATS.zeek_tsv!) >= 0.85);
  for (const [name, text] of othersExcept('zeek_json', 'zeek_tsv')) assert.ok(sniff(zeek, text) < 0.5, `${name} sniffed ${sniff(zeek, text)}`);
  assert.equal(sniff(zeek, 'a\tb\tc\td\te\tf\tg\th\ti\tj'), 0);
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(zeek, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'].join(T)), /does not match the default/);
  assert.match(reasonOf(zeek, '{"foo":1}'), /neither a notice/);
  assert.match(reasonOf(zeek, '{"note":"A::B","msg":"x","ts":"yesterday"}'), /is not a time/);
  assert.match(reasonOf(zeek, '{"note":"","msg":""}'), /neither note nor msg/);
  assert.match(reasonOf(zeek, '[1,2]'), /must be an object/);
  assert.match(reasonOf(zeek, 'just a string'), /not a Zeek log/);
  const big = 'A'.repeat(1 << 20);
  fastEnough(2000, () => holdsContract(zeek, SCAN.replace('local', big)));
  fastEnough(2000, () => holdsContract(zeek, `#fields\t${'f\t'.repeat(50000)}\n${'v\t'.repeat(50000)}`));
  fastEnough(3000, () => holdsContract(zeek, `${NOTICE_HEADER.join('\n')}\n${`${SCAN}\n`.repeat(5000)}`));
  fastEnough(2000, () => holdsContract(zeek, `${'\\x'.repeat(200000)}\t${SCAN}`));
  const evil = alertOf(zeek, SCAN.replace('198.51.100.23 scanned', '\\x1b[31mred\\x00\\x0d\\x0aFAKE scanned'));
  assert.equal(evil.title, '[31mred\nFAKE scanned at least 15 unique ports of host 10.0.0.5 in 0m2s');
});

test('property: generated notice lines map back; junk and mutations hold the contract', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
  const ident = fc.stringMatching(/^[A-Z][A-Za-z0-9_]{0,15}$/);
  const msg = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .,:()-]{0,60}$/).map((s) => s.trim());
  fc.assert(
    fc.property(ipv4, ipv4, fc.integer({ min: 1, max: 65535 }), ident, ident, msg, fc.integer({ min: 1_000_000_000, max: 1_900_000_000 }), (src, dst, port, mod, name, m, ts) => {
      const line = [`${ts}.000000`, 'Cuid', src, '1234', dst, String(port), '-', '-', '-', 'tcp', `${mod}::${name}`, m, '-', src, dst, String(port), '-', '-', 'Notice::ACTION_LOG', '(empty)', '3600.000000', '-', '-', '-', '-', '-'].join(T);
      const a = alertOf(zeek, line);
      assert.equal(a.rule?.id, `${mod}::${name}`);
      assert.equal(a.title, m);
      assert.equal(a.src?.ip, src);
      assert.equal(a.dst?.port, port);
      assert.equal(a.time, new Date(ts * 1000).toISOString());
    }),
    { numRuns: 150 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 0, max: SSL.length }), (junk, at) => {
      holdsContract(zeek, junk);
      holdsContract(zeek, SSL.slice(0, at) + junk + SSL.slice(at));
    }),
    { numRuns: 300 },
  );
});
