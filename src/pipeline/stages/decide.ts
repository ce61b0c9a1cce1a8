/**
 * decide: items are incident ids. compute() loads the batch's incidents (only the parts the rules read) and
 * evaluates the compiled policy against all of them at once (pure; src/policy). write() records the
 * decisions and, in the same transaction, puts their actions in the outbox (`actions`), where the executor
 * picks them up (DESIGN.md §4):
 *
 *  - one outbox row per (incident, action kind, target) EVER: the idempotency key is
 *    `${incident_id}:${kind}:${target}` and the insert does nothing on conflict, so deciding again after
 *    new alerts, a config change or a redone batch never queues an action twice;
 *  - dry-run actions (global `policy.dry_run` or the rule's `dry_run`) are recorded in the decision only —
 *    never in the outbox, where they would also take the idempotency key from a later real run;
 *  - an action whose rule requires approval waits in `awaiting_approval`; a timeout and its default are
 *    columns of the action (`approval_due_at`, `approval_default`: the executor applies them).
 *
 * A decision identical to the incident's current one (ignoring when it was made) is not recorded again.
 */
import type { Stage } from '../stage.js';
import type { ClaimedItem } from '../../store/queue.js';
import type { Db, Store, Tx } from '../../store/store.js';
import { insertRows } from '../../store/insert-rows.js';
import { updateRows } from '../../store/update-rows.js';
import type { ActionTable } from '../../store/schema.js';
import { addTimeline, loadIncidentDetails, updateIncidents, type DetailParts } from '../../store/incidents.js';
import type { Decision } from '../../model/decision.js';
import type { IncidentDetail } from '../../model/incident.js';
import { evaluatePolicies, policyVariables, type ActionGuard, type PolicyAction, type PolicyDecision } from '../../policy/evaluate.js';
import type { CompiledPolicy } from '../../policy/rules.js';
import type { CelSandbox } from '../../policy/sandbox.js';
import { approvalTimeout } from '../../actions/approvals.js';
import { newActionRow } from '../../actions/outbox-row.js';
import { followState, isFollowingKind, queueFollowUpdates } from '../../actions/follow.js';
import { holdOverLimits, type Limit } from '../../actions/guards.js';
import { alertDecisionSeconds } from '../../metrics.js';
import { iso } from '../../util/time.js';
import { pow2ChunksOf } from '../../util/chunks.js';

export interface DecideStageDeps {
  store: Store;
  policy: CompiledPolicy;
  configVersion: string;
  /** `actions.targets` name → kind (rules.ts targetKinds()). */
  targetKinds: ReadonlyMap<string, string>;
  /** `policy.dry_run`. */
  dryRun?: boolean;
  /** Pure guards the policy runs (protected users, groups and hosts: actions/guards.ts protectedGuard). */
  guards?: readonly ActionGuard[];
  /** Rate and blast-radius limits, applied where actions are queued (actions/guards.ts). */
  limits?: readonly Limit[];
  sandbox?: CelSandbox;
  now?: () => number;
  batchSize?: number;
}

export interface IncidentDecision {
  incidentId: string;
  decision: PolicyDecision;
  changed: boolean;
  /** The newest record of the incident when it was read: the decision has seen every alert up to it. */
  through: number;
  /** received_at of its oldest alert not decided before, as read (null: none). */
  pendingSince: number | null;
  /** What a ticket following the incident shows (follow.ts followState): compared to queue updates. */
  followState: string;
}

/** Rows per multi-row insert. */
const CHUNK = 500;

export function createDecideStage(deps: DecideStageDeps): Stage<IncidentDecision[]> {
  const now = deps.now ?? Date.now;
  const parts = detailParts(deps);
  const follows = [...deps.targetKinds.values()].some(isFollowingKind);
  /** Per batch, the decision latency of each alert it decided for the first time; observed after commit. */
  const latencies = new WeakMap<IncidentDecision[], number[]>();
  return {
    name: 'decide',
    next: [],
    batchSize: deps.batchSize ?? 200,
    async compute(items: readonly ClaimedItem[]) {
      // Read before the details: a decision may see more alerts than this says, never fewer.
      const progress = await readProgress(deps.store.db, items.map((i) => i.item_id));
      const loaded = await loadIncidentDetails(deps.store.db, items.map((i) => i.item_id), { parts, docs: deps.store.alertDocs });
      // Each incident once (the queue holds one row per item; decision ids are matched by incident below).
      const details = [...new Set(items.map((i) => i.item_id))].map((id) => loaded.get(id)).filter((d): d is IncidentDetail => d !== undefined);
      const decisions = evaluatePolicies(deps.policy, details, {
        configVersion: deps.configVersion,
        dryRun: deps.dryRun ?? false,
        ...(deps.guards ? { guards: deps.guards } : {}),
        ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
      });
      return details.map((detail, i) => ({
        incidentId: detail.id,
        decision: decisions[i]!,
        changed: !sameDecision(detail.decision, decisions[i]!),
        through: progress.get(detail.id)?.last_seq ?? 0,
        pendingSince: progress.get(detail.id)?.pending_since ?? null,
        followState: followState({ outcome: decisions[i]!.outcome, rule: decisions[i]!.rule, score: detail.score?.total ?? null }),
      }));
    },
    async write(tx: Tx, _items, decided: IncidentDecision[]) {
      const t = now();
      await record(tx, decided.filter((d) => d.changed), deps, t);
      // Tickets and pages that follow these incidents are told when what they show changed.
      if (follows) await queueFollowUpdates(tx, new Map(decided.map((d) => [d.incidentId, d.followState])), t);
      await markDecided(tx, decided, t);
      latencies.set(
        decided,
        decided.flatMap((d) => (d.pendingSince === null ? [] : [t - d.pendingSince])),
      );
    },
    afterCommit(_items, decided) {
      for (const ms of latencies.get(decided) ?? []) alertDecisionSeconds.observe(ms / 1000);
      latencies.delete(decided);
    },
  };
}

