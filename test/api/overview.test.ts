/**
 * GET /api/v1/overview (issue 18, item 4) on SQLite and PostgreSQL: incidents, alerts, decisions and
 * indicators seeded as rows at known times before now, closes and notes through the real workflow helpers
 * (which write the audit log and the timeline), an approval through the real approval path; then the
 * buckets, top lists, automation rate, time to decision, receivers and backlog are checked number by number.
 * A second test runs 60 alerts through the real pipeline and checks the figures against what it stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testApi, auth } from '../support/api.js';
import { DIALECTS, newStorePlace } from '../support/stores.js';
import { sql } from 'kysely';
import { dialectFor, openStore } from '../../src/store/store.js';
import { migrate } from '../../src/store/migrate.js';
import { insertAction } from '../actions/fixtures.js';
import { seedHistory } from '../support/backtest-history.js';
import { encodeBase32, ulid } from '../../src/util/ulid.js';
import type { Db, Store } from '../../src/store/store.js';
import type { SourceConfig } from '../../src/config/schema.js';
import { addNote, applyVerdict, updateIncident } from '../../src/store/incident-workflow.js';
import { approveAction } from '../../src/actions/approvals.js';
import { enqueue } from '../../src/store/queue.js';
import { defaultSandbox } from '../../src/policy/sandbox.js';
import {
  WINDOW_SPANS,
  bucketOf,
  alertsByDetector,
  closesOfAudit,
  countAlerts,
  percentile,
  personOfSummary,
  windowBounds,
} from '../../src/store/overview.js';

/** An answer as parsed JSON: the test reads nested fields freely (the route's schema types the real thing). */
type Json = Record<string, any>;

const H = 3_600_000;
/** An id of time `t` (ulid() is monotonic: it never goes back to a past time). */
const idAt = (t: number) => encodeBase32(t, 10) + ulid().slice(10);

interface SeedIncident {
  first: number;
  last?: number;
  host?: string;
  user?: string;
  mergedInto?: string;
}

async function incident(db: Db, s: SeedIncident): Promise<string> {
  const id = idAt(s.first);
  await db
    .insertInto('incidents')
    .values({
      id,
      title: `incident on ${s.host ?? 'nothing'}`,
      status: s.mergedInto ? 'closed' : 'new',
      verdict: null,
      first_seen: s.first,
      last_seen: s.last ?? s.first,
      alert_count: 1,
      severity: 50,
      host: s.host ?? null,
      user_name: s.user ?? null,
      score_total: 50,
      score: null,
      decision: null,
      created_at: s.first,
      updated_at: s.first,
      pending_since: null,
      digest: null,
      merged_into: s.mergedInto ?? null,
    })
    .execute();
  return id;
}

async function alert(db: Db, incidentId: string, detector: string, receivedAt: number): Promise<void> {
  const id = idAt(receivedAt);
  await db
    .insertInto('alerts')
    .values({
      id, intake_id: id, source: 'ids', detector, vendor_id: null, fingerprint: `fp-${id}`, time: receivedAt, received_at: receivedAt,
      title: 't', severity: 50, rule_id: null, host: null, user_name: null, incident_id: incidentId, repeat_count: 1, last_repeat_at: null,
      decided_at: null, doc: '{}', raw: '', seq: null, duplicate_of: null,
    })
    .execute();
  // As ingest does in the same transaction: the overview's alerts series reads these counts.
  await countAlerts(db, [{ received_at: receivedAt, detector }]);
}

async function observable(db: Db, incidentId: string, type: string, value: string, alerts: number, at: number): Promise<void> {
  await db.insertInto('incident_observables').values({ incident_id: incidentId, type, value, alerts, events: alerts, first_seen: at, last_seen: at }).execute();
}

async function decision(db: Db, incidentId: string, rule: string, outcome: string, at: number): Promise<void> {
  await db.insertInto('decisions').values({ incident_id: incidentId, rule, outcome, doc: '{}', dry_run: 0, config_version: 'test', created_at: at }).execute();
}

const get = (app: FastifyInstance, window?: string, role: 'viewer' | null = 'viewer') =>
  app.inject({ method: 'GET', url: `/api/v1/overview${window ? `?window=${window}` : ''}`, headers: role ? auth(role) : {} });

