/**
 * Grouping state: for each grouping key (correlate/keys.ts), the incident it last joined and the time of its
 * newest alert, kept in the memory of the worker that holds the ingest cursor instead of in a table upserted
 * for every alert. That table (incident_keys, dropped by migration 0011) was a random-key b-tree insert per
 * key, which made SQLite slower the more it held (bench/sqlite-floor.ts --model=upserts measures it).
 *
 * Unlike the dedup state, it cannot be rebuilt cheaply from the alert rows (the keys come from each alert's
 * document, a group window of them to parse), so each batch appends the keys it changed to a log,
 * incident_key_log, in the transaction that moves the cursor, at the position of that cursor (`pos`): an
 * append at the end of one b-tree. A worker that (re)reads the cursor reads the log back, newest first, the
 * newest row of each key winning. Rows older than what is kept are deleted now and then, a range at the
 * log's start.
 *
 * What is remembered: the keys that alerts received within `keepMs` touched (the group window and an hour's
 * slack, as for fingerprints), at most `max`. An alert whose key was forgotten sooner opens an incident of
 * its own instead of joining: grouped apart, never lost.
 */
import type { Db, Tx } from '../../store/store.js';
import { insertRows } from '../../store/insert-rows.js';
import { NumberColumn, RecentSlots, type RecentLimits } from './recent.js';

export interface GroupKeyEntry {
  incidentId: string;
  /** Time of the newest alert that carried the key (what the group window goes by). */
  lastSeen: number;
  /** When the newest record that touched it was received (what forgetting goes by). */
  touchedAt: number;
}

export const GROUP_KEY_SLACK_MS = 3_600_000;
export const DEFAULT_MAX_GROUP_KEYS = 1_000_000;
/** How often at most the log's old rows are deleted (a statement in an ingest batch's transaction). */
const PRUNE_EVERY_MS = 60_000;
const LOAD_PAGE = 10_000;

export class GroupKeys {
  readonly #recent: RecentSlots;
  readonly #incidentIds: string[] = [];
  readonly #lastSeen = new NumberColumn();
  /** Per batch appended to the log, oldest first: its position and the newest touch in it. */
  readonly #positions: Array<{ pos: number; newest: number }> = [];
  #prunedAt = 0;

  constructor(readonly limits: RecentLimits) {
    this.#recent = new RecentSlots(limits, (s) => {
      this.#incidentIds[s] = '';
    });
  }

  get size(): number {
    return this.#recent.size;
  }

  get(key: string): GroupKeyEntry | undefined {
    const s = this.#recent.slotOf(key);
    if (s === undefined) return undefined;
    return { incidentId: this.#incidentIds[s]!, lastSeen: this.#lastSeen.get(s), touchedAt: this.#recent.touchedAt(s) };
  }

  /**
   * Appends what a batch changed to the log at `pos` (the cursor the batch moves to), inside its
   * transaction; and, at most once a minute (by `now`), deletes the rows of batches no longer remembered.
   */
  async write(tx: Tx, pos: number, changes: ReadonlyMap<string, GroupKeyEntry>, now: number): Promise<void> {
    if (changes.size > 0) {
      await insertRows(
        tx,
        'incident_key_log',
        LOG_COLUMNS,
        Array.from(changes, ([key, e]) => ({ pos, key, incident_id: e.incidentId, last_seen: e.lastSeen, received_at: e.touchedAt })),
      );
    }
    if (now - this.#prunedAt < PRUNE_EVERY_MS) return;
    this.#prunedAt = now;
    let newest = this.#positions.at(-1)?.newest ?? 0;
    for (const e of changes.values()) if (e.touchedAt > newest) newest = e.touchedAt;
    const upTo = this.#prunable(newest);
    if (upTo !== undefined) await tx.deleteFrom('incident_key_log').where('pos', '<=', upTo).execute();
  }

  /** Takes in what a committed batch at `pos` changed (never before the commit). */
  apply(pos: number, changes: ReadonlyMap<string, GroupKeyEntry>): void {
    const newest = this.#take(changes);
    if (newest === 0) return;
    const last = this.#positions.at(-1);
    if (last?.pos === pos) last.newest = Math.max(last.newest, newest);
    else this.#positions.push({ pos, newest });
    this.#recent.forget(newest);
  }

  /** Puts the entries in; returns the newest touch among them (0: none). */
  #take(changes: ReadonlyMap<string, GroupKeyEntry>): number {
    return this.#recent.takeIn(changes, (s, e) => {
      this.#incidentIds[s] = e.incidentId;
      this.#lastSeen.set(s, e.lastSeen);
    });
  }

  /**
   * The last position whose rows are all older than what is kept, going by the newest touch as forgetting
   * does (the batches' newest touches go up with their positions).
   */
  #prunable(newest: number): number | undefined {
    const before = newest - this.limits.keepMs;
    let upTo: number | undefined;
    let n = 0;
    while (n < this.#positions.length && this.#positions[n]!.newest < before) upTo = this.#positions[n++]!.pos;
    this.#positions.splice(0, n);
    return upTo;
  }

  /**
   * The state as ingest left it: the log read back from its newest row, the newest row of each key winning,
   * until `max` keys are known or a whole page is older than what is kept before `now` (when the record
   * at the cursor was received). Every position read is remembered, old ones too, so that the first prune
   * deletes what an earlier worker left.
   */
  static async load(db: Db, now: number, limits: RecentLimits): Promise<GroupKeys> {
    const out = new GroupKeys(limits);
    const before = now - limits.keepMs;
    const newest = new Map<string, GroupKeyEntry>();
    const positions = new Map<number, number>(); // pos → newest touch
    let after: { pos: number; key: string } | undefined;
    for (;;) {
      let q = db.selectFrom('incident_key_log').select(['pos', 'key', 'incident_id', 'last_seen', 'received_at']);
      if (after) {
        const { pos, key } = after;
        q = q.where((eb) => eb.or([eb('pos', '<', pos), eb.and([eb('pos', '=', pos), eb('key', '<', key)])]));
      }
      const page = await q.orderBy('pos', 'desc').orderBy('key', 'desc').limit(LOAD_PAGE).execute();
      let recent = false;
      for (const r of page) {
        const pos = Number(r.pos);
        const touchedAt = Number(r.received_at);
        positions.set(pos, Math.max(positions.get(pos) ?? 0, touchedAt));
        if (touchedAt < before) continue;
        recent = true;
        if (!newest.has(r.key)) newest.set(r.key, { incidentId: r.incident_id, lastSeen: Number(r.last_seen), touchedAt });
      }
      if (page.length < LOAD_PAGE || !recent || newest.size >= limits.max) break;
      const last = page[page.length - 1]!;
      after = { pos: Number(last.pos), key: last.key };
    }
    // Taken in oldest first, as ingest took them, so the least recently touched are forgotten first.
    const entries = [...newest].sort((a, b) => a[1].touchedAt - b[1].touchedAt);
    const latest = out.#take(new Map(entries));
    for (const [pos, touched] of [...positions].sort((a, b) => a[0] - b[0])) out.#positions.push({ pos, newest: touched });
    if (latest > 0) out.#recent.forget(latest);
    return out;
  }
}

const LOG_COLUMNS = ['pos', 'key', 'incident_id', 'last_seen', 'received_at'] as const;
