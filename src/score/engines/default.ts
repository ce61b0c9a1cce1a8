/**
 * The `default` profile: a modern, explainable score on one 0–100 scale (documented factor by factor in
 * docs/scoring.md — keep the two in step). Seven components, each bounded on its own so that no single source
 * of facts can dominate, then a total clamped to 0–100:
 *
 *   threat    what the alerts and intel say: severity, whether the detector let it through, indicator verdicts
 *             (weighed by how many sources agree and how fresh their knowledge is), a disabled or locked account
 *   asset     how much the machine matters: inventory / network-segment criticality, zone, tags
 *   user      how much the account matters: privileged groups or names, targeted people (VIP), department
 *   geo       where the traffic goes, when the profile lists countries or ASNs (none by default)
 *   history   how earlier incidents on the same host/user/indicator ended: true positives raise, false lower
 *   allowlist a vetted exception: one large negative line naming the entry and its reason
 *   repeats   how much is going on: alerts in the incident, more than one detector
 */
import type { Alert } from '../../model/alert.js';
import { severityLabel } from '../../model/alert.js';
import type { IncidentDetail } from '../../model/incident.js';
import type { Score } from '../../model/score.js';
import { Explanation } from '../explain.js';
import {
  alertsOf,
  answers,
  clip,
  criticality,
  fromProviders,
  isRecord,
  list,
  num,
  ruleKeys,
  str,
  strings,
  subjectText,
  time,
  CRITICALITIES,
  type Answer,
  type Criticality,
} from '../inputs.js';
import { Type, type Static } from 'typebox';
import { defineScoringEngine } from '../engine.js';
import { CriticalityPoints, Names, Obj, Points, Range } from '../settings.js';
import { agreementFactor, collectOpinions, fmt, type Opinion, type OpinionVerdict } from '../intel.js';
import { bareAccountName } from '../../util/account-name.js';

// ───────────────────────────── settings ─────────────────────────────

