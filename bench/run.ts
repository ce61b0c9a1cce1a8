/**
 * `npm run bench`: end-to-end figures for the embedded default (SQLite), measured against the real server
 * (`fido start` as a child process) over HTTP, plus the parse rate of every detector on its samples.
 *
 *   throughput: N Suricata alerts posted as fast as the server takes them (batches of 1 and of 100), timed
 *               from the first post until every alert's incident has a decision;
 *   latency:    a steady 1,000 alerts/s for a fixed time; per alert, from its intake commit (the moment the
 *               202 is sent) to the first decision of its incident made after it (alerts.decided_at, which
 *               the decide stage stamps whether or not the decision changed); over the whole run from a
 *               cold start, per second, and without the first 3 s (warm-up);
 *   memory:     the server's peak RSS (VmHWM);
 *   cpu:        the server's CPU time (all threads, user + system) per alert, steadier than latency on a
 *               shared machine.
 * Results are printed and written to bench/results/<date>.json.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import Sqlite from 'better-sqlite3';
import { startFidoProcess, type FidoProcess } from '../test/support/fido-process.js';
import { detectorParseRates } from './parse-rates.js';
import { eveAlert } from './workload.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const TOKEN = 'bench-token-0123456789abcdef';
const agent = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });


async function post(url: string, records: string[]): Promise<void> {
  for (;;) {
    const res = await request(`${url}/api/v1/alerts/bench-suricata`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: records.join('\n'),
    });
    await res.body.text();
    if (res.statusCode === 202) return;
    if (res.statusCode === 429 || res.statusCode === 503) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    throw new Error(`HTTP ${res.statusCode}`);
  }
}

function openDb(dir: string) {
  return new Sqlite(join(dir, 'fido.db'), { readonly: true, fileMustExist: true });
}

/**
 * Waits until ingest has consumed `expectedRecords` records and every incident's decision has seen its
 * newest alert (decided_seq = last_seq, nothing queued): then every alert is decided. Two cheap reads, so
 * polling does not compete with the server for the disk or the CPU.
 */
