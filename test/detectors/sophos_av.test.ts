import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import sophosAv from '../../src/detectors/sophos_av.js';
import { finishes, fixtureLine } from './helpers.js';
import { foreignSampleRecords } from './foreign-samples.js';
import { runner } from './json-detector-helpers.js';
import { isPlaceholderText } from '../../src/detectors/lib/placeholders.js';

// No sample of these formats exists in shared/samples; the records are in test/fixtures/samples/sophos_av/. The
// Log Writer lines are reconstructed from the layout FIDO split (fido-original.md §3.9: "INFO:" then
// InsertedAt=, EventTime=, ActionTaken=, UserName=, Status=, ThreatType=, ThreatName=, FullFilePath=,
// ComputerName=, ComputerIPAddress= at the positions it read) and from public SIEM parsers of the Sophos
// Reporting Log Writer (the quoted "events" line is a Splunk eventgen sample); the SAV lines follow the messages
// in the Sophos Anti-Virus manuals.

const { run, alert: alertOf } = await runner('sophos_av');

const THREAT = fixtureLine('sophos_av', 'log_writer.log', 1);

test('Log Writer threat line: the fields FIDO split, as an alert', () => {
  assert.equal(sophosAv.sniff(rawRecord(THREAT)), 0.92);
  const a = alertOf(THREAT, 'auto');
  assert.equal(a.title, 'Troj/Agent-ABC (Viruses/spyware)');
  assert.equal(a.event_type, 'Viruses/spyware');
  assert.equal(a.time, '2014-03-26T09:13:00.000Z');
  assert.deepEqual(a.rule, { id: 'Troj/Agent-ABC', name: 'Troj/Agent-ABC', category: 'Viruses/spyware' });
  assert.equal(a.severity, 95); // viruses 70 + trojan 10 + still present 15
  assert.deepEqual(a.vendor_severity, { value: 'Viruses/spyware; action None; status Not cleanable', scale: 'sophos threat type/action (computed; Sophos writes no severity)' });
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.host, { name: 'WS042', ip: '10.20.30.40' });
  assert.deepEqual(a.user, { name: 'bob', domain: 'CORP' });
  assert.deepEqual(a.file, { name: 'inv 2.exe', path: 'C:\\Users\\bob\\AppData\\Local\\Temp\\inv 2.exe' });
  assert.deepEqual(a.malware, { name: 'Troj/Agent-ABC', family: 'Agent' });
  assert.equal(a.vendor_id, '123456');
});

test('cleaned-up threats, PUAs and EICAR score lower; actions map to blocked / quarantined', () => {
  const cleaned = alertOf(THREAT.replace('ActionTaken=None', 'ActionTaken=Cleaned up').replace('Status=Not cleanable', 'Status=Cleaned up'));
  assert.equal(cleaned.severity, 60);
  assert.equal(cleaned.action, 'blocked');
  const moved = alertOf(THREAT.replace('ActionTaken=None', 'ActionTaken=Moved').replace('Troj/Agent-ABC', 'Mal/Generic-S'));
  assert.equal(moved.action, 'quarantined');
  assert.equal(moved.malware?.family, 'Generic');
  const pua = alertOf(THREAT.replace('ThreatType=Viruses/spyware', 'ThreatType=Adware or PUA').replace('Troj/Agent-ABC', 'PsExec').replace('ActionTaken=None', 'ActionTaken=Deleted').replace('Status=Not cleanable', 'Status=Deleted'));
  assert.equal(pua.severity, 10);
  const eicar = alertOf(THREAT.replace('Troj/Agent-ABC', 'EICAR-AV-Test'));
  assert.equal(eicar.severity, 10);
  const partial = alertOf(THREAT.replace('ActionTaken=None', 'ActionTaken=Partially Cleaned').replace('Status=Not cleanable', 'Status=Cleanup failed'));
  assert.equal(partial.action, 'detected');
});

