/**
 * Deciding: the compiled policy applied to one incident (DESIGN.md §8), or to many at once with the same
 * result per incident (evaluatePolicies, for the decide stage). Pure — the same policy, incident and options
 * give the same decision — so the decide stage and `fido policy try` (dryrun.ts) share it.
 *
 *  - Rules run in order. The first rule whose `when` is true decides, unless it has `continue: true`: then
 *    its actions are planned too and evaluation goes on. Matched rules are listed in `matched`.
 *  - Nothing matched: the default decision, rule "(default)", outcome "log", no actions.
 *  - Only `continue` rules matched: the last of them names the decision.
 *  - Fail safe: a rule whose `when` fails (a type error, a missing key, the time limit) might have matched,
 *    so it is never taken as "no match": the failure is recorded in `errors` (rule, error or timeout),
 *    evaluation goes on, and the policy's fallback (`policy.fallback`, default: outcome notify) applies —
 *    its actions are planned after the matched rules' ones, and its outcome names the decision (rule
 *    "(fallback)") unless the rules decided a stronger one. `fallback` on the decision says why.
 *  - Dry run (global `dryRun`, or the rule's `dry_run`): the actions are planned and recorded, marked
 *    `dry_run`, and the decide stage queues none of them.
 *  - Approval: each action carries its rule's approval mode (and timeout/default when set).
 *  - Guards: pure checks (protected users, groups and hosts: actions/guards.ts) run over the planned actions;
 *    a guard may hold one for approval (`held_by` says why) or block it (recorded in `blocked` with the reason).
 *    Rate and blast-radius limits count the outbox, so the decide stage applies them where it queues.
 */
import type { Decision, DecisionFallback, DecisionOutcome, PlannedAction, RuleFailure } from '../model/decision.js';
import type { IncidentDetail } from '../model/incident.js';
import { buildPolicyContext, type CelContext } from './context.js';
import { DEFAULT_FALLBACK, type CompiledFallback, type CompiledPolicy, type CompiledRule } from './rules.js';
import { defaultSandbox, type BatchProgram, type CelSandbox, type SandboxResult } from './sandbox.js';
import type { PolicyVariable } from './cel.js';

export const DEFAULT_RULE = '(default)';
export const DEFAULT_OUTCOME = 'log';
/** The decision's rule when the fallback's outcome names it. */
export const FALLBACK_RULE = '(fallback)';

/**
 * Which outcome is stronger, for "the fallback never weakens what the rules decided". An outcome the table
 * does not know (a custom label) counts as notify: something deliberate, but no response.
 */
const OUTCOME_RANK: Readonly<Record<string, number>> = { ignore: 0, log: 1, notify: 2, respond: 3, escalate: 4 };
const rankOf = (o: DecisionOutcome): number => OUTCOME_RANK[o] ?? OUTCOME_RANK.notify!;

/** A planned action with where it came from and how it must be run. */
export interface PolicyAction extends PlannedAction {
  rule: string;
  dry_run: boolean;
  approval_timeout_ms?: number;
  approval_default?: 'approve' | 'deny';
  /** The rule's `for:`: undone this long after it succeeded. */
  undo_after_ms?: number;
  /** A guard made it wait for approval: "<guard>: <reason>" (actions/guards.ts). */
  held_by?: string;
}

export type RuleError = RuleFailure;

export interface BlockedAction {
  action: PolicyAction;
  guard: string;
  reason: string;
}

export interface PolicyDecision extends Decision {
  actions: PolicyAction[];
  matched: string[];
  errors: RuleError[];
  blocked: BlockedAction[];
}

/** `hold`: not refused, but a person must approve it (the action waits in awaiting_approval). */
export type GuardVerdict = { allow: true } | { allow: false; reason: string; hold?: true };

/**
 * A guard inspects each planned action. It must be pure: state it needs (protected lists) is given to it when
 * it is built, not read during the check. Guards that count the outbox (rate and blast-radius limits) run where
 * actions are queued instead (actions/guards.ts holdOverLimits).
 */
export interface ActionGuard {
  readonly name: string;
  check(action: PolicyAction, detail: IncidentDetail): GuardVerdict;
}

