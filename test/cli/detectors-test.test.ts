import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { detectorsTestCommand, recordFiles } from '../../src/cli/commands/detectors-test.js';
import { fileRecords, isWholeRecordFile } from '../../src/cli/records.js';
import { COVERAGE_FIELDS, coverageOf, formatCoverage, reasonKey, type CoverageReport, type DetectorCoverage } from '../../src/detectors/lib/coverage.js';
import { loadDetectors } from '../../src/detectors/lib/registry.js';
import { sampleLines } from '../detectors/helpers.js';
import { captureOutput } from '../support/cli.js';

const FIDO_BIN = fileURLToPath(new URL('../../bin/fido.js', import.meta.url));
const registry = await loadDetectors();

// Records of several products (the NX lines are the shared samples; the rest reconstructed from vendor
// documentation, as in the detectors' own tests), one garbage line, and files the walk must skip.
const CMS_CALLBACK = '<164>fenotify-1590500.warning: CEF:0|FireEye|CMS|9.0.1.923211|MC|malware-callback|7|cn2Label=sid cn2=11111112 cs5Label=cncHost cs5=172.65.203.203 spt=10400 rt=Jan 25 2021 20:37:54 UTC dst=172.65.203.203 externalId=1590500 src=10.18.29.1 dpt=80 act=notified cs1Label=sname cs1=FETestEvent';
const LASTLINE = 'May 20 13:20:56 llmanager CEF:0|Lastline|Enterprise|7.3|signature-match|IDS Signature Match|4|act=LOG cat=drive-by/Fiesta EK cn1=45 cn1Label=impact dpt=80 dst=203.0.113.10 externalId=74444 src=10.0.0.20 start=May 20 2017 13:16:16 UTC';
const SOPHOS = '2014-03-26 09:15:21,123 INFO: InsertedAt=2014-03-26 09:14:50; EventID=123456; EventTime=2014-03-26 09:13:00; ActionTaken=None; UserName=CORP\\bob; Status=Not cleanable; ThreatType=Viruses/spyware; ThreatName=Troj/Agent-ABC; FullFilePath=C:\\Users\\bob\\inv.exe; ComputerName=WS042; ComputerIPAddress=10.20.30.40;';
const CYPHORT = { event_id: 9001, event_type: 'http', event_category: 'TROJAN', event_name: 'TROJAN_Zbot.CY', event_severity: 0.8, last_activity_time: '2016-05-02 10:11:12', endpoint_ip: '10.9.8.7', endpoint_name: 'ws-77', source_ip: '203.0.113.50', incident_id: 4242 };
const PROTECTWISE = { id: 'o1', occurredAt: 1462183873000, sensorId: 7, killChainStage: 'CommandAndControl', threatScore: 80, connectionInfo: { srcIp: '10.2.2.2', dstIp: '203.0.113.9', srcPort: 49152, dstPort: 443 }, data: { urlReputation: { url: 'http://c2.evil.example/gate.php' } } };
const GARBAGE = 'this is not a security record %%% 42';

function makeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fido-dtest-'));
  writeFileSync(join(dir, 'nx.jsonl'), `${sampleLines('fireeye_nx', '.jsonl').map((l) => l.text).join('\n')}\n`);
  writeFileSync(join(dir, 'syslog.cef'), `${CMS_CALLBACK}\n\n${LASTLINE}\n${GARBAGE}\n`);
  writeFileSync(join(dir, 'sav.log'), `${SOPHOS}\r\n`);
  writeFileSync(join(dir, 'cyphort.json'), JSON.stringify([CYPHORT], null, 2));
  mkdirSync(join(dir, 'deeper', 'still'), { recursive: true });
  writeFileSync(join(dir, 'deeper', 'still', 'pw.ndjson'), `${JSON.stringify(PROTECTWISE)}\n`);
  writeFileSync(join(dir, 'README.md'), 'not a record file\n');
  mkdirSync(join(dir, '.hidden'));
  writeFileSync(join(dir, '.hidden', 'x.jsonl'), `${GARBAGE}\n`);
  return dir;
}

