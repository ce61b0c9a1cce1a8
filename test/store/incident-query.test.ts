/**
 * The incident queue's query (store/incident-query.ts) on both dialects, against a model of a small seeded
 * store: every filter and sort, paged 3 at a time through ties on every sort key (each page continues where
 * the last stopped, nothing twice, nothing left out), totals exact and capped, detector/source filters by
 * both plans, SQL and LIKE metacharacters in q and indicator kept literal, and invalid values refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { insertRows } from '../../src/store/insert-rows.js';
import { encodeBase32 } from '../../src/util/ulid.js';
import { decodeCursor, encodeCursor, queryIncidents, type IncidentQuery, type IncidentSort } from '../../src/store/incident-query.js';
import { isFidoError } from '../../src/errors.js';
import type { QueryStore } from '../../src/store/incident-query.js';

const T0 = 1_795_000_000_000;
const STATUSES = ['new', 'triaged', 'contained', 'closed'] as const;
const VERDICTS = ['true_positive', 'false_positive', 'benign'] as const;
const N = 48;

interface Model {
  id: string;
  title: string;
  status: string;
  verdict: string | null;
  first_seen: number;
  last_seen: number;
  alert_count: number;
  host: string | null;
  user: string | null;
  score: number | null;
  assignee: string | null;
  tags: string[];
  detectors: string[];
  sources: string[];
  indicators: Array<[string, string]>;
}

const SPECIAL_TITLES: Record<number, string> = {
  20: 'CPU at 100% load',
  21: 'CPU at 1000 load',
  22: 'snake_case thing',
  23: 'snakeXcase thing',
  24: 'back\\slash',
  25: "O'Brien; drop table incidents; --",
};

const MODEL: Model[] = Array.from({ length: N }, (_, i) => ({
  // ids in creation order; every sort key repeats across incidents, so ties are broken by id.
  id: encodeBase32(T0 + i, 10) + encodeBase32(i, 16),
  title: SPECIAL_TITLES[i] ?? `Alert number ${i}`,
  status: STATUSES[i % 4]!,
  verdict: i % 4 === 3 ? VERDICTS[i % 3]! : null,
  first_seen: T0 - (i % 3) * 1000,
  last_seen: T0 + (i % 4) * 1000,
  alert_count: 1 + (i % 3),
  host: i % 6 === 0 ? null : `Host-${i % 5}`,
  user: i % 3 === 0 ? null : `User${i % 4}`,
  score: i % 7 === 0 ? null : (i % 5) * 10 + (i % 2 ? 0.5 : 0),
  assignee: i % 3 === 0 ? null : `a${i % 2}`,
  tags: i % 5 === 0 ? ['x', 'y'] : i % 5 === 1 ? ['x'] : [],
  detectors: i % 10 === 0 ? ['suricata', 'canary'] : [i % 2 ? 'suricata' : 'sigma'],
  sources: i % 10 === 0 ? ['dmz', 'honeypot'] : ['dmz'],
  indicators: [['ip', `10.0.0.${i % 8}`], ['domain', `d${i % 3}.example.com`], ...(i === 13 ? [['user', 'a%b'] as [string, string]] : []), ...(i === 14 ? [['user', 'axb'] as [string, string]] : [])],
}));

async function seed(store: QueryStore): Promise<void> {
  const db = store.db;
  await insertRows(
    db,
    'incidents',
    ['id', 'title', 'status', 'verdict', 'first_seen', 'last_seen', 'alert_count', 'severity', 'host', 'user_name', 'score_total', 'created_at', 'updated_at'],
    MODEL.map((m) => ({ ...m, severity: 10, user_name: m.user, score_total: m.score, created_at: m.first_seen, updated_at: m.last_seen })),
  );
  for (const m of MODEL) if (m.assignee) await sql`update incidents set assignee = ${m.assignee} where id = ${m.id}`.execute(db);
  await insertRows(db, 'incident_tags', ['incident_id', 'tag'], MODEL.flatMap((m) => m.tags.map((tag) => ({ incident_id: m.id, tag }))));
  let n = 0;
  const alerts = MODEL.flatMap((m) =>
    m.detectors.map((detector, k) => {
      const id = encodeBase32(T0 + n, 10) + encodeBase32(1e6 + n++, 16);
      return { id, intake_id: id, source: m.sources[k]!, detector, fingerprint: `fp-${id}`, time: m.first_seen, received_at: m.first_seen, title: m.title, severity: 10, incident_id: m.id, repeat_count: 1, doc: '{}', raw: '' };
    }),
  );
  await insertRows(db, 'alerts', ['id', 'intake_id', 'source', 'detector', 'fingerprint', 'time', 'received_at', 'title', 'severity', 'incident_id', 'repeat_count', 'doc', 'raw'], alerts);
  // The detector and source filters read incident_facets, which ingest writes (test/pipeline/incident-facets.test.ts).
  const facets = new Map(alerts.flatMap((a) => (['detector', 'source'] as const).map((facet) => [`${a.incident_id}/${facet}/${a[facet]}`, { incident_id: a.incident_id, facet, value: a[facet] }])));
  await insertRows(db, 'incident_facets', ['incident_id', 'facet', 'value'], [...facets.values()]);
  await insertRows(
    db,
    'incident_observables',
    ['incident_id', 'type', 'value', 'alerts', 'events', 'first_seen', 'last_seen'],
    MODEL.flatMap((m) => m.indicators.map(([type, value]) => ({ incident_id: m.id, type, value, alerts: 1, events: 1, first_seen: m.first_seen, last_seen: m.last_seen }))),
  );
}

const KEY: Record<IncidentSort, (m: Model) => number> = {
  score: (m) => m.score ?? -1,
  last_seen: (m) => m.last_seen,
  first_seen: (m) => m.first_seen,
  alert_count: (m) => m.alert_count,
};

const lowerHas = (v: string | null, q: string) => (v ?? '').toLowerCase().includes(q.toLowerCase());

/** What the query should answer, from the model. */
function expected(q: IncidentQuery): string[] {
  const key = KEY[q.sort ?? 'score'];
  return MODEL.filter(
    (m) =>
      (!q.status || q.status.includes(m.status as (typeof STATUSES)[number])) &&
      (q.minScore === undefined || (m.score ?? -1) >= q.minScore) &&
      (q.maxScore === undefined || (m.score ?? -1) <= q.maxScore) &&
      (q.detector === undefined || m.detectors.includes(q.detector)) &&
      (q.source === undefined || m.sources.includes(q.source)) &&
      (q.host === undefined || m.host?.toLowerCase() === q.host.toLowerCase()) &&
      (q.user === undefined || m.user?.toLowerCase() === q.user.toLowerCase()) &&
      (q.assignee === undefined || m.assignee === q.assignee) &&
      (q.tag === undefined || m.tags.includes(q.tag)) &&
      (q.verdict === undefined || m.verdict === q.verdict) &&
      (q.since === undefined || m.last_seen >= q.since) &&
      (q.until === undefined || m.last_seen < q.until) &&
      (q.q === undefined || lowerHas(m.title, q.q) || lowerHas(m.host, q.q) || lowerHas(m.user, q.q)),
  )
    .sort((a, b) => key(b) - key(a) || (a.id < b.id ? 1 : -1))
    .map((m) => m.id);
}

