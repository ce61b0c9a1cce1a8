/**
 * How fast the analyst's incident queue answers (issue 18: every list and filter under 100 ms on the
 * embedded default with 1,000,000 alerts stored).
 *
 *   node --import tsx bench/queue.ts [alerts=1000000] [runs=20] [--postgres]
 *
 * A store migrated by openStore (Fido's schema and indexes, migration 0021's included), filled with
 * prepared single-row inserts in one transaction (better-sqlite3 directly; on PostgreSQL, multi-row
 * inserts): `alerts` alerts in alerts / 10 incidents, sizes skewed (most incidents small, a few thousands
 * of alerts), over a year; 5,000 hosts and 2,000 users (a few busy ones), 8 detectors and 12 sources with a
 * long tail (the rarest in ~0.1% of incidents), 3–6 indicators per incident from a pool with hot values,
 * statuses, scores (5% not yet scored), verdicts, assignees (40% none) and tags (30% tagged). Incident rows
 * carry score, decision and digest documents of realistic size (the scan cost of a row is its size).
 *
 * Then, for each filter and sort, `runs` times: the first page of 50 and the total (queryIncidents, as the
 * API calls it), and the page after it (cursor); p50 and p95 in ms. Printed only; the goal is < 100 ms.
 * BENCH_QUEUE_STORE=DIR fills DIR once and reuses it; with --postgres, BENCH_QUEUE_PG_SCHEMA=NAME a schema (kept).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '../src/store/store.js';
import { queryIncidents, type IncidentQuery } from '../src/store/incident-query.js';
import { encodeBase32 } from '../src/util/ulid.js';
import { tempDir, PG_URL } from '../test/support/stores.js';
import { seededRandom } from '../test/support/random.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const ALERTS = Number(args[0] ?? 1_000_000);
const RUNS = Number(args[1] ?? 20);
const POSTGRES = process.argv.includes('--postgres');
const INCIDENTS = Math.max(1, Math.round(ALERTS / 10));
const YEAR_MS = 365 * 86_400_000;
const NOW = Date.UTC(2026, 11, 1);

// Deterministic (mulberry32), so every run fills the same store.
const rand = seededRandom(18);
/** Index into a list of n, the first few far more likely (a busy host, a loud detector). */
const skewed = (n: number, power = 3) => Math.min(n - 1, Math.floor(n * rand() ** power));
const pick = <T>(list: readonly T[], power = 1) => list[skewed(list.length, power)]!;
/** Picks by weight. */
function weighted<T>(list: ReadonlyArray<readonly [T, number]>): T {
  let r = rand() * list.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of list) if ((r -= w) < 0) return v;
  return list[list.length - 1]![0];
}

const DETECTORS: Array<[string, number]> = [['suricata', 40], ['sigma', 20], ['crowdstrike', 15], ['zeek', 10], ['okta', 8], ['guardduty', 5], ['defender', 1.9], ['canary', 0.1]];
const SOURCES: Array<[string, number]> = [
  ['dmz-suricata', 25], ['core-suricata', 15], ['siem-sigma', 20], ['edr', 15], ['zeek-north', 6], ['zeek-south', 4],
  ['okta-prod', 8], ['aws-prod', 3], ['aws-dev', 2], ['defender-eu', 1.2], ['defender-us', 0.7], ['honeypot', 0.1],
];
const STATUSES: Array<[string, number]> = [['new', 30], ['triaged', 20], ['contained', 5], ['closed', 45]];
const TITLES = ['ET TROJAN beacon to known C2', 'Brute force against SSH', 'Impossible travel sign-in', 'Suspicious PowerShell download cradle', 'Credential dumping via LSASS access', 'Port scan from internal host', 'Malicious document macro executed', 'S3 bucket made public', 'DNS tunnelling suspected', 'Ransomware canary file touched'];
const HOSTS = Array.from({ length: 5000 }, (_, i) => `ws-${String(i).padStart(4, '0')}.corp.example`);
const USERS = Array.from({ length: 2000 }, (_, i) => `user${i}`);
const ANALYSTS = Array.from({ length: 50 }, (_, i) => `analyst${i}`);
const TAGS = Array.from({ length: 30 }, (_, i) => `tag-${i}`);
const IPS = Array.from({ length: 50_000 }, (_, i) => `198.18.${(i >> 8) & 255}.${i & 255}`);
const DOMAINS = Array.from({ length: 20_000 }, (_, i) => `d${i}.example.net`);

const idAt = (t: number, n: number) => encodeBase32(t, 10) + encodeBase32(n, 16).slice(0, 16);

