/**
 * The store's change feed (issue 18): incidents and actions as they change, read from the tables themselves
 * in (updated_at, id) order, so that a change committed by ANY process sharing the store is seen — the
 * pipeline, the action executor and the API may all run elsewhere.
 *
 * One reader per process serves every subscriber: it is woken by `store.watchCommits` (other connections'
 * commits) and by a poll every 250 ms (this process's own commits, which SQLite's data_version does not show, and
 * PostgreSQL writes that notify nothing, such as incident updates), and reads at most once per `coalesceMs`
 * however many commits and subscribers there are. A read takes up to `pageSize` rows per table past its
 * position, and runs again at once while pages come back full.
 *
 * Late commits: a transaction may commit after one that stamped a later updated_at (clocks of several
 * processes, a slow transaction). Each read also looks `lateMs` behind its position and emits versions
 * (id, updated_at) it has not emitted yet; such an event is flagged `late` (it is behind the cursor, so a
 * client resuming from a later cursor does not get it again — and would not get it at all if it was
 * disconnected at the time; the `reset` event tells such clients to reload).
 *
 * Cursors are opaque to clients: base64url of [incident updated_at, incident id, action updated_at, action id].
 */
import { sql } from 'kysely';
import type { Db, Store } from './store.js';
import { errorContext, log } from '../util/log.js';

export type FeedTable = 'incident' | 'action';
/** A position in one table: (updated_at, id) of the last row read. */
export type Position = readonly [number, string];
export interface FeedCursor {
  incident: Position;
  action: Position;
}

export interface FeedEvent {
  type: FeedTable;
  /** The row's own position. */
  position: Position;
  /** The feed's cursor once this event is applied (what a client resumes from). */
  cursor: string;
  /** Behind the cursor: a commit that landed after later-stamped rows were read. */
  late: boolean;
  /** The incident's score_total (null for actions and unscored incidents), for min_score filters. */
  score: number | null;
  /** The event's JSON (serialised once for all subscribers). */
  data: string;
}

export interface ChangeFeedOptions {
  /**
   * Reads when nothing wakes the feed (default 250 ms: the live queue shows an alert within a second of its POST; an
   * idle read is one indexed range query per table).
   */
  pollMs?: number;
  /** At most one read per this many ms (default 100). */
  coalesceMs?: number;
  /** Rows per table per read (default 1000). */
  pageSize?: number;
  /** How far behind its position a read looks for late commits (default 2 s). */
  lateMs?: number;
}

export type FeedListener = (events: readonly FeedEvent[]) => void;

const START: Position = [0, ''];

export function encodeCursor(c: FeedCursor): string {
  return Buffer.from(JSON.stringify([c.incident[0], c.incident[1], c.action[0], c.action[1]])).toString('base64url');
}

/** The cursor a client sent, or null when it is not one of ours (then the client gets a reset). */
export function decodeCursor(text: string): FeedCursor | null {
  if (text.length > 400) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 4) return null;
  const [it, ii, at, ai] = v as unknown[];
  const ts = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  const id = (x: unknown): x is string => typeof x === 'string' && x.length <= 64;
  if (!ts(it) || !id(ii) || !ts(at) || !id(ai)) return null;
  return { incident: [it, ii], action: [at, ai] };
}

const after = (a: Position, b: Position): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
const maxPos = (a: Position, b: Position): Position => (after(a, b) ? a : b);

interface Row {
  type: FeedTable;
  position: Position;
  score: number | null;
  doc: Record<string, unknown>;
}

function decisionOf(text: string | null): { outcome: unknown; rule: unknown } | null {
  if (!text) return null;
  try {
    const d = JSON.parse(text) as { outcome?: unknown; rule?: unknown };
    return { outcome: d.outcome ?? null, rule: d.rule ?? null };
  } catch {
    return null;
  }
}

