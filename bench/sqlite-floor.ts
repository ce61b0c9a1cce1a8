/**
 * `node --import tsx bench/sqlite-floor.ts [N]`: the floor under the pipeline's throughput on this machine —
 * how fast SQLite alone executes the rows the pipeline must write and read per alert, with none of Fido's
 * own code in the timed part. Fido's schema and pragmas (a store opened by openStore), the benchmark's
 * alerts parsed, fingerprinted and keyed beforehand; then, per batch of 500 as the stages take them, one
 * transaction per stage of prepared single-row statements (better-sqlite3's fastest form):
 *
 *   intake     intake row + normalize queue row (synchronous=FULL: acknowledged)
 *   normalize  claim, read intake rows, insert alerts + observables, finish claim, correlate queue row
 *   correlate  claim, read alerts, fingerprints and incident keys, set alerts' incident, upsert
 *              fingerprints and keys, timeline row, incident update, finish claim, enrich queue row
 *   decided    mark the alerts decided (once per incident decision; here once per alert, as in a trickle)
 *
 * Enrichment, scoring and decisions are left out (they run per incident, not per alert). If this floor is
 * below a throughput goal, the goal needs a different data model, not faster code around the same one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { openStore } from '../src/store/store.js';
import { loadDetectors, normalizeRecord } from '../src/detectors/lib/registry.js';
import { alertFingerprint } from '../src/correlate/fingerprint.js';
import { groupKeys } from '../src/correlate/keys.js';
import { ulid } from '../src/util/ulid.js';
import { eveAlert } from './workload.js';

const N = Number(process.argv[2] ?? 50_000);
const BATCH = 500;
const dir = mkdtempSync(join(tmpdir(), 'fido-floor-'));
const file = join(dir, 'fido.db');
const store = await openStore({ dataDir: dir });
await store.close();

// Everything Fido computes, computed before the clock starts.
const registry = await loadDetectors();
const t0 = Date.now();
const prepared = Array.from({ length: N }, (_, i) => {
  const raw = eveAlert(i, t0 + i);
  const r = normalizeRecord(registry, raw, 'suricata', { receivedAt: new Date(t0) });
  if (!('alerts' in r)) throw new Error(`workload record ${i} did not parse`);
  const draft = r.alerts[0]!;
  const id = ulid(t0 + i);
  return {
    id, raw, draft, time: Date.parse(draft.time), fingerprint: alertFingerprint('bench', 'suricata', draft), keys: groupKeys(draft),
    doc: JSON.stringify({ ...draft, id, source: 'bench', detector: 'suricata', received_at: new Date(t0).toISOString() }),
  };
});

const db = new Sqlite(file);
db.pragma('journal_mode = WAL');
db.pragma('cache_size = -65536');
db.pragma('temp_store = MEMORY');
db.pragma('wal_autocheckpoint = 10000');
const st = {
  intake: db.prepare('insert into intake (id, source, detector, received_at, raw) values (?, ?, ?, ?, ?)'),
  enqueue: db.prepare(`insert into stage_queue (stage, item_id, version, available_at, attempts, created_at) values (?, ?, 1, ?, 0, ?)
    on conflict (stage, item_id) do update set version = stage_queue.version + 1, available_at = excluded.available_at returning id`),
  lease: db.prepare('update stage_queue set lease_owner = ?, lease_until = ?, attempts = attempts + 1 where id = ?'),
  finish: db.prepare('delete from stage_queue where id = ? and version = 1'),
  readIntake: db.prepare('select * from intake where id = ?'),
  alert: db.prepare(`insert into alerts (id, intake_id, source, detector, vendor_id, fingerprint, time, received_at, title, severity,
    rule_id, host, user_name, incident_id, repeat_count, last_repeat_at, doc, raw) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, 1, null, ?, ?)
    on conflict (source, detector, vendor_id) do nothing`),
  observable: db.prepare('insert into observables (alert_id, type, value, role, time) values (?, ?, ?, ?, ?) on conflict do nothing'),
  readAlert: db.prepare('select id, fingerprint, time, incident_id from alerts where id = ?'),
  readFingerprint: db.prepare('select * from fingerprints where fingerprint = ?'),
  readKey: db.prepare('select * from incident_keys where key = ?'),
  readIncident: db.prepare('select id, status, first_seen, last_seen, alert_count, severity, host, user_name, updated_at from incidents where id = ?'),
  newIncident: db.prepare(`insert into incidents (id, title, status, first_seen, last_seen, alert_count, severity, host, created_at, updated_at, enrich_version)
    values (?, ?, 'new', ?, ?, 1, ?, ?, ?, ?, 0)`),
  updateIncident: db.prepare('update incidents set alert_count = alert_count + 1, last_seen = max(last_seen, ?), updated_at = ? where id = ?'),
  assign: db.prepare('update alerts set incident_id = ? where id = ?'),
  fingerprint: db.prepare(`insert into fingerprints (fingerprint, alert_id, incident_id, last_seen, count) values (?, ?, ?, ?, 1)
    on conflict (fingerprint) do update set alert_id = excluded.alert_id, incident_id = excluded.incident_id, last_seen = excluded.last_seen, count = fingerprints.count + 1`),
  key: db.prepare(`insert into incident_keys (key, incident_id, last_seen) values (?, ?, ?)
    on conflict (key) do update set incident_id = excluded.incident_id, last_seen = excluded.last_seen`),
  timeline: db.prepare("insert into timeline (incident_id, at, kind, summary, alert_id) values (?, ?, 'alert', ?, ?)"),
  decided: db.prepare('update alerts set decided_at = ? where id = ? and decided_at is null'),
};

type Item = (typeof prepared)[number];
const claim = (queueIds: number[], now: number) => {
  for (const q of queueIds) st.lease.run('floor', now + 60_000, q);
};
const stages: Record<string, (batch: Item[], queue: number[]) => number[]> = {
  intake(batch) {
    const now = Date.now();
    return batch.map((a) => {
      st.intake.run(a.id, 'bench', 'suricata', now, a.raw);
      return (st.enqueue.get('normalize', a.id, now, now) as { id: number }).id;
    });
  },
  normalize(batch, queue) {
    const now = Date.now();
    claim(queue, now);
    const next = batch.map((a) => {
      st.readIntake.get(a.id);
      const d = a.draft;
      st.alert.run(a.id, a.id, 'bench', 'suricata', d.vendor_id ?? null, a.fingerprint, a.time, now, d.title, d.severity, d.rule?.id ?? null,
        d.host?.name ?? d.host?.ip ?? null, d.user?.name ?? null, a.doc, a.raw);
      for (const o of d.observables) st.observable.run(a.id, o.type, o.value, o.role, a.time);
      return (st.enqueue.get('correlate', a.id, now, now) as { id: number }).id;
    });
    for (const q of queue) st.finish.run(q);
    return next;
  },
  correlate(batch, queue) {
    const now = Date.now();
    claim(queue, now);
    const next: number[] = [];
    for (const a of batch) {
      st.readAlert.get(a.id);
      st.readFingerprint.get(a.fingerprint);
      let incident: string | undefined;
      for (const k of a.keys) incident ??= (st.readKey.get(k) as { incident_id: string } | undefined)?.incident_id;
      if (incident && st.readIncident.get(incident)) st.updateIncident.run(a.time, now, incident);
      else {
        incident = ulid();
        st.newIncident.run(incident, a.draft.title, a.time, a.time, a.draft.severity, a.draft.host?.ip ?? null, now, now);
      }
      st.assign.run(incident, a.id);
      st.fingerprint.run(a.fingerprint, a.id, incident, a.time);
      for (const k of a.keys) st.key.run(k, incident, a.time);
      st.timeline.run(incident, a.time, a.draft.title, a.id);
      next.push((st.enqueue.get('enrich', incident, now, now) as { id: number }).id);
    }
    for (const q of queue) st.finish.run(q);
    return next;
  },
  decided(batch) {
    const now = Date.now();
    for (const a of batch) st.decided.run(now, a.id);
    return [];
  },
};

const ms: Record<string, number> = {};
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const c0 = cpuUs();
const w0 = performance.now();
for (let i = 0; i < N; i += BATCH) {
  const batch = prepared.slice(i, i + BATCH);
  let queue: number[] = [];
  for (const [name, run] of Object.entries(stages)) {
    // Only the intake's commit must reach the disk before its acknowledgement (as in Fido).
    db.pragma(`synchronous = ${name === 'intake' ? 'FULL' : 'NORMAL'}`);
    const s = performance.now();
    queue = db.transaction(() => run(batch, queue))();
    ms[name] = (ms[name] ?? 0) + performance.now() - s;
  }
}
const wall = performance.now() - w0;
const cpu = (cpuUs() - c0) / 1000;
db.close();
rmSync(dir, { recursive: true, force: true });

for (const [name, t] of Object.entries(ms)) console.log(`${name.padEnd(10)} ${((t / N) * 1000).toFixed(1).padStart(6)} µs/alert`);
console.log(
  `SQLite floor for intake → correlate → decided: ${Math.round(N / (wall / 1000))} alerts/s ` +
    `(${((wall / N) * 1000).toFixed(1)} µs per alert; CPU ${((cpu / N) * 1000).toFixed(1)} µs), ${N} alerts in batches of ${BATCH}`,
);