interface Row {
  [column: string]: string | number | null;
}

/** The store's rows, made in order: per incident its row, its alerts, its indicators and tags. */
function* generate(): Generator<{ table: 'incidents' | 'alerts' | 'incident_observables' | 'incident_tags' | 'incident_facets'; row: Row }> {
  let left = ALERTS;
  let alertNo = 0;
  for (let i = 0; i < INCIDENTS; i++) {
    const remaining = INCIDENTS - i;
    // Mean 10, skewed: most incidents have a few alerts, some thousands; the last takes what is left.
    const size = remaining === 1 ? Math.max(1, left) : Math.max(1, Math.min(left - (remaining - 1), Math.round(2 / Math.max(rand(), 0.0005) ** 0.7 * 0.9)));
    left -= size;
    const first = NOW - YEAR_MS + Math.floor((i / INCIDENTS) * YEAR_MS);
    const last = first + Math.floor(rand() * Math.min(size, 500) * 60_000);
    const id = idAt(first, i);
    const detector = weighted(DETECTORS);
    const source = weighted(SOURCES);
    const host = rand() < 0.9 ? pick(HOSTS, 3) : null;
    const user = rand() < 0.6 ? pick(USERS, 3) : null;
    const status = weighted(STATUSES);
    const score = rand() < 0.05 ? null : Math.round(rand() ** 1.5 * 1000) / 10;
    const verdict = status === 'closed' ? weighted([['false_positive', 60], ['true_positive', 25], ['benign', 15]] as const) : null;
    const title = `${pick(TITLES, 2)} on ${host ?? 'unknown host'}`;
    const scoreDoc = JSON.stringify({ total: score, profile: 'default', parts: Array.from({ length: 6 }, (_, k) => ({ factor: `factor-${k}`, points: k * 2.5, why: 'the detector rated the alert high; the indicator is on a feed' })) });
    const digest = JSON.stringify({ rules: [{ source, detector, rule_id: `r-${i % 500}`, rule_name: null, title, alerts: size, severity: 60, alert: id }], more_rules: 0, sources: [source], detectors: [detector], recent: [id] });
    yield {
      table: 'incidents',
      row: {
        id, title, status, verdict, first_seen: first, last_seen: last, alert_count: size, severity: 20 + (i % 80), host, user_name: user,
        score_total: score, score: scoreDoc, decision: JSON.stringify({ rule: 'notify-medium', outcome: 'notify', actions: ['email'], explanation: 'score.total >= 50.0' }),
        created_at: first, updated_at: last, digest,
        assignee: rand() < 0.4 ? null : pick(ANALYSTS, 2),
      },
    };
    // The incident's detectors and sources (incident_facets, as ingest writes them), once each.
    const facets = new Set<string>();
    for (let k = 0; k < size; k++, alertNo++) {
      // Mostly the incident's detector and source; one in ten from another (correlated across sensors).
      const other = rand() < 0.1;
      const t = first + Math.floor(((last - first) * k) / size);
      const alertSource = other ? weighted(SOURCES) : source;
      const alertDetector = other ? weighted(DETECTORS) : detector;
      for (const [facet, value] of [['detector', alertDetector], ['source', alertSource]] as const) {
        if (facets.has(`${facet}:${value}`)) continue;
        facets.add(`${facet}:${value}`);
        yield { table: 'incident_facets', row: { incident_id: id, facet, value } };
      }
      yield {
        table: 'alerts',
        row: {
          id: idAt(t, alertNo + 1e9), intake_id: idAt(t, alertNo + 2e9), source: alertSource, detector: alertDetector,
          vendor_id: null, fingerprint: `fp-${alertNo}`, time: t, received_at: t, title, severity: 50, rule_id: `r-${i % 500}`, host, user_name: user,
          incident_id: id, repeat_count: 1, decided_at: t, doc: JSON.stringify({ title, host, user }), raw: '', seq: alertNo + 1,
        },
      };
    }
    const indicators = new Map<string, [string, string]>();
    indicators.set(`ip`, ['ip', pick(IPS, 2)]);
    indicators.set(`ip2`, ['ip', pick(IPS, 1)]);
    indicators.set(`domain`, ['domain', pick(DOMAINS, 3)]);
    if (host) indicators.set('host', ['host', host]);
    if (user) indicators.set('user', ['user', user]);
    if (rand() < 0.2) indicators.set('sha256', ['sha256', randomBytes(32).toString('hex')]);
    const seen = new Set<string>();
    for (const [type, value] of indicators.values()) {
      if (seen.has(`${type}:${value}`)) continue;
      seen.add(`${type}:${value}`);
      yield { table: 'incident_observables', row: { incident_id: id, type, value, alerts: size, events: size, first_seen: first, last_seen: last } };
    }
    if (rand() < 0.3) {
      const tags = new Set([pick(TAGS, 2), pick(TAGS, 2)]);
      for (const tag of tags) yield { table: 'incident_tags', row: { incident_id: id, tag } };
    }
  }
}