/** Incident rows strictly after `from` and at most `to` (when given), oldest first. */
async function incidentRows(db: Db, from: Position, to: Position | null, limit: number, newestFirst = false): Promise<Row[]> {
  let q = db
    .selectFrom('incidents')
    .select(['id', 'title', 'status', 'score_total', 'decision', 'assignee', 'updated_at'])
    .where(sql<boolean>`(updated_at, id) > (${from[0]}, ${from[1]})`);
  if (to) q = q.where(sql<boolean>`(updated_at, id) <= (${to[0]}, ${to[1]})`);
  const dir = newestFirst ? 'desc' : 'asc';
  const rows = await q.orderBy('updated_at', dir).orderBy('id', dir).limit(limit).execute();
  return rows.map((r) => {
    const score = r.score_total === null ? null : Number(r.score_total);
    const updated = Number(r.updated_at);
    return {
      type: 'incident' as const,
      position: [updated, r.id] as const,
      score,
      doc: { id: r.id, title: r.title, status: r.status, score, decision: decisionOf(r.decision), assignee: r.assignee, updated_at: updated },
    };
  });
}

async function actionRows(db: Db, from: Position, to: Position | null, limit: number, newestFirst = false): Promise<Row[]> {
  let q = db
    .selectFrom('actions')
    .select(['id', 'incident_id', 'kind', 'target', 'state', 'updated_at'])
    .where(sql<boolean>`(updated_at, id) > (${from[0]}, ${from[1]})`);
  if (to) q = q.where(sql<boolean>`(updated_at, id) <= (${to[0]}, ${to[1]})`);
  const dir = newestFirst ? 'desc' : 'asc';
  const rows = await q.orderBy('updated_at', dir).orderBy('id', dir).limit(limit).execute();
  return rows.map((r) => {
    const updated = Number(r.updated_at);
    return {
      type: 'action' as const,
      position: [updated, r.id] as const,
      score: null,
      doc: { id: r.id, incident_id: r.incident_id, kind: r.kind, target: r.target, state: r.state, updated_at: updated },
    };
  });
}

/** Rows of both tables merged in time order, each with the cursor after it (starting from `cursor`). */
function toEvents(rows: Row[], cursor: FeedCursor, late = false): { events: FeedEvent[]; cursor: FeedCursor } {
  rows.sort((a, b) => a.position[0] - b.position[0] || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) || (a.position[1] < b.position[1] ? -1 : 1));
  let c = cursor;
  const events = rows.map((r): FeedEvent => {
    if (!late) c = { ...c, [r.type]: maxPos(c[r.type], r.position) };
    return { type: r.type, position: r.position, cursor: encodeCursor(c), late, score: r.score, data: JSON.stringify(r.doc) };
  });
  return { events, cursor: c };
}

/**
 * What changed after `since` up to `head`, at most `limit` events; `overflow` when there were more (the
 * client should reload instead).
 */
export async function readBacklog(db: Db, since: FeedCursor, head: FeedCursor, limit: number): Promise<{ events: FeedEvent[]; overflow: boolean }> {
  const [inc, act] = await Promise.all([incidentRows(db, since.incident, head.incident, limit + 1), actionRows(db, since.action, head.action, limit + 1)]);
  if (inc.length + act.length > limit) return { events: [], overflow: true };
  return { events: toEvents([...inc, ...act], since).events, overflow: false };
}

export class ChangeFeed {
  private readonly pollMs: number;
  private readonly coalesceMs: number;
  private readonly pageSize: number;
  private readonly lateMs: number;
  private readonly listeners = new Set<FeedListener>();
  private cursor: FeedCursor = { incident: START, action: START };
  /** Versions emitted within lateMs behind the position: "type:id" → updated_at. */
  private readonly seen = new Map<string, number>();
  private starting: Promise<void> | null = null;
  private stopWatch: (() => void) | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private readTimer: NodeJS.Timeout | null = null;
  private reading = false;
  private again = false;
  private lastReadAt = 0;
  private closed = false;
  /** Bumped when the feed stops, so that a read begun before does not move a restarted feed's position. */
  private generation = 0;
  /** Reads done since the feed was built (for tests and metrics: one per wake, not one per subscriber). */
  reads = 0;

  constructor(
    private readonly store: Store,
    options: ChangeFeedOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 250;
    this.coalesceMs = options.coalesceMs ?? 100;
    this.pageSize = options.pageSize ?? 1000;
    this.lateMs = options.lateMs ?? 2000;
  }

  /** The position reads continue from (what a subscriber joining now has seen). */
  head(): FeedCursor {
    return this.cursor;
  }

