/**
 * Dry run of a policy against one incident, for rule authors (a CLI and an API endpoint build on it): every
 * rule is evaluated — not only up to the deciding one — and each gets a result with a reason. For a rule
 * that did not match, the reason names the first top-level `&&` part that was false, which is usually the
 * answer to "why didn't my rule fire?". Nothing is written anywhere.
 */
import type { IncidentDetail } from '../model/incident.js';
import { compileCondition, topLevelParts } from './cel.js';
import { evaluatePolicy, planActions, ruleRunner, type PolicyAction, type PolicyDecision } from './evaluate.js';
import type { CompiledPolicy, CompiledRule, RuleOrigin } from './rules.js';
import { defaultSandbox, type CelSandbox } from './sandbox.js';

export interface RuleTrace {
  rule: string;
  result: 'match' | 'no-match' | 'error';
  reason: string;
  /** What the rule would plan if it decided (or continued). */
  actions: PolicyAction[];
  continue: boolean;
  dry_run: boolean;
  /** True for the rule that names the decision. */
  decides: boolean;
  origin: RuleOrigin;
}

export interface DryRunReport {
  decision: PolicyDecision;
  rules: RuleTrace[];
}

export interface DryRunOptions {
  configVersion?: string;
  sandbox?: CelSandbox;
}

export function dryRunRules(policy: CompiledPolicy, detail: IncidentDetail, opts: DryRunOptions = {}): DryRunReport {
  const sandbox = opts.sandbox ?? defaultSandbox();
  const decision = evaluatePolicy(policy, detail, { configVersion: opts.configVersion ?? 'dry-run', dryRun: true, sandbox });
  const run = ruleRunner(policy, detail, sandbox);
  const rules = policy.rules.map((rule): RuleTrace => {
    const r = run(rule);
    const base = {
      rule: rule.name,
      actions: planActions([rule], true),
      continue: rule.continue,
      dry_run: rule.dryRun,
      decides: decision.rule === rule.name,
      origin: rule.origin,
    };
    if (!r.ok) return { ...base, result: 'error', reason: r.error };
    if (r.value) return { ...base, result: 'match', reason: `when is true: ${rule.when.source}` };
    return { ...base, result: 'no-match', reason: whyFalse(rule, run) };
  });
  return { decision, rules };
}

/** The first false part of a top-level `&&`; for `||`, that every alternative is false. */
function whyFalse(rule: CompiledRule, run: ReturnType<typeof ruleRunner>): string {
  const { op, parts } = topLevelParts(rule.when.source);
  if (op === '||') return `none of the ${parts.length} alternatives is true`;
  if (op !== '&&') return `when is false: ${rule.when.source}`;
  for (const part of parts) {
    let when;
    try {
      when = compileCondition(part);
    } catch {
      continue; // a part that is not a condition by itself (rare): skip to the next
    }
    const r = run({ ...rule, when });
    if (!r.ok) return `${part} failed: ${r.error}`;
    if (!r.value) return `${part} is false`;
  }
  return `when is false: ${rule.when.source}`;
}