async function fillSqlite(file: string): Promise<void> {
  const db = new Sqlite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  const statements = new Map<string, Sqlite.Statement>();
  const t0 = performance.now();
  let n = 0;
  db.exec('begin');
  for (const { table, row } of generate()) {
    const cols = Object.keys(row);
    const key = `${table}:${cols.join(',')}`;
    let st = statements.get(key);
    if (!st) statements.set(key, (st = db.prepare(`insert into ${table} (${cols.map((c) => `"${c}"`).join(',')}) values (${cols.map(() => '?').join(',')})`)));
    st.run(...Object.values(row));
    if (table === 'alerts' && ++n % 100_000 === 0) process.stderr.write(`filled ${n}/${ALERTS} alerts (${Math.round((performance.now() - t0) / 1000)} s)\n`);
  }
  db.exec('commit');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function fillPostgres(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, '') });
  await c.connect();
  const schema = new URL(url).searchParams.get('schema')!;
  await c.query(`set search_path to ${schema}`);
  const batches = new Map<string, { cols: string[]; rows: Row[] }>();
  const flush = async (table: string) => {
    const b = batches.get(table);
    if (!b || b.rows.length === 0) return;
    const params: Array<string | number | null> = [];
    const values = b.rows.map((r) => `(${b.cols.map((col) => `$${params.push(r[col] ?? null)}`).join(',')})`);
    await c.query(`insert into ${table} (${b.cols.map((col) => `"${col}"`).join(',')}) values ${values.join(',')}`, params);
    b.rows = [];
  };
  await c.query('begin');
  let n = 0;
  for (const { table, row } of generate()) {
    let b = batches.get(table);
    if (!b) batches.set(table, (b = { cols: Object.keys(row), rows: [] }));
    b.rows.push(row);
    if (b.rows.length * b.cols.length > 30_000) await flush(table);
    if (table === 'alerts' && ++n % 100_000 === 0) process.stderr.write(`filled ${n}/${ALERTS} alerts\n`);
  }
  for (const table of batches.keys()) await flush(table);
  await c.query('commit');
  // As autovacuum leaves a table some time after a bulk load: statistics, and the visibility map that lets
  // index-only scans skip the rows.
  await c.query('vacuum analyze');
  await c.end();
}

/** Whether the schema of `url` already holds the bench's incidents (BENCH_QUEUE_PG_SCHEMA reuses one). */
async function pgFilled(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, '') });
  await c.connect();
  try {
    const schema = new URL(url).searchParams.get('schema')!;
    const r = await c.query(`select 1 from information_schema.tables where table_schema = $1 and table_name = 'incidents'`, [schema]);
    if (r.rowCount === 0) return false;
    return (await c.query(`select 1 from ${schema}.incidents limit 1`)).rowCount === 1;
  } finally {
    await c.end();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function time(store: Store, q: IncidentQuery): Promise<{ p50: number; p95: number; next50: number; total: string; shown: number }> {
  const times: number[] = [];
  const next: number[] = [];
  let last = await queryIncidents(store, q);
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    last = await queryIncidents(store, q);
    times.push(performance.now() - t);
    if (last.next_cursor) {
      const t2 = performance.now();
      await queryIncidents(store, { ...q, cursor: last.next_cursor });
      next.push(performance.now() - t2);
    }
  }
  times.sort((a, b) => a - b);
  next.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), next50: next.length ? percentile(next, 50) : 0, total: `${last.total}${last.total_exact ? '' : '+'}`, shown: last.rows.length };
}

