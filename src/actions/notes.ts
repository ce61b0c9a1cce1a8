/**
 * What the outbox writes beside an action's state: a timeline entry on its incident and an audit row, in the
 * same transaction; shared by the executor (outcomes) and approvals (approve, deny, timeouts).
 */
import type { ActionTable } from '../store/schema.js';
import type { Db, Tx } from '../store/store.js';
import { addTimeline } from '../store/incidents.js';

/** How long a stored error or reason may be. */
export const MAX_ERROR_CHARS = 2_000;
/** The actor of what Fido does by itself. */
export const SYSTEM_ACTOR = 'system';

export interface OutcomeNote {
  actor: string;
  /** audit_log.action, e.g. action.succeeded */
  event: string;
  summary: string;
  detail: Record<string, unknown>;
}

/** Timeline entry on the incident plus an audit row, in the caller's transaction. */
export async function record(tx: Tx | Db, row: Pick<ActionTable, 'id' | 'incident_id'>, note: OutcomeNote, now: number): Promise<void> {
  await addTimeline(tx, [{ incident_id: row.incident_id, at: now, kind: 'action', summary: note.summary, action_id: row.id }]);
  await tx
    .insertInto('audit_log')
    .values({ at: now, actor: note.actor, action: note.event, subject: `action:${row.id}`, detail: JSON.stringify({ incident_id: row.incident_id, ...note.detail }) })
    .execute();
}

export function label(row: Pick<ActionTable, 'kind' | 'target'>): string {
  return `${row.kind} → ${row.target}`;
}

export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg || 'unknown error').slice(0, MAX_ERROR_CHARS);
}

// ───────────────────────────── approvals (API) ─────────────────────────────
