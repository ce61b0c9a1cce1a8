/**
 * Nothing fails silently (issue 13, item 7), API side: every 5xx is counted and logged with its context —
 * route, path without query, status, who — and never with headers, query strings or record text; a flood
 * of one kind of failure is throttled in the log, never in the counter.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { spawnSync } from 'node:child_process';
import { auth, testApi, TOKENS } from '../support/api.js';
import { log } from '../../src/util/log.js';
import { apiServerErrors, intakeCommitFailedRecords, intakeCommitFailures } from '../../src/metrics.js';

type Counter = { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number | undefined> }> }> };

async function count(c: Counter, labels: Record<string, string>): Promise<number> {
  const { values } = await c.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

/** Captures what the shared logger is asked to write at error and warn level. */
function captureLog(t: TestContext) {
  const lines: Array<{ level: 'error' | 'warn'; obj: Record<string, unknown>; msg: string }> = [];
  t.mock.method(log, 'error', (obj: Record<string, unknown>, msg: string) => void lines.push({ level: 'error', obj, msg }));
  t.mock.method(log, 'warn', (obj: Record<string, unknown>, msg: string) => void lines.push({ level: 'warn', obj, msg }));
  return lines;
}

test('a 500 is logged with its context (bounded, no secrets) and counted; a handler\'s own 503 too', async (t) => {
  const api = await testApi('sqlite');
  const lines = captureLog(t);
  try {
    api.app.get('/test/boom', { config: { role: 'viewer' } }, async () => {
      throw new Error(`kaboom\n${'attacker text '.repeat(500)}`);
    });
    api.app.get('/test/busy', async (_req, reply) => reply.code(503).send({ error: 'unavailable', message: 'not now' }));
    const before500 = await count(apiServerErrors, { method: 'GET', route: '/test/boom', status: '500' });
    const before503 = await count(apiServerErrors, { route: '/test/busy', status: '503' });

    const r = await api.app.inject({ method: 'GET', url: '/test/boom?q=secret-search-term', headers: auth('viewer') });
    assert.equal(r.statusCode, 500);
    assert.deepEqual(r.json(), { error: 'internal', message: 'internal error' }, 'the client learns nothing');
    assert.equal((await api.app.inject({ method: 'GET', url: '/test/busy' })).statusCode, 503);

    assert.equal(await count(apiServerErrors, { method: 'GET', route: '/test/boom', status: '500' }), before500 + 1);
    assert.equal(await count(apiServerErrors, { route: '/test/busy', status: '503' }), before503 + 1);
    const boom = lines.find((l) => l.obj.route === '/test/boom');
    assert.ok(boom, JSON.stringify(lines));
    assert.equal(boom.level, 'error');
    assert.equal(boom.msg, 'API answered 500');
    assert.deepEqual(
      [boom.obj.method, boom.obj.path, boom.obj.status, boom.obj.principal, typeof boom.obj.ms, typeof boom.obj.req_id],
      ['GET', '/test/boom', 500, 'viewer', 'number', 'string'],
    );
    const err = boom.obj.err as { type: string; message: string };
    assert.equal(err.type, 'Error');
    assert.match(err.message, /^kaboom attacker text/);
    assert.ok(err.message.length <= 300, `bounded: ${err.message.length}`);
    const text = JSON.stringify(lines);
    assert.ok(!text.includes('secret-search-term'), 'no query string');
    assert.ok(!text.includes(TOKENS.viewer), 'no token');
    assert.ok(!/authorization|stack/i.test(text), 'no headers, no stack');
    const busy = lines.find((l) => l.obj.route === '/test/busy');
    assert.deepEqual([busy?.level, busy?.obj.status, busy?.obj.err], ['warn', 503, undefined]);
  } finally {
    await api.close();
  }
});

test('a flood of one failure: every one counted, the log throttled and then told how many it left out', async (t) => {
  const api = await testApi('sqlite');
  const lines = captureLog(t);
  try {
    api.app.get('/test/flood', async () => {
      throw new Error('down');
    });
    const before = await count(apiServerErrors, { route: '/test/flood' });
    for (let i = 0; i < 30; i++) assert.equal((await api.app.inject({ method: 'GET', url: '/test/flood' })).statusCode, 500);
    assert.equal(await count(apiServerErrors, { route: '/test/flood' }), before + 30);
    assert.equal(lines.filter((l) => l.obj.route === '/test/flood').length, 20);
  } finally {
    await api.close();
  }
});

