/**
 * Guards (`actions.guards`): containment that a person must approve even when its rule does not ask, because of
 * whom it touches or how much has been done already. A guard never drops an action: it holds it for approval
 * (`awaiting_approval` with `held_by` saying which guard and why), where the API, the CLI, chat buttons or the
 * rule's approval timeout settle it like any other. Only containment kinds (ActionComponent.containment) are
 * guarded; notifications and tickets never wait for a guard.
 *
 *  - protected users, groups and hosts (`protectedGuard`): pure, run by the policy (policy/evaluate.ts) over the
 *    incident's user and host, the users and hosts its indicators and enrichment name, and the directory's
 *    groups of those users;
 *  - limits (`holdOverLimits`): at most `max` actions per `per` (a rate), at most `max_active` in effect at once
 *    (a blast radius), by kind, target or rule. They count the outbox, so they run where actions are queued (the
 *    decide stage's transaction), counting the ones queued earlier in the same batch too. On PostgreSQL the
 *    count and the insert are serialised by an advisory lock, so that two pipelines cannot both take the last
 *    slot.
 */
import { sql } from 'kysely';
import type { Static } from 'typebox';
import type { GuardsSchema } from '../config/schema.js';
import type { IncidentDetail } from '../model/incident.js';
import type { ActionTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import type { ActionGuard, GuardVerdict, PolicyAction } from '../policy/evaluate.js';
import { actionKinds } from './registry.js';
import { LIMITS_LOCK } from '../store/locks.js';
import type { Limit } from './limits.js';
import { bareAccountName } from '../util/account-name.js';

export { compileLimits, type Limit } from './limits.js';

export type GuardsConfig = Static<typeof GuardsSchema>;

/** Whether actions of this kind contain (the kill switch and the guards apply to them). */
export function isContainmentKind(kind: string): boolean {
  return actionKinds.find((k) => k.kind === kind)?.containment === true;
}

// ───────────────────────────── protected users, groups, hosts ─────────────────────────────

/** A case-insensitive matcher for names with `*` wildcards (no other pattern syntax: names are data). */
export function namePattern(pattern: string): (name: string) => boolean {
  const parts = pattern.toLowerCase().split('*');
  if (parts.length === 1) return (name) => name.toLowerCase() === parts[0];
  return (name) => {
    const n = name.toLowerCase();
    if (!n.startsWith(parts[0]!) || !n.endsWith(parts[parts.length - 1]!)) return false;
    // Greedy left-to-right search of the middle parts, after the prefix and before the suffix.
    let at = parts[0]!.length;
    const end = n.length - parts[parts.length - 1]!.length;
    if (end < at) return false;
    for (const p of parts.slice(1, -1)) {
      const i = n.indexOf(p, at);
      if (i < 0 || i + p.length > end) return false;
      at = i + p.length;
    }
    return true;
  };
}

const anyOf = (patterns: readonly string[] | undefined) => {
  const ms = (patterns ?? []).map((p) => ({ p, m: namePattern(p) }));
  return (name: string) => ms.find((x) => x.m(name))?.p;
};

interface Subjects {
  users: Set<string>;
  hosts: Set<string>;
  /** Directory groups (names and DNs) of those users, and who the directory marks privileged or VIP. */
  groups: Map<string, string>;
  privileged: Set<string>;
}

/** Every user and host the incident names: its own, its indicators', and those its enrichment answers describe. */
function subjectsOf(detail: IncidentDetail): Subjects {
  const s: Subjects = { users: new Set(), hosts: new Set(), groups: new Map(), privileged: new Set() };
  if (detail.user) s.users.add(detail.user);
  if (detail.host) s.hosts.add(detail.host);
  for (const o of detail.indicators ?? []) {
    if (o.type === 'user') s.users.add(o.value);
    if (o.type === 'host') s.hosts.add(o.value);
  }
  for (const e of detail.enrichment) {
    if (!('data' in e) || !e.data) continue;
    const subject = e.subject as { type?: string; value?: string };
    if (subject.type !== 'user' || !subject.value) continue;
    s.users.add(subject.value);
    const data = e.data as { groups?: Array<{ dn?: unknown; name?: unknown }>; privileged?: unknown; vip?: unknown };
    for (const g of Array.isArray(data.groups) ? data.groups : []) {
      if (typeof g.name === 'string') s.groups.set(g.name, subject.value);
      if (typeof g.dn === 'string') s.groups.set(g.dn, subject.value);
    }
    if (data.privileged === true || data.vip === true) s.privileged.add(subject.value);
  }
  return s;
}

/** The protected-names guard; null when nothing is protected. */
export function protectedGuard(cfg: GuardsConfig['protected'], isContainment: (kind: string) => boolean = isContainmentKind): ActionGuard | null {
  if (!cfg || (!cfg.users?.length && !cfg.groups?.length && !cfg.hosts?.length && !cfg.privileged)) return null;
  const user = anyOf(cfg.users);
  const host = anyOf(cfg.hosts);
  const group = anyOf(cfg.groups);
  return {
    name: 'protected',
    check(action: PolicyAction, detail: IncidentDetail): GuardVerdict {
      if (!isContainment(action.kind)) return { allow: true };
      const s = subjectsOf(detail);
      for (const u of s.users) {
        // CORP\alice and alice@corp.example are alice too: a protected name is held in every spelling.
        const p = accountSpellings(u).map(user).find((x) => x !== undefined);
        if (p) return hold(`user ${u} is protected (${p})`);
      }
      for (const h of s.hosts) {
        const p = host(h);
        if (p) return hold(`host ${h} is protected (${p})`);
      }
      for (const [g, u] of s.groups) {
        const p = group(g);
        if (p) return hold(`user ${u} is in protected group ${g} (${p})`);
      }
      if (cfg.privileged) for (const u of s.privileged) return hold(`user ${u} is privileged or VIP in the directory`);
      return { allow: true };
    },
  };
}

/** An account name as given, without its domain and realm (`CORP\\alice`, `alice@corp`, `alice`). */
function accountSpellings(u: string): string[] {
  return [...new Set([u, u.slice(u.lastIndexOf('\\') + 1), bareAccountName(u)])];
}

const hold = (reason: string): GuardVerdict => ({ allow: false, hold: true, reason });

// ───────────────────────────── rate and blast-radius limits ─────────────────────────────

const applies = (l: Limit, r: Pick<ActionTable, 'kind' | 'target' | 'rule'>) =>
  (!l.kind || l.kind === r.kind) && (!l.target || l.target === r.target) && (!l.rule || l.rule === r.rule);


/**
 * Holds for approval the new outbox rows (about to be inserted, in order) that would go over a limit; returns how
 * many it held. Rows that wait for a person are left alone and not counted; rows that approve themselves when
 * nobody answers in time (`approval_default: approve`) run without a person, so they are limited and counted.
 */
export async function holdOverLimits(tx: Tx, rows: ActionTable[], limits: readonly Limit[], opts: { now: number; postgres: boolean }): Promise<number> {
  const live = rows.filter((r) => (r.state === 'pending' || selfApproving(r)) && isContainmentKind(r.kind) && limits.some((l) => applies(l, r)));
  if (live.length === 0) return 0;
  if (opts.postgres) await sql`select pg_advisory_xact_lock(${LIMITS_LOCK})`.execute(tx);
  const used = await Promise.all(limits.map((l) => countUsed(tx, l, opts.now)));
  let held = 0;
  for (const row of live) {
    const over = limits.findIndex((l, i) => applies(l, row) && overBy(l, used[i]!));
    if (over >= 0) {
      const l = limits[over]!;
      row.state = 'awaiting_approval';
      row.approval = 'required';
      // A person decides: nobody answering must not approve it.
      row.approval_due_at = null;
      row.approval_default = null;
      row.held_by = `limit ${l.name}: ${describeUse(l, used[over]!)}`;
      held++;
      continue;
    }
    limits.forEach((l, i) => {
      if (!applies(l, row)) return;
      used[i]!.recent++;
      used[i]!.active++;
    });
  }
  return held;
}

/** Waiting for approval, but approved when nobody answers in time: it runs without a person. */
const selfApproving = (r: Pick<ActionTable, 'state' | 'approval_default'>) => r.state === 'awaiting_approval' && r.approval_default === 'approve';

interface Use {
  recent: number;
  active: number;
}

const overBy = (l: Limit, u: Use) => (l.max !== undefined && u.recent >= l.max) || (l.maxActive !== undefined && u.active >= l.maxActive);

function describeUse(l: Limit, u: Use): string {
  const parts: string[] = [];
  if (l.max !== undefined && u.recent >= l.max) parts.push(`${u.recent} in the last ${l.perMs! / 60_000} min (at most ${l.max})`);
  if (l.maxActive !== undefined && u.active >= l.maxActive) parts.push(`${u.active} in effect (at most ${l.maxActive} at once)`);
  return parts.join('; ');
}

/**
 * What a limit has used: actions of its own (not undos or follow-ups, not dry runs) that ran or will run
 * without a person deciding — created within the window — and those in effect now (queued, running, or
 * succeeded with no undo queued).
 */
async function countUsed(tx: Tx, l: Limit, now: number): Promise<Use> {
  let q = tx
    .selectFrom('actions')
    .where('undo_of', 'is', null)
    .where('follow_of', 'is', null)
    .where('dry_run', '=', 0);
  if (l.kind) q = q.where('kind', '=', l.kind);
  if (l.target) q = q.where('target', '=', l.target);
  if (l.rule) q = q.where('rule', '=', l.rule);
  // Without a blast radius only the window is read (the kind-and-time index); a blast radius reads them all.
  if (l.maxActive === undefined) q = q.where('created_at', '>=', now - (l.perMs ?? 0));
  const r = await q
    .select((eb) => [
      eb.fn
        .sum<number>(eb.case().when(eb.and([
            eb('created_at', '>=', now - (l.perMs ?? 0)),
            eb.or([eb('state', 'not in', ['awaiting_approval', 'denied', 'skipped']), eb.and([eb('state', '=', 'awaiting_approval'), eb('approval_default', '=', 'approve')])]),
          ])).then(1).else(0).end())
        .as('recent'),
      eb.fn
        .sum<number>(
          eb
            .case()
            .when(
              eb.or([
                eb('state', 'in', ['pending', 'running']),
                eb.and([eb('state', '=', 'awaiting_approval'), eb('approval_default', '=', 'approve')]),
                eb.and([eb('state', '=', 'succeeded'), eb.not(eb.exists(eb.selectFrom('actions as u').select('u.id').whereRef('u.undo_of', '=', 'actions.id')))]),
              ]),
            )
            .then(1)
            .else(0)
            .end(),
        )
        .as('active'),
    ])
    .executeTakeFirst();
  return { recent: Number(r?.recent ?? 0), active: Number(r?.active ?? 0) };
}
