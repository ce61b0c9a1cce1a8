import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import snort from '../../src/detectors/snort.js';
import { finishes, fixtureLine, fixtureText } from './helpers.js';
import { OTHER_FORMATS, alertOf, alertsOf, assertOthersSniffLow, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/snort/) written after the Snort 2.9 manual (output modules alert_fast, alert_full, alert_syslog, alert_csv)
// and the Snort 3 reference (alert_fast, alert_csv, alert_json default fields).

const FAST = fixtureLine('snort', 'fast.log', 1);

test('Snort 2 fast: rule, message, classification, priority, 5-tuple, year inferred from reception', () => {
  assert.equal(sniff(snort, FAST), 0.95);
  const a = alertOf(snort, FAST);
  assert.equal(a.title, 'ET DNS DNS Query to a .tk domain - Likely Hostile');
  assert.deepEqual(a.rule, { id: '2012811', name: 'ET DNS DNS Query to a .tk domain - Likely Hostile', category: 'Potentially Bad Traffic' });
  assert.equal(a.severity, 55);
  assert.deepEqual(a.vendor_severity, { value: '2', scale: 'snort priority 1 (high) - 4 (low)' });
  assert.equal(a.action, 'detected');
  assert.equal(a.time, '2024-05-30T19:09:10.917Z');
  assert.deepEqual(a.src, { ip: '192.168.88.10', port: 1029 });
  assert.deepEqual(a.dst, { ip: '198.51.100.3', port: 53 });
  // December's alert received on January 2nd belongs to the previous year; the source's zone applies.
  assert.equal(alertOf(snort, FAST.replace('05/30', '12/31'), { receivedAt: new Date('2025-01-02T00:00:00Z') }).time, '2024-12-31T19:09:10.917Z');
  assert.equal(alertOf(snort, FAST, { timeZone: 'Europe/Berlin' }).time, '2024-05-30T17:09:10.917Z');
});

test('fast variants: no classification, ICMP without ports, priority 1 and 4, -y year, inline [Drop] and [wDrop]', () => {
  const icmp = alertOf(snort, fixtureLine('snort', 'fast.log', 2));
  assert.equal(icmp.rule?.category, undefined);
  assert.equal(icmp.severity, 40, 'priority 0 is "not set"');
  assert.deepEqual(icmp.src, { ip: '172.25.212.245' });
  assert.equal(alertOf(snort, FAST.replace('[Priority: 2]', '[Priority: 1]')).severity, 80);
  assert.equal(alertOf(snort, FAST.replace('[Priority: 2]', '[Priority: 4]')).severity, 15);
  assert.equal(alertOf(snort, FAST.replace('05/30-', '05/30/21-')).time, '2021-05-30T19:09:10.917Z');
  assert.equal(alertOf(snort, FAST.replace('  [**]', ' [Drop] [**]')).action, 'blocked');
  assert.equal(alertOf(snort, FAST.replace('  [**]', ' [wDrop] [**]')).action, 'detected');
});

test('Snort 3 fast: quoted message, AppID bracket, IPv6 addresses in brackets', () => {
  const a = alertOf(snort, fixtureLine('snort', 'fast.log', 3));
  assert.equal(a.title, 'SERVER-OTHER Apache Log4j logging remote code execution attempt');
  assert.equal(a.rule?.id, '58722');
  assert.deepEqual(a.src, { ip: '2001:db8::10', port: 44810 });
  assert.deepEqual(a.dst, { ip: '2001:db8::15', port: 8080 });
  const bare6 = alertOf(snort, '08/14-18:10:35.591510 [**] [1:1:1] "x" [**] [Priority: 3] {TCP} 2001:db8::10:44810 -> 2001:db8::15:8080');
  assert.deepEqual(bare6.src, { ip: '2001:db8::10', port: 44810 });
});

test('syslog output (RFC 3164 header with snort[pid]: tag); the header time is used', () => {
  const a = alertOf(snort, fixtureLine('snort', 'syslog.log', 1));
  assert.equal(a.title, 'UDP Connection');
  assert.equal(a.time, '2024-09-05T16:05:26.000Z');
  assert.equal(a.severity, 30);
  assert.deepEqual(a.dst, { ip: '10.25.10.22', port: 32414 });
  const noPri = alertOf(snort, fixtureLine('snort', 'syslog.log', 2));
  assert.equal(noPri.rule?.id, '1000016');
  const pfsense = alertOf(snort, fixtureLine('snort', 'syslog.log', 3), { timeZone: '+02:00' });
  assert.equal(pfsense.time, '2024-01-21T00:23:42.000Z');
});

