/**
 * Backtest: the stored incidents of a time window replayed through a changed policy and/or scoring profile,
 * compared with the decisions they have. Read only — nothing is written to the store, no action is queued,
 * no provider is asked: each incident's stored enrichment is what it is scored and decided on.
 *
 *  - Which incidents: last_seen in [since, until), oldest first; their ids are read in one query (one scan,
 *    a few dozen bytes each), then the incidents a chunk at a time with the detail loader the stages use
 *    (loadIncidentDetails: a few IN-list queries per chunk, only the parts the policy and profile read).
 *  - Score: with a profile, recomputed by the scoring engine as of the incident's last_seen (the time the
 *    score stage last scored it, near enough: expiries and history windows then count from the same day);
 *    without, the stored score.
 *  - Decision: evaluatePolicies, the decide stage's batch evaluator, with the configured `policy.dry_run`;
 *    no guards (the stock set is empty, and guards would read live state, not the past).
 *  - Compared with the stored decision: outcome, rule, the planned actions (target, kind, dry run), and the
 *    score when it moved by more than `scoreDelta` points. An incident never decided compares as "(none)".
 */
import type { Store } from '../store/store.js';
import { loadIncidentDetails, type DetailParts } from '../store/incidents.js';
import type { IncidentDetail } from '../model/incident.js';
import type { PlannedAction } from '../model/decision.js';
import { evaluatePolicies, policyVariables, type PolicyDecision } from '../policy/evaluate.js';
import type { CompiledPolicy } from '../policy/rules.js';
import type { CelSandbox } from '../policy/sandbox.js';
import { readsUnfoundAnswers, scoreIncident } from '../score/index.js';
import type { ResolvedProfile } from '../score/profile.js';
import { iso } from '../util/time.js';

/** Incidents per round of reading and evaluating (the detail loader's own IN-list chunk). */
export const BACKTEST_CHUNK = 500;
export const DEFAULT_LISTED = 50;
export const DEFAULT_SCORE_DELTA = 10;

export interface BacktestSetup {
  policy: CompiledPolicy;
  /** Absent: the stored scores are used. */
  profile?: ResolvedProfile;
  /** `policy.dry_run` of the configuration the policy belongs to. */
  dryRun?: boolean;
  sandbox?: CelSandbox;
}

export interface BacktestOptions {
  /** Epoch ms, inclusive. */
  since: number;
  /** Epoch ms, exclusive. */
  until: number;
  /** Changed incidents listed (all are counted). */
  limit?: number;
  /** A score change counts when it is more than this many points. */
  scoreDelta?: number;
  /** At most this many incidents (the oldest of the window); `truncated` says when there were more. */
  maxIncidents?: number;
  onProgress?(done: number, total: number): void;
}

export interface Change<T> {
  old: T;
  new: T;
}

export interface ChangedIncident {
  id: string;
  title: string;
  last_seen: string;
  score: Change<number | null>;
  outcome: Change<string | null>;
  rule: Change<string | null>;
  actions: { added: string[]; removed: string[] };
}

export interface BacktestCounts {
  incidents: number;
  same: number;
  changed: number;
  outcome_changed: number;
  rule_changed: number;
  /** Incidents that would get at least one action they did not, and the actions in all. */
  incidents_with_actions_added: number;
  incidents_with_actions_removed: number;
  actions_added: number;
  actions_removed: number;
  /** Incidents whose score moved by more than score_delta points. */
  score_changed: number;
  /** Incidents with no stored decision. */
  undecided: number;
}

export interface BacktestReport {
  since: string;
  until: string;
  profile: { name: string; version: string } | null;
  rules: number;
  score_delta: number;
  counts: BacktestCounts;
  /** "old → new" outcome → number of incidents, for the outcomes that changed. */
  outcome_changes: Record<string, number>;
  /** The first `limit` changed incidents, oldest first. */
  changed: ChangedIncident[];
  /** More incidents were in the window than maxIncidents: only the oldest were replayed. */
  truncated: boolean;
  elapsed_ms: number;
}

