/**
 * The analyst's workflow over the API (issue 18): PATCH /incidents/{id} (If-Match, timeline, audit), notes,
 * observables with their enrichment, bulk changes and verdicts (partial failures; a bulk false positive undoes
 * like the single verdict), merge (alerts, indicators, notes, tags and detector/source facets move; correlation's
 * key log follows).
 * Real stores of both dialects, requests through app.inject.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testApi, auth, type TestApi } from '../support/api.js';
import { DIALECTS } from '../support/stores.js';
import { insertAction, sampleIncident, seedIncident } from '../actions/fixtures.js';
import { ulid } from '../../src/util/ulid.js';
import { GroupKeys } from '../../src/pipeline/ingest/group-keys.js';
import { correlateBatch } from '../../src/pipeline/ingest/correlate.js';
import { groupKeys } from '../../src/correlate/keys.js';
import { mergeIncidents } from '../../src/store/incident-workflow.js';
import { queryIncidents } from '../../src/store/incident-query.js';
import type { AlertDoc } from '../../src/store/alert-docs.js';

/** An answer as parsed JSON: the test reads nested fields freely (the routes' schemas type the real thing). */
type Json = Record<string, any>;

const json = { 'content-type': 'application/json' };

async function seeded(api: TestApi, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = ulid();
    await seedIncident(api.t.store.db, sampleIncident(id));
    ids.push(id);
  }
  return ids;
}

const patch = (api: TestApi, id: string, payload: unknown, headers: Record<string, string> = {}) =>
  api.app.inject({ method: 'PATCH', url: `/api/v1/incidents/${id}`, headers: { ...auth('analyst'), ...json, ...headers }, payload: payload as Json });

const timeline = (api: TestApi, id: string) =>
  api.t.store.db.selectFrom('timeline').select(['kind', 'summary']).where('incident_id', '=', id).orderBy('id').execute();

