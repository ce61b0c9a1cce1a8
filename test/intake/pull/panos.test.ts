/**
 * The panos puller (pull receiver, vendor panos) against a local server that speaks the PAN-OS XML API's log
 * retrieval as documented: a job per query (enqueue, get while ACT, FIN with the entries, finish), X-PAN-KEY,
 * (seqno geq N) / (receive_time geq '…') queries, skip, dir=forward, 403 Invalid Credential, 503 + Retry-After.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { panosLogServer, parseQuery, threatFields } from '../../support/contracts/panos_logs.js';
import { waitState, withPullRig } from '../../support/pull.js';
import { waitFor } from '../../support/wait.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { loadDetectors } from '../../../src/detectors/lib/registry.js';
import { filterProblem } from '../../../src/intake/pull/vendors/panos.js';
import { pino } from 'pino';
import type { Logger } from '../../../src/util/log.js';

const KEY = 'LUFRPT1panos-test-key-3f9a0c=';
process.env['FIDO_TEST_PANOS_KEY'] = KEY;
const entry = (url: string, more: Record<string, unknown> = {}) => ({ vendor: 'panos', url, api_key: '${env:FIDO_TEST_PANOS_KEY}', page_size: 4, job_poll_interval: '5ms', ...more });
const seqs = (records: unknown[]) => records.map((r) => (r as { seqno: string }).seqno);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i));
const at = (s: number) => `2026/12/07 10:00:${String(s).padStart(2, '0')}`;
const params = (r: { query: URLSearchParams; form: URLSearchParams }) => new Map([...r.query, ...r.form]);

/** Logs threats 1..n (seqno 30001…) at one second each, from `now - 1 h` in UTC device time. */
function recent(i: number): string {
  const d = new Date(Date.now() - 3600_000 + i * 1000).toISOString();
  return `${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)} ${d.slice(11, 19)}`;
}

test('panos: threat logs since the start arrive once, in order, a job per page (enqueue, ACT, FIN, finish); then by seqno', async () => {
  const fw = await panosLogServer({ key: KEY, actPolls: 2 });
  try {
    for (let i = 1; i <= 10; i++) fw.log('threat', threatFields(i, { receive_time: recent(i), time_generated: recent(i) }));
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      const r = await receiver(entry(fw.url));
      assert.deepEqual(seqs(await waitRecords(10)), range(30001, 30010), 'every log once, oldest first');
      assert.ok(intake.batchSizes.filter((n) => n > 0).every((n) => n <= 4), `pages of at most page_size: ${intake.batchSizes}`);
      for (let i = 11; i <= 13; i++) fw.log('threat', threatFields(i, { receive_time: recent(i) }));
      assert.deepEqual(seqs(await waitRecords(13)), range(30001, 30013), 'later logs are read from the next seqno');
      const queries = fw.requests.filter((q) => params(q).get('type') === 'log' && !params(q).has('action')).map((q) => params(q));
      assert.match(queries[0]!.get('query') ?? '', /^\(receive_time geq '\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d'\)$/, 'a first run asks from the start time');
      assert.equal(queries[1]!.get('query'), '(seqno geq 30005)', 'then from the seqno after the last page');
      assert.ok(queries.every((q) => q.get('dir') === 'forward' && q.get('nlogs') === '4' && q.get('log-type') === 'threat'));
      const gets = fw.requests.filter((q) => params(q).get('action') === 'get');
      assert.ok(gets.length >= 3 * queries.length - 1, 'each job was polled through ACT to FIN');
      await waitFor('every job finished', () => fw.openJobs().length === 0);
      assert.ok(fw.finished.length >= queries.length - 1, 'jobs are freed with action=finish');
      assert.ok(fw.requests.every((q) => !q.query.toString().includes(KEY) && !q.body.includes(KEY) && q.headers['x-pan-key'] === KEY), 'the key goes in X-PAN-KEY only');
      const s = await waitState(r, 'caught up', (x) => x.records === 13 && x.lag_ms === 0);
      assert.equal(s.cursor, 'threat seqno 30014');
    });
  } finally {
    await fw.close();
  }
});

