/**
 * Enrichment against services (issue 16, item 10), with the real pipeline (buildPipeline) on a real SQLite store
 * and local HTTP servers standing in for the services (test/support/contract.ts), answering as VirusTotal and
 * OTX document, after a chosen latency.
 *
 *   node --import tsx bench/enrich-services.ts
 *
 * 1. cost   N Suricata alerts (200 hosts, destinations drawn from a pool of public addresses with a Zipf law, so
 *           indicators repeat as they do in real traffic) are ingested, then the enrich stage is drained alone:
 *           wall and process CPU per incident, requests that reached the services, and the cache hit ratio
 *           (hits and coalesced lookups over all lookups of the two services). Cold: a fresh store and cache.
 *           Warm: a second replay of new incidents over the same indicator pool, same process and store.
 * 2. stall  The whole pipeline running (runner started), alerts posted at a steady rate; one in ten carries a
 *           file hash that only a sandbox service answers, and that service answers in 5 s (`slow`) or never
 *           (`silent`), or at once (`baseline`). Per incident, from its first alert's intake to its first
 *           decision: p50, p95 and max, for incidents that need the sandbox and for those that do not.
 *
 * Env: BENCH_ALERTS (2000), BENCH_POOL (300), BENCH_LATENCY_MS (20), BENCH_RATE (50 alerts/s),
 * BENCH_STALL_SECONDS (12), BENCH_JSON=1 for one JSON line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { buildPipeline } from '../src/pipeline/build.js';
import { createConfiguredEnricher } from '../src/enrich/registry.js';
import { createEnrichStage } from '../src/pipeline/stages/enrich.js';
import type { Stage } from '../src/pipeline/stage.js';
import { createIntakeWriter } from '../src/intake/writer.js';
import { enrichLookups } from '../src/metrics.js';
import type { Store } from '../src/store/store.js';
import { log } from '../src/util/log.js';
import { startContract, type ContractServer } from '../test/support/contract.js';
import { openTestStore, tempDir } from '../test/support/stores.js';

const env = process.env;
const ALERTS = Number(env.BENCH_ALERTS ?? 2000);
const POOL = Number(env.BENCH_POOL ?? 300);
const LATENCY_MS = Number(env.BENCH_LATENCY_MS ?? 20);
const RATE = Number(env.BENCH_RATE ?? 50);
const STALL_SECONDS = Number(env.BENCH_STALL_SECONDS ?? 12);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A public address per pool index (none in special ranges: the privacy filter would withhold those). */
const poolIp = (k: number) => `${23 + (k % 50)}.${(k * 7) % 250}.${(k * 13) % 250}.${1 + (k % 200)}`;

/** Zipf(1.1) over the pool: a few destinations are in most alerts, as in real traffic. */
function zipf(n: number, s = 1.1): () => number {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) cdf.push((acc += w / total));
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return () => {
    const r = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function eve(i: number, hostBase: number, dst: string, t: number): string {
  const host = hostBase + (i % 200);
  return JSON.stringify({
    timestamp: new Date(t).toISOString(),
    event_type: 'alert',
    src_ip: `10.${(host >> 8) & 255}.${host & 255}.10`,
    src_port: 40000 + (i % 20000),
    dest_ip: dst,
    dest_port: 443,
    proto: 'TCP',
    alert: { action: 'allowed', gid: 1, signature_id: 2_100_000 + (i % 20), rev: 1, signature: `ET BENCH rule ${i % 20}`, category: 'A Network Trojan was detected', severity: 2 },
  });
}

/** VirusTotal- and OTX-shaped answers (see their providers' tests) after LATENCY_MS. */
async function intelServices(latencyMs: number): Promise<ContractServer> {
  return startContract(async (req) => {
    await sleep(latencyMs);
    if (req.path.startsWith('/vt/')) {
      return { json: { data: { attributes: { last_analysis_stats: { malicious: req.path.length % 4, suspicious: 0, harmless: 60, undetected: 10 }, last_analysis_date: 1796600000 } } } };
    }
    return { json: { pulse_info: { count: req.path.length % 3, pulses: [] }, validation: [] } };
  });
}

function configFile(dir: string, intel: string, sandbox: string | null): string {
  const file = join(dir, 'fido.yaml');
  writeFileSync(
    file,
    [
      'sources:',
      '  - { name: ids, detector: suricata }',
      '  - { name: edge, detector: cef }',
      'enrichment:',
      '  providers:',
      `    - { name: vt, kind: virustotal, url: "${intel}/vt", allow_private: true, api_key: bench-key-0123, quota: { per_minute: 1000000 } }`,
      `    - { name: otx, kind: otx, url: "${intel}/otx", allow_private: true, api_key: bench-key-0123 }`,
      ...(sandbox ? [`    - { name: sandbox, kind: threatgrid, url: "${sandbox}", allow_private: true, api_key: bench-key-0123, timeout: 30s }`] : []),
      '    - { name: geoip, kind: geoip }',
      '    - { name: history, kind: history }',
      'policy:',
      '  rules:',
      '    - { name: all, when: "true", outcome: log }',
    ].join('\n'),
  );
  return file;
}

async function lookupCounts(providers: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await enrichLookups.get()).values) {
    if (!providers.includes(String(v.labels.provider))) continue;
    out[String(v.labels.result)] = (out[String(v.labels.result)] ?? 0) + v.value;
  }
  return out;
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return out;
}