export const DefaultSettingsSchema = Obj({
  engine: Type.Literal('default'),
  description: Type.String(),
  providers: Obj(
    {
      netsegments: Names('Providers answering with network segments {segment, zone, criticality}'),
      inventory: Names('Providers answering with assets {host, criticality, tags}'),
      allowlist: Names('Providers answering with allowlist entries {entries: [{match, reason, rules, expires}]}'),
      history: Names('Providers answering with earlier verdicts {verdicts: {true_positive, false_positive, benign}}'),
      indicators: Names('Local indicator lists answering {verdict: malicious|suspicious|benign, sources}; a list counts as own_list_sources agreeing sources, never aged'),
      intel: Names('Threat-intelligence providers answering in the common shape {verdict, score, last_seen}; "*" = any answer in that shape'),
      directory: Names('Providers answering about users {groups, tags, privileged, vip, disabled, locked, department}'),
      geoip: Names('Providers answering about IP addresses {country, asn, as_org}'),
    },
    'Configured enrichment provider names per source of facts',
  ),
  threat: Obj({
    ...Range,
    severity: Obj({ info: Points(), low: Points(), medium: Points(), high: Points(), critical: Points() }, 'By the highest alert severity label'),
    detector_action: Obj(
      { allowed: Points(), detected: Points(), unknown: Points(), blocked: Points(), quarantined: Points() },
      'By what the detector itself did; the highest-scoring action among the alerts counts',
    ),
    indicator: Obj({
      malicious: Points('With full agreement; scaled by the agreement factor'),
      suspicious: Points(),
      benign: Points('When several sources agree an indicator is harmless (usually negative)'),
      more_malicious_each: Points('Per further distinct malicious indicator'),
      more_malicious_max: Points(),
      agreement: Type.Array(Type.Number({ minimum: 0, maximum: 1 }), {
        minItems: 1,
        maxItems: 10,
        description: 'Factor for 1, 2, 3… agreeing sources (age-weighted, interpolated); the last entry beyond',
      }),
      own_list_sources: Type.Number({ minimum: 0, maximum: 10, description: 'How many agreeing sources one answer of a local list (providers.indicators) is worth' }),
      harmless_min_sources: Type.Number({ minimum: 0, maximum: 10, description: 'Age-weighted sources saying harmless needed before benign points apply' }),
      age: Obj(
        {
          grace_days: Type.Number({ minimum: 0, maximum: 3650, description: 'No discount while last_seen is at most this old' }),
          half_life_days: Type.Number({ exclusiveMinimum: 0, maximum: 3650, description: 'After the grace, an opinion counts half as much per this many days' }),
          types: Names('Subject types whose intel ages (e.g. ip, domain, url); others never age'),
        },
        'Discount of intel opinions by the age of the source\'s last_seen',
      ),
    }),
    account: Obj(
      {
        disabled: Points('A directory says the incident\'s account is disabled: activity on it is suspicious'),
        locked: Points('A directory says the account is locked out (often password guessing)'),
      },
      'Directory account state of the incident\'s user(s)',
    ),
  }),
  asset: Obj({
    ...Range,
    criticality: CriticalityPoints,
    zones: Type.Record(Type.String(), Points(), { description: 'Network zone name (lower case) → points' }),
    tags: Type.Record(Type.String(), Points(), { description: 'Asset tag (lower case) → points' }),
  }),
  user: Obj({
    ...Range,
    privileged_groups: Names('Groups or tags (case-insensitive) that make a user privileged'),
    privileged: Points(),
    privileged_names: Names('Account names (case-insensitive, without domain) that are privileged by themselves'),
    privileged_name: Points(),
    vip_groups: Names('Groups or tags (case-insensitive) of people attackers target: executives, finance…'),
    vip: Points('Also when a directory answer says vip: true'),
    departments: Type.Record(Type.String(), Points(), { description: 'Department (case-insensitive) → points; the largest effect counts' }),
  }),
  geo: Obj({
    ...Range,
    countries: Type.Record(Type.String(), Points(), { description: 'ISO 3166 country code (case-insensitive) → points' }),
    asns: Type.Record(Type.String(), Points(), { description: 'AS number ("64496" or "AS64496") → points' }),
  }),
  history: Obj({
    ...Range,
    true_positive_each: Points(),
    false_positive_each: Points(),
    benign_is_false_positive: Type.Boolean(),
    window_days: Type.Integer({ minimum: 1, maximum: 3650, description: 'Ignore history last seen longer ago than this' }),
  }),
  allowlist: Obj({ points: Points() }),
  repeats: Obj({
    ...Range,
    per_extra_alert: Points(),
    detectors: Points('When two or more different detectors raised alerts in the incident'),
  }),
});
export type DefaultSettings = Static<typeof DefaultSettingsSchema>;

