/**
 * `node --import tsx bench/sqlite-floor.ts [N] [--json] [--model=upserts|minimal]`: the floor under the pipeline's throughput on this
 * machine — how fast SQLite alone executes what intake and ingest must read and write per alert in the
 * Pipeline v2 data model (issue 12), with none of Fido's code in the timed part. `npm run bench` prints it
 * beside the end-to-end figures.
 *
 * Fido's schema (a store opened and migrated by openStore) and pragmas; the benchmark's unique alerts
 * parsed, fingerprinted, keyed, grouped into incidents and tallied beforehand, with Fido's own functions
 * where there is one. Then, timed, as the server does it:
 *
 *   intake   one transaction per 100-record request at synchronous=FULL (acknowledged: must reach the disk)
 *   ingest   one transaction per 20,000 records (ingest's most, what it takes of a backlog; BENCH_FLOOR_BATCH
 *            sets another) at synchronous=NORMAL (redone from the log after a crash):
 *     read   the batch after the cursor; the redelivery check (alerts_vendor); the incidents the batch
 *            refers to (each once per batch). The dedup state and the grouping keys are in memory.
 *     write  the alert row with its document; incidents inserted or updated once per batch; the grouping
 *            keys the batch changed appended to incident_key_log; the indicator counts appended to
 *            observation_log (ingest is behind: this is a burst), folded into incident_observables each
 *            time the log passes 50,000 rows (timed with the writes: ingest does it between batches); the
 *            enrich hand-off (stage_queue, once per incident per batch); the cursor
 *
 * Prepared single-row statements (better-sqlite3's fastest form). Enrichment, scoring and decisions are
 * left out: they run per incident, not per alert. If this floor is below a throughput goal, the goal needs a
 * different data model, not faster code around this one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { openStore } from '../src/store/store.js';
import { loadDetectors, normalizeRecord } from '../src/detectors/lib/registry.js';
import { alertFingerprint } from '../src/correlate/fingerprint.js';
import { groupKeys } from '../src/correlate/keys.js';
import { ObservationTally, type Observation } from '../src/store/observations.js';
import { parseIp } from '../src/enrich/values.js';
import { severityLabel } from '../src/model/alert.js';
import { ulid } from '../src/util/ulid.js';
import { eveAlert } from './workload.js';

/** Records per intake request (the benchmark posts batches of 100) and per ingest transaction (ingest's most). */
export const REQUEST = 100;
export const INGEST_BATCH = Number(process.env.BENCH_FLOOR_BATCH ?? 20_000);

export interface SqliteFloor {
  model: FloorModel;
  alerts: number;
  /** Wall-clock µs per alert of each part, and in all. */
  intake_us: number;
  ingest_read_us: number;
  ingest_write_us: number;
  total_us: number;
  /** This process's CPU µs per alert (SQLite runs in it; the fsyncs are waits, not CPU). */
  cpu_us: number;
  /** Wall-clock µs per alert of each kind of ingest write (their sum is ingest_write_us): what each part of the data model costs. */
  ingest_writes_us: Record<WritePart, number>;
  alerts_per_s: number;
  /**
   * Wall-clock µs per alert over the first and the last WINDOW alerts, when the run has two windows: how
   * the same writes slow down as the store grows.
   */
  first_window_us: number | null;
  last_window_us: number | null;
}

/** Alerts per window of first_window_us / last_window_us. */
export const WINDOW = 100_000;

/**
 * Which data model the floor writes. `current`: Fido's, as described above. `upserts`: the one before
 * migrations 0011 and 0012, for comparison — the grouping keys read and upserted in a table (incident_keys,
 * keyed by the key), the indicator counts upserted into incident_observables by every batch: random-key
 * b-tree writes that slowed SQLite down as the store grew. `minimal`: the least issue 12 describes — the
 * alert rows and the incidents, no grouping keys, no indicators, no hand-off to the incident stages: what
 * SQLite would cost if everything else lived elsewhere.
 */