for (const dialect of DIALECTS) {
  test(`[${dialect}] PATCH changes status, assignee, tags and severity override; timeline, audit, If-Match, validation, roles`, async () => {
    const api = await testApi(dialect);
    try {
      const [id] = await seeded(api, 1);
      const db = api.t.store.db;
      const r = await patch(api, id!, { status: 'triaged', assignee: 'bob', tags: { add: ['phishing', 'vip'] }, severity_override: 90 });
      assert.equal(r.statusCode, 200, r.body);
      const inc = r.json() as Json;
      assert.deepEqual([inc.status, inc.assignee, inc.tags, inc.severity_override], ['triaged', 'bob', ['phishing', 'vip'], 90]);
      assert.equal(r.headers.etag, `"${inc.updated_at}"`);
      // The list and the detail show the tags, and the detectors and sources of its alerts.
      await db.insertInto('incident_facets').values([{ incident_id: id!, facet: 'detector', value: 'suricata' }, { incident_id: id!, facet: 'source', value: 'ids' }]).execute();
      const listed = ((await api.app.inject({ method: 'GET', url: '/api/v1/incidents', headers: auth('viewer') })).json() as Json).items[0];
      assert.deepEqual([listed.tags, listed.detectors, listed.sources], [['phishing', 'vip'], ['suricata'], ['ids']], 'the list carries labels');
      const shown = (await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}`, headers: auth('viewer') })).json() as Json;
      assert.deepEqual([shown.tags, shown.detectors, shown.sources], [['phishing', 'vip'], ['suricata'], ['ids']], 'so does the detail');
      assert.deepEqual(
        (await timeline(api, id!)).map((t) => [t.kind, t.summary]),
        [
          ['status', 'analyst: status new → triaged'],
          ['updated', 'analyst: assigned to bob; severity set to 90; tags +phishing +vip'],
        ],
      );
      const audits = await db.selectFrom('audit_log').select(['actor', 'action', 'subject', 'detail']).where('action', '=', 'incident.update').execute();
      assert.equal(audits.length, 1);
      assert.equal(audits[0]!.actor, 'analyst');
      assert.deepEqual(JSON.parse(audits[0]!.detail).tags, { added: ['phishing', 'vip'], removed: [] });

      // If-Match: the current version goes through; an older one is refused with 412 and nothing changes.
      const ok = await patch(api, id!, { tags: { remove: ['vip'], add: ['apt'] }, assignee: null }, { 'if-match': r.headers.etag as string });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual([(ok.json() as Json).tags, (ok.json() as Json).assignee], [['apt', 'phishing'], null]);
      // The first answer's version is no longer current (each change moves updated_at forward, even within a millisecond).
      assert.notEqual((ok.json() as Json).updated_at, inc.updated_at);
      const stale = await patch(api, id!, { status: 'closed' }, { 'if-match': inc.updated_at as string });
      assert.equal(stale.statusCode, 412, stale.body);
      assert.equal((stale.json() as Json).error, 'precondition_failed');
      assert.equal((await db.selectFrom('incidents').select('status').where('id', '=', id!).executeTakeFirstOrThrow()).status, 'triaged');
      assert.equal((await patch(api, id!, { status: 'closed' }, { 'if-match': 'yesterday' })).statusCode, 400);
      // A change to nothing writes nothing.
      const before = (await timeline(api, id!)).length;
      assert.equal((await patch(api, id!, { status: 'triaged' })).statusCode, 200);
      assert.equal((await timeline(api, id!)).length, before);

      // Validation: clear 400s naming the part at fault.
      for (const bad of [{}, { tags: { add: ['Bad Tag'] } }, { severity_override: 101 }, { assignee: '' }, { status: 'open' }, { colour: 'red' }, { tags: ['x'] }]) {
        const b = await patch(api, id!, bad);
        assert.equal(b.statusCode, 400, JSON.stringify(bad));
        assert.equal((b.json() as Json).error, 'bad_request');
      }
      const many = Array.from({ length: 50 }, (_, i) => `t${i}`);
      const over = await patch(api, id!, { tags: { add: many } });
      assert.equal(over.statusCode, 400);
      assert.match((over.json() as Json).message, /at most 50 tags/);
      assert.equal((await patch(api, ulid(), { status: 'closed' })).statusCode, 404);
      // Roles: a viewer reads, never changes.
      const viewer = await api.app.inject({ method: 'PATCH', url: `/api/v1/incidents/${id}`, headers: { ...auth('viewer'), ...json }, payload: { status: 'closed' } });
      assert.equal(viewer.statusCode, 403);
      // The detail shows the new fields (toIncident).
      const detail = (await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}`, headers: auth('viewer') })).json() as Json;
      assert.equal(detail.assignee, null);
      assert.equal(detail.severity_override, 90);
    } finally {
      await api.close();
    }
  });

  test(`[${dialect}] notes: added by the token's name, on the timeline and audited; listed newest first with paging; body kept as given`, async () => {
    const api = await testApi(dialect);
    try {
      const [id] = await seeded(api, 1);
      const post = (body: unknown, role: 'analyst' | 'viewer' = 'analyst', to = id!) =>
        api.app.inject({ method: 'POST', url: `/api/v1/incidents/${to}/notes`, headers: { ...auth(role), ...json }, payload: body as Json });
      const hostile = '<img src=x onerror=alert(1)> & "quotes"';
      for (const body of ['first', 'second', hostile]) assert.equal((await post({ body })).statusCode, 201);
      const first = await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/notes?limit=2`, headers: auth('viewer') });
      assert.equal(first.statusCode, 200);
      const page = first.json() as Json;
      assert.deepEqual(page.items.map((n: Json) => [n.author, n.body]), [['analyst', hostile], ['analyst', 'second']]);
      const rest = (await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/notes?limit=2&cursor=${page.next_cursor}`, headers: auth('viewer') })).json() as Json;
      assert.deepEqual(rest.items.map((n: Json) => n.body), ['first']);
      assert.equal(rest.next_cursor, null);
      assert.deepEqual((await timeline(api, id!)).map((t) => t.kind), ['note', 'note', 'note']);
      // A note changes the incident: the change feed sees it (updated_at moved).
      const row = await api.t.store.db.selectFrom('incidents').select(['created_at', 'updated_at']).where('id', '=', id!).executeTakeFirstOrThrow();
      assert.ok(Number(row.updated_at) > Number(row.created_at));
      assert.equal((await api.t.store.db.selectFrom('audit_log').select('id').where('action', '=', 'incident.note').execute()).length, 3);
      assert.equal((await post({ body: 'x'.repeat(10_001) })).statusCode, 400);
      assert.equal((await post({ body: '   ' })).statusCode, 400);
      assert.equal((await post({ body: 'hi' }, 'viewer')).statusCode, 403);
      assert.equal((await post({ body: 'hi' }, 'analyst', ulid())).statusCode, 404);
      assert.equal((await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${ulid()}/notes`, headers: auth('viewer') })).statusCode, 404);
    } finally {
      await api.close();
    }
  });

  test(`[${dialect}] audit: the incident's and its actions' entries, newest first, paged; another incident's not`, async () => {
    const api = await testApi(dialect);
    try {
      const [id, other] = await seeded(api, 2);
      const actionId = ulid();
      await insertAction(api.t.store.db, { id: actionId, incident_id: id!, kind: 'webhook', target: 'soar', state: 'awaiting_approval', now: Date.now() });
      const call = (method: 'PATCH' | 'POST', url: string, payload: Json) => api.app.inject({ method, url, headers: { ...auth('analyst'), ...json }, payload });
      assert.equal((await call('PATCH', `/api/v1/incidents/${id}`, { assignee: 'ana' })).statusCode, 200);
      assert.equal((await call('POST', `/api/v1/incidents/${id}/notes`, { body: 'looked' })).statusCode, 201);
      assert.equal((await call('POST', `/api/v1/actions/${actionId}/approve`, {})).statusCode, 200);
      assert.equal((await call('PATCH', `/api/v1/incidents/${other}`, { assignee: 'bob' })).statusCode, 200);
      const read = async (query = '') => {
        const r = await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/audit${query}`, headers: auth('viewer') });
        assert.equal(r.statusCode, 200, r.body);
        return r.json() as Json;
      };
      const all = await read();
      assert.deepEqual(
        all.items.map((e: Json) => [e.action, e.actor]),
        [['action.approved', 'analyst'], ['incident.note', 'analyst'], ['incident.update', 'analyst']],
        'newest first, with the action of the incident and without the other incident',
      );
      assert.equal(all.items[0].subject, `action:${actionId}`, "an action's entry names the action");
      assert.deepEqual(all.items[2].detail.assignee, { from: null, to: 'ana' }, 'the detail is the stored change');
      const first = await read('?limit=2');
      assert.equal(first.items.length, 2);
      const rest = await read(`?limit=2&cursor=${first.next_cursor}`);
      assert.deepEqual(rest.items.map((e: Json) => e.action), ['incident.update'], 'the next page continues');
      assert.equal(rest.next_cursor, null);
      assert.equal((await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/audit?cursor=1%20or%201=1`, headers: auth('viewer') })).statusCode, 400, 'a cursor is a number');
      assert.equal((await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${ulid()}/audit`, headers: auth('viewer') })).statusCode, 404);
    } finally {
      await api.close();
    }
  });

  test(`[${dialect}] observables: indicators with sightings and providers' answers, newest first, paged`, async () => {
    const api = await testApi(dialect);
    try {
      const [id] = await seeded(api, 1);
      const db = api.t.store.db;
      const t0 = Date.parse('2026-11-27T12:00:00.000Z');
      await db
        .insertInto('incident_observables')
        .values([
          { incident_id: id!, type: 'ip', value: '203.0.113.7', alerts: 2, events: 5, first_seen: t0, last_seen: t0 + 300_000 },
          { incident_id: id!, type: 'domain', value: 'evil.example', alerts: 1, events: 1, first_seen: t0, last_seen: t0 + 60_000 },
        ])
        .execute();
      // Not folded yet: added up with the table's row.
      await db.insertInto('observation_log').values({ incident_id: id!, type: 'domain', value: 'evil.example', alerts: 1, events: 2, first_seen: t0, last_seen: t0 + 400_000, first_seq: 0, pos: 7 }).execute();
      await db
        .insertInto('enrichments')
        .values([
          { incident_id: id!, provider: 'intel', subject_type: 'ip', subject_value: '203.0.113.7', found: 1, data: '{"verdict":"malicious"}', error: null, fetched_at: Date.now() - 120_000, revision: null, cache: 'miss' },
          { incident_id: id!, provider: 'whois', subject_type: 'ip', subject_value: '203.0.113.7', found: 0, data: '{}', error: 'timeout', fetched_at: Date.now(), revision: null, cache: null },
        ])
        .execute();
      const first = (await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/observables?limit=1`, headers: auth('viewer') })).json() as Json;
      assert.deepEqual([first.items[0].type, first.items[0].value, first.items[0].alerts, first.items[0].events], ['domain', 'evil.example', 2, 3]);
      assert.deepEqual(first.items[0].enrichment, []);
      const rest = (await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/observables?limit=1&cursor=${first.next_cursor}`, headers: auth('viewer') })).json() as Json;
      assert.equal(rest.items[0].value, '203.0.113.7');
      assert.deepEqual(
        rest.items[0].enrichment.map((e: Json) => [e.provider, e.found, e.verdict, e.error]),
        [
          ['intel', true, 'malicious', undefined],
          ['whois', undefined, undefined, 'timeout'],
        ],
      );
      assert.ok(rest.items[0].enrichment[0].age_seconds >= 120);
      assert.equal(rest.next_cursor, null);
      assert.equal((await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${id}/observables?cursor=nonsense`, headers: auth('viewer') })).statusCode, 400);
      assert.equal((await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${ulid()}/observables`, headers: auth('viewer') })).statusCode, 404);
    } finally {
      await api.close();
    }
  });

  test(`[${dialect}] bulk: set and verdict per id in its own transaction; a false positive undoes like the single verdict`, async () => {
    const api = await testApi(dialect);
    try {
      const ids = await seeded(api, 3);
      const db = api.t.store.db;
      const unknown = ulid();
      const bulk = (payload: unknown, role: 'analyst' | 'viewer' = 'analyst') =>
        api.app.inject({ method: 'POST', url: '/api/v1/incidents/bulk', headers: { ...auth(role), ...json }, payload: payload as Json });
      // ids[1] is over the tag limit: it alone fails.
      await db.insertInto('incident_tags').values(Array.from({ length: 50 }, (_, i) => ({ incident_id: ids[1]!, tag: `t${i}` }))).execute();
      const set = await bulk({ ids: [ids[0], unknown, ids[1], ids[2]], set: { assignee: 'carol', tags: { add: ['wave-1'] } } });
      assert.equal(set.statusCode, 200, set.body);
      const body = set.json() as Json;
      assert.deepEqual(body.results.map((r: Json) => r.result), ['ok', 'not_found', 'error', 'ok']);
      assert.deepEqual([body.ok, body.failed], [2, 2]);
      const assignees = await db.selectFrom('incidents').select(['id', 'assignee']).where('id', 'in', ids).orderBy('id').execute();
      assert.deepEqual(assignees.map((a) => a.assignee), ['carol', null, 'carol']);

      // A bulk false positive: the succeeded reversible action gets its undo, as POST /incidents/{id}/verdict does.
      const now = Date.now();
      await insertAction(db, { id: ulid(), incident_id: ids[0]!, kind: 'webhook', target: 'soar', now });
      await insertAction(db, { id: ulid(), incident_id: ids[2]!, kind: 'email', target: 'soc-mail', now });
      await db.updateTable('actions').set({ state: 'succeeded', result: '{}' }).execute();
      const v = await bulk({ ids: [ids[0], ids[2], unknown], verdict: { verdict: 'false_positive', note: 'scanner' } });
      assert.deepEqual((v.json() as Json).results.map((r: Json) => r.result), ['ok', 'ok', 'not_found']);
      const undos = await db.selectFrom('actions').select(['incident_id', 'kind', 'state']).where('undo_of', 'is not', null).execute();
      assert.deepEqual(undos, [{ incident_id: ids[0], kind: 'webhook', state: 'pending' }]);
      const closed = await db.selectFrom('incidents').select(['verdict', 'status']).where('id', 'in', [ids[0]!, ids[2]!]).execute();
      assert.deepEqual(closed.map((c) => [c.verdict, c.status]), [['false_positive', 'closed'], ['false_positive', 'closed']]);
      // The verdict's note is a note too.
      const notes = await db.selectFrom('incident_notes').select(['incident_id', 'body']).where('incident_id', '=', ids[0]!).execute();
      assert.deepEqual(notes.map((n) => n.body), ['scanner']);
      assert.equal((await db.selectFrom('audit_log').select('id').where('action', '=', 'incident.verdict').execute()).length, 2);

      for (const bad of [{ ids: [ids[0]] }, { ids: [ids[0]], set: { status: 'closed' }, verdict: { verdict: 'benign' } }, { ids: [], set: { status: 'closed' } }, { ids: ['x'], set: { status: 'closed' } }]) {
        assert.equal((await bulk(bad)).statusCode, 400, JSON.stringify(bad));
      }
      assert.equal((await bulk({ ids: Array.from({ length: 501 }, () => ulid()), set: { status: 'closed' } })).statusCode, 400);
      assert.equal((await bulk({ ids: [ids[0]], set: { status: 'closed' } }, 'viewer')).statusCode, 403);
    } finally {
      await api.close();
    }
  });

  test(`[${dialect}] merge: alerts, indicators, notes, tags, facets and actions move; the others close with merged_into; the key log follows`, async () => {
    const api = await testApi(dialect);
    try {
      const [into, a, b] = await seeded(api, 3);
      const db = api.t.store.db;
      const t0 = Date.parse('2026-11-27T12:00:00.000Z');
      await db
        .insertInto('incident_observables')
        .values([
          { incident_id: into!, type: 'ip', value: '203.0.113.7', alerts: 2, events: 2, first_seen: t0 + 1000, last_seen: t0 + 2000 },
          { incident_id: a!, type: 'ip', value: '203.0.113.7', alerts: 1, events: 4, first_seen: t0, last_seen: t0 + 5000 },
          { incident_id: b!, type: 'ip', value: '203.0.113.7', alerts: 1, events: 1, first_seen: t0 + 10, last_seen: t0 + 10 },
          { incident_id: b!, type: 'user', value: 'mallory', alerts: 1, events: 1, first_seen: t0, last_seen: t0 },
        ])
        .execute();
      await db.insertInto('incident_key_log').values({ pos: 3, key: 'host:ws-042', incident_id: a!, last_seen: Date.now(), received_at: Date.now() }).execute();
      await db.insertInto('incident_tags').values([{ incident_id: a!, tag: 'vip' }, { incident_id: into!, tag: 'vip' }, { incident_id: b!, tag: 'wave-2' }]).execute();
      await db
        .insertInto('incident_facets')
        .values([
          { incident_id: into!, facet: 'detector', value: 'suricata' },
          { incident_id: into!, facet: 'source', value: 'dmz' },
          { incident_id: a!, facet: 'detector', value: 'suricata' },
          { incident_id: a!, facet: 'source', value: 'honeypot' },
          { incident_id: b!, facet: 'detector', value: 'canary' },
          { incident_id: b!, facet: 'source', value: 'honeypot' },
        ])
        .execute();
      await insertAction(db, { id: ulid(), incident_id: b!, kind: 'webhook', target: 'soar', now: Date.now() });
      assert.equal((await api.app.inject({ method: 'POST', url: `/api/v1/incidents/${a}/notes`, headers: { ...auth('analyst'), ...json }, payload: { body: 'seen before' } })).statusCode, 201);

      const merge = (payload: unknown, role: 'responder' | 'analyst' = 'responder', to = into!) =>
        api.app.inject({ method: 'POST', url: `/api/v1/incidents/${to}/merge`, headers: { ...auth(role), ...json }, payload: payload as Json });
      assert.equal((await merge({ from: [a] }, 'analyst')).statusCode, 403);
      assert.equal((await merge({ from: [into] })).statusCode, 400);
      assert.equal((await merge({ from: [ulid()] })).statusCode, 404);
      const r = await merge({ from: [a, b] });
      assert.equal(r.statusCode, 200, r.body);
      const inc = r.json() as Json;
      assert.deepEqual([inc.alert_count, inc.tags, inc.status], [6, ['vip', 'wave-2'], 'new']);

      const alerts = await db.selectFrom('alerts').select('incident_id').distinct().execute();
      assert.deepEqual(alerts.map((x) => x.incident_id), [into]);
      const obs = await db.selectFrom('incident_observables').selectAll().orderBy('type').execute();
      assert.deepEqual(
        obs.map((o) => [o.incident_id, o.type, Number(o.alerts), Number(o.events), Number(o.first_seen) - t0, Number(o.last_seen) - t0]),
        [
          [into, 'ip', 4, 7, 0, 5000],
          [into, 'user', 1, 1, 0, 0],
        ],
      );
      assert.deepEqual((await db.selectFrom('actions').select('incident_id').execute()).map((x) => x.incident_id), [into]);
      // The queue's detector and source facets: all of theirs, once each, on the survivor.
      const facets = await db.selectFrom('incident_facets').selectAll().orderBy('facet').orderBy('value').execute();
      assert.deepEqual(facets.map((f) => [f.incident_id, f.facet, f.value]), [
        [into, 'detector', 'canary'],
        [into, 'detector', 'suricata'],
        [into, 'source', 'dmz'],
        [into, 'source', 'honeypot'],
      ]);
      assert.deepEqual((await queryIncidents(api.t.store, { detector: 'canary' })).rows.map((x) => x.id), [into]);
      const merged = await db.selectFrom('incidents').select(['status', 'merged_into', 'alert_count']).where('id', 'in', [a!, b!]).execute();
      assert.deepEqual(merged, [
        { status: 'closed', merged_into: into, alert_count: 0 },
        { status: 'closed', merged_into: into, alert_count: 0 },
      ]);
      // Notes: theirs moved here; each of them says where it went.
      const notes = await db.selectFrom('incident_notes').select(['incident_id', 'body']).orderBy('id').execute();
      assert.deepEqual(notes.map((n) => [n.incident_id, n.body]), [[into, 'seen before'], [a, `merged into ${into}`], [b, `merged into ${into}`]]);
      assert.ok((await timeline(api, into!)).some((t) => t.kind === 'merged'));
      assert.equal((await db.selectFrom('audit_log').select('id').where('action', '=', 'incident.merge').execute()).length, 1);
      // Scored and decided again, through enrichment.
      assert.deepEqual((await db.selectFrom('stage_queue').select(['stage', 'item_id']).execute()).map((q) => [q.stage, q.item_id]), [['enrich', into]]);
      // Digest rebuilt from all six alerts.
      const digest = JSON.parse((await db.selectFrom('incidents').select('digest').where('id', '=', into!).executeTakeFirstOrThrow()).digest!);
      assert.equal(digest.recent.length, 6);
      // A worker that reads the key log back correlates the merged incident's keys to the survivor.
      const keys = await GroupKeys.load(db, Date.now(), { keepMs: 3_600_000, max: 1000 });
      assert.equal(keys.get('host:ws-042')?.incidentId, into);
      // Merged before: refused.
      assert.equal((await merge({ from: [a] })).statusCode, 409);
      assert.equal((await merge({ from: [b] }, 'responder', a!)).statusCode, 409);
    } finally {
      await api.close();
    }
  });
}