  /**
   * Adds a listener; resolves once the feed runs, with the cursor the listener's events come after. The
   * first subscriber starts the feed, the last to leave stops it (nobody listening: no reads).
   */
  async subscribe(listener: FeedListener): Promise<{ head: FeedCursor; stop: () => void }> {
    if (this.closed) throw new Error('change feed closed');
    this.listeners.add(listener);
    const stop = () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.halt();
    };
    try {
      this.starting ??= this.start();
      await this.starting;
    } catch (err) {
      stop();
      throw err;
    }
    return { head: this.cursor, stop };
  }

  /** Something committed: read soon (coalesced). */
  wake(): void {
    if (this.closed || !this.stopWatch) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    if (this.readTimer) return;
    const wait = Math.max(0, this.lastReadAt + this.coalesceMs - Date.now());
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      void this.read();
    }, wait);
    this.readTimer.unref();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.halt();
  }

  private async start(): Promise<void> {
    const db = this.store.db;
    // The newest row of each table is where a new feed begins; what is within lateMs before it counts as seen.
    const newest = async (table: 'incidents' | 'actions'): Promise<Position> => {
      const r = await db.selectFrom(table).select(['updated_at', 'id']).orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
      return r ? [Number(r.updated_at), r.id] : START;
    };
    const [inc, act] = await Promise.all([newest('incidents'), newest('actions')]);
    this.cursor = { incident: inc, action: act };
    this.seen.clear();
    for (const r of await this.lateRows()) this.seen.set(`${r.type}:${r.position[1]}`, r.position[0]);
    if (this.listeners.size === 0 || this.closed) {
      this.starting = null;
      return;
    }
    this.stopWatch = this.store.watchCommits(() => this.wake());
    this.pollTimer = setInterval(() => this.wake(), this.pollMs);
    this.pollTimer.unref();
  }

  private halt(): void {
    this.stopWatch?.();
    this.stopWatch = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.readTimer) clearTimeout(this.readTimer);
    this.pollTimer = this.readTimer = null;
    this.starting = null;
    this.generation++;
  }

  /**
   * Rows stamped within lateMs before the position and not after it, newest first: a late commit is most
   * likely just behind the position, and past pageSize rows in the window the oldest are not looked at.
   */
  private async lateRows(): Promise<Row[]> {
    const c = this.cursor;
    const from = (p: Position): Position => [Math.max(0, p[0] - this.lateMs), ''];
    const [inc, act] = await Promise.all([
      c.incident[0] > 0 ? incidentRows(this.store.db, from(c.incident), c.incident, this.pageSize, true) : [],
      c.action[0] > 0 ? actionRows(this.store.db, from(c.action), c.action, this.pageSize, true) : [],
    ]);
    return [...inc, ...act];
  }

  private async read(): Promise<void> {
    if (this.reading || !this.stopWatch) return;
    this.reading = true;
    this.again = false;
    this.lastReadAt = Date.now();
    this.reads++;
    const generation = this.generation;
    let full = false;
    try {
      const c = this.cursor;
      const [inc, act, late] = await Promise.all([
        incidentRows(this.store.db, c.incident, null, this.pageSize),
        actionRows(this.store.db, c.action, null, this.pageSize),
        this.lateRows(),
      ]);
      full = inc.length === this.pageSize || act.length === this.pageSize;
      if (generation !== this.generation) return; // stopped while reading
      const missed = late.filter((r) => this.seen.get(`${r.type}:${r.position[1]}`) !== r.position[0]);
      const lateEvents = toEvents(missed, this.cursor, true).events;
      const { events, cursor } = toEvents([...inc, ...act], this.cursor);
      this.cursor = cursor;
      for (const r of [...missed, ...inc, ...act]) this.seen.set(`${r.type}:${r.position[1]}`, r.position[0]);
      this.forget();
      const all = [...lateEvents, ...events];
      if (all.length) for (const l of [...this.listeners]) l(all);
    } catch (err) {
      log.warn({ err: errorContext(err) }, 'events: the change feed could not read the store; retrying at the next poll');
    } finally {
      this.reading = false;
    }
    if (full || this.again) this.wake();
  }

  /** Drops seen versions that have fallen more than lateMs behind the position: later reads cannot return them. */
  private forget(): void {
    if (this.seen.size < 4 * this.pageSize) return;
    for (const [k, at] of this.seen) {
      const type: FeedTable = k.startsWith('incident:') ? 'incident' : 'action';
      if (at < this.cursor[type][0] - this.lateMs) this.seen.delete(k);
    }
  }
}
