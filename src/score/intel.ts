/**
 * Reading threat-intelligence answers for scoring. Two kinds of answer carry a verdict about an indicator:
 *
 *  - the common intel shape every threat-intelligence provider gives (src/enrich/intel.ts `IntelData`:
 *    verdict malicious | suspicious | harmless | unknown, a numeric 0–100 score, last_seen, detail) —
 *    virustotal, otx, threatgrid, urlhaus, malwarebazaar, threatfox, abuseipdb, greynoise, misp, feed;
 *  - a local list the team keeps (the `indicators` kind: verdict malicious | suspicious | benign, sources),
 *    which may have no score and no age: it is a decision the team wrote down, not a third party's opinion.
 *
 * Both become opinions `{ verdict, weight }` about one indicator; the default engine weighs them by agreement
 * and age (engines/default.ts, docs/scoring.md "threat.indicator"). Pure and tolerant like inputs.ts: a
 * malformed answer is no opinion.
 */
import { INTEL_VERDICTS as VERDICTS } from '../enrich/intel.js';
import { isRecord, str, strings, clip, subjectText, time, type Answer } from './inputs.js';

export type OpinionVerdict = 'malicious' | 'suspicious' | 'harmless';

const INTEL_VERDICTS: ReadonlySet<string> = new Set(VERDICTS);

/** The fields of the common intel shape that scoring reads; undefined when `data` is not in that shape. */
export interface IntelFacts {
  verdict: OpinionVerdict | 'unknown';
  score: number;
  lastSeen: number | undefined;
  detail: Record<string, unknown>;
}

/** `data` is in the common intel shape: verdict one of the four values and a numeric score. */
export function intelFacts(data: Record<string, unknown>): IntelFacts | undefined {
  const verdict = typeof data.verdict === 'string' ? data.verdict : '';
  const score = typeof data.score === 'number' && Number.isFinite(data.score) ? data.score : undefined;
  if (!INTEL_VERDICTS.has(verdict) || score === undefined) return undefined;
  return { verdict: verdict as IntelFacts['verdict'], score, lastSeen: time(data.last_seen), detail: isRecord(data.detail) ? data.detail : {} };
}

/** A local list's verdict: malicious | suspicious | benign (= harmless); the intel words are accepted too. */
export function listVerdict(data: Record<string, unknown>): OpinionVerdict | undefined {
  const v = typeof data.verdict === 'string' ? data.verdict.toLowerCase() : '';
  if (v === 'benign' || v === 'harmless') return 'harmless';
  return v === 'malicious' || v === 'suspicious' ? v : undefined;
}

export interface Opinion {
  provider: string;
  verdict: OpinionVerdict;
  /** How many agreeing sources this opinion is worth: a list's `own_list_sources`, else 1 × the age weight. */
  weight: number;
  /** For evidence: "abuse.ch (indicators)", "virustotal", "otx (last seen 200 days ago, ×0.31)". */
  label: string;
}

export interface IndicatorOpinions {
  /** `type:value`, shortened for evidence. */
  subject: string;
  opinions: Opinion[];
}

export interface OpinionSettings {
  /** Provider names of local lists (the `indicators` kind). */
  lists: readonly string[];
  /** Provider names whose intel-shaped answers count; "*" = any provider. */
  intel: readonly string[];
  ownListSources: number;
  age: { grace_days: number; half_life_days: number; types: readonly string[] };
}

const DAY_MS = 86_400_000;

/**
 * The weight of an intel opinion by the age of the source's knowledge: 1 up to `grace_days` after its
 * last_seen, then halving every `half_life_days`. Only for the subject types listed (infrastructure is
 * re-used and re-assigned; a file that was malware stays malware); no last_seen → no discount.
 */
export function ageWeight(type: string, lastSeen: number | undefined, now: number, age: OpinionSettings['age']): { weight: number; days?: number } {
  if (lastSeen === undefined || !age.types.includes(type)) return { weight: 1 };
  const days = Math.max(0, (now - lastSeen) / DAY_MS);
  if (days <= age.grace_days) return { weight: 1, days };
  return { weight: 0.5 ** ((days - age.grace_days) / age.half_life_days), days };
}

/** Every indicator's opinions (one per provider), in order of first appearance; found answers only. */
export function collectOpinions(rows: readonly Answer[], s: OpinionSettings, now: number): IndicatorOpinions[] {
  const lists = new Set(s.lists);
  const anyIntel = s.intel.includes('*');
  const intel = new Set(s.intel);
  const out = new Map<string, IndicatorOpinions>();
  const seen = new Set<string>();
  for (const r of rows) {
    if (!r.found) continue;
    const key = `${r.subject.type}:${r.subject.value}`;
    if (seen.has(`${r.provider}\u0000${key}`)) continue;
    let op: Opinion | undefined;
    if (lists.has(r.provider)) {
      const v = listVerdict(r.data);
      if (v) op = { provider: r.provider, verdict: v, weight: s.ownListSources, label: listLabel(r) };
    } else if (anyIntel || intel.has(r.provider)) {
      const f = intelFacts(r.data);
      if (f && f.verdict !== 'unknown') {
        const a = ageWeight(r.subject.type, f.lastSeen, now, s.age);
        const aged = a.days !== undefined && a.weight < 1 ? ` (last seen ${Math.round(a.days)} days ago, ×${fmt(a.weight)})` : '';
        op = { provider: r.provider, verdict: f.verdict, weight: a.weight, label: `${r.provider}${aged}` };
      }
    }
    if (!op) continue;
    seen.add(`${r.provider}\u0000${key}`);
    const entry = out.get(key) ?? { subject: subjectText(r), opinions: [] };
    entry.opinions.push(op);
    out.set(key, entry);
  }
  return [...out.values()];
}

/** "abuse.ch, spamhaus (indicators)": the sources a list names, else the provider's name. */
function listLabel(r: Answer): string {
  const src = [...strings(r.data.sources), ...(str(r.data.source) ? [str(r.data.source)!] : [])];
  return src.length ? `${clip(src.slice(0, 3).join(', '), 60)} (${r.provider})` : r.provider;
}

/**
 * The agreement factor of `n` agreeing sources (fractional after age discounts): `table[i]` is the factor
 * for i+1 sources, linear in between, `table[0] × n` below one source, the last entry beyond the table.
 */
export function agreementFactor(n: number, table: readonly number[]): number {
  if (!(n > 0) || table.length === 0) return 0;
  if (n < 1) return table[0]! * n;
  const k = Math.floor(n);
  if (k >= table.length) return table[table.length - 1]!;
  const lo = table[k - 1]!;
  const hi = table[k]!;
  return lo + (hi - lo) * (n - k);
}

export function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/(?<!0)0+$/, '').replace(/\.$/, '');
}