export async function runBacktest(store: Store, setup: BacktestSetup, opts: BacktestOptions): Promise<BacktestReport> {
  const t0 = performance.now();
  const limit = opts.limit ?? DEFAULT_LISTED;
  const delta = opts.scoreDelta ?? DEFAULT_SCORE_DELTA;
  const ids = await windowIds(store, opts);
  const truncated = opts.maxIncidents !== undefined && ids.length > opts.maxIncidents;
  if (truncated) ids.length = opts.maxIncidents!;
  const counts: BacktestCounts = {
    incidents: 0,
    same: 0,
    changed: 0,
    outcome_changed: 0,
    rule_changed: 0,
    incidents_with_actions_added: 0,
    incidents_with_actions_removed: 0,
    actions_added: 0,
    actions_removed: 0,
    score_changed: 0,
    undecided: 0,
  };
  const outcomeChanges: Record<string, number> = {};
  const listed: ChangedIncident[] = [];
  const parts = backtestParts(setup);
  opts.onProgress?.(0, ids.length);
  for (let i = 0; i < ids.length; i += BACKTEST_CHUNK) {
    const chunk = ids.slice(i, i + BACKTEST_CHUNK);
    const loaded = await loadIncidentDetails(store.db, chunk, { parts, docs: store.alertDocs });
    // An incident deleted since its id was read is skipped, like the decide stage does.
    const stored = chunk.map((id) => loaded.get(id)).filter((d): d is IncidentDetail => d !== undefined);
    const rescored = setup.profile ? stored.map((d) => ({ ...d, score: scoreIncident(d, setup.profile!, Date.parse(d.last_seen)) })) : stored;
    const decisions = evaluatePolicies(setup.policy, rescored, {
      configVersion: 'backtest',
      dryRun: setup.dryRun ?? false,
      ...(setup.sandbox ? { sandbox: setup.sandbox } : {}),
    });
    stored.forEach((before, k) => {
      const c = compare(before, rescored[k]!.score?.total ?? null, decisions[k]!, delta);
      counts.incidents++;
      if (!before.decision) counts.undecided++;
      if (!c) {
        counts.same++;
        return;
      }
      counts.changed++;
      if (c.outcome.old !== c.outcome.new) {
        counts.outcome_changed++;
        const key = `${c.outcome.old ?? '(none)'} → ${c.outcome.new}`;
        outcomeChanges[key] = (outcomeChanges[key] ?? 0) + 1;
      }
      if (c.rule.old !== c.rule.new) counts.rule_changed++;
      if (c.actions.added.length) counts.incidents_with_actions_added++;
      if (c.actions.removed.length) counts.incidents_with_actions_removed++;
      counts.actions_added += c.actions.added.length;
      counts.actions_removed += c.actions.removed.length;
      if (scoreMoved(c.score, delta)) counts.score_changed++;
      if (listed.length < limit) listed.push(c);
    });
    opts.onProgress?.(Math.min(i + BACKTEST_CHUNK, ids.length), ids.length);
  }
  return {
    since: iso(opts.since),
    until: iso(opts.until),
    profile: setup.profile ? { name: setup.profile.name, version: setup.profile.version } : null,
    rules: setup.policy.rules.length,
    score_delta: delta,
    counts,
    outcome_changes: outcomeChanges,
    changed: listed,
    truncated,
    elapsed_ms: Math.round(performance.now() - t0),
  };
}

/** The window's incident ids, oldest last_seen first (at most maxIncidents + 1, to tell truncation). */
async function windowIds(store: Store, opts: BacktestOptions): Promise<string[]> {
  let q = store.db
    .selectFrom('incidents')
    .select('id')
    .where('last_seen', '>=', opts.since)
    .where('last_seen', '<', opts.until)
    .orderBy('last_seen')
    .orderBy('id');
  if (opts.maxIncidents !== undefined) q = q.limit(opts.maxIncidents + 1);
  return (await q.execute()).map((r) => r.id);
}

/**
 * What to read of each incident: what the rules read (as the decide stage reads it: the covering alerts
 * for `incident`/`alerts`/`observables`, every enrichment row for `enrichment`) and, with a profile, what
 * scoring reads (as the score stage: the covering alerts, the enrichment rows its engine looks at).
 */
export function backtestParts(setup: Pick<BacktestSetup, 'policy' | 'profile'>): DetailParts {
  const vars = new Set(policyVariables(setup.policy));
  const rulesReadAlerts = vars.has('incident') || vars.has('alerts') || vars.has('observables');
  const scoring = setup.profile ? (readsUnfoundAnswers(setup.profile) ? true : 'found') : false;
  return {
    alerts: rulesReadAlerts || setup.profile ? 'covering' : false,
    raw: false,
    enrichment: vars.has('enrichment') ? true : scoring,
    history: false,
    indicators: vars.has('observables'),
  };
}

/** "email → soc-mail", "(dry run)" when it would only be recorded. */
export function actionLabel(a: PlannedAction & { dry_run?: boolean }): string {
  return `${a.kind} → ${a.target}${a.dry_run ? ' (dry run)' : ''}`;
}

/** The incident as changed, or null when the replay decides as it was decided (and the score stayed close). */
function compare(before: IncidentDetail, newTotal: number | null, now: PolicyDecision, delta: number): ChangedIncident | null {
  const was = before.decision;
  const oldActions = new Set((was?.actions ?? []).map(actionLabel));
  const newActions = new Set(now.actions.map(actionLabel));
  const added = [...newActions].filter((a) => !oldActions.has(a));
  const removed = [...oldActions].filter((a) => !newActions.has(a));
  const c: ChangedIncident = {
    id: before.id,
    title: before.title,
    last_seen: before.last_seen,
    score: { old: before.score?.total ?? null, new: newTotal },
    outcome: { old: was?.outcome ?? null, new: now.outcome },
    rule: { old: was?.rule ?? null, new: now.rule },
    actions: { added, removed },
  };
  const same = c.outcome.old === c.outcome.new && c.rule.old === c.rule.new && !added.length && !removed.length && !scoreMoved(c.score, delta);
  return same ? null : c;
}

function scoreMoved(s: Change<number | null>, delta: number): boolean {
  if (s.old === null || s.new === null) return s.old !== s.new;
  return Math.abs(s.new - s.old) > delta;
}
