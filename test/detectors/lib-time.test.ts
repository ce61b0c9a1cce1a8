import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimestamp, tryParseTimestamp, inferYear, resolveTimeZone, zonedToUtc } from '../../src/detectors/lib/time.js';
import { withParseContext } from '../../src/detectors/lib/context.js';
import { ParseError } from '../../src/detectors/detector.js';

test('ISO-8601 with and without zone', () => {
  assert.equal(parseTimestamp('2018-07-05T15:07:20.910626-0400'), '2018-07-05T19:07:20.910Z'); // Suricata: no colon
  assert.equal(parseTimestamp('2018-10-03T14:42:44.836744+0000'), '2018-10-03T14:42:44.836Z');
  assert.equal(parseTimestamp('2024-02-29T23:59:59+05:30'), '2024-02-29T18:29:59.000Z');
  assert.equal(parseTimestamp('2024-01-02 03:04:05Z'), '2024-01-02T03:04:05.000Z');
  assert.equal(parseTimestamp('2024-01-02T03:04:05.1Z'), '2024-01-02T03:04:05.100Z');
  assert.equal(parseTimestamp('2009-11-24T21:27:09.534255'), '2009-11-24T21:27:09.534Z'); // zone-less: UTC default
  assert.equal(parseTimestamp('2019/05/15 18:03:36'), '2019-05-15T18:03:36.000Z'); // PAN-OS
  assert.equal(parseTimestamp('2024-01-02'), '2024-01-02T00:00:00.000Z');
});

test('zone-less forms take the time-zone option (IANA, with DST, or offset)', () => {
  assert.equal(parseTimestamp('2024-07-01 12:00:00', { timeZone: 'Europe/Berlin' }), '2024-07-01T10:00:00.000Z'); // CEST
  assert.equal(parseTimestamp('2024-01-15 12:00:00', { timeZone: 'Europe/Berlin' }), '2024-01-15T11:00:00.000Z'); // CET
  assert.equal(parseTimestamp('2024-01-15 12:00:00', { timeZone: '-05:00' }), '2024-01-15T17:00:00.000Z');
  assert.equal(parseTimestamp('2024-01-15 12:00:00', { timeZone: 'America/New_York' }), '2024-01-15T17:00:00.000Z');
  // A zone written in the value wins over the option.
  assert.equal(parseTimestamp('2024-01-15T12:00:00Z', { timeZone: 'Asia/Tokyo' }), '2024-01-15T12:00:00.000Z');
  // The parse context supplies the default.
  assert.equal(withParseContext({ timeZone: 'Asia/Tokyo' }, () => parseTimestamp('2024-01-15 09:00:00')), '2024-01-15T00:00:00.000Z');
});

test('DST gaps and overlaps resolve to a real instant', () => {
  // 2024-03-31 02:30 does not exist in Berlin; 2024-10-27 02:30 exists twice. Both must give a valid time
  // within an hour of the naive reading.
  const gap = Date.parse(parseTimestamp('2024-03-31 02:30:00', { timeZone: 'Europe/Berlin' }));
  const overlap = Date.parse(parseTimestamp('2024-10-27 02:30:00', { timeZone: 'Europe/Berlin' }));
  assert.ok(Math.abs(gap - Date.parse('2024-03-31T00:30:00Z')) <= 3600_000);
  assert.ok(Math.abs(overlap - Date.parse('2024-10-27T00:30:00Z')) <= 3600_000);
  assert.equal(zonedToUtc({ year: 2024, month: 7, day: 1, hour: 0, minute: 0, second: 0, ms: 0 }, 'Australia/Sydney'), Date.parse('2024-06-30T14:00:00Z'));
});

test('epoch seconds, milliseconds, microseconds, nanoseconds', () => {
  assert.equal(parseTimestamp(1538577764), '2018-10-03T14:42:44.000Z');
  assert.equal(parseTimestamp('1538577764.836744'), '2018-10-03T14:42:44.836Z');
  assert.equal(parseTimestamp('1538577764836'), '2018-10-03T14:42:44.836Z');
  assert.equal(parseTimestamp(1538577764836744), '2018-10-03T14:42:44.836Z');
  assert.equal(parseTimestamp('1538577764836744000'), '2018-10-03T14:42:44.836Z');
  assert.equal(tryParseTimestamp(0), undefined); // "unset", not 1970
});

