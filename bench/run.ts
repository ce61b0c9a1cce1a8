/**
 * `npm run bench`: the figures issue 12 (Pipeline v2) asks for, measured against the real server (`fido start`
 * as child processes) over HTTP on this machine, with the load generator (this process) sharing its cores.
 *
 *   floor    what SQLite alone needs per alert for intake + ingest in the v2 data model and in the least one
 *            (alerts and incidents only) (sqlite-floor.ts), and what parsing alone costs (parse-floor.ts):
 *            JSON.parse of the records, the Suricata detector; with the burst, what 20,000/s leaves for the rest;
 *   parse    every detector's parse rate on its samples (parse-rates.ts);
 *   burst    N unique alerts posted in batches of 100 (8 requests in flight) to the embedded default
 *            (SQLite, synchronous=FULL for intake and the outbox), timed from the first post until every
 *            alert is decided;
 *   long     the same burst, longer, for flatness: the decided rate over the first and the last 100,000;
 *   latency  a steady rate (1,000/s and 5,000/s by default) for a fixed time; per alert, from its intake
 *            commit to the first decision of its incident that had seen it (decision_marks); overall, per
 *            second of arrival, and without the first 3 s (warm-up);
 *   pg       the burst on PostgreSQL: an api process (intake) + 1 or 2 worker processes + an actions process.
 *
 * Progress is watched from outside the server, cheaply: every 50 ms (100 ms on PostgreSQL) one read of the
 * "decided horizon" (below), on a read-only SQLite connection or a PostgreSQL client. Each burst reports
 * intake and decided rates, the server's CPU per alert (all its processes and threads; on PostgreSQL also the
 * database server's), the generator's CPU per alert, and peak RSS (VmHWM, summed over Fido's processes).
 *
 * Environment (all optional):
 *   BENCH_ALERTS=300000        burst size on SQLite
 *   BENCH_LONG_ALERTS=1000000  long-run size (flatness)
 *   BENCH_PG_ALERTS=100000     burst size on PostgreSQL (smaller by default to keep the whole bench ~15 min)
 *   BENCH_STEADY=1000:10,5000:50  steady runs as rate:records-per-request (one request per tick;
 *                              tick = records / rate: 10 ms for both defaults)
 *   BENCH_STEADY_SECONDS=20    length of each steady run
 *   BENCH_FLOOR_ALERTS=1000000 alerts for the SQLite floor (its first and last 100,000 are timed apart too)
 *   BENCH_FLOOR_BATCH=20000    records per ingest transaction in the SQLite floor (ingest's most)
 *   BENCH_ONLY=floor,parse,burst,long,latency,pg   the parts to run (comma-separated; default all)
 *   BENCH_SPLIT=1              SQLite runs as api + worker + actions processes (FIDO_ROLE) instead of one
 *   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres   where to create (and drop) a fresh database
 *   BENCH_CONFIG=fido-bench.yaml  the server's configuration, a file in bench/ (to compare settings)
 * Results are printed (JSON, then a summary with the floors beside the totals and the goals) and written to
 * bench/results/<date>.json.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { startFidoProcess, type FidoProcess } from '../test/support/fido-process.js';
import { detectorParseRates } from './parse-rates.js';
import { parseFloor } from './parse-floor.js';
import { describeWrites, sqliteFloor, type SqliteFloor, REQUEST as FLOOR_REQUEST, INGEST_BATCH as FLOOR_BATCH, WINDOW as FLOOR_WINDOW } from './sqlite-floor.js';
import { eveAlert } from './workload.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const TOKEN = 'bench-token-0123456789abcdef';

// ---------------------------------------------------------------------------------------------- settings

const env = process.env;
const count = (name: string, dflt: number): number => {
  const v = Number(env[name] ?? dflt);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive integer, got "${env[name]}"`);
  return v;
};
const BURST_ALERTS = count('BENCH_ALERTS', 300_000);
const LONG_ALERTS = count('BENCH_LONG_ALERTS', 1_000_000);
const PG_ALERTS = count('BENCH_PG_ALERTS', 100_000);
const STEADY_SECONDS = count('BENCH_STEADY_SECONDS', 20);
const FLOOR_ALERTS = count('BENCH_FLOOR_ALERTS', 1_000_000);
const STEADY = (env.BENCH_STEADY ?? '1000:10,5000:50').split(',').map((s) => {
  const [rate, batch] = s.split(':').map(Number);
  if (!rate || !batch || rate <= 0 || batch <= 0 || !Number.isInteger(batch)) throw new Error(`BENCH_STEADY: expected rate:batch pairs, got "${s}"`);
  return { rate, batch };
});
const SPLIT = env.BENCH_SPLIT === '1';
const PG_URL = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PARTS = ['floor', 'parse', 'burst', 'long', 'latency', 'pg'] as const;
type Part = (typeof PARTS)[number];
/** Earlier names of parts, still accepted. */
const ALIASES: Readonly<Record<string, Part>> = { throughput: 'burst' };
const only = new Set<Part>(
  (env.BENCH_ONLY ?? PARTS.join(',')).split(',').map((p) => {
    const part = ALIASES[p] ?? p;
    if (!(PARTS as readonly string[]).includes(part)) throw new Error(`BENCH_ONLY: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
    return part as Part;
  }),
);

/** Burst shape: records per request and requests in flight. */
const BURST_BATCH = 100;
const BURST_CONCURRENCY = 8;
/** The flatness window: the decided rate over the first and the last this many alerts. */
const FLAT_WINDOW = 100_000;
/** Seconds after the start of a steady run left out of the `…_after_3s` figures. */
const WARMUP_SECONDS = 3;

/** Issue 12's goals; `goals` in the results says how far each is met. */
const GOALS = {
  decidedPerS: 20_000,
  /** The last window's decided rate within this fraction of the first's. */
  flatness: 0.2,
  p99MsAt1000: 100,
};

// --------------------------------------------------------------------------------------- load generator

/** Every request goes to a server this bench started on the loopback address, and nowhere else. */
function assertLoopback(url: string, what: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`${what}: expected 127.0.0.1, got ${host}`);
}

const agent = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
/** How long one post keeps retrying 429/503 (backpressure) before the run fails. */
const POST_RETRY_MS = 300_000;

/** Posts until the records are acknowledged; returns how long that took (ms), backpressure retries included. */
async function post(url: string, records: string[]): Promise<number> {
  const start = Date.now();
  const deadline = start + POST_RETRY_MS;
  for (;;) {
    const res = await request(`${url}/api/v1/alerts/bench-suricata`, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: records.join('\n'),
    });
    await res.body.text();
    if (res.statusCode === 202) return Date.now() - start;
    if ((res.statusCode === 429 || res.statusCode === 503) && Date.now() < deadline) {
      await sleep(50);
      continue;
    }
    throw new Error(`HTTP ${res.statusCode}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Posts alerts 0…total-1 as fast as the server takes them; resolves, when the last is acknowledged, with how
 * long each request waited for its acknowledgement (ms).
 */
async function sendBurst(url: string, total: number, t0: number): Promise<number[]> {
  let next = 0;
  const acks: number[] = [];
  const sender = async () => {
    while (next < total) {
      const start = next;
      next = Math.min(total, next + BURST_BATCH);
      const recs: string[] = [];
      for (let i = start; i < next; i++) recs.push(eveAlert(i, t0, { unique: true }));
      acks.push(await post(url, recs));
    }
  };
  await Promise.all(Array.from({ length: BURST_CONCURRENCY }, sender));
  return acks;
}

/**
 * Posts `rate` alerts/s for `seconds`, one request of `batch` records per tick, on schedule (not waiting
 * for answers, as independent senders would). Reports how late the generator got, to show it kept up.
 */
async function sendSteady(url: string, rate: number, batch: number, seconds: number) {
  const tickMs = (batch / rate) * 1000;
  const ticks = Math.round((seconds * 1000) / tickMs);
  const inflight: Promise<number>[] = [];
  let lateMax = 0;
  let sent = 0;
  const t0 = Date.now();
  for (let k = 0; k < ticks; k++) {
    const due = t0 + k * tickMs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    lateMax = Math.max(lateMax, Date.now() - due);
    const recs: string[] = [];
    for (let j = 0; j < batch; j++) recs.push(eveAlert(sent++, Date.now(), { unique: true }));
    const sending = post(url, recs);
    // Handled here so that a failure before Promise.all below does not end the process unhandled (which
    // would leave the servers running); Promise.all still reports it.
    sending.catch(() => undefined);
    inflight.push(sending);
  }
  const scheduleEnd = Date.now();
  await Promise.all(inflight);
  return { t0, sent, tickMs, lateMaxMs: lateMax, sentPerS: Math.round(sent / ((scheduleEnd - t0) / 1000)) };
}

// ------------------------------------------------------------------------------------------ progress

/**
 * Where the pipeline is, in one cheap read:
 *   cursor   the ingest cursor: records up to it have their alerts and incidents;
 *   horizon  min(cursor, min(decided_seq) of incidents not decided through their newest record): every
 *            record with seq <= horizon is decided (an alert is decided when its incident's decided_seq >= its
 *            seq). A lower bound: an incident decided through d whose next alert comes at s > d + 1 holds the
 *            horizon at d although s - 1 is decided too; in the benchmark mix every incident gets an alert every
 *            2,000 records, so it is at most that far behind (and at 0 until every new incident's first decision);
 *   queued   hand-offs waiting in stage_queue (enrich, score, decide).
 * One statement, so one snapshot: read apart, a cursor read after the incidents could pass records whose
 * incidents were not yet looked at.
 */
interface Progress {
  cursor: number;
  horizon: number;
  queued: number;
}

/** Reads of the store, from outside the server. */
interface Probe {
  progress(): Promise<Progress>;
  /** Per non-duplicate alert: its intake commit time, and ms from it to its decision (null: none yet). */
  latencies(): Promise<Array<{ at: number; ms: number | null }>>;
  counts(): Promise<{ alerts: number; duplicates: number; incidents: number; decisions: number }>;
  /** CPU ms the database server has spent for this run so far (null: it runs inside Fido, SQLite). */
  dbCpuMs(): Promise<number | null>;
  close(): Promise<void>;
}

/** PROGRESS_SQL(min) for the dialect's two-argument minimum (SQLite min, PostgreSQL least). */
const PROGRESS_SQL = (min: string) => `select c.seq as cursor,
    ${min}(c.seq, coalesce((select min(decided_seq) from incidents where decided_seq < last_seq), c.seq)) as horizon,
    (select count(*) from stage_queue) as queued
  from pipeline_cursors c where c.name = 'ingest'`;
const toProgress = (r: Record<string, unknown> | undefined): Progress => ({ cursor: Number(r?.cursor ?? 0), horizon: Number(r?.horizon ?? 0), queued: Number(r?.queued ?? 0) });
/** An alert's decision time: the first mark of its incident through its record (duplicates make none). */
const LATENCY_SQL = `select a.received_at as at,
    (select min(m.at) from decision_marks m where m.incident_id = a.incident_id and m.through_seq >= a.seq) - a.received_at as ms
  from alerts a where a.duplicate_of is null and a.incident_id is not null`;
const COUNTS_SQL = `select (select count(*) from alerts) as alerts, (select count(*) from alerts where duplicate_of is not null) as duplicates,
  (select count(*) from incidents) as incidents, (select count(*) from decision_marks) as decisions`;

function sqliteProbe(dir: string): Probe {
  const db = new Sqlite(join(dir, 'fido.db'), { readonly: true, fileMustExist: true });
  const progress = db.prepare(PROGRESS_SQL('min'));
  return {
    progress: async () => toProgress(progress.get() as Record<string, unknown> | undefined),
    latencies: async () => db.prepare(LATENCY_SQL).all() as Array<{ at: number; ms: number | null }>,
    counts: async () => db.prepare(COUNTS_SQL).get() as Awaited<ReturnType<Probe['counts']>>,
    dbCpuMs: async () => null,
    close: async () => void db.close(),
  };
}

async function postgresProbe(url: string, database: string): Promise<Probe> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // The database server's CPU: this database's backends (but not this probe's) and the server's WAL writer,
  // checkpointer and background writer (shared with whatever else the server does meanwhile). Sampled now
  // and then, so that a pooled connection that closes mid-run is counted up to its last sample.
  const cpu = new Map<number, { first: number; last: number }>();
  let sampledAt = 0;
  let baseline = true;
  const sampleCpu = async () => {
    const { rows } = await client.query<{ pid: number }>(
      `select pid from pg_stat_activity where (datname = $1 and pid <> pg_backend_pid())
         or backend_type in ('walwriter', 'checkpointer', 'background writer')`,
      [database],
    );
    for (const { pid } of rows) {
      let ms: number;
      try {
        ms = processCpuMs(pid);
      } catch {
        continue; // gone since
      }
      const seen = cpu.get(pid);
      // A backend first seen after the baseline started during the run, from (nearly) nothing.
      if (seen) seen.last = ms;
      else cpu.set(pid, { first: baseline ? ms : 0, last: ms });
    }
    baseline = false;
    sampledAt = Date.now();
  };
  await sampleCpu();
  return {
    async progress() {
      if (Date.now() - sampledAt > 500) await sampleCpu();
      return toProgress((await client.query(PROGRESS_SQL('least'))).rows[0]);
    },
    latencies: async () =>
      (await client.query(LATENCY_SQL)).rows.map((r: { at: string; ms: string | null }) => ({ at: Number(r.at), ms: r.ms === null ? null : Number(r.ms) })),
    async counts() {
      const r = (await client.query(COUNTS_SQL)).rows[0] as Record<string, string>;
      return { alerts: Number(r.alerts), duplicates: Number(r.duplicates), incidents: Number(r.incidents), decisions: Number(r.decisions) };
    },
    async dbCpuMs() {
      await sampleCpu();
      let sum = 0;
      for (const c of cpu.values()) sum += c.last - c.first;
      return sum;
    },
    close: () => client.end(),
  };
}

/** One poll: ms since the first post, and where the pipeline was. */
type Sample = { t: number } & Progress;

interface Trace {
  /** When every alert was decided (epoch ms). */
  doneAt: number;
  samples: Sample[];
}

/**
 * Polls until the horizon reaches `expected` with nothing queued. Fails when `signal` aborts (the generator
 * failed), when nothing moves (cursor, horizon or queue) for STALL_MS — the horizon alone may stand still for
 * long while ingest runs ahead of the decisions — or after `maxMs`.
 */
const STALL_MS = 300_000;
async function trackDecided(probe: Probe, t0: number, expected: number, everyMs: number, maxMs: number, signal?: AbortSignal): Promise<Trace> {
  const samples: Sample[] = [];
  const deadline = Date.now() + maxMs;
  let last = '';
  let movedAt = Date.now();
  for (;;) {
    if (signal?.aborted) throw new Error('stopped: the load generator failed');
    const now = Date.now();
    const p = await probe.progress();
    samples.push({ t: now - t0, ...p });
    const state = `${p.cursor}/${p.horizon}/${p.queued}`;
    if (state !== last) [last, movedAt] = [state, now];
    if (p.horizon >= expected && p.queued === 0) return { doneAt: now, samples };
    if (now - movedAt > STALL_MS || now > deadline) {
      throw new Error(`not decided in time: cursor at ${p.cursor}, horizon at ${p.horizon} of ${expected} records, ${p.queued} queued`);
    }
    await sleep(everyMs);
  }
}

/** ms since t0 at which `of` (the horizon or the cursor) was first seen at or past `seq` (at most one poll late). */
function crossedAt(samples: readonly Sample[], seq: number, of: 'horizon' | 'cursor' = 'horizon'): number {
  if (seq <= 0) return 0;
  const s = samples.find((x) => x[of] >= seq);
  if (!s) throw new Error(`the ${of} never reached ${seq}`);
  return s.t;
}

const rate = (alerts: number, ms: number) => (ms > 0 ? Math.round(alerts / (ms / 1000)) : null);

/**
 * Decided rates over windows of the run: the first `window` alerts (from the first post), the last
 * (from the moment the horizon passed total - window), each consecutive window, and last / first. Also the
 * ingested rate (the log cursor) by window: whether deriving slows as the store grows, apart from when
 * incident passes happen to fall and from the catch-up once intake has ended.
 */
function flatness(samples: readonly Sample[], total: number) {
  const window = Math.min(FLAT_WINDOW, Math.floor(total / 2));
  const first = rate(window, crossedAt(samples, window));
  const last = rate(window, crossedAt(samples, total) - crossedAt(samples, total - window));
  const byWindow: Array<number | null> = [];
  const ingestedByWindow: Array<number | null> = [];
  for (let k = 1; k * window <= total; k++) {
    byWindow.push(rate(window, crossedAt(samples, k * window) - crossedAt(samples, (k - 1) * window)));
    ingestedByWindow.push(rate(window, crossedAt(samples, k * window, 'cursor') - crossedAt(samples, (k - 1) * window, 'cursor')));
  }
  const ratio = first && last ? Math.round((last / first) * 1000) / 1000 : null;
  // The horizon at the end of each second after the first post: how decisions progressed through the run.
  const bySecond: number[] = [];
  for (const { t, horizon } of samples) bySecond[Math.floor(t / 1000)] = horizon;
  for (let i = 0; i < bySecond.length; i++) bySecond[i] ??= bySecond[i - 1] ?? 0;
  return { window, decided_per_s_first: first, decided_per_s_last: last, last_to_first: ratio, decided_per_s_by_window: byWindow, ingested_per_s_by_window: ingestedByWindow, horizon_by_second: bySecond };
}

// ---------------------------------------------------------------------------------------- deployments

type Layout = { store: 'sqlite'; split: boolean } | { store: 'postgres'; workers: number };

interface Deployment {
  layout: Layout;
  url: string;
  procs: Array<{ role: string; proc: FidoProcess }>;
  probe: Probe;
  /** How often to poll the probe: a SQLite read costs little, a PostgreSQL round trip more. */
  pollMs: number;
}

function describe(layout: Layout): string {
  if (layout.store === 'postgres') return `postgres: api + ${layout.workers} worker${layout.workers > 1 ? 's' : ''} + actions processes`;
  return layout.split
    ? 'sqlite (WAL, synchronous=FULL): api + worker + actions processes on one file'
    : 'sqlite (WAL, synchronous=FULL): one process (npm start: API and intake on the main thread, ingest in one worker thread, enrich, score, decide and actions in another)';
}

function rolesOf(layout: Layout): string[] {
  if (layout.store === 'postgres') return ['api', ...Array<string>(layout.workers).fill('worker'), 'actions'];
  return layout.split ? ['api', 'worker', 'actions'] : ['all'];
}

/** A fresh PostgreSQL database on the local server, dropped afterwards. */
async function freshPgDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  assertLoopback(PG_URL, 'BENCH_PG_URL');
  const name = `fido_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (text: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  await admin(`create database ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return { url: u.toString(), name, drop: () => admin(`drop database if exists ${name} with (force)`) };
}

/** Starts the layout's processes on a fresh store, runs `fn`, and stops and removes everything. */
async function withDeployment<T>(layout: Layout, fn: (d: Deployment) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-bench-'));
  const database = layout.store === 'postgres' ? await freshPgDatabase() : null;
  const base: Record<string, string> = { FIDO_CONFIG: join(here, env.BENCH_CONFIG ?? 'fido-bench.yaml'), FIDO_DATA_DIR: dir, FIDO_BOOTSTRAP_TOKEN: TOKEN, FIDO_LOG_LEVEL: 'error' };
  if (database) base.FIDO_DATABASE_URL = database.url;
  const procs: Deployment['procs'] = [];
  let probe: Probe | undefined;
  try {
    // One at a time: the first applies the migrations.
    for (const role of rolesOf(layout)) procs.push({ role, proc: await startFidoProcess(role === 'all' ? base : { ...base, FIDO_ROLE: role }) });
    const url = procs[0]!.proc.url;
    assertLoopback(url, 'fido');
    probe = database ? await postgresProbe(database.url, database.name) : sqliteProbe(dir);
    return await fn({ layout, url, procs, probe, pollMs: database ? 100 : 50 });
  } finally {
    await probe?.close().catch(() => undefined);
    for (const { proc } of procs) await stop(proc);
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM, and SIGKILL if the process has not exited within 20 s. */
async function stop(p: FidoProcess): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.kill('SIGTERM'), new Promise((r) => (timer = setTimeout(r, 20_000)))]);
  clearTimeout(timer);
  await p.kill('SIGKILL');
}

/** CPU time (user + system) in ms from a /proc stat file: of a process (all its threads) or of one thread. */
function statCpuMs(path: string): number {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  // Fields after the command name (which may hold spaces) start at state; utime and stime are 14 and 15.
  const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * tick;
}

const processCpuMs = (pid: number) => statCpuMs(`/proc/${pid}/stat`);
const fidoCpuMs = (d: Deployment) => d.procs.reduce((sum, p) => sum + processCpuMs(p.proc.child.pid!), 0);

/**
 * CPU time so far of each kind of thread in Fido's processes, ms: `main` (HTTP and intake, or a role's whole
 * pipeline), the threads Fido names (util/thread-name.ts: fido-ingest → `ingest`, fido-parse, fido-incidents, fido-cel),
 * and `runtime`: everything else, V8's compiler and garbage collector threads and libuv's pool, plus any thread
 * that has ended. Prefixed by role when the deployment has several processes.
 */
function threadCpuMs(d: Deployment): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: string, ms: number) => out.set(k, (out.get(k) ?? 0) + ms);
  for (const { role, proc } of d.procs) {
    const pid = proc.child.pid!;
    const prefix = d.procs.length > 1 ? `${role}/` : '';
    let named = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        const label = Number(tid) === pid ? 'main' : comm.startsWith('fido-') ? comm.slice('fido-'.length) : null;
        if (label === null) continue;
        const ms = statCpuMs(`/proc/${pid}/task/${tid}/stat`);
        add(prefix + label, ms);
        named += ms;
      } catch {
        // the thread ended while being read: its time is in the process's, counted as runtime
      }
    }
    add(`${prefix}runtime`, processCpuMs(pid) - named);
  }
  return out;
}

