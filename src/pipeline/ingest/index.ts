/**
 * ingest: the intake log → alerts, context events and quarantine entries, deduplicated and grouped into
 * incidents, in ONE transaction per batch of records that also moves the log cursor (DESIGN.md §4). No
 * per-record hand-off: a crash leaves the cursor where the last commit put it, and the records after it are
 * derived again, with the same result (parse.ts is pure; correlation reads what the last commit wrote).
 *
 * The records are read and parsed outside the transaction, so parsing never holds the write lock that
 * intake needs to acknowledge; the transaction then checks that the cursor has not moved (compare-and-set,
 * log.ts) and writes. Several processes may run ingest: the cursor's lease picks the one that works, and
 * the compare-and-set fences one whose lease ran out while it worked.
 *
 * A batch that fails is retried in halves down to single records; a single record that keeps failing is
 * quarantined with the error, so one poisonous record cannot stop the log.
 */
import { CORRELATION_LOCK } from '../../store/locks.js';
import { sql } from 'kysely';
import type { Store, Tx } from '../../store/store.js';
import { advanceCursor, INGEST_CURSOR, leaseCursor, readAfter, readCursor, releaseCursor, type LogRecord } from '../../store/log.js';
import { dueNow, enqueue } from '../../store/queue.js';
import { insertRows } from '../../store/insert-rows.js';
import { countAlerts } from '../../store/overview.js';
import { updateRows } from '../../store/update-rows.js';
import { countLoggedObservations, foldObservations, logObservations, ObservationTally, recordObservations } from '../../store/observations.js';
import { alertHost, alertUser, columnIndicators } from '../../correlate/keys.js';
import { bindingsOfContext, recordBindings } from '../../enrich/address-bindings.js';
import type { AlertDoc } from '../../store/alert-docs.js';
import { parseTimeLimited, quarantined, stageProcessed } from '../../metrics.js';
import { selectInChunks } from '../../util/chunks.js';
import { errorContext, type Logger } from '../../util/log.js';
import { PARSE_TIME_LIMIT, parseRecords, type ParseOptions, type Parsed, type ParsedAlert, type ParsedQuarantine, type RecordNormalizer } from './parse.js';
import { correlateBatch, type AlertIn, type CorrelateSettings } from './correlate.js';
import { DEFAULT_MAX_FINGERPRINTS, FINGERPRINT_SLACK_MS, Fingerprints, type FingerprintEntry } from './fingerprints.js';
import { DEFAULT_MAX_GROUP_KEYS, GROUP_KEY_SLACK_MS, GroupKeys, type GroupKeyEntry } from './group-keys.js';
import type { RecordParser } from './parse-thread.js';
import { Lease } from '../../store/lease.js';

export type { CorrelateSettings } from './correlate.js';
export type { RecordNormalizer, NormalizeResult } from './parse.js';

export interface IngestDeps {
  store: Store;
  normalizer: RecordNormalizer;
  correlation: CorrelateSettings;
  owner: string;
  log: Logger;
  /** source name → IANA zone (or offset) of that source's zone-less timestamps (syslog 3164…). */
  timeZones?: ReadonlyMap<string, string>;
  /**
   * Most records per batch (default 20,000: DEFAULT_BATCH). A batch takes what is waiting, so this bounds it
   * only when ingest is behind: then larger batches share more index pages and incident rows per commit, at
   * the cost of holding the write lock that intake and the incident stages wait for longer.
   */
  batchSize?: number;
  /**
   * While ingest is behind, the longest an incident that was just worked waits before it is worked again
   * (`pipeline.coalesce_when_behind`, default 5 s; 0: never). See coalesceWait below.
   */
  coalesceMs?: number;
  /**
   * Keep the new alerts' documents in the store's cache (AlertDocs) for the incident stages that read them
   * next: only worth it where those stages run in the same thread (default true).
   */
  rememberAlerts?: boolean;
  /** The parse time limit, and a supervisor's watch and what it set aside (ParseOptions). */
  parse?: ParseOptions;
  /**
   * Parses on another thread (parse-thread.ts), one batch ahead: while a batch is derived here, the records
   * after it are parsed there. Without it (or once it has failed), records are parsed on this thread.
   */
  parser?: RecordParser;
  /** How long the cursor's lease lasts without renewal (default 60 s). */
  leaseMs?: number;
  /** Most fingerprints the dedup state remembers (default 1,000,000; fingerprints.ts). */
  maxFingerprints?: number;
  /** Most grouping keys remembered (default 1,000,000; group-keys.ts). */
  maxGroupKeys?: number;
  /** Indicator rows logged while behind past which they are folded before the next batch (default FOLD_ROWS). */
  foldRows?: number;
  now?: () => number;
}