/** Every page, `limit` at a time. */
async function allPages(store: QueryStore, q: IncidentQuery): Promise<{ ids: string[]; pages: number; total: number; exact: boolean }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  let total = -1;
  let exact = false;
  do {
    const page = await queryIncidents(store, { ...q, ...(cursor ? { cursor } : {}) });
    ids.push(...page.rows.map((r) => r.id));
    if (pages === 0) ({ total, total_exact: exact } = page);
    else assert.deepEqual([page.total, page.total_exact], [total, exact], 'the total is the same on every page');
    cursor = page.next_cursor ?? undefined;
    pages++;
    assert.ok(pages <= N + 1, 'paging ends');
  } while (cursor);
  return { ids, pages, total, exact };
}

const CASES: Array<[string, IncidentQuery]> = [
  ['no filter', {}],
  ['sort last_seen', { sort: 'last_seen' }],
  ['sort first_seen', { sort: 'first_seen' }],
  ['sort alert_count', { sort: 'alert_count' }],
  ['one status', { status: ['triaged'] }],
  ['two statuses (merged ranges)', { status: ['new', 'closed'] }],
  ['three statuses, sort alert_count', { status: ['new', 'closed', 'contained'], sort: 'alert_count' }],
  ['min_score', { minScore: 20 }],
  ['max_score (not yet scored count as -1)', { maxScore: 10 }],
  ['score range, fractional', { minScore: 30.5, maxScore: 40 }],
  ['detector', { detector: 'suricata' }],
  ['detector, rare', { detector: 'canary', sort: 'first_seen' }],
  ['detector, walked with a probe', { detector: 'suricata', fewIncidents: 0 }],
  ['detector, probe, two statuses', { detector: 'sigma', status: ['new', 'contained'], fewIncidents: 0 }],
  ['source', { source: 'honeypot' }],
  ['source, walked with a probe', { source: 'honeypot', fewIncidents: 0, sort: 'last_seen' }],
  ['host, other case', { host: 'HOST-2' }],
  ['user, other case', { user: 'user1', sort: 'last_seen' }],
  ['assignee', { assignee: 'a1' }],
  ['assignee none', { assignee: null }],
  ['assignee none, one status', { assignee: null, status: ['new'] }],
  ['tag', { tag: 'x' }],
  ['tag, none has it', { tag: 'zzz' }],
  ['verdict', { verdict: 'false_positive' }],
  ['verdict none', { verdict: null, sort: 'alert_count' }],
  ['since', { since: T0 + 2000 }],
  ['since and until', { since: T0 + 1000, until: T0 + 3000, sort: 'last_seen' }],
  ['q in title', { q: 'NUMBER 1' }],
  ['q in host', { q: 'host-3' }],
  ['q in user', { q: 'user2' }],
  ['q with % literal', { q: '100%' }],
  ['q with _ literal', { q: 'e_c' }],
  ['q with backslash literal', { q: 'k\\s' }],
  ['q with SQL in it', { q: "O'Brien; drop" }],
  ['q with %% only', { q: '%' }],
  ['everything at once', { status: ['new', 'triaged', 'closed'], minScore: 0, detector: 'suricata', assignee: 'a1', q: 'alert', sort: 'last_seen' }],
];