/** Per kind of thread (threadCpuMs), the CPU ms per alert between two readings. */
function threadCpuPerAlert(before: Map<string, number>, after: Map<string, number>, alerts: number): Record<string, number> {
  return Object.fromEntries([...after].map(([k, ms]) => [k, perAlert(ms - (before.get(k) ?? 0), alerts)]));
}
const generatorCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Peak RSS (VmHWM) of each of Fido's processes, MB, and their sum. */
function peakRss(d: Deployment): { peak_rss_mb: number; peak_rss_mb_by_process?: Record<string, number> } {
  const each = d.procs.map(({ role, proc }) => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.child.pid}/status`, 'utf8'));
    return [role, m ? Math.round(Number(m[1]) / 1024) : NaN] as const;
  });
  const sum = each.reduce((s, [, mb]) => s + mb, 0);
  if (each.length === 1) return { peak_rss_mb: sum };
  const byProcess: Record<string, number> = {};
  each.forEach(([role, mb], i) => (byProcess[`${role}${each.filter(([r]) => r === role).length > 1 ? `_${i}` : ''}`] = mb));
  return { peak_rss_mb: sum, peak_rss_mb_by_process: byProcess };
}

const perAlert = (ms: number, alerts: number) => Math.round((ms / alerts) * 1000) / 1000;
/** Generous but bounded: the run fails if fewer than 200 alerts/s are decided. */
const decideBoundMs = (alerts: number) => 120_000 + alerts * 5;

// --------------------------------------------------------------------------------------- measurements

/** A burst of `total` unique alerts: intake and decided rates, CPU and memory, and the rates by window. */
async function burst(layout: Layout, total: number) {
  return withDeployment(layout, async (d) => {
    const cpu0 = fidoCpuMs(d);
    const threads0 = threadCpuMs(d);
    const db0 = await d.probe.dbCpuMs();
    const gen0 = generatorCpuMs();
    const t0 = Date.now();
    const failed = new AbortController();
    const tracking = trackDecided(d.probe, t0, total, d.pollMs, decideBoundMs(total), failed.signal);
    tracking.catch(() => undefined); // reported when awaited below; meanwhile not an unhandled rejection
    let acked: number;
    let acks: number[];
    try {
      acks = await sendBurst(d.url, total, t0);
      acked = Date.now();
    } catch (e) {
      failed.abort();
      await tracking.catch(() => undefined);
      throw e;
    }
    const { doneAt, samples } = await tracking;
    const cpu = fidoCpuMs(d) - cpu0;
    const threads = threadCpuPerAlert(threads0, threadCpuMs(d), total);
    const db1 = await d.probe.dbCpuMs();
    const gen = generatorCpuMs() - gen0;
    const rss = peakRss(d);
    const counts = await d.probe.counts();
    // How far the pipeline had got when intake finished: after that it no longer shares the machine with
    // intake and the generator, which shows in the later windows' rates.
    const atIntakeEnd = samples.filter((x) => x.t <= acked - t0).pop()?.horizon ?? 0;
    const ingested = crossedAt(samples, total, 'cursor');
    return {
      store: describe(layout),
      batch: BURST_BATCH,
      alerts: total,
      intake_per_s: rate(total, acked - t0),
      decided_per_s: rate(total, doneAt - t0),
      seconds: (doneAt - t0) / 1000,
      intake_seconds: (acked - t0) / 1000,
      // When ingest had derived every record (cursor at the end): intake → ingest → decided.
      ingest_per_s: rate(total, ingested),
      ingest_seconds: ingested / 1000,
      decided_when_intake_done: atIntakeEnd,
      // How long each request of BURST_BATCH records waited for its 202 (the intake commit waits for the
      // write lock while ingest commits a batch).
      ack_ms: latencyStats(acks.sort((a, b) => a - b)),
      cpu_ms_per_alert: perAlert(cpu, total),
      // The same by thread: which one is the critical path, and what the runtime's own threads take.
      cpu_ms_per_alert_by_thread: threads,
      ...(db0 !== null && db1 !== null ? { postgres_cpu_ms_per_alert: perAlert(db1 - db0, total) } : {}),
      generator_cpu_ms_per_alert: perAlert(gen, total),
      ...rss,
      ...flatness(samples, total),
      // Checks: every alert stored, none a duplicate (the workload is unique), and how much incident
      // decisions coalesced (decision_marks: one per decision that moved an incident's decided_seq).
      stored: counts,
    };
  });
}

const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function latencyStats(sorted: readonly number[]) {
  return { p50_ms: pct(sorted, 50), p99_ms: pct(sorted, 99), p99_9_ms: pct(sorted, 99.9), max_ms: sorted[sorted.length - 1] ?? NaN };
}

/** A steady rate for `seconds`: per-alert latency from intake commit to decision. */
async function steadyLatency(layout: Layout, perSecond: number, batch: number, seconds: number) {
  return withDeployment(layout, async (d) => {
    const cpu0 = fidoCpuMs(d);
    const gen0 = generatorCpuMs();
    const g = await sendSteady(d.url, perSecond, batch, seconds);
    await trackDecided(d.probe, g.t0, g.sent, d.pollMs, decideBoundMs(g.sent));
    const cpu = fidoCpuMs(d) - cpu0;
    const gen = generatorCpuMs() - gen0;
    const rows = await d.probe.latencies();
    const decided = rows.filter((r): r is { at: number; ms: number } => r.ms !== null);
    const sorted = (list: typeof decided) => list.map((r) => r.ms).sort((a, b) => a - b);
    // p99 per second of arrival: shows warm-up, and whether the pipeline keeps up (flat) or falls behind (growing).
    const windows: number[][] = [];
    for (const r of decided) (windows[Math.floor((r.at - g.t0) / 1000)] ??= []).push(r.ms);
    const p99BySecond = Array.from(windows, (w) => (w ? pct(w.sort((a, b) => a - b), 99) : null));
    // Without the first seconds (the first alert of every host opens an incident, caches fill): the steady
    // state the goal speaks of. Both are reported.
    const warm = latencyStats(sorted(decided.filter((r) => r.at - g.t0 >= WARMUP_SECONDS * 1000)));
    return {
      store: describe(layout),
      rate_per_s: perSecond,
      records_per_request: batch,
      tick_ms: g.tickMs,
      seconds,
      alerts: g.sent,
      // The generator kept up when these are near the schedule: achieved rate and worst lateness of a tick.
      sent_per_s: g.sentPerS,
      generator_late_max_ms: g.lateMaxMs,
      measured: decided.length,
      undecided: rows.length - decided.length,
      ...latencyStats(sorted(decided)),
      ...Object.fromEntries(Object.entries(warm).map(([k, v]) => [k.replace(/_ms$/, `_ms_after_${WARMUP_SECONDS}s`), v])),
      p99_ms_by_second: p99BySecond,
      // The server's CPU per alert (all threads): steadier than latency on a shared machine.
      cpu_ms_per_alert: perAlert(cpu, g.sent),
      generator_cpu_ms_per_alert: perAlert(gen, g.sent),
      ...peakRss(d),
    };
  });
}

async function floors() {
  const sqlite = await sqliteFloor(FLOOR_ALERTS);
  // The least any design of issue 12 writes: what SQLite costs with no grouping keys, indicators or hand-off.
  const minimal = await sqliteFloor(FLOOR_ALERTS, 'minimal');
  const parse = await parseFloor();
  return {
    sqlite: { ...sqlite, records_per_request: FLOOR_REQUEST, records_per_ingest_transaction: FLOOR_BATCH },
    sqlite_minimal: minimal,
    json_parse_us_per_alert: parse.json_parse_us,
    detector_parse_us_per_alert: parse.detector_parse_us,
  };
}

// ------------------------------------------------------------------------------------------------ run

const sqliteLayout: Layout = { store: 'sqlite', split: SPLIT };
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version, loadavg_at_start: loadavg().map((l) => Math.round(l * 100) / 100) },
  workload: 'Suricata EVE alerts, 2,000 hosts × 50 rules, 1 in 20 to a known C2; every alert unique (no repeats)',
};
if (only.has('floor')) results.floors = await floors();
if (only.has('parse')) results.parse_rates = await detectorParseRates();
if (only.has('burst')) results.burst = await burst(sqliteLayout, BURST_ALERTS);
if (only.has('long')) results.long_run = await burst(sqliteLayout, LONG_ALERTS);
if (only.has('latency')) {
  for (const s of STEADY) results[`latency_at_${s.rate}_per_s`] = await steadyLatency(sqliteLayout, s.rate, s.batch, STEADY_SECONDS);
}
if (only.has('pg')) {
  results.postgres_note = `bursts of ${PG_ALERTS} alerts (BENCH_PG_ALERTS), fewer than on SQLite to keep the bench short; compare decided_per_s_first (the first ${Math.min(FLAT_WINDOW, Math.floor(PG_ALERTS / 2))}) with SQLite's`;
  results.postgres_burst_1_worker = await burst({ store: 'postgres', workers: 1 }, PG_ALERTS);
  results.postgres_burst_2_workers = await burst({ store: 'postgres', workers: 2 }, PG_ALERTS);
}
results.goals = goals(results);

