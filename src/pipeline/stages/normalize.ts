/**
 * normalize: raw intake records → canonical alerts (or context events, or quarantine). Hands new alerts to
 * correlate. A re-delivered alert (same source, detector and vendor_id) is stored once.
 */
import type { Stage } from '../stage.js';
import type { ClaimedItem } from '../../store/queue.js';
import { enqueue } from '../../store/queue.js';
import { insertRows } from '../../store/insert-rows.js';
import type { Db, Store, Tx } from '../../store/store.js';
import type { AlertDraft, Alert } from '../../model/alert.js';
import { severityLabel } from '../../model/alert.js';
import type { ContextEvent } from '../../detectors/detector.js';
import { alertFingerprint } from '../../correlate/fingerprint.js';
import { ulid } from '../../util/ulid.js';
import { iso } from '../../util/time.js';
import { quarantined } from '../../metrics.js';
import { chunksOf, selectInChunks } from '../../util/chunks.js';

export type NormalizeResult =
  | { detector: string; alerts: AlertDraft[] }
  | { detector: string; context: ContextEvent[] }
  | { error: string; detector?: string };

/** The detector registry as the stage sees it (detectors/lib/registry.ts provides it). */
export interface RecordNormalizer {
  /** `receivedAt` makes a redone batch yield the same alerts (year inference, records without a time). */
  normalize(text: string, detector: string | null, opts: { receivedAt: Date; timeZone?: string }): NormalizeResult;
}

interface IntakeRow {
  id: string;
  source: string;
  detector: string | null;
  received_at: number;
  raw: string;
}

interface Computed {
  alerts: Array<{ alert: Alert; fingerprint: string; intakeId: string }>;
  context: Array<{ id: string; source: string; detector: string; event: ContextEvent; raw: string }>;
  quarantine: Array<{ row: IntakeRow; reason: string; detector: string | null }>;
  /** Set by write(): the alerts it stored (a re-delivered one is not stored again). */
  stored?: Alert[];
}

const CHUNK = 200;

/**
 * @param timeZones source name → IANA zone (or offset) of that source's zone-less timestamps (syslog 3164…).
 */
export function createNormalizeStage(
  store: Store,
  normalizer: RecordNormalizer,
  timeZones: ReadonlyMap<string, string> = new Map(),
  batchSize = 500,
): Stage<Computed> {
  const zoneOf = (source: string): { timeZone?: string } => {
    const tz = timeZones.get(source);
    return tz ? { timeZone: tz } : {};
  };
  return {
    name: 'normalize',
    next: ['correlate'],
    batchSize,
    async compute(items: readonly ClaimedItem[], db: Db): Promise<Computed> {
      const ids = items.map((i) => i.item_id);
      const rows: IntakeRow[] = await selectInChunks(ids, CHUNK, (chunk) => db.selectFrom('intake').selectAll().where('id', 'in', chunk).execute());
      rows.sort((a, b) => (a.id < b.id ? -1 : 1));
      const out: Computed = { alerts: [], context: [], quarantine: [] };
      for (const row of rows) {
        const r = normalizer.normalize(row.raw, row.detector, { receivedAt: new Date(row.received_at), ...zoneOf(row.source) });
        if ('error' in r) {
          out.quarantine.push({ row, reason: r.error, detector: r.detector ?? row.detector });
        } else if ('context' in r) {
          r.context.forEach((event, i) => out.context.push({ id: i === 0 ? row.id : ulid(), source: row.source, detector: r.detector, event, raw: row.raw }));
        } else {
          r.alerts.forEach((draft, i) => {
            const alert: Alert = {
              ...draft,
              id: i === 0 ? row.id : ulid(row.received_at),
              source: row.source,
              detector: r.detector,
              received_at: iso(row.received_at),
              severity_label: draft.severity_label ?? severityLabel(draft.severity),
              raw: row.raw,
            };
            out.alerts.push({ alert, fingerprint: alertFingerprint(row.source, r.detector, draft), intakeId: row.id });
          });
        }
      }
      return out;
    },
    async write(tx: Tx, _items, c: Computed): Promise<void> {
      const inserted: string[] = [];
      c.stored = [];
      for (const chunk of chunksOf(c.alerts, CHUNK)) {
        const ids = await insertRows(
          tx,
          'alerts',
          ALERT_COLUMNS,
          chunk.map(({ alert, fingerprint, intakeId }) => alertRow(alert, fingerprint, intakeId)),
          { onConflict: 'on conflict ("source", "detector", "vendor_id") do nothing', returning: ['id'] },
        );
        const fresh = new Set(ids.map((r) => r.id as string));
        const obs = chunk
          .filter(({ alert }) => fresh.has(alert.id))
          .flatMap(({ alert }) =>
            alert.observables.map((o) => ({ alert_id: alert.id, type: o.type, value: o.value, role: o.role, time: Date.parse(alert.time) })),
          );
        await insertRows(tx, 'observables', ['alert_id', 'type', 'value', 'role', 'time'], obs, { onConflict: 'on conflict do nothing' });
        inserted.push(...fresh);
        for (const { alert } of chunk) if (fresh.has(alert.id)) c.stored.push(alert);
      }
      for (const chunk of chunksOf(c.context, CHUNK)) {
        const rows = chunk.map((e) => ({
          id: e.id,
          source: e.source,
          detector: e.detector,
          kind: e.event.kind,
          time: Date.parse(e.event.time) || Date.now(),
          doc: JSON.stringify(e.event),
          raw: e.raw,
        }));
        await tx.insertInto('context_events').values(rows).onConflict((oc) => oc.column('id').doNothing()).execute();
      }
      for (const chunk of chunksOf(c.quarantine, CHUNK)) {
        const rows = chunk.map(({ row, reason, detector }) => ({
          id: row.id,
          intake_id: row.id,
          source: row.source,
          detector,
          reason: reason.slice(0, 2000),
          raw: row.raw,
          created_at: Date.now(),
          replayed_at: null,
        }));
        await tx.insertInto('quarantine').values(rows).onConflict((oc) => oc.column('intake_id').doNothing()).execute();
      }
      await enqueue(tx, 'correlate', inserted);
    },
    // Counted after commit, so a batch redone after a crash is not counted twice.
    afterCommit(_items, c: Computed) {
      for (const q of c.quarantine) quarantined.inc({ source: q.row.source });
      // The next stages read these alerts again.
      for (const alert of c.stored ?? []) store.alertDocs.remember(alert.id, alert);
    },
  };
}


const ALERT_COLUMNS = [
  'id', 'intake_id', 'source', 'detector', 'vendor_id', 'fingerprint', 'time', 'received_at', 'title', 'severity',
  'rule_id', 'host', 'user_name', 'incident_id', 'repeat_count', 'last_repeat_at', 'doc', 'raw',
] as const satisfies ReadonlyArray<keyof ReturnType<typeof alertRow>>;

function alertRow(alert: Alert, fingerprint: string, intakeId: string) {
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
    doc: JSON.stringify(doc),
    raw,
  };
}
