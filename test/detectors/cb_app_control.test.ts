/**
 * Carbon Black App Control (Bit9) has no shared sample: the records (test/fixtures/samples/cb_app_control/)
 * are written from the vendor's documentation — the App Control API event object (developer.carbonblack.com,
 * "App Control API", /api/bit9platform/v1/event: the fields and the severity/type enumerations), the App
 * Control Events Guide (subtype names and ids such as 801 "Execution block (unapproved file)", 812 "File
 * approved (publisher)"; the Basic/Enhanced syslog key="value" message; the CEF mapping: vendor/product,
 * signature id = subtype id, severity = 9 - event severity, externalId, cat, start, rt, msg) — with made-up
 * hosts, users and hashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ParseError } from '../../src/detectors/detector.js';
import { withParseContext } from '../../src/detectors/lib/context.js';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import { finishes, fixtureLine } from './helpers.js';
import { assertLinear } from './linear.js';
import { assertNoCrash, hostileVariants, obs, otherSampleLines, propertyChecks, registry, runner, sniffOf } from './json-detector-helpers.js';

const ac = await runner('cb_app_control');
const reg = await registry();

const API_BLOCK = fixtureLine('cb_app_control', 'api_events.jsonl', 1);
const API_MALICIOUS = fixtureLine('cb_app_control', 'api_events.jsonl', 2);
const API_APPROVAL = fixtureLine('cb_app_control', 'api_events.jsonl', 3);
const SYSLOG = fixtureLine('cb_app_control', 'syslog.log', 1);
const SYSLOG_LOGIN = fixtureLine('cb_app_control', 'syslog.log', 2);
const CEF_BLOCK = fixtureLine('cb_app_control', 'cef.log', 1);
const CEF_APPROVED = fixtureLine('cb_app_control', 'cef.log', 2);

test('every documented shape is auto-detected as cb_app_control', () => {
  for (const text of [API_BLOCK, API_MALICIOUS, API_APPROVAL, SYSLOG, SYSLOG_LOGIN, CEF_BLOCK, CEF_APPROVED]) {
    const r = ac.run(text, 'auto');
    assert.ok(!('error' in r), `${text.slice(0, 60)}: ${JSON.stringify(r)}`);
    assert.equal(r.detector, 'cb_app_control', text.slice(0, 80));
  }
});

test('sniff: no shared sample of any product is claimed', () => {
  for (const l of otherSampleLines([])) assert.ok(sniffOf(ac.detector, l.text) < 0.5, l.where);
});

test('API event: execution block of an unapproved file', () => {
  const a = ac.alert(API_BLOCK);
  assert.equal(a.vendor_id, '7853');
  assert.equal(a.time, '2017-10-04T22:22:00.387Z');
  assert.match(a.title, /^File 'c:\\users\\alice\\downloads\\invoice\.exe' .* was blocked because it was unapproved\.$/);
  assert.deepEqual(a.rule, { id: '801', name: 'Execution block (unapproved file)', category: 'Policy Enforcement' });
  assert.equal(a.severity, 30); // Notice
  assert.deepEqual(a.vendor_severity, { value: '5', scale: 'app control event severity 0 (Emergency) - 7 (Debug)' });
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.host, { name: 'WS-042', ip: '10.1.2.3', id: '12' });
  assert.deepEqual(a.user, { name: 'alice', domain: 'CORP' });
  assert.deepEqual(a.file, { name: 'invoice.exe', path: 'c:\\users\\alice\\downloads\\invoice.exe', sha256: '3b463c94b52414cfaad61ecdac64ca84eaea1ab4be69f75834aaa7701ab5e7d0' });
  assert.deepEqual(a.process, { name: 'explorer.exe' });
});

test('API event: malicious file (Discovery, Critical) with a command line', () => {
  const a = ac.alert(API_MALICIOUS);
  assert.equal(a.severity, 90);
  assert.equal(a.severity_label, 'critical');
  assert.equal(a.action, 'detected');
  assert.equal(a.rule?.category, 'Discovery');
  assert.equal(a.file?.md5, 'e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6');
  assert.deepEqual(a.process, { name: 'cmd.exe', command_line: 'cmd.exe /c c:\\temp\\mimikatz.exe' });
  assert.deepEqual(a.user, { name: 'svc_sql', domain: 'CORP' });
});

test('approvals are file context events, console log-ins auth context events, with canonical fields', () => {
  const c = ac.context(API_APPROVAL);
  assert.equal(c.kind, 'file');
  assert.equal(c.event_type, 'File approved (publisher)');
  assert.equal(c.time, '2017-10-04T22:30:00.000Z');
  assert.deepEqual(c.host, { name: 'WS-042', id: '12' });
  assert.deepEqual(c.user, { name: 'alice', domain: 'CORP' });
  // The file is named only in the description.
  assert.deepEqual(c.file, { name: 'mspaint.exe', path: 'c:\\windows\\system32\\mspaint.exe' });
  assert.equal(c.data.subtypeName, 'File approved (publisher)');
  const l = ac.context(SYSLOG_LOGIN);
  assert.equal(l.kind, 'auth');
  assert.equal(l.event_type, 'Console user login');
  assert.equal(l.outcome, 'success');
  assert.deepEqual(l.user, { name: 'admin' });
  assert.deepEqual(l.src, { ip: '10.0.0.2', user: 'admin' }); // the console client, not a computer
  assert.equal(l.host, undefined, 'hostname="System" names the server, not a machine');
  assert.deepEqual(l.device, { name: 'acserver' });
  assert.equal(l.data.subtype, 'Console user login');
  assert.equal(ac.context(SYSLOG_LOGIN.replace('Console user login', 'Console user login failed')).outcome, 'failure');
  const cefApproved = ac.context(CEF_APPROVED);
  assert.equal(cefApproved.kind, 'file');
  assert.deepEqual(cefApproved.host, { name: 'lnx-1', ip: '10.2.3.5' });
  assert.deepEqual(cefApproved.file, { name: 'lib.so', path: '/opt/app/lib.so' });
  assert.deepEqual(cefApproved.user, { name: 'root' });
  assert.ok(cefApproved.observables.some((o) => o.type === 'host' && o.value === 'lnx-1'));
});

test('context kinds follow the App Control event type; event_type is the subtype name on alerts too', () => {
  const kind = (type: string, subtype: string) =>
    ac.context(SYSLOG_LOGIN.replace('type="Session Management"', `type="${type}"`).replace('Console user login', subtype)).kind;
  assert.equal(kind('Computer Management', 'Agent disconnected'), 'status');
  assert.equal(kind('Internal Events', 'Agent health check'), 'status');
  assert.equal(kind('Server Management', 'Server setting changed'), 'audit');
  assert.equal(kind('Policy Management', 'Policy modified'), 'audit');
  assert.equal(kind('Discovery', 'New unapproved file to computer'), 'file');
  assert.equal(ac.alert(API_BLOCK).event_type, 'Execution block (unapproved file)');
  assert.equal(ac.alert(SYSLOG).event_type, 'Execution block (banned file)');
  assert.equal(ac.alert(CEF_BLOCK).event_type, 'Execution block (unapproved file)');
});

test('syslog key="value" event: banned file, threat 100 raises severity, US date', () => {
  const a = ac.alert(SYSLOG);
  assert.equal(a.time, '2015-01-08T16:23:07.000Z');
  assert.equal(a.title, "File 'c:\\users\\bob\\desktop\\x.exe' [3B463C94B52414CFAAD61ECDAC64CA84EAEA1AB4BE69F75834AAA7701AB5E7D0] was blocked because it was banned.");
  assert.deepEqual(a.rule, { name: 'Banned: x.exe', category: 'Policy Enforcement' });
  assert.equal(a.severity, 80); // Notice (PRI 13 → 5) raised: file_threat="100" is malicious
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.host, { name: 'WS1', ip: '10.1.1.5' });
  assert.deepEqual(a.device, { name: 'acserver' }, 'the syslog host is the App Control server');
  assert.deepEqual(a.user, { name: 'bob', domain: 'CORP' });
  assert.equal(a.file?.path, 'c:\\users\\bob\\desktop\\x.exe');
  assert.equal(a.file?.sha256, '3b463c94b52414cfaad61ecdac64ca84eaea1ab4be69f75834aaa7701ab5e7d0');
  assert.equal(a.process?.name, 'explorer.exe');
  const berlin = withParseContext({ timeZone: 'Europe/Berlin' }, () => ac.detector.parse(rawRecord(SYSLOG)));
  assert.equal(berlin.kind === 'alerts' ? berlin.alerts[0]!.time : '', '2015-01-08T15:23:07.000Z');
});

test('real syslog record (SC4S test message): "Carbon Black App Control event:" without "Server", RFC 5424 envelope, Report Only rule', () => {
  const line = fixtureLine('cb_app_control', 'sc4s_syslog.log', 1);
  const r = ac.run(line, 'auto');
  assert.ok(!('error' in r), JSON.stringify(r));
  assert.equal(r.detector, 'cb_app_control');
  const a = ac.alert(line);
  assert.equal(a.event_type, 'Execution block (unapproved file)');
  assert.equal(a.time, '2022-03-30T15:16:40.000Z'); // date= is UTC: the envelope says 11:17:11-04:00
  assert.equal(a.action, 'detected', 'the rule is in Report Only mode: the file "would have" been blocked, it was not');
  assert.deepEqual(a.rule, { name: 'Report read-only memory map operations on unapproved executables by .NET applications', category: 'Policy Enforcement' });
  assert.deepEqual(a.host, { name: 'USER', ip: '10.0.0.3' });
  assert.deepEqual(a.device, { name: 'host' });
  assert.deepEqual(a.user, { name: 'SYSTEM', domain: 'NT AUTHORITY' });
  assert.equal(a.file?.name, 'packet.dll');
  assert.equal(a.file?.sha256, 'c4e671bf409076a6bf0897e8a11e6f1366d4b21bf742c5e5e116059c9b571363');
  assert.equal(a.process?.name, 'microsoft.tri.sensor.updater.exe');
  // the documented "Server event:" form still blocks when it says so
  assert.equal(ac.alert(SYSLOG).action, 'blocked');
});

test('CEF event: severity from the header (9 - 5 = 4, Warning), computer from dhost, labelled custom fields', () => {
  const a = ac.alert(CEF_BLOCK);
  assert.equal(a.vendor_id, '8306996307');
  assert.equal(a.time, '2021-04-05T18:54:29.000Z'); // start=1617648869000
  assert.deepEqual(a.rule, { id: '801', name: 'Default', category: 'Policy Enforcement' });
  assert.equal(a.severity, 50);
  assert.equal(a.vendor_severity?.value, '4');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.host, { name: 'WS-7', ip: '10.2.3.4' }); // dvchost is the App Control server
  assert.deepEqual(a.device, { name: 'acserver' });
  assert.deepEqual(a.user, { name: 'carol', domain: 'CORP' });
  assert.deepEqual(a.file, { name: 'tool.exe', path: 'c:\\temp\\tool.exe', sha256: 'de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c' });
  assert.deepEqual(a.process, { name: 'explorer.exe' });
  // An ArcSight connector's word severity: deviceSeverity keeps the event severity.
  const c = ac.context(CEF_APPROVED);
  assert.equal(c.data.cef_severity, 'Medium');
  assert.equal(ac.alert(CEF_APPROVED.replace('|812|File approved (publisher)|', '|802|Execution block (banned file)|')).severity, 5);
});

test('malformed records are rejected with a reason', () => {
  assert.match(ac.error('{"subtypeName":"x","computerId":1,"subtype":1,"timestamp":"tomorrow"}'), /timestamp/);
  assert.match(ac.error('{"computerName":"x"}'), /subtype/);
  assert.match(ac.error('Carbon Black App Control Server event: text="x" type="y"'), /subtype|not an App Control/);
  assert.match(ac.error('CEF:0|VMware Carbon Black|App Control|8|801'), /CEF header/);
  assert.match(ac.error('just some text'), /not an App Control event/);
});

test('hostile values never crash or hang the detector (JSON)', () => {
  assert.ok(hostileVariants('cb_app_control', reg, [API_BLOCK, API_MALICIOUS]) > 500);
});

test('hostile text lines: injections, control characters, huge values, truncations', () => {
  const big = 'B'.repeat(1 << 20);
  const variants = [
    SYSLOG.replace('username="CORP\\bob"', `username="${big}"`),
    SYSLOG.replace('text="', 'text="\u0000\u001b[2J\r\nforged line '),
    SYSLOG.replace('hostname="CORP\\WS1"', 'hostname="$(reboot); DROP TABLE x; *)(uid=*"'),
    SYSLOG.replace('date="1/8/2015 4:23:07 PM"', 'date="13/45/2015 99:99:99 XM"'),
    CEF_BLOCK.replace('duser=CORP\\\\carol', `duser=${big}`),
    CEF_BLOCK.replace('start=1617648869000', 'start=yesterday'),
    `${SYSLOG} ${'subtype="x" '.repeat(20000)}`,
    ...[1, 10, 60, 200, SYSLOG.length - 3].map((n) => SYSLOG.slice(0, n)),
    ...[1, 30, 120, CEF_BLOCK.length - 3].map((n) => CEF_BLOCK.slice(0, n)),
  ];
  for (const v of variants) {
    const { value } = finishes(() => ac.run(v));
    assertNoCrash(value, v.slice(0, 60));
  }
});

test('property: arbitrary JSON, arbitrary text and mutated lines only ever raise ParseError', () => {
  propertyChecks(ac.detector, [API_BLOCK, API_MALICIOUS, API_APPROVAL]);
  const safe = (text: string) => {
    try {
      ac.detector.parse(rawRecord(text));
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
    }
    const s = ac.detector.sniff(rawRecord(text));
    assert.ok(s >= 0 && s <= 1);
  };
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => safe(s)), { numRuns: 300 });
  fc.assert(fc.property(fc.constantFrom(SYSLOG, CEF_BLOCK, CEF_APPROVED, SYSLOG_LOGIN), fc.nat(), fc.string({ maxLength: 60 }), (line, at, junk) => {
    const i = at % line.length;
    safe(line.slice(0, i) + junk + line.slice(i));
  }), { numRuns: 300 });
  assert.ok(obs(ac.alert(SYSLOG)).length > 0);
});

test('issue 13: a date field with up to 255 KB of blanks takes linear time (it took quadratic time: minutes)', async () => {
  const date = /date="[^"]*"/;
  for (const [name, value] of [
    ['blanks inside the date', (n: number) => `1/8/2015 4:23${' '.repeat(n)}:07 PM`],
    ['blanks after the date, then more', (n: number) => `1/8/2015 4:23:07 PM${' '.repeat(n)}x`],
    ['tabs and spaces alone', (n: number) => '\t '.repeat(n / 2)],
  ] as const) {
    const make = (n: number) => SYSLOG.replace(date, `date="${value(n)}"`);
    await assertLinear(`cb_app_control date, ${name}`, make, (text) => ac.run(text));
    const a = ac.alert(make(255 * 1024));
    assert.equal(a.time, '2025-01-08T16:23:07.000Z', `${name}: no date, so the syslog header's time`);
  }
});
