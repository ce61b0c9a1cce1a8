/**
 * `fido-classic`: Netflix FIDO's scoring matrix (reference/fido-original.md §5), so a former FIDO user can
 * put the old number next to the new one. Same silos, weights, tiers and windows; same arithmetic (raw
 * threat points ÷ 10, components rounded to multiples of 5 with .NET banker's rounding, capped at 100,
 * total = threat + machine + user). Inputs are read from enrichment answers: Fido's own providers answer
 * in the common intel shape (src/enrich/intel.ts) — `virustotal` (engine counts in detail.engines), `otx`
 * (pulse count), `threatgrid` (the sandbox threat_score) — and the shapes FIDO itself used are still read
 * (VirusTotal v2 reports, v3 `last_analysis_*`, ThreatGRID `threats`, the AlienVault reputation file's
 * activity/reliability/risk), as are inventory patches/AV state, the directory (`ldap`: title, department,
 * vip, privileged) and history sighting counts. How each intel answer enters FIDO's formulas:
 *  - VirusTotal file: P = detail.engines.malicious (FIDO's positives); the v3 object keeps no per-engine
 *    results, so T (engines saying "troj…") is 0 and the file score is 15·P — which is what FIDO computed anyway.
 *  - VirusTotal URL, domain and IP objects: detail.engines.malicious is the number of engines calling it
 *    malicious, what the v2 URL report wrote as "malicious site"; scored by the URL rule (FIDO sent domains and,
 *    for ProtectWise, IPs to the URL report). The v2 IP lists (detected_urls, …) are not in v3 objects; when an
 *    answer has them, the IP rule scores them as before.
 *  - ThreatGRID: detail.threat_score (else score) is the mean threat score of FIDO's formula (one run).
 *  - OTX: counts when OTX lists the indicator in pulses (verdict malicious or suspicious; not allowlisted), the
 *    analogue of the reputation file listing it with a malware activity; risk = score ÷ 10, reliability =
 *    the number of pulses (at most 10) — more independent reports, more reliable.
 *
 * Known FIDO defects that are FIXED here (also listed in docs/scoring.md, "fido-classic"):
 *  1. Detector routing (§5.2): FIDO scored each detector with a hard-coded subset of feeds and, through a
 *     detector-name mismatch, never scored ProtectWise at all. Here every alert is scored with every feed
 *     answer the incident has; which feeds are asked is the enrichment configuration's business.
 *  2. VT file score (§5.2, App. A #9): the trojan branch was always overwritten by the positives branch.
 *     Here the file score is the larger of 30·T (T ≥ 3 trojan verdicts) and 15·P (P ≥ 3 positives).
 *  3. VT IP communicating-samples threshold key misspelt (App. A #10) → 0; here the shipped value 1 applies.
 *  4. ThreatGRID feed_weight had no default (empty table aborted the event); here it defaults to 10.
 *  5. AlienVault (App. A #13): risk/reliability of exactly 5 scored nothing (a gap between "> 5" and "< 5");
 *     here 5 falls in the low tier. Multi-valued activities ("a;b") never matched; here each value counts.
 *  6. Antivirus (§5.3, App. A #4, #10): "Partially Cleaned" never matched "partially removed", and the
 *     regular multiplier key was absent (→ 0). Here a blocked/quarantined AV alert is "partially removed"
 *     and the regular multiplier defaults to 1.
 *  7. Historical artifacts (§5.7, App. A #11): only the last URL/hash's count survived, and IPs used ">"
 *     where URLs/hashes used "≥". Here the sightings of all URLs (hashes, destination IPs) are summed and
 *     every type uses "≥".
 *  8. Previous-alert windows (§5.8, App. A #12): escalations meant for the 0–100 scale were applied to raw
 *     points before ÷10 ("set to 100" gave threat 10, usually LOWERING a strong score); here they apply after
 *     ÷10 and "set to" never lowers (max). The ≤30 min branch compared against a total not yet computed and
 *     always suppressed the alert; here a repeat within 30 minutes leaves the score unchanged (suppression
 *     is a policy decision).
 *  9. AV-not-running key misspelt (App. A #10) → 0; here the shipped 50 applies.
 * Unchanged on purpose: PCI adds no points (it forced "Re-image" in FIDO; here it is a 0-point line that
 * policy can test), the 0/5/…/100 granularity, and banker's rounding.
 */
