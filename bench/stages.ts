/**
 * `node --import tsx bench/stages.ts [N]`: where the pipeline's time goes. N benchmark alerts are written to
 * the intake log of a fresh SQLite store (bench/fido-bench.yaml), then the stages run one batch at a time,
 * in order, in this process (no concurrency, so each stage's time is its own), in rounds as the running
 * server would take them. Prints, per stage, batches, items, and wall-clock and CPU time per item (CPU time of the whole process,
 * so GC and helper threads count; steadier than wall time on a shared machine). BENCH_STAGES=ingest,enrich runs only those;
 * BENCH_KEEP=1 keeps the store and prints where.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { startFido } from '../src/app.js';
import { eveAlert } from './workload.js';

const N = Number(process.argv[2] ?? 20_000);
const ROUND = Number(process.env.BENCH_ROUND ?? 500); // alerts arriving between pipeline rounds
const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fido-stages-'));
const loaded = await loadConfig(join(here, process.env.BENCH_CONFIG ?? 'fido-bench.yaml'));
const fido = await startFido({ loaded, env: { FIDO_DATA_DIR: dir, FIDO_LOG_LEVEL: 'error' }, offline: { worker: true } });
const stats = new Map<string, { batches: number; items: number; ms: number; cpuMs: number }>();
/** CPU time of this process (all threads), in ms: unlike wall time, not inflated by a busy shared machine. */
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const t0 = Date.now();
try {
  const ingest = fido.ingest!;
  const only = process.env.BENCH_STAGES?.split(','); // e.g. BENCH_STAGES=ingest: profile one stage alone
  const stages = [{ name: 'ingest', run: () => ingest.runBatch() }, ...fido.stages.map((s) => ({ name: s.name, run: () => fido.pipeline.runBatch(s) }))].filter(
    (s) => !only || only.includes(s.name),
  );
  for (let sent = 0; sent < N; ) {
    const n = Math.min(ROUND, N - sent);
    await fido.intake!.accept('bench-suricata', 'suricata', Array.from({ length: n }, (_, k) => ({ raw: eveAlert(sent + k, t0) })));
    sent += n;
    // One round: each stage until it has nothing left, in order.
    for (const stage of stages) {
      for (;;) {
        const s = performance.now();
        const c = cpuNow();
        const done = await stage.run();
        if (done === 0) break;
        const st = stats.get(stage.name) ?? { batches: 0, items: 0, ms: 0, cpuMs: 0 };
        st.batches++;
        st.items += done;
        st.ms += performance.now() - s;
        st.cpuMs += cpuNow() - c;
        stats.set(stage.name, st);
      }
    }
  }
  let total = 0;
  let cpu = 0;
  for (const [name, s] of stats) {
    total += s.ms;
    cpu += s.cpuMs;
    console.log(
      `${name.padEnd(10)} ${String(s.batches).padStart(6)} batches ${String(s.items).padStart(7)} items ${s.ms.toFixed(0).padStart(7)} ms ${(s.ms / s.items * 1000).toFixed(0).padStart(6)} µs/item, CPU ${(s.cpuMs / s.items * 1000).toFixed(0).padStart(6)} µs/item`,
    );
  }
  console.log(`pipeline total ${total.toFixed(0)} ms for ${N} alerts: ${(N / (total / 1000)).toFixed(0)} alerts/s (${(total / N * 1000).toFixed(0)} µs per alert; CPU ${(cpu / N * 1000).toFixed(0)} µs), rounds of ${ROUND}`);
  // With `node --expose-gc`: the heap the run leaves behind (the pipeline's caches, mostly).
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`heap after GC ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB; parsed alert documents cached: ${fido.store.alertDocs.size}`);
  }
} finally {
  await fido.stop();
  if (process.env.BENCH_KEEP) console.log(`store kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
