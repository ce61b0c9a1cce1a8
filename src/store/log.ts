/**
 * The intake log and its consumers' cursors (DESIGN.md §4: the log is the truth, the rest is derived).
 *
 * Records are appended in intake commits and numbered by `seq`. A consumer reads the records after its
 * cursor, derives what it derives, and moves the cursor in the SAME transaction with a compare-and-set
 * (`advanceCursor`): a worker that lost a race (another process, or itself after a lease expired) finds the
 * cursor moved and rolls back, so no record is derived twice and none is skipped.
 *
 * Readers may only trust that no record will appear below the newest seq they read if seqs commit in
 * order: SQLite has one writer at a time; on PostgreSQL `lockForAppend` serialises intake commits.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Db, Tx } from './store.js';
import type { DialectName } from './dialect.js';
import { insertRows } from './insert-rows.js';

export interface LogRecord {
  seq: number;
  id: string;
  source: string;
  detector: string | null;
  received_at: number;
  raw: string;
}

/** A record to append; `raw_base64`: its exact bytes when they are not valid UTF-8 (IntakeRecord). */
export type NewRecord = Omit<LogRecord, 'seq'> & { raw_base64: string | null; dedup_key?: string | null };

/** The consumer that turns records into alerts, context events and quarantine entries. */
export const INGEST_CURSOR = 'ingest';
const APPEND_LOCK = 727102;

/** On PostgreSQL, holds intake commits in order until this transaction ends (see above). */
export async function lockForAppend(tx: Tx, dialect: DialectName): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${APPEND_LOCK})`.execute(tx);
}

/** Appends records (inside a transaction that took lockForAppend). */
/**
 * Appends records; returns the ids of keyed records that were not stored because their (source, dedup_key) is
 * in the log already. Batches without keys take the plain insert (the hot path).
 */
export async function appendRecords(tx: Tx, records: readonly NewRecord[]): Promise<Set<string>> {
  if (!records.some((r) => r.dedup_key)) {
    await insertRows(tx, 'intake', ['id', 'source', 'detector', 'received_at', 'raw', 'raw_base64'], records);
    return new Set();
  }
  const stored = await insertRows(tx, 'intake', ['id', 'source', 'detector', 'received_at', 'raw', 'raw_base64', 'dedup_key'], records, {
    onConflict: 'on conflict (source, dedup_key) where dedup_key is not null do nothing',
    returning: ['id'],
  });
  const kept = new Set(stored.map((r) => String(r['id'])));
  return new Set(records.filter((r) => !kept.has(r.id)).map((r) => r.id));
}

/**
 * The raw text of what a row of `table` (alerts, context_events, quarantine) was derived from, in a query
 * that left-joins its record as `i`: the row's own copy where it kept one (stored before migration 0004),
 * else the record's.
 */
export function rawText(table: string): RawBuilder<string> {
  return sql<string>`coalesce(nullif(${sql.ref(`${table}.raw`)}, ''), i."raw", '')`;
}

/**
 * How a record was received, as the API shows it beside its raw text: UTF-8 text (raw is exact), or bytes
 * that were not valid UTF-8 (raw is their decoding; raw_base64 the bytes themselves).
 */
export type RawForm = { raw_encoding: 'utf-8' } | { raw_encoding: 'bytes'; raw_base64: string };

/** The RawForm of a record from its intake.raw_base64. */
export function rawForm(base64: string | null | undefined): RawForm {
  return base64 ? { raw_encoding: 'bytes', raw_base64: base64 } : { raw_encoding: 'utf-8' };
}

/** Up to `limit` records after `seq`, in log order. */
export async function readAfter(db: Db, seq: number, limit: number): Promise<LogRecord[]> {
  const rows = await db
    .selectFrom('intake')
    .select(['seq', 'id', 'source', 'detector', 'received_at', 'raw'])
    .where('seq', '>', seq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  for (const r of rows) r.seq = Number(r.seq);
  return rows;
}

export async function readCursor(db: Db, name: string): Promise<number> {
  const row = await db.selectFrom('pipeline_cursors').select('seq').where('name', '=', name).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/**
 * Moves the cursor from `from` to `to` if it is still at `from` (and, with `owner`, still leased to it);
 * false when another worker moved it first: the caller must roll back what it derived.
 */
export async function advanceCursor(tx: Tx, name: string, from: number, to: number, owner?: string): Promise<boolean> {
  let q = tx.updateTable('pipeline_cursors').set({ seq: to, updated_at: Date.now() }).where('name', '=', name).where('seq', '=', from);
  if (owner !== undefined) q = q.where('owner', '=', owner);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Takes or renews the cursor's lease for `owner` when it is free, expired or already its own; true when
 * `owner` holds it now. Several processes may run the consumer: only the holder does the work.
 */
export async function leaseCursor(db: Db, name: string, owner: string, ms: number, now = Date.now()): Promise<boolean> {
  const r = await db
    .updateTable('pipeline_cursors')
    .set({ owner, lease_until: now + ms })
    .where('name', '=', name)
    .where((eb) => eb.or([eb('owner', 'is', null), eb('owner', '=', owner), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives the lease up (at stop) so another process need not wait for it to expire. */
export async function releaseCursor(db: Db, name: string, owner: string): Promise<void> {
  await db.updateTable('pipeline_cursors').set({ owner: null, lease_until: null }).where('name', '=', name).where('owner', '=', owner).execute();
}

export interface LogBacklog {
  /** Records after the cursor. */
  records: number;
  /** received_at of the oldest of them (null when none): the consumer's lag. */
  oldestReceivedAt: number | null;
}

/** Records after the consumer's cursor (two index lookups). */
export async function logBacklogRecords(db: Db, name: string): Promise<number> {
  return (await afterCursor(db, name)).records;
}

async function afterCursor(db: Db, name: string): Promise<{ cursor: number; records: number }> {
  const cursor = await readCursor(db, name);
  const newest = await db.selectFrom('intake').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  return { cursor, records: Math.max(0, Number(newest?.seq ?? 0) - cursor) };
}

/** How far the consumer is behind the log: records, and when the oldest of them came (three index lookups). */
export async function logBacklog(db: Db, name: string): Promise<LogBacklog> {
  const { cursor, records } = await afterCursor(db, name);
  if (records === 0) return { records, oldestReceivedAt: null };
  const oldest = await db.selectFrom('intake').select('received_at').where('seq', '>', cursor).orderBy('seq').limit(1).executeTakeFirst();
  return { records, oldestReceivedAt: oldest ? Number(oldest.received_at) : null };
}