import type { Alert } from '../../model/alert.js';
import type { IncidentDetail } from '../../model/incident.js';
import type { Score } from '../../model/score.js';
import { Explanation } from '../explain.js';
import { alertsOf, answers, clip, fromProviders, isRecord, list, num, str, strings, subjectText, time, type Answer } from '../inputs.js';
import { Type, type Static } from 'typebox';
import { defineScoringEngine } from '../engine.js';
import { Names, Obj, Weight } from '../settings.js';
import { intelFacts } from '../intel.js';

// ───────────────────────────── settings ─────────────────────────────

const Tier = Obj({ min: Type.Number(), factor: Type.Number() });
const IpList = Obj({
  threshold: Weight('Minimum tiered sum before the list counts'),
  weight: Weight(),
  multiplier: Weight(),
  tiers: Type.Array(Tier, { description: 'Per-item positives p: the first tier with p ≥ min contributes factor × p' }),
});
const Thresholds = Obj({ high_above: Type.Number(), high: Weight(), medium_above: Type.Number(), medium: Weight(), low: Weight() });
const Adjust = Obj({ above: Type.Number(), set_to: Type.Number(), add: Type.Number() });

export const ClassicSettingsSchema = Obj({
  engine: Type.Literal('fido-classic'),
  description: Type.String(),
  providers: Obj({
    virustotal: Names('Providers answering with VirusTotal v2/v3 reports'),
    threatgrid: Names('Providers answering with ThreatGRID threat scores'),
    alienvault: Names('Providers answering with AlienVault OTX intel {verdict, score, detail.pulses} or reputation {activity, reliability, risk}'),
    inventory: Names('Providers answering with assets {patches, av, tags}'),
    netsegments: Names('Providers answering with network segments {zone}'),
    directory: Names('Providers answering about users {title, department, vip, privileged}'),
    history: Names('Providers answering with earlier sightings {alerts, last_seen}'),
  }),
  asset_score: Type.Boolean({ description: 'FIDO fido.director.assetscore: score machine and user posture' }),
  virustotal: Obj({
    trojan_threshold: Weight(),
    trojan_weight: Weight(),
    regular_threshold: Weight(),
    regular_weight: Weight(),
    url_threshold: Weight(),
    url_weight: Weight(),
    ip: Obj({ downloaded: IpList, communicating: IpList, urls: IpList, feed_weight: Type.Number({ exclusiveMinimum: 0 }) }),
  }),
  threatgrid: Obj({ feed_weight: Type.Number({ exclusiveMinimum: 0 }) }),
  alienvault: Obj({ malware_values: Names('Activities that count (case-insensitive)'), risk: Thresholds, reliability: Thresholds }),
  antivirus: Obj({
    detectors: Names('Detector names whose alerts are antivirus detections'),
    trojan_weight: Weight(),
    trojan_multiplier: Weight(),
    regular_weight: Weight(),
    regular_multiplier: Weight(),
  }),
  artifacts: Obj({ threshold: Weight(), weight: Weight(), incrementer: Weight(), multiplier: Weight() }),
  previous_alert: Obj({
    same_incident_minutes: Type.Number({ minimum: 0 }),
    callbacks_hours: Type.Number({ minimum: 0 }),
    long_hours: Type.Number({ minimum: 0 }),
    mid: Adjust,
    long: Adjust,
  }),
  machine: Obj({
    critical_patches: Obj({ threshold: Weight(), weight: Weight() }),
    high_patches: Obj({ threshold: Weight(), weight: Weight() }),
    low_patches: Obj({ threshold: Weight(), weight: Weight() }),
    av_not_installed: Weight(),
    av_not_running: Weight(),
    pci_zones: Names('Network zones that mark a PCI asset'),
    pci_tags: Names('Asset tags that mark a PCI asset'),
  }),
  user: Obj({
    titles: Names('Job titles (case-insensitive) that raise the user score'),
    title_weight: Weight(),
    departments: Names('Departments (case-insensitive) that raise the user score'),
    department_weight: Weight(),
    vip_weight: Weight('A directory answer says vip: true and no listed title matched (FIDO listed VIP titles)'),
    privileged_weight: Weight('A directory answer says privileged: true (not in FIDO; 0 keeps its matrix)'),
  }),
});
export type ClassicSettings = Static<typeof ClassicSettingsSchema>;

