/**
 * What became of an intake record (DESIGN.md §4: every acknowledged record reaches exactly one final state
 * and its id answers which): an alert, a duplicate of an alert, a context event, a quarantine entry, or —
 * only while the log's consumer has not reached it — pending.
 */
import { sql } from 'kysely';
import type { Db } from './store.js';
import { INGEST_CURSOR, rawForm, rawText, readCursor, type RawForm } from './log.js';
import { toAlert } from './incidents.js';
import { parseStored } from '../util/json.js';
import { iso } from '../util/time.js';

export type RecordFate =
  | { fate: 'alert'; alert: StoredAlert; decided_at: string | null }
  | { fate: 'duplicate'; alert: StoredAlert; duplicate_of: string; repeat_count: number }
  | ({ fate: 'context'; id: string; kind: string; source: string; detector: string; time: string; event: Record<string, unknown>; raw: string } & RawForm)
  | ({ fate: 'quarantined'; id: string; source: string; detector: string | null; reason: string; raw: string; replayed_as: string | null } & RawForm)
  | { fate: 'pending'; id: string; source: string; received_at: string; records_ahead: number };

export type StoredAlert = ReturnType<typeof toAlert>;

/** The fate of the record (or of one alert of it) with this id; null when no such id was ever accepted. */
export async function recordFate(db: Db, id: string): Promise<RecordFate | null> {
  const alert = await alertById(db, id);
  if (alert) {
    if (alert.duplicate_of) {
      const original = await db.selectFrom('alerts').select('repeat_count').where('id', '=', alert.duplicate_of).executeTakeFirst();
      return { fate: 'duplicate', alert: alert.alert, duplicate_of: alert.duplicate_of, repeat_count: original?.repeat_count ?? 1 };
    }
    return { fate: 'alert', alert: alert.alert, decided_at: await alertDecidedAt(db, alert) };
  }
  const context = await db
    .selectFrom('context_events as c')
    .leftJoin('intake as i', 'i.id', 'c.intake_id')
    .select(['c.id', 'c.kind', 'c.source', 'c.detector', 'c.time', 'c.doc', rawText('c').as('raw'), 'i.raw_base64'])
    .where('c.id', '=', id)
    .executeTakeFirst();
  if (context) {
    return {
      fate: 'context',
      id: context.id,
      kind: context.kind,
      source: context.source,
      detector: context.detector,
      time: iso(Number(context.time)),
      event: parseStored<Record<string, unknown>>(context.doc, 'context event') ?? {},
      raw: context.raw,
      ...rawForm(context.raw_base64),
    };
  }
  const q = await db
    .selectFrom('quarantine as q')
    .leftJoin('intake as i', 'i.id', 'q.intake_id')
    .select(['q.id', 'q.source', 'q.detector', 'q.reason', 'q.replayed_as', rawText('q').as('raw'), 'i.raw_base64'])
    .where('q.intake_id', '=', id)
    .executeTakeFirst();
  if (q) return { fate: 'quarantined', id: q.id, source: q.source, detector: q.detector, reason: q.reason, raw: q.raw, replayed_as: q.replayed_as, ...rawForm(q.raw_base64) };
  const record = await db.selectFrom('intake').select(['seq', 'source', 'received_at']).where('id', '=', id).executeTakeFirst();
  if (!record) return null;
  const cursor = await readCursor(db, INGEST_CURSOR);
  // At or below the cursor yet with no fate would break the invariant: say so rather than answer "pending".
  if (Number(record.seq) <= cursor) throw new Error(`record ${id} was ingested but has no fate (seq ${record.seq}, cursor ${cursor})`);
  return { fate: 'pending', id, source: record.source, received_at: iso(Number(record.received_at)), records_ahead: Number(record.seq) - cursor - 1 };
}

interface AlertRowFound {
  alert: StoredAlert;
  duplicate_of: string | null;
  seq: number | null;
  incident_id: string | null;
  decided_at: number | null;
}

async function alertById(db: Db, id: string): Promise<AlertRowFound | null> {
  const select = () =>
    db
      .selectFrom('alerts as a')
      .leftJoin('intake as i', 'i.id', 'a.intake_id')
      .select(['a.doc', 'a.repeat_count', 'a.incident_id', 'a.duplicate_of', 'a.seq', 'a.decided_at', rawText('a').as('raw'), 'i.raw_base64']);
  // An alert's id, or the id of the record it came from (its first alert).
  const row = (await select().where('a.id', '=', id).executeTakeFirst()) ?? (await select().where('a.intake_id', '=', id).orderBy('a.id').executeTakeFirst());
  if (!row) return null;
  return {
    alert: toAlert(row),
    duplicate_of: row.duplicate_of,
    seq: row.seq === null ? null : Number(row.seq),
    incident_id: row.incident_id,
    decided_at: row.decided_at === null ? null : Number(row.decided_at),
  };
}

/** When the alert's incident was first decided with the alert in view (null: not yet). */
async function alertDecidedAt(db: Db, a: AlertRowFound): Promise<string | null> {
  if (a.decided_at !== null) return iso(a.decided_at); // stamped by the pipeline before migration 0004
  if (a.incident_id === null || a.seq === null) return null;
  const mark = await db
    .selectFrom('decision_marks')
    .select((eb) => eb.fn.min('at').as('at'))
    .where('incident_id', '=', a.incident_id)
    .where('through_seq', '>=', a.seq)
    .executeTakeFirst();
  return mark?.at == null ? null : iso(Number(mark.at));
}

/**
 * Alerts stored and how many of them a decision has seen (duplicates excluded: they make no decision), for
 * the warm-up, tests and the benchmark.
 */
export async function decidedCounts(db: Db): Promise<{ alerts: number; decided: number; duplicates: number; incidents: number }> {
  const row = await sql<{ alerts: number; decided: number; duplicates: number; incidents: number }>`
    select sum(case when a.duplicate_of is null then 1 else 0 end) as alerts,
      sum(case when a.duplicate_of is null and (n.decided_seq >= a.seq or a.decided_at is not null) then 1 else 0 end) as decided,
      sum(case when a.duplicate_of is null then 0 else 1 end) as duplicates,
      count(distinct a.incident_id) as incidents
    from alerts a left join incidents n on n.id = a.incident_id`.execute(db);
  const r = row.rows[0];
  return { alerts: Number(r?.alerts ?? 0), decided: Number(r?.decided ?? 0), duplicates: Number(r?.duplicates ?? 0), incidents: Number(r?.incidents ?? 0) };
}