function byName(report: CoverageReport, name: string): DetectorCoverage {
  const d = report.detectors.find((x) => x.detector === name);
  assert.ok(d, `no ${name} in ${report.detectors.map((x) => x.detector).join(', ')}`);
  return d;
}

function assertExpectedReport(report: CoverageReport): void {
  assert.deepEqual(report.totals, { records: 10, alert_records: 5, alerts: 5, context_records: 4, quarantined: 1 });
  const fe = byName(report, 'fireeye');
  assert.equal(fe.records, 5);
  assert.equal(fe.context_records, 4);
  assert.equal(fe.context_events, 4);
  assert.equal(fe.alert_records, 1);
  assert.equal(fe.fill['src.ip'], 100);
  assert.equal(fe.fill['malware.name'], 100);
  assert.equal(fe.fill['file.md5'], 0);
  for (const name of ['lastline', 'cyphort', 'sophos_av', 'protectwise']) {
    const d = byName(report, name);
    assert.equal(d.records, 1, name);
    assert.equal(d.alerts, 1, name);
    assert.equal(d.quarantined, 0, name);
    assert.equal(d.fill.time, 100, name);
    assert.equal(d.fill.title, 100, name);
  }
  assert.equal(byName(report, 'protectwise').fill.url, 100);
  assert.equal(byName(report, 'sophos_av').fill['host.name'], 100);
  assert.equal(byName(report, 'sophos_av').fill['src.ip'], 0);
  const none = byName(report, '(none)');
  assert.equal(none.quarantined, 1);
  assert.equal(none.top_reasons.length, 1);
  assert.equal(none.top_reasons[0]!.count, 1);
  assert.match(none.top_reasons[0]!.reason, /^no detector recognised this text line/);
  assert.equal(report.detectors.at(-1)!.detector, '(none)');
}

// ---- the real CLI, as a child process --------------------------------------------------------------------------


