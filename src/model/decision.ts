export type DecisionOutcome = 'ignore' | 'log' | 'notify' | 'respond' | 'escalate' | string;

export interface PlannedAction {
  /** Action kind as configured, e.g. "email", "webhook". */
  kind: string;
  /** Named target from configuration (e.g. "soc-mail"), part of the idempotency key. */
  target: string;
  params: Record<string, unknown>;
  approval: 'auto' | 'required';
}

export interface Decision {
  rule: string;
  outcome: DecisionOutcome;
  actions: PlannedAction[];
  dry_run: boolean;
  config_version: string;
  /** Every rule that matched, in order; `rule` is the first non-continuing one. */
  matched?: string[];
  decided_at?: string;
}