const CASES: Array<[string, IncidentQuery]> = [
  ['queue: sort score (default)', {}],
  ['sort last_seen', { sort: 'last_seen' }],
  ['sort first_seen', { sort: 'first_seen' }],
  ['sort alert_count', { sort: 'alert_count' }],
  ['status=new', { status: ['new'] }],
  ['status=new,triaged (the open queue)', { status: ['new', 'triaged'] }],
  ['status=contained, sort last_seen', { status: ['contained'], sort: 'last_seen' }],
  ['min_score=90', { minScore: 90 }],
  ['max_score=5', { maxScore: 5 }],
  ['min_score=40 max_score=41', { minScore: 40, maxScore: 41 }],
  ['detector=suricata (40%)', { detector: 'suricata' }],
  ['detector=canary (rare)', { detector: 'canary' }],
  ['source=edr', { source: 'edr' }],
  ['source=honeypot (rare)', { source: 'honeypot' }],
  ['host (busiest)', { host: HOSTS[0]!.toUpperCase() }],
  ['host (quiet)', { host: HOSTS[4999]! }],
  ['user (busiest)', { user: USERS[0]! }],
  ['indicator ip:… (hot)', { indicator: `ip:${IPS[0]}` }],
  ['indicator bare value', { indicator: DOMAINS[5]! }],
  ['indicator (absent)', { indicator: 'ip:192.0.2.1' }],
  ['assignee=analyst0', { assignee: 'analyst0' }],
  ['assignee=none', { assignee: null }],
  ['assignee=none, status new (unowned queue)', { assignee: null, status: ['new'] }],
  ['tag=tag-0 (common)', { tag: 'tag-0' }],
  ['tag=tag-29 (rare)', { tag: 'tag-29' }],
  ['verdict=false_positive', { verdict: 'false_positive' }],
  ['verdict=none', { verdict: null }],
  ['since: last 7 days', { since: NOW - 7 * 86_400_000 }],
  ['since/until: one day, 3 months ago', { since: NOW - 90 * 86_400_000, until: NOW - 89 * 86_400_000 }],
  ['q=powershell (common)', { q: 'powershell' }],
  ['q=ws-0042 (host part)', { q: 'ws-0042' }],
  ['q=no-such-text', { q: 'no-such-text' }],
  ['q=no-such-text, status new', { q: 'no-such-text', status: ['new'] }],
  ['open queue, min_score 50, detector suricata', { status: ['new', 'triaged'], minScore: 50, detector: 'suricata' }],
  ['open queue, sort last_seen, tag-1', { status: ['new', 'triaged'], sort: 'last_seen', tag: 'tag-1' }],
];

async function main(): Promise<void> {
  const reuse = process.env.BENCH_QUEUE_STORE;
  let dataDir: string;
  let url: string;
  let drop = async () => {};
  if (POSTGRES) {
    dataDir = tempDir('fido-bench-queue-');
    const u = new URL(PG_URL);
    const schema = process.env.BENCH_QUEUE_PG_SCHEMA ?? `fido_bq_${randomBytes(4).toString('hex')}`;
    u.searchParams.set('schema', schema);
    url = u.toString();
    if (process.env.BENCH_QUEUE_PG_SCHEMA) drop = async () => rmSync(dataDir, { recursive: true, force: true });
    else drop = async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    };
  } else {
    dataDir = reuse ?? tempDir('fido-bench-queue-');
    url = `sqlite:${join(dataDir, 'fido.db')}`;
    if (!reuse) drop = async () => rmSync(dataDir, { recursive: true, force: true });
  }
  const fresh = POSTGRES ? !(await pgFilled(url)) : !reuse || !existsSync(join(dataDir, 'filled'));
  try {
    if (fresh) {
      const t0 = performance.now();
      await (await openStore({ databaseUrl: url, dataDir })).close();
      if (POSTGRES) await fillPostgres(url);
      else await fillSqlite(join(dataDir, 'fido.db'));
      if (reuse && !POSTGRES) mkdirSync(join(dataDir, 'filled'));
      process.stderr.write(`filled in ${Math.round((performance.now() - t0) / 1000)} s\n`);
    }
    const store = await openStore({ databaseUrl: url, dataDir });
    try {
      const counts = await Promise.all((['incidents', 'alerts', 'incident_observables', 'incident_tags'] as const).map(async (t) => [t, Number((await store.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)] as const));
      console.log(`incident queue, ${store.dialect}: ${counts.map(([t, n]) => `${n.toLocaleString('en')} ${t}`).join(', ')}; ${RUNS} runs each`);
      console.log('first page of 50 + total (p50 / p95 ms), page 2 (p50 ms), total');
      const rows: string[][] = [];
      for (const [name, q] of CASES) {
        const r = await time(store, q);
        rows.push([name, r.p50.toFixed(1), r.p95.toFixed(1), r.next50.toFixed(1), r.total, r.p95 < 100 ? '' : 'MISS']);
      }
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      console.log(['case', 'p50', 'p95', 'page2', 'total', ''].map((h, i) => h.padEnd(widths[i]!)).join('  '));
      for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    } finally {
      await store.close();
    }
  } finally {
    await drop();
  }
}

await main();