test('quoted Log Writer events: Virus is an alert, Application control is context', () => {
  const virus = fixtureLine('sophos_av', 'log_writer.log', 2);
  const a = alertOf(virus, 'auto');
  assert.equal(a.title, 'Virus: Troj/Emotet-CX');
  assert.equal(a.time, '2020-03-29T06:21:40.000Z');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.user, { name: 'jdoe', domain: 'DOMAIN' });
  assert.deepEqual(a.malware, { name: 'Troj/Emotet-CX', family: 'Emotet' });
  const app = fixtureLine('sophos_av', 'log_writer.log', 3);
  const r = run(app, 'auto');
  assert.ok('context' in r, JSON.stringify(r));
  assert.equal(r.detector, 'sophos_av');
  const e = r.context[0]!;
  assert.equal(e.kind, 'process');
  assert.equal(e.event_type, 'Application control');
  assert.equal(e.data.name, 'LogMeIn');
  assert.equal(e.time, '2020-03-29T06:21:43.000Z');
  assert.deepEqual(e.host, { name: 'ACME-code-007', ip: '127.0.0.1' });
  assert.deepEqual(e.process, { name: 'LogMeIn' }); // the controlled application
  assert.equal(e.user, undefined); // UserName=""
  assert.equal(a.event_type, 'Virus');
  const web = alertOf(fixtureLine('sophos_av', 'log_writer.log', 4));
  assert.equal(web.url, 'http://bad.example/x.js');
  assert.equal(web.domain, 'bad.example');
});

test('SAV local log lines (Windows SAV.txt, Linux savd syslog, savscan)', () => {
  const win = alertOf(fixtureLine('sophos_av', 'sav.log', 1), 'auto');
  assert.equal(win.title, 'EICAR-AV-Test (Viruses/spyware)');
  assert.equal(win.event_type, 'SAV/Viruses/spyware');
  assert.equal(win.time, '2013-04-12T10:14:42.000Z');
  assert.deepEqual(win.file, { name: 'eicar.com', path: 'C:\\Users\\alice\\Downloads\\eicar.com' });
  const lnx = alertOf(fixtureLine('sophos_av', 'sav.log', 2), 'auto');
  assert.equal(lnx.title, 'Troj/Bdoor-XYZ (Viruses/spyware)');
  assert.equal(lnx.time, '2025-04-12T10:14:42.000Z', 'year from the received time');
  assert.deepEqual(lnx.file, { name: 'x.elf', path: '/tmp/x.elf' });
  assert.deepEqual(lnx.host, { name: 'lnx01' });
  assert.equal(lnx.severity, 95);
  const scan = alertOf(fixtureLine('sophos_av', 'sav.log', 3), 'auto');
  assert.equal(scan.file?.path, '/home/bob/eicar test.com');
  assert.equal(scan.time, '2026-01-01T00:00:00.000Z');
  const quarantined = alertOf(fixtureLine('sophos_av', 'sav.log', 4));
  assert.equal(quarantined.action, 'quarantined');
  assert.equal(quarantined.file?.path, 'C:\\x\\y.exe');
});

test('other Log Writer event types are context of their kind, with host, user and file in canonical fields', () => {
  const ev = (type: string) => `InsertedAt="2020-03-29 06:21:43"; EventID="1"; EventType="${type}"; Action="Blocked"; ComputerName="WS7"; ComputerIPAddress="10.1.1.7"; EventTime="2020-03-29 06:21:40"; Name="USB stick"; UserName="CORP\\ann"; FullFilePath="E:\\a.exe";`;
  const device = run(ev('Device control'));
  assert.ok('context' in device, JSON.stringify(device));
  const d = device.context[0]!;
  assert.equal(d.kind, 'file');
  assert.equal(d.event_type, 'Device control');
  assert.deepEqual(d.user, { name: 'ann', domain: 'CORP' });
  assert.deepEqual(d.host, { name: 'WS7', ip: '10.1.1.7' });
  assert.deepEqual(d.file, { name: 'a.exe', path: 'E:\\a.exe' });
  const firewall = run(ev('Firewall'));
  assert.ok('context' in firewall && firewall.context[0]!.kind === 'other', JSON.stringify(firewall)); // names no connection
  const deviceNoFile = run(ev('Device control').replace(' FullFilePath="E:\\a.exe";', ''));
  assert.ok('context' in deviceNoFile && deviceNoFile.context[0]!.kind === 'other', JSON.stringify(deviceNoFile));
  const patch = run(ev('Patch'));
  assert.ok('context' in patch && patch.context[0]!.kind === 'status', JSON.stringify(patch));
});