async function waitDecided(dir: string, expectedRecords: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const db = openDb(dir);
  try {
    const cursor = db.prepare(`select seq from pipeline_cursors where name = 'ingest'`);
    const undecided = db.prepare('select count(*) as n from incidents where decided_seq < last_seq');
    const queued = db.prepare('select count(*) as n from stage_queue');
    for (;;) {
      const at = Number((cursor.get() as { seq: number } | undefined)?.seq ?? 0);
      if (at >= expectedRecords && (undecided.get() as { n: number }).n === 0 && (queued.get() as { n: number }).n === 0) return Date.now();
      if (Date.now() > deadline) throw new Error(`not decided in time: ingest at ${at} of ${expectedRecords} records`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    db.close();
  }
}

/**
 * Per alert (duplicates left out: they make no decision), its intake commit time and how long after it the
 * first decision of its incident that had seen it was made (decision_marks).
 */
function alertLatencies(dir: string): Array<{ at: number; ms: number }> {
  const db = openDb(dir);
  try {
    return db
      .prepare(
        `select a.received_at as at,
           (select min(m.at) from decision_marks m where m.incident_id = a.incident_id and m.through_seq >= a.seq) - a.received_at as ms
         from alerts a where a.duplicate_of is null and a.incident_id is not null`,
      )
      .all() as { at: number; ms: number }[];
  } finally {
    db.close();
  }
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/**
 * BENCH_SPLIT=1 runs api, worker and actions as three processes on the one SQLite file (FIDO_ROLE), so
 * intake and the pipeline use both cores; the default is the single process `npm start` runs.
 */
const SPLIT = process.env.BENCH_SPLIT === '1';

async function withServer<T>(fn: (srv: FidoProcess, dir: string, all: FidoProcess[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-bench-'));
  const env = { FIDO_CONFIG: join(here, 'fido-bench.yaml'), FIDO_DATA_DIR: dir, FIDO_BOOTSTRAP_TOKEN: TOKEN, FIDO_LOG_LEVEL: 'error' };
  const procs: FidoProcess[] = [];
  try {
    if (SPLIT) for (const role of ['api', 'worker', 'actions']) procs.push(await startFidoProcess({ ...env, FIDO_ROLE: role }));
    else procs.push(await startFidoProcess(env));
    return await fn(procs[0]!, dir, procs);
  } finally {
    for (const p of procs) await p.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const peakRss = (procs: FidoProcess[]) => procs.reduce((sum, p) => sum + peakRssMb(p.child.pid!), 0);

/** Items each stage finished (fido_stage_processed_total): how much an incident's updates coalesced. */
async function stageItems(url: string): Promise<Record<string, number>> {
  const res = await request(`${url}/metrics`, { dispatcher: agent, headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.body.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^fido_stage_processed_total\{stage="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** CPU time (user + system, all threads) the server processes have used so far, in ms. */
function cpuMs(procs: FidoProcess[]): number {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  return procs.reduce((sum, p) => {
    // Fields after the command name (which may hold spaces) start at state; utime and stime are 14 and 15.
    const fields = readFileSync(`/proc/${p.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) * tick;
  }, 0);
}

async function throughput(total: number, batch: number, concurrency: number) {
  return withServer(async (srv, dir, procs) => {
    const cpu0 = cpuMs(procs);
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const start = next;
        next += batch;
        const recs: string[] = [];
        for (let i = start; i < Math.min(total, start + batch); i++) recs.push(eveAlert(i, t0));
        await post(srv.url, recs);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const acked = Date.now();
    const done = await waitDecided(dir, total, 600_000);
    return {
      batch,
      alerts: total,
      intake_per_s: Math.round(total / ((acked - t0) / 1000)),
      decided_per_s: Math.round(total / ((done - t0) / 1000)),
      seconds: (done - t0) / 1000,
      cpu_ms_per_alert: Math.round(((cpuMs(procs) - cpu0) / total) * 1000) / 1000,
      stage_items: await stageItems(srv.url),
      peak_rss_mb: peakRss(procs),
    };
  });
}

/** Seconds after the start of the steady run left out of the `…_after_Ns` figures. */
const WARMUP_SECONDS = 3;

async function steadyLatency(rate: number, seconds: number) {
  return withServer(async (srv, dir, procs) => {
    const cpu0 = cpuMs(procs);
    const t0 = Date.now();
    const tick = 10; // ms: 10 alerts per tick at 1,000/s
    const perTick = Math.max(1, Math.round((rate * tick) / 1000));
    let sent = 0;
    const inflight: Promise<void>[] = [];
    for (let k = 0; Date.now() - t0 < seconds * 1000; k++) {
      const due = t0 + k * tick;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (let j = 0; j < perTick; j++) inflight.push(post(srv.url, [eveAlert(sent++, Date.now())]));
    }
    await Promise.all(inflight);
    await waitDecided(dir, sent, 120_000);
    const cpu = cpuMs(procs) - cpu0;
    const rows = alertLatencies(dir).filter((r) => r.ms !== null);
    const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
    const lat = rows.map((r) => r.ms).sort((a, b) => a - b);
    // p99 per second of arrival: shows warm-up, and whether the pipeline keeps up (flat) or falls behind (growing).
    const windows: number[][] = [];
    for (const r of rows) (windows[Math.floor((r.at - t0) / 1000)] ??= []).push(r.ms);
    const p99BySecond = [...windows].map((w) => (w ? pct(w.sort((a, b) => a - b), 99) : NaN));
    // The same without the first seconds after a cold start (JIT warm-up while every host's first alert opens
    // an incident): the steady state the goal speaks of. Both are reported.
    const steady = rows.filter((r) => r.at - t0 >= WARMUP_SECONDS * 1000).map((r) => r.ms).sort((a, b) => a - b);
    return {
      rate_per_s: rate,
      seconds,
      alerts: sent,
      measured: lat.length,
      p50_ms: pct(lat, 50),
      p99_ms: pct(lat, 99),
      max_ms: lat[lat.length - 1] ?? NaN,
      p99_ms_by_second: p99BySecond,
      [`p50_ms_after_${WARMUP_SECONDS}s`]: pct(steady, 50),
      [`p99_ms_after_${WARMUP_SECONDS}s`]: pct(steady, 99),
      // The server's CPU per alert (all threads): steadier than latency on a shared machine.
      cpu_ms_per_alert: Math.round((cpu / sent) * 1000) / 1000,
      peak_rss_mb: peakRss(procs),
    };
  });
}

const total = Number(process.env.BENCH_ALERTS ?? 100_000);
/** BENCH_ONLY=latency (or throughput, parse; comma-separated) runs only those parts. */
const only = new Set((process.env.BENCH_ONLY ?? 'throughput,latency,parse').split(','));
const results = {
  date: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  store: 'sqlite (WAL, synchronous=FULL)',
  processes: SPLIT ? 'api + worker + actions (FIDO_ROLE split, one SQLite file)' : 'one (npm start: API and intake on the main thread, pipeline and actions in a worker thread)',
  ...(only.has('throughput')
    ? { throughput_batch_100: await throughput(total, 100, 8), throughput_batch_1: await throughput(Math.min(total, 30_000), 1, 64) }
    : {}),
  ...(only.has('latency') ? { latency_at_1000_per_s: await steadyLatency(1000, Number(process.env.BENCH_STEADY_SECONDS ?? 20)) } : {}),
  ...(only.has('parse') ? { parse_rates: await detectorParseRates() } : {}),
};
console.log(JSON.stringify(results, null, 2));
mkdirSync(join(here, 'results'), { recursive: true });
const suffix = `${SPLIT ? '-split' : ''}${only.size < 3 ? `-${[...only].join('-')}` : ''}`;
writeFileSync(join(here, 'results', `${results.date.slice(0, 19).replace(/:/g, '')}${suffix}.json`), `${JSON.stringify(results, null, 2)}\n`);
await agent.close();
