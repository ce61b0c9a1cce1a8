/**
 * How fast GET /api/v1/overview answers on a large store (issue 18, item 4).
 *
 *   node --import tsx bench/overview.ts [alerts=100000] [runs=20] [--postgres]
 *
 * The store is bench/queue.ts's (its fill, run as it is: `alerts` alerts in alerts / 10 incidents over a year
 * ending 2026-12-01, hosts, users, indicators, detectors, statuses), kept in BENCH_OVERVIEW_STORE=DIR when set
 * (the queue bench's BENCH_QUEUE_STORE). To it this adds what the overview reads and the queue bench does not
 * write: for every incident first seen in the last 30 days two decisions (the first 1 to 600 s after
 * first_seen, the latest with its outcome), and for every closed one a closing verdict in the audit log, half
 * by a person (a web account) and half by a token; and the hourly alert counts (alert_counts, migration 0026),
 * which ingest keeps and the fill does not write. Then, per window, `runs` times the route's own computation
 * (buildOverview, at the store's "now"), p50 and p95 in ms. Printed only. With --postgres the schema is
 * BENCH_QUEUE_PG_SCHEMA (kept) or one of its own (dropped at the end).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../src/store/store.js';
import { buildOverview } from '../src/api/routes/overview.js';
import { OVERVIEW_WINDOWS, windowBounds } from '../src/store/overview.js';
import { fillAlertCounts } from '../src/store/migrations/0026_alert_counts.js';
import { tempDir, PG_URL } from '../test/support/stores.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const ALERTS = Number(args[0] ?? 100_000);
const RUNS = Number(args[1] ?? 20);
const POSTGRES = process.argv.includes('--postgres');
/** bench/queue.ts's "now": its year of incidents ends here. */
const NOW = Date.UTC(2026, 11, 1);
const DAY = 86_400_000;

/** Fills the store with bench/queue.ts (its fill, its one round of queue timings to stderr). */
function fillWithQueueBench(dir: string, pgSchema: string | null): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/queue.ts', String(ALERTS), '1', ...(pgSchema ? ['--postgres'] : [])], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, BENCH_QUEUE_STORE: dir, ...(pgSchema ? { BENCH_QUEUE_PG_SCHEMA: pgSchema } : {}) },
  });
  if (r.status !== 0) throw new Error(`bench/queue.ts failed (${r.status})`);
}