test('malformed lines are refused with a reason', () => {
  const e = run('EventID=1; EventTime=2020-01-01 00:00:00; ComputerName=x');
  assert.ok('error' in e && /neither ThreatName\/ThreatType nor EventType/.test(e.error), JSON.stringify(e));
  const t = run(THREAT.replace('EventTime=2014-03-26 09:13:00', 'EventTime=tomorrow'));
  assert.ok('error' in t && /EventTime: unrecognised timestamp "tomorrow"/.test(t.error), JSON.stringify(t));
  const j = run('{"ThreatName":"x"}');
  assert.ok('error' in j && /not JSON/.test(j.error), JSON.stringify(j));
  const g = run('hello world');
  assert.ok('error' in g && /not a Sophos anti-virus line/.test(g.error));
});

test('sniff stays below the threshold for other products (Sophos Central and XG included)', () => {
  for (const { where, record } of foreignSampleRecords()) assert.ok(sophosAv.sniff(record) < 0.5, where);
  const xg = fixtureLine('sophos_xg', 'anti_virus.log', 3);
  assert.ok(sophosAv.sniff(rawRecord(xg)) < 0.5);
  for (const text of ['Name=x; Status=y', 'ThreatName', '{"ThreatName":"x","ComputerName":"y","EventID":1}']) assert.ok(sophosAv.sniff(rawRecord(text)) < 0.5, text);
});

test('truncated lines and pathological input neither throw nor hang', () => {
  for (let cut = 0; cut < THREAT.length; cut += 5) {
    const r = run(THREAT.slice(0, cut), 'auto');
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
    run(THREAT.slice(0, cut));
  }
  finishes(() => run(`ThreatName=x; ${'A=b; '.repeat(200_000)}`));
  finishes(() => run(`Virus/spyware '${'x'.repeat(300)}' has been detected in ${'a'.repeat(1_000_000)}`));
  finishes(() => run(`File "${'C:\\'.repeat(300_000)}" belongs to virus/spyware 'X'`));
  finishes(() => run(`>>> Virus 'x' found in file ${' a'.repeat(500_000)}`));
});

test('property: arbitrary input never makes the detector throw; generated threat lines round-trip', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    for (const t of [s, `ThreatName=${s}; ThreatType=Viruses/spyware; EventTime=2020-01-01 00:00:00; ComputerName=x`, `File "${s}" belongs to virus/spyware '${s}'`, `EventType=${s}; ComputerName=a; EventID=1; ${s}`]) {
      sophosAv.sniff(rawRecord(t));
      const r = run(t);
      assert.ok('error' in r || 'alerts' in r || 'context' in r);
    }
  }), { numRuns: 300 });
  const name = fc.stringMatching(/^[A-Z][a-z]{1,5}\/[A-Za-z]{2,10}-[A-Z]{1,3}$/);
  const host = fc.stringMatching(/^[A-Z][A-Z0-9-]{1,14}$/);
  // Not a text that means "none" ("na", "nil", "null"…): the finalisers drop those by design (placeholders.ts).
  const user = fc.stringMatching(/^[a-z][a-z0-9.]{0,15}$/).filter((u) => !isPlaceholderText(u));
  fc.assert(fc.property(name, host, user, fc.ipV4(), fc.integer({ min: 1, max: 1e9 }), (threat, computer, u, ip, id) => {
    const line = `2020-01-01 00:00:00,000 INFO: InsertedAt=2020-01-01 00:00:01; EventID=${id}; EventTime=2020-01-01 00:00:00; ActionTaken=None; UserName=CORP\\${u}; Status=Cleanable; ThreatType=Viruses/spyware; ThreatName=${threat}; FullFilePath=C:\\t\\a.exe; ComputerName=${computer}; ComputerIPAddress=${ip};`;
    const a = alertOf(line, 'auto');
    assert.equal(a.malware?.name, threat);
    assert.equal(a.host?.name, computer);
    assert.equal(a.user?.name, u);
    assert.equal(a.vendor_id, String(id));
  }), { numRuns: 300 });
});