test('panos: a stored entry is read by the panos detector as the same alert as its syslog line would give', async () => {
  const fw = await panosLogServer({ key: KEY });
  try {
    fw.log('threat', threatFields(7, { receive_time: recent(1), time_generated: '2026/12/07 10:00:01', srcuser: 'corp\\alice', high_res_timestamp: '2026-12-07T10:00:01.250+01:00' }));
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(fw.url));
      await waitRecords(1);
      const registry = await loadDetectors();
      const parsed = registry.parseRecord(intake.committed[0]!, 'auto');
      assert.ok('outcome' in parsed, 'error' in parsed ? parsed.error : '');
      assert.equal(parsed.detector, 'panos', 'auto-detected');
      assert.ok(parsed.outcome.kind === 'alerts');
      const a = parsed.outcome.alerts[0]!;
      assert.equal(a.title, 'Test Vulnerability 7');
      assert.deepEqual(a.rule, { id: '30007', name: 'Test Vulnerability 7', category: 'code-execution' });
      assert.equal(a.severity, 95);
      assert.equal(a.action, 'blocked');
      assert.equal(a.time, '2026-12-07T09:00:01.250Z');
      assert.deepEqual(a.src, { ip: '10.84.12.242', port: 50007, user: 'alice' });
      assert.equal(a.dst?.ip, '192.0.2.67');
      assert.equal(a.url, 'http://www.example.com/index.php?id=1');
      assert.equal(a.vendor_id, '007051000057432:30001');
      assert.deepEqual(a.device, { name: 'PA-5250', id: '007051000057432' });
    });
  } finally {
    await fw.close();
  }
});

test('panos: a crash right after a page is committed resumes after that page: every log once', async () => {
  const fw = await panosLogServer({ key: KEY });
  try {
    for (let i = 1; i <= 11; i++) fw.log('threat', threatFields(i, { receive_time: recent(i) }));
    await withPullRig(async ({ receiver, waitRecords, intake, store, stop }) => {
      intake.crashAfter = 2;
      const first = await receiver(entry(fw.url));
      await waitRecords(8);
      intake.releaseCrash();
      await stop(first);
      const stored = JSON.parse((await readCursorValue(store.store.db, 'pull:api', 'position'))!) as { types: { threat: { seqno: string } } };
      assert.equal(stored.types.threat.seqno, '30009', 'the committed cursor is the one of the committed page');
      await receiver(entry(fw.url));
      assert.deepEqual(seqs(await waitRecords(11)), range(30001, 30011), 'nothing missed, nothing twice');
    });
  } finally {
    await fw.close();
  }
});

test('panos: Panorama (receive_time cursor): several firewalls, logs sharing a second across a page boundary, each once', async () => {
  const fw = await panosLogServer({ key: KEY, actPolls: 0 });
  try {
    // Two firewalls, seqnos of their own; six logs in one second (more than a page), then later ones.
    const serials = ['007051000011111', '007051000022222'];
    const t0 = recent(0);
    const t1 = recent(1);
    for (let i = 1; i <= 6; i++) fw.log('threat', threatFields(i, { serial: serials[i % 2]!, receive_time: t0 }));
    for (let i = 7; i <= 9; i++) fw.log('threat', threatFields(i, { serial: serials[i % 2]!, receive_time: t1 }));
    await withPullRig(async ({ receiver, waitRecords }) => {
      const r = await receiver(entry(fw.url, { cursor_field: 'receive_time' }));
      const got = (await waitRecords(9)) as Array<{ serial: string; seqno: string; tid: string }>;
      assert.deepEqual(got.map((e) => e.tid), range(30001, 30009), 'every log once, in order, across the page boundary inside one second');
      const queries = fw.requests.filter((q) => params(q).get('type') === 'log' && !params(q).has('action')).map((q) => params(q));
      assert.equal(queries[1]!.get('query'), `(receive_time geq '${t0}')`, 'the second page asks from the same second again…');
      assert.equal(queries[1]!.get('skip'), '4', '…past the four already taken there');
      fw.log('threat', threatFields(10, { serial: serials[0]!, receive_time: t1 }));
      const more = (await waitRecords(10)) as Array<{ tid: string }>;
      assert.deepEqual(more.map((e) => e.tid), range(30001, 30010), 'a late log in the newest second is taken, the others not again');
      const s = await waitState(r, 'caught up', (x) => x.lag_ms === 0);
      assert.equal(s.cursor, `threat ${t1.replace(/\//g, '-').replace(' ', 'T')}Z`);
    });
  } finally {
    await fw.close();
  }
});

test('panos: a device that ignores skip cannot make the receive_time cursor take a log twice or spin on one page', async () => {
  const fw = await panosLogServer({ key: KEY, actPolls: 0, ignoreSkip: true });
  try {
    for (let i = 1; i <= 6; i++) fw.log('threat', threatFields(i, { receive_time: recent(0) }));
    await withPullRig(async ({ receiver, waitRecords, logs, intake }) => {
      await receiver(entry(fw.url, { cursor_field: 'receive_time' }));
      await waitRecords(4);
      await waitFor('the warning', () => logs.some((l) => l.includes('a full page held only logs already taken')));
      assert.deepEqual(seqs(intake.committed.map((r) => JSON.parse(r) as unknown)), range(30001, 30004), 'the first page once, nothing again');
    });
  } finally {
    await fw.close();
  }
});