export interface Ingest {
  /** Derives one batch; returns the number of records it consumed (0: nothing to do, or another worker has the log). */
  runBatch(): Promise<number>;
  /** Gives the cursor's lease up. */
  stop(): Promise<void>;
}

interface Derived {
  stored: AlertDoc[];
  /** Indicator rows appended to observation_log. */
  logged: number;
  fingerprints: ReadonlyMap<string, FingerprintEntry>;
  groupKeys: ReadonlyMap<string, GroupKeyEntry>;
}

/** Thrown inside the transaction when another worker moved the cursor: everything is rolled back. */
class CursorMoved extends Error {}

/**
 * Each commit writes every page its batch dirtied, and the alerts' per-incident index and the indicator rows
 * dirty about a page per incident the batch touches, however few rows each gets: in a large store a small
 * batch pays for those pages on every commit. Over 1,000,000 benchmark alerts batches of 20,000 ingested
 * faster than batches of 5,000, and no slower as the store grew; 50,000 gained nothing more (README,
 * Performance, has the figures).
 */
const DEFAULT_BATCH = 20_000;
const DEFAULT_COALESCE_MS = 5000;
/** Ingest is behind when the oldest record of a batch has waited this long. */
const BEHIND_MS = 1000;
/**
 * Indicator rows logged while behind that make ingest fold them before its next batch, without waiting to
 * catch up: each fold sorts this many upserts into incident_observables in one transaction (store/observations.ts).
 */
const FOLD_ROWS = 50_000;

/** Attempts of a single record before it is quarantined with its error. */
const SINGLE_RECORD_ATTEMPTS = 3;