test('after a header that is not syslog, the Snort timestamp that only bracketed groups follow is the time', () => {
  const line = (prefix: string) => `${prefix} [**] [1:2:3] "x" [**] [Priority: 3] {TCP} 10.0.0.1:1 -> 10.0.0.2:2`;
  const opts = { receivedAt: new Date('2026-06-01T00:00:00Z') };
  assert.equal(alertOf(snort, line('sensor-7 snort: 05/30-19:09:10.917356'), opts).time, '2026-05-30T19:09:10.917Z');
  // An earlier timestamp followed by text is not it; the one before the groups is.
  assert.equal(alertOf(snort, line('relay 05/29-01:00:00 x 05/30-19:09:10.917356 [1:2:3]'), opts).time, '2026-05-30T19:09:10.917Z');
});

test('alert_full: a whole block is one alert with its time and flow; a lone header line is timed at reception', () => {
  const block = fixtureText('snort', 'alert_full_udp.whole.txt');
  const a = alertOf(snort, block);
  assert.equal(a.title, 'UDP Connection');
  assert.equal(a.time, '2024-09-04T21:53:15.299Z');
  assert.equal(a.severity, 80);
  assert.deepEqual(a.src, { ip: '10.100.10.1', port: 53 });
  const two = alertsOf(snort, `${block}\n${fixtureText('snort', 'alert_full_icmp.whole.txt')}`);
  assert.equal(two.length, 2);
  assert.deepEqual(two[1]!.dst, { ip: '172.217.1.142' });
  const lone = alertOf(snort, '[**] [1:1000006:0] TCP connection [**]');
  assert.equal(lone.time, '2024-12-01T00:00:00.000Z');
  assert.match(reasonOf(snort, '09/04-21:42:42.860730 10.100.20.59:57263 -> 10.100.10.190:22'), /alert_full continuation line/);
  assert.match(reasonOf(snort, 'TCP TTL:127 TOS:0x0 ID:53730 IpLen:20 DgmLen:108 DF'), /continuation line/);
  assert.equal(sniff(snort, '[Priority: 0] '), 0.55);
});

test('alert_csv: Snort 2 default order (27 fields) with MACs, pfSense (15) with disposition, Snort 3 default (10)', () => {
  const s2 = alertOf(snort, fixtureLine('snort', 'csv.log', 1));
  assert.equal(s2.title, 'TCP connection, with comma');
  assert.equal(s2.rule?.id, '1000006');
  assert.deepEqual(s2.src, { ip: '10.100.20.59', port: 57263 });
  assert.ok(s2.observables.some((o) => o.type === 'mac' && o.value === '00:25:90:3a:05:13' && o.role === 'src'));
  const pf = alertOf(snort, fixtureLine('snort', 'csv.log', 2));
  assert.equal(pf.time, '2021-09-03T12:37:16.428Z');
  assert.equal(pf.rule?.category, 'Misc Attack');
  assert.equal(pf.severity, 55);
  assert.equal(pf.action, 'blocked');
  const pfAllow = alertOf(snort, fixtureLine('snort', 'csv.log', 3));
  assert.equal(pfAllow.action, 'detected');
  assert.equal(pfAllow.src?.port, undefined);
  const s3 = alertOf(snort, fixtureLine('snort', 'csv.log', 4));
  assert.equal(s3.rule?.id, '1000001');
  assert.deepEqual(s3.src, { ip: '10.1.2.3', port: 51000 });
  assert.equal(s3.action, 'blocked');
  assert.match(reasonOf(snort, '09/04-21:45:37.536335 ,x,y,z,"m",TCP,1,2,3,4'), /sig_generator\/sig_id/);
  assert.match(reasonOf(snort, '09/04-21:45:37.536335 ,1,2'), /fields/);
});

