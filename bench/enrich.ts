/**
 * CPU cost of the enrich stage per incident, on a real SQLite store with the providers of fido-bench.yaml
 * (netsegments, inventory, allowlist, indicators from demo/, history from the store).
 *
 *   node --import tsx bench/enrich.ts
 *
 * The data follows bench/run.ts's Suricata mix: alert i comes from 10.1.x.y (2,000 hosts), fires one of 50
 * rules and goes to 198.18.x.y, or to the demo's C2 203.0.113.7 for one alert in 20; alerts of the same host
 * and rule form one incident (5,000 alerts → 2,000 incidents), as correlation would group them. Each run
 * seeds a fresh store, enqueues every incident for `enrich` and drains the pipeline with only that stage,
 * measuring wall time and process CPU (user + system, all threads) of the drain alone. The first run includes
 * JIT warm-up; the median run is the figure to compare. The store is the tests' (synchronous=NORMAL), so
 * fsyncs, which cost wall time rather than CPU, are not in the figures.
 *
 * The clock is fixed, so every run writes byte-identical rows: the printed digest (enrichments, 'enriched'
 * timeline entries and the hand-off to score) must not change when the stage is optimised.
 *
 * Env: BENCH_ALERTS (5000), BENCH_HOSTS (2000), BENCH_RUNS (3), BENCH_BATCH (the stage default), BENCH_JSON=1
 * for one JSON line, BENCH_CPU_PROFILE=file.cpuprofile to profile the drain of the last run (open it in
 * Chrome DevTools or VS Code).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { openTestStore } from '../test/support/stores.js';
import { createConfiguredEnricher } from '../src/enrich/registry.js';
import { systemClock, type Clock } from '../src/enrich/limits.js';
import { createEnrichStage } from '../src/pipeline/stages/enrich.js';
import { createPipeline } from '../src/pipeline/runner.js';
import { enqueue } from '../src/store/queue.js';
import type { Store } from '../src/store/store.js';
import type { AlertTable } from '../src/store/schema.js';
import type { AlertDoc } from '../src/store/alert-docs.js';
import { ObservationTally, recordObservations } from '../src/store/observations.js';
import type { Insertable } from 'kysely';
import type { ComponentEntry } from '../src/config/schema.js';
import { log } from '../src/util/log.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const ALERTS = Number(process.env.BENCH_ALERTS ?? 5000);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCH = process.env.BENCH_BATCH ? Number(process.env.BENCH_BATCH) : undefined;
const NOW = Date.parse('2026-11-27T12:00:00Z');
const clock: Clock = { now: () => NOW, sleep: systemClock.sleep };

const providers = (parse(readFileSync(`${here}fido-bench.yaml`, 'utf8')) as { enrichment: { providers: ComponentEntry[] } }).enrichment.providers;

async function seed(store: Store): Promise<string[]> {
  const incidents = new Map<string, { id: string; host: string; first: number; last: number; alerts: number }>();
  const alerts: Insertable<AlertTable>[] = [];
  const tally = new ObservationTally();
  for (let i = 0; i < ALERTS; i++) {
    const h = i % HOSTS;
    const rule = 2_000_000 + ((i * 7) % 50);
    const src = `10.1.${h >> 8}.${h & 255}`;
    const dst = i % 20 === 0 ? '203.0.113.7' : `198.18.${(i >> 8) & 255}.${i & 255}`;
    const time = NOW - 3_600_000 + i * 10;
    const incId = `I-${h}-${rule}`;
    const inc = incidents.get(incId) ?? { id: incId, host: src, first: time, last: time, alerts: 0 };
    inc.last = time;
    inc.alerts++;
    incidents.set(incId, inc);
    const id = `A-${i}`;
    alerts.push({
      id,
      intake_id: `in-${i}`,
      source: 'bench-suricata',
      detector: 'suricata',
      vendor_id: id,
      fingerprint: `fp-${i}`,
      time,
      received_at: time,
      title: `ET BENCH rule ${rule}`,
      severity: 70,
      rule_id: String(rule),
      host: null,
      user_name: null,
      incident_id: incId,
      repeat_count: 1,
      last_repeat_at: null,
      doc: '{}',
      raw: '',
    });
    const doc = { observables: [{ type: 'ip', value: src, role: 'src' }, { type: 'ip', value: dst, role: 'dst' }] } as unknown as AlertDoc;
    tally.addAlert(incId, doc, time, false, [], i + 1);
  }
  const incRows = [...incidents.values()].map((i) => ({
    id: i.id,
    title: `ET BENCH ${i.id}`,
    status: 'new',
    verdict: null,
    first_seen: i.first,
    last_seen: i.last,
    alert_count: i.alerts,
    severity: 70,
    host: i.host,
    user_name: null,
    score_total: null,
    score: null,
    decision: null,
    created_at: i.first,
    updated_at: i.last,
  }));
  await store.db.transaction().execute(async (tx) => {
    for (let i = 0; i < incRows.length; i += 200) await tx.insertInto('incidents').values(incRows.slice(i, i + 200)).execute();
    for (let i = 0; i < alerts.length; i += 200) await tx.insertInto('alerts').values(alerts.slice(i, i + 200)).execute();
    await recordObservations(tx, tally.rows());
  });
  return incRows.map((i) => i.id);
}

/** Everything the stage wrote, hashed: the same inputs must give the same digest before and after a change. */
async function digest(store: Store): Promise<{ digest: string; rows: number }> {
  const h = createHash('sha256');
  const rows = await store.db
    .selectFrom('enrichments')
    .selectAll()
    .orderBy('incident_id')
    .orderBy('provider')
    .orderBy('subject_type')
    .orderBy('subject_value')
    .execute();
  for (const r of rows) h.update(JSON.stringify([r.incident_id, r.provider, r.subject_type, r.subject_value, r.found, r.data, r.error, Number(r.fetched_at)]));
  const timeline = await store.db.selectFrom('timeline').select(['incident_id', 'at', 'summary']).where('kind', '=', 'enriched').orderBy('incident_id').execute();
  for (const t of timeline) h.update(JSON.stringify([t.incident_id, Number(t.at), t.summary]));
  const queued = await store.db.selectFrom('stage_queue').select(['stage', 'item_id']).orderBy('stage').orderBy('item_id').execute();
  for (const q of queued) h.update(JSON.stringify([q.stage, q.item_id]));
  return { digest: h.digest('hex').slice(0, 16), rows: rows.length };
}