export const FIDO_CLASSIC_PROFILE: ClassicSettings = {
  engine: 'fido-classic',
  description: "Netflix FIDO's matrix (2016) with its known defects fixed; for comparison with FIDO",
  providers: {
    virustotal: ['virustotal'],
    threatgrid: ['threatgrid'],
    alienvault: ['otx', 'alienvault'],
    inventory: ['inventory'],
    netsegments: ['netsegments'],
    directory: ['ldap', 'directory'],
    history: ['history'],
  },
  asset_score: true,
  virustotal: {
    trojan_threshold: 3,
    trojan_weight: 30,
    regular_threshold: 3,
    regular_weight: 15,
    url_threshold: 3,
    url_weight: 15,
    ip: {
      downloaded: { threshold: 1, weight: 15, multiplier: 0.3, tiers: [{ min: 20, factor: 0.5 }, { min: 10, factor: 0.65 }, { min: 3, factor: 0.75 }] },
      communicating: { threshold: 1, weight: 10, multiplier: 0.2, tiers: [{ min: 20, factor: 0.65 }, { min: 10, factor: 0.75 }, { min: 3, factor: 1.0 }] },
      urls: { threshold: 1, weight: 15, multiplier: 0.3, tiers: [{ min: 20, factor: 0.5 }, { min: 5, factor: 0.6 }, { min: 3, factor: 0.75 }] },
      feed_weight: 1,
    },
  },
  threatgrid: { feed_weight: 10 },
  alienvault: {
    malware_values: ['malware host', 'malware distribution', 'malware domain', 'malware ip', 'c&c'],
    risk: { high_above: 8, high: 20, medium_above: 5, medium: 10, low: 5 },
    reliability: { high_above: 8, high: 5, medium_above: 5, medium: 3, low: 2 },
  },
  antivirus: { detectors: ['antivirus', 'sophos'], trojan_weight: 20, trojan_multiplier: 2, regular_weight: 10, regular_multiplier: 1 },
  artifacts: { threshold: 1, weight: 10, incrementer: 5, multiplier: 2 },
  previous_alert: {
    same_incident_minutes: 30,
    callbacks_hours: 4,
    long_hours: 12,
    mid: { above: 50, set_to: 75, add: 15 },
    long: { above: 50, set_to: 100, add: 25 },
  },
  machine: {
    critical_patches: { threshold: 5, weight: 20 },
    high_patches: { threshold: 10, weight: 5 },
    low_patches: { threshold: 0, weight: 0 },
    av_not_installed: 50,
    av_not_running: 50,
    pci_zones: ['pci'],
    pci_tags: ['pci'],
  },
  user: { titles: [], title_weight: 25, departments: [], department_weight: 30, vip_weight: 25, privileged_weight: 0 },
};

export const CLASSIC_COMPONENTS = ['threat', 'machine', 'user'] as const;

const HOUR_MS = 3_600_000;

interface Facts {
  detail: IncidentDetail;
  alerts: Alert[];
  all: Answer[];
  now: number;
}

/** A raw (pre-÷10) threat contribution, shown with its raw value. */
interface Raw {
  factor: string;
  raw: number;
  evidence: string;
}

