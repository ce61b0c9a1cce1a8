import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const edr = await runner('carbonblack_edr');
const reg = await registry();
const line = (n: number) => sampleLine('carbonblack_edr', 'events.jsonl', n);
const elastic = (n: number) => fixtureLine('carbonblack_edr', 'elastic_events.jsonl', n);

test('every sample is auto-detected as carbonblack_edr; binaryinfo and ingress events are context', () => {
  const kinds = autoDetectedSamples(edr, 'carbonblack_edr', 6, 'parsed').map(({ result: r }) => ('alerts' in r ? 'alert' : 'context' in r ? r.context[0]!.kind : 'error'));
  assert.deepEqual(kinds, ['file', 'file', 'file', 'alert', 'file', 'alert']);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(edr, 'carbonblack_edr');
});

test('binaryinfo records: file context with the hashes; the CB server is the reporting device, not the host', () => {
  const c = edr.context(line(1));
  assert.equal(c.kind, 'file');
  assert.equal(c.event_type, 'binaryinfo.group.observed');
  assert.equal(c.time, '2021-06-25T10:32:46.182Z'); // 1624617166.182
  assert.deepEqual(c.file, { md5: 'b1eadd12a85fd321b05819041c27cc7b', sha256: 'bca92084bac4a371631307a8015e0ab5f221cd0593d6d589007f2af689b0c6fa' });
  assert.deepEqual(c.device, { name: 'CB_SERVER_HOSTNAME' }); // "host":"CB_SERVER_IP" is the server's address and not an IP here
  assert.equal(c.host, undefined);
  assert.deepEqual(c.observables.map((o) => `${o.type}:${o.role}`), ['md5:file', 'sha256:file', 'host:device']);
  const c2 = edr.context(line(2)); // "sha256":"" is absent, not an error
  assert.deepEqual(Object.keys(c2.file ?? {}), ['md5']);
  assert.equal(edr.context(line(3)).data.type, 'binaryinfo.group.observed');
});