/** Profiles `fn` with the V8 sampling profiler when BENCH_CPU_PROFILE names a file. */
async function profiled<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
  const file = process.env.BENCH_CPU_PROFILE;
  if (!on || !file) return fn();
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.setSamplingInterval', { interval: 100 });
  await s.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await s.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    s.disconnect();
  }
}

async function once(last: boolean) {
  const t = await openTestStore('sqlite');
  try {
    const { store } = t;
    const ids = await seed(store);
    const enricher = await createConfiguredEnricher(providers, { store, configDir: here, clock });
    const stage = createEnrichStage({ store, enricher, now: clock.now, ...(BATCH ? { batchSize: BATCH } : {}) });
    const pipeline = createPipeline({ store, stages: [stage], owner: 'bench', log });
    await enqueue(store.db, 'enrich', ids, NOW);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await profiled(last, () => pipeline.drain());
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await pipeline.stop();
    await enricher.close();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return { incidents: ids.length, wall_ms: ms, cpu_ms: cpuMs, ...(await digest(store)) };
  } finally {
    await t.cleanup();
  }
}

const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await once(i === RUNS - 1));
const best = runs.reduce((a, b) => (b.cpu_ms < a.cpu_ms ? b : a));
const med = [...runs].sort((a, b) => a.cpu_ms - b.cpu_ms)[Math.floor(runs.length / 2)]!;
const summary = {
  alerts: ALERTS,
  incidents: best.incidents,
  enrichment_rows: best.rows,
  digest: [...new Set(runs.map((r) => r.digest))].join(','),
  runs: runs.map((r) => ({ wall_ms: Math.round(r.wall_ms), cpu_ms: Math.round(r.cpu_ms) })),
  median_incidents_per_s: Math.round(med.incidents / (med.wall_ms / 1000)),
  median_cpu_ms_per_incident: Number((med.cpu_ms / med.incidents).toFixed(3)),
  best_cpu_ms_per_incident: Number((best.cpu_ms / best.incidents).toFixed(3)),
};
if (process.env.BENCH_JSON) console.log(JSON.stringify(summary));
else {
  console.log(`enrich stage: ${summary.alerts} alerts → ${summary.incidents} incidents, ${summary.enrichment_rows} enrichment rows, digest ${summary.digest}`);
  for (const [i, r] of summary.runs.entries()) console.log(`  run ${i + 1}: ${r.wall_ms} ms wall, ${r.cpu_ms} ms CPU`);
  console.log(`  median: ${summary.median_incidents_per_s} incidents/s, ${summary.median_cpu_ms_per_incident} ms CPU per incident (best ${summary.best_cpu_ms_per_incident})`);
}