export type FloorModel = 'current' | 'upserts' | 'minimal';

/** The kinds of ingest write, timed apart (the commit writes the pages all of them dirtied). */
type WritePart = 'alerts' | 'incidents' | 'keys' | 'indicators' | 'hand_off' | 'commit';

/** Rows of observation_log past which ingest folds it (FOLD_ROWS in src/pipeline/ingest/index.ts). */
const FOLD_ROWS = 50_000;

export async function sqliteFloor(n: number, model: FloorModel = 'current'): Promise<SqliteFloor> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-floor-'));
  try {
    const store = await openStore({ dataDir: dir });
    await store.close();
    const batches = await prepare(n);
    const db = new Sqlite(join(dir, 'fido.db'));
    try {
      // As src/store/sqlite/dialect.ts sets them.
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      db.pragma('wal_autocheckpoint = 10000');
      return run(db, batches, n, model);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Prepared = Awaited<ReturnType<typeof prepare>>[number];

/** Everything Fido computes, computed before the clock starts: per ingest batch, the rows it must write. */
async function prepare(n: number) {
  const registry = await loadDetectors();
  const t0 = Date.now();
  const receivedAt = new Date(t0);
  /** Grouping key → incident, and the incidents that exist before each batch (inserted vs updated). */
  const incidentOfKey = new Map<string, string>();
  const existing = new Set<string>();
  const out = [];
  for (let start = 0; start < n; start += INGEST_BATCH) {
    const intake: Array<[id: string, raw: string]> = [];
    const alerts: unknown[][] = [];
    const vendorIds: string[] = [];
    const keys = new Map<string, { incident: string; lastSeen: number }>();
    const incidents = new Map<string, { fresh: boolean; title: string; time: number; severity: number; host: string | null; lastSeq: number; count: number }>();
    const tally = new ObservationTally();
    for (let i = start; i < Math.min(n, start + INGEST_BATCH); i++) {
      const seq = i + 1;
      const raw = eveAlert(i, t0, { unique: true });
      const r = normalizeRecord(registry, raw, 'suricata', { receivedAt });
      if (!('alerts' in r)) throw new Error(`workload record ${i} did not parse`);
      const draft = r.alerts[0]!;
      const id = ulid(t0 + i);
      intake.push([id, raw]);
      const alert = { ...draft, id, source: 'bench', detector: 'suricata', received_at: receivedAt.toISOString(), severity_label: draft.severity_label ?? severityLabel(draft.severity) };
      const time = Date.parse(draft.time);
      const fingerprint = alertFingerprint('bench', 'suricata', draft);
      const groups = groupKeys(draft);
      // Correlation, simplified: the incident of the first key already seen, else a new one (all alerts of
      // the run fall within the windows).
      let incident = groups.map((k) => incidentOfKey.get(k)).find((x) => x !== undefined);
      incident ??= ulid(t0 + i);
      const inc = incidents.get(incident) ?? { fresh: !existing.has(incident), title: draft.title, time, severity: draft.severity, host: draft.src?.ip ?? null, lastSeq: 0, count: 0 };
      inc.lastSeq = seq;
      inc.count++;
      incidents.set(incident, inc);
      for (const k of groups) {
        incidentOfKey.set(k, incident);
        keys.set(k, { incident, lastSeen: time });
      }
      const host = draft.host?.name?.toLowerCase() ?? draft.host?.ip ?? null;
      const user = draft.user?.name?.toLowerCase() ?? null;
      const columns: Array<[string, string]> = [];
      if (host) columns.push([parseIp(host) ? 'ip' : 'host', host]);
      if (user) columns.push(['user', user]);
      tally.addAlert(incident, alert, time, false, columns, seq);
      vendorIds.push(draft.vendor_id!);
      alerts.push([
        id, id, seq, 'bench', 'suricata', draft.vendor_id ?? null, fingerprint, time, t0, draft.title, draft.severity,
        draft.rule?.id ?? null, host, user, incident, JSON.stringify(alert),
      ]);
    }
    for (const id of incidents.keys()) existing.add(id);
    out.push({ intake, alerts, vendorIds, keys, incidents, observations: tally.rows() as Observation[], receivedAt: t0 });
  }
  return out;
}

function run(db: Sqlite.Database, batches: Prepared[], n: number, model: FloorModel): SqliteFloor {
  const upserts = model === 'upserts';
  const minimal = model === 'minimal';
  // The table migration 0011 dropped, as migration 0004 left it.
  if (upserts) db.exec(`create table fido_floor_incident_keys (key text primary key, incident_id text not null, last_seen integer not null) without rowid`);
  const st = {
    intake: db.prepare('insert into intake (id, source, detector, received_at, raw) values (?, ?, ?, ?, ?)'),
    readLog: db.prepare('select seq, id, source, detector, received_at, raw from intake where seq > ? order by seq limit ?'),
    readVendor: db.prepare('select id, incident_id from alerts where source = ? and detector = ? and vendor_id = ?'),
    readIncident: db.prepare('select id, status, first_seen, last_seen, alert_count, severity, host, user_name, updated_at, last_seq, pending_since from incidents where id = ?'),
    alert: db.prepare(`insert into alerts (id, intake_id, seq, source, detector, vendor_id, fingerprint, time, received_at, title, severity,
      rule_id, host, user_name, incident_id, duplicate_of, repeat_count, last_repeat_at, doc, raw)
      values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, 1, null, ?, '')`),
    newIncident: db.prepare(`insert into incidents (id, title, status, first_seen, last_seen, alert_count, severity, host, created_at, updated_at,
      last_seq, decided_seq, pending_since) values (?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`),
    updateIncident: db.prepare(`update incidents set alert_count = alert_count + ?, severity = max(severity, ?), last_seen = max(last_seen, ?),
      updated_at = ?, last_seq = ?, pending_since = coalesce(pending_since, ?) where id = ?`),
    enqueue: db.prepare(`insert into stage_queue (stage, item_id, version, available_at, attempts, created_at) values ('enrich', ?, 1, ?, 0, ?)
      on conflict (stage, item_id) do update set version = stage_queue.version + 1, available_at = excluded.available_at`),
    cursor: db.prepare(`update pipeline_cursors set seq = ?, updated_at = ? where name = 'ingest' and seq = ?`),
    // A new incident's detector and source (incident_facets, migration 0023): ingest writes a pair once per incident.
    facet: db.prepare(`insert into incident_facets (incident_id, facet, value) values (?, ?, ?) on conflict do nothing`),
    // current
    keyLog: db.prepare(`insert into incident_key_log (pos, key, incident_id, last_seen, received_at) values (?, ?, ?, ?, ?)`),
    observationLog: db.prepare(`insert into observation_log (incident_id, pos, type, value, alerts, events, first_seen, last_seen, first_seq) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // As store/observations.ts foldObservations writes it.
    fold: db.prepare(`insert into incident_observables (incident_id, type, value, alerts, events, first_seen, last_seen, first_seq)
      select incident_id, type, value, sum(alerts), sum(events), min(first_seen), max(last_seen), min(first_seq) from observation_log where true
      group by incident_id, type, value order by incident_id, type, value
      on conflict (incident_id, type, value) do update set alerts = incident_observables.alerts + excluded.alerts,
      events = incident_observables.events + excluded.events, first_seen = min(incident_observables.first_seen, excluded.first_seen),
      last_seen = max(incident_observables.last_seen, excluded.last_seen)`),
    emptyLog: db.prepare('delete from observation_log'),
    // upserts
    ...(upserts
      ? {
          readKey: db.prepare('select * from fido_floor_incident_keys where key = ?'),
          key: db.prepare(`insert into fido_floor_incident_keys (key, incident_id, last_seen) values (?, ?, ?)
            on conflict (key) do update set incident_id = excluded.incident_id, last_seen = excluded.last_seen`),
          observation: db.prepare(`insert into incident_observables (incident_id, type, value, alerts, events, first_seen, last_seen) values (?, ?, ?, ?, ?, ?, ?)
            on conflict (incident_id, type, value) do update set alerts = incident_observables.alerts + excluded.alerts,
            events = incident_observables.events + excluded.events, first_seen = min(incident_observables.first_seen, excluded.first_seen),
            last_seen = max(incident_observables.last_seen, excluded.last_seen)`),
        }
      : {}),
  };
  let logged = 0;
  const parts: Record<WritePart, number> = { alerts: 0, incidents: 0, keys: 0, indicators: 0, hand_off: 0, commit: 0 };
  let lap = 0;
  /** Adds the time since the last lap to `part`. */
  const timed = (part: WritePart) => {
    const t = performance.now();
    parts[part] += t - lap;
    lap = t;
  };

  const intakeTx = db.transaction((records: ReadonlyArray<[string, string]>, now: number) => {
    for (const [id, raw] of records) st.intake.run(id, 'bench', 'suricata', now, raw);
  });
  const readTx = (b: Prepared, cursor: number) => {
    st.readLog.all(cursor, b.intake.length);
    for (const v of b.vendorIds) st.readVendor.get('bench', 'suricata', v);
    if (st.readKey) for (const k of b.keys.keys()) st.readKey.get(k);
    for (const id of b.incidents.keys()) st.readIncident.get(id);
  };
  const writeTx = (b: Prepared, cursor: number, now: number) => {
    lap = performance.now();
    for (const a of b.alerts) st.alert.run(...a);
    timed('alerts');
    for (const [id, i] of b.incidents) {
      if (i.fresh) {
        st.newIncident.run(id, i.title, i.time, i.time, i.count, i.severity, i.host, now, now, i.lastSeq, b.receivedAt);
        st.facet.run(id, 'detector', 'suricata');
        st.facet.run(id, 'source', 'bench');
      } else st.updateIncident.run(i.count, i.severity, i.time, now, i.lastSeq, b.receivedAt, id);
    }
    if (st.cursor.run(cursor + b.intake.length, now, cursor).changes !== 1) throw new Error('cursor did not move');
    timed('incidents');
    if (minimal) return;
    const pos = cursor + b.intake.length;
    if (st.key && st.observation) {
      for (const [k, v] of b.keys) st.key.run(k, v.incident, v.lastSeen);
      timed('keys');
      for (const o of b.observations) st.observation.run(o.incident_id, o.type, o.value, o.alerts, o.events, o.first_seen, o.last_seen);
    } else {
      for (const [k, v] of b.keys) st.keyLog.run(pos, k, v.incident, v.lastSeen, b.receivedAt);
      timed('keys');
      for (const o of b.observations) st.observationLog.run(o.incident_id, pos, o.type, o.value, o.alerts, o.events, o.first_seen, o.last_seen, o.first_seq);
      logged += b.observations.length;
    }
    timed('indicators');
    for (const id of b.incidents.keys()) st.enqueue.run(id, now, now);
    timed('hand_off');
  };

  const ms = { intake: 0, read: 0, write: 0 };
  const cpuUs = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const c0 = cpuUs();
  const w0 = performance.now();
  /** performance.now() after each batch, to time the first and the last window. */
  const doneAt: number[] = [];
  let cursor = 0;
  for (const b of batches) {
    // Intake commits must reach the disk before the 202; ingest's are redone from the log after a crash.
    db.pragma('synchronous = FULL');
    let s = performance.now();
    for (let i = 0; i < b.intake.length; i += REQUEST) intakeTx(b.intake.slice(i, i + REQUEST), Date.now());
    ms.intake += performance.now() - s;
    db.pragma('synchronous = NORMAL');
    // One ingest transaction; its reads and writes are timed apart to show where the time goes.
    s = performance.now();
    db.exec('begin immediate');
    try {
      readTx(b, cursor);
      const m = performance.now();
      ms.read += m - s;
      writeTx(b, cursor, Date.now());
      lap = performance.now();
      db.exec('commit');
      timed('commit');
      ms.write += performance.now() - m;
    } catch (e) {
      db.exec('rollback');
      throw e;
    }
    cursor += b.intake.length;
    // Past the bound (or at the end, caught up), ingest folds the indicator log, in a transaction of its own.
    if (logged >= FOLD_ROWS || (logged > 0 && b === batches[batches.length - 1])) {
      s = performance.now();
      db.transaction(() => {
        st.fold.run();
        st.emptyLog.run();
      })();
      logged = 0;
      ms.write += performance.now() - s;
      parts.indicators += performance.now() - s;
    }
    doneAt.push(performance.now());
  }
  const wall = performance.now() - w0;
  const cpu = cpuUs() - c0;
  const perAlert = (totalMs: number) => Math.round((totalMs / n) * 10_000) / 10;
  return {
    model,
    alerts: n,
    intake_us: perAlert(ms.intake),
    ingest_read_us: perAlert(ms.read),
    ingest_write_us: perAlert(ms.write),
    total_us: perAlert(wall),
    cpu_us: Math.round((cpu / n) * 10) / 10,
    ingest_writes_us: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, perAlert(v)])) as Record<WritePart, number>,
    alerts_per_s: Math.round(n / (wall / 1000)),
    ...windows(doneAt, w0, n),
  };
}

/** first_window_us and last_window_us from the batches' end times (each batch is INGEST_BATCH alerts). */
function windows(doneAt: readonly number[], start: number, n: number): Pick<SqliteFloor, 'first_window_us' | 'last_window_us'> {
  const per = WINDOW / INGEST_BATCH;
  if (n < 2 * WINDOW || doneAt.length < 2 * per) return { first_window_us: null, last_window_us: null };
  const us = (ms: number) => Math.round((ms / WINDOW) * 10_000) / 10;
  return { first_window_us: us(doneAt[per - 1]! - start), last_window_us: us(doneAt.at(-1)! - doneAt.at(-1 - per)!) };
}

const MODEL_NAMES: Record<FloorModel, string> = {
  current: "Fido's data model",
  upserts: 'keys and indicators upserted, as before migrations 0011 and 0012',
  minimal: 'alerts and incidents only',
};

/** "alerts 9.8, incidents 0.6, …": the ingest writes by kind, in µs per alert. */
export function describeWrites(w: SqliteFloor['ingest_writes_us']): string {
  return Object.entries(w)
    .filter(([, us]) => us > 0)
    .map(([part, us]) => `${part.replace('_', '-')} ${us}`)
    .join(', ');
}

export function describeFloor(f: SqliteFloor): string {
  return (
    `SQLite floor, intake → ingest (${MODEL_NAMES[f.model]}): ${f.alerts_per_s} alerts/s, ${f.total_us} µs/alert ` +
    `(intake ${f.intake_us}, ingest reads ${f.ingest_read_us}, ingest writes ${f.ingest_write_us} [${describeWrites(f.ingest_writes_us)}]; CPU ${f.cpu_us}), ` +
    `${f.alerts} alerts, requests of ${REQUEST}, ingest transactions of ${INGEST_BATCH}` +
    (f.first_window_us === null ? '' : `; first ${WINDOW} alerts ${f.first_window_us} µs/alert, last ${WINDOW} ${f.last_window_us} µs/alert`)
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
  const model = (process.argv.find((a) => a.startsWith('--model='))?.slice('--model='.length) ?? 'current') as FloorModel;
  if (!(model in MODEL_NAMES)) throw new Error(`--model: one of ${Object.keys(MODEL_NAMES).join(', ')}`);
  const floor = await sqliteFloor(n, model);
  console.log(process.argv.includes('--json') ? JSON.stringify(floor) : describeFloor(floor));
}