const sum = (xs: readonly number[] | undefined) => (xs ?? []).reduce((a, b) => a + b, 0);

/**
 * The seeded world, relative to `now0` (times now0 − k hours fall in the k-th bucket before the current one
 * of the 24h window, whatever the minute):
 *   A  first seen 2 h ago, 2 suricata alerts then; decided notify after 60 s, escalate after 120 s; ws-1, alice,
 *      ip 198.51.100.7 (3 alerts); later closed by the token "soar-bot" with an action approved by the person "ana".
 *   B  first seen 5 h ago, 1 sigma alert; decided log after 300 s; ws-1, ip 198.51.100.7, domain evil.example;
 *      closed by "soar-bot" (false positive): the one close without a person.
 *   C  first seen 5 h ago, undecided; ws-2, bob; closed by the person "ana".
 *   D  first seen 30 h ago (7d only), 1 suricata alert; decided notify after 600 s; ws-3; a note by "ana",
 *      then closed by "soar-bot".
 *   E  merged into A, first seen 2 h ago: counted nowhere.
 *   G  closed by "soar-bot", then reopened by it: not closed now, not counted.
 *   F  first seen 8 days ago (in no window's series), first decided 1 h ago (log); triaged by "cli:root", a
 *      person at a shell on the Fido host. D is decided again 1 h ago: its first decision stays 30 h ago.
 * Decided in 24 h: A (ana approved), B (soar-bot only) and F (cli:root); in 7 days D too (ana's note).
 */
async function seed(store: Store, now0: number): Promise<Record<string, string>> {
  const db = store.db;
  await db.insertInto('users').values({ id: ulid(), name: 'ana', role: 'analyst', password_hash: null, oidc_subject: null, created_at: now0, disabled_at: null, failed_count: 0, locked_until: null, last_login_at: null }).execute();
  const A = await incident(db, { first: now0 - 2 * H, last: now0 - 2 * H + 1000, host: 'ws-1', user: 'alice' });
  const B = await incident(db, { first: now0 - 5 * H, host: 'ws-1' });
  const C = await incident(db, { first: now0 - 5 * H, host: 'ws-2', user: 'bob' });
  const D = await incident(db, { first: now0 - 30 * H, host: 'ws-3' });
  const E = await incident(db, { first: now0 - 2 * H, mergedInto: A });
  const G = await incident(db, { first: now0 - 3 * H, host: 'ws-9' });
  const F = await incident(db, { first: now0 - 8 * 24 * H });
  await alert(db, A, 'suricata', now0 - 2 * H);
  await alert(db, A, 'suricata', now0 - 2 * H + 1000);
  await alert(db, B, 'sigma', now0 - 5 * H);
  await alert(db, D, 'suricata', now0 - 30 * H);
  for (const [inc, type, value, n, at] of [
    [A, 'host', 'ws-1', 3, now0 - 2 * H],
    [A, 'user', 'alice', 3, now0 - 2 * H],
    [A, 'ip', '198.51.100.7', 3, now0 - 2 * H],
    [B, 'host', 'ws-1', 1, now0 - 5 * H],
    [B, 'ip', '198.51.100.7', 1, now0 - 5 * H],
    [B, 'domain', 'evil.example', 1, now0 - 5 * H],
    [C, 'host', 'ws-2', 1, now0 - 5 * H],
    [C, 'user', 'bob', 1, now0 - 5 * H],
    [D, 'host', 'ws-3', 1, now0 - 30 * H],
  ] as const) await observable(db, inc, type, value, n, at);
  await decision(db, D, 'notify-medium', 'notify', now0 - 30 * H + 600_000);
  await decision(db, B, 'allowlisted', 'log', now0 - 5 * H + 300_000);
  await decision(db, A, 'notify-medium', 'notify', now0 - 2 * H + 60_000);
  await decision(db, A, 'critical-asset-compromise', 'escalate', now0 - 2 * H + 120_000);
  await decision(db, D, 'notify-medium', 'notify', now0 - H);
  await decision(db, F, 'allowlisted', 'log', now0 - H);

  const now = Date.now();
  const actionId = ulid();
  await insertAction(db, { id: actionId, incident_id: A, kind: 'email', target: 'soc-mail', state: 'awaiting_approval', now });
  await approveAction(store, actionId, 'ana');
  await db.transaction().execute(async (tx) => {
    await updateIncident(tx, A, { status: 'closed' }, 'soar-bot', now);
    await applyVerdict(tx, B, { verdict: 'false_positive' }, 'soar-bot', now);
    await applyVerdict(tx, C, { verdict: 'benign' }, 'ana', now);
    await addNote(tx, D, 'ana', 'looked at it', now);
    await applyVerdict(tx, D, { verdict: 'benign' }, 'soar-bot', now + 1);
    await updateIncident(tx, G, { status: 'closed' }, 'soar-bot', now);
    await updateIncident(tx, G, { status: 'new' }, 'soar-bot', now + 1);
    await updateIncident(tx, F, { status: 'triaged' }, 'cli:root', now);
  });
  return { A, B, C, D, E, F, G };
}