export const DEFAULT_PROFILE: DefaultSettings = {
  engine: 'default',
  description: 'Modern profile: threat, asset, user, geo, history, allowlist and repeats on one 0–100 scale',
  providers: {
    netsegments: ['netsegments'],
    inventory: ['inventory'],
    allowlist: ['allowlist'],
    history: ['history'],
    indicators: ['indicators'],
    intel: ['*'],
    directory: ['directory', 'ldap'],
    geoip: ['geoip'],
  },
  threat: {
    min: 0,
    max: 60,
    severity: { info: 0, low: 5, medium: 12, high: 20, critical: 28 },
    detector_action: { allowed: 8, detected: 0, unknown: 0, blocked: -10, quarantined: -10 },
    indicator: {
      malicious: 25,
      suspicious: 10,
      benign: -5,
      more_malicious_each: 5,
      more_malicious_max: 10,
      agreement: [0.6, 0.85, 1],
      own_list_sources: 3,
      harmless_min_sources: 2,
      age: { grace_days: 30, half_life_days: 90, types: ['ip', 'domain', 'url', 'email'] },
    },
    account: { disabled: 10, locked: 5 },
  },
  asset: {
    min: 0,
    max: 25,
    criticality: { low: 0, medium: 5, high: 12, critical: 20 },
    zones: { pci: 10, dmz: 5, datacenter: 5, ot: 10, guest: -5 },
    tags: { 'crown-jewel': 10, pci: 10, 'domain-controller': 10 },
  },
  user: {
    min: 0,
    max: 20,
    privileged_groups: ['domain admins', 'enterprise admins', 'administrators', 'admins', 'privileged'],
    privileged: 15,
    privileged_names: ['root', 'administrator', 'admin'],
    privileged_name: 10,
    vip_groups: ['vip', 'executive', 'executives', 'finance'],
    vip: 10,
    departments: {},
  },
  geo: { min: -10, max: 15, countries: {}, asns: {} },
  history: { min: -20, max: 15, true_positive_each: 5, false_positive_each: -5, benign_is_false_positive: true, window_days: 90 },
  allowlist: { points: -60 },
  repeats: { min: 0, max: 10, per_extra_alert: 2, detectors: 5 },
};

export const DEFAULT_COMPONENTS = ['threat', 'asset', 'user', 'geo', 'history', 'allowlist', 'repeats'] as const;

const DAY_MS = 86_400_000;

interface Facts {
  detail: IncidentDetail;
  alerts: Alert[];
  answers: Answer[];
  now: number;
}

export function scoreDefault(detail: IncidentDetail, s: DefaultSettings, profileName: string, now: number): Score {
  const f: Facts = { detail, alerts: alertsOf(detail), answers: answers(detail), now };
  const ex = new Explanation();
  threat(ex, f, s);
  asset(ex, f, s);
  user(ex, f, s);
  geo(ex, f, s);
  history(ex, f, s);
  allowlist(ex, f, s);
  repeats(ex, f, s);
  return ex.finish(profileName, 0, 100, DEFAULT_COMPONENTS);
}

// ───────────────────────────── threat ─────────────────────────────

function threat(ex: Explanation, f: Facts, s: DefaultSettings): void {
  severity(ex, f.alerts, s);
  detectorAction(ex, f.alerts, s);
  indicators(ex, f, s);
  accountState(ex, directoryRows(f, s), s);
  ex.bound('threat', s.threat.min, s.threat.max);
}

function severity(ex: Explanation, alerts: readonly Alert[], s: DefaultSettings): void {
  const sev = alerts.map((a) => num(a.severity)).filter((n): n is number => n !== undefined);
  if (sev.length === 0) return;
  const max = Math.max(...sev);
  const label = severityLabel(max);
  const title = alerts.find((a) => num(a.severity) === max)?.title ?? '';
  ex.add('threat.severity', s.threat.severity[label], `highest alert severity ${max} (${label}): ${clip(title, 60)}`);
}

function detectorAction(ex: Explanation, alerts: readonly Alert[], s: DefaultSettings): void {
  const table = s.threat.detector_action;
  const seen = new Map<keyof typeof table, number>();
  for (const a of alerts) {
    const act = a.action;
    if (act && Object.hasOwn(table, act)) seen.set(act, (seen.get(act) ?? 0) + 1);
  }
  if (seen.size === 0) return;
  // The worst case counts: one alert that got through outweighs several that were blocked.
  const [action, count] = [...seen].sort((x, y) => table[y[0]] - table[x[0]])[0]!;
  const of = alerts.length > 1 ? ` (${count} of ${alerts.length} alerts)` : '';
  ex.add('threat.detector_action', table[action], `detector reported the activity as "${action}"${of}`);
}

const VERDICT_RANK: Record<OpinionVerdict, number> = { malicious: 3, suspicious: 2, harmless: 1 };
const VERDICT_WORD: Record<OpinionVerdict, string> = { malicious: 'malicious', suspicious: 'suspicious', harmless: 'benign' };