export function scoreClassic(detail: IncidentDetail, s: ClassicSettings, profileName: string, now: number): Score {
  const f: Facts = { detail, alerts: alertsOf(detail), all: answers(detail), now };
  const ex = new Explanation();
  threat(ex, f, s);
  if (s.asset_score) {
    machine(ex, f, s);
    user(ex, f, s);
  }
  const sum = ex.sum;
  const total = normalise(sum);
  if (total !== sum) ex.add('total.normalise', total - sum, roundingWhy('total', sum, total));
  return ex.finish(profileName, 0, 100, CLASSIC_COMPONENTS);
}

// ───────────────────────────── arithmetic ─────────────────────────────

/** .NET Math.Round (banker's rounding: halves go to the even neighbour). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** FIDO's normalisation: above 100 → 100, else the nearest multiple of 5 (never below 0 here). */
export function normalise(x: number): number {
  if (x > 100) return 100;
  return Math.max(0, roundHalfEven(x / 5) * 5);
}

function roundingWhy(what: string, exact: number, shown: number): string {
  const e = Number.isInteger(exact) ? String(exact) : exact.toFixed(2);
  return exact > 100 ? `${what} ${e} capped at 100` : `${what} ${e} rounded to a multiple of 5 (FIDO granularity) = ${shown}`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/0+$/, '');
}

/** Adds the component's lines and the line that brings their sum to FIDO's normalised value. */
function settle(ex: Explanation, component: string, exact: number): void {
  const shown = normalise(exact);
  const diff = shown - ex.component(component);
  if (diff !== 0) ex.add(`${component}.normalise`, diff, roundingWhy(component, exact, shown));
}

// ───────────────────────────── threat ─────────────────────────────

function threat(ex: Explanation, f: Facts, s: ClassicSettings): void {
  const vt = fromProviders(f.all, s.providers.virustotal);
  const raws: Raw[] = [
    ...vtFiles(vt.filter((r) => ['md5', 'sha1', 'sha256'].includes(r.subject.type)), s),
    // v3 objects of URLs, domains and IPs carry engine verdicts: FIDO's URL report rule (header comment).
    ...vtUrls(vt.filter((r) => r.subject.type === 'url' || r.subject.type === 'domain' || (r.subject.type === 'ip' && intelFacts(r.data))), s),
    ...vtIps(vt.filter((r) => r.subject.type === 'ip' && !intelFacts(r.data)), s),
    ...threatgrid(fromProviders(f.all, s.providers.threatgrid), s),
    ...alienvault(fromProviders(f.all, s.providers.alienvault), s),
    ...antivirus(f.alerts, s),
    ...artifacts(f, s),
  ].filter((r) => r.raw !== 0);
  let exact = 0;
  for (const r of raws) {
    exact += r.raw / 10;
    ex.add(r.factor, r.raw / 10, `${r.evidence} → raw ${fmt(r.raw)} ÷ 10`);
  }
  exact = previousAlert(ex, f, s, exact);
  settle(ex, 'threat', exact);
}

/** FIDO's positives: v2 `positives`, v3 `last_analysis_stats.malicious`, or the intel answer's detail.engines.malicious. */
function positives(d: Record<string, unknown>): number {
  const stats = isRecord(d.last_analysis_stats) ? d.last_analysis_stats : {};
  const intel = intelFacts(d);
  const engines = intel && isRecord(intel.detail.engines) ? intel.detail.engines : {};
  return Math.max(0, num(d.positives) ?? num(stats.malicious) ?? num(engines.malicious) ?? 0);
}

/** Engine results whose lower-cased text contains `needle` (v2 `scans`, v3 `last_analysis_results`). */
function engineHits(d: Record<string, unknown>, needle: string): number {
  const results = isRecord(d.scans) ? d.scans : isRecord(d.last_analysis_results) ? d.last_analysis_results : {};
  let n = 0;
  for (const r of Object.values(results)) {
    const text = isRecord(r) ? str(r.result) : undefined;
    if (text && text.toLowerCase().includes(needle)) n++;
  }
  return n;
}

