import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auth, testApi } from '../support/api.js';
import { DIALECTS } from '../support/stores.js';
import { INGEST_CURSOR, readCursor } from '../../src/store/log.js';
import { recordFate } from '../../src/store/fates.js';
import type { InjectOptions } from 'fastify';

const eve = (sig: string) => JSON.stringify({ timestamp: '2026-11-27T10:00:00.000000+0000', event_type: 'alert', src_ip: '10.0.0.5', dest_ip: '203.0.113.9', alert: { signature: sig, signature_id: 1, severity: 1 } });

for (const dialect of DIALECTS) {
  test(`intake on ${dialect}: 202 only with the raw records committed, byte for byte`, async () => {
    const api = await testApi(dialect);
    try {
      const one = eve('one');
      const r = await api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': 'application/json' }, payload: one });
      assert.equal(r.statusCode, 202, r.body);
      const body = r.json() as { accepted: number; ids: string[] };
      assert.equal(body.accepted, 1);
      const row = await api.t.store.db.selectFrom('intake').selectAll().where('id', '=', body.ids[0]!).executeTakeFirstOrThrow();
      assert.equal(row.raw, one);
      assert.equal(row.source, 'ids');
      assert.equal(row.detector, 'suricata');
      // In the log after ingest's cursor: pending until the pipeline reaches it.
      assert.equal(Number(row.seq) > (await readCursor(api.t.store.db, INGEST_CURSOR)), true);
      assert.equal((await recordFate(api.t.store.db, body.ids[0]!))?.fate, 'pending');

      const nd = [eve('a'), eve('b'), '', eve('c')].join('\n');
      const r2 = await api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': 'application/x-ndjson' }, payload: nd });
      assert.equal(r2.statusCode, 202);
      assert.equal((r2.json() as { accepted: number }).accepted, 3);

      const arr = JSON.stringify([JSON.parse(eve('x')), 'CEF:0|V|P|1|2|n|5|src=1.2.3.4']);
      const r3 = await api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': 'application/json; charset=utf-8' }, payload: arr });
      assert.equal(r3.statusCode, 202);
      const ids = (r3.json() as { ids: string[] }).ids;
      const raws = await api.t.store.db.selectFrom('intake').select('raw').where('id', 'in', ids).orderBy('id').execute();
      assert.equal(raws[1]!.raw, 'CEF:0|V|P|1|2|n|5|src=1.2.3.4');
    } finally {
      await api.close();
    }
  });
}

