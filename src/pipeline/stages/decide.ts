/**
 * decide: items are incident ids. compute() evaluates the compiled policy against each incident (pure;
 * src/policy). write() records the decision and, in the same transaction, puts its actions in the outbox
 * (`actions`), where the executor picks them up (DESIGN.md §4):
 *
 *  - one outbox row per (incident, action kind, target) EVER: the idempotency key is
 *    `${incident_id}:${kind}:${target}` and the insert does nothing on conflict, so deciding again after
 *    new alerts, a config change or a redone batch never queues an action twice;
 *  - dry-run actions (global `policy.dry_run` or the rule's `dry_run`) are recorded in the decision only —
 *    never in the outbox, where they would also take the idempotency key from a later real run;
 *  - an action whose rule requires approval waits in `awaiting_approval`; a timeout and its default travel
 *    in params under `__approval` (the executor's convention, approvalTimeoutParams()).
 *
 * A decision identical to the incident's current one (ignoring when it was made) is not recorded again.
 */
import type { Stage } from '../stage.js';
import type { ClaimedItem } from '../../store/queue.js';
import type { Store, Tx } from '../../store/store.js';
import type { ActionTable } from '../../store/schema.js';
import { addTimeline, loadIncidentDetail } from '../../store/incidents.js';
import type { Decision } from '../../model/decision.js';
import { evaluatePolicy, type ActionGuard, type PolicyAction, type PolicyDecision } from '../../policy/evaluate.js';
import type { CompiledPolicy } from '../../policy/rules.js';
import type { CelSandbox } from '../../policy/sandbox.js';
import { approvalTimeoutParams } from '../../actions/executor.js';
import { ulid } from '../../util/ulid.js';
import { iso } from '../../util/time.js';

export interface DecideStageDeps {
  store: Store;
  policy: CompiledPolicy;
  configVersion: string;
  /** `actions.targets` name → kind (rules.ts targetKinds()). */
  targetKinds: ReadonlyMap<string, string>;
  /** `policy.dry_run`. */
  dryRun?: boolean;
  guards?: readonly ActionGuard[];
  sandbox?: CelSandbox;
  now?: () => number;
  batchSize?: number;
}

export interface IncidentDecision {
  incidentId: string;
  decision: PolicyDecision;
  changed: boolean;
}

export function createDecideStage(deps: DecideStageDeps): Stage<IncidentDecision[]> {
  const now = deps.now ?? Date.now;
  return {
    name: 'decide',
    batchSize: deps.batchSize ?? 100,
    async compute(items: readonly ClaimedItem[]) {
      const out: IncidentDecision[] = [];
      for (const item of items) {
        const detail = await loadIncidentDetail(deps.store.db, item.item_id);
        if (!detail) continue;
        const decision = evaluatePolicy(deps.policy, detail, {
          configVersion: deps.configVersion,
          dryRun: deps.dryRun ?? false,
          ...(deps.guards ? { guards: deps.guards } : {}),
          ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
        });
        out.push({ incidentId: detail.id, decision, changed: !sameDecision(detail.decision, decision) });
      }
      return out;
    },
    async write(tx: Tx, _items, decided: IncidentDecision[]) {
      const t = now();
      for (const d of decided) if (d.changed) await record(tx, d, deps, t);
    },
  };
}

async function record(tx: Tx, d: IncidentDecision, deps: DecideStageDeps, now: number): Promise<void> {
  const decision: PolicyDecision = { ...d.decision, decided_at: iso(now) };
  const doc = JSON.stringify(decision);
  const row = await tx
    .insertInto('decisions')
    .values({
      incident_id: d.incidentId,
      rule: decision.rule,
      outcome: decision.outcome,
      doc,
      dry_run: decision.dry_run ? 1 : 0,
      config_version: decision.config_version,
      created_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await tx.updateTable('incidents').set({ decision: doc, updated_at: now }).where('id', '=', d.incidentId).execute();
  const queued = await queueActions(tx, d.incidentId, Number(row.id), decision.actions, deps, now);
  await addTimeline(tx, [{ incident_id: d.incidentId, at: now, kind: 'decided', summary: summary(decision, queued) }]);
}

/** `${incident_id}:${kind}:${target}` — the outbox's once-ever key. */
export function idempotencyKey(incidentId: string, kind: string, target: string): string {
  return `${incidentId}:${kind}:${target}`;
}

/** Inserts the live actions; returns the ones that were new (an existing key is left alone). */
async function queueActions(tx: Tx, incidentId: string, decisionId: number, actions: readonly PolicyAction[], deps: DecideStageDeps, now: number): Promise<PolicyAction[]> {
  const queued: PolicyAction[] = [];
  for (const a of actions) {
    if (a.dry_run) continue;
    const kind = deps.targetKinds.get(a.target) ?? a.kind;
    const inserted = await tx
      .insertInto('actions')
      .values(outboxRow(incidentId, decisionId, { ...a, kind }, now))
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) queued.push(a);
  }
  return queued;
}

function outboxRow(incidentId: string, decisionId: number, a: PolicyAction, now: number): ActionTable {
  const awaiting = a.approval === 'required';
  const params =
    awaiting && a.approval_timeout_ms !== undefined ? { ...a.params, ...approvalTimeoutParams(a.approval_timeout_ms, a.approval_default ?? 'deny', now) } : a.params;
  return {
    id: ulid(now),
    incident_id: incidentId,
    decision_id: decisionId,
    kind: a.kind,
    target: a.target,
    idempotency_key: idempotencyKey(incidentId, a.kind, a.target),
    params: JSON.stringify(params),
    state: awaiting ? 'awaiting_approval' : 'pending',
    approval: a.approval,
    dry_run: 0,
    attempts: 0,
    next_attempt_at: now,
    lease_owner: null,
    lease_until: null,
    last_error: null,
    result: null,
    approved_by: null,
    created_at: now,
    updated_at: now,
  };
}

/** 'rule "page-soc" → escalate; queued email → soc-mail (awaiting approval); 1 rule error (x: …)' */
export function summary(d: PolicyDecision, queued: readonly PolicyAction[]): string {
  const parts = [`rule "${d.rule}" → ${d.outcome}${d.dry_run ? ' (dry run)' : ''}`];
  if (queued.length) parts.push(`queued ${queued.map((a) => `${a.kind} → ${a.target}${a.approval === 'required' ? ' (awaiting approval)' : ''}`).join(', ')}`);
  const dry = d.actions.filter((a) => a.dry_run);
  if (dry.length) parts.push(`not queued (dry run): ${dry.map((a) => a.target).join(', ')}`);
  const already = d.actions.length - dry.length - queued.length;
  if (already > 0) parts.push(`${already} action${already > 1 ? 's' : ''} already queued earlier`);
  if (d.blocked.length) parts.push(`blocked: ${d.blocked.map((b) => `${b.action.target} (${b.guard}: ${b.reason})`).join(', ')}`);
  if (d.errors.length) parts.push(`${d.errors.length} rule error${d.errors.length > 1 ? 's' : ''}: ${d.errors.map((e) => `${e.rule}: ${e.error}`).join('; ')}`);
  return parts.join('; ');
}

function sameDecision(a: Decision | null, b: PolicyDecision): boolean {
  if (!a) return false;
  const strip = ({ decided_at: _d, ...rest }: Decision) => JSON.stringify(rest);
  return strip(a) === strip(b);
}