const QUEUE_INDEXES = [
  'incidents_q_score', 'incidents_q_status_score', 'incidents_q_last_seen', 'incidents_q_first_seen', 'incidents_q_alert_count',
  'incidents_q_host', 'incidents_q_user', 'incidents_q_unassigned', 'incident_facets_value', 'incidents_assignee', 'incident_tags_tag',
];
/** Migration 0021's, dropped by 0023 (each cost ingest an index entry per alert; incident_facets replaced them). */
const DROPPED_INDEXES = ['alerts_q_detector', 'alerts_q_source'];

for (const dialect of DIALECTS) {
  test(`incident queue on ${dialect}: the indexes it relies on are in the schema`, async () => {
    const t = await openTestStore(dialect);
    try {
      const names = async (): Promise<string[]> => {
        const r =
          dialect === 'sqlite'
            ? await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(t.store.db)
            : await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(t.store.db);
        return r.rows.map((x) => x.name);
      };
      const have = await names();
      for (const name of QUEUE_INDEXES) assert.ok(have.includes(name), `index ${name}`);
      for (const name of DROPPED_INDEXES) assert.ok(!have.includes(name), `no index ${name}`);
      if (dialect === 'sqlite') assert.ok(have.includes('incidents_q_text'));
      else {
        // The trigram index wherever pg_trgm is there to be installed (this machine's server has it).
        const available = await sql`select 1 from pg_available_extensions where name = 'pg_trgm'`.execute(t.store.db);
        assert.equal(have.includes('incidents_q_trgm'), available.rows.length > 0);
      }
    } finally {
      await t.cleanup();
    }
  });

  test(`incident queue on ${dialect}: every filter and sort, paged through ties, with totals`, async () => {
    const t = await openTestStore(dialect);
    try {
      await seed(t.store);
      for (const [name, q] of CASES) {
        const want = expected(q);
        const got = await allPages(t.store, { ...q, limit: 3 });
        assert.deepEqual(got.ids, want, `${name}: the pages, in order`);
        assert.equal(got.pages, Math.max(1, Math.ceil(want.length / 3)), `${name}: pages`);
        assert.deepEqual([got.total, got.exact], [want.length, true], `${name}: total`);
        const one = await queryIncidents(t.store, { ...q, limit: 200 });
        assert.deepEqual(one.rows.map((r) => r.id), want, `${name}: one page`);
        assert.equal(one.next_cursor, null, `${name}: no next page`);
      }
      // A sanity check on the model: the cases are not all empty or all full.
      assert.ok(CASES.filter(([, q]) => expected(q).length > 0 && expected(q).length < N).length > 25);
    } finally {
      await t.cleanup();
    }
  });

  test(`incident queue on ${dialect}: indicators, capped totals, cursors and invalid values`, async () => {
    const t = await openTestStore(dialect);
    try {
      await seed(t.store);
      const ids = async (q: IncidentQuery) => (await queryIncidents(t.store, { ...q, limit: 200 })).rows.map((r) => r.id).sort();
      const withIndicator = (type: string, value: string) => MODEL.filter((m) => m.indicators.some(([ty, v]) => ty === type && v === value)).map((m) => m.id).sort();
      assert.deepEqual(await ids({ indicator: 'ip:10.0.0.3' }), withIndicator('ip', '10.0.0.3'));
      // A typed value is normalised as ingest stores it; a bare one is looked up under every type.
      assert.deepEqual(await ids({ indicator: 'domain:D1.Example.COM' }), withIndicator('domain', 'd1.example.com'));
      assert.deepEqual(await ids({ indicator: 'd2.example.com' }), withIndicator('domain', 'd2.example.com'));
      assert.ok((await ids({ indicator: 'd2.example.com' })).length > 0);
      // LIKE metacharacters in an indicator are data: "a%b" is not "axb".
      assert.deepEqual(await ids({ indicator: 'a%b' }), [MODEL[13]!.id]);
      assert.deepEqual(await ids({ indicator: "ip:10.0.0.1' or '1'='1" }).catch((e: unknown) => (isFidoError(e) ? e.code : e)), 'bad_request');
      assert.deepEqual(await ids({ indicator: "x' or 1=1 --" }), []);

      // The total is counted up to the cap, then a lower bound.
      const capped = await queryIncidents(t.store, { countCap: 5 });
      assert.deepEqual([capped.total, capped.total_exact, capped.rows.length], [5, false, N]);
      const under = await queryIncidents(t.store, { tag: 'y', countCap: 10 });
      assert.deepEqual([under.total, under.total_exact], [expected({ tag: 'y' }).length, true]);

      // Cursors: opaque, tied to their sort.
      const first = await queryIncidents(t.store, { sort: 'last_seen', limit: 2 });
      assert.ok(first.next_cursor && /^[A-Za-z0-9_-]+$/.test(first.next_cursor));
      assert.deepEqual(decodeCursor(first.next_cursor, 'last_seen'), { key: MODEL.find((m) => m.id === first.rows[1]!.id)!.last_seen, id: first.rows[1]!.id });
      const refused = async (q: IncidentQuery, message: RegExp) =>
        assert.rejects(queryIncidents(t.store, q), (e: unknown) => isFidoError(e) && e.code === 'bad_request' && message.test(e.message));
      await refused({ sort: 'score', cursor: first.next_cursor }, /made for sort "last_seen"/);
      await refused({ cursor: 'not a cursor' }, /^cursor:/);
      await refused({ cursor: Buffer.from('{"a":1}').toString('base64url') }, /^cursor:/);
      await refused({ cursor: encodeCursor('score', 1, "x' or 1=1") }, /^cursor:/);
      await refused({ status: ['open' as 'new'] }, /^status: "open" is not one of new, triaged/);
      await refused({ sort: 'severity' as IncidentSort }, /^sort:/);
      await refused({ limit: 0 }, /^limit:/);
      await refused({ limit: 201 }, /^limit:/);
      await refused({ minScore: 50, maxScore: 10 }, /^min_score: greater than max_score/);
      await refused({ minScore: Number.NaN }, /^min_score:/);
      await refused({ verdict: 'maybe' as 'benign' }, /^verdict:/);
      await refused({ q: '' }, /^q: empty/);
      await refused({ indicator: 'ip:999.1.1.1' }, /^indicator: "999.1.1.1" is not a valid ip/);
      // The tables are intact after all of the above.
      assert.equal((await queryIncidents(t.store, {})).total, N);
    } finally {
      await t.cleanup();
    }
  });
}