/** Decisions and closing verdicts for the last 30 days' incidents (the queue bench writes neither). */
async function addDecisionsAndCloses(store: Store): Promise<void> {
  const db = store.db;
  if (Number((await db.selectFrom('decisions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n) > 0) return;
  const since = NOW - 30 * DAY;
  const incidents = await db.selectFrom('incidents').select(['id', 'first_seen', 'status']).where('first_seen', '>=', since).orderBy('first_seen').execute();
  await db.insertInto('users').values({ id: 'bench-user', name: 'analyst0', role: 'analyst', password_hash: null, oidc_subject: null, created_at: since, disabled_at: null, failed_count: 0, locked_until: null, last_login_at: null }).onConflict((oc) => oc.doNothing()).execute();
  const outcomes = ['log', 'notify', 'notify', 'ignore', 'escalate'];
  const decisions: Array<{ incident_id: string; rule: string; outcome: string; doc: string; dry_run: number; config_version: string; created_at: number }> = [];
  const audits: Array<{ at: number; actor: string; action: string; subject: string; detail: string }> = [];
  incidents.forEach((inc, i) => {
    const first = Number(inc.first_seen);
    const outcome = outcomes[i % outcomes.length]!;
    decisions.push({ incident_id: inc.id, rule: 'notify-medium', outcome: 'notify', doc: '{}', dry_run: 0, config_version: 'bench', created_at: first + 1000 * (1 + (i % 600)) });
    decisions.push({ incident_id: inc.id, rule: `rule-${outcome}`, outcome, doc: '{}', dry_run: 0, config_version: 'bench', created_at: first + 700_000 });
    if (inc.status === 'closed') {
      audits.push({ at: Math.min(NOW - 1, first + 3_600_000), actor: i % 2 ? 'analyst0' : 'soar-bot', action: 'incident.verdict', subject: inc.id, detail: JSON.stringify({ verdict: 'benign', status: 'closed', note: null }) });
    }
  });
  decisions.sort((a, b) => a.created_at - b.created_at);
  audits.sort((a, b) => a.at - b.at);
  for (let i = 0; i < decisions.length; i += 1000) await db.insertInto('decisions').values(decisions.slice(i, i + 1000)).execute();
  for (let i = 0; i < audits.length; i += 1000) await db.insertInto('audit_log').values(audits.slice(i, i + 1000)).execute();
  if (store.dialect === 'postgres') await sql`analyze`.execute(db);
  process.stderr.write(`added ${decisions.length} decisions and ${audits.length} closes\n`);
}

/** The hourly counts ingest keeps (migration 0026): the queue bench's fill inserts alerts directly, after migrating. */
async function addAlertCounts(store: Store): Promise<void> {
  const has = await store.db.selectFrom('alert_counts').select('hour').limit(1).executeTakeFirst();
  if (has) return;
  const t = performance.now();
  await store.db.transaction().execute((tx) => fillAlertCounts(tx as unknown as Kysely<unknown>));
  if (store.dialect === 'postgres') await sql`analyze alert_counts`.execute(store.db);
  process.stderr.write(`counted the alerts per hour and detector in ${Math.round(performance.now() - t)} ms\n`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function main(): Promise<void> {
  const reuse = process.env.BENCH_OVERVIEW_STORE;
  const dataDir = reuse ?? tempDir('fido-bench-overview-');
  mkdirSync(dataDir, { recursive: true });
  const pgSchema = POSTGRES ? process.env.BENCH_QUEUE_PG_SCHEMA ?? `fido_bo_${ALERTS}` : null;
  let url = `sqlite:${join(dataDir, 'fido.db')}`;
  if (pgSchema) {
    const u = new URL(PG_URL);
    u.searchParams.set('schema', pgSchema);
    url = u.toString();
  }
  try {
    if (pgSchema || !existsSync(join(dataDir, 'filled'))) fillWithQueueBench(dataDir, pgSchema);
    const store = await openStore({ databaseUrl: url, dataDir });
    try {
      await addDecisionsAndCloses(store);
      await addAlertCounts(store);
      const count = async (t: 'alerts' | 'incidents' | 'decisions' | 'audit_log') => Number((await store.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      console.log(`overview, ${store.dialect}: ${(await count('alerts')).toLocaleString('en')} alerts, ${(await count('incidents')).toLocaleString('en')} incidents, ${(await count('decisions')).toLocaleString('en')} decisions, ${(await count('audit_log')).toLocaleString('en')} audit rows; ${RUNS} runs each`);
      const ctx = { store, sources: new Map([['dmz-suricata', { name: 'dmz-suricata' }]]), intake: null };
      console.log('window  p50 ms  p95 ms  alerts in window  incidents in window  closed  decided  first decided');
      for (const w of OVERVIEW_WINDOWS) {
        let last = await buildOverview(ctx, w, NOW);
        const times: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const t = performance.now();
          last = await buildOverview(ctx, w, NOW);
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        const alerts = Object.values(last.series.alerts_by_detector).flat().reduce((a, b) => a + b, 0);
        const incidents = Object.values(last.series.incidents_by_outcome).flat().reduce((a, b) => a + b, 0);
        const b = windowBounds(w, NOW);
        if (b.from !== last.from) throw new Error('window mismatch');
        console.log(
          [w.padEnd(6), percentile(times, 50).toFixed(1).padStart(6), percentile(times, 95).toFixed(1).padStart(6), String(alerts).padStart(16), String(incidents).padStart(19), String(last.automation.closed).padStart(6), String(last.time_to_decision.n).padStart(7), String(last.automation.decided).padStart(13)].join('  '),
        );
      }
    } finally {
      await store.close();
    }
  } finally {
    if (!reuse) rmSync(dataDir, { recursive: true, force: true });
    if (pgSchema && !process.env.BENCH_QUEUE_PG_SCHEMA) {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${pgSchema} cascade`);
      await c.end();
    }
  }
}

await main();