function vtFiles(rows: readonly Answer[], s: ClassicSettings): Raw[] {
  const hit = rows.filter((r) => positives(r.data) > 0);
  if (hit.length === 0) return [];
  const P = hit.reduce((n, r) => n + positives(r.data), 0);
  const T = hit.reduce((n, r) => n + engineHits(r.data, 'troj'), 0);
  const v = s.virustotal;
  const trojan = T >= v.trojan_threshold ? v.trojan_weight * T : 0;
  const regular = P >= v.regular_threshold ? v.regular_weight * P : 0;
  if (trojan === 0 && regular === 0) return [];
  const why = trojan > regular ? `${T} trojan verdicts × ${v.trojan_weight}` : `${P} positives × ${v.regular_weight}`;
  return [{ factor: 'threat.vt_file', raw: Math.max(trojan, regular), evidence: `VirusTotal files (${names(hit)}): ${why}` }];
}

/** "malicious site" verdicts: counted in v2 `scans`; an intel answer's malicious engine count (header comment). */
function maliciousSite(d: Record<string, unknown>): number {
  if (positives(d) <= 0) return 0;
  return isRecord(d.scans) || isRecord(d.last_analysis_results) ? engineHits(d, 'malicious site') : intelFacts(d) ? positives(d) : 0;
}

function vtUrls(rows: readonly Answer[], s: ClassicSettings): Raw[] {
  const M = rows.reduce((n, r) => n + maliciousSite(r.data), 0);
  if (M < s.virustotal.url_threshold) return [];
  return [{ factor: 'threat.vt_url', raw: s.virustotal.url_weight * M, evidence: `VirusTotal URLs (${names(rows)}): ${M} "malicious site" verdicts × ${s.virustotal.url_weight}` }];
}

type IpListSettings = ClassicSettings['virustotal']['ip']['urls'];

/** Σ over items of tier factor × positives, the tier chosen by the item's positives. */
function tiered(items: unknown, cfg: IpListSettings): number {
  let sum = 0;
  for (const it of list(items)) {
    const p = isRecord(it) ? (num(it.positives) ?? 0) : 0;
    const tier = [...cfg.tiers].sort((a, b) => b.min - a.min).find((t) => p >= t.min);
    if (tier) sum += tier.factor * p;
  }
  return sum;
}

function vtIps(rows: readonly Answer[], s: ClassicSettings): Raw[] {
  const ip = s.virustotal.ip;
  const lists = [
    { key: 'detected_downloaded_samples', label: 'downloaded samples', cfg: ip.downloaded },
    { key: 'detected_communicating_samples', label: 'communicating samples', cfg: ip.communicating },
    { key: 'detected_urls', label: 'URLs', cfg: ip.urls },
  ] as const;
  const out: Raw[] = [];
  for (const l of lists) {
    const sum = rows.reduce((n, r) => n + tiered(r.data[l.key], l.cfg), 0);
    if (sum <= 0 || sum < l.cfg.threshold) continue;
    const raw = (l.cfg.weight * l.cfg.multiplier * sum) / ip.feed_weight;
    out.push({ factor: 'threat.vt_ip', raw, evidence: `VirusTotal IP (${names(rows)}): detected ${l.label} tiered sum ${fmt(sum)} × ${fmt(l.cfg.weight * l.cfg.multiplier)}` });
  }
  return out;
}