console.log(JSON.stringify(results, null, 2));
console.log(summary(results));
mkdirSync(join(here, 'results'), { recursive: true });
const suffix = `${SPLIT ? '-split' : ''}${only.size < PARTS.length ? `-${[...only].join('-')}` : ''}`;
writeFileSync(join(here, 'results', `${String(results.date).slice(0, 19).replace(/:/g, '')}${suffix}.json`), `${JSON.stringify(results, null, 2)}\n`);
await agent.close();

// --------------------------------------------------------------------------------------------- report

type Burst = Awaited<ReturnType<typeof burst>>;
type Steady = Awaited<ReturnType<typeof steadyLatency>>;
type Floors = Awaited<ReturnType<typeof floors>>;

/**
 * Each goal of issue 12 that this run measured: the goal, the measured value, and whether it is met (null:
 * no goal stated, or not measurable at this size — e.g. a run too short for two windows of decisions).
 */
function goals(r: Record<string, unknown>) {
  const out: Record<string, { goal: string; measured: unknown; met: boolean | null }> = {};
  const b = r.burst as Burst | undefined;
  if (b) {
    out.throughput = {
      goal: `≥ ${GOALS.decidedPerS.toLocaleString('en')} alerts/s intake → decided, burst of ${b.alerts.toLocaleString('en')} on SQLite (needs ≤ ${perAlert(2000, GOALS.decidedPerS)} ms CPU per alert on 2 cores, generator included)`,
      measured: { decided_per_s: b.decided_per_s, intake_per_s: b.intake_per_s, cpu_ms_per_alert: b.cpu_ms_per_alert },
      met: (b.decided_per_s ?? 0) >= GOALS.decidedPerS,
    };
  }
  const l = r.long_run as Burst | undefined;
  if (l) {
    out.flatness = {
      goal: `decided rate over the last ${l.window.toLocaleString('en')} of ${l.alerts.toLocaleString('en')} alerts within ${GOALS.flatness * 100}% of the first ${l.window.toLocaleString('en')}'s`,
      measured: { last_to_first: l.last_to_first, first_per_s: l.decided_per_s_first, last_per_s: l.decided_per_s_last },
      met: l.last_to_first === null ? null : Math.abs(l.last_to_first - 1) <= GOALS.flatness,
    };
  }
  for (const s of STEADY) {
    const lat = r[`latency_at_${s.rate}_per_s`] as Steady | undefined;
    if (!lat) continue;
    const goal = s.rate === 1000 ? GOALS.p99MsAt1000 : null;
    out[`latency_at_${s.rate}_per_s`] = {
      goal: goal === null ? 'none stated (measured for issue 12)' : `p99 ≤ ${goal} ms intake commit → decision at 1,000 alerts/s`,
      measured: { p99_ms: lat.p99_ms, [`p99_ms_after_${WARMUP_SECONDS}s`]: (lat as Record<string, unknown>)[`p99_ms_after_${WARMUP_SECONDS}s`] },
      met: goal === null ? null : lat.p99_ms <= goal,
    };
  }
  return out;
}

