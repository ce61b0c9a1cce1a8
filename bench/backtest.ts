/**
 * How fast `fido backtest` and `fido policy explain` are on a year of history at the bench's volume.
 *
 *   node --import tsx bench/backtest.ts [alerts=1000000] [rounds=2]
 *
 * The year: the bench's mix (bench/workload.ts: 2,000 hosts × 50 rules, one alert in 20 to the demo C2) at
 * the volume of its long run — 1,000,000 alerts — spread evenly over the 365 days before now, about 2,740
 * a day. It is seeded through the real pipeline with bench/fido-bench.yaml (intake → ingest → enrich →
 * score → decide, in this process), so every incident has real alerts, enrichment rows, a score and a
 * decision; nearly every alert is an incident of its own (its host and destination), as in the bench.
 * Seeding takes minutes; BENCH_BACKTEST_STORE=DIR seeds into DIR once and reuses it on later runs.
 *
 * Then, timed (wall and process CPU, all threads, so the CEL sandbox worker counts), over the whole year:
 *   - rules:   a changed policy that reads only the score (the bench's thresholds lowered): stored scores;
 *   - context: a changed policy that reads the incident and its alerts too (the covering alerts are read);
 *   - profile: the configured policy with every incident rescored by a profile (alerts and enrichment read);
 *   - explain: `policy explain` of 200 incidents, one at a time (ms each).
 * The report's counts are printed too, as a check that the replay decided something different.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { createIntakeWriter } from '../src/intake/writer.js';
import { buildPipeline } from '../src/pipeline/build.js';
import { openStore, type Store } from '../src/store/store.js';
import { defaultSandbox } from '../src/policy/sandbox.js';
import { compileCondition } from '../src/policy/cel.js';
import { log } from '../src/util/log.js';
import { readConfigFile } from '../src/cli/input.js';
import { runBacktest, type BacktestReport, type BacktestSetup } from '../src/backtest/run.js';
import { configuredPolicy, policyFromText, type BaseConfig } from '../src/backtest/sources.js';
import { explainIncident } from '../src/backtest/explain.js';
import { resolveProfile } from '../src/score/profile.js';
import { tempDir } from '../test/support/stores.js';
import { eveAlert } from './workload.js';

const ALERTS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 2);
const YEAR_MS = 365 * 86_400_000;
const here = fileURLToPath(new URL('.', import.meta.url));
const configFile = join(here, 'fido-bench.yaml');

async function seed(store: Store, now: number): Promise<void> {
  const loaded = await loadConfig(configFile, { ...process.env });
  const built = await buildPipeline({ store, loaded, owner: 'bench', log, ingest: {}, incidents: {} });
  const intake = createIntakeWriter(store, { maxBacklog: Number.MAX_SAFE_INTEGER });
  const start = now - YEAR_MS;
  const step = YEAR_MS / ALERTS;
  const t0 = performance.now();
  // A day or so at a time, then drained: the pipeline's passes stay the size the server works in.
  const PER_ROUND = 20_000;
  for (let i = 0; i < ALERTS; i += PER_ROUND) {
    const n = Math.min(PER_ROUND, ALERTS - i);
    const records = Array.from({ length: n }, (_, k) => ({ raw: eveAlert(i + k, Math.round(start + (i + k) * step)) }));
    for (let j = 0; j < records.length; j += 1000) await intake.accept('bench-suricata', 'suricata', records.slice(j, j + 1000));
    await built.pipeline.drain();
    process.stderr.write(`seeded ${i + n}/${ALERTS} alerts (${Math.round((performance.now() - t0) / 1000)} s)\n`);
  }
  await intake.close();
  await built.close();
}

interface Timed {
  report: BacktestReport;
  wallMs: number;
  cpuMs: number;
}

async function timed(store: Store, setup: BacktestSetup, window: { since: number; until: number }): Promise<Timed> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const report = await runBacktest(store, setup, { ...window, limit: 10 });
  const cpu = process.cpuUsage(cpu0);
  return { report, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function line(name: string, m: Timed): string {
  const n = m.report.counts.incidents;
  const c = m.report.counts;
  return (
    `${name.padEnd(8)} ${n} incidents in ${(m.wallMs / 1000).toFixed(1)} s: ${Math.round(n / (m.wallMs / 1000))} incidents/s, ` +
    `${((m.cpuMs / n) * 1000).toFixed(0)} µs CPU each | changed ${c.changed} (outcome ${c.outcome_changed}, actions +${c.actions_added}/-${c.actions_removed}, score ${c.score_changed}) ${JSON.stringify(m.report.outcome_changes)}`
  );
}

async function main() {
  const kept = process.env.BENCH_BACKTEST_STORE;
  const dataDir = kept ?? tempDir('fido-bench-backtest-');
  const fresh = !existsSync(join(dataDir, 'fido.db'));
  mkdirSync(dataDir, { recursive: true });
  const store = await openStore({ dataDir, sqliteSynchronous: 'NORMAL' });
  const now = Date.now();
  try {
    if (fresh) await seed(store, now);
    const incidents = Number((await store.db.selectFrom('incidents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const alerts = Number((await store.db.selectFrom('alerts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const span = await store.db.selectFrom('incidents').select((eb) => [eb.fn.min('last_seen').as('a'), eb.fn.max('last_seen').as('b')]).executeTakeFirstOrThrow();
    const days = (Number(span.b) - Number(span.a)) / 86_400_000;
    console.log(`store ${join(dataDir, 'fido.db')}: ${alerts} alerts, ${incidents} incidents over ${days.toFixed(0)} days`);
    const { config, text } = readConfigFile(configFile);
    const base: BaseConfig = { config, text, file: configFile, dir: here };
    const rules = (when: string) => `rules:\n  - name: high\n    when: ${when}\n    outcome: escalate\n    then: [{ action: hook }]\n  - name: medium\n    when: score.total >= 30.0\n    outcome: notify\n`;
    const setups: Array<[string, BacktestSetup]> = [
      ['rules', { policy: policyFromText(base, rules('score.total >= 60.0')).policy, dryRun: true }],
      ['context', { policy: policyFromText(base, rules('score.total >= 60.0 && incident.alert_count >= 1 && alerts.exists(a, a.severity >= 50)')).policy, dryRun: true }],
      ['profile', { policy: configuredPolicy(base), profile: resolveProfile('default', { default: { threat: { severity: { low: 20, medium: 30, high: 40, critical: 48 } } } }), dryRun: true }],
    ];
    // The sandbox worker's start is a one-off per process, not part of any backtest.
    defaultSandbox().evaluate([compileCondition('true')], {});
    const window = { since: now - YEAR_MS - 86_400_000, until: now + 86_400_000 };
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}`);
      for (const [name, setup] of setups) console.log(`  ${line(name, await timed(store, setup, window))}`);
    }
    const ids = (await store.db.selectFrom('incidents').select('id').orderBy('id').execute()).map((r) => r.id);
    const sample = Array.from({ length: 200 }, (_, i) => ids[Math.floor((i * ids.length) / 200)]!);
    const policy = configuredPolicy(base);
    const t0 = performance.now();
    for (const id of sample) await explainIncident(store, policy, id);
    console.log(`explain  ${sample.length} incidents one at a time: ${((performance.now() - t0) / sample.length).toFixed(1)} ms each`);
    console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  } finally {
    await store.close();
    await defaultSandbox().close();
    if (!kept) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