export interface EvaluateOptions {
  configVersion: string;
  /** `policy.dry_run`: record the decision, queue nothing. */
  dryRun?: boolean;
  guards?: readonly ActionGuard[];
  /** Where conditions run (defaults to the process-wide sandbox). */
  sandbox?: CelSandbox;
}

/** The outcome of one rule's `when` for one incident. */
export type RuleResult = SandboxResult;

/** Runs rules' conditions against one context, one at a time (so evaluation can stop early). */
export function ruleRunner(policy: CompiledPolicy, detail: IncidentDetail, sandbox: CelSandbox = defaultSandbox()): (rule: CompiledRule) => RuleResult {
  let ctx: CelContext | undefined;
  return (rule) => {
    ctx ??= buildPolicyContext(detail, policy.providers);
    return sandbox.evaluate([rule.when], ctx)[0]!;
  };
}

export function evaluatePolicy(policy: CompiledPolicy, detail: IncidentDetail, opts: EvaluateOptions): PolicyDecision {
  return evaluatePolicies(policy, [detail], opts)[0]!;
}

/**
 * evaluatePolicy for many incidents at once, with the same decisions: the contexts hold only the variables
 * the rules read, and the conditions of all the incidents go to the sandbox together (each incident's rules
 * in order, stopping at the deciding one), instead of one round trip per rule and incident.
 */
export function evaluatePolicies(policy: CompiledPolicy, details: readonly IncidentDetail[], opts: EvaluateOptions): PolicyDecision[] {
  const rules = policy.rules;
  let results: RuleResult[][] = details.map(() => []);
  if (rules.length && details.length) {
    const variables = policyVariables(policy);
    const contexts = details.map((d) => buildPolicyContext(d, policy.providers, variables));
    const programs = rules.map((r): BatchProgram => ({ program: r.when.program, patterns: r.when.patterns, final: !r.continue }));
    results = (opts.sandbox ?? defaultSandbox()).evaluateBatch(programs, contexts);
  }
  const fallback = policy.fallback ?? DEFAULT_FALLBACK;
  return details.map((detail, i) => decideFrom(rules, fallback, detail, results[i] ?? [], opts));
}

/** Every variable any rule of the policy reads (CompiledCondition.variables). */
export function policyVariables(policy: CompiledPolicy): PolicyVariable[] {
  const out = new Set<PolicyVariable>();
  for (const r of policy.rules) for (const v of r.when.variables) out.add(v);
  return [...out];
}

/** Applies the rules' results (in rule order, possibly stopped early) the way the rules decide. */
function decideFrom(rules: readonly CompiledRule[], fallback: CompiledFallback, detail: IncidentDetail, results: readonly RuleResult[], opts: EvaluateOptions): PolicyDecision {
  const matched: CompiledRule[] = [];
  const errors: RuleError[] = [];
  const failed: CompiledRule[] = [];
  let decider: CompiledRule | undefined;
  for (let k = 0; k < rules.length && k < results.length; k++) {
    const rule = rules[k]!;
    const r = results[k]!;
    if (!r.ok) {
      errors.push({ rule: rule.name, kind: r.timeout ? 'timeout' : 'error', error: r.error });
      failed.push(rule);
      continue;
    }
    if (!r.value) continue;
    matched.push(rule);
    if (!rule.continue) {
      decider = rule;
      break;
    }
  }
  decider ??= matched[matched.length - 1];
  return decide(detail, decider, matched, errors, failed.length ? { fallback, failed } : undefined, opts);
}

interface FallbackUse {
  fallback: CompiledFallback;
  failed: readonly CompiledRule[];
}

