/**
 * The incident work queue: which incidents the stages after ingest (enrich → score → decide) have to look at
 * again. One row per (stage, incident), so an incident that changes many times while it waits is worked once
 * (enqueueing it again only bumps its version). A stage claims rows with a lease, and in the same transaction
 * as its result deletes them and enqueues the next stage. A crash leaves the lease to expire and the batch is
 * redone. (Records are not queued: ingest reads the intake log after its cursor, store/log.ts.)
 */
import { sql, type QueryCreator } from 'kysely';
import type { Database } from './schema.js';
import type { Db, Store, Tx } from './store.js';
import { insertRows } from './insert-rows.js';
import { pow2ChunksOf } from '../util/chunks.js';

/** Ids per IN list when finishing items. */
const IDS_PER_STATEMENT = 500;

export const STAGES = ['enrich', 'score', 'decide'] as const;
export type StageName = (typeof STAGES)[number];

export interface ClaimedItem {
  /** Queue row id. */
  id: number;
  item_id: string;
  version: number;
  attempts: number;
}

/** Enqueues items; an item already queued for the stage is marked changed so a current claim keeps it. */
export async function enqueue(tx: Db | Tx, stage: StageName, itemIds: readonly string[], now = Date.now()): Promise<void> {
  if (itemIds.length === 0) return;
  const rows = [...new Set(itemIds)].map((item_id) => ({ stage, item_id, version: 1, available_at: now, attempts: 0, created_at: now }));
  await insertRows(tx, 'stage_queue', QUEUE_COLUMNS, rows, { onConflict: REQUEUE });
}

const QUEUE_COLUMNS = ['stage', 'item_id', 'version', 'available_at', 'attempts', 'created_at'] as const;
/**
 * Enqueued again while waiting: the version moves on, and the item keeps its place (an earlier due time
 * wins). Moving it to the back instead starved an incident that kept getting alerts: it was never due first.
 * Enqueued again while being worked (leased): it is due after this enqueue (the latest, if several), not at
 * its old due time; with that time it went ahead of everything once released, so the incidents that kept
 * changing were worked over and over while the others waited (a burst of 1,000,000 alerts held one incident
 * undecided for two minutes).
 */
const REQUEUE = `on conflict ("stage", "item_id") do update set "version" = "stage_queue"."version" + 1,
  "available_at" = case
    when "stage_queue"."lease_owner" is not null then
      case when excluded."available_at" > "stage_queue"."available_at" then excluded."available_at" else "stage_queue"."available_at" end
    when excluded."available_at" < "stage_queue"."available_at" then excluded."available_at"
    else "stage_queue"."available_at" end`;

/**
 * Makes every item of the stage that waits for a later due time due now, except items backing off after a
 * failure (released: no lease, attempts > 0). A read first: after most batches there is nothing to bring
 * forward, and an UPDATE would write anyway.
 */
export async function dueNow(tx: Tx, stage: StageName, now = Date.now()): Promise<void> {
  const waiting = sql<boolean>`"stage" = ${stage} and "available_at" > ${now} and ("attempts" = 0 or "lease_owner" is not null)`;
  if ((await tx.selectFrom('stage_queue').select('id').where(waiting).limit(1).execute()).length === 0) return;
  await tx.updateTable('stage_queue').set({ available_at: now }).where(waiting).execute();
}