export function createIngest(deps: IngestDeps): Ingest {
  const { store, owner, log } = deps;
  const now = deps.now ?? Date.now;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH;
  const coalesceMs = deps.coalesceMs ?? DEFAULT_COALESCE_MS;
  const leaseMs = deps.leaseMs ?? 60_000;
  const foldRows = deps.foldRows ?? FOLD_ROWS;
  const timeZones = deps.timeZones ?? new Map<string, string>();
  /** The cursor as this worker last committed or read it; undefined: read it again. */
  let cursor: number | undefined;
  /** The dedup state and the grouping keys as of `cursor` (rebuilt whenever the cursor is read again). */
  let fingerprints: Fingerprints | undefined;
  let groupKeys: GroupKeys | undefined;
  const fingerprintLimits = { keepMs: deps.correlation.dedupWindowMs + FINGERPRINT_SLACK_MS, max: deps.maxFingerprints ?? DEFAULT_MAX_FINGERPRINTS };
  const groupKeyLimits = { keepMs: deps.correlation.groupWindowMs + GROUP_KEY_SLACK_MS, max: deps.maxGroupKeys ?? DEFAULT_MAX_GROUP_KEYS };
  // Kept on the cursor's row: advanceCursor is fenced on its owner, so a process that lost it cannot commit.
  const lease = new Lease(
    {
      take: (who, t, until) => store.redoable((db) => leaseCursor(db, INGEST_CURSOR, who, until - t, t)),
      give: (who) => releaseCursor(store.db, INGEST_CURSOR, who),
    },
    owner,
    leaseMs,
  );
  /** The record that failed alone, and how often (it is quarantined after SINGLE_RECORD_ATTEMPTS). */
  let failing: { seq: number; attempts: number } | undefined;
  /** After a failure: the batch size to try next (halved down to 1, back to full after a success). */
  let limit = batchSize;
  /**
   * Incidents may be waiting for a later due time (coalesce). True at start too: a process that stopped
   * while behind may have left some.
   */
  let delayed = true;
  /** Indicator rows in observation_log (counted whenever the cursor is read). */
  let logged = 0;
  let parser = deps.parser;
  /** The records after the last batch, read and handed to the parser while that batch was derived. */
  let ahead: { from: number; records: readonly LogRecord[]; parsed: Promise<Parsed> } | undefined;
  /** The parser's last parse (it parses one batch at a time, in order). */
  let parsing: Promise<Parsed> | undefined;

  async function holdsLease(): Promise<boolean> {
    if (await lease.hold(now())) return true;
    cursor = undefined; // someone else is working the log: what we knew of it is stale
    return false;
  }

  async function runBatch(): Promise<number> {
    if (!(await holdsLease())) return 0;
    if (cursor === undefined) {
      cursor = await readCursor(store.db, INGEST_CURSOR);
      const at = await receivedAt(store.db, cursor, now());
      fingerprints = await Fingerprints.load(store.db, at, fingerprintLimits);
      groupKeys = await GroupKeys.load(store.db, at, groupKeyLimits);
      logged = await countLoggedObservations(store.db);
    }
    if (logged >= foldRows) await fold();
    const early = ahead?.from === cursor && ahead.records.length <= limit ? ahead : undefined;
    ahead = undefined;
    const records = early?.records ?? (await readAfter(store.db, cursor, limit));
    if (records.length === 0) {
      // Caught up after a burst whose last batch was still behind: what waits is due now (see coalesce), and
      // what was logged is folded.
      if (delayed) await store.redoable((db) => db.transaction().execute((tx) => releaseWaiting(tx, now())));
      delayed = false;
      if (logged > 0) await fold();
      return 0;
    }
    const from = cursor;
    try {
      const parsed = await parse(records, early?.parsed);
      // Only behind a full batch: then a backlog waits, and the next batch is full too. Reading ahead of a
      // partial one made ingest keep up with intake in batches of what arrived meanwhile, and what a batch costs
      // per incident it touches was spread over fewer alerts (README, Where the CPU goes).
      if (records.length === limit) await readAhead(records[records.length - 1]!.seq);
      const lag = now() - records[0]!.received_at;
      const behind = lag >= BEHIND_MS;
      const wait = coalesceWait(lag);
      const derived = await store.redoable((db) => db.transaction().execute((tx) => derive(tx, from, records, parsed, wait, behind)));
      committed(records, parsed, derived);
      delayed = wait > 0;
      limit = batchSize;
      failing = undefined;
      return records.length;
    } catch (e) {
      ahead = undefined;
      if (e instanceof CursorMoved) {
        cursor = undefined;
        return 0;
      }
      return failed(from, records, e);
    }
  }

  /** The batch parsed: by the parser when it was read ahead, otherwise here. */
  async function parse(records: readonly LogRecord[], early: Promise<Parsed> | undefined): Promise<Parsed> {
    if (early) {
      try {
        return await early;
      } catch (e) {
        // Parsed here from now on: what the thread did is redone here, from the same records.
        log.error({ err: errorContext(e) }, 'the parse thread failed; ingest parses on its own thread');
        parser = undefined;
      }
    }
    // One parse at a time, so that the supervisor's watch shows the one that runs: a batch read ahead and
    // then not taken (a failure, another worker's cursor) may still be parsing there.
    await parsing?.catch(() => undefined);
    return parseRecords(records, deps.normalizer, timeZones, deps.parse);
  }

  /**
   * Reads the records after `seq` (before this batch's transaction, which holds the connection) and hands
   * them to the parser, to be parsed there while this batch is derived here.
   */
  async function readAhead(seq: number): Promise<void> {
    if (!parser) return;
    const records = await readAfter(store.db, seq, limit);
    if (records.length === 0) return;
    const parsed = parser.parse(records);
    parsed.catch(() => undefined); // reported when the batch is taken (parse, above)
    parsing = parsed;
    ahead = { from: seq, records, parsed };
  }

  async function failed(from: number, records: readonly LogRecord[], e: unknown): Promise<number> {
    const msg = e instanceof Error ? e.message : String(e);
    if (records.length > 1) {
      limit = Math.max(1, Math.floor(records.length / 2));
      log.warn({ err: msg, records: records.length, next: limit }, 'ingest batch failed; retrying in smaller batches');
      return 0;
    }
    const record = records[0]!;
    failing = failing?.seq === record.seq ? { seq: record.seq, attempts: failing.attempts + 1 } : { seq: record.seq, attempts: 1 };
    log.error({ record: record.id, attempts: failing.attempts, err: msg }, 'ingest failed on a record');
    if (failing.attempts < SINGLE_RECORD_ATTEMPTS) {
      await new Promise((r) => setTimeout(r, 250 * 2 ** failing!.attempts));
      return 0;
    }
    // Quarantined with the error, so the log moves on and the record can be replayed after a fix.
    const entry: ParsedQuarantine = { record, reason: `ingest failed: ${msg}`, detector: record.detector };
    const parsed: Parsed = { alerts: [], context: [], quarantine: [entry] };
    const derived = await store.redoable((db) => db.transaction().execute((tx) => derive(tx, from, records, parsed, 0, false)));
    committed(records, parsed, derived);
    delayed = false;
    failing = undefined;
    return 1;
  }

  /**
   * Writes what a batch derives and moves the cursor past it; returns the alerts stored as new (not
   * duplicates) and the dedup entries to keep once it has committed.
   */
  async function derive(tx: Tx, from: number, records: readonly LogRecord[], parsed: Parsed, wait: number, behind: boolean): Promise<Derived> {
    await lockCorrelation(tx);
    const to = records[records.length - 1]!.seq;
    if (!(await advanceCursor(tx, INGEST_CURSOR, from, to, owner))) throw new CursorMoved('the log cursor moved');
    const t = now();
    const redelivered = await findRedelivered(tx, parsed.alerts);
    const fresh = parsed.alerts.filter((p) => !redelivered.has(p.alert.id));
    const incoming: AlertIn[] = fresh
      .map((p) => ({ alert: p.alert, fingerprint: p.fingerprint, time: Date.parse(p.alert.time), seq: p.record.seq, receivedAt: p.record.received_at }))
      .sort((a, b) => a.time - b.time || (a.alert.id < b.alert.id ? -1 : 1));
    const [fps, keys] = [fingerprints!, groupKeys!];
    const correlated = await correlateBatch(tx, incoming, { fingerprint: (fp) => fps.get(fp), groupKey: (k) => keys.get(k) }, deps.correlation, t);
    await keys.write(tx, to, correlated.groupKeys, t);
    const placed = (id: string) => correlated.placed.get(id);
    const rows = parsed.alerts.map((p) => {
      const again = redelivered.get(p.alert.id);
      if (again) {
        const incidentId = again.incidentId ?? placed(again.of)?.incidentId ?? null;
        return alertRow(p, { incidentId, duplicateOf: again.of, vendorId: null });
      }
      const at = placed(p.alert.id);
      return alertRow(p, { incidentId: at?.incidentId ?? null, duplicateOf: at?.duplicateOf ?? null, vendorId: p.alert.vendor_id ?? null });
    });
    await insertRows(tx, 'alerts', ALERT_COLUMNS, rows);
    // The overview's hourly counts (migration 0026): every row stored, as the alerts series counts them.
    await countAlerts(tx, rows);
    const tally = new ObservationTally();
    parsed.alerts.forEach((p, i) => {
      const row = rows[i]!;
      // Re-deliveries add nothing; repeats count as events of the indicators they carry.
      if (row.incident_id === null || redelivered.has(p.alert.id)) return;
      tally.addAlert(row.incident_id, p.alert, row.time, row.duplicate_of !== null, columnIndicators(row), row.seq);
    });
    // Behind, a batch's indicators are logged, to be folded in bulk; otherwise they are upserted at once.
    const observations = tally.rows();
    if (behind) await logObservations(tx, to, observations);
    else await recordObservations(tx, observations);
    await updateRows(tx, 'alerts', correlated.repeats);
    await insertRows(
      tx,
      'context_events',
      ['id', 'intake_id', 'source', 'detector', 'kind', 'time', 'doc', 'raw'],
      parsed.context.map((c) => ({
        id: c.id,
        intake_id: c.record.id,
        source: c.record.source,
        detector: c.detector,
        kind: c.event.kind,
        time: Date.parse(c.event.time) || c.record.received_at,
        doc: JSON.stringify(c.event),
        raw: '',
      })),
    );
    // Who held which address when (VPN sessions, leases, sign-ons): enrichment's address history.
    await recordBindings(tx, bindingsOfContext(parsed.context.map((c) => ({ event: c.event, source: c.record.source, detector: c.detector }))), t);
    await insertRows(
      tx,
      'quarantine',
      ['id', 'intake_id', 'source', 'detector', 'reason', 'raw', 'created_at', 'replayed_at'],
      parsed.quarantine.map((q) => ({
        id: q.record.id,
        intake_id: q.record.id,
        source: q.record.source,
        detector: q.detector,
        reason: q.reason.slice(0, 2000),
        raw: '',
        created_at: t,
        replayed_at: null,
      })),
      { onConflict: 'on conflict ("intake_id") do nothing' },
    );
    await coalesce(tx, [...correlated.touched], wait, t);
    return {
      stored: fresh.filter((p) => placed(p.alert.id)?.duplicateOf === null).map((p) => p.alert),
      fingerprints: correlated.fingerprints,
      groupKeys: correlated.groupKeys,
      logged: behind ? observations.length : 0,
    };
  }

  /**
   * How long the incidents a batch changes wait before they are worked again: while ingest is behind (its
   * batch's oldest record has waited BEHIND_MS or more), as long as it is behind, up to coalesceMs. Each pass
   * over an incident (enrich, score, decide) costs about the same whether one alert joined it or a hundred;
   * under a burst the stages, working every incident again after every batch, took a core that ingest
   * needed while deciding on each incident many times over. Waiting, the alerts that arrive meanwhile join
   * the same pass; an incident is rarely decided sooner than ingest can catch up anyway.
   */
  function coalesceWait(lag: number): number {
    return coalesceMs > 0 && lag >= BEHIND_MS ? Math.min(coalesceMs, lag) : 0;
  }

  /** On PostgreSQL, serialises correlation and the indicator log across processes until the transaction ends. */
  async function lockCorrelation(tx: Tx): Promise<void> {
    if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${CORRELATION_LOCK})`.execute(tx);
  }

  /**
   * Folds observation_log into incident_observables, under the lock ingest takes (on PostgreSQL), in a
   * transaction of its own: after a burst, or while one goes on and the log has grown past FOLD_ROWS.
   */
  async function fold(): Promise<void> {
    const folded = await store.redoable((db) =>
      db.transaction().execute(async (tx) => {
        await lockCorrelation(tx);
        return foldObservations(tx);
      }),
    );
    if (folded > 0) log.debug({ rows: folded }, 'indicators folded');
    logged = 0;
  }

  /**
   * Hands the changed incidents to enrich, due `wait` ms from now (an incident already waiting keeps the
   * earlier due time). Once ingest is no longer behind, everything waiting is due at once, so no delay
   * outlasts the burst that caused it.
   */
  async function coalesce(tx: Tx, incidents: readonly string[], wait: number, t: number): Promise<void> {
    await enqueue(tx, 'enrich', incidents, t + wait);
    if (wait === 0) await releaseWaiting(tx, t);
  }

  /** Makes the incidents left waiting by earlier batches due now, if any may be waiting. */
  async function releaseWaiting(tx: Tx, t: number): Promise<void> {
    if (delayed) await dueNow(tx, 'enrich', t);
  }

  function committed(records: readonly LogRecord[], parsed: Parsed, derived: Derived) {
    cursor = records[records.length - 1]!.seq;
    fingerprints!.apply(derived.fingerprints);
    logged += derived.logged;
    groupKeys!.apply(cursor, derived.groupKeys);
    stageProcessed.inc({ stage: 'normalize' }, records.length);
    stageProcessed.inc({ stage: 'correlate' }, parsed.alerts.length);
    for (const q of parsed.quarantine) {
      quarantined.inc({ source: q.record.source });
      if (q.reason.startsWith(PARSE_TIME_LIMIT)) {
        parseTimeLimited.inc({ source: q.record.source });
        log.warn({ record: q.record.id, source: q.record.source, detector: q.detector, bytes: q.record.raw.length, reason: q.reason }, 'record set aside: parse time limit');
      }
    }
    // The next stages read these alerts again.
    if (deps.rememberAlerts !== false) for (const alert of derived.stored) store.alertDocs.remember(alert.id, alert);
  }

  return {
    runBatch,
    async stop() {
      // Not released, the lease simply runs out: another process takes the log over a lease later.
      await lease.release().catch((err: unknown) =>
        log.warn({ owner, err: errorContext(err) }, 'ingest: the cursor lease was not released at stop; it ends by itself'),
      );
    },
  };
}

/** When the record at the cursor was received (`otherwise`: none, the log is empty). */
async function receivedAt(db: Store['db'], seq: number, otherwise: number): Promise<number> {
  const r = await db.selectFrom('intake').select('received_at').where('seq', '=', seq).executeTakeFirst();
  return r ? Number(r.received_at) : otherwise;
}

/**
 * Alerts the detector has delivered before (same source, detector and vendor id), earlier or within the
 * batch: alert id → the alert it repeats, and that alert's incident when it is already stored.
 */
async function findRedelivered(tx: Tx, alerts: readonly ParsedAlert[]): Promise<Map<string, { of: string; incidentId: string | null }>> {
  const out = new Map<string, { of: string; incidentId: string | null }>();
  const withVendorId = alerts.filter((p) => p.alert.vendor_id);
  if (withVendorId.length === 0) return out;
  const key = (source: string, detector: string, vendorId: string) => `${source}\u0000${detector}\u0000${vendorId}`;
  const seen = new Map<string, { of: string; incidentId: string | null }>();
  // By source and detector, so that the lookup uses alerts_vendor (source, detector, vendor_id).
  const groups = new Map<string, { source: string; detector: string; ids: Set<string> }>();
  for (const p of withVendorId) {
    const g = `${p.alert.source}\u0000${p.alert.detector}`;
    const group = groups.get(g) ?? { source: p.alert.source, detector: p.alert.detector, ids: new Set<string>() };
    group.ids.add(p.alert.vendor_id!);
    groups.set(g, group);
  }
  const existing = [];
  for (const g of groups.values()) {
    existing.push(
      ...(await selectInChunks([...g.ids], 400, (chunk) =>
        tx
          .selectFrom('alerts')
          .select(['id', 'source', 'detector', 'vendor_id', 'incident_id'])
          .where('source', '=', g.source)
          .where('detector', '=', g.detector)
          .where('vendor_id', 'in', chunk)
          .execute(),
      )),
    );
  }
  for (const r of existing) seen.set(key(r.source, r.detector, r.vendor_id!), { of: r.id, incidentId: r.incident_id });
  for (const p of withVendorId) {
    const k = key(p.alert.source, p.alert.detector, p.alert.vendor_id!);
    const first = seen.get(k);
    if (first) out.set(p.alert.id, first);
    else seen.set(k, { of: p.alert.id, incidentId: null });
  }
  return out;
}

const ALERT_COLUMNS = [
  'id', 'intake_id', 'seq', 'source', 'detector', 'vendor_id', 'fingerprint', 'time', 'received_at', 'title', 'severity',
  'rule_id', 'host', 'user_name', 'incident_id', 'duplicate_of', 'repeat_count', 'last_repeat_at', 'doc', 'raw',
] as const satisfies ReadonlyArray<keyof ReturnType<typeof alertRow>>;

function alertRow(p: ParsedAlert, at: { incidentId: string | null; duplicateOf: string | null; vendorId: string | null }) {
  const alert = p.alert;
  return {
    id: alert.id,
    intake_id: p.record.id,
    seq: p.record.seq,
    source: alert.source,
    detector: alert.detector,
    vendor_id: at.vendorId,
    fingerprint: p.fingerprint,
    time: Date.parse(alert.time),
    received_at: p.record.received_at,
    title: alert.title,
    severity: alert.severity,
    rule_id: alert.rule?.id ?? null,
    host: alertHost(alert),
    user_name: alertUser(alert),
    incident_id: at.incidentId,
    duplicate_of: at.duplicateOf,
    repeat_count: 1,
    last_repeat_at: null,
    doc: p.json ?? JSON.stringify(alert),
    // The raw text is the intake record's: stored once.
    raw: '',
  };
}

