/**
 * Dedup state: each fingerprint's latest original alert, kept in the memory of the worker that holds the
 * ingest cursor instead of in a table. Only ingest reads or writes it, and the alert rows already hold
 * everything it is made of (fingerprint, incident, repeat_count, last_repeat_at, duplicate_of), so it is
 * rebuilt from the alerts received lately whenever a worker (re)reads the cursor: at start, after losing
 * the lease, after another worker moved the cursor. A table of it cost a random-key b-tree insert per alert
 * (bench/sqlite-floor.ts: 12.6 of 66 µs, most of it in commit) and a read per batch.
 *
 * What is remembered: the fingerprints that alerts received within `keepMs` touched (the dedup window and
 * an hour's slack, so detectors that report late still meet their earlier alerts), at most `max` of them.
 * A repeat of a fingerprint forgotten sooner becomes an alert of its own, grouped into its incident by the
 * grouping keys as any alert: more work, never a lost alert.
 */
import type { Db } from '../../store/store.js';
import { selectInChunks } from '../../util/chunks.js';
import { encodeBase32 } from '../../util/ulid.js';
import { NumberColumn, RecentSlots, type RecentLimits } from './recent.js';

export interface FingerprintEntry {
  /** The original alert (the repeats are its duplicates). */
  alertId: string;
  incidentId: string | null;
  /** Alert time of the original or its newest repeat. */
  lastSeen: number;
  /** The original and its repeats (the original's repeat_count). */
  count: number;
  /** When the newest record that touched it was received (what forgetting goes by). */
  touchedAt: number;
}

export type FingerprintLimits = RecentLimits;

/** Besides the dedup window, how long a fingerprint is remembered after its last alert was received. */
export const FINGERPRINT_SLACK_MS = 3_600_000;
export const DEFAULT_MAX_FINGERPRINTS = 1_000_000;

export class Fingerprints {
  readonly #recent: RecentSlots;
  readonly #alertIds: string[] = [];
  readonly #incidentIds: Array<string | null> = [];
  readonly #lastSeen = new NumberColumn();
  readonly #count = new NumberColumn();

  constructor(limits: FingerprintLimits) {
    this.#recent = new RecentSlots(limits, (s) => {
      this.#alertIds[s] = '';
      this.#incidentIds[s] = null;
    });
  }

  get size(): number {
    return this.#recent.size;
  }

  get(fingerprint: string): FingerprintEntry | undefined {
    const s = this.#recent.slotOf(fingerprint);
    if (s === undefined) return undefined;
    return { alertId: this.#alertIds[s]!, incidentId: this.#incidentIds[s]!, lastSeen: this.#lastSeen.get(s), count: this.#count.get(s), touchedAt: this.#recent.touchedAt(s) };
  }

  /** Takes in what a committed batch changed (never before the commit: a rolled-back batch changes nothing). */
  apply(changes: ReadonlyMap<string, FingerprintEntry>): void {
    const newest = this.#recent.takeIn(changes, (s, e) => {
      this.#alertIds[s] = e.alertId;
      this.#incidentIds[s] = e.incidentId;
      this.#lastSeen.set(s, e.lastSeen);
      this.#count.set(s, e.count);
    });
    if (newest > 0) this.#recent.forget(newest);
  }

  /**
   * The state as ingest left it when the log was derived up to a record received at `now`: every alert
   * received since `now - keepMs` (alert ids begin with their record's receive time), each repeat resolved
   * to its original, the newest original of each fingerprint winning.
   */
  static async load(db: Db, now: number, limits: FingerprintLimits): Promise<Fingerprints> {
    const out = new Fingerprints(limits);
    const from = encodeBase32(Math.max(0, now - limits.keepMs), 10);
    const recent = await columns(db).where('id', '>=', from).execute();
    type Row = (typeof recent)[number];
    const byId = new Map<string, Row>(recent.map((r) => [r.id, r]));
    // A repeat's original may have been received earlier; a re-delivery names the alert it re-delivers,
    // which may itself be a repeat (hence more than one round).
    for (let round = 0; round < 3; round++) {
      const wanted = [...new Set([...byId.values()].flatMap((r) => (r.duplicate_of && !byId.has(r.duplicate_of) ? [r.duplicate_of] : [])))];
      if (wanted.length === 0) break;
      for (const r of await selectInChunks(wanted, 512, (chunk) => columns(db).where('id', 'in', chunk).execute())) byId.set(r.id, r);
    }
    const rootOf = (r: Row): Row | undefined => {
      for (let hop = 0; hop < 4 && r.duplicate_of; hop++) {
        const up = byId.get(r.duplicate_of);
        if (!up) return undefined;
        r = up;
      }
      return r.duplicate_of ? undefined : r;
    };
    // In log order, so that a newer original of a fingerprint replaces an older one, as ingest did.
    recent.sort((a, b) => Number(a.seq ?? 0) - Number(b.seq ?? 0) || (a.id < b.id ? -1 : 1));
    const changes = new Map<string, FingerprintEntry>();
    for (const r of recent) {
      const original = rootOf(r);
      if (!original?.fingerprint) continue;
      const current = changes.get(original.fingerprint);
      if (current && current.alertId !== original.id && r.duplicate_of) continue; // a repeat of an original since replaced
      changes.delete(original.fingerprint);
      changes.set(original.fingerprint, {
        alertId: original.id,
        incidentId: original.incident_id,
        lastSeen: Math.max(Number(original.time), Number(original.last_repeat_at ?? 0)),
        count: Number(original.repeat_count),
        touchedAt: Math.max(current?.alertId === original.id ? current.touchedAt : 0, Number(r.received_at)),
      });
    }
    out.apply(changes);
    return out;
  }
}

const columns = (db: Db) =>
  db.selectFrom('alerts').select(['id', 'seq', 'fingerprint', 'incident_id', 'duplicate_of', 'time', 'received_at', 'repeat_count', 'last_repeat_at']);
