/** The outbox as the API lists it: newest first, keyset-paged, by state. */
import { ACTION_STATES, type ActionRecord } from '../model/action.js';
import type { ActionTable } from '../store/schema.js';
import type { Db } from '../store/store.js';
import { toAction } from '../store/incidents.js';
import { FidoError } from '../errors.js';
import { iso } from '../util/time.js';
import { parseStored } from '../util/json.js';

export interface ActionListItem extends ActionRecord {
  /** What the target reported on success (message id, HTTP status, …). */
  result: Record<string, unknown> | null;
  /** When a pending action is due (after a retry: the backoff); null for final states. */
  next_attempt_at: string | null;
}

export interface ActionPage {
  items: ActionListItem[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

const FINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'dead', 'denied', 'skipped']);

function encodeCursor(row: Pick<ActionTable, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through to the error below
  }
  throw new FidoError('bad_request', 'cursor: not a cursor returned by this list');
}

/** Newest first, keyset-paged on (created_at, id). Throws on an unknown state or a foreign cursor. */
export async function listActions(db: Db, opts: { state?: string | undefined; limit: number; cursor?: string | undefined }): Promise<ActionPage> {
  if (opts.state !== undefined && !(ACTION_STATES as readonly string[]).includes(opts.state)) {
    throw new FidoError('bad_request', `state: expected one of ${ACTION_STATES.join(', ')}`, { allowed: ACTION_STATES });
  }
  const limit = Math.max(1, Math.min(500, Math.floor(opts.limit) || 50));
  let q = db.selectFrom('actions').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
  if (opts.state) q = q.where('state', '=', opts.state);
  if (opts.cursor) {
    const [at, id] = decodeCursor(opts.cursor);
    q = q.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      ...toAction(r),
      result: parseStored<Record<string, unknown>>(r.result, 'action result'),
      next_attempt_at: FINAL_STATES.has(r.state) ? null : iso(r.next_attempt_at),
    })),
    next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
  };
}
