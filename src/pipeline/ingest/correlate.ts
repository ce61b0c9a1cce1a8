/**
 * Dedup and incident grouping for a batch of new alerts, inside ingest's write transaction (each alert's
 * result depends on the ones before it). Reads are batched (one query per table per batch), decisions are
 * made in memory, and each incident is written once per batch however many alerts touched it. The dedup
 * state (fingerprints.ts) and the grouping keys (group-keys.ts) are the caller's, in memory: what a batch
 * changes in them comes back in `fingerprints` and `groupKeys`, for the caller to log and keep once the
 * batch has committed. The caller holds whatever serialises correlation across processes.
 *
 *  - a repeat (same fingerprint within the dedup window, its incident still open) becomes a duplicate of the
 *    alert it repeats, which counts it; it makes no new work;
 *  - otherwise an alert joins the open incident that shares a grouping key within the group window (the
 *    most recently active one), or opens a new incident.
 */
import type { Selectable } from 'kysely';
import type { Tx } from '../../store/store.js';
import type { IncidentTable } from '../../store/schema.js';
import type { AlertDoc } from '../../store/alert-docs.js';
import { alertHost, alertUser, groupKeys } from '../../correlate/keys.js';
import { foldAlert, readDigest, writeDigest, type IncidentDigest } from '../../correlate/digest.js';
import { updateIncidents } from '../../store/incidents.js';
import { insertRows } from '../../store/insert-rows.js';
import { ulid } from '../../util/ulid.js';
import { selectInChunks } from '../../util/chunks.js';
import type { FingerprintEntry } from './fingerprints.js';
import type { GroupKeyEntry } from './group-keys.js';

export interface CorrelateSettings {
  dedupWindowMs: number;
  groupWindowMs: number;
}

export interface AlertIn {
  alert: AlertDoc;
  fingerprint: string;
  time: number;
  seq: number;
  receivedAt: number;
}

export interface Correlated {
  /** Per alert id: its incident, and for a repeat the alert it repeats. */
  placed: Map<string, { incidentId: string; duplicateOf: string | null }>;
  /** Alerts repeated: their new repeat_count and the time of the last repeat (written once the rows exist). */
  repeats: Array<{ id: string; repeat_count: number; last_repeat_at: number }>;
  /** Incidents with new (non-repeat) alerts: to enrich, score and decide again. */
  touched: Set<string>;
  /** The dedup entries the batch changed, in the order it touched them last. */
  fingerprints: Map<string, FingerprintEntry>;
  /** The grouping keys the batch changed, in the order it touched them last. */
  groupKeys: Map<string, GroupKeyEntry>;
}

/** What ingest remembers as of the batch before: the dedup state and the grouping keys. */
export interface Remembered {
  fingerprint(fingerprint: string): FingerprintEntry | undefined;
  groupKey(key: string): GroupKeyEntry | undefined;
}

type Incident = Selectable<IncidentTable>;
/** What correlation reads and changes of an incident (not its score and decision documents). */
const TRACKED = ['id', 'status', 'first_seen', 'last_seen', 'alert_count', 'severity', 'host', 'user_name', 'updated_at', 'last_seq', 'pending_since', 'digest', 'merged_into'] as const;
/** `merged_into` (migration 0020): a new incident has none. */
type Tracked = Pick<Incident, Exclude<(typeof TRACKED)[number], 'merged_into'>> & { merged_into?: string | null };
/** How many merges deep an incident is followed to the one it went into. */
const MERGE_HOPS = 4;
const CHUNK = 400;

const selectIn = <T>(values: readonly string[], select: (chunk: string[]) => Promise<readonly T[]>) => selectInChunks(values, CHUNK, select);

