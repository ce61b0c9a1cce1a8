/**
 * A new row of the action outbox, whoever queues it (the decide stage for a decision's actions, undo.ts for an
 * undo): what it does and for whom, with every bookkeeping column (attempts, lease, outcome, approval) empty.
 */
import type { ActionTable } from '../store/schema.js';
import { ulid } from '../util/ulid.js';

export type NewActionRow = Pick<ActionTable, 'incident_id' | 'decision_id' | 'kind' | 'target' | 'idempotency_key' | 'params' | 'state' | 'approval'> &
  Partial<Pick<ActionTable, 'approval_due_at' | 'approval_default' | 'undo_of' | 'undo_after_ms' | 'follow_of' | 'follow_event' | 'follow_state' | 'held_by' | 'rule'>>;

export function newActionRow(r: NewActionRow, now: number): ActionTable {
  return {
    id: ulid(now),
    dry_run: 0,
    attempts: 0,
    next_attempt_at: now,
    lease_owner: null,
    lease_until: null,
    last_error: null,
    result: null,
    approved_by: null,
    approval_due_at: null,
    approval_default: null,
    denied_by: null,
    denial_reason: null,
    created_at: now,
    updated_at: now,
    undo_of: null,
    undo_after_ms: null,
    expires_at: null,
    follow_of: null,
    follow_event: null,
    follow_state: null,
    held_by: null,
    rule: null,
    ...r,
  };
}
