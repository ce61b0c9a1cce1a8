/**
 * Migration 0004 (issue 12, item 6): a store created by the previous release upgrades in place.
 *
 * The test builds a store at the previous release's schema (migrations 0001–0003, commit d4fd70e) and
 * writes into it what that release's staged pipeline wrote — intake records; alerts with their own copy of
 * the raw text, observables, incident ids and decision stamps; incidents with score and decision documents;
 * decisions, outbox actions in several states, their attempts, timeline rows, enrichment, fingerprints and
 * grouping keys — plus work still in flight: a record queued for normalize (no alert yet), an alert queued
 * for correlate (not in an incident yet) and an incident queued for enrich. Then it opens the store as Fido
 * does (openStore runs the pending migration) and checks that every alert, incident, decision and action is
 * found as before, and that the new ingest derives the in-flight records once each and nothing else again.
 *
 * `PreviousRelease` replays the writes of d4fd70e's normalize, correlate, decide stages and the executor on
 * the real Suricata / Defender detectors, so the rows have exactly the old shape.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Generated, type Kysely } from 'kysely';
import { DIALECTS, newStorePlace, type StorePlace as Place } from '../support/stores.js';
import { dialectFor, openStore, type Store } from '../../src/store/store.js';
import { migrate } from '../../src/store/migrate.js';
import type { AlertTable, ContextEventTable, Database, IncidentTable, IntakeTable, QuarantineTable } from '../../src/store/schema.js';
import { recordFate } from '../../src/store/fates.js';
import { loadIncidentDetail } from '../../src/store/incidents.js';
import { INGEST_CURSOR, logBacklog, readCursor } from '../../src/store/log.js';
import { createIngest } from '../../src/pipeline/ingest/index.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { createNormalizer, loadDetectors } from '../../src/detectors/lib/registry.js';
import { alertFingerprint } from '../../src/correlate/fingerprint.js';
import { groupKeys } from '../../src/correlate/keys.js';
import { severityLabel, type Alert } from '../../src/model/alert.js';
import type { Score } from '../../src/model/score.js';
import { ulid } from '../../src/util/ulid.js';
import { iso } from '../../src/util/time.js';
import { log } from '../../src/util/log.js';

const PREVIOUS_RELEASE = '0003_enrichment_revision';
const T0 = Date.parse('2026-11-27T10:00:00Z');
const SEC = 1000;
const MIN = 60 * SEC;
const WINDOWS = { dedupWindowMs: 10 * MIN, groupWindowMs: 60 * MIN };
const CONFIG_VERSION = 'cfg-3f9a1c';

// ---- the previous release's schema and writes -----------------------------------------------------------

/** The tables as d4fd70e's schema.ts declared them (the ones migration 0004 changes, without its columns). */
interface OldDatabase
  extends Omit<Database, 'intake' | 'alerts' | 'context_events' | 'quarantine' | 'incidents' | 'decision_marks' | 'pipeline_cursors' | 'incident_observables'> {
  intake: Omit<IntakeTable, 'seq' | 'raw_base64' | 'dedup_key'>;
  observables: { alert_id: string; type: string; value: string; role: string; time: number };
  alerts: Omit<AlertTable, 'seq' | 'duplicate_of'>;
  context_events: Omit<ContextEventTable, 'intake_id'>;
  quarantine: Omit<QuarantineTable, 'replayed_as'>;
  /** enrich_version: dropped by migration 0013 (nothing read it once the enrich stage's copies were removed). */
  incidents: Omit<IncidentTable, 'last_seq' | 'decided_seq' | 'pending_since'> & { enrich_version: Generated<number> };
  /** Dropped by migration 0009 (the dedup state is kept in memory since). */
  fingerprints: { fingerprint: string; alert_id: string; incident_id: string | null; last_seen: number; count: number };
  /** Dropped by migration 0011 (the grouping keys are kept in memory and logged since). */
  incident_keys: { key: string; incident_id: string; last_seen: number };
}

type Normalizer = ReturnType<typeof createNormalizer>;
type OldRecord = OldDatabase['intake'];
interface Stored {
  alert: Alert;
  fingerprint: string;
  record: OldRecord;
}
interface OldAction {
  kind: string;
  target: string;
  params: Record<string, unknown>;
  approval: 'auto' | 'required';
}

/** Replays what d4fd70e's intake writer, stages and executor wrote, one step at a time. */
class PreviousRelease {
  constructor(
    readonly db: Kysely<OldDatabase>,
    readonly normalizer: Normalizer,
  ) {}

  /** intake/writer.ts: the record and its hand-off to normalize, in one commit. */
  async accept(source: string, raw: string, receivedAt: number): Promise<OldRecord> {
    const record: OldRecord = { id: ulid(receivedAt), source, detector: null, received_at: receivedAt, raw };
    await this.db.insertInto('intake').values(record).execute();
    await this.enqueue('normalize', record.id, receivedAt);
    return record;
  }