/**
 * What the decision needs to read: the incident row always (its score and current decision); its alerts
 * only when a rule reads `incident`, `alerts` or `observables`, its enrichment only when one reads
 * `enrichment`; with guards, the enrichment and the indicators too.
 */
function detailParts(deps: DecideStageDeps): DetailParts {
  const vars = new Set(policyVariables(deps.policy));
  // The protected-names guard reads the incident's user and host, its indicators and the directory's answers.
  const guarded = (deps.guards?.length ?? 0) > 0;
  return {
    // The alerts that stand for the whole incident, and every indicator: a rule sees what any alert says.
    alerts: vars.has('incident') || vars.has('alerts') || vars.has('observables') ? 'covering' : false,
    raw: false,
    enrichment: guarded || vars.has('enrichment'),
    history: false,
    indicators: guarded || vars.has('observables'),
  };
}

async function record(tx: Tx, changed: readonly IncidentDecision[], deps: DecideStageDeps, now: number): Promise<void> {
  if (changed.length === 0) return;
  const decisions = changed.map((d): PolicyDecision => ({ ...d.decision, decided_at: iso(now) }));
  const docs = decisions.map((d) => JSON.stringify(d));
  // Decision ids, for the outbox rows; each incident is at most once in a batch (one queue row per item).
  const ids = new Map<string, number>();
  const rows = decisions.map((decision, k) => ({
    incident_id: changed[k]!.incidentId,
    rule: decision.rule,
    outcome: decision.outcome,
    doc: docs[k]!,
    dry_run: decision.dry_run ? 1 : 0,
    config_version: decision.config_version,
    created_at: now,
  }));
  for (const chunk of pow2ChunksOf(rows, CHUNK)) {
    for (const r of await tx.insertInto('decisions').values(chunk).returning(['id', 'incident_id']).execute()) ids.set(r.incident_id, Number(r.id));
  }
  await updateIncidents(tx, changed.map((d, k) => ({ id: d.incidentId, decision: docs[k]! })), now);
  const queued = await queueActions(
    tx,
    changed.map((d, k) => ({ incidentId: d.incidentId, decisionId: ids.get(d.incidentId)!, actions: decisions[k]!.actions, followState: d.followState })),
    deps,
    now,
  );
  await addTimeline(
    tx,
    changed.map((d, k) => ({ incident_id: d.incidentId, at: now, kind: 'decided' as const, summary: summary(decisions[k]!, queued[k]!) })),
  );
}

/** Each incident's newest record and oldest undecided alert, as they are now. */
async function readProgress(db: Db, ids: readonly string[]): Promise<Map<string, { last_seq: number; pending_since: number | null }>> {
  const out = new Map<string, { last_seq: number; pending_since: number | null }>();
  for (const chunk of pow2ChunksOf([...new Set(ids)], CHUNK)) {
    const rows = await db.selectFrom('incidents').select(['id', 'last_seq', 'pending_since']).where('id', 'in', chunk).execute();
    for (const r of rows) out.set(r.id, { last_seq: Number(r.last_seq), pending_since: r.pending_since === null ? null : Number(r.pending_since) });
  }
  return out;
}

/**
 * Records that the incidents' alerts up to `through` are decided (whether or not the decision changed, the
 * rules have now seen them): the incident's decided_seq, and a mark that tells each alert when. An
 * incident that gained alerts meanwhile keeps its pending_since: those are not decided yet.
 */
async function markDecided(tx: Tx, decided: readonly IncidentDecision[], now: number): Promise<void> {
  const moved = decided.filter((d) => d.through > 0);
  if (moved.length === 0) return;
  await updateRows(tx, 'incidents', moved.map((d) => ({ id: d.incidentId, decided_seq: d.through })));
  for (const chunk of pow2ChunksOf(moved, CHUNK)) {
    await tx
      .updateTable('incidents')
      .set({ pending_since: null })
      .where('id', 'in', chunk.map((d) => d.incidentId))
      .whereRef('last_seq', '<=', 'decided_seq')
      .execute();
  }
  await insertRows(
    tx,
    'decision_marks',
    ['incident_id', 'through_seq', 'at'],
    moved.map((d) => ({ incident_id: d.incidentId, through_seq: d.through, at: now })),
    { onConflict: 'on conflict do nothing' },
  );
}