test('syslog and CEF rt forms', () => {
  const reference = new Date('2024-06-10T00:00:00Z');
  assert.equal(parseTimestamp('Feb  5 12:00:00', { reference }), '2024-02-05T12:00:00.000Z');
  assert.equal(parseTimestamp('Feb 05 2019 12:00:00'), '2019-02-05T12:00:00.000Z');
  assert.equal(parseTimestamp('Feb 05 2019 12:00:00.123'), '2019-02-05T12:00:00.123Z');
  assert.equal(parseTimestamp('Feb 05 2019 12:00:00.123 UTC'), '2019-02-05T12:00:00.123Z');
  assert.equal(parseTimestamp('Feb 05 2019 12:00:00 CET'), '2019-02-05T11:00:00.000Z');
  assert.equal(parseTimestamp('Feb 05 2019 12:00:00 Europe/Berlin'), '2019-02-05T11:00:00.000Z');
  assert.equal(parseTimestamp('Feb 05 2019 12:00:00 +0100'), '2019-02-05T11:00:00.000Z');
  assert.equal(parseTimestamp('Tue Feb 5 12:00:00 2019'), '2019-02-05T12:00:00.000Z'); // ctime
  assert.equal(parseTimestamp('September 5 2019 12:00:00'), '2019-09-05T12:00:00.000Z');
  assert.equal(parseTimestamp('Tue, 15 Nov 1994 08:12:31 GMT'), '1994-11-15T08:12:31.000Z');
  assert.equal(parseTimestamp('10/Oct/2000:13:55:36 -0700'), '2000-10-10T20:55:36.000Z');
});

test('year inference: closest to the reference, never far after it', () => {
  const d = (month: number, day: number) => ({ month, day, hour: 12, minute: 0, second: 0, ms: 0 });
  const jan2 = new Date('2026-01-02T10:00:00Z');
  assert.equal(inferYear(d(12, 31), jan2), 2025); // last year's New Year's Eve, received two days later
  assert.equal(inferYear(d(1, 2), jan2), 2026); // two hours "in the future": clock skew, same year
  assert.equal(inferYear({ ...d(1, 3), hour: 8 }, jan2), 2026); // 22 h ahead: within the one-day tolerance
  assert.equal(inferYear(d(1, 4), jan2), 2025); // two days ahead: an old line, not a future one
  assert.equal(inferYear(d(6, 1), jan2), 2025);
  assert.equal(inferYear(d(2, 29), jan2), 2024); // the nearest leap year before the reference
  assert.equal(inferYear({ ...d(12, 31), hour: 23 }, new Date('2025-12-31T22:30:00Z'), 'Europe/Berlin'), 2025);
  assert.equal(parseTimestamp('Dec 31 23:59:59', { reference: jan2 }), '2025-12-31T23:59:59.000Z');
  assert.equal(withParseContext({ receivedAt: jan2 }, () => parseTimestamp('Dec 31 23:59:59')), '2025-12-31T23:59:59.000Z');
});

test('invalid timestamps are ParseErrors that name the field and value', () => {
  for (const bad of ['', 'yesterday', '2024-13-01T00:00:00Z', '2024-02-30 00:00:00', '2024-01-01T25:00:00Z', 'Feb 30 2024 00:00:00',
    'Foo 05 2019 12:00:00', '2024-01-01T00:00:00 IST', '2024-01-01T00:00:00 Mars/Olympus', '1.2.3.4', '12345', 'x'.repeat(10_000)]) {
    assert.throws(() => parseTimestamp(bad, { field: 'rt' }), (e: unknown) => e instanceof ParseError && e.message.startsWith('rt: unrecognised timestamp'), bad.slice(0, 40));
  }
  assert.throws(() => parseTimestamp({}), ParseError);
  assert.throws(() => parseTimestamp(Number.NaN), ParseError);
});

test('resolveTimeZone rejects unknown zones with a clear message', () => {
  assert.throws(() => resolveTimeZone('Mars/Olympus'), /unknown time zone "Mars\/Olympus"/);
  assert.throws(() => resolveTimeZone('+25:00'), /unknown time zone/);
  assert.doesNotThrow(() => resolveTimeZone('UTC'));
  assert.doesNotThrow(() => resolveTimeZone('GMT+01:00'));
});