function threatgrid(rows: readonly Answer[], s: ClassicSettings): Raw[] {
  const out: Raw[] = [];
  for (const r of rows) {
    const scores = list(r.data.threats)
      .map((t) => (isRecord(t) ? num(t.score) : num(t)))
      .filter((n): n is number => n !== undefined);
    const intel = intelFacts(r.data);
    const single = num(r.data.threat_score) ?? (intel ? (num(intel.detail.threat_score) ?? (intel.verdict !== 'unknown' ? intel.score : undefined)) : undefined);
    const mean = scores.length ? Math.trunc(scores.reduce((a, b) => a + b, 0) / scores.length) : single;
    if (!mean) continue;
    out.push({ factor: 'threat.threatgrid', raw: (mean * 10) / s.threatgrid.feed_weight, evidence: `ThreatGRID ${subjectText(r)}: mean threat score ${mean} × 10 ÷ feed weight ${s.threatgrid.feed_weight}` });
  }
  return out;
}

function tier(x: number, t: ClassicSettings['alienvault']['risk']): number {
  return x > t.high_above ? t.high : x > t.medium_above ? t.medium : t.low;
}

const normActivity = (a: string) => a.trim().toLowerCase().replace(/^c and c$/, 'c&c');

function alienvault(rows: readonly Answer[], s: ClassicSettings): Raw[] {
  const wanted = new Set(s.alienvault.malware_values.map(normActivity));
  const out: Raw[] = [];
  for (const r of rows) {
    const activities = [...strings(r.data.activities), ...(str(r.data.activity)?.split(/[;,]/) ?? [])].map(normActivity);
    const legacy = { hit: activities.find((a) => wanted.has(a)), rel: num(r.data.reliability), risk: num(r.data.risk) };
    const { hit, rel, risk } = legacy.hit !== undefined || activities.length > 0 ? legacy : otxAsReputation(r.data);
    if (!hit || rel === undefined || risk === undefined) continue;
    const rw = tier(rel, s.alienvault.reliability);
    const kw = tier(risk, s.alienvault.risk);
    out.push({ factor: 'threat.alienvault', raw: Math.min(100, rw * kw), evidence: `AlienVault ${subjectText(r)}: "${clip(hit, 40)}", risk ${risk} (×${kw}) reliability ${rel} (×${rw})` });
  }
  return out;
}

/**
 * An OTX intel answer as a line of FIDO's reputation file (header comment): listed in pulses (verdict
 * malicious or suspicious) stands for a malware activity, risk = score ÷ 10, reliability = pulses (≤ 10).
 */
function otxAsReputation(d: Record<string, unknown>): { hit?: string; rel?: number; risk?: number } {
  const intel = intelFacts(d);
  if (!intel || (intel.verdict !== 'malicious' && intel.verdict !== 'suspicious')) return {};
  const pulses = Math.max(1, Math.min(10, Math.floor(num(intel.detail.pulses) ?? 1)));
  return { hit: `${intel.verdict} in ${pulses} pulse${pulses === 1 ? '' : 's'}`, rel: pulses, risk: intel.score / 10 };
}

function antivirus(alerts: readonly Alert[], s: ClassicSettings): Raw[] {
  const av = s.antivirus;
  const detectors = new Set(av.detectors.map((d) => d.toLowerCase()));
  let best: Raw | undefined;
  for (const a of alerts) {
    if (!detectors.has(String(a.detector).toLowerCase())) continue;
    const name = a.malware?.name ?? a.malware?.family ?? a.title ?? '';
    const trojan = name.split('/')[0]!.trim().toLowerCase() === 'troj';
    // Nothing done by the product = FIDO's "none / cleanable"; blocked or quarantined = "partially removed".
    const cleaned = a.action === 'blocked' || a.action === 'quarantined';
    const raw = cleaned ? av.regular_weight * av.regular_multiplier : av.trojan_weight * av.trojan_multiplier;
    const what = `${trojan ? 'trojan' : 'generic'} "${clip(name, 40)}", ${cleaned ? 'partially removed' : 'no action taken'}`;
    if (!best || raw > best.raw) best = { factor: 'threat.antivirus', raw, evidence: `antivirus ${what}` };
  }
  return best ? [best] : [];
}