test('overview helpers: window bounds, buckets, percentiles, audit closes, person of a timeline summary', () => {
  const now = Date.UTC(2026, 11, 7, 14, 25, 0);
  const b = windowBounds('24h', now);
  assert.equal(b.to, Date.UTC(2026, 11, 7, 15), 'the last bucket holds now and ends on the hour');
  assert.equal(b.from, Date.UTC(2026, 11, 6, 15), '24 hours before');
  assert.equal(b.starts.length, 24, 'one bucket per hour');
  assert.equal(bucketOf(b, now), 23, 'now is in the last bucket');
  assert.equal(bucketOf(b, b.from - 1), -1, 'before the window');
  const w7 = windowBounds('7d', now);
  assert.equal(w7.starts.length, 28, '7 days of 6 hours');
  assert.equal(w7.to, Date.UTC(2026, 11, 7, 18), 'aligned on 6 hours (UTC)');
  assert.equal(windowBounds('30d', now).starts.length, 30, '30 days of one day');
  assert.equal(WINDOW_SPANS['30d'].bucketMs, 86_400_000, 'day buckets');
  assert.equal(percentile([], 50), null, 'no values: null');
  assert.equal(percentile([10, 20, 30, 40], 50), 20, 'nearest rank: the 2nd of 4');
  assert.equal(percentile([10, 20, 30, 40], 90), 40, 'nearest rank: the 4th of 4');
  assert.equal(percentile([7], 90), 7, 'one value');
  const people = new Set(['ana', 'x: y']);
  assert.equal(personOfSummary('ana: benign, closed', people), 'ana', 'a person');
  assert.equal(personOfSummary('x: y: a note', people), 'x: y', 'a name holding ": "');
  assert.equal(personOfSummary('soar-bot: false_positive, closed', people), null, 'a token');
  const row = (action: string, detail: unknown) => ({ at: 5, actor: 'a', action, subject: 'I1', detail: JSON.stringify(detail) });
  assert.deepEqual(closesOfAudit(row('incident.verdict', { verdict: 'benign', status: 'closed' })), [{ incidentId: 'I1', at: 5, actor: 'a' }], 'a closing verdict');
  assert.deepEqual(closesOfAudit(row('incident.verdict', { verdict: 'true_positive', status: 'triaged' })), [], 'a verdict that does not close');
  assert.deepEqual(closesOfAudit(row('incident.update', { status: { from: 'new', to: 'closed' } })).length, 1, 'a status change to closed');
  assert.deepEqual(closesOfAudit(row('incident.update', { assignee: { from: null, to: 'ana' } })), [], 'another change');
  assert.deepEqual(closesOfAudit(row('incident.merge', { from: ['I2', 'I3'] })).map((c) => c.incidentId), ['I2', 'I3'], 'merged incidents are closed');
  assert.deepEqual(closesOfAudit({ ...row('incident.verdict', {}), detail: 'not json' }), [], 'unreadable detail');
});