interface CostRun {
  incidents: number;
  wallMsPerIncident: number;
  cpuMsPerIncident: number;
  serviceRequests: number;
  lookups: Record<string, number>;
  hitRatio: number;
}

async function cost(): Promise<{ cold: CostRun; warm: CostRun }> {
  const intel = await intelServices(LATENCY_MS);
  const dir = tempDir('fido-bench-enrich-');
  const loaded = await loadConfig(configFile(dir, intel.url, null));
  const t = await openTestStore('sqlite');
  const built = await buildPipeline({ store: t.store, loaded, owner: 'bench', log, ingest: {} });
  // The stage with budgets long enough that every incident waits for all its answers: what is measured is
  // the whole cost of enriching it, not a deferral.
  const enricher = await createConfiguredEnricher(loaded.config.enrichment?.providers ?? [], { store: t.store, configDir: loaded.dir });
  const enrich = createEnrichStage({ store: t.store, enricher, firstWaitMs: 60_000, answerWithinMs: 60_000 }) as Stage<unknown>;
  const pick = zipf(POOL);
  const replay = async (hostBase: number, at: number): Promise<CostRun> => {
    const intake = createIntakeWriter(t.store, { maxBacklog: Number.MAX_SAFE_INTEGER });
    const records = Array.from({ length: ALERTS }, (_, i) => ({ raw: eve(i, hostBase, poolIp(pick()), at + i * 10) }));
    for (let i = 0; i < records.length; i += 1000) await intake.accept('ids', 'suricata', records.slice(i, i + 1000));
    await intake.close();
    while ((await built.ingest!.runBatch()) > 0);
    const before = await lookupCounts(['vt', 'otx']);
    const requests0 = intel.requests.length;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let incidents = 0;
    for (;;) {
      const n = await built.pipeline.runBatch(enrich);
      if (n === 0) break;
      incidents += n;
    }
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const lookups = diff(before, await lookupCounts(['vt', 'otx']));
    const total = Object.values(lookups).reduce((a, b) => a + b, 0);
    return {
      incidents,
      wallMsPerIncident: round(wall / incidents),
      cpuMsPerIncident: round((cpu.user + cpu.system) / 1000 / incidents),
      serviceRequests: intel.requests.length - requests0,
      lookups,
      hitRatio: round(((lookups.hit ?? 0) + (lookups.coalesced ?? 0)) / Math.max(1, total)),
    };
  };
  try {
    const now = Date.now();
    const cold = await replay(0, now - 3_600_000);
    const warm = await replay(1000, now - 1_800_000);
    return { cold, warm };
  } finally {
    await built.close();
    await enricher.close();
    await t.cleanup();
    await intel.close();
  }
}

interface Latencies {
  incidents: number;
  p50: number;
  p95: number;
  max: number;
}