test('Snort 3 alert_json: epoch seconds win, rule "g:s:r", class, src_ap/dst_ap, would_block', () => {
  const j = fixtureLine('snort', 'alert_json.jsonl', 1);
  assert.equal(sniff(snort, j), 0.9);
  const a = alertOf(snort, j);
  assert.equal(a.time, '2019-11-21T16:01:50.061Z');
  assert.equal(a.rule?.id, '50626');
  assert.equal(a.rule?.category, 'Attempted Administrator Privilege Gain');
  assert.equal(a.severity, 80);
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.dst, { ip: '10.11.21.11', port: 445 });
  assert.ok(a.observables.some((o) => o.type === 'mac' && o.role === 'dst'));
  const minimal = alertOf(snort, fixtureLine('snort', 'alert_json.jsonl', 2));
  assert.equal(minimal.title, 'Snort rule 1:10000001:0');
  assert.equal(minimal.time, '2023-12-16T20:33:33.603Z');
  assert.equal(minimal.action, 'detected');
  assert.match(reasonOf(snort, '{"src_ap":"1.2.3.4:1","msg":"x"}'), /neither rule/);
  assert.match(reasonOf(snort, '[1,2,3]'), /must be a JSON object/);
});

test('sniff: Snort records high; Suricata EVE, CEF, SFIMS-less text and other formats low', () => {
  assert.ok(sniff(snort, OTHER_FORMATS.snort!) >= 0.9);
  assert.ok(sniff(snort, OTHER_FORMATS.snort_csv!) >= 0.9);
  assertOthersSniffLow(snort, 'snort', 'snort_csv');
});

test('malformed and hostile records: reasons, no crash, no hang', () => {
  assert.match(reasonOf(snort, 'no rule here'), /no \[gid:sid:rev\]/);
  assert.match(reasonOf(snort, '13/45-19:09:10.917356  [**] [1:1:1] x [**] {TCP} 1.2.3.4:1 -> 5.6.7.8:2'), /not a valid date/);
  assert.match(reasonOf(snort, '02/30-19:09:10.917356  [**] [1:1:1] x [**] {TCP} 1.2.3.4:1 -> 5.6.7.8:2'), /not a valid date/);
  const big = 'A'.repeat(1 << 20);
  finishes(() => holdsContract(snort, `05/30-19:09:10.917356  [**] [1:1:1] ${big} [**] [Priority: 1] {TCP} 1.2.3.4:1 -> 5.6.7.8:2`));
  finishes(() => holdsContract(snort, `05/30-19:09:10.917356  [**] [1:1:1] x [**] ${'[Classification: '.repeat(50000)}`));
  finishes(() => holdsContract(snort, `05/30-19:09:10.917356 ,1,1,1,"${'"'.repeat(100001)}`));
  finishes(() => holdsContract(snort, `${'[**] [1:1:1] x [**]\n\n'.repeat(5000)}`));
  finishes(() => holdsContract(snort, `{TCP} ${'1'.repeat(100000)} -> ${'2'.repeat(100000)} [1:2:3]`));
  const evil = alertOf(snort, '05/30-19:09:10.917356  [**] [1:1:1] "\u001b[31mRED\u0000 $(reboot)" [**] [Priority: 1] {TCP} 1.2.3.4:1 -> 5.6.7.8:2');
  assert.equal(evil.title, '[31mRED $(reboot)');
  const badIp = alertOf(snort, '05/30-19:09:10.917356  [**] [1:1:1] x [**] {TCP} 999.1.1.1:1 -> 5.6.7.8:99999');
  assert.equal(badIp.src, undefined);
  assert.deepEqual(badIp.dst, { ip: '5.6.7.8' });
});

test('property: generated fast lines map back; junk and mutations hold the contract', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
  const msg = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 .:_-]{0,60}$/).map((s) => s.trim());
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 99999999 }), fc.nat(99), msg, ipv4, ipv4,
      fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 4 }),
      (gid, sid, rev, m, src, dst, sp, dp, prio) => {
        const a = alertOf(snort, `11/02-08:15:00.000001  [**] [${gid}:${sid}:${rev}] ${m} [**] [Classification: Misc] [Priority: ${prio}] {TCP} ${src}:${sp} -> ${dst}:${dp}`);
        assert.equal(a.rule?.id, gid === 1 ? String(sid) : `${gid}:${sid}`); // never the revision
        assert.equal(a.title, m);
        assert.deepEqual(a.src, { ip: src, port: sp });
        assert.deepEqual(a.dst, { ip: dst, port: dp });
        assert.equal(a.time, '2024-11-02T08:15:00.000Z');
      }),
    { numRuns: 150 },
  );
  junkHoldsContract(snort, FAST);
});

