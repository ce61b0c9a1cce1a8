/**
 * Raw really is byte for byte (issue 13, item 8): text records that are not valid UTF-8 are stored exactly
 * as received and the API says how they were received; JSON array elements are stored as they were sent;
 * JSON that is not UTF-8 is refused with a message that says so. Through the real HTTP route, intake log,
 * ingest with the real detectors, and the alert, quarantine and replay endpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auth, testApi } from '../support/api.js';
import { createIngest } from '../../src/pipeline/ingest/index.js';
import { createNormalizer, loadDetectors } from '../../src/detectors/lib/registry.js';
import { log } from '../../src/util/log.js';

// A CEF line whose message is Latin-1 ("café" with é as the single byte 0xE9), and a line that is no format
// at all with bytes that are never UTF-8.
const CEF_LATIN1 = Buffer.concat([Buffer.from('CEF:0|Acme|IDS|1.0|100|Bad thing|7|src=10.0.0.5 dst=203.0.113.9 msg=caf'), Buffer.from([0xe9])]);
const GARBAGE = Buffer.from([0x6e, 0x6f, 0x20, 0xff, 0xfe, 0x20, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74]);
const UTF8_CEF = 'CEF:0|Acme|IDS|1.0|101|Other thing|5|src=10.0.0.6 dst=203.0.113.9 msg=naïve';

test('intake keeps records that are not UTF-8 byte for byte and says how each was received', async () => {
  const api = await testApi('sqlite', { sources: [{ name: 'lines', detector: 'auto' }] });
  const ingest = createIngest({
    store: api.t.store,
    normalizer: createNormalizer(await loadDetectors()),
    correlation: { dedupWindowMs: 600_000, groupWindowMs: 7_200_000 },
    owner: 'test',
    log,
  });
  const get = async (url: string, role: 'analyst' | 'admin' = 'analyst') => {
    const r = await api.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: auth(role) });
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as Record<string, unknown>;
  };
  try {
    const body = Buffer.concat([CEF_LATIN1, Buffer.from('\r\n'), GARBAGE, Buffer.from('\n'), Buffer.from(UTF8_CEF), Buffer.from('\n')]);
    const r = await api.app.inject({ method: 'POST', url: '/api/v1/alerts/lines', headers: { ...auth('analyst'), 'content-type': 'text/plain' }, payload: body });
    assert.equal(r.statusCode, 202, r.body);
    const [latin1, garbage, utf8] = (r.json() as { ids: string[] }).ids as [string, string, string];
    while ((await ingest.runBatch()) > 0);

    // The Latin-1 record became an alert; its raw text is the decoding, its bytes are kept exactly.
    const a = (await get(`/alerts/${latin1}`)) as { fate: string; raw: string; raw_encoding: string; raw_base64: string; detector: string };
    assert.deepEqual([a.fate, a.detector], ['alert', 'cef'], JSON.stringify(a));
    assert.equal(a.raw_encoding, 'bytes');
    assert.deepEqual(Buffer.from(a.raw_base64, 'base64'), CEF_LATIN1, 'the bytes as received (the CRLF was the line end)');
    assert.equal(a.raw, CEF_LATIN1.toString('utf8'));
    // A UTF-8 record says so, and has no second copy.
    const u = (await get(`/alerts/${utf8}`)) as { fate: string; raw: string; raw_encoding: string; raw_base64?: string };
    assert.deepEqual([u.fate, u.raw, u.raw_encoding, u.raw_base64], ['alert', UTF8_CEF, 'utf-8', undefined]);

    // The unknown record is quarantined with its bytes, in the fate and in the quarantine list.
    const q = (await get(`/alerts/${garbage}`)) as { fate: string; raw_encoding: string; raw_base64: string };
    assert.equal(q.fate, 'quarantined');
    assert.deepEqual([q.raw_encoding, Buffer.from(q.raw_base64, 'base64')], ['bytes', GARBAGE]);
    const list = (await get('/quarantine')) as { items: Array<{ id: string; raw_base64?: string; raw_encoding: string }> };
    const entry = list.items.find((i) => i.id === garbage)!;
    assert.deepEqual([entry.raw_encoding, Buffer.from(entry.raw_base64!, 'base64')], ['bytes', GARBAGE]);

    // Replayed, it is appended again with the same bytes.
    const replay = await api.app.inject({ method: 'POST', url: `/api/v1/quarantine/${garbage}/replay`, headers: auth('admin') });
    assert.equal(replay.statusCode, 202, replay.body);
    const as = (replay.json() as { as: string }).as;
    const row = await api.t.store.db.selectFrom('intake').select(['raw', 'raw_base64']).where('id', '=', as).executeTakeFirstOrThrow();
    assert.deepEqual(Buffer.from(row.raw_base64!, 'base64'), GARBAGE);

    // The incident detail shows the alert's bytes as well.
    const alertRow = await api.t.store.db.selectFrom('alerts').select('incident_id').where('id', '=', latin1).executeTakeFirstOrThrow();
    const detail = (await get(`/incidents/${alertRow.incident_id}`, 'analyst')) as { alerts: Array<{ id: string; raw_encoding: string; raw_base64?: string }> };
    const shown = detail.alerts.find((x) => x.id === latin1)!;
    assert.deepEqual([shown.raw_encoding, Buffer.from(shown.raw_base64!, 'base64')], ['bytes', CEF_LATIN1]);
  } finally {
    await ingest.stop();
    await api.close();
  }
});

test('JSON records are stored as they were sent, and JSON that is not UTF-8 is refused naming why', async () => {
  const api = await testApi('sqlite');
  const post = (payload: string | Buffer, type: string) =>
    api.app.inject({ method: 'POST', url: '/api/v1/alerts/ids', headers: { ...auth('analyst'), 'content-type': type }, payload });
  try {
    // Spacing, key order and number spelling inside array elements survive (JSON.stringify would change each).
    const first = '{ "b": 1.50,  "a" : [1, 2], "s": "x,]}\\"y" }';
    const second = '{"z":{"n":[{"m":"]"}]}}';
    const r = await post(`[ ${first} ,\n ${second}, "CEF:0|a|b|1|2|n|3|" ]`, 'application/json');
    assert.equal(r.statusCode, 202, r.body);
    const ids = (r.json() as { ids: string[] }).ids;
    const rows = await api.t.store.db.selectFrom('intake').select(['id', 'raw', 'raw_base64']).where('id', 'in', ids).orderBy('seq').execute();
    assert.deepEqual(rows.map((x) => [x.raw, x.raw_base64]), [[first, null], [second, null], ['CEF:0|a|b|1|2|n|3|', null]]);

    const latin1Json = Buffer.concat([Buffer.from('{"msg":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    for (const [type, where] of [['application/json', 'the body'], ['application/x-ndjson', 'line 1']] as const) {
      const bad = await post(latin1Json, type);
      assert.equal(bad.statusCode, 400);
      assert.match((bad.json() as { message: string }).message, new RegExp(`^${where} is not valid UTF-8`));
    }
  } finally {
    await api.close();
  }
});