/** A figure for the summary: thousands separated, `digits` decimals at most, '—' for none. */
function n(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : v.toLocaleString('en', { maximumFractionDigits: digits });
}

/**
 * What 20,000 alerts/s leaves for Fido's own code on this machine: two cores give 100 µs of CPU per alert, of
 * which the load generator takes its share and the floors theirs (SQLite with the least data model, JSON.parse,
 * the detector's parse); the rest is what everything else (HTTP, correlation, the incident stages, the
 * runtime's compiler and GC) may use, beside what it uses in the burst.
 */
function budget(f: Floors, b: Burst): string {
  const cores = cpus().length;
  const total = (cores * 1e6) / 20_000;
  const generator = b.generator_cpu_ms_per_alert * 1000;
  const floors = f.sqlite_minimal.cpu_us + f.json_parse_us_per_alert + f.detector_parse_us_per_alert;
  const left = total - generator - floors;
  const used = b.cpu_ms_per_alert * 1000 - floors;
  return (
    `budget at 20,000/s on ${cores} cores: ${n(total, 1)} µs CPU per alert − generator ${n(generator, 1)} − floors ${n(floors, 1)} ` +
    `(SQLite alerts+incidents only ${f.sqlite_minimal.cpu_us}, JSON.parse ${f.json_parse_us_per_alert}, detector ${f.detector_parse_us_per_alert}) ` +
    `= ${n(left, 1)} µs for everything else; the burst used ${n(used, 1)}`
  );
}

