export type DecisionOutcome = 'ignore' | 'log' | 'notify' | 'respond' | 'escalate' | string;

export interface PlannedAction {
  /** Action kind as configured, e.g. "email", "webhook". */
  kind: string;
  /** Named target from configuration (e.g. "soc-mail"), part of the idempotency key. */
  target: string;
  params: Record<string, unknown>;
  approval: 'auto' | 'required';
}

/** A rule whose `when` could not be evaluated: an error (missing key, type error, …) or the time limit. */
export interface RuleFailure {
  rule: string;
  kind: 'error' | 'timeout';
  error: string;
}

/**
 * Present when a rule failed: the policy's fallback (`policy.fallback`) was applied, because the failed rule
 * might have matched. Its actions are planned with the rules' own; its outcome names the decision unless
 * the rules decided something stronger (then `rule` stays the deciding rule's name, else it is "(fallback)").
 */
export interface DecisionFallback {
  outcome: DecisionOutcome;
  /** The rules that failed, in order (details in the decision's `errors`). */
  rules: string[];
  /** e.g. 'rule "slow-rule" timed out: evaluation exceeded the time limit of 250 ms' */
  reason: string;
}

export interface Decision {
  rule: string;
  outcome: DecisionOutcome;
  actions: PlannedAction[];
  dry_run: boolean;
  config_version: string;
  /** Every rule that matched, in order; `rule` is the first non-continuing one. */
  matched?: string[];
  /** Rules that could not be evaluated. */
  errors?: RuleFailure[];
  fallback?: DecisionFallback;
  decided_at?: string;
}