interface Assessment {
  subject: string;
  verdict: OpinionVerdict;
  points: number;
  evidence: string;
}

/**
 * One factor for every source of verdicts (local lists and intel providers): per indicator, the age-weighted
 * sources saying malicious, suspicious or harmless; the strongest verdict counts, scaled by how many sources
 * agree. Any malicious source makes the indicator malicious (an engine-clean verdict is weak evidence against
 * a detection, so harmless never outvotes malicious); harmless outvotes suspicious when at least
 * `harmless_min_sources` say so and they outweigh the suspicious ones.
 */
function indicators(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const t = s.threat.indicator;
  const grouped = collectOpinions(
    f.answers,
    { lists: s.providers.indicators, intel: s.providers.intel, ownListSources: t.own_list_sources, age: t.age },
    f.now,
  );
  const assessed = grouped.map((g) => assess(g.subject, g.opinions, s)).filter((a): a is Assessment => a !== undefined);
  assessed.sort((a, b) => VERDICT_RANK[b.verdict] - VERDICT_RANK[a.verdict] || Math.abs(b.points) - Math.abs(a.points));
  const top = assessed[0];
  if (!top) return;
  ex.add('threat.indicator', top.points, top.evidence);
  if (top.verdict !== 'malicious') return;
  const more = [...new Set(assessed.filter((a) => a.verdict === 'malicious' && a.subject !== top.subject).map((a) => a.subject))];
  if (more.length === 0) return;
  const points = Math.min(t.more_malicious_max, more.length * t.more_malicious_each);
  const names = more.slice(0, 3).join(', ') + (more.length > 3 ? ', …' : '');
  ex.add('threat.indicators_more', points, `${more.length} more malicious indicator${more.length > 1 ? 's' : ''}: ${names}`);
}

function assess(subject: string, ops: readonly Opinion[], s: DefaultSettings): Assessment | undefined {
  const t = s.threat.indicator;
  const weight = (v: OpinionVerdict) => ops.filter((o) => o.verdict === v).reduce((n, o) => n + o.weight, 0);
  const mal = weight('malicious');
  const sus = weight('suspicious');
  const harm = weight('harmless');
  const harmlessCarries = harm > 0 && harm >= t.harmless_min_sources && harm > sus;
  const verdict: OpinionVerdict | undefined = mal > 0 ? 'malicious' : sus > 0 && !harmlessCarries ? 'suspicious' : harmlessCarries ? 'harmless' : undefined;
  if (!verdict) return undefined;
  const n = verdict === 'malicious' ? mal : verdict === 'suspicious' ? sus : harm;
  const factor = agreementFactor(n, t.agreement);
  const full = verdict === 'malicious' ? t.malicious : verdict === 'suspicious' ? t.suspicious : t.benign;
  const points = Math.round(full * factor);
  const agreeing = ops.filter((o) => o.verdict === verdict);
  const others = ops.filter((o) => o.verdict !== verdict);
  const notes: string[] = [];
  if (agreeing.length > 1) notes.push(`${agreeing.length} sources agree`);
  if (factor !== 1) notes.push(`agreement ${fmt(n)} source${n === 1 ? '' : 's'} → ×${fmt(factor)} of ${full}`);
  for (const v of ['malicious', 'suspicious', 'harmless'] as const) {
    const o = others.filter((x) => x.verdict === v);
    if (o.length) notes.push(`${clip(o.map((x) => x.label).join(', '), 80)} say${o.length === 1 ? 's' : ''} ${VERDICT_WORD[v]}`);
  }
  const per = clip(agreeing.map((o) => o.label).join(', '), 120);
  return { subject, verdict, points, evidence: `${subject} is ${VERDICT_WORD[verdict]} per ${per}${notes.length ? ` — ${notes.join('; ')}` : ''}` };
}