  /** stages/normalize.ts (compute + write): alerts with a copy of the raw text, or context, or quarantine. */
  async normalize(record: OldRecord, at: number): Promise<Stored[]> {
    const r = this.normalizer.normalize(record.raw, record.detector, { receivedAt: new Date(record.received_at) });
    await this.dequeue('normalize', record.id);
    if ('error' in r) {
      await this.db
        .insertInto('quarantine')
        .values({ id: record.id, intake_id: record.id, source: record.source, detector: r.detector ?? record.detector, reason: r.error.slice(0, 2000), raw: record.raw, created_at: at, replayed_at: null })
        .execute();
      return [];
    }
    if ('context' in r) {
      for (const [i, event] of r.context.entries()) {
        await this.db
          .insertInto('context_events')
          .values({ id: i === 0 ? record.id : ulid(), source: record.source, detector: r.detector, kind: event.kind, time: Date.parse(event.time) || at, doc: JSON.stringify(event), raw: record.raw })
          .execute();
      }
      return [];
    }
    const stored: Stored[] = [];
    for (const [i, draft] of r.alerts.entries()) {
      const alert: Alert = {
        ...draft,
        id: i === 0 ? record.id : ulid(record.received_at),
        source: record.source,
        detector: r.detector,
        received_at: iso(record.received_at),
        severity_label: draft.severity_label ?? severityLabel(draft.severity),
        raw: record.raw,
      };
      const fingerprint = alertFingerprint(record.source, r.detector, draft);
      // A re-delivered alert (same source, detector and vendor id) is stored once.
      const fresh = await this.db
        .insertInto('alerts')
        .values(oldAlertRow(alert, fingerprint, record.id))
        .onConflict((oc) => oc.columns(['source', 'detector', 'vendor_id']).doNothing())
        .returning('id')
        .execute();
      if (fresh.length === 0) continue;
      if (alert.observables.length) {
        await this.db
          .insertInto('observables')
          .values(alert.observables.map((o) => ({ alert_id: alert.id, type: o.type, value: o.value, role: o.role, time: Date.parse(alert.time) })))
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      await this.enqueue('correlate', alert.id, at);
      stored.push({ alert, fingerprint, record });
    }
    return stored;
  }

  /**
   * stages/correlate.ts for one alert: a repeat of `repeatOf` (done here: decided_at is stamped), or a new
   * alert of `incident`, or of a new incident. Returns the incident id.
   */
  async correlate(s: Stored, at: number, into: { incident?: string; repeatOf?: Stored } = {}): Promise<string> {
    const { alert } = s;
    const time = Date.parse(alert.time);
    await this.dequeue('correlate', alert.id);
    if (into.repeatOf) {
      const original = into.repeatOf;
      const fp = await this.db.selectFrom('fingerprints').selectAll().where('fingerprint', '=', s.fingerprint).executeTakeFirstOrThrow();
      assert.equal(fp.alert_id, original.alert.id, 'test setup: the repeat has its original fingerprint');
      const count = Number(fp.count) + 1;
      await this.db.updateTable('fingerprints').set({ count, last_seen: Math.max(Number(fp.last_seen), time) }).where('fingerprint', '=', s.fingerprint).execute();
      await this.db.updateTable('alerts').set({ repeat_count: count, last_repeat_at: time }).where('id', '=', original.alert.id).execute();
      await this.db.updateTable('alerts').set({ incident_id: fp.incident_id, decided_at: at }).where('id', '=', alert.id).execute();
      await this.touchIncident(fp.incident_id!, time, at);
      await this.timeline(fp.incident_id!, time, 'repeat', `repeat #${count}: ${alert.title}`, { alert_id: alert.id });
      return fp.incident_id!;
    }
    let incident = into.incident;
    if (incident === undefined) {
      incident = ulid(at);
      await this.db
        .insertInto('incidents')
        .values({
          id: incident,
          title: alert.title.slice(0, 500),
          status: 'new',
          verdict: null,
          first_seen: time,
          last_seen: time,
          alert_count: 1,
          severity: alert.severity,
          host: alert.host?.name?.toLowerCase() ?? alert.host?.ip ?? (alert.user?.name ? null : alert.src?.ip ?? null),
          user_name: alert.user?.name?.toLowerCase() ?? null,
          score_total: null,
          score: null,
          decision: null,
          created_at: at,
          updated_at: at,
          enrich_version: 0,
        })
        .execute();
    } else {
      const inc = await this.db.selectFrom('incidents').select(['alert_count', 'severity']).where('id', '=', incident).executeTakeFirstOrThrow();
      await this.db
        .updateTable('incidents')
        .set({ alert_count: Number(inc.alert_count) + 1, severity: Math.max(Number(inc.severity), alert.severity) })
        .where('id', '=', incident)
        .execute();
      await this.touchIncident(incident, time, at);
    }
    for (const key of groupKeys(alert)) {
      await this.db
        .insertInto('incident_keys')
        .values({ key, incident_id: incident, last_seen: time })
        .onConflict((oc) => oc.column('key').doUpdateSet({ incident_id: incident, last_seen: time }))
        .execute();
    }
    await this.db
      .insertInto('fingerprints')
      .values({ fingerprint: s.fingerprint, alert_id: alert.id, incident_id: incident, last_seen: time, count: 1 })
      .onConflict((oc) => oc.column('fingerprint').doUpdateSet({ alert_id: alert.id, incident_id: incident, last_seen: time, count: 1 }))
      .execute();
    await this.db.updateTable('alerts').set({ incident_id: incident }).where('id', '=', alert.id).execute();
    await this.timeline(incident, time, 'alert', `${alert.detector}: ${alert.title}`, { alert_id: alert.id });
    await this.enqueue('enrich', incident, at);
    return incident;
  }

  /** stages/enrich.ts: an answer stored, the incident's enrichment version bumped; hands over to score. */
  async enrich(incident: string, at: number, provider: string, subject: { type: string; value: string }, data: Record<string, unknown>): Promise<void> {
    await this.dequeue('enrich', incident);
    await this.db
      .insertInto('enrichments')
      .values({ incident_id: incident, provider, subject_type: subject.type, subject_value: subject.value, found: 1, data: JSON.stringify(data), error: null, fetched_at: at, revision: 'sha256:8c1f0e' })
      .onConflict((oc) => oc.columns(['incident_id', 'provider', 'subject_type', 'subject_value']).doUpdateSet({ data: JSON.stringify(data), fetched_at: at }))
      .execute();
    await this.db.updateTable('incidents').set((eb) => ({ enrich_version: eb('enrich_version', '+', 1) })).where('id', '=', incident).execute();
    await this.timeline(incident, at, 'enriched', `${provider}: ${subject.type} ${subject.value} found`);
    await this.enqueue('score', incident, at);
  }

  /** stages/score.ts: every version in `scores`, the current one on the incident; hands over to decide. */
  async score(incident: string, at: number, score: Score): Promise<void> {
    await this.dequeue('score', incident);
    const doc = JSON.stringify(score);
    await this.db.insertInto('scores').values({ incident_id: incident, profile: score.profile, total: score.total, doc, config_version: CONFIG_VERSION, created_at: at }).execute();
    await this.db.updateTable('incidents').set({ score: doc, score_total: score.total, updated_at: at }).where('id', '=', incident).execute();
    await this.timeline(incident, at, 'scored', `score ${score.total} (${score.profile})`);
    await this.enqueue('decide', incident, at);
  }

  /**
   * stages/decide.ts: the decision, its outbox rows (once ever per idempotency key), the timeline note, and
   * decided_at stamped on the incident's alerts not stamped yet. Returns the decision id and the new actions.
   */
  async decide(incident: string, at: number, rule: string, outcome: string, actions: OldAction[], summary: string): Promise<{ decision: number; actions: Map<string, string> }> {
    await this.dequeue('decide', incident);
    const doc = JSON.stringify({
      rule,
      outcome,
      actions: actions.map((a) => ({ ...a, rule, dry_run: false })),
      dry_run: false,
      config_version: CONFIG_VERSION,
      matched: [rule],
      errors: [],
      blocked: [],
      decided_at: iso(at),
    });
    const row = await this.db
      .insertInto('decisions')
      .values({ incident_id: incident, rule, outcome, doc, dry_run: 0, config_version: CONFIG_VERSION, created_at: at })
      .returning('id')
      .executeTakeFirstOrThrow();
    const decision = Number(row.id);
    await this.db.updateTable('incidents').set({ decision: doc, updated_at: at }).where('id', '=', incident).execute();
    const queued = new Map<string, string>();
    for (const a of actions) {
      const id = ulid(at);
      const inserted = await this.db
        .insertInto('actions')
        .values({
          id,
          incident_id: incident,
          decision_id: decision,
          kind: a.kind,
          target: a.target,
          idempotency_key: `${incident}:${a.kind}:${a.target}`,
          params: JSON.stringify(a.params),
          state: a.approval === 'required' ? 'awaiting_approval' : 'pending',
          approval: a.approval,
          dry_run: 0,
          attempts: 0,
          next_attempt_at: at,
          lease_owner: null,
          lease_until: null,
          last_error: null,
          result: null,
          approved_by: null,
          created_at: at,
          updated_at: at,
        })
        .onConflict((oc) => oc.column('idempotency_key').doNothing())
        .returning('id')
        .execute();
      if (inserted.length) queued.set(a.target, id);
    }
    await this.timeline(incident, at, 'decided', summary);
    await this.db.updateTable('alerts').set({ decided_at: at }).where('incident_id', '=', incident).where('decided_at', 'is', null).execute();
    return { decision, actions: queued };
  }

  /** actions/executor.ts: one attempt of an action, its outcome on the row and on the timeline. */
  async attempt(actionId: string, started: number, finished: number | null, outcome: { state: string; error?: string; result?: unknown; leaseOwner?: string; retryAt?: number }): Promise<void> {
    const row = await this.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    const attempt = Number(row.attempts) + 1;
    await this.db
      .insertInto('action_attempts')
      .values({ action_id: actionId, attempt, started_at: started, finished_at: finished, outcome: finished === null ? null : outcome.state, error: outcome.error ?? null })
      .execute();
    await this.db
      .updateTable('actions')
      .set({
        state: outcome.state,
        attempts: attempt,
        last_error: outcome.error ?? null,
        result: outcome.result === undefined ? null : JSON.stringify(outcome.result),
        lease_owner: outcome.leaseOwner ?? null,
        lease_until: outcome.leaseOwner ? started + 30 * SEC : null,
        next_attempt_at: outcome.retryAt ?? row.next_attempt_at,
        updated_at: finished ?? started,
      })
      .where('id', '=', actionId)
      .execute();
    if (finished !== null) {
      const what = outcome.state === 'succeeded' ? `succeeded (attempt ${attempt})` : `failed (attempt ${attempt}): ${outcome.error}`;
      await this.timeline(row.incident_id, finished, 'action', `${row.kind} → ${row.target} ${what}`, { action_id: actionId });
    }
  }

  async timeline(incident: string, at: number, kind: string, summary: string, ids: { alert_id?: string; action_id?: string } = {}): Promise<void> {
    await this.db.insertInto('timeline').values({ incident_id: incident, at, kind, summary, alert_id: ids.alert_id ?? null, action_id: ids.action_id ?? null }).execute();
  }

  private async touchIncident(incident: string, time: number, at: number): Promise<void> {
    const inc = await this.db.selectFrom('incidents').select(['first_seen', 'last_seen']).where('id', '=', incident).executeTakeFirstOrThrow();
    await this.db
      .updateTable('incidents')
      .set({ first_seen: Math.min(Number(inc.first_seen), time), last_seen: Math.max(Number(inc.last_seen), time), updated_at: at })
      .where('id', '=', incident)
      .execute();
  }

  private async enqueue(stage: string, item: string, at: number): Promise<void> {
    await this.db
      .insertInto('stage_queue')
      .values({ stage, item_id: item, version: 1, available_at: at, lease_owner: null, lease_until: null, attempts: 0, last_error: null, created_at: at })
      .onConflict((oc) => oc.columns(['stage', 'item_id']).doUpdateSet((eb) => ({ version: eb('stage_queue.version', '+', 1), available_at: at })))
      .execute();
  }

  private async dequeue(stage: string, item: string): Promise<void> {
    await this.db.deleteFrom('stage_queue').where('stage', '=', stage).where('item_id', '=', item).execute();
  }
}

/** normalize.ts alertRow() of d4fd70e: the raw text is copied into the alert. */
function oldAlertRow(alert: Alert, fingerprint: string, intakeId: string): OldDatabase['alerts'] {
  const { raw, ...doc } = alert;
  return {
    id: alert.id,
    intake_id: intakeId,
    source: alert.source,
    detector: alert.detector,
    vendor_id: alert.vendor_id ?? null,
    fingerprint,
    time: Date.parse(alert.time),
    received_at: Date.parse(alert.received_at),
    title: alert.title,
    severity: alert.severity,
    rule_id: alert.rule?.id ?? null,
    host: alert.host?.name?.toLowerCase() ?? alert.host?.ip ?? null,
    user_name: alert.user?.name?.toLowerCase() ?? null,
    incident_id: null,
    repeat_count: 1,
    last_repeat_at: null,
    decided_at: null,
    doc: JSON.stringify(doc),
    raw,
  };
}

// ---- records ----------------------------------------------------------------------------------------------

const SURICATA = 'suricata-dmz';

/** A Suricata EVE alert line as Suricata 7 writes it. */
function eveAlert(o: { at: number; flow: number; src: string; srcPort: number; dst: string; sid: number; signature: string; category?: string; severity?: number }): string {
  return JSON.stringify({
    timestamp: eveTime(o.at),
    flow_id: 1_418_000_000_000_000 + o.flow,
    in_iface: 'eth1',
    event_type: 'alert',
    src_ip: o.src,
    src_port: o.srcPort,
    dest_ip: o.dst,
    dest_port: 443,
    proto: 'TCP',
    app_proto: 'tls',
    alert: { action: 'allowed', gid: 1, signature_id: o.sid, rev: 4, signature: o.signature, category: o.category ?? 'A Network Trojan was detected', severity: o.severity ?? 1 },
    tls: { sni: 'cdn.update-check.example', version: 'TLS 1.2' },
    flow: { pkts_toserver: 4, pkts_toclient: 3, bytes_toserver: 517, bytes_toclient: 1420, start: eveTime(o.at - 2 * SEC) },
  });
}

function eveFlow(at: number, flow: number, src: string, dst: string): string {
  return JSON.stringify({
    timestamp: eveTime(at),
    flow_id: 1_418_000_000_000_000 + flow,
    in_iface: 'eth1',
    event_type: 'flow',
    src_ip: src,
    src_port: 51544,
    dest_ip: dst,
    dest_port: 443,
    proto: 'TCP',
    app_proto: 'tls',
    flow: { pkts_toserver: 12, pkts_toclient: 10, bytes_toserver: 1873, bytes_toclient: 6094, start: eveTime(at - 40 * SEC), end: eveTime(at), age: 40, state: 'closed', reason: 'timeout', alerted: true },
  });
}

/** 2026-11-27T10:00:00.000000+0000, as EVE writes its timestamps. */
const eveTime = (at: number) => new Date(T0 + at).toISOString().replace('Z', '000+0000');

// ---- where the store lives --------------------------------------------------------------------------------

/** The store at the previous release's schema, written by `fill`, then closed. */
async function previousReleaseStore<T>(place: Place, fill: (old: PreviousRelease) => Promise<T>): Promise<T> {
  const dialect = dialectFor({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
  await dialect.prepare?.();
  const db = dialect.connect();
  try {
    await migrate(db, dialect.name, { upTo: PREVIOUS_RELEASE });
    const applied = await sql<{ name: string }>`select name from fido_migrations order by name`.execute(db);
    assert.deepEqual(applied.rows.map((r) => r.name), ['0001_initial', '0002_wakeups_and_decision_latency', '0003_enrichment_revision']);
    return await fill(new PreviousRelease(db as unknown as Kysely<OldDatabase>, createNormalizer(await loadDetectors())));
  } finally {
    await db.destroy();
  }
}

/** Opens the store as Fido does: openStore applies the pending migrations. */
const upgrade = (place: Place): Promise<Store> => openStore({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });

/** Rows of a table in a stable order, with numbers as numbers (PostgreSQL gives bigint columns as numbers too). */
async function rowsOf<DB>(db: Kysely<DB>, table: string, order: string): Promise<Array<Record<string, unknown>>> {
  const r = await sql<Record<string, unknown>>`select * from ${sql.table(table)} order by ${sql.raw(order)}`.execute(db);
  return r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

/** Whether the upgrade placed the re-delivered record after the cursor (to be derived again as a duplicate). */
async function pendingRedelivery(db: Store['db'], id: string): Promise<boolean> {
  const row = await db.selectFrom('intake').select('seq').where('id', '=', id).executeTakeFirstOrThrow();
  return Number(row.seq) > (await readCursor(db, INGEST_CURSOR));
}

/** Each row without the columns migration 0004 added. */
const without = (rows: Array<Record<string, unknown>>, ...columns: string[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !columns.includes(k))));

// ---- the scenario -----------------------------------------------------------------------------------------

interface Scenario {
  r: Record<'beacon' | 'cobalt' | 'beaconAgain' | 'redelivered' | 'flow' | 'truncated' | 'exfil' | 'exfilAgain' | 'queuedForCorrelate' | 'queuedForNormalize', OldRecord>;
  /** Incident 1: decided twice, actions run. Incident 2: its alert not decided yet, queued for enrich. */
  inc1: string;
  inc2: string;
  decisions: number[];
  actions: Record<'email' | 'webhook' | 'block' | 'ticket', string>;
  times: { D1: number; D2: number; C3: number; C8: number };
  /** Rows of the tables the upgrade must leave as they were, read just before it. */
  before: Record<string, Array<Record<string, unknown>>>;
}

const HOST_A = '10.1.0.5';
const HOST_B = '10.1.4.23';
const C2 = '203.0.113.7';
const EXFIL = '198.51.100.23';

async function writeScenario(old: PreviousRelease): Promise<Scenario> {
  const rec = (at: number, raw: string) => old.accept(SURICATA, raw, T0 + at + 2 * SEC);
  const beacon = eveAlert({ at: 0, flow: 1, src: HOST_A, srcPort: 49_712, dst: C2, sid: 2_024_217, signature: 'ET MALWARE Win32/Beacon CnC Checkin' });
  const r = {} as Scenario['r'];

  // Host A beacons to the C2: incident 1, decided (notify), e-mail sent.
  r.beacon = await rec(0, beacon);
  const [a1] = await old.normalize(r.beacon, T0 + 3 * SEC);
  const inc1 = await old.correlate(a1!, T0 + 4 * SEC);
  await old.enrich(inc1, T0 + 6 * SEC, 'threat-intel-file', { type: 'ip', value: C2 }, { list: 'c2-feed', family: 'Cobalt Strike', confidence: 90 });
  await old.score(inc1, T0 + 7 * SEC, score(60));
  const D1 = T0 + 8 * SEC;
  const first = await old.decide(inc1, D1, 'high-severity', 'notify', [{ kind: 'email', target: 'soc-mail', params: { to: 'soc@corp.example' }, approval: 'auto' }], 'rule "high-severity" → notify; queued email → soc-mail');
  const email = first.actions.get('soc-mail')!;
  await old.attempt(email, D1 + SEC, D1 + 2 * SEC, { state: 'succeeded', result: { message_id: '<f1d0@mail.corp.example>' } });

  // A second rule on host A to the same C2 joins incident 1 (host + indicator); decided again (respond).
  r.cobalt = await rec(1 * MIN, eveAlert({ at: 1 * MIN, flow: 2, src: HOST_A, srcPort: 49_730, dst: C2, sid: 2_033_966, signature: 'ET MALWARE Cobalt Strike Beacon Observed' }));
  const [a2] = await old.normalize(r.cobalt, T0 + MIN + 3 * SEC);
  await old.correlate(a2!, T0 + MIN + 4 * SEC, { incident: inc1 });
  await old.enrich(inc1, T0 + MIN + 6 * SEC, 'threat-intel-file', { type: 'ip', value: C2 }, { list: 'c2-feed', family: 'Cobalt Strike', confidence: 95 });
  await old.score(inc1, T0 + MIN + 7 * SEC, score(85));
  const D2 = T0 + MIN + 8 * SEC;
  const second = await old.decide(
    inc1,
    D2,
    'c2-beacon',
    'respond',
    [
      { kind: 'email', target: 'soc-mail', params: { to: 'soc@corp.example' }, approval: 'auto' },
      { kind: 'webhook', target: 'soar-webhook', params: { playbook: 'contain-host' }, approval: 'auto' },
      { kind: 'firewall', target: 'edge-fw', params: { block: C2, __approval: { timeout_at: iso(D2 + 30 * MIN), default: 'deny' } }, approval: 'required' },
      { kind: 'ticket', target: 'jira-sec', params: { project: 'SEC' }, approval: 'auto' },
    ],
    'rule "c2-beacon" → respond; queued webhook → soar-webhook, firewall → edge-fw (awaiting approval), ticket → jira-sec; 1 action already queued earlier',
  );
  const webhook = second.actions.get('soar-webhook')!;
  const block = second.actions.get('edge-fw')!;
  const ticket = second.actions.get('jira-sec')!;
  await old.attempt(webhook, D2 + SEC, D2 + 3 * SEC, { state: 'failed', error: 'HTTP 503 from https://soar.corp.example/hooks/fido', retryAt: D2 + 33 * SEC });
  await old.attempt(ticket, D2 + 2 * SEC, null, { state: 'running', leaseOwner: 'fido-7f3a:executor' });

  // The beacon again 3 minutes later: a repeat (decided_at stamped by correlate), no new work.
  r.beaconAgain = await rec(3 * MIN, eveAlert({ at: 3 * MIN, flow: 3, src: HOST_A, srcPort: 49_788, dst: C2, sid: 2_024_217, signature: 'ET MALWARE Win32/Beacon CnC Checkin' }));
  const [a3] = await old.normalize(r.beaconAgain, T0 + 3 * MIN + 3 * SEC);
  const C3 = T0 + 3 * MIN + 4 * SEC;
  await old.correlate(a3!, C3, { repeatOf: a1! });

  // The first line delivered again (a receiver re-read its file): the alert is stored once, no row for it.
  r.redelivered = await rec(3 * MIN + 30 * SEC, beacon);
  assert.deepEqual(await old.normalize(r.redelivered, T0 + 3 * MIN + 33 * SEC), [], 'test setup: the re-delivery stores nothing');

  // A flow record (context) and a truncated line (quarantined).
  r.flow = await rec(4 * MIN, eveFlow(4 * MIN, 1, HOST_A, C2));
  await old.normalize(r.flow, T0 + 4 * MIN + 3 * SEC);
  r.truncated = await rec(4 * MIN + 10 * SEC, `{"timestamp":"${eveTime(4 * MIN + 10 * SEC)}","flow_id":1418000000000009,"in_iface":"eth1","event_type":"alert","src_ip":"10.1.0.`);
  await old.normalize(r.truncated, T0 + 4 * MIN + 13 * SEC);

  // Host B to another address: incident 2, and its repeat; incident 2 still queued for enrich.
  r.exfil = await rec(5 * MIN, eveAlert({ at: 5 * MIN, flow: 5, src: HOST_B, srcPort: 50_101, dst: EXFIL, sid: 2_019_284, signature: 'ET POLICY Possible Data Exfiltration over TLS', category: 'Potential Corporate Privacy Violation', severity: 2 }));
  const [a7] = await old.normalize(r.exfil, T0 + 5 * MIN + 3 * SEC);
  const inc2 = await old.correlate(a7!, T0 + 5 * MIN + 4 * SEC);
  r.exfilAgain = await rec(6 * MIN, eveAlert({ at: 6 * MIN, flow: 6, src: HOST_B, srcPort: 50_177, dst: EXFIL, sid: 2_019_284, signature: 'ET POLICY Possible Data Exfiltration over TLS', category: 'Potential Corporate Privacy Violation', severity: 2 }));
  const [a8] = await old.normalize(r.exfilAgain, T0 + 6 * MIN + 3 * SEC);
  const C8 = T0 + 6 * MIN + 4 * SEC;
  await old.correlate(a8!, C8, { repeatOf: a7! });

  // In flight: an alert normalized but not correlated yet, and a record not normalized yet.
  r.queuedForCorrelate = await rec(8 * MIN, eveAlert({ at: 8 * MIN, flow: 10, src: HOST_B, srcPort: 50_230, dst: EXFIL, sid: 2_018_959, signature: 'ET POLICY HTTP POST to External Paste Site', category: 'Potential Corporate Privacy Violation', severity: 2 }));
  await old.normalize(r.queuedForCorrelate, T0 + 8 * MIN + 3 * SEC);
  r.queuedForNormalize = await rec(9 * MIN, eveAlert({ at: 9 * MIN, flow: 11, src: HOST_A, srcPort: 49_901, dst: C2, sid: 2_025_431, signature: 'ET MALWARE Cobalt Strike Malleable C2 Request' }));

  // A person triaged incident 1 meanwhile.
  await old.db.updateTable('incidents').set({ status: 'triaged', updated_at: T0 + 7 * MIN }).where('id', '=', inc1).execute();
  await old.timeline(inc1, T0 + 7 * MIN, 'status', 'status new → triaged by alice');

  // The hand-offs as the previous release left them.
  const queue = await old.db.selectFrom('stage_queue').select(['stage', 'item_id']).orderBy('stage').execute();
  assert.deepEqual(queue, [
    { stage: 'correlate', item_id: r.queuedForCorrelate.id },
    { stage: 'enrich', item_id: inc2 },
    { stage: 'normalize', item_id: r.queuedForNormalize.id },
  ]);

  const db = old.db as unknown as Kysely<unknown>;
  const before: Scenario['before'] = {};
  for (const [table, order] of Object.entries(UNCHANGED)) before[table] = await rowsOf(db, table, order);
  before.actions = await rowsOf(db, 'actions', 'id');
  before.enrichments = await rowsOf(db, 'enrichments', ENRICHMENT_ORDER);
  before.incident_keys = await rowsOf(db, 'incident_keys', 'key');
  before.alerts = await rowsOf(db, 'alerts', 'id');
  before.incidents = await rowsOf(db, 'incidents', 'id');
  before.context_events = await rowsOf(db, 'context_events', 'id');
  before.quarantine = await rowsOf(db, 'quarantine', 'id');
  before.intake = await rowsOf(db, 'intake', 'id');
  before.timeline = await rowsOf(db, 'timeline', 'id');
  return {
    r,
    inc1,
    inc2,
    decisions: [first.decision, second.decision],
    actions: { email, webhook, block, ticket },
    times: { D1, D2, C3, C8 },
    before,
  };
}

/** Tables migration 0004 does not touch (nor later ones), and the order to compare them in. */
const UNCHANGED: Record<string, string> = {
  decisions: 'id',
  action_attempts: 'id',
  scores: 'id',
};

const ENRICHMENT_ORDER = 'incident_id, provider, subject_type, subject_value';

/**
 * An action row of the previous release as migrations 0014 (approval columns), 0016 (undo, none yet) and 0018
 * (follow-ups, guards: none yet) leave it.
 */
function withApprovalColumns(row: Record<string, unknown>): Record<string, unknown> {
  const { __approval: approval, ...params } = JSON.parse(String(row.params)) as { __approval?: { timeout_at: string; default: string } };
  const denied = row.state === 'denied';
  return {
    ...row,
    params: JSON.stringify(params),
    last_error: denied ? null : row.last_error,
    approval_due_at: approval ? Date.parse(approval.timeout_at) : null,
    approval_default: approval ? approval.default : null,
    denied_by: null,
    denial_reason: denied ? row.last_error : null,
    undo_of: null,
    undo_after_ms: null,
    expires_at: null,
    follow_of: null,
    follow_event: null,
    follow_state: null,
    held_by: null,
    rule: null,
  };
}

function score(total: number): Score {
  return {
    profile: 'default',
    total,
    components: { threat: Math.min(100, total + 10), asset: 50 },
    explanation: [
      { factor: 'threat-intel', points: total - 20, evidence: `${C2} on c2-feed` },
      { factor: 'asset', points: 20, evidence: `${HOST_A}: workstation` },
    ],
  };
}

// ---- the test ---------------------------------------------------------------------------------------------

for (const dialect of DIALECTS) {
  test(`migration 0004 on ${dialect}: a store of the previous release upgrades in place`, async (t: TestContext) => {
    const place = newStorePlace(dialect);
    let store: Store | undefined;
    try {
      const s = await previousReleaseStore(place, writeScenario);
      const { r, inc1, inc2 } = s;
      store = await upgrade(place);
      const db = store.db;
      const applied = await sql<{ name: string }>`select name from fido_migrations order by name`.execute(db);
      // This one and every later migration (0005 folds the stored alerts into incident digests).
      for (const name of ['0004_log_structured_pipeline', '0005_incident_digest', '0006_intake_raw_bytes']) {
        assert.ok(applied.rows.some((m) => m.name === name), name);
      }

      await t.test("migration 0005: each incident's digest covers every alert stored before, repeats left out", async () => {
        const d = await loadIncidentDetail(db, inc1);
        assert.ok(d?.digest);
        assert.deepEqual(d.digest.recent, [r.beacon.id, r.cobalt.id], 'in arrival order');
        assert.deepEqual(d.digest.rules.map((x) => [x.alert, x.alerts]).sort(), [[r.beacon.id, 1], [r.cobalt.id, 1]].sort());
        assert.deepEqual(d.digest.detectors, ['suricata']);
      });

      await t.test('every alert stored before is found, with its raw text, incident and decision time', async () => {
        for (const [record, incident, decidedAt] of [[r.beacon, inc1, s.times.D1], [r.cobalt, inc1, s.times.D2]] as const) {
          const f = await recordFate(db, record.id);
          assert.ok(f?.fate === 'alert', `${record.id}: ${JSON.stringify(f)}`);
          assert.equal(f.alert.id, record.id);
          assert.equal(f.alert.raw, record.raw, 'the raw text the alert kept');
          assert.equal(f.alert.incident_id, incident);
          assert.equal(f.decided_at, iso(decidedAt));
        }
        // Repeats (dedup by fingerprint) are found too; whether as alerts or duplicates: see below.
        for (const [record, incident] of [[r.beaconAgain, inc1], [r.exfilAgain, inc2]] as const) {
          const f = await recordFate(db, record.id);
          assert.ok(f && 'alert' in f && f.alert.id === record.id && f.alert.raw === record.raw && f.alert.incident_id === incident, JSON.stringify(f));
        }
        // The old rows themselves are unchanged (but the one queued for correlate, which is derived again).
        const after = without(await rowsOf(db, 'alerts', 'id'), 'seq', 'duplicate_of');
        assert.deepEqual(after, s.before.alerts!.filter((a) => a.id !== r.queuedForCorrelate.id));
      });

      await t.test('an alert whose incident was not decided yet is not reported decided', async () => {
        // exfil's incident is queued for enrich: no decision has seen it. Its repeat (exfilAgain, later in the
        // log) was stamped decided_at by correlate when it was counted — that is not a decision of the incident.
        const f = await recordFate(db, r.exfil.id);
        assert.ok(f?.fate === 'alert' && f.alert.raw === r.exfil.raw && f.alert.incident_id === inc2, JSON.stringify(f));
        assert.equal(f.decided_at, null, 'no decision of incident 2 has seen this alert');
        const inc = await db.selectFrom('incidents').select(['decided_seq', 'pending_since']).where('id', '=', inc2).executeTakeFirstOrThrow();
        assert.equal(Number(inc.decided_seq), 0);
        assert.equal(Number(inc.pending_since), r.exfil.received_at);
      });

      await t.test('records that made no alert answer their fate: context, quarantine, and a re-delivery', async () => {
        const flow = await recordFate(db, r.flow.id);
        assert.ok(flow?.fate === 'context' && flow.kind === 'flow' && flow.raw === r.flow.raw, JSON.stringify(flow));
        const bad = await recordFate(db, r.truncated.id);
        assert.ok(bad?.fate === 'quarantined' && bad.raw === r.truncated.raw && /JSON/.test(bad.reason), JSON.stringify(bad));
        // The previous release stored a re-delivered alert once and the record nothing; the new one calls the
        // record a duplicate of the alert. Either way its id must answer (recordFate throws when a record at or
        // below the cursor has no fate).
        // (Or the migration places it after the cursor, pending, and ingest makes it a duplicate: see below.)
        const again = await recordFate(db, r.redelivered.id).catch((e: Error) => ({ error: e.message }));
        assert.ok(again && 'fate' in again && ((again.fate === 'duplicate' && again.duplicate_of === r.beacon.id) || again.fate === 'pending'), JSON.stringify(again));
      });

      await t.test('repeats stored before read as duplicates of their original', async () => {
        for (const [repeat, original, count] of [[r.beaconAgain, r.beacon, 2], [r.exfilAgain, r.exfil, 2]] as const) {
          const f = await recordFate(db, repeat.id);
          assert.ok(f?.fate === 'duplicate' && f.duplicate_of === original.id && f.repeat_count === count && f.alert.raw === repeat.raw, JSON.stringify(f));
        }
      });

      await t.test('the incident loads with its alerts, enrichment, decisions, actions and timeline', async () => {
        const d = await loadIncidentDetail(db, inc1);
        assert.ok(d);
        assert.equal(d.status, 'triaged');
        assert.equal(d.alert_count, 2);
        assert.equal(d.host, HOST_A);
        assert.deepEqual(d.alerts.map((a) => [a.id, a.raw]), [r.beacon, r.cobalt, r.beaconAgain].map((x) => [x.id, x.raw]));
        assert.equal(d.score?.total, 85);
        assert.equal(d.decision?.rule, 'c2-beacon');
        assert.deepEqual(d.decisions.map((x) => [x.rule, x.outcome, x.decided_at]), [
          ['high-severity', 'notify', iso(s.times.D1)],
          ['c2-beacon', 'respond', iso(s.times.D2)],
        ]);
        assert.deepEqual(d.enrichment.map((e) => [e.provider, e.subject.value, 'data' in e ? e.data.confidence : e.error]), [['threat-intel-file', C2, 95]]);
        const a = s.actions;
        assert.deepEqual(
          d.actions.map((x) => [x.id, x.state, x.idempotency_key, x.attempts, x.last_error]),
          [
            [a.email, 'succeeded', `${inc1}:email:soc-mail`, 1, null],
            [a.webhook, 'failed', `${inc1}:webhook:soar-webhook`, 1, 'HTTP 503 from https://soar.corp.example/hooks/fido'],
            [a.block, 'awaiting_approval', `${inc1}:firewall:edge-fw`, 0, null],
            [a.ticket, 'running', `${inc1}:ticket:jira-sec`, 1, null],
          ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
        );
        const notes = d.timeline.filter((e) => e.kind !== 'alert' && e.kind !== 'repeat').map((e) => [e.kind, e.at]);
        assert.deepEqual(notes, [
          ['enriched', iso(T0 + 6 * SEC)],
          ['scored', iso(T0 + 7 * SEC)],
          ['decided', iso(s.times.D1)],
          ['action', iso(s.times.D1 + 2 * SEC)],
          ['enriched', iso(T0 + MIN + 6 * SEC)],
          ['scored', iso(T0 + MIN + 7 * SEC)],
          ['decided', iso(s.times.D2)],
          ['action', iso(s.times.D2 + 3 * SEC)],
          ['status', iso(T0 + 7 * MIN)],
        ]);
        // Everything the executor, decide and the other stages wrote is there, unchanged.
        for (const table of Object.keys(UNCHANGED)) {
          // Migration 0019 added action_attempts.checkpoint: none for the attempts of the previous release.
          const want = table === 'action_attempts' ? s.before[table]!.map((row) => ({ ...row, checkpoint: null })) : s.before[table];
          assert.deepEqual(await rowsOf(db, table, UNCHANGED[table]!), want, `${table} unchanged`);
        }
        // Actions too, but for migration 0014: an approval's deadline left the params for columns of its own.
        assert.deepEqual(await rowsOf(db, 'actions', 'id'), s.before.actions!.map(withApprovalColumns));
        // Enrichments too, with migration 0015's column saying how each was obtained: unknown (null) for these.
        assert.deepEqual(
          await rowsOf(db, 'enrichments', ENRICHMENT_ORDER),
          s.before.enrichments!.map((row) => ({ ...row, cache: null })),
        );
        // Timeline notes other than alert arrivals (see 'the timeline shows each alert once').
        const notArrival = (rows: Array<Record<string, unknown>>) => rows.filter((x) => x.kind !== 'alert' && x.kind !== 'repeat');
        assert.deepEqual(notArrival(await rowsOf(db, 'timeline', 'id')), notArrival(s.before.timeline!));
        const incidents = without(await rowsOf(db, 'incidents', 'id'), 'last_seq', 'decided_seq', 'pending_since', 'digest', 'enriched_seq', 'enrich_pass_at', 'enrich_pass_key', 'enrich_known', 'assignee', 'severity_override', 'merged_into');
        assert.deepEqual(incidents, without(s.before.incidents!, 'enrich_version'));
      });

      await t.test('migration 0011: every grouping key is carried into the key log at the cursor', async () => {
        const log = await db.selectFrom('incident_key_log').select(['pos', 'key', 'incident_id', 'last_seen', 'received_at']).orderBy('key').execute();
        const cursor = await readCursor(db, INGEST_CURSOR);
        assert.ok(s.before.incident_keys!.length >= 2, 'the previous release stored keys');
        assert.deepEqual(
          log.map((k) => ({ key: k.key, incident_id: k.incident_id, last_seen: Number(k.last_seen), pos: Number(k.pos), received_at: Number(k.received_at) })),
          s.before.incident_keys!.map((k) => ({ ...k, pos: cursor, received_at: k.last_seen })),
        );
        // (The next subtest's ingest finds them: the in-flight records join their incidents by these keys.)
      });

      await t.test('the timeline shows each alert once', async () => {
        // The previous release wrote an 'alert' / 'repeat' timeline row per alert; loadIncidentDetail now
        // adds every stored alert to the timeline itself (toArrival), so the old rows show each alert twice.
        const d = (await loadIncidentDetail(db, inc1))!;
        const perAlert = new Map<string, string[]>();
        for (const e of d.timeline) if (e.alert_id) perAlert.set(e.alert_id, [...(perAlert.get(e.alert_id) ?? []), e.kind]);
        assert.deepEqual(Object.fromEntries(perAlert), { [r.beacon.id]: ['alert'], [r.cobalt.id]: ['alert'], [r.beaconAgain.id]: ['repeat'] });
      });

      await t.test('the log: processed records before the cursor, in-flight ones after it (pending)', async () => {
        const entries = await db.selectFrom('intake').select(['seq', 'id', 'raw']).orderBy('seq').execute();
        // The re-delivery may be answered where it is, or placed after the cursor to be derived again.
        const redo = await pendingRedelivery(db, r.redelivered.id);
        const processed = [r.beacon, r.cobalt, r.beaconAgain, ...(redo ? [] : [r.redelivered]), r.flow, r.truncated, r.exfil, r.exfilAgain];
        const inFlight = [...(redo ? [r.redelivered] : []), r.queuedForCorrelate, r.queuedForNormalize];
        assert.deepEqual(
          entries.map((x) => [Number(x.seq), x.id, x.raw]),
          [...processed, ...inFlight].map((x, i) => [i + 1, x.id, x.raw]),
        );
        assert.equal(await readCursor(db, INGEST_CURSOR), processed.length);
        const cursor = await db.selectFrom('pipeline_cursors').selectAll().where('name', '=', INGEST_CURSOR).executeTakeFirstOrThrow();
        assert.equal(cursor.owner, null);
        for (const [ahead, record] of inFlight.entries()) {
          const f = await recordFate(db, record.id);
          assert.ok(f?.fate === 'pending' && f.records_ahead === ahead && f.source === SURICATA, JSON.stringify(f));
        }
        assert.deepEqual(await logBacklog(db, INGEST_CURSOR), { records: inFlight.length, oldestReceivedAt: inFlight[0]!.received_at });
        const seqOf = (x: OldRecord) => processed.indexOf(x) + 1;
        const seqs = await db.selectFrom('alerts').select(['id', 'seq']).orderBy('seq').execute();
        assert.deepEqual(
          seqs.map((x) => [x.id, Number(x.seq)]),
          [r.beacon, r.cobalt, r.beaconAgain, r.exfil, r.exfilAgain].map((x) => [x.id, seqOf(x)]),
        );
        // Incident 1: decided through its newest alert, nothing pending. Incident 2: its alert still to decide.
        const inc = async (id: string) => {
          const x = await db.selectFrom('incidents').select(['last_seq', 'decided_seq', 'pending_since']).where('id', '=', id).executeTakeFirstOrThrow();
          return { last: Number(x.last_seq), decided: Number(x.decided_seq), pendingSince: x.pending_since === null ? null : Number(x.pending_since) };
        };
        const one = await inc(inc1);
        assert.ok(one.last >= 2 && one.last <= 3 && one.decided === one.last && one.pendingSince === null, JSON.stringify(one));
        const two = await inc(inc2);
        assert.ok(two.last >= seqOf(r.exfil) && two.last <= seqOf(r.exfilAgain) && two.decided < seqOf(r.exfil) && two.pendingSince === r.exfil.received_at, JSON.stringify(two));
      });

      await t.test('the enrich hand-off stays; normalize and correlate hand-offs are gone', async () => {
        const queue = await db.selectFrom('stage_queue').select(['stage', 'item_id', 'version']).orderBy('stage').execute();
        assert.deepEqual(queue, [{ stage: 'enrich', item_id: inc2, version: 1 }]);
      });

      await t.test('the new ingest derives the in-flight records once each, and nothing before them again', async () => {
        const ingest = createIngest({ store: store!, normalizer: createNormalizer(await loadDetectors()), correlation: WINDOWS, owner: 'upgrade-test', log, batchSize: 100 });
        const intake = createIntakeWriter(store!, { maxBacklog: 1e9 });
        try {
          const redo = await pendingRedelivery(db, r.redelivered.id);
          let consumed = 0;
          for (let n = 1, i = 0; n > 0 && i < 20; i++) consumed += n = await ingest.runBatch();
          assert.equal(consumed, redo ? 3 : 2);
          assert.equal(await readCursor(db, INGEST_CURSOR), 10);
          for (const [record, incident] of [[r.queuedForCorrelate, inc2], [r.queuedForNormalize, inc1]] as const) {
            const f = await recordFate(db, record.id);
            assert.ok(f?.fate === 'alert' && f.alert.raw === record.raw && f.alert.incident_id === incident, JSON.stringify(f));
          }
          const perRecord = await db
            .selectFrom('alerts')
            .select(['intake_id', (eb) => eb.fn.countAll<number>().as('n')])
            .where('intake_id', '<>', r.redelivered.id) // a duplicate row, or none: see the re-delivery subtest
            .groupBy('intake_id')
            .execute();
          assert.deepEqual(
            Object.fromEntries(perRecord.map((x) => [x.intake_id, Number(x.n)])),
            Object.fromEntries([r.beacon, r.cobalt, r.beaconAgain, r.exfil, r.exfilAgain, r.queuedForCorrelate, r.queuedForNormalize].map((x) => [x.id, 1])),
            'one alert per record: the in-flight ones once, the others not again',
          );
          if (redo) {
            const again = await recordFate(db, r.redelivered.id);
            assert.ok(again?.fate === 'duplicate' && again.duplicate_of === r.beacon.id, JSON.stringify(again));
          }
          assert.equal((await db.selectFrom('context_events').select('id').execute()).length, 1);
          assert.equal((await db.selectFrom('quarantine').select('id').execute()).length, 1);
          const incidents = await db.selectFrom('incidents').select(['id', 'alert_count', 'last_seq']).orderBy('id').execute();
          assert.deepEqual(incidents.map((x) => [x.id, Number(x.alert_count), Number(x.last_seq)]), [
            [inc1, 3, 10],
            [inc2, 2, 9],
          ]);
          const enrich = await db.selectFrom('stage_queue').select('item_id').where('stage', '=', 'enrich').orderBy('item_id').execute();
          assert.deepEqual(enrich.map((x) => x.item_id), [inc1, inc2].sort());

          // New records are appended after the carried-over ones (PostgreSQL: the identity was moved on).
          const { ids } = await intake.accept(SURICATA, null, [{ raw: eveAlert({ at: 20 * MIN, flow: 20, src: '10.1.9.77', srcPort: 52_000, dst: C2, sid: 2_024_217, signature: 'ET MALWARE Win32/Beacon CnC Checkin' }) }]);
          const appended = await db.selectFrom('intake').select('seq').where('id', '=', ids[0]!).executeTakeFirstOrThrow();
          assert.equal(Number(appended.seq), 11);
          while ((await ingest.runBatch()) > 0);
          const f = await recordFate(db, ids[0]!);
          assert.ok(f?.fate === 'alert' && f.alert.incident_id !== inc1 && f.alert.incident_id !== inc2, JSON.stringify(f));
        } finally {
          await intake.close();
          await ingest.stop();
        }
      });
    } finally {
      await store?.close();
      await place.drop();
    }
  });
}

// ---- a record whose alerts were decided at different times ------------------------------------------------

const DEFENDER = 'defender-api';

/** A Defender for Endpoint alert resource (GET /api/alerts) of workstation ws-17. */
function mdeAlert(id: string, detectorId: string, title: string, at: number): Record<string, unknown> {
  const time = new Date(T0 + at).toISOString();
  return {
    id,
    incidentId: 4211,
    investigationId: 61,
    assignedTo: null,
    severity: 'High',
    status: 'New',
    classification: null,
    determination: null,
    investigationState: 'PendingApproval',
    detectionSource: 'WindowsDefenderAv',
    detectorId,
    category: 'Malware',
    threatFamilyName: 'Cobaltstrike',
    title,
    alertCreationTime: time,
    firstEventTime: time,
    lastEventTime: time,
    lastUpdateTime: time,
    machineId: '7e1a3c5d0b9f8e2a4c6d1f3b5a7c9e0d2f4b6a8c',
    computerDnsName: 'ws-17.corp.example',
    rbacGroupName: 'Workstations',
    relatedUser: { userName: 'jdoe', domainName: 'CORP' },
    evidence: [
      {
        entityType: 'File',
        evidenceCreationTime: time,
        sha1: '3395856ce81f2b7382dee72602f798b642f14140',
        sha256: '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f',
        fileName: 'beacon.exe',
        filePath: 'C:\\Users\\jdoe\\AppData\\Local\\Temp',
        detectionStatus: 'Detected',
      },
    ],
  };
}

for (const dialect of DIALECTS) {
  test(`migration 0004 on ${dialect}: a record whose alerts were decided at different times (a repeat and a new alert of one incident)`, async () => {
    const place = newStorePlace(dialect);
    let store: Store | undefined;
    try {
      const MALWARE = 'a1b2c3d4-0000-4000-8000-000000000001';
      const INJECTION = 'a1b2c3d4-0000-4000-8000-000000000002';
      const s = await previousReleaseStore(place, async (old) => {
        const first = await old.accept(DEFENDER, JSON.stringify(mdeAlert('da638712345678901234_-1111111111', MALWARE, "'Cobaltstrike' malware was detected", 0)), T0 + 30 * SEC);
        const [m1] = await old.normalize(first, T0 + 31 * SEC);
        const incident = await old.correlate(m1!, T0 + 32 * SEC);
        await old.enrich(incident, T0 + 32 * SEC, 'threat-intel-file', { type: 'sha256', value: '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f' }, { verdict: 'malicious' });
        await old.score(incident, T0 + 33 * SEC, score(70));
        const D1 = T0 + 34 * SEC;
        await old.decide(incident, D1, 'high-severity', 'notify', [], 'rule "high-severity" → notify');
        // One API page with two alerts: the same detection again (a repeat, stamped when counted) and a new
        // detection on the same machine (joins the incident, stamped when the incident is decided again).
        const page = await old.accept(
          DEFENDER,
          JSON.stringify({
            '@odata.context': 'https://api.security.microsoft.com/api/$metadata#Alerts',
            value: [
              mdeAlert('da638712345678901234_-3333333333', MALWARE, "'Cobaltstrike' malware was detected", 5 * MIN),
              mdeAlert('da638712345678901234_-2222222222', INJECTION, 'Suspicious process injection observed', 5 * MIN + 30 * SEC),
            ],
          }),
          T0 + 6 * MIN,
        );
        const [repeat, injection] = await old.normalize(page, T0 + 6 * MIN + SEC);
        const C = T0 + 6 * MIN + 2 * SEC;
        await old.correlate(repeat!, C, { repeatOf: m1 });
        await old.correlate(injection!, C, { incident });
        await old.enrich(incident, C, 'threat-intel-file', { type: 'sha256', value: '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f' }, { verdict: 'malicious' });
        await old.score(incident, T0 + 6 * MIN + 4 * SEC, score(90));
        const D = T0 + 6 * MIN + 5 * SEC;
        await old.decide(incident, D, 'malware-on-host', 'escalate', [], 'rule "malware-on-host" → escalate');
        return { incident, first: first.id, page, repeat: repeat!.alert.id, injection: injection!.alert.id, C, D1, D };
      });
      store = await upgrade(place);
      const first = await recordFate(store.db, s.first);
      assert.ok(first?.fate === 'alert' && first.decided_at === iso(s.D1), JSON.stringify(first));
      const injection = await recordFate(store.db, s.injection);
      assert.ok(injection?.fate === 'alert' && injection.decided_at === iso(s.D) && injection.alert.incident_id === s.incident, JSON.stringify(injection));
      const repeat = await recordFate(store.db, s.page.id);
      assert.ok(repeat && 'alert' in repeat && repeat.alert.id === s.repeat && repeat.alert.raw === s.page.raw, JSON.stringify(repeat));
      assert.equal(await readCursor(store.db, INGEST_CURSOR), 2);
    } finally {
      await store?.close();
      await place.drop();
    }
  });
}