test('panos: in seqno mode, entries of several firewalls are refused naming the fix', async () => {
  const fw = await panosLogServer({ key: KEY });
  try {
    fw.log('threat', threatFields(1, { serial: '007051000011111', receive_time: recent(1) }));
    fw.log('threat', threatFields(2, { serial: '007051000022222', receive_time: recent(2) }));
    await withPullRig(async ({ receiver, intake }) => {
      const r = await receiver(entry(fw.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing');
      assert.match(s.error ?? '', /Panorama; set cursor_field: receive_time/);
      assert.equal(intake.committed.length, 0);
    });
  } finally {
    await fw.close();
  }
});

test('panos: several log types, one position each; the filter is wrapped in parentheses', async () => {
  const fw = await panosLogServer({ key: KEY, actPolls: 0 });
  try {
    for (let i = 1; i <= 3; i++) fw.log('threat', threatFields(i, { receive_time: recent(i), severity: i === 2 ? 'low' : 'critical' }));
    fw.log('url', threatFields(4, { subtype: 'url', receive_time: recent(4), threatid: '(9999)', tid: '9999', severity: 'critical' }));
    await withPullRig(async ({ receiver, waitRecords }) => {
      const r = await receiver(entry(fw.url, { log_types: ['threat', 'url'], filter: "(severity eq 'critical') or (severity eq high)" }));
      const got = (await waitRecords(3)) as Array<{ subtype: string; tid: string }>;
      assert.deepEqual(got.map((e) => `${e.subtype}:${e.tid}`).sort(), ['url:9999', 'vulnerability:30001', 'vulnerability:30003']);
      const q = await waitFor('a seqno query', () => fw.requests.map(params).find((p) => (p.get('query') ?? '').startsWith('(seqno')));
      assert.match(q.get('query')!, /^\(seqno geq \d+\) and \(\(severity eq 'critical'\) or \(severity eq high\)\)$/);
      const s = await waitState(r, 'both positions', (x) => /threat seqno/.test(x.cursor ?? '') && /url seqno/.test(x.cursor ?? ''));
      assert.equal(s.state, 'running');
    });
  } finally {
    await fw.close();
  }
});

test('panos: a 503 with Retry-After (device busy) waits as told and goes on; nothing lost', async () => {
  const fw = await panosLogServer({ key: KEY, busy: [1], rateLimited: [4] });
  try {
    for (let i = 1; i <= 6; i++) fw.log('threat', threatFields(i, { receive_time: recent(i) }));
    await withPullRig(async ({ receiver, waitRecords, logs }) => {
      const r = await receiver(entry(fw.url));
      const failing = await waitState(r, 'busy', (x) => x.state === 'failing');
      assert.match(failing.error ?? '', /503|429/, `the status says why: ${failing.error}`);
      assert.deepEqual(seqs(await waitRecords(6)), range(30001, 30006));
      const waited = logs.map((l) => JSON.parse(l) as { retry_in_ms?: number; msg: string }).filter((l) => l.msg === 'pull receiver failed; retrying');
      assert.ok(waited.length >= 2 && waited.every((l) => (l.retry_in_ms ?? 0) >= 900), `it waited as the device said, not its 20 ms interval: ${waited.map((l) => l.retry_in_ms)}`);
      await waitState(r, 'running again', (x) => x.state === 'running' && x.error === null);
    });
  } finally {
    await fw.close();
  }
});

test('panos: a refused key is a clear failing status, retried, and never shows the key', async () => {
  const fw = await panosLogServer({ key: 'another-key-entirely' });
  try {
    fw.log('threat', threatFields(1, { receive_time: recent(1) }));
    await withPullRig(async ({ receiver, logs, intake }) => {
      const r = await receiver(entry(fw.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing' && fw.requests.length >= 2);
      assert.match(s.error ?? '', /403/);
      assert.match(s.error ?? '', /Invalid Credential|refused/);
      assert.equal(intake.committed.length, 0);
      assert.ok(!JSON.stringify(s).includes(KEY) && !logs.join('\n').includes(KEY), 'the key is in neither the status nor the log');
    });
  } finally {
    await fw.close();
  }
});

test('panos: an error answer inside a 200 (status="error") fails naming it; a job that never finishes times out and is freed', async () => {
  const bad = await panosLogServer({ key: KEY, override: (r) => (params(r).has('action') ? undefined : { status: 200, body: '<response status="error" code="400"><msg><line>Invalid log-type</line></msg></response>' }) });
  const slow = await panosLogServer({ key: KEY, actPolls: 1_000_000 });
  try {
    slow.log('threat', threatFields(1, { receive_time: recent(1) }));
    await withPullRig(async ({ receiver }) => {
      const r = await receiver(entry(bad.url), { source: 'bad' });
      const s = await waitState(r, 'failing', (x) => x.state === 'failing');
      assert.match(s.error ?? '', /status="error" code 400: Invalid log-type/);
      const r2 = await receiver(entry(slow.url, { job_timeout: '50ms' }), { source: 'slow' });
      const s2 = await waitState(r2, 'job timeout', (x) => x.state === 'failing');
      assert.match(s2.error ?? '', /did not finish within 50 ms/);
      await waitFor('the timed-out job was freed', () => slow.finished.length >= 1);
    });
  } finally {
    await bad.close();
    await slow.close();
  }
});

test('panos: hostile entry content (HTML, SQL, control characters, XML entities) is stored as data', async () => {
  const fw = await panosLogServer({ key: KEY });
  try {
    const hostile = `<script>alert(1)</script>'; DROP TABLE alerts; --\u0001\u001b[31m & "quoted"`;
    fw.log('threat', threatFields(1, { receive_time: recent(1), threatid: hostile, misc: hostile, srcuser: hostile }));
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(fw.url));
      const [e] = (await waitRecords(1)) as Array<{ threatid: string; misc: string }>;
      assert.equal(e!.threatid, hostile, 'stored exactly as the device wrote it');
      assert.equal(e!.misc, hostile);
      const registry = await loadDetectors();
      const parsed = registry.parseRecord(intake.committed[0]!, 'panos');
      assert.ok('outcome' in parsed && parsed.outcome.kind === 'alerts', 'error' in parsed ? parsed.error : '');
      assert.equal(parsed.outcome.alerts[0]!.title, hostile);
    });
  } finally {
    await fw.close();
  }
});

test('panos: the stand-in query language is what PAN-OS accepts (sanity of the test double)', () => {
  const e = { seqno: '30010', receive_time: '2026/12/07 10:00:05', severity: 'high' };
  assert.equal(parseQuery('(seqno geq 30010)')!(e), true);
  assert.equal(parseQuery('(seqno geq 30011)')!(e), false);
  assert.equal(parseQuery(`(receive_time geq '${at(5)}') and ((severity eq high) or (severity eq critical))`)!(e), true);
  assert.equal(parseQuery('(seqno geq 1'), null);
});

test('panos config: a missing key, a bad filter, log type, cursor field or time zone is named with its key', async () => {
  const log = pino({ level: 'silent' }) as unknown as Logger;
  const build = (receiver: Record<string, unknown>) =>
    createReceivers([{ name: 'api', receiver: { kind: 'pull', ...receiver } } as never], { store: null as never, intake: null as never, log, configDir: '/tmp', owner: 'x' });
  const ok = { vendor: 'panos', url: 'https://fw.example.com', api_key: '${env:FIDO_TEST_PANOS_KEY}' };
  await assert.rejects(build({ vendor: 'panos', url: 'https://fw.example.com' }), /sources\.api\.receiver.*api_key/);
  await assert.rejects(build({ ...ok, filter: "(addr.src in '10.0.0.0/8')) or ((seqno geq 0)" }), /sources\.api\.receiver\.filter: closes a parenthesis it did not open/);
  await assert.rejects(build({ ...ok, filter: "(severity eq 'high)" }), /sources\.api\.receiver\.filter: leaves a ' quote open/);
  await assert.rejects(build({ ...ok, filter: '(severity eq high)\n' }), /sources\.api\.receiver\.filter: contains a control character/);
  await assert.rejects(build({ ...ok, log_types: ['threat', 'nope'] }), /sources\.api\.receiver\.log_types/);
  await assert.rejects(build({ ...ok, cursor_field: 'time' }), /sources\.api\.receiver\.cursor_field/);
  await assert.rejects(build({ ...ok, time_zone: 'Mars/Olympus' }), /sources\.api\.receiver\.time_zone: "Mars\/Olympus" is not an IANA time zone/);
  await assert.rejects(build({ ...ok, job_timeout: 'later' }), /sources\.api\.receiver\.job_timeout/);
  await assert.rejects(build({ vendor: 'panos', api_key: '${env:FIDO_TEST_PANOS_KEY}' }), /sources\.api\.receiver\.url: is required for vendor panos/);
  assert.equal(filterProblem("(app eq 'web-browsing') and (rule eq \"a (b)\")"), null, 'parentheses inside quotes are text');
});