/** Directory answers about the incident's user(s): `user` subjects, and `email` ones (an LDAP directory answers both). */
function directoryRows(f: Facts, s: DefaultSettings): Answer[] {
  return fromProviders(f.answers, s.providers.directory).filter((r) => r.subject.type === 'user' || r.subject.type === 'email');
}

function accountState(ex: Explanation, rows: readonly Answer[], s: DefaultSettings): void {
  const disabled = rows.find((r) => r.data.disabled === true);
  if (disabled) ex.add('threat.disabled_account', s.threat.account.disabled, `${subjectText(disabled)}: the account is disabled (${disabled.provider}); activity on a disabled account is suspicious`);
  const locked = rows.find((r) => r.data.locked === true);
  if (locked) {
    const at = str(locked.data.locked_at) ? ` since ${clip(str(locked.data.locked_at)!, 30)}` : '';
    ex.add('threat.locked_account', s.threat.account.locked, `${subjectText(locked)}: the account is locked out${at} (${locked.provider})`);
  }
}

// ───────────────────────────── asset ─────────────────────────────

function asset(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const inventory = fromProviders(f.answers, s.providers.inventory);
  const segments = fromProviders(f.answers, s.providers.netsegments);
  assetCriticality(ex, inventory, segments, s);
  zone(ex, segments, s);
  tags(ex, [...inventory, ...segments], s);
  ex.bound('asset', s.asset.min, s.asset.max);
}

function assetCriticality(ex: Explanation, inventory: readonly Answer[], segments: readonly Answer[], s: DefaultSettings): void {
  let best: { c: Criticality; why: string } | undefined;
  const consider = (c: Criticality | undefined, why: string) => {
    if (c && (!best || CRITICALITIES.indexOf(c) > CRITICALITIES.indexOf(best.c))) best = { c, why };
  };
  for (const r of inventory) {
    const host = str(r.data.host) ? `host ${clip(str(r.data.host)!, 60)}` : subjectText(r);
    consider(criticality(r.data.criticality), `${host} has criticality "${String(r.data.criticality).toLowerCase()}" (${r.provider})`);
  }
  for (const r of segments) {
    const seg = str(r.data.segment) ?? str(r.data.name) ?? '?';
    consider(criticality(r.data.criticality), `${subjectText(r)} is in segment "${clip(seg, 40)}" of criticality "${String(r.data.criticality).toLowerCase()}" (${r.provider})`);
  }
  if (best) ex.add('asset.criticality', s.asset.criticality[best.c], best.why);
}

function zone(ex: Explanation, segments: readonly Answer[], s: DefaultSettings): void {
  let best: { points: number; why: string } | undefined;
  for (const r of segments) {
    const z = str(r.data.zone)?.toLowerCase();
    if (!z || !Object.hasOwn(s.asset.zones, z)) continue;
    const points = s.asset.zones[z]!;
    if (!best || Math.abs(points) > Math.abs(best.points)) best = { points, why: `${subjectText(r)} is in zone "${clip(z, 40)}" (${r.provider})` };
  }
  if (best) ex.add('asset.zone', best.points, best.why);
}

function tags(ex: Explanation, rows: readonly Answer[], s: DefaultSettings): void {
  const done = new Set<string>();
  for (const r of rows) {
    for (const t of strings(r.data.tags).map((x) => x.toLowerCase())) {
      if (done.has(t) || !Object.hasOwn(s.asset.tags, t)) continue;
      done.add(t);
      ex.add('asset.tag', s.asset.tags[t]!, `${subjectText(r)} is tagged "${clip(t, 40)}" (${r.provider})`);
    }
  }
}

// ───────────────────────────── user ─────────────────────────────

