import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyslog } from '../../src/detectors/lib/syslog.js';

const reference = new Date('2026-01-02T10:00:00Z');

test('RFC 5424: all header fields, structured data with escapes, BOM removed', () => {
  // The examples of RFC 5424 §6.5, the SD one extended with escaped characters.
  const m = parseSyslog('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\\"lic\\]ation" eventID="1011"][examplePriority@32473 class="high"] \uFEFFAn application event log entry...');
  assert.ok(m);
  assert.equal(m.format, 'rfc5424');
  assert.equal(m.pri, 165);
  assert.equal(m.facility, 20);
  assert.equal(m.severity, 5);
  assert.equal(m.timestamp, '2003-10-11T22:14:15.003Z');
  assert.equal(m.hostname, 'mymachine.example.com');
  assert.equal(m.appName, 'evntslog');
  assert.equal(m.procId, undefined);
  assert.equal(m.msgId, 'ID47');
  assert.equal(m.structuredData.length, 2);
  assert.equal(m.structuredData[0]!.id, 'exampleSDID@32473');
  assert.equal(m.structuredData[0]!.params.eventSource, 'App"lic]ation');
  assert.equal(m.structuredData[1]!.params.class, 'high');
  assert.equal(m.message, 'An application event log entry...');
});

test('RFC 5424: nil values and no message', () => {
  const m = parseSyslog('<34>1 2003-10-11T22:14:15.003-07:00 - - - - -');
  assert.equal(m?.timestamp, '2003-10-12T05:14:15.003Z');
  assert.equal(m?.hostname, undefined);
  assert.deepEqual(m?.structuredData, []);
  assert.equal(m?.message, '');
});

test('RFC 3164: PRI, date, host, tag[pid], message; year inferred from the reference', () => {
  const m = parseSyslog('<34>Oct 11 22:14:15 mymachine su[123]: \'su root\' failed for lonvick on /dev/pts/8', { reference });
  assert.ok(m);
  assert.equal(m.format, 'rfc3164');
  assert.equal(m.pri, 34);
  assert.equal(m.facility, 4);
  assert.equal(m.severity, 2);
  assert.equal(m.timestamp, '2025-10-11T22:14:15.000Z');
  assert.equal(m.rawTimestamp, 'Oct 11 22:14:15');
  assert.equal(m.hostname, 'mymachine');
  assert.equal(m.appName, 'su');
  assert.equal(m.procId, '123');
  assert.equal(m.message, "'su root' failed for lonvick on /dev/pts/8");
});

test('RFC 3164: year inference across New Year, time-zone option', () => {
  assert.equal(parseSyslog('<13>Dec 31 23:59:59 host app: x', { reference })?.timestamp, '2025-12-31T23:59:59.000Z');
  assert.equal(parseSyslog('<13>Jan  2 09:00:00 host app: x', { reference })?.timestamp, '2026-01-02T09:00:00.000Z');
  assert.equal(parseSyslog('<13>Jan  2 09:00:00 host app: x', { reference, timeZone: 'Europe/Berlin' })?.timestamp, '2026-01-02T08:00:00.000Z');
  assert.equal(parseSyslog('<13>Jan  2 09:00:00 host app: x', { reference, timeZone: '+05:30' })?.timestamp, '2026-01-02T03:30:00.000Z');
});

test('RFC 3164 variants: no PRI, no host, year in the date, RFC 3339 date, Cisco " : "', () => {
  const noPri = parseSyslog('Feb  5 12:00:00 fw01 kernel: drop', { reference });
  assert.equal(noPri?.pri, undefined);
  assert.equal(noPri?.hostname, 'fw01');
  assert.equal(noPri?.appName, 'kernel');

  const noHost = parseSyslog('<13>Feb  5 12:00:00 sshd[99]: Accepted publickey', { reference });
  assert.equal(noHost?.hostname, undefined);
  assert.equal(noHost?.appName, 'sshd');
  assert.equal(noHost?.message, 'Accepted publickey');

  const cisco = parseSyslog('<166>Jan 05 2012 12:34:56 asa01 : %ASA-6-302013: Built outbound TCP connection');
  assert.equal(cisco?.timestamp, '2012-01-05T12:34:56.000Z');
  assert.equal(cisco?.hostname, 'asa01');
  assert.equal(cisco?.message, '%ASA-6-302013: Built outbound TCP connection');

  const iso = parseSyslog('<30>2024-05-01T10:00:00.123456+02:00 web01 nginx: GET /');
  assert.equal(iso?.timestamp, '2024-05-01T08:00:00.123Z');
  assert.equal(iso?.hostname, 'web01');
  assert.equal(iso?.appName, 'nginx');

  const cef = parseSyslog('<134>Feb 13 12:00:00 dsm01 CEF:0|Trend Micro|Deep Security Manager|1|600|x|3|', { reference });
  assert.equal(cef?.hostname, 'dsm01');
  assert.equal(cef?.appName, undefined);
  assert.equal(cef?.message, 'CEF:0|Trend Micro|Deep Security Manager|1|600|x|3|');
});

test('not syslog: undefined, never an exception', () => {
  for (const s of ['', 'hello world', '<999>Feb  5 12:00:00 h a: m', 'Foo  5 12:00:00 h a: m', 'Feb 31 12:00:00 h a: m', '<13>1 broken', '{"json":1}']) {
    assert.equal(parseSyslog(s, { reference }), undefined, s);
  }
  // A malformed RFC 5424 structured-data block is not taken as 5424; the 3164 reading does not apply either.
  assert.equal(parseSyslog('<13>1 2003-10-11T22:14:15Z h a p m [id x="unterminated'), undefined);
});