test('event_type names the output plugin that wrote the record', () => {
  assert.equal(alertOf(snort, FAST).event_type, 'alert_fast');
  assert.equal(alertOf(snort, fixtureLine('snort', 'syslog.log', 1)).event_type, 'alert_syslog');
  assert.equal(alertOf(snort, fixtureLine('snort', 'csv.log', 1)).event_type, 'alert_csv');
  assert.equal(alertOf(snort, fixtureLine('snort', 'alert_json.jsonl', 1)).event_type, 'alert_json');
  assert.equal(alertsOf(snort, fixtureText('snort', 'alert_full_udp.whole.txt'))[0]!.event_type, 'alert_full');
});

test('Elastic pipeline records: rule.id is the sid, gid:sid only for generators other than 1; placeholders are not facts', () => {
  const preproc = alertOf(snort, fixtureLine('snort', 'elastic_json.jsonl', 2)); // rule "119:217:1"
  assert.deepEqual(preproc.rule, { id: '119:217', name: '(http_inspect) gzip decompression failed' });
  assert.deepEqual(preproc.src, { ip: '89.160.20.114', port: 80 });
  assert.equal(alertOf(snort, fixtureLine('snort', 'elastic_json.jsonl', 1)).rule?.id, '10000001');
  assert.match(alertOf(snort, fixtureLine('snort', 'elastic_json.jsonl', 1)).vendor_id ?? '', /\|1:10000001:0\|/); // the revision stays in the dedup key
  const dhcp = alertOf(snort, fixtureLine('snort', 'elastic_fast.log', 1)); // {UDP} 0.0.0.0:68 -> 255.255.255.255:67
  assert.equal(dhcp.rule?.id, '527');
  assert.deepEqual(dhcp.src, { port: 68 }); // 0.0.0.0 names no machine
  assert.deepEqual(dhcp.dst, { ip: '255.255.255.255', port: 67 });
});

test('the syslog header host is the device (the sensor that reported it): never host, never an indicator', () => {
  const named = (line: number) => alertOf(snort, fixtureLine('snort', 'syslog.log', line));
  for (const [line, sensor] of [[1, 'sensor01'], [2, 'dev'], [3, 'pfsense']] as const) {
    const a = named(line);
    assert.deepEqual(a.device, { name: sensor }, `syslog.log:${line}`);
    assert.equal(a.host, undefined);
    assert.ok(!a.observables.some((o) => o.role === 'device' || o.value === sensor), `syslog.log:${line}: the device is not an indicator`);
  }
  // A relay that sends an address as the header host: the address goes to device.ip.
  assert.deepEqual(alertOf(snort, fixtureLine('snort', 'syslog.log', 1).replace('sensor01', '192.0.2.7')).device, { ip: '192.0.2.7' });
  // A header without the syslog time still names its host before Snort's tag.
  assert.deepEqual(alertOf(snort, `sensor-7 snort: 05/30-19:09:10.917356 [**] [1:2:3] "x" [**] [Priority: 3] {TCP} 10.0.0.1:1 -> 10.0.0.2:2`).device, { name: 'sensor-7' });
  // No header, no sensor: fast, full, CSV and JSON output name none.
  assert.equal(alertOf(snort, FAST).device, undefined);
  assert.equal(alertOf(snort, fixtureLine('snort', 'csv.log', 1)).device, undefined);
  assert.equal(alertOf(snort, fixtureLine('snort', 'alert_json.jsonl', 1)).device, undefined);
  assert.equal(alertsOf(snort, fixtureText('snort', 'alert_full_udp.whole.txt'))[0]!.device, undefined);
  // A syslog header without a host names none either.
  assert.equal(alertOf(snort, 'Sep  5 16:05:26 snort[2431]: [1:1000017:0] UDP Connection [Priority: 3] {UDP} 10.150.10.44:55776 -> 10.25.10.22:32414').device, undefined);
});