function user(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const rows = directoryRows(f, s);
  const privileged = lower(s.user.privileged_groups);
  const vip = lower(s.user.vip_groups);
  const priv = firstGroupMatch(rows, privileged, 'privileged');
  if (priv) ex.add('user.privileged', s.user.privileged, priv);
  else privilegedName(ex, f, s);
  const v = firstGroupMatch(rows, vip, 'vip');
  if (v) ex.add('user.vip', s.user.vip, v);
  department(ex, rows, s);
  ex.bound('user', s.user.min, s.user.max);
}

function lower(xs: readonly string[]): Set<string> {
  return new Set(xs.map((x) => x.toLowerCase()));
}

/** Group names of a directory answer: strings, or LDAP's `{ dn, name }` objects (the name, then the DN). */
function groupNames(v: unknown): string[] {
  return list(v).flatMap((g) => (typeof g === 'string' ? [g] : isRecord(g) ? [str(g.name), str(g.dn)].filter((x): x is string => x !== undefined) : []));
}

/** "user:alice is in group \"Domain Admins\" (directory)"; a boolean flag (`privileged: true`, `vip: true`) counts too. */
function firstGroupMatch(rows: readonly Answer[], wanted: ReadonlySet<string>, flag: 'privileged' | 'vip'): string | undefined {
  for (const r of rows) {
    if (r.data[flag] === true) return `${subjectText(r)} is marked ${flag === 'vip' ? 'VIP' : 'privileged'} (${r.provider})`;
    for (const g of [...groupNames(r.data.groups), ...strings(r.data.tags)]) {
      if (wanted.has(g.toLowerCase())) return `${subjectText(r)} is in group "${clip(g, 60)}" (${r.provider})`;
    }
  }
  return undefined;
}

/** The department with the largest effect among the answers, when the profile maps departments to points. */
function department(ex: Explanation, rows: readonly Answer[], s: DefaultSettings): void {
  const table = new Map(Object.entries(s.user.departments).map(([k, v]) => [k.trim().toLowerCase(), v]));
  let best: { points: number; why: string } | undefined;
  for (const r of rows) {
    const d = str(r.data.department);
    const points = d === undefined ? undefined : table.get(d.trim().toLowerCase());
    if (points === undefined || (best && Math.abs(points) <= Math.abs(best.points))) continue;
    best = { points, why: `${subjectText(r)} works in department "${clip(d!, 60)}" (${r.provider})` };
  }
  if (best) ex.add('user.department', best.points, best.why);
}

function privilegedName(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const names = lower(s.user.privileged_names);
  const users = new Set<string>();
  if (f.detail.user) users.add(f.detail.user);
  for (const a of f.alerts) if (a.user?.name) users.add(a.user.name);
  for (const u of users) {
    // DOMAIN\name and name@realm are name.
    const bare = bareAccountName(u).toLowerCase();
    if (names.has(bare)) {
      ex.add('user.privileged_name', s.user.privileged_name, `account "${clip(u, 60)}" is a privileged account by name`);
      return;
    }
  }
}

// ───────────────────────────── geo ─────────────────────────────

/**
 * Countries and autonomous systems the profile lists (none by default, so nobody is surprised by points for
 * geography): per kind, the address with the largest effect counts, once.
 */
function geo(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const rows = fromProviders(f.answers, s.providers.geoip).filter((r) => r.subject.type === 'ip');
  const countries = new Map(Object.entries(s.geo.countries).map(([k, v]) => [k.trim().toUpperCase(), v]));
  const asns = new Map(Object.entries(s.geo.asns).map(([k, v]) => [asnKey(k), v]));
  let country: { points: number; why: string } | undefined;
  let asn: { points: number; why: string } | undefined;
  for (const r of rows) {
    const c = str(r.data.country)?.toUpperCase();
    const cp = c === undefined ? undefined : countries.get(c);
    if (cp !== undefined && (!country || Math.abs(cp) > Math.abs(country.points))) {
      const name = str(r.data.country_name) ? ` (${clip(str(r.data.country_name)!, 40)})` : '';
      country = { points: cp, why: `${subjectText(r)} is in country ${clip(c!, 8)}${name} (${r.provider})` };
    }
    const a = num(r.data.asn);
    const ap = a === undefined ? undefined : asns.get(String(a));
    if (ap !== undefined && (!asn || Math.abs(ap) > Math.abs(asn.points))) {
      const org = str(r.data.as_org) ? ` "${clip(str(r.data.as_org)!, 40)}"` : '';
      asn = { points: ap, why: `${subjectText(r)} is in AS${a}${org} (${r.provider})` };
    }
  }
  if (country) ex.add('geo.country', country.points, country.why);
  if (asn) ex.add('geo.asn', asn.points, asn.why);
  ex.bound('geo', s.geo.min, s.geo.max);
}