test('fido detectors test DIR: table with counts, quarantine reasons and fill rates', () => {
  const dir = makeDir();
  try {
    const r = spawnSync(process.execPath, [FIDO_BIN, 'detectors', 'test', dir], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, FIDO_LOG_LEVEL: 'silent' } });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^DETECTOR\s+RECORDS\s+ALERT REC\s+ALERTS\s+CONTEXT\s+QUARANTINED$/m);
    assert.match(out, /^fireeye\s+5\s+1\s+1\s+4\s+0$/m);
    assert.match(out, /^\(none\)\s+1\s+0\s+0\s+0\s+1$/m);
    assert.match(out, /^TOTAL\s+10\s+5\s+5\s+4\s+1$/m);
    assert.match(out, /^== protectwise ==$/m);
    assert.match(out, /1× no detector recognised this text line/);
    assert.match(out, /url\s+100\.0%/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fido detectors test DIR --json; --detector; usage errors', () => {
  const dir = makeDir();
  try {
    const r = spawnSync(process.execPath, [FIDO_BIN, 'detectors', 'test', dir, '--json'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as CoverageReport & { files: string[] };
    assertExpectedReport(report);
    assert.deepEqual(report.files, ['cyphort.json', join('deeper', 'still', 'pw.ndjson'), 'nx.jsonl', 'sav.log', 'syslog.cef']);
    const forced = spawnSync(process.execPath, [FIDO_BIN, 'detectors', 'test', join(dir, 'sav.log'), '--json', '--detector', 'sophos_av'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal((JSON.parse(forced.stdout) as CoverageReport).totals.alerts, 1);
    const unknown = spawnSync(process.execPath, [FIDO_BIN, 'detectors', 'test', dir, '--detector', 'nope'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown detector "nope"/);
    const missing = spawnSync(process.execPath, [FIDO_BIN, 'detectors', 'test', join(dir, 'no-such-dir')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the same command in-process (runs whether or not the subcommand is hooked in) --------------------------------

async function runCommand(dir: string, opts: { detector?: string; json?: boolean } = {}) {
  const { out, err, stdout, stderr } = captureOutput();
  const code = await detectorsTestCommand(dir, { tz: 'UTC', ...opts }, out, err, registry);
  return { code, stdout: stdout(), stderr: stderr() };
}

test('detectorsTestCommand: counts, reasons and fill rates over a directory; JSON form', async () => {
  const dir = makeDir();
  try {
    const { code, stdout, stderr } = await runCommand(dir, { json: true });
    assert.equal(code, 0, stderr);
    assertExpectedReport(JSON.parse(stdout) as CoverageReport);
    const table = await runCommand(dir);
    assert.match(table.stdout, /^fireeye\s+5\s+1\s+1\s+4\s+0$/m);
    assert.match(table.stdout, /^TOTAL\s+10\s+5\s+5\s+4\s+1$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detectorsTestCommand: --detector attributes every record to it, failures included', async () => {
  const dir = makeDir();
  try {
    const { code, stdout } = await runCommand(dir, { detector: 'sophos_av', json: true });
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as CoverageReport;
    assert.deepEqual(report.detectors.map((d) => d.detector), ['sophos_av']);
    const d = report.detectors[0]!;
    assert.equal(d.records, 10);
    assert.equal(d.alerts, 1);
    assert.equal(d.quarantined, 9);
    assert.ok(d.top_reasons.length >= 2);
    assert.equal(d.top_reasons.reduce((n, r) => n + r.count, 0) <= 9, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file named *.whole.<ext> is one record; Snort alert_full blocks are records in any file', async () => {
  assert.equal(isWholeRecordFile('alert_full.whole.txt'), true);
  assert.equal(isWholeRecordFile(join('a.whole', 'fast.log')), false);
  assert.equal(isWholeRecordFile('whole.log'), false);
  const dir = mkdtempSync(join(tmpdir(), 'fido-dtest-whole-'));
  try {
    const block = '[**] [1:1000005:0] UDP Connection [**]\n[Classification: A Network Trojan was Detected] [Priority: 1] \n09/04-21:53:15.299702 10.100.10.1:53 -> 10.100.10.190:36635\nUDP TTL:64 TOS:0x0 ID:58363 IpLen:20 DgmLen:83\n';
    writeFileSync(join(dir, 'alert_full.whole.txt'), block);
    const records: string[] = [];
    for await (const r of fileRecords(join(dir, 'alert_full.whole.txt'))) records.push(r.text);
    assert.deepEqual(records, [block]);
    // Two blocks in a plain file: two records, each without the blank line between them.
    writeFileSync(join(dir, 'alert_full.txt'), `${block}\n${block}`);
    const blocks: string[] = [];
    for await (const r of fileRecords(join(dir, 'alert_full.txt'))) blocks.push(r.text);
    assert.deepEqual(blocks, [block.trimEnd(), block.trimEnd()]);
    const { code, stdout, stderr } = await runCommand(dir, { json: true });
    assert.equal(code, 0, stderr);
    const snort = (JSON.parse(stdout) as CoverageReport).detectors.find((d) => d.detector === 'snort');
    assert.ok(snort);
    assert.equal(snort.alert_records, 3, 'the whole file, and the two blocks of the other');
    assert.equal(snort.quarantined, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('detectorsTestCommand: usage errors and empty directories', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-dtest-empty-'));
  try {
    writeFileSync(join(dir, 'notes.md'), 'x');
    assert.equal((await runCommand(dir)).code, 1);
    assert.match((await runCommand(dir)).stderr, /no \.jsonl.*files under/);
    assert.equal((await runCommand(join(dir, 'missing'))).code, 1);
    assert.equal((await runCommand(dir, { detector: 'nope' })).code, 2);
    const bad = new PassThrough();
    assert.equal(await detectorsTestCommand(dir, { tz: 'Mars/Olympus' }, new PassThrough(), bad, registry), 2);
    assert.deepEqual(await recordFiles(join(dir, 'notes.md')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the pure coverage computation ---------------------------------------------------------------------------------

test('coverage: fill rates per field, reasons grouped after masking record-specific text', () => {
  const report = coverageOf([
    { detector: 'x', alerts: [{ time: '2020-01-01T00:00:00.000Z', title: 't', severity: 10, src: { ip: '10.0.0.1' }, observables: [{ type: 'ip', value: '10.0.0.1', role: 'src' }] }, { time: '2020-01-01T00:00:00.000Z', title: 't', severity: 10, url: '', observables: [] }] },
    { detector: 'x', context: [{ kind: 'flow', time: '2020-01-01T00:00:00.000Z', data: {}, observables: [] }] },
    { detector: 'x', error: 'field "a" is "1", expected an integer' },
    { detector: 'x', error: 'field "b" is "22", expected an integer' },
    { error: 'no detector recognised this text line (starts: junk 1)' },
  ]);
  const x = report.detectors[0]!;
  assert.equal(x.records, 4);
  assert.equal(x.alerts, 2);
  assert.equal(x.fill['src.ip'], 50);
  assert.equal(x.fill.url, 0, 'an empty string is not a value');
  assert.equal(x.fill.observables, 50);
  assert.equal(x.fill.severity, 100);
  assert.deepEqual(x.top_reasons, [{ reason: 'field "…" is "…", expected an integer', count: 2, example: 'field "a" is "1", expected an integer' }]);
  assert.equal(report.detectors[1]!.detector, '(none)');
  assert.equal(reasonKey('no detector recognised this text line (starts: abc)'), 'no detector recognised this text line (starts: …)');
  assert.equal(Object.keys(x.fill).length, COVERAGE_FIELDS.length);
  const text = formatCoverage(report);
  assert.match(text, /^x\s+4\s+1\s+2\s+1\s+2$/m);
  assert.match(text, /src\.ip\s+50\.0%/);
});

test('coverage: fill rates per event type, for alerts and for context events over the context fields', () => {
  const t = '2020-01-01T00:00:00.000Z';
  const report = coverageOf([
    { detector: 'fw', alerts: [{ event_type: 'THREAT/virus', time: t, title: 'a', severity: 50, file: { sha256: 'a'.repeat(64) }, observables: [] }] },
    { detector: 'fw', alerts: [{ event_type: 'THREAT/virus', time: t, title: 'b', severity: 50, observables: [] }, { time: t, title: 'c', severity: 50, observables: [] }] },
    { detector: 'fw', context: [{ kind: 'vpn', event_type: 'gateway-auth', time: t, user: { name: 'alice' }, assigned_ip: '10.8.0.2', data: {}, observables: [] }] },
    { detector: 'fw', context: [{ kind: 'vpn', event_type: 'gateway-auth', time: t, data: {}, observables: [] }] },
  ]);
  const fw = report.detectors[0]!;
  assert.deepEqual(
    fw.event_types.map((e) => [e.as, e.event_type, e.count]),
    [['alert', '(unspecified)', 1], ['alert', 'THREAT/virus', 2], ['context', 'vpn/gateway-auth', 2]],
  );
  const virus = fw.event_types[1]!;
  assert.equal(virus.fill['file.sha256'], 50);
  const vpn = fw.event_types[2]!;
  assert.equal(vpn.fill['user.name'], 50);
  assert.equal(vpn.fill.assigned_ip, 50);
  assert.equal(vpn.fill['file.sha256'], undefined, 'context events are measured on the context fields');
  const text = formatCoverage(report);
  assert.match(text, /context of type vpn\/gateway-auth: 2, fill rate\n[^]*assigned_ip\s+50\.0%/);
});
