/**
 * CPU cost of the score and decide stages per incident, on a real SQLite store.
 *
 *   node --import tsx bench/decide.ts [alerts=5000] [rounds=3]
 *
 * Builds the data the way the server does for `npm run bench`: N Suricata alerts of the bench mix (the same
 * generator as bench/run.ts: 2,000 hosts × 50 rules, the demo C2 for one alert in 20) go through intake,
 * normalize, correlate and enrich (the demo providers of bench/fido-bench.yaml), which leaves every incident
 * queued for `score`. Only then is the clock started: score is drained, then decide, each batch by batch
 * exactly as the runner does it (claim, compute, one transaction for write + completion).
 *
 * Reported per stage: incidents, wall ms, incidents/s, and process CPU ms per incident (user + system of
 * every thread, so the CEL sandbox worker is included). Each round rescores the same incidents: the queue is
 * refilled and the stored scores and decisions are cleared first, so every round records the same work.
 *
 * BENCH_CPU_PROFILE=file.cpuprofile records a CPU profile of the measured rounds only (not the preparation).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { createIntakeWriter } from '../src/intake/writer.js';
import type { Stage } from '../src/pipeline/stage.js';
import { buildPipeline, type BuiltPipeline } from '../src/pipeline/build.js';
import { compileCondition } from '../src/policy/cel.js';
import { defaultSandbox } from '../src/policy/sandbox.js';
import { enqueue } from '../src/store/queue.js';
import type { Store } from '../src/store/store.js';
import { log } from '../src/util/log.js';
import { openTestStore } from '../test/support/stores.js';
import { eveAlert } from './workload.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const ALERTS = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);


interface Measured {
  incidents: number;
  wallMs: number;
  cpuMs: number;
}

/** Runs one stage until its queue is empty, batch by batch as the runner does. */
async function timeStage(pipeline: BuiltPipeline['pipeline'], stage: Stage<unknown>): Promise<Measured> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let incidents = 0;
  for (;;) {
    const n = await pipeline.runBatch(stage);
    if (n === 0) break;
    incidents += n;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { incidents, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function line(name: string, m: Measured): string {
  const perS = Math.round(m.incidents / (m.wallMs / 1000));
  return `${name.padEnd(14)} ${String(m.incidents).padStart(6)} incidents  ${m.wallMs.toFixed(0).padStart(6)} ms wall  ${String(perS).padStart(6)} incidents/s  ${(m.cpuMs / m.incidents).toFixed(3)} CPU ms/incident`;
}

async function prepare(store: Store) {
  const loaded = await loadConfig(join(here, 'fido-bench.yaml'), { ...process.env });
  const built = await buildPipeline({ store, loaded, owner: 'bench', log, ingest: {}, incidents: {} });
  const [enrich, score, decide] = built.stages as [Stage<unknown>, Stage<unknown>, Stage<unknown>];
  const intake = createIntakeWriter(store, { maxBacklog: Number.MAX_SAFE_INTEGER });
  const t = Date.now();
  const records = Array.from({ length: ALERTS }, (_, i) => ({ raw: eveAlert(i, t) }));
  for (let i = 0; i < records.length; i += 1000) await intake.accept('bench-suricata', 'suricata', records.slice(i, i + 1000));
  await intake.close();
  const { pipeline } = built;
  // Ingest and enrich only: leaves every incident queued for score.
  while ((await built.ingest!.runBatch()) > 0);
  while ((await pipeline.runBatch(enrich)) > 0);
  return { pipeline, score, decide, close: () => built.close() };
}

async function main() {
  const t = await openTestStore('sqlite');
  try {
    const { store } = t;
    const prep0 = performance.now();
    const { pipeline, score, decide, close } = await prepare(store);
    const ids = (await store.db.selectFrom('incidents').select('id').orderBy('id').execute()).map((r) => r.id);
    const alerts = (await store.db.selectFrom('alerts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const enrichments = (await store.db.selectFrom('enrichments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    console.log(`prepared ${alerts} alerts → ${ids.length} incidents, ${enrichments} enrichment rows in ${((performance.now() - prep0) / 1000).toFixed(1)} s`);
    // The sandbox worker's start (loading the CEL library) is a one-off per process, not per incident.
    defaultSandbox().evaluate([compileCondition('true')], {});
    const profile = process.env.BENCH_CPU_PROFILE;
    const session = profile ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }

    const totals: Measured[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1) {
        await store.db.transaction().execute(async (tx) => {
          await tx.deleteFrom('scores').execute();
          await tx.deleteFrom('decisions').execute();
          await tx.deleteFrom('timeline').where('kind', 'in', ['scored', 'decided']).execute();
          await tx.updateTable('incidents').set({ score: null, score_total: null, decision: null }).execute();
          await enqueue(tx, 'score', ids);
        });
      }
      const s = await timeStage(pipeline, score);
      const d = await timeStage(pipeline, decide);
      const both: Measured = { incidents: s.incidents, wallMs: s.wallMs + d.wallMs, cpuMs: s.cpuMs + d.cpuMs };
      totals.push(both);
      console.log(`round ${round}`);
      console.log(`  ${line('score', s)}`);
      console.log(`  ${line('decide', d)}`);
      console.log(`  ${line('score+decide', both)}`);
    }
    // Other processes on the machine inflate CPU figures too (shared caches, frequency): the best round is
    // the most repeatable figure, the median the typical one.
    const perIncident = totals.map((m) => m.cpuMs / m.incidents).sort((a, b) => a - b);
    const perS = totals.map((m) => m.incidents / (m.wallMs / 1000)).sort((a, b) => b - a);
    const mid = (xs: number[]) => xs[Math.floor((xs.length - 1) / 2)]!;
    console.log(
      `score+decide over ${totals.length} rounds: best ${perIncident[0]!.toFixed(3)} / median ${mid(perIncident).toFixed(3)} CPU ms per incident; ` +
        `best ${Math.round(perS[0]!)} / median ${Math.round(mid(perS))} incidents/s`,
    );
    if (session) {
      const { profile: p } = await session.post('Profiler.stop');
      writeFileSync(profile!, JSON.stringify(p));
      session.disconnect();
    }
    const rules = await store.db.selectFrom('decisions').select(['rule', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('rule').orderBy('rule').execute();
    console.log(`decisions: ${rules.map((r) => `${r.rule} ${r.n}`).join(', ')}`);
    await close();
  } finally {
    await t.cleanup();
  }
}

await main();