/** `alerts` in time order. */
export async function correlateBatch(
  tx: Tx,
  alerts: readonly AlertIn[],
  known: Remembered,
  s: CorrelateSettings,
  now = Date.now(),
): Promise<Correlated> {
  const out: Correlated = { placed: new Map(), repeats: [], touched: new Set(), fingerprints: new Map(), groupKeys: new Map() };
  if (alerts.length === 0) return out;
  const keysOf = new Map(alerts.map((a) => [a.alert.id, groupKeys(a.alert)]));
  // The batch's own copy of each dedup entry it meets (every one is touched below, as a repeat or replaced).
  const fpMap = out.fingerprints;
  const fingerprint = (fp: string) => {
    let e = fpMap.get(fp);
    if (!e) {
      const was = known.fingerprint(fp);
      if (was) fpMap.set(fp, (e = { ...was }));
    }
    return e;
  };
  // Likewise each grouping key: the batch's copy, changed as alerts join.
  const keyMap = out.groupKeys;
  const groupKey = (key: string) => keyMap.get(key) ?? known.groupKey(key);
  const incidentIds = new Set<string>();
  for (const a of alerts) {
    const id = fingerprint(a.fingerprint)?.incidentId;
    if (id) incidentIds.add(id);
    for (const k of keysOf.get(a.alert.id)!) {
      const e = known.groupKey(k);
      if (e) incidentIds.add(e.incidentId);
    }
  }
  const load = async (ids: readonly string[]) =>
    (await selectIn([...ids], (c) => tx.selectFrom('incidents').select(TRACKED).where('id', 'in', c).execute())).map((i): [string, Tracked] => [
      i.id,
      { ...i, last_seq: Number(i.last_seq) },
    ]);
  const incidents = new Map(await load([...incidentIds]));
  // An incident merged into another (POST /incidents/{id}/merge) stands for the one it went into: the keys
  // and fingerprints remembered for it lead there.
  for (let hop = 0; hop < MERGE_HOPS; hop++) {
    const next = [...new Set([...incidents.values()].flatMap((i) => (i.merged_into && !incidents.has(i.merged_into) ? [i.merged_into] : [])))];
    if (next.length === 0) break;
    for (const [id, i] of await load(next)) incidents.set(id, i);
  }

  const touch = (fp: string, e: FingerprintEntry) => {
    fpMap.delete(fp);
    fpMap.set(fp, e);
  };
  const created = new Map<string, Incident>();
  const changed = new Set<string>();
  const repeats = new Map<string, { count: number; last: number }>(); // original alert → its repeat_count, last repeat
  const digests = new Map<string, IncidentDigest>(); // incidents whose digest new alerts changed
  const joined: Array<{ incident: Tracked; alert: AlertIn }> = []; // new alerts placed, in time order
  const open = (id: string | null | undefined) => {
    let inc = id ? incidents.get(id) : undefined;
    for (let hop = 0; inc?.merged_into && hop < MERGE_HOPS; hop++) inc = incidents.get(inc.merged_into);
    return inc && inc.status !== 'closed' ? inc : undefined;
  };
  const link = (inc: Tracked, a: AlertIn, duplicateOf: string | null) => {
    out.placed.set(a.alert.id, { incidentId: inc.id, duplicateOf });
    inc.last_seen = Math.max(inc.last_seen, a.time);
    inc.first_seen = Math.min(inc.first_seen, a.time);
    inc.updated_at = now;
    if (!created.has(inc.id)) changed.add(inc.id);
  };

  for (const a of alerts) {
    const fp = fingerprint(a.fingerprint);
    const fpIncident = fp && a.time - fp.lastSeen <= s.dedupWindowMs ? open(fp.incidentId) : undefined;
    if (fp && fpIncident) {
      fp.count += 1;
      fp.lastSeen = Math.max(fp.lastSeen, a.time);
      fp.touchedAt = Math.max(fp.touchedAt, a.receivedAt);
      touch(a.fingerprint, fp);
      // The fingerprint counts its original alert and each repeat since, as the original's repeat_count does.
      repeats.set(fp.alertId, { count: fp.count, last: Math.max(repeats.get(fp.alertId)?.last ?? 0, a.time) });
      link(fpIncident, a, fp.alertId);
      continue;
    }
    const keys = keysOf.get(a.alert.id)!;
    let inc: Tracked | undefined;
    for (const k of keys) {
      const e = groupKey(k);
      const cand = e && a.time - e.lastSeen <= s.groupWindowMs ? open(e.incidentId) : undefined;
      if (cand && (!inc || cand.last_seen > inc.last_seen)) inc = cand;
    }
    if (!inc) {
      const fresh = newIncident(a, now);
      incidents.set(fresh.id, fresh);
      created.set(fresh.id, fresh);
      inc = fresh;
    } else {
      inc.alert_count += 1;
      inc.severity = Math.max(inc.severity, a.alert.severity);
      inc.host ??= alertHost(a.alert);
      inc.user_name ??= alertUser(a.alert);
    }
    inc.last_seq = Math.max(inc.last_seq, a.seq);
    inc.pending_since ??= a.receivedAt;
    link(inc, a, null);
    joined.push({ incident: inc, alert: a });
    out.touched.add(inc.id);
    for (const k of keys) {
      const was = groupKey(k);
      keyMap.delete(k);
      keyMap.set(k, { incidentId: inc.id, lastSeen: Math.max(was?.lastSeen ?? 0, a.time), touchedAt: Math.max(was?.touchedAt ?? 0, a.receivedAt) });
    }
    touch(a.fingerprint, { alertId: a.alert.id, incidentId: inc.id, lastSeen: a.time, count: 1, touchedAt: a.receivedAt });
  }

  // Digests take the new alerts in arrival order (the loop above went in time order).
  joined.sort((x, y) => x.alert.seq - y.alert.seq);
  // The queue's detector and source filters (incident_facets, migration 0023): a row for each one the
  // incident's digest does not list yet, which is rare after its first alert. A listed one has its row (both
  // are written here, merge moves both); past the digest's 50 names a row may be written again, to no effect.
  // Repeats and re-deliveries need none: they have their original's detector and source.
  const facets = new Map<string, { incident_id: string; facet: 'detector' | 'source'; value: string }>();
  const facet = (incident_id: string, kind: 'detector' | 'source', value: string, listed: readonly string[]) => {
    if (!listed.includes(value)) facets.set(`${incident_id}\u0000${kind}\u0000${value}`, { incident_id, facet: kind, value });
  };
  for (const { incident, alert } of joined) {
    let digest = digests.get(incident.id);
    if (!digest) digests.set(incident.id, (digest = readDigest(incident.digest)));
    facet(incident.id, 'detector', alert.alert.detector, digest.detectors);
    facet(incident.id, 'source', alert.alert.source, digest.sources);
    foldAlert(digest, alert.alert);
  }
  for (const [id, d] of digests) incidents.get(id)!.digest = writeDigest(d);
  // A new incident's row is the object correlation went on changing.
  await insertRows(tx, 'incidents', INCIDENT_COLUMNS, [...created.values()]);
  await updateIncidents(
    tx,
    [...changed].map((id) => {
      const inc = incidents.get(id)!;
      const { alert_count, severity, first_seen, last_seen, host, user_name, last_seq, pending_since } = inc;
      // Only new alerts change the digest: a batch of repeats leaves it as it is.
      const digest = digests.has(id) ? { digest: inc.digest } : {};
      return { id, alert_count, severity, first_seen, last_seen, host, user_name, last_seq, pending_since, ...digest };
    }),
    now,
  );
  await insertRows(tx, 'incident_facets', ['incident_id', 'facet', 'value'], [...facets.values()], { onConflict: 'on conflict do nothing' });
  out.repeats = [...repeats].map(([id, r]) => ({ id, repeat_count: r.count, last_repeat_at: r.last }));
  return out;
}

const INCIDENT_COLUMNS = [
  'id', 'title', 'status', 'verdict', 'first_seen', 'last_seen', 'alert_count', 'severity', 'host', 'user_name',
  'score_total', 'score', 'decision', 'created_at', 'updated_at', 'last_seq', 'decided_seq', 'pending_since', 'digest',
] as const satisfies ReadonlyArray<keyof Incident>;

function newIncident(a: AlertIn, now: number): Incident {
  return {
    id: ulid(),
    title: a.alert.title.slice(0, 500),
    status: 'new',
    verdict: null,
    first_seen: a.time,
    last_seen: a.time,
    alert_count: 1,
    severity: a.alert.severity,
    host: alertHost(a.alert) ?? (a.alert.user?.name ? null : a.alert.src?.ip ?? null),
    user_name: alertUser(a.alert),
    score_total: null,
    score: null,
    decision: null,
    created_at: now,
    updated_at: now,
    last_seq: 0,
    decided_seq: 0,
    enriched_seq: 0,
    enrich_pass_at: null,
    enrich_pass_key: null,
    enrich_known: 0,
    pending_since: null,
    digest: null,
  };
}