/** The end-to-end figures with the floors beside them, one line each. */
function summary(r: Record<string, unknown>): string {
  // Server CPU: all of Fido's processes and threads; on PostgreSQL also the database server's (postgres_cpu_ms_per_alert).
  const lines = ['', 'summary                                   decided/s    intake/s   µs/alert   server CPU µs/alert   peak RSS MB'];
  const row = (label: string, decided: number | null, intake: number | null, cpuMs: number | null, rss: number | null) =>
    lines.push(
      `${label.padEnd(40)} ${n(decided).padStart(10)} ${n(intake).padStart(11)} ${n(decided ? 1e6 / decided : null, 1).padStart(10)} ${n(cpuMs === null ? null : cpuMs * 1000, 1).padStart(21)} ${n(rss).padStart(13)}`,
    );
  const bursts: Array<[string, string]> = [
    ['burst', `sqlite${SPLIT ? ' split' : ''} burst`],
    ['long_run', `sqlite${SPLIT ? ' split' : ''} long run`],
    ['postgres_burst_1_worker', 'postgres burst, 1 worker'],
    ['postgres_burst_2_workers', 'postgres burst, 2 workers'],
  ];
  for (const [key, label] of bursts) {
    const b = r[key] as Burst | undefined;
    if (!b) continue;
    const cpu = b.cpu_ms_per_alert + ((b as { postgres_cpu_ms_per_alert?: number }).postgres_cpu_ms_per_alert ?? 0);
    row(`${label} (${n(b.alerts)})`, b.decided_per_s, b.intake_per_s, cpu, b.peak_rss_mb);
    lines.push(
      `${''.padEnd(4)}decided: first ${n(b.window)} ${n(b.decided_per_s_first)}/s, last ${n(b.window)} ${n(b.decided_per_s_last)}/s (last/first ${n(b.last_to_first, 3)}); ` +
        `intake done at ${n(b.intake_seconds, 1)} s, ingest at ${n(b.ingest_seconds, 1)} s (${n(b.ingest_per_s)}/s), decided at ${n(b.seconds, 1)} s`,
    );
    const byWindow = (rates: ReadonlyArray<number | null>) => rates.map((x) => (x === null ? '—' : n(x))).join(', ');
    lines.push(`${''.padEnd(4)}by ${n(b.window)}: decided ${byWindow(b.decided_per_s_by_window)}/s; ingested ${byWindow(b.ingested_per_s_by_window)}/s`);
    const threads = Object.entries(b.cpu_ms_per_alert_by_thread).sort((x, y) => y[1] - x[1]);
    lines.push(`${''.padEnd(4)}server CPU by thread, µs/alert: ${threads.map(([k, ms]) => `${k} ${n(ms * 1000, 1)}`).join(', ')}`);
  }
  const f = r.floors as Floors | undefined;
  if (f) {
    const floorRows = (name: string, floor: SqliteFloor) => {
      row(`floor: SQLite ${name} (${n(floor.alerts)})`, floor.alerts_per_s, 1e6 / floor.intake_us, floor.cpu_us / 1000, null);
      lines.push(
        `${''.padEnd(4)}intake ${floor.intake_us} µs, ingest reads ${floor.ingest_read_us} µs, writes ${floor.ingest_write_us} µs per alert (${describeWrites(floor.ingest_writes_us)})` +
          (floor.first_window_us === null ? '' : `; the first ${n(FLOOR_WINDOW)} alerts ${floor.first_window_us} µs each, the last ${n(FLOOR_WINDOW)} ${floor.last_window_us} µs`),
      );
    };
    floorRows('intake+ingest', f.sqlite);
    floorRows('alerts+incidents only', f.sqlite_minimal);
    row('floor: JSON.parse of the record', 1e6 / f.json_parse_us_per_alert, null, f.json_parse_us_per_alert / 1000, null);
    row('floor: Suricata detector parse', 1e6 / f.detector_parse_us_per_alert, null, f.detector_parse_us_per_alert / 1000, null);
    const b = r.burst as Burst | undefined;
    if (b) lines.push(budget(f, b));
  }
  for (const s of STEADY) {
    const lat = r[`latency_at_${s.rate}_per_s`] as (Steady & Record<string, number>) | undefined;
    if (!lat) continue;
    const after = (k: string) => lat[`${k}_ms_after_${WARMUP_SECONDS}s`];
    lines.push(
      `latency at ${n(s.rate)}/s (${s.batch} per request): p50 ${n(lat.p50_ms)} p99 ${n(lat.p99_ms)} p99.9 ${n(lat.p99_9_ms)} max ${n(lat.max_ms)} ms; ` +
        `after ${WARMUP_SECONDS} s: p50 ${n(after('p50'))} p99 ${n(after('p99'))} p99.9 ${n(after('p99_9'))} max ${n(after('max'))} ms; sent ${n(lat.sent_per_s)}/s, CPU ${n(lat.cpu_ms_per_alert * 1000, 1)} µs/alert`,
    );
  }
  for (const [name, g] of Object.entries(r.goals as ReturnType<typeof goals>)) {
    lines.push(`goal ${name}: ${g.goal} — ${g.met === null ? '—' : g.met ? 'MET' : 'NOT MET'} (${JSON.stringify(g.measured)})`);
  }
  return lines.join('\n');
}