/** `${incident_id}:${kind}:${target}` — the outbox's once-ever key. */
export function idempotencyKey(incidentId: string, kind: string, target: string): string {
  return `${incidentId}:${kind}:${target}`;
}

/**
 * Inserts the live actions of each decision; returns, per decision, the actions that were new (an existing
 * key is left alone — and within the batch, a key already taken by an earlier action).
 */
async function queueActions(
  tx: Tx,
  decisions: ReadonlyArray<{ incidentId: string; decisionId: number; actions: readonly PolicyAction[]; followState: string }>,
  deps: DecideStageDeps,
  now: number,
): Promise<PolicyAction[][]> {
  const candidates: Array<{ decision: number; action: PolicyAction; row: ActionTable }> = [];
  const keys = new Set<string>();
  decisions.forEach((d, i) => {
    for (const a of d.actions) {
      if (a.dry_run) continue;
      const row = outboxRow(d.incidentId, d.decisionId, { ...a, kind: deps.targetKinds.get(a.target) ?? a.kind }, now);
      if (isFollowingKind(row.kind)) row.follow_state = d.followState;
      if (keys.has(row.idempotency_key)) continue;
      keys.add(row.idempotency_key);
      candidates.push({ decision: i, action: a, row });
    }
  });
  if (deps.limits?.length) await applyLimits(tx, candidates, deps, now);
  const inserted = new Set<string>();
  for (const chunk of pow2ChunksOf(candidates, CHUNK)) {
    const rows = await tx
      .insertInto('actions')
      .values(chunk.map((c) => c.row))
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning('idempotency_key')
      .execute();
    for (const r of rows) inserted.add(r.idempotency_key);
  }
  const queued = decisions.map((): PolicyAction[] => []);
  for (const c of candidates) if (inserted.has(c.row.idempotency_key)) queued[c.decision]!.push(c.action);
  return queued;
}

/**
 * Rate and blast-radius limits (actions/guards.ts) over the actions this batch queues anew: one over a limit
 * waits for approval instead, and its planned action says why (for the timeline).
 */
async function applyLimits(tx: Tx, candidates: ReadonlyArray<{ action: PolicyAction; row: ActionTable }>, deps: DecideStageDeps, now: number): Promise<void> {
  const existing = new Set<string>();
  for (const chunk of pow2ChunksOf(candidates, CHUNK)) {
    const keys = chunk.map((c) => c.row.idempotency_key);
    for (const r of await tx.selectFrom('actions').select('idempotency_key').where('idempotency_key', 'in', keys).execute()) existing.add(r.idempotency_key);
  }
  const fresh = candidates.filter((c) => !existing.has(c.row.idempotency_key));
  if ((await holdOverLimits(tx, fresh.map((c) => c.row), deps.limits!, { now, postgres: deps.store.skipLocked })) === 0) return;
  for (const c of fresh) if (c.row.held_by && !c.action.held_by) Object.assign(c.action, { approval: 'required', held_by: c.row.held_by });
}

function outboxRow(incidentId: string, decisionId: number, a: PolicyAction, now: number): ActionTable {
  const awaiting = a.approval === 'required';
  const due = awaiting && a.approval_timeout_ms !== undefined ? approvalTimeout(a.approval_timeout_ms, a.approval_default ?? 'deny', now) : undefined;
  return newActionRow(
    {
      incident_id: incidentId,
      decision_id: decisionId,
      kind: a.kind,
      target: a.target,
      idempotency_key: idempotencyKey(incidentId, a.kind, a.target),
      params: JSON.stringify(a.params),
      state: awaiting ? 'awaiting_approval' : 'pending',
      approval: a.approval,
      approval_due_at: due?.approval_due_at ?? null,
      approval_default: due?.approval_default ?? null,
      undo_after_ms: a.undo_after_ms ?? null,
      held_by: a.held_by ?? null,
      rule: a.rule,
    },
    now,
  );
}

/** 'rule "page-soc" → escalate; queued email → soc-mail (awaiting approval); 1 rule error (x: …)' */
export function summary(d: PolicyDecision, queued: readonly PolicyAction[]): string {
  const parts = [`rule "${d.rule}" → ${d.outcome}${d.dry_run ? ' (dry run)' : ''}`];
  if (queued.length) parts.push(`queued ${queued.map((a) => `${a.kind} → ${a.target}${a.held_by ? ` (held for approval: ${a.held_by})` : a.approval === 'required' ? ' (awaiting approval)' : ''}`).join(', ')}`);
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
