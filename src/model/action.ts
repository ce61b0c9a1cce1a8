export const ACTION_STATES = ['pending', 'awaiting_approval', 'running', 'succeeded', 'failed', 'dead', 'denied', 'skipped'] as const;
export type ActionState = (typeof ACTION_STATES)[number];

export interface ActionRecord {
  id: string;
  incident_id: string;
  kind: string;
  target: string;
  idempotency_key: string;
  params: Record<string, unknown>;
  state: ActionState;
  attempts: number;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  approved_by: string | null;
  /** An action awaiting approval whose rule set a timeout: when its default is applied, and which. */
  approval_due_at: string | null;
  approval_default: 'approve' | 'deny' | null;
  /** Who denied it (a person, or `system:approval-timeout`) and why. */
  denied_by: string | null;
  denial_reason: string | null;
  dry_run: boolean;
  /** The action this one undoes; null for an action of its own. */
  undo_of: string | null;
  /** When it is undone by itself (its rule's `for:` after it succeeded), while that is still to come. */
  expires_at: string | null;
  /** The rule's `for:` in ms (a target may bound its own effect by it, e.g. a firewall element's timeout). */
  undo_after_ms: number | null;
  /** The action whose ticket or page this follow-up updates (`follow_event` update) or closes (close). */
  follow_of: string | null;
  follow_event: 'update' | 'close' | null;
  /** Why a guard made it wait for approval ("<guard>: <reason>"); null when none did. */
  held_by: string | null;
}
