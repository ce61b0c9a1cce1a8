/**
 * Warms the pipeline's code before it takes real work. A freshly started process runs every function in
 * V8's interpreter until it has been called often enough to compile: at a steady rate the first seconds
 * after a start cost about twice what later ones do, and alerts waited several times longer for their
 * decision (bench/run.ts measures it; a start after a crash meets the backlog the same way).
 *
 * So `fido start` first runs the pipeline on made-up Suricata alerts, in a scratch SQLite store of its own
 * (`.warm-up/` in the data directory, deleted afterwards, and before, should a crash have left it): the same stages, detectors, correlation, scoring and policy, with the
 * configured enrichment providers that answer from this machine only (ProviderComponent.local; none that asks a
 * service about made-up addresses). Nothing of it reaches the real store or the metrics, and no action runs
 * (the scratch instance has no executor). The addresses are from 198.18.0.0/15, set aside for benchmarks.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { openStore } from '../store/store.js';
import { createIntakeWriter } from '../intake/writer.js';
import { buildPipeline, type BuiltPipeline } from './build.js';
import type { Logger } from '../util/log.js';
import { isLocalKind } from '../enrich/registry.js';
import { registry } from '../metrics.js';
import { decidedCounts } from '../store/fates.js';

const SOURCE = 'fido-warm-up';

export interface WarmUpResult {
  /** Made-up alerts sent; how many were stored as alerts (the rest are repeats), and how many of those an incident's decision covered (all, unless one failed). */
  alerts: number;
  stored: number;
  decided: number;
  incidents: number;
  ms: number;
}

/**
 * Runs `alerts` made-up alerts through a scratch pipeline built from `loaded` (pipeline/build.ts, as every
 * pipeline is), in rounds like a steady load, in `<dataDir>/.warm-up`.
 */
export async function warmUp(
  loaded: LoadedConfig,
  opts: { dataDir: string; alerts?: number; log: Logger; name?: string },
): Promise<WarmUpResult> {
  const started = performance.now();
  const total = opts.alerts ?? 3000;
  // Each pipeline thread warms its own code, in a scratch store of its own.
  const dir = join(resolve(opts.dataDir), opts.name ? `.warm-up-${opts.name}` : '.warm-up');
  rmSync(dir, { recursive: true, force: true });
  const { config } = loaded;
  const scratch: LoadedConfig = {
    ...loaded,
    config: {
      ...config,
      sources: [{ name: SOURCE, detector: 'suricata' }],
      enrichment: { providers: (config.enrichment?.providers ?? []).filter((p) => isLocalKind(p.kind)) },
    },
  };
  const quiet = opts.log.child({ component: 'warm-up' }, { level: 'error' });
  const store = await openStore({ dataDir: dir, sqliteSynchronous: config.store?.sqlite_synchronous, cachedAlerts: config.pipeline?.cached_alerts });
  const intake = createIntakeWriter(store, { maxBacklog: Number.MAX_SAFE_INTEGER });
  let built: BuiltPipeline | undefined;
  try {
    built = await buildPipeline({ store, loaded: scratch, owner: 'warm-up', log: quiet, ingest: {}, incidents: {} });
    const now = Date.now();
    for (let sent = 0; sent < total; ) {
      const n = Math.min(100, total - sent);
      await intake.accept(SOURCE, 'suricata', Array.from({ length: n }, (_, k) => ({ raw: madeUpAlert(sent + k, now) })));
      sent += n;
      await built.pipeline.drain();
    }
    const counts = await decidedCounts(store.db);
    return { alerts: total, stored: counts.alerts, decided: counts.decided, incidents: counts.incidents, ms: Math.round(performance.now() - started) };
  } finally {
    await intake.close();
    await built?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    // The scratch run counted stage items, lookups and decisions in this thread's metrics.
    registry.resetMetrics();
  }
}

/** A Suricata EVE alert: 300 hosts × 30 rules, each host's alerts to its own and to shared addresses. */
function madeUpAlert(i: number, now: number): string {
  const host = i % 300;
  const rule = 2_900_000 + ((i * 7) % 30);
  return JSON.stringify({
    timestamp: new Date(now - 60_000 + (i % 60_000)).toISOString().replace('Z', '+0000'),
    flow_id: 9e14 + i,
    event_type: 'alert',
    src_ip: `198.18.${host >> 8}.${host & 255}`,
    src_port: 40000 + (i % 20000),
    dest_ip: i % 10 === 0 ? '198.19.255.1' : `198.19.${(i >> 8) & 255}.${i & 255}`,
    dest_port: i % 3 ? 443 : 80,
    proto: 'TCP',
    alert: { action: 'allowed', gid: 1, signature_id: rule, rev: 1, signature: `Fido warm-up ${rule}`, category: 'Misc activity', severity: 1 + (i % 3) },
  });
}
