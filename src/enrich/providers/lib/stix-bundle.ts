/**
 * STIX 2.1 indicator objects → feed records (feed-index.ts). What is read, and how it maps:
 *
 *  - `pattern` (pattern_type `stix`; 2.0 objects have none and are read as STIX) through stix-pattern.ts;
 *    snort/yara/sigma patterns and patterns with AND/FOLLOWEDBY/qualifiers give nothing and are counted.
 *  - `revoked: true` → dropped; `valid_until` in the past → dropped (and later expiry hides it at lookup).
 *  - verdict from `indicator_types` (2.1) and `labels` (2.0 put the types there): malicious-activity,
 *    compromised or attribution → malicious; otherwise anomalous-activity → suspicious; otherwise benign →
 *    harmless; anything else (unknown, none) → the entry's default verdict (malicious).
 *  - score: `confidence` (0–100), capped at 74 for suspicious and 0 for harmless; without it, the entry's
 *    default (75) for malicious and 50 for suspicious.
 *  - tags: indicator_types and labels; references: the `url` of each external reference.
 *  - first_seen: valid_from (else created); last_seen: modified (else created).
 *
 * Several versions of one object (same id) may arrive: the one with the latest `modified` wins, so a later
 * revocation removes an indicator.
 */
import type { FeedRecord, FeedValue, FeedVerdict, SkipCounts } from './feed-index.js';
import { countSkip } from './feed-index.js';
import { parseStixPattern } from './stix-pattern.js';

export type StixObject = Record<string, unknown>;

export interface RecordDefaults {
  verdict: FeedVerdict;
  /** Score for indicators without a confidence. */
  score: number;
}

/** The objects of a STIX bundle text, or an error saying why it is not one. */
export function parseStixBundle(text: string): StixObject[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  const bundle = doc as { type?: unknown; objects?: unknown };
  if (typeof doc !== 'object' || doc === null || bundle.type !== 'bundle') throw new Error('not a STIX bundle (no "type": "bundle")');
  if (bundle.objects === undefined) return [];
  if (!Array.isArray(bundle.objects)) throw new Error('"objects" of the bundle is not a list');
  return bundle.objects.filter((o): o is StixObject => typeof o === 'object' && o !== null);
}

/** When this version of an object was made (timestamps differ in precision, so compared as times). */
function versionTime(o: StixObject): number {
  const t = Date.parse(String(o.modified ?? o.created ?? ''));
  return Number.isFinite(t) ? t : 0;
}

/** Keeps the latest version of each object (by `modified`) in `into`; returns how many objects changed. */
export function mergeStixObjects(into: Map<string, StixObject>, objects: readonly StixObject[]): number {
  let changed = 0;
  for (const o of objects) {
    if (typeof o.id !== 'string') continue;
    const old = into.get(o.id);
    if (old && versionTime(old) >= versionTime(o)) continue;
    into.set(o.id, o);
    changed++;
  }
  return changed;
}

const MALICIOUS_TYPES = new Set(['malicious-activity', 'compromised', 'attribution']);

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const text = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

function verdictOf(o: StixObject, fallback: FeedVerdict): FeedVerdict {
  const types = new Set([...strings(o.indicator_types), ...strings(o.labels)].map((t) => t.toLowerCase()));
  if ([...types].some((t) => MALICIOUS_TYPES.has(t))) return 'malicious';
  if (types.has('anomalous-activity')) return 'suspicious';
  if (types.has('benign')) return 'harmless';
  return fallback;
}

function scoreOf(o: StixObject, verdict: FeedVerdict, fallback: number): number {
  if (verdict === 'harmless') return 0;
  const given = typeof o.confidence === 'number' && Number.isFinite(o.confidence) ? Math.max(0, Math.min(100, o.confidence)) : null;
  // Suspicious stays below the malicious threshold (75, intel.ts verdictOfScore); without a confidence it is 50.
  return verdict === 'suspicious' ? Math.min(given ?? 50, 74) : (given ?? fallback);
}

/** Feed values of the indicator objects among `objects` (other object types are ignored, not counted). */
export function stixValues(objects: Iterable<StixObject>, now: number, defaults: RecordDefaults, skipped: SkipCounts): FeedValue[] {
  const out: FeedValue[] = [];
  for (const o of objects) {
    if (o.type !== 'indicator') continue;
    if (o.revoked === true) {
      countSkip(skipped, 'revoked');
      continue;
    }
    const until = text(o.valid_until) ? Date.parse(o.valid_until as string) : NaN;
    if (Number.isFinite(until) && until <= now) {
      countSkip(skipped, 'expired');
      continue;
    }
    if (o.pattern_type !== undefined && o.pattern_type !== 'stix') {
      countSkip(skipped, 'pattern_type');
      continue;
    }
    const pattern = text(o.pattern);
    const parsed = pattern ? parseStixPattern(pattern) : null;
    if (!parsed || !parsed.ok) {
      countSkip(skipped, parsed ? `pattern_${parsed.reason}` : 'no_pattern');
      continue;
    }
    if (parsed.dropped) countSkip(skipped, 'comparison_unsupported', parsed.dropped);
    const verdict = verdictOf(o, defaults.verdict);
    const record: FeedRecord = {
      id: typeof o.id === 'string' ? o.id : `indicator ${out.length + 1}`,
      verdict,
      score: scoreOf(o, verdict, defaults.score),
      tags: [...strings(o.indicator_types), ...strings(o.labels)],
      references: (Array.isArray(o.external_references) ? (o.external_references as unknown[]) : []).flatMap((r) =>
        typeof r === 'object' && r !== null && typeof (r as { url?: unknown }).url === 'string' ? [(r as { url: string }).url] : [],
      ),
      first_seen: text(o.valid_from) ?? text(o.created),
      last_seen: text(o.modified) ?? text(o.created),
      valid_until: Number.isFinite(until) ? until : null,
      detail: text(o.name) ? { name: o.name } : {},
    };
    for (const i of parsed.indicators) out.push({ type: i.type, value: i.value, record });
  }
  return out;
}