function artifacts(f: Facts, s: ClassicSettings): Raw[] {
  const dstIps = new Set(f.alerts.flatMap((a) => (a.observables ?? []).filter((o) => o.type === 'ip' && o.role === 'dst').map((o) => o.value)));
  const kinds = [
    { label: 'hash', test: (r: Answer) => ['md5', 'sha1', 'sha256'].includes(r.subject.type) },
    { label: 'URL', test: (r: Answer) => r.subject.type === 'url' },
    { label: 'destination IP', test: (r: Answer) => r.subject.type === 'ip' && dstIps.has(r.subject.value) },
  ];
  const rows = fromProviders(f.all, s.providers.history);
  const a = s.artifacts;
  const out: Raw[] = [];
  for (const k of kinds) {
    const count = rows.filter(k.test).reduce((n, r) => n + Math.max(0, num(r.data.alerts) ?? num(r.data.count) ?? 0), 0);
    if (count < a.threshold || count <= 0) continue;
    const raw = count >= a.incrementer ? a.weight * a.multiplier : a.weight;
    out.push({ factor: 'threat.seen_before', raw, evidence: `${k.label} seen before: ${count} earlier sighting${count === 1 ? '' : 's'}` });
  }
  return out;
}

/**
 * FIDO's time windows against the host's previous alert, applied on the 0–100 scale (fix 8). Returns the
 * threat after escalation; the change is its own line.
 */
function previousAlert(ex: Explanation, f: Facts, s: ClassicSettings, threat: number): number {
  const host = f.detail.host?.toLowerCase();
  if (!host || host === 'unknown') return threat;
  const prev = fromProviders(f.all, s.providers.history)
    .filter((r) => r.subject.type === 'host' && r.subject.value.toLowerCase() === host)
    .map((r) => time(r.data.last_seen))
    .find((t): t is number => t !== undefined);
  const cur = time(f.detail.first_seen) ?? f.now;
  if (prev === undefined) return threat;
  const dh = (cur - prev) / HOUR_MS;
  const p = s.previous_alert;
  const adj = dh >= p.long_hours ? p.long : dh > p.callbacks_hours ? p.mid : undefined;
  const ago = `host ${clip(host, 60)} last alerted ${fmt(Math.round(dh * 10) / 10)} h before this incident`;
  if (!adj) {
    const why = dh * 60 <= p.same_incident_minutes ? 'same incident, no change' : 'multiple callbacks, no change';
    ex.add('threat.previous_alert', 0, `${ago}: ${why}`);
    return threat;
  }
  const next = threat > adj.above ? Math.max(threat, adj.set_to) : threat + adj.add;
  const rule = threat > adj.above ? `threat above ${adj.above} → at least ${adj.set_to}` : `+${adj.add}`;
  ex.add('threat.previous_alert', next - threat, `${ago}: ${rule}`);
  return next;
}

function names(rows: readonly Answer[]): string {
  const n = rows.map(subjectText);
  return clip(n.slice(0, 2).join(', ') + (n.length > 2 ? `, +${n.length - 2}` : ''), 100);
}

// ───────────────────────────── machine ─────────────────────────────

function machine(ex: Explanation, f: Facts, s: ClassicSettings): void {
  const m = s.machine;
  const inventory = fromProviders(f.all, s.providers.inventory);
  const patched = inventory.find((r) => isRecord(r.data.patches));
  if (patched) {
    const p = patched.data.patches as Record<string, unknown>;
    const rules = [
      { key: 'critical', cfg: m.critical_patches },
      { key: 'high', cfg: m.high_patches },
      { key: 'low', cfg: m.low_patches },
    ];
    for (const r of rules) {
      const n = num(p[r.key]);
      if (n === undefined || n < r.cfg.threshold || r.cfg.weight === 0) continue;
      ex.add('machine.patches', r.cfg.weight, `${subjectText(patched)}: ${n} missing ${r.key} patches (≥ ${r.cfg.threshold})`);
    }
  }
  antivirusPosture(ex, f, s, inventory);
  pci(ex, f, s, inventory);
  settle(ex, 'machine', ex.component('machine'));
}