function asnKey(k: string): string {
  return k.trim().replace(/^as/i, '');
}

// ───────────────────────────── history ─────────────────────────────

interface Counts {
  tp: number;
  fp: number;
  who: string;
  rule?: string;
}

function history(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const rules = ruleKeys(f.alerts);
  const cutoff = f.now - s.history.window_days * DAY_MS;
  const counts = fromProviders(f.answers, s.providers.history)
    .filter((r) => (time(r.data.last_seen) ?? f.now) >= cutoff)
    .map((r) => countsOf(r, rules, s));
  // The same earlier incident usually shows up under its host, user and IP: take the largest count rather
  // than the sum, so one old incident is not counted three times.
  const tp = maxBy(counts, (c) => c.tp);
  const fp = maxBy(counts, (c) => c.fp);
  if (tp && tp.tp > 0) {
    const points = Math.min(s.history.max, tp.tp * s.history.true_positive_each);
    ex.add('history.true_positives', points, `${tp.who}: ${plural(tp.tp, 'earlier incident')} confirmed true positive`);
  }
  if (fp && fp.fp > 0) {
    const points = Math.max(s.history.min, fp.fp * s.history.false_positive_each);
    const what = s.history.benign_is_false_positive ? 'false positive or benign' : 'false positive';
    const scope = fp.rule ? ` for rule ${clip(fp.rule, 40)}` : '';
    ex.add('history.false_positives', points, `${fp.who}: ${plural(fp.fp, 'earlier incident')}${scope} closed as ${what}`);
  }
  ex.bound('history', s.history.min, s.history.max);
}

/**
 * Verdict counts of one history answer. When the answer breaks verdicts down by detection rule
 * (`rules: {<rule id>: {verdicts}}` or `[{rule, verdicts}]`) and one of this incident's rules is there,
 * false positives of THAT rule are what lowers the score: a noisy rule on this host, not the host itself.
 */
function countsOf(r: Answer, rules: ReadonlySet<string>, s: DefaultSettings): Counts {
  const overall = verdicts(r.data.verdicts, s);
  const who = `${subjectText(r)} (${r.provider})`;
  const byRule = ruleVerdicts(r.data.rules, rules, s);
  if (byRule) return { tp: overall.tp, fp: byRule.fp, who, rule: byRule.rule };
  return { tp: overall.tp, fp: overall.fp, who };
}

function verdicts(v: unknown, s: DefaultSettings): { tp: number; fp: number } {
  if (!isRecord(v)) return { tp: 0, fp: 0 };
  const n = (x: unknown) => Math.max(0, Math.floor(num(x) ?? 0));
  return { tp: n(v.true_positive), fp: n(v.false_positive) + (s.history.benign_is_false_positive ? n(v.benign) : 0) };
}