for (const dialect of DIALECTS) {
  test(`[${dialect}] GET /overview: buckets, top lists, automation rate, time to decision, receivers and backlog from seeded rows`, async () => {
    const api = await testApi(dialect, { sources: [{ name: 'ids', detector: 'suricata' }, { name: 'logs', receiver: { kind: 'file', path: '/var/log/x.log' } as SourceConfig['receiver'] }] });
    try {
      const now0 = Date.now();
      const ids = await seed(api.t.store, now0);
      const before = Date.now();
      await api.intake.accept('ids', 'suricata', [{ raw: '{"not":"parsed yet"}' }]);
      const after = Date.now();
      await enqueue(api.t.store.db, 'enrich', [ids.C!], now0 - 5000);

      const r = await get(api.app);
      assert.equal(r.statusCode, 200, r.body);
      const o = r.json() as Json;
      const bucket = o.bucket_ms as number;
      assert.equal(o.window, '24h', 'the default window');
      assert.equal(bucket, H, 'hour buckets');
      assert.equal(o.series.t.length, 24, '24 buckets');
      assert.equal(o.series.t[0], o.from, 'the first bucket starts the window');
      assert.equal(o.to - o.from, 24 * H, 'a day');
      // The hour may have turned between seeding and asking: every index moves back by as many buckets.
      const shift = (o.to - windowBounds('24h', now0).to) / bucket;
      const at = (hoursAgo: number) => 23 - hoursAgo - shift;
      const series = (counts: Array<[number, number]>) => {
        const s = Array.from({ length: 24 }, () => 0);
        for (const [h, n] of counts) s[at(h)]! += n;
        return s;
      };
      assert.deepEqual(o.series.alerts_by_detector, { sigma: series([[5, 1]]), suricata: series([[2, 2]]) }, 'alerts per detector and bucket (the 30 h old one is outside)');
      assert.deepEqual(
        o.series.incidents_by_outcome,
        { escalate: series([[2, 1]]), log: series([[5, 1]]), undecided: series([[3, 1], [5, 1]]) },
        'incidents by latest outcome: A escalated 2 h ago, B logged and C, G undecided 5 and 3 h ago; merged E apart',
      );
      assert.deepEqual(o.top.hosts, [{ value: 'ws-1', incidents: 2, alerts: 4 }, { value: 'ws-2', incidents: 1, alerts: 1 }], 'hosts: ws-3 was last seen 30 h ago');
      assert.deepEqual(o.top.users, [{ value: 'alice', incidents: 1, alerts: 3 }, { value: 'bob', incidents: 1, alerts: 1 }], 'users: equal incidents, more alerts first');
      assert.deepEqual(
        o.top.indicators,
        [{ type: 'ip', value: '198.51.100.7', incidents: 2, alerts: 4 }, { type: 'domain', value: 'evil.example', incidents: 1, alerts: 1 }],
        'other indicators with their type',
      );
      assert.deepEqual(
        o.automation,
        { closed: 4, closed_without_person: 1, rate: 0.25, decided: 3, decided_without_person: 1, decided_rate: 1 / 3 },
        'closed: A (approved by ana), C (closed by ana), D (ana wrote a note) and B (soar-bot alone); G reopened. ' +
          'Decided: A, B and F (cli:root triaged it); D was first decided 30 h ago',
      );
      assert.deepEqual(o.time_to_decision, { n: 2, p50_ms: 60_000, p90_ms: 300_000 }, 'A decided after 60 s, B after 300 s; C undecided');
      assert.deepEqual(o.providers, [], 'no enrichment in this process');
      assert.equal(o.receivers.length, 2, 'one per source');
      const [ids0, logs] = o.receivers as Json[];
      const none = { owner: null, last_record_at: null, records: null, lag_ms: null, error: null, cursor: null, reported_at: null };
      assert.deepEqual({ ...ids0, last_record_at: null }, { ...none, name: 'ids', kind: 'http', state: 'running' }, 'http intake runs here');
      assert.ok(ids0!.last_record_at >= before && ids0!.last_record_at <= after, `the record accepted just now (${ids0!.last_record_at})`);
      assert.deepEqual(logs, { ...none, name: 'logs', kind: 'file', state: 'unknown' }, 'a file receiver no process reported on, no record');
      assert.equal(o.backlog.ingest.records, 1, 'the accepted record waits for ingest');
      assert.equal(o.backlog.ingest.oldest_received_at, ids0!.last_record_at, 'since it was received');
      assert.deepEqual({ ...o.backlog.stages.enrich, lag_seconds: 0 }, { items: 1, oldest_at: now0 - 5000, lag_seconds: 0 }, 'one incident waits for enrichment');
      assert.ok(o.backlog.stages.enrich.lag_seconds >= 5, 'for at least 5 s');
      assert.equal(o.backlog.stages.decide.items, 0, 'nothing waits for decide');

      const w7 = (await get(api.app, '7d')).json() as Json;
      assert.equal(w7.bucket_ms, 6 * H, '6 hour buckets');
      assert.equal(w7.series.t.length, 28, '28 buckets');
      assert.equal(sum(w7.series.alerts_by_detector.suricata), 3, "D's alert 30 h ago is in the week");
      assert.equal(bucketOf({ from: w7.from, to: w7.to, bucketMs: w7.bucket_ms }, now0 - 30 * H), w7.series.alerts_by_detector.suricata.findIndex((n: number) => n === 1), "and in its bucket");
      assert.equal(sum(w7.series.incidents_by_outcome.notify), 1, 'D notified');
      assert.deepEqual(w7.time_to_decision, { n: 3, p50_ms: 300_000, p90_ms: 600_000 }, 'A, B and D');
      assert.deepEqual(w7.top.hosts.map((h: Json) => h.value), ['ws-1', 'ws-2', 'ws-3'], 'ws-3 too');
      assert.deepEqual(
        w7.automation,
        { closed: 4, closed_without_person: 1, rate: 0.25, decided: 4, decided_without_person: 1, decided_rate: 0.25 },
        'decided in the week: A, B, D and F; only B without a person',
      );
      assert.equal(((await get(api.app, '30d')).json() as Json).series.t.length, 30, '30 day buckets');

      const bad = await get(api.app, '1y');
      assert.equal(bad.statusCode, 400, 'an unknown window is refused');
      assert.equal((await get(api.app, '24h', null)).statusCode, 401, 'a token is needed');

      const spec = (await api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as Json;
      const op = spec.paths['/api/v1/overview']?.get;
      assert.ok(op, 'GET /overview is in the OpenAPI document');
      assert.match(op.description, /A person is an account of the web app/, 'the automation rate is defined there');
      assert.match(op.description, /cli:<login name>/, 'with who counts as a person');
      assert.match(op.description, /decided: incidents \(merged ones apart\) whose first decision falls in the window/, 'and the decided figures');
      assert.ok(op.responses['200'].content['application/json'].schema.properties.automation.description, 'the response schema is described');
    } finally {
      await api.close();
    }
  });

  test(`[${dialect}] GET /overview after 60 alerts through the real pipeline matches what it stored`, async () => {
    const api = await testApi(dialect);
    try {
      await seedHistory(api.t.store, 60);
      const o = (await get(api.app)).json() as Json;
      assert.equal(sum(o.series.alerts_by_detector.suricata), 60, 'every alert, received just now');
      // Ingest's hourly counts are exactly the stored alert rows grouped by hour and detector.
      const stored = await api.t.store.db.selectFrom('alerts').select(['received_at', 'detector']).execute();
      const expectCounts = new Map<string, number>();
      for (const a of stored) {
        const k = `${Number(a.received_at) - (Number(a.received_at) % H)}/${a.detector}`;
        expectCounts.set(k, (expectCounts.get(k) ?? 0) + 1);
      }
      const counts = await api.t.store.db.selectFrom('alert_counts').selectAll().execute();
      assert.deepEqual(
        new Map(counts.map((c) => [`${Number(c.hour)}/${c.detector}`, Number(c.n)])),
        expectCounts,
        'alert_counts holds one row per hour and detector of the stored alerts, with their number',
      );
      assert.deepEqual(Object.keys(o.series.alerts_by_detector), ['suricata'], 'one detector');
      const outcomes = await api.t.store.db.selectFrom('incidents').select(['decision']).execute();
      const expected: Record<string, number> = {};
      for (const row of outcomes) {
        const outcome = (JSON.parse(row.decision!) as { outcome: string }).outcome;
        expected[outcome] = (expected[outcome] ?? 0) + 1;
      }
      const got = Object.fromEntries(Object.entries(o.series.incidents_by_outcome as Record<string, number[]>).map(([k, v]) => [k, sum(v)]));
      assert.deepEqual(got, expected, "per outcome, the incidents' current decisions");
      assert.equal(sum(Object.values(got)), 60, '60 incidents');
      assert.equal(o.time_to_decision.n, 60, 'all decided');
      assert.ok(o.time_to_decision.p50_ms !== null && o.time_to_decision.p50_ms <= o.time_to_decision.p90_ms, 'p50 ≤ p90');
      assert.deepEqual(
        o.automation,
        { closed: 0, closed_without_person: 0, rate: null, decided: 60, decided_without_person: 60, decided_rate: 1 },
        'nothing closed; every incident decided by the pipeline alone',
      );
      assert.equal(o.backlog.ingest.records, 0, 'all ingested');
      assert.ok(o.top.indicators.length > 0 && o.top.indicators.length <= 10, 'indicators of the alerts, at most 10');
    } finally {
      await api.close();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] migration 0026 counts the stored alerts per hour and detector; countAlerts adds to them`, async () => {
    const place = newStorePlace(dialect);
    try {
      const d = dialectFor({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
      await d.prepare?.();
      const raw = d.connect();
      const t0 = Date.UTC(2026, 11, 7, 10);
      try {
        await migrate(raw, d.name, { upTo: '0025_audit_subject' });
        let n = 0;
        const row = (detector: string, receivedAt: number, duplicateOf: string | null = null) => {
          const id = `A${n++}`;
          return sql`insert into alerts (id, intake_id, source, detector, fingerprint, time, received_at, title, severity, incident_id, repeat_count, doc, raw, duplicate_of)
            values (${id}, ${id}, 'ids', ${detector}, ${`fp-${id}`}, 0, ${receivedAt}, 't', 10, null, 1, '{}', '', ${duplicateOf})`.execute(raw);
        };
        await row('suricata', t0);
        await row('suricata', t0 + H - 1, 'A0');
        await row('suricata', t0 + H);
        await row('sigma', t0 + 5);
      } finally {
        await raw.destroy();
      }
      const store = await openStore({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
      try {
        const read = async () =>
          (await store.db.selectFrom('alert_counts').selectAll().orderBy('hour').orderBy('detector').execute()).map((r) => [Number(r.hour), r.detector, Number(r.n)]);
        assert.deepEqual(await read(), [[t0, 'sigma', 1], [t0, 'suricata', 2], [t0 + H, 'suricata', 1]], 'a repeat counts; the hour ends just before the next');
        await store.db.transaction().execute((tx) =>
          countAlerts(tx, [
            { received_at: t0 + H + 10, detector: 'suricata' },
            { received_at: t0 + 3 * H, detector: 'zeek' },
            { received_at: t0 + H + 20, detector: 'suricata' },
            { received_at: t0 + 7, detector: 'sigma' },
          ]),
        );
        assert.deepEqual(await read(), [[t0, 'sigma', 2], [t0, 'suricata', 2], [t0 + H, 'suricata', 3], [t0 + 3 * H, 'zeek', 1]], 'added to the rows there, new rows for new hours and detectors');
        const w = windowBounds('24h', t0 + 3 * H + 1);
        const series = await alertsByDetector(store, w);
        assert.deepEqual(
          Object.fromEntries(Object.entries(series).map(([k, v]) => [k, v.map((x, i) => [i, x]).filter(([, x]) => x! > 0)])),
          { sigma: [[20, 2]], suricata: [[20, 2], [21, 3]], zeek: [[23, 1]] },
          'the series reads the counts into hour buckets',
        );
        const w7 = windowBounds('7d', t0 + 3 * H + 1);
        assert.equal(sum(Object.values(await alertsByDetector(store, w7)).flat()), 8, 'a 6 hour bucket sums its hours');
      } finally {
        await store.close();
      }
    } finally {
      await place.drop();
    }
  });
}

test.after(async () => {
  await defaultSandbox().close();
});