function antivirusPosture(ex: Explanation, f: Facts, s: ClassicSettings, inventory: readonly Answer[]): void {
  const m = s.machine;
  const withAv = inventory.find((r) => isRecord(r.data.av));
  if (withAv) {
    const av = withAv.data.av as Record<string, unknown>;
    if (av.installed === false) ex.add('machine.av', m.av_not_installed, `${subjectText(withAv)}: antivirus not installed`);
    else if (av.running === false) ex.add('machine.av', m.av_not_running, `${subjectText(withAv)}: antivirus not running`);
    return;
  }
  // FIDO: a known host with no inventory record (and not itself an AV alert) has no managed antivirus.
  const avDetectors = new Set(s.antivirus.detectors.map((d) => d.toLowerCase()));
  if (f.alerts.some((a) => avDetectors.has(String(a.detector).toLowerCase()))) return;
  const host = f.detail.host?.toLowerCase();
  const missing = f.all.find((r) => !r.found && s.providers.inventory.includes(r.provider) && r.subject.type === 'host' && r.subject.value.toLowerCase() === host);
  if (missing) ex.add('machine.av', m.av_not_installed, `host ${clip(missing.subject.value, 60)} is not in the inventory: no managed antivirus`);
}

function pci(ex: Explanation, f: Facts, s: ClassicSettings, inventory: readonly Answer[]): void {
  const zones = new Set(s.machine.pci_zones.map((z) => z.toLowerCase()));
  const tagsWanted = new Set(s.machine.pci_tags.map((t) => t.toLowerCase()));
  const seg = fromProviders(f.all, s.providers.netsegments).find((r) => zones.has(String(r.data.zone).toLowerCase()));
  const tagged = inventory.find((r) => strings(r.data.tags).some((t) => tagsWanted.has(t.toLowerCase())));
  const hit = seg ?? tagged;
  if (hit) ex.add('machine.pci', 0, `${subjectText(hit)} is a PCI asset (FIDO recommended re-imaging; no points)`);
}

// ───────────────────────────── user ─────────────────────────────

function user(ex: Explanation, f: Facts, s: ClassicSettings): void {
  const u = s.user;
  const titles = new Set(u.titles.map((t) => t.toLowerCase()));
  const departments = new Set(u.departments.map((d) => d.toLowerCase()));
  const dir = fromProviders(f.all, s.providers.directory).find((r) => r.subject.type === 'user') ?? fromProviders(f.all, s.providers.directory).find((r) => r.subject.type === 'email');
  if (dir) {
    const title = str(dir.data.title);
    const dept = str(dir.data.department);
    const titled = title !== undefined && titles.has(title.toLowerCase());
    if (titled) ex.add('user.title', u.title_weight, `${subjectText(dir)}: title "${clip(title, 60)}" (${dir.provider})`);
    // FIDO's title list was its VIP list: a directory's own VIP flag stands for it, not on top of it.
    else if (dir.data.vip === true && u.vip_weight !== 0) ex.add('user.vip', u.vip_weight, `${subjectText(dir)} is marked VIP (${dir.provider})`);
    if (dept && departments.has(dept.toLowerCase())) ex.add('user.department', u.department_weight, `${subjectText(dir)}: department "${clip(dept, 60)}" (${dir.provider})`);
    if (dir.data.privileged === true && u.privileged_weight !== 0) ex.add('user.privileged', u.privileged_weight, `${subjectText(dir)} is marked privileged (${dir.provider})`);
  }
  settle(ex, 'user', ex.component('user'));
}

export default defineScoringEngine({
  kind: 'fido-classic',
  description: "Netflix FIDO's scoring matrix (threat, asset, user, machine), as it documented it",
  schema: ClassicSettingsSchema,
  builtin: FIDO_CLASSIC_PROFILE,
  // It counts a host the inventory does not know.
  readsUnfoundAnswers: true,
  score: scoreClassic,
});