test('the workflow routes are in the OpenAPI document with summaries and error answers', async () => {
  const api = await testApi('sqlite');
  try {
    const doc = (await api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as Json;
    const ops: Array<[string, string, string[]]> = [
      ['/api/v1/incidents/{id}', 'patch', ['200', '400', '404', '412']],
      ['/api/v1/incidents/{id}/notes', 'post', ['201', '400', '404']],
      ['/api/v1/incidents/{id}/notes', 'get', ['200', '404']],
      ['/api/v1/incidents/{id}/observables', 'get', ['200', '404']],
      ['/api/v1/incidents/{id}/audit', 'get', ['200', '404']],
      ['/api/v1/incidents/bulk', 'post', ['200', '400']],
      ['/api/v1/incidents/{id}/merge', 'post', ['200', '404', '409']],
    ];
    for (const [path, method, codes] of ops) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path}`);
      assert.ok(op.summary, `${method} ${path} summary`);
      for (const c of codes) assert.ok(op.responses[c], `${method} ${path} ${c}`);
    }
  } finally {
    await api.close();
  }
});

test(
  'a running ingest worker places an alert whose key it remembers for a merged incident in the incident it went into',
  async () => {
    const api = await testApi('sqlite');
    try {
      const [into, from] = await seeded(api, 2);
      const db = api.t.store.db;
      const now = Date.now();
      await db.transaction().execute((tx) => mergeIncidents(tx, 'sqlite', into!, [from!], 'admin', now));
      const { raw: _raw, ...rest } = sampleIncident(from).alerts[0]!;
      const doc: AlertDoc = { ...rest, id: ulid(), time: new Date(now).toISOString(), received_at: new Date(now).toISOString() };
      const keys = groupKeys(doc);
      // What the worker's memory holds from before the merge: the keys lead to the merged-away incident.
      const known = { fingerprint: () => undefined, groupKey: (k: string) => (keys.includes(k) ? { incidentId: from!, lastSeen: now, touchedAt: now } : undefined) };
      const out = await db.transaction().execute((tx) =>
        correlateBatch(tx, [{ alert: doc, fingerprint: 'fp-new', time: now, seq: 1, receivedAt: now }], known, { dedupWindowMs: 3_600_000, groupWindowMs: 3_600_000 }, now),
      );
      assert.equal(out.placed.get(doc.id)?.incidentId, into);
    } finally {
      await api.close();
    }
  },
);