test('a failed intake commit: logged by the writer (sources, counts, error; no record text) and by the API (503), and counted', async (t) => {
  const api = await testApi('sqlite');
  const lines = captureLog(t);
  try {
    await sql`create trigger refuse_ids before insert on intake when new.source = 'ids' begin select raise(abort, 'disk says no'); end`.execute(api.t.store.db);
    const labels = { source: 'ids' };
    const [failures, records, answered] = [await count(intakeCommitFailures, labels), await count(intakeCommitFailedRecords, labels), await count(apiServerErrors, { route: '/api/v1/alerts/:source', status: '503' })];
    const marker = 'MARKER-password=hunter2';
    const body = [1, 2].map((n) => JSON.stringify({ timestamp: '2026-11-27T10:00:00Z', event_type: 'alert', n, note: marker })).join('\n');
    const r = await api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': 'application/x-ndjson' }, payload: body });
    assert.equal(r.statusCode, 503, r.body);

    assert.equal(await count(intakeCommitFailures, labels), failures + 1);
    assert.equal(await count(intakeCommitFailedRecords, labels), records + 2);
    assert.equal(await count(apiServerErrors, { route: '/api/v1/alerts/:source', status: '503' }), answered + 1);
    const commit = lines.find((l) => l.msg.startsWith('intake commit failed'));
    assert.ok(commit, JSON.stringify(lines));
    assert.equal(commit.level, 'error');
    assert.deepEqual(commit.obj.sources, { ids: { records: 2, detector: 'suricata' } });
    assert.equal(commit.obj.records, 2);
    assert.equal(commit.obj.bytes, Buffer.byteLength(body) - 1);
    assert.match((commit.obj.err as { message: string }).message, /disk says no/);
    const http = lines.find((l) => l.obj.route === '/api/v1/alerts/:source');
    assert.deepEqual([http?.level, http?.obj.status, http?.obj.path, http?.obj.principal], ['warn', 503, '/api/v1/alerts/ids', 'analyst']);
    assert.ok(!JSON.stringify(lines).includes(marker), 'no record text in any line');
  } finally {
    await api.close();
  }
});

test('server.access_log: one info line per request, with route, status and who, never the query string', async (t) => {
  const quiet = await testApi('sqlite');
  const api = await testApi('sqlite', { server: { access_log: true } });
  const lines: Array<Record<string, unknown>> = [];
  t.mock.method(log, 'info', (obj: Record<string, unknown>, msg: string) => void (msg === 'request' && lines.push(obj)));
  try {
    await quiet.app.inject({ url: '/api/v1/incidents', headers: auth('viewer') });
    assert.equal(lines.length, 0, 'off unless configured');
    await api.app.inject({ url: '/api/v1/incidents?q=secret-search-term', headers: auth('viewer') });
    await api.app.inject({ url: '/api/v1/incidents' });
    assert.equal(lines.length, 2);
    assert.deepEqual([lines[0]!.method, lines[0]!.route, lines[0]!.path, lines[0]!.status, lines[0]!.principal], ['GET', '/api/v1/incidents', '/api/v1/incidents', 200, 'viewer']);
    assert.deepEqual([lines[1]!.status, lines[1]!.principal], [401, undefined]);
    assert.ok(!JSON.stringify(lines).includes('secret-search-term'));
    assert.ok(!JSON.stringify(lines).includes(TOKENS.viewer));
  } finally {
    await quiet.close();
    await api.close();
  }
});

test('log lines carry the level by name and the time in ISO 8601', () => {
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/util/log.ts').then((m) => m.log.warn({ n: 1 }, 'hello'))"], {
    cwd: new URL('../..', import.meta.url),
    env: { ...process.env, FIDO_LOG_LEVEL: 'info' },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  const line = JSON.parse(out.stdout.trim()) as { level: unknown; time: unknown; msg: unknown };
  assert.equal(line.level, 'warn');
  assert.match(String(line.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.equal(line.msg, 'hello');
});