test('intake refuses bad input with a status and a message that names the problem', async () => {
  const api = await testApi('sqlite', { maxBodyBytes: 4096 });
  const post = (payload: string, type = 'application/json', headers = auth('analyst')) =>
    api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...headers, 'content-type': type }, payload });
  try {
    let r = await post('{"a":1');
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /not valid JSON/);
    r = await post('[{"a":1}, 5]');
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /element 1 is a number/);
    r = await post('{"a":1}\nnot json\n', 'application/x-ndjson');
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /line 2 is not valid JSON/);
    r = await post('  \n\n', 'text/plain');
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /no records/);
    r = await post('x'.repeat(5000), 'text/plain');
    assert.equal(r.statusCode, 413);
    r = await post('<a/>', 'application/xml');
    assert.equal(r.statusCode, 415);
    assert.deepEqual(r.json().allowed, ['application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'text/plain']);
    assert.match(r.json().message, /application\/xml.*send one of application\/json/);
    r = await post('{"a":1}', 'application/json', { authorization: 'Bearer nope-nope-nope' });
    assert.equal(r.statusCode, 401);
    r = await post('{"a":1}', 'application/json', auth('viewer'));
    assert.equal(r.statusCode, 403);
    r = await api.app.inject({ method: 'POST', url: "/api/v1/alerts/x'%20or%201=1", headers: { ...auth('admin'), 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(r.statusCode, 400);
    // Nothing of the refused requests reached the intake log.
    const n = await api.t.store.db.selectFrom('intake').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 0);
  } finally {
    await api.close();
  }
});

test('undeclared sources: admin only, and only when the config allows it', async () => {
  const api = await testApi('sqlite', { allowUndeclared: true });
  const closed = await testApi('sqlite', { allowUndeclared: false });
  try {
    const req = (a: typeof api, role: 'analyst' | 'admin') =>
      a.app.inject({ method: 'POST', url: '/api/v1/alerts/new-sensor', headers: { ...auth(role), 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal((await req(api, 'analyst')).statusCode, 403);
    assert.equal((await req(api, 'admin')).statusCode, 202);
    const r = await req(closed, 'admin');
    assert.equal(r.statusCode, 404);
    assert.match(r.json().message, /not declared/);
    assert.equal(r.json().error, 'unknown_source');
    assert.ok(Array.isArray(r.json().allowed) && r.json().allowed.includes('ids'), 'the declared sources are listed');
  } finally {
    await api.close();
    await closed.close();
  }
});

test('backpressure: 429 with Retry-After once the backlog passes its bound', async () => {
  const api = await testApi('sqlite', { maxBacklog: 5 });
  try {
    const post = () => api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': 'text/plain' }, payload: 'a\nb\nc' });
    assert.equal((await post()).statusCode, 202);
    const r = await post();
    assert.equal(r.statusCode, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1);
  } finally {
    await api.close();
  }
});

test('health and the OpenAPI document need no token; metrics do', async () => {
  const api = await testApi('sqlite');
  try {
    assert.equal((await api.app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await api.app.inject({ url: '/api/v1/healthz' })).json().status, 'ok');
    assert.equal((await api.app.inject({ url: '/api/v1/metrics' })).statusCode, 401);
    const m = await api.app.inject({ url: '/api/v1/metrics', headers: auth('viewer') });
    assert.equal(m.statusCode, 200);
    assert.match(m.body, /fido_intake_alerts_total/);
    // The backlog is read from the store at each scrape: true at once, in records and in seconds of lag.
    const t0 = Date.now();
    const posted = await api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': 'application/x-ndjson' }, payload: [eve('a'), eve('b'), eve('c')].join('\n') });
    assert.equal(posted.statusCode, 202);
    await new Promise((r) => setTimeout(r, 20));
    const after = (await api.app.inject({ url: '/api/v1/metrics', headers: auth('viewer') })).body;
    assert.match(after, /^fido_stage_backlog\{stage="normalize"\} 3$/m);
    assert.match(after, /^fido_stage_backlog\{stage="decide"\} 0$/m);
    const lag = Number(/^fido_stage_lag_seconds\{stage="normalize"\} (\S+)$/m.exec(after)?.[1]);
    assert.ok(lag > 0 && lag <= (Date.now() - t0) / 1000 + 0.001, `lag ${lag}`);
    // The OpenAPI document is public: it describes the API, not what is stored.
    const doc = (await api.app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>> };
    for (const p of ['/api/v1/alerts/{source}', '/api/v1/incidents', '/api/v1/incidents/{id}', '/api/v1/actions/{id}/approve']) assert.ok(doc.paths[p], p);
    const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods));
    const ids = operations.map((o) => o.operationId);
    assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), 'every operation has an id');
    assert.equal(new Set(ids).size, ids.length, `operation ids are unique: ${ids.join(', ')}`);
    assert.ok(ids.includes('postActionsByIdApprove') && ids.includes('getIncidents'), ids.join(', '));
    assert.ok(operations.every((o) => (o.tags?.length ?? 0) === 1), 'every operation has a tag');
    assert.ok(!doc.paths['/healthz'] && doc.paths['/api/v1/healthz'], 'each probe path is listed once');
    // Response bodies are described from the model's schemas, errors by the one error body.
    type Described = { responses: Record<string, { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }> };
    const detail = (doc.paths['/api/v1/incidents/{id}']!.get as unknown as Described).responses;
    const props = (code: string) => Object.keys(detail[code]!.content['application/json']!.schema.properties ?? {});
    for (const key of ['score', 'decision', 'alerts', 'enrichment', 'actions', 'timeline']) assert.ok(props('200').includes(key), `incident detail describes ${key}`);
    assert.deepEqual(props('404'), ['error', 'message', 'allowed']);
  } finally {
    await api.close();
  }
});

test('every error answer has one shape: error (a code), message, and allowed when there is a choice', async () => {
  const api = await testApi('sqlite');
  try {
    const check = async (req: InjectOptions, status: number, code: string) => {
      const r = await api.app.inject(req);
      assert.equal(r.statusCode, status, `${JSON.stringify(req)}: ${r.body}`);
      const body = r.json() as Record<string, unknown>;
      assert.equal(body.error, code, r.body);
      assert.equal(typeof body.message, 'string');
      assert.deepEqual(Object.keys(body).filter((k) => !['error', 'message', 'allowed'].includes(k)), [], r.body);
      return body;
    };
    await check({ url: '/api/v1/nothing-here', headers: auth('viewer') }, 404, 'not_found');
    await check({ url: '/api/v1/incidents' }, 401, 'unauthorized');
    await check({ url: '/api/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV', headers: auth('viewer') }, 404, 'not_found');
    await check({ url: '/api/v1/incidents/not-an-id', headers: auth('viewer') }, 400, 'bad_request');
    await check({ method: 'POST', url: '/api/v1/actions/01ARZ3NDEKTSV4RRFFQ69G5FAV/approve', headers: auth('analyst') }, 404, 'not_found');
    await check({ method: 'POST', url: '/api/v1/actions/01ARZ3NDEKTSV4RRFFQ69G5FAV/approve', headers: auth('viewer') }, 403, 'forbidden');
    const listed = await check({ url: '/api/v1/actions?cursor=bm9wZQ', headers: auth('viewer') }, 400, 'bad_request');
    assert.match(String(listed.message), /cursor/);
    const unknown = await check({ url: '/api/v1/incidents?stauts=open', headers: auth('viewer') }, 400, 'bad_request');
    assert.match(String(unknown.message), /unknown parameter "stauts"; accepted: status, /);
    assert.ok((unknown.allowed as string[]).includes('status'));
    const badValue = await check({ url: '/api/v1/actions?state=everything', headers: auth('viewer') }, 400, 'bad_request');
    assert.match(String(badValue.message), /state must be one of: .*awaiting_approval/);
    assert.ok((badValue.allowed as string[]).includes('pending'), JSON.stringify(badValue));
    const r = await api.app.inject({ url: '/api/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV', headers: { authorization: 'Bearer x' } });
    assert.equal(r.headers['www-authenticate'], 'Bearer');
  } finally {
    await api.close();
  }
});