/** The stage's items that are due and not leased. */
const claimable = (db: QueryCreator<Database>, stage: StageName, now: number) =>
  db
    .selectFrom('stage_queue')
    .select('id')
    .where('stage', '=', stage)
    .where('available_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]));

export async function claim(
  store: Pick<Store, 'db' | 'skipLocked'>,
  stage: StageName,
  owner: string,
  limit: number,
  leaseMs: number,
  now = Date.now(),
): Promise<ClaimedItem[]> {
  // An UPDATE takes the write lock even when it matches nothing; a stage woken by every commit would make
  // intake wait for its empty claims. A read finds out first (the UPDATE below stays the atomic claim).
  if (!(await hasDueItems(store.db, stage, now))) return [];
  // A MATERIALIZED CTE: otherwise PostgreSQL may plan the locking subquery as a nested loop that re-runs
  // per row and claims more than `limit` rows, starving the other workers.
  const rows = await store.db
    .with(
      (cte) => cte('picked').materialized(),
      (db) => {
        let pick = claimable(db, stage, now)
          // In the claim index's order, so the scan stops at `limit` rows; ordered by id alone, every claim
          // read and sorted the stage's whole backlog (100,000 rows in a burst).
          .orderBy('available_at')
          .orderBy('id')
          .limit(limit);
        if (store.skipLocked) pick = pick.forUpdate().skipLocked();
        return pick;
      },
    )
    .updateTable('stage_queue')
    .set({ lease_owner: owner, lease_until: now + leaseMs, attempts: sql<number>`attempts + 1` })
    .where('id', 'in', (eb) => eb.selectFrom('picked').select('picked.id'))
    .returning(['id', 'item_id', 'version', 'attempts'])
    .execute();
  return rows.sort((a, b) => a.id - b.id);
}

/**
 * Claims inside a write transaction that will also finish the items (the SQLite path for store-only stages):
 * no lease is written, because no one else can take them before the transaction ends, and a crash rolls the
 * claim back with the rest. `onlyIds` narrows the claim to those queue rows (redoing a failed batch item by
 * item). `attempts` counts this one, as claim() would have stored it.
 */
export async function claimInTransaction(
  tx: Tx,
  stage: StageName,
  limit: number,
  opts: { now?: number; onlyIds?: readonly number[] } = {},
): Promise<ClaimedItem[]> {
  let q = claimable(tx, stage, opts.now ?? Date.now()).select(['item_id', 'version', 'attempts']);
  if (opts.onlyIds) q = q.where('id', 'in', [...opts.onlyIds]);
  const rows = await q.orderBy('available_at').orderBy('id').limit(limit).execute();
  return rows.map((r) => ({ id: r.id, item_id: r.item_id, version: r.version, attempts: r.attempts + 1 }));
}

/** Whether the stage has an item due (a read: it takes no lock). */
export async function hasDueItems(db: Db, stage: StageName, now = Date.now()): Promise<boolean> {
  return (await claimable(db, stage, now).limit(1).executeTakeFirst()) !== undefined;
}

/** Removes finished items; one re-enqueued meanwhile (version moved on) is released to run again. */
export async function complete(tx: Tx, items: readonly ClaimedItem[]): Promise<void> {
  const byVersion = new Map<number, number[]>();
  for (const it of items) {
    const ids = byVersion.get(it.version) ?? [];
    ids.push(it.id);
    byVersion.set(it.version, ids);
  }
  let deleted = 0;
  for (const [version, ids] of byVersion) {
    for (const chunk of pow2ChunksOf(ids, IDS_PER_STATEMENT)) {
      const r = await tx.deleteFrom('stage_queue').where('id', 'in', chunk).where('version', '=', version).executeTakeFirst();
      deleted += Number(r.numDeletedRows);
    }
  }
  // Usually every item is gone now; only the re-enqueued ones (if any) need their lease released.
  if (deleted === items.length) return;
  for (const chunk of pow2ChunksOf(items.map((i) => i.id), IDS_PER_STATEMENT)) {
    await tx.updateTable('stage_queue').set({ lease_owner: null, lease_until: null, attempts: 0 }).where('id', 'in', chunk).execute();
  }
}

/**
 * Puts failed items back with a delay and the error, so the failure is visible in the backlog. Their attempts
 * are stored as counted at the claim (a claim in a rolled-back transaction stored none).
 */
export async function release(db: Db, items: readonly ClaimedItem[], error: string, retryAt: number): Promise<void> {
  if (items.length === 0) return;
  await db
    .updateTable('stage_queue')
    .set({ lease_owner: null, lease_until: null, available_at: retryAt, last_error: error.slice(0, 2000), attempts: Math.max(...items.map((i) => i.attempts)) })
    .where('id', 'in', items.map((i) => i.id))
    .execute();
}

/** Per stage: incidents waiting, and since when the oldest has waited (null when none). */
export async function backlog(db: Db): Promise<Record<StageName, { items: number; oldest: number | null }>> {
  const rows = await db
    .selectFrom('stage_queue')
    .select(['stage', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min('created_at').as('oldest')])
    .groupBy('stage')
    .execute();
  const out = Object.fromEntries(STAGES.map((s) => [s, { items: 0, oldest: null }])) as Record<StageName, { items: number; oldest: number | null }>;
  for (const r of rows) {
    if ((STAGES as readonly string[]).includes(r.stage)) out[r.stage as StageName] = { items: Number(r.n), oldest: r.oldest === null ? null : Number(r.oldest) };
  }
  return out;
}