test('type-less binary watchlist hit (SRS Trust): host from endpoint[], file from observed_filename', () => {
  const a = edr.alert(line(4));
  assert.equal(a.title, 'Watchlist hit: SRS Trust');
  assert.deepEqual(a.rule, { id: '10', name: 'SRS Trust', category: 'watchlist' });
  assert.equal(a.time, '2014-08-09T11:20:03.500Z'); // event_timestamp 1407583203.5
  assert.deepEqual(a.host, { name: 'WIN8-TEST', id: '1', os: 'Windows' });
  assert.equal(a.event_type, 'watchlist.hit.binary'); // type-less: inferred from the binary document
  assert.deepEqual(a.file, { name: 'prncache.dll', path: 'c:\\windows\\system32\\prncache.dll', md5: 'a1cde92ddc170d307db3c5baa348811b', size: 183808 });
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

test('moduleload ingress event: file context with the module hashes, the computer and the sensor', () => {
  const c = edr.context(line(5));
  assert.equal(c.kind, 'file');
  assert.equal(c.event_type, 'ingress.event.moduleload');
  assert.equal(c.time, '2021-06-25T08:48:08.000Z');
  assert.equal(c.file?.sha256, 'a6f593d2c6a34da0ee4205cbd1139c3e107f1a6ba63ce0fa064eca40620b9314');
  assert.equal(c.file?.md5, '5fbeba3aff338f1164effa5a3945dc3b');
  assert.deepEqual(c.host, { name: 'COMPUTER_NAME', id: '10094' });
  assert.equal(c.process?.pid, 14332);
});

test('Elastic pipeline records: docs as an object, type-less binary records, feed hits with process and binary documents', () => {
  const tor = edr.alert(elastic(3)); // "docs": {...} rather than [{...}], ioc_attr.port "22" as text
  assert.deepEqual(tor.dst, { ip: '81.2.69.144', port: 22 });
  assert.deepEqual(tor.user, { name: 'admin', domain: 'win8-test' });
  assert.equal(tor.process?.command_line, '"c:\\users\\admin\\desktop\\putty.exe"');
  assert.equal(tor.process?.pid, 44988);
  assert.equal(tor.file?.path, 'c:\\users\\admin\\desktop\\putty.exe');
  assert.equal(tor.event_type, 'feed.hit.process');

  const binaryFeed = edr.alert(elastic(5)); // binary document: the last observed file name, its size
  assert.equal(binaryFeed.file?.path, 'C:\\Windows\\system32\\sndvol.exe');
  assert.equal(binaryFeed.file?.size, 273920);
  assert.equal(binaryFeed.host?.name, 'WIN8-TEST');
  assert.ok(obs(binaryFeed).includes('md5:c3489639ec8e181044f6c6bfd3d01ac9:ioc'));

  const query = edr.alert(elastic(7)); // query IOC with a process document
  assert.equal(query.host?.name, 'DXM021-VM1');
  assert.deepEqual(query.user, { name: 'User', domain: 'WIN7X64-BUILDER' });
  assert.equal(query.process?.command_line, '"c:\\windows\\system32\\notepad.exe"');
  assert.equal(query.rule?.id, 'notepad_proc');
  assert.ok(!obs(query).some((o) => o.startsWith('md5:000')), 'the 30-zero parent_md5 is no hash');

  const score = edr.context(elastic(10)); // {md5, event_timestamp, scores}: a binary's score update
  assert.equal(score.kind, 'file');
  assert.equal(score.event_type, 'binaryinfo.observed');
  assert.equal(score.file?.md5, '9e4b0e7472b4ceba9e17f440b8cb0ab8');
  assert.equal(edr.run(elastic(10), 'auto').detector, 'carbonblack_edr');
  assert.equal(edr.context(elastic(11)).host?.name, 'FS-HQ');
  const store = edr.context(elastic(13));
  assert.equal(store.event_type, 'binarystore.file.added');
  assert.equal(store.file?.path, '/var/cb/data/modulestore/FE2/AFA/FE2AFACC396DC37F51421DE4A08DA8A7.zip');
  assert.equal(store.file?.size, 320000);
});

test('Elastic pipeline ingress events: filemod, childproc, remotethread, regmod and module each in their kind', () => {
  const filemod = edr.context(elastic(17));
  assert.equal(filemod.kind, 'file');
  assert.equal(filemod.file?.path, 'c:\\users\\admin\\appdata\\local\\google\\chrome\\user data\\b5e2.tmp');
  assert.equal(filemod.file?.md5, '7a2870c2a8283b3630bf7670d0362b94');
  assert.deepEqual(filemod.host, { name: 'JASON-WIN81-VM', id: '1' });
  assert.deepEqual(filemod.device, { name: 'cbserver' });

  const child = edr.context(elastic(14)); // the started child: its pid and image; the record's process is its parent
  assert.equal(child.kind, 'process');
  assert.equal(child.process?.pid, 852);
  assert.equal(child.file?.sha256, 'fc5b074510c3fa153b08da1a479096ad3bef58d242928751d489856ad000e3b3');

  const thread = edr.context(elastic(12));
  assert.equal(thread.kind, 'process');
  assert.equal(thread.process?.pid, 4504);
  assert.ok(obs(thread).includes('sha256:643ec58e82e0272c97c2a59f6020970d881af19c0ad5029db9c958c13b6558c7:target'));
  assert.ok(obs(thread).includes('md5:944794565acb51af58d2e067ca164c8d:process'));

  const regmod = edr.context(elastic(16));
  assert.equal(regmod.kind, 'other');
  assert.equal(regmod.event_type, 'ingress.event.regmod');
  assert.equal(regmod.host?.name, 'JASON-WIN81-VM');
  assert.equal(regmod.file, undefined); // the registry path stays in data

  const tamper = edr.alert(elastic(6));
  assert.equal(tamper.event_type, 'ingress.event.tamper');
  assert.equal(tamper.severity, 75);
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
  const net = edr.context(JSON.stringify({ type: 'ingress.event.netconn', cb_server: 'cb', event_type: 'netconn', computer_name: 'WS-1', remote_ip: -1062731518, remote_port: 443, local_ip: '10.0.0.5', local_port: 50123, domain: 'x.example.net', direction: 'outbound', timestamp: 1600000000 }));
  assert.equal(net.kind, 'flow');
  assert.deepEqual(net.src, { ip: '10.0.0.5', port: 50123 });
  assert.deepEqual(net.dst, { ip: '192.168.1.2', port: 443, host: 'x.example.net' });
  assert.equal(net.domain, 'x.example.net');
  assert.equal(net.host?.name, 'WS-1');
  assert.ok(obs(net).includes('ip:192.168.1.2:dst'));
  const inboundConn = edr.context(JSON.stringify({ type: 'ingress.event.netconn', computer_name: 'WS-1', remote_ip: '203.0.113.9', remote_port: 5353, local_ip: '10.0.0.5', local_port: 5353, direction: 'inbound', timestamp: 1600000000 }));
  assert.equal(inboundConn.src?.ip, '203.0.113.9'); // inbound: the remote end opened it
  assert.equal(inboundConn.dst?.ip, '10.0.0.5');
});

test('malformed records are rejected with a reason', () => {
  assert.match(edr.error('{"cb_server":"x"}'), /no type/);
  assert.match(edr.error('{"watchlist_id":1,"watchlist_name":"w","docs":5}'), /docs/);
  assert.match(edr.error('{"watchlist_id":1,"watchlist_name":"w","event_timestamp":"soon"}'), /event_timestamp/);
  assert.match(edr.error('{"watchlist_id":1,"watchlist_name":"w","docs":"x"}'), /docs/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('carbonblack_edr', reg, [line(3), line(4), line(6)]) > 500);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(edr.detector, [1, 2, 3, 4, 5, 6].map(line));
});