function ruleVerdicts(v: unknown, rules: ReadonlySet<string>, s: DefaultSettings): { fp: number; rule: string } | undefined {
  const entries: Array<[string, unknown]> = isRecord(v)
    ? Object.entries(v)
    : list(v).flatMap((x) => (isRecord(x) && (str(x.rule) ?? str(x.id)) ? [[(str(x.rule) ?? str(x.id))!, x.verdicts ?? x] as [string, unknown]] : []));
  let best: { fp: number; rule: string } | undefined;
  for (const [rule, counts] of entries) {
    if (!rules.has(rule)) continue;
    const fp = verdicts(isRecord(counts) && isRecord(counts.verdicts) ? counts.verdicts : counts, s).fp;
    if (!best || fp > best.fp) best = { fp, rule };
  }
  return best;
}

function maxBy<T>(xs: readonly T[], key: (x: T) => number): T | undefined {
  return xs.reduce<T | undefined>((best, x) => (best === undefined || key(x) > key(best) ? x : best), undefined);
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

// ───────────────────────────── allowlist ─────────────────────────────

interface Entry {
  match: string;
  reason: string;
  rules: string[];
  expires?: number;
}

function allowlist(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const rules = ruleKeys(f.alerts);
  let expired: { e: Entry; r: Answer } | undefined;
  for (const r of fromProviders(f.answers, s.providers.allowlist)) {
    for (const e of entriesOf(r)) {
      if (e.expires !== undefined && e.expires <= f.now) {
        expired ??= { e, r };
        continue;
      }
      // A rule-scoped entry ("the scanner may trigger rule 2031412") only covers alerts of those rules.
      if (e.rules.length && !e.rules.some((x) => rules.has(x))) continue;
      const scope = e.rules.length ? ` for rule ${clip(e.rules.join(', '), 40)}` : '';
      const until = e.expires !== undefined ? `, until ${new Date(e.expires).toISOString()}` : '';
      ex.add('allowlist', s.allowlist.points, `${subjectText(r)} is allowlisted (${clip(e.match, 80)}${scope}): ${clip(e.reason, 120)}${until} (${r.provider})`);
      return;
    }
  }
  // Say why an entry that an analyst may remember did not count.
  if (expired) ex.add('allowlist', 0, `allowlist entry ${clip(expired.e.match, 80)} expired ${new Date(expired.e.expires!).toISOString()}; not applied`);
}

/** Entries of an allowlist answer: `{entries: [{match, reason, rules, expires}]}` or one flat entry. */
function entriesOf(r: Answer): Entry[] {
  const raw = Array.isArray(r.data.entries) ? r.data.entries : [r.data];
  return raw.filter(isRecord).map((e) => {
    const expires = time(e.expires ?? e.expires_at);
    return {
      match: str(e.match) ?? str(e.entry) ?? subjectText(r),
      reason: str(e.reason) ?? 'no reason given',
      rules: list(e.rules ?? e.rule).map(String),
      ...(expires !== undefined ? { expires } : {}),
    };
  });
}

// ───────────────────────────── repeats ─────────────────────────────

function repeats(ex: Explanation, f: Facts, s: DefaultSettings): void {
  const count = Math.max(num(f.detail.alert_count) ?? 0, f.alerts.length);
  if (count > 1) {
    const extra = count - 1;
    ex.add('repeats.alerts', Math.min(s.repeats.max, extra * s.repeats.per_extra_alert), `${count} alerts in this incident (${extra} beyond the first)`);
  }
  const detectors = [...new Set(f.alerts.map((a) => a.detector).filter((d): d is string => typeof d === 'string' && d.length > 0))];
  if (detectors.length >= 2) {
    ex.add('repeats.detectors', s.repeats.detectors, `seen by ${detectors.length} detectors: ${clip(detectors.join(', '), 80)}`);
  }
  ex.bound('repeats', s.repeats.min, s.repeats.max);
}

export default defineScoringEngine({
  kind: 'default',
  description: 'One explainable 0–100 scale from seven bounded components (docs/scoring.md)',
  schema: DefaultSettingsSchema,
  builtin: DEFAULT_PROFILE,
  // Every reader goes through fromProviders, which looks only at answers that found something.
  readsUnfoundAnswers: false,
  score: scoreDefault,
});