async function stall(mode: 'baseline' | 'slow' | 'silent'): Promise<{ needing: Latencies; others: Latencies }> {
  const intel = await intelServices(LATENCY_MS);
  const sandbox = await startContract(async () => {
    if (mode === 'silent') return { hang: true };
    if (mode === 'slow') await sleep(5000);
    return { json: { data: { items: [] } } };
  });
  const dir = tempDir('fido-bench-stall-');
  const loaded = await loadConfig(configFile(dir, intel.url, sandbox.url));
  const t = await openTestStore('sqlite');
  const built = await buildPipeline({ store: t.store, loaded, owner: 'bench', log, ingest: {}, incidents: {} });
  const intake = createIntakeWriter(t.store, { maxBacklog: Number.MAX_SAFE_INTEGER });
  const needing = new Set<string>(); // intake record ids posted with a hash
  try {
    built.pipeline.start();
    const total = RATE * STALL_SECONDS;
    const t0 = Date.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      const host = 3000 + i; // one incident per alert: latencies are per incident
      const src = `10.${(host >> 8) & 255}.${host & 255}.20`;
      const withHash = i % 10 === 0;
      const raw = withHash
        ? `CEF:0|Acme|AV|1|${i}|Malware|8|src=${src} dst=${poolIp(i % POOL)} fileHash=${(i + 1).toString(16).padStart(64, 'a')}`
        : eve(i, host, poolIp(i % POOL), Date.now());
      const r = await intake.accept(withHash ? 'edge' : 'ids', withHash ? 'cef' : 'suricata', [{ raw }]);
      if (withHash) for (const id of r.ids) needing.add(id);
      built.pipeline.wake('ingest');
    }
    // Let the last ones through (the sandbox budget is 3 s).
    await sleep(6000);
    return await latencies(t.store, needing);
  } finally {
    await intake.close();
    await built.close();
    await t.cleanup();
    await intel.close();
    await sandbox.close();
  }
}

/** Per incident: first alert's intake (received_at) → first decision (created_at). */
async function latencies(store: Store, needing: ReadonlySet<string>): Promise<{ needing: Latencies; others: Latencies }> {
  const rows = await store.db
    .selectFrom('alerts as a')
    .innerJoin('decisions as d', 'd.incident_id', 'a.incident_id')
    .select(['a.intake_id as record', 'a.incident_id', 'a.received_at'])
    .select((eb) => eb.fn.min('d.created_at').as('decided'))
    .groupBy(['a.intake_id', 'a.incident_id', 'a.received_at'])
    .execute();
  const split = { needing: [] as number[], others: [] as number[] };
  for (const r of rows) (needing.has(r.record) ? split.needing : split.others).push(Number(r.decided) - Number(r.received_at));
  return { needing: summary(split.needing), others: summary(split.others) };
}

function summary(ms: number[]): Latencies {
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? NaN;
  return { incidents: ms.length, p50: q(0.5), p95: q(0.95), max: ms[ms.length - 1] ?? NaN };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

const results = {
  cost: await cost(),
  stall: { baseline: await stall('baseline'), slow: await stall('slow'), silent: await stall('silent') },
};
if (env.BENCH_JSON) console.log(JSON.stringify(results));
else {
  const c = results.cost;
  console.log(`enrichment against services (${ALERTS} alerts, pool ${POOL}, service latency ${LATENCY_MS} ms)`);
  for (const [name, r] of Object.entries(c)) {
    console.log(
      `  ${name.padEnd(5)} ${r.incidents} incidents  ${r.wallMsPerIncident} ms wall/incident  ${r.cpuMsPerIncident} CPU ms/incident  ` +
        `${r.serviceRequests} service requests  hit ratio ${r.hitRatio}  ${JSON.stringify(r.lookups)}`,
    );
  }
  console.log(`intake → first decision, per incident (ms), ${RATE} alerts/s for ${STALL_SECONDS} s, 1 in 10 needing the sandbox:`);
  for (const [mode, r] of Object.entries(results.stall)) {
    const f = (l: Latencies) => `${l.incidents} incidents p50 ${l.p50} p95 ${l.p95} max ${l.max}`;
    console.log(`  sandbox ${mode.padEnd(8)} needing it: ${f(r.needing)} | not needing it: ${f(r.others)}`);
  }
}
process.exit(0);