function decide(
  detail: IncidentDetail,
  decider: CompiledRule | undefined,
  matched: readonly CompiledRule[],
  errors: RuleError[],
  use: FallbackUse | undefined,
  opts: EvaluateOptions,
): PolicyDecision {
  const dryRun = opts.dryRun ?? false;
  // A failed rule that was only being tried out (dry_run) would not have acted either: nor does its fallback.
  const fallbackRule = use && { name: FALLBACK_RULE, ...use.fallback, dryRun: use.failed.every((r) => r.dryRun) };
  const planned = planActions(fallbackRule ? [...matched, fallbackRule] : matched, dryRun);
  const { allowed, blocked } = applyGuards(planned, detail, opts.guards ?? []);
  const ruled = { rule: decider?.name ?? DEFAULT_RULE, outcome: decider?.outcome ?? DEFAULT_OUTCOME, dryRun: decider?.dryRun ?? false };
  // The fallback names the decision when nothing decided, or when it is stronger than what did.
  const fallbackNames = fallbackRule !== undefined && (!decider || rankOf(fallbackRule.outcome) > rankOf(ruled.outcome));
  const named = fallbackNames ? { rule: FALLBACK_RULE, outcome: fallbackRule.outcome, dryRun: fallbackRule.dryRun } : ruled;
  return {
    rule: named.rule,
    outcome: named.outcome,
    actions: allowed,
    dry_run: dryRun || named.dryRun,
    config_version: opts.configVersion,
    matched: matched.map((r) => r.name),
    errors,
    ...(use ? { fallback: fallbackRecord(use.fallback, errors) } : {}),
    blocked,
  };
}

function fallbackRecord(fallback: CompiledFallback, errors: readonly RuleError[]): DecisionFallback {
  const reason = errors.map((e) => `rule "${e.rule}" ${e.kind === 'timeout' ? 'timed out' : 'failed'}: ${e.error}`).join('; ');
  return { outcome: fallback.outcome, rules: errors.map((e) => e.rule), reason };
}

/** What planning needs of a rule (the fallback has these too). */
export type PlanningRule = Pick<CompiledRule, 'name' | 'actions' | 'approval' | 'dryRun'>;

/** Actions of all matched rules in order; the same (kind, target) twice is planned once (first wins). */
export function planActions(rules: readonly PlanningRule[], dryRun: boolean): PolicyAction[] {
  const seen = new Set<string>();
  const out: PolicyAction[] = [];
  for (const rule of rules) {
    for (const a of rule.actions) {
      const key = `${a.kind}\u0000${a.target}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        kind: a.kind,
        target: a.target,
        params: { ...a.params },
        approval: rule.approval.mode,
        rule: rule.name,
        dry_run: dryRun || rule.dryRun,
        ...(rule.approval.mode === 'required' && rule.approval.timeoutMs !== undefined
          ? { approval_timeout_ms: rule.approval.timeoutMs, approval_default: rule.approval.default ?? 'deny' }
          : {}),
        ...(a.undoAfterMs !== undefined ? { undo_after_ms: a.undoAfterMs } : {}),
      });
    }
  }
  return out;
}

function applyGuards(actions: readonly PolicyAction[], detail: IncidentDetail, guards: readonly ActionGuard[]): { allowed: PolicyAction[]; blocked: BlockedAction[] } {
  const allowed: PolicyAction[] = [];
  const blocked: BlockedAction[] = [];
  for (const action of actions) {
    const stop = firstRefusal(action, detail, guards);
    if (!stop) allowed.push(action);
    else if (stop.hold) allowed.push(holdFor(action, `${stop.guard}: ${stop.reason}`));
    else blocked.push({ action, guard: stop.guard, reason: stop.reason });
  }
  return { allowed, blocked };
}

/** A guard's hold: a person must approve. A rule that asks already keeps its approval, unless nobody answering would approve it. */
function holdFor(action: PolicyAction, heldBy: string): PolicyAction {
  if (action.approval === 'required' && action.approval_default !== 'approve') return action;
  const { approval_timeout_ms: _timeout, approval_default: _default, ...rest } = action;
  return { ...rest, approval: 'required', held_by: heldBy };
}

function firstRefusal(action: PolicyAction, detail: IncidentDetail, guards: readonly ActionGuard[]): { guard: string; reason: string; hold?: true } | undefined {
  for (const g of guards) {
    const v = g.check(action, detail);
    if (!v.allow) return { guard: g.name, reason: v.reason, ...(v.hold ? { hold: v.hold } : {}) };
  }
  return undefined;
}
