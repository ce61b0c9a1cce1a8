import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const edr = await runner('carbonblack_edr');
const reg = await registry();
const line = (n: number) => sampleLine('carbonblack_edr', 'events.jsonl', n);

test('every sample is auto-detected as carbonblack_edr; binaryinfo and ingress events are context', () => {
  const kinds = autoDetectedSamples(edr, 'carbonblack_edr', 6, 'parsed').map(({ result: r }) => ('alerts' in r ? 'alert' : 'context' in r ? r.context[0]!.kind : 'error'));
  assert.deepEqual(kinds, ['binary', 'binary', 'binary', 'alert', 'modload', 'alert']);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(edr, 'carbonblack_edr');
});

test('binaryinfo records: hashes as observables, no host', () => {
  const c = edr.context(line(1));
  assert.equal(c.time, '2021-06-25T10:32:46.182Z'); // 1624617166.182
  assert.deepEqual(c.observables.map((o) => `${o.type}:${o.value}`), [
    'md5:b1eadd12a85fd321b05819041c27cc7b',
    'sha256:bca92084bac4a371631307a8015e0ab5f221cd0593d6d589007f2af689b0c6fa',
  ]);
  const c2 = edr.context(line(2)); // "sha256":"" is absent, not an error
  assert.deepEqual(c2.observables.map((o) => o.type), ['md5']);
  assert.equal(edr.context(line(3)).data.type, 'binaryinfo.group.observed');
});

test('type-less binary watchlist hit (SRS Trust): host from endpoint[], file from observed_filename', () => {
  const a = edr.alert(line(4));
  assert.equal(a.title, 'Watchlist hit: SRS Trust');
  assert.deepEqual(a.rule, { id: '10', name: 'SRS Trust', category: 'watchlist' });
  assert.equal(a.time, '2014-08-09T11:20:03.500Z'); // event_timestamp 1407583203.5
  assert.deepEqual(a.host, { name: 'WIN8-TEST', id: '1', os: 'Windows' });
  assert.deepEqual(a.file, { name: 'prncache.dll', path: 'c:\\windows\\system32\\prncache.dll', md5: 'a1cde92ddc170d307db3c5baa348811b' });
  assert.equal(a.severity, 40);
  assert.equal(a.action, 'detected');
  assert.equal(a.vendor_id, '10:A1CDE92DDC170D307DB3C5BAA348811B:2014-08-09T11:20:03.500Z');
});

test('type-less feed hit (tor): IOC address as the destination, port from ioc_attr', () => {
  const a = edr.alert(line(6));
  assert.equal(a.title, 'Feed hit: tor TOR-Node-81.2.69.144');
  assert.deepEqual(a.rule, { id: 'TOR-Node-81.2.69.144', name: 'TOR-Node-81.2.69.144', category: 'feed:tor' });
  assert.deepEqual(a.dst, { ip: '81.2.69.144', port: 22 });
  assert.deepEqual(a.host, { name: 'FS-NYC-1', id: '1' });
  assert.equal(a.time, '2014-08-06T21:53:20.000Z');
  assert.ok(a.vendor_id?.includes('00000001-0000-afbc-01cf-b31b9e83777f'));
});

test('moduleload ingress event: context with both hashes and the computer', () => {
  const c = edr.context(line(5));
  assert.equal(c.kind, 'modload');
  assert.equal(c.time, '2021-06-25T08:48:08.000Z');
  assert.ok(c.observables.some((o) => o.type === 'sha256' && o.value === 'a6f593d2c6a34da0ee4205cbd1139c3e107f1a6ba63ce0fa064eca40620b9314'));
});

test('process watchlist hit, alert.watchlist.hit and feed hits with types; integer interface_ip', () => {
  const proc = edr.alert(fixtureLine('carbonblack_edr', 'watchlist_hits.jsonl', 1));
  assert.equal(proc.title, 'Watchlist hit: Suspicious PowerShell');
  assert.deepEqual(proc.host, { name: 'WS-12', ip: '10.0.0.1', id: '12' });
  assert.deepEqual(proc.user, { name: 'gina', domain: 'CORP' });
  assert.deepEqual(proc.process, { name: 'powershell.exe', command_line: 'powershell -enc SQBFAFgA', pid: 4420, parent_name: 'winword.exe' });
  assert.equal(proc.file?.md5, '7353f60b1739074eb17c5f4dddefe239');
  assert.equal(proc.vendor_id, '7:00000c-0001:2020-09-13T12:26:40.250Z');

  const alert = edr.alert(fixtureLine('carbonblack_edr', 'watchlist_hits.jsonl', 2));
  assert.equal(alert.vendor_id, 'a-1');
  assert.equal(alert.severity, 88);
  assert.equal(alert.severity_label, 'high');
  assert.equal(alert.title, 'Carbon Black alert: Ransomware');
  assert.equal(alert.process?.command_line, 'vssadmin delete shadows /all');

  const feed = edr.alert(JSON.stringify({ type: 'feed.ingress.hit.process', feed_id: 9, feed_name: 'abusech', report_id: 'r1', report_score: 75, ioc_type: 'dns', ioc_value: 'Bad.Example.COM', hostname: 'h', event_timestamp: 1500000000 }));
  assert.equal(feed.domain, 'bad.example.com');
  assert.equal(feed.severity, 75);
  const inbound = edr.alert(JSON.stringify({ type: 'feed.storage.hit.process', feed_id: 1, feed_name: 'f', ioc_type: 'ipv4', ioc_value: '203.0.113.1', ioc_attr: { direction: 'Inbound', port: 3389 }, hostname: 'h', event_timestamp: 1500000000 }));
  assert.deepEqual(inbound.src, { ip: '203.0.113.1', port: 3389 });
  const blocked = edr.alert(JSON.stringify({ type: 'ingress.event.processblock', cb_server: 'cb', computer_name: 'WS-1', md5: '0cc175b9c0f1b6a831c399e269772661', path: 'c:\\temp\\bad.exe', timestamp: 1600000000 }));
  assert.equal(blocked.action, 'blocked');
  assert.equal(blocked.process?.name, 'bad.exe');
  const net = edr.context(JSON.stringify({ type: 'ingress.event.netconn', cb_server: 'cb', event_type: 'netconn', computer_name: 'WS-1', remote_ip: -1062731518, local_ip: '10.0.0.5', domain: 'x.example.net', timestamp: 1600000000 }));
  assert.equal(net.kind, 'netconn');
  assert.ok(obs(net).includes('ip:192.168.1.2:dst'));
});

test('malformed records are rejected with a reason', () => {
  assert.match(edr.error('{"cb_server":"x"}'), /no type/);
  assert.match(edr.error('{"watchlist_id":1,"watchlist_name":"w","event_timestamp":"soon"}'), /event_timestamp/);
  assert.match(edr.error('{"watchlist_id":1,"watchlist_name":"w","docs":"x"}'), /docs/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('carbonblack_edr', reg, [line(3), line(4), line(6)]) > 500);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(edr.detector, [1, 2, 3, 4, 5, 6].map(line));
});
