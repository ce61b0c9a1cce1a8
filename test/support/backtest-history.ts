/**
 * History for the backtest and explain tests: Suricata alerts of the bench mix (bench/workload.ts) run
 * through the real pipeline with the demo configuration, so that every incident has a real score and a
 * real stored decision; and a configuration beside it for trying changes (a scoring profile `loud`, and
 * a rule with an `&&` condition for explain).
 *
 * With the demo policy, 60 alerts make 60 incidents: scores 18, 25 and 33 (19 each: rule "(default)", log),
 * 43 (log), 50 and 58 (rule notify-medium: notify, email → soc-mail).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { buildPipeline } from '../../src/pipeline/build.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { log } from '../../src/util/log.js';
import type { Store } from '../../src/store/store.js';
import { eveAlert } from '../../bench/workload.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../demo/fido.yaml', import.meta.url));
const DEMO_TEXT = readFileSync(DEMO_CONFIG, 'utf8');

/** Runs `alerts` bench alerts through intake → decide; returns when every one is decided. */
export async function seedHistory(store: Store, alerts = 60, at = Date.now()): Promise<void> {
  const loaded = await loadConfig(DEMO_CONFIG);
  const built = await buildPipeline({ store, loaded, owner: 'test', log, ingest: {}, incidents: {} });
  const intake = createIntakeWriter(store, { maxBacklog: 10_000 });
  await intake.accept('dmz-suricata', 'suricata', Array.from({ length: alerts }, (_, i) => ({ raw: eveAlert(i, at) })));
  await intake.close();
  await built.pipeline.drain();
  await built.close();
}

/** The demo policy's rules with notify-medium's threshold lowered from 50 to `threshold`, as a rules file. */
export function lowerThreshold(threshold: number): string {
  const rules = DEMO_TEXT.slice(DEMO_TEXT.indexOf('\npolicy:\n') + '\npolicy:\n'.length, DEMO_TEXT.indexOf('\nactions:'));
  return rules.replace('score.total >= 50.0', `score.total >= ${threshold.toFixed(1)}`);
}

/**
 * The demo configuration, written into `dir`, plus a profile `loud` (severity worth 20 points more) and a
 * rule `busy-medium` (score ≥ 30 && at least 5 alerts) before notify-medium. Returns its path.
 */
export function writeTryConfig(dir: string): string {
  const text = DEMO_TEXT.replace(
    'scoring:\n  profile: default\n',
    'scoring:\n  profile: default\n  profiles:\n    loud: { extends: default, threat: { severity: { info: 20, low: 25, medium: 32, high: 40, critical: 48 } } }\n',
  ).replace('    - name: notify-medium\n', '    - name: busy-medium\n      when: score.total >= 30.0 && incident.alert_count >= 5\n      outcome: notify\n    - name: notify-medium\n');
  const file = join(dir, 'fido.yaml');
  writeFileSync(file, text);
  return file;
}

/** Row counts of every table a decision, score or action would write. */
export async function rowCounts(store: Store): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['incidents', 'alerts', 'scores', 'decisions', 'actions', 'timeline', 'enrichments', 'audit_log', 'stage_queue', 'decision_marks'] as const) {
    const r = await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  const inc = await store.db.selectFrom('incidents').select(['id', 'score', 'decision', 'updated_at']).orderBy('id').execute();
  out.incident_state = hash(JSON.stringify(inc));
  return out;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
