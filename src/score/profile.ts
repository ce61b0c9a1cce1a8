/**
 * Scoring profiles are data: weights, tiers, thresholds and windows (DESIGN.md §7). Two engines read them:
 * `default` (the modern profile, docs/scoring.md) and `fido-classic` (Netflix FIDO's matrix). A profile is a
 * built-in document plus the overrides from fido.yaml, deep-merged and validated against its engine's
 * schema, so a typo in an override ("treat:") is an error naming the key rather than a silently ignored key.
 *
 *   scoring:
 *     profile: strict
 *     profiles:
 *       default:   { allowlist: { points: -40 } }           # tweak a built-in
 *       strict:    { extends: default, threat: { max: 70 } } # a new profile based on one
 *
 * The resolved profile carries a version (a hash of its settings) so that a stored score says exactly which
 * weights produced it, and scores made with other weights can be told apart.
 */
import { createHash } from 'node:crypto';
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { DEFAULT_PROFILE } from './default.js';
import { FIDO_CLASSIC_PROFILE } from './fido-classic.js';

// ───────────────────────────── shared pieces ─────────────────────────────

const Points = (description?: string) => Type.Integer({ minimum: -100, maximum: 100, ...(description ? { description } : {}) });
const Weight = (description?: string) => Type.Number({ minimum: -1000, maximum: 1000, ...(description ? { description } : {}) });
const Names = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description });
const Obj = <T extends Record<string, TSchema>>(props: T, description?: string) =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
const Range = { min: Points('Lowest points this component may contribute'), max: Points('Highest points this component may contribute') };
const Criticality = Obj({ low: Points(), medium: Points(), high: Points(), critical: Points() });

// ───────────────────────────── default engine ─────────────────────────────

export const DefaultSettingsSchema = Obj({
  engine: Type.Literal('default'),
  description: Type.String(),
  providers: Obj(
    {
      netsegments: Names('Providers answering with network segments {segment, zone, criticality}'),
      inventory: Names('Providers answering with assets {host, criticality, tags}'),
      allowlist: Names('Providers answering with allowlist entries {entries: [{match, reason, rules, expires}]}'),
      history: Names('Providers answering with earlier verdicts {verdicts: {true_positive, false_positive, benign}}'),
      indicators: Names('Providers answering with intel verdicts {verdict, sources}'),
      directory: Names('Providers answering about users {groups, tags, privileged}'),
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
      malicious: Points(),
      suspicious: Points(),
      benign: Points(),
      more_malicious_each: Points('Per further distinct malicious indicator'),
      more_malicious_max: Points(),
    }),
  }),
  asset: Obj({
    ...Range,
    criticality: Criticality,
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
    vip: Points(),
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

// ───────────────────────────── fido-classic engine ─────────────────────────────

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
    alienvault: Names('Providers answering with AlienVault OTX reputation {activity, reliability, risk}'),
    inventory: Names('Providers answering with assets {patches, av, tags}'),
    netsegments: Names('Providers answering with network segments {zone}'),
    directory: Names('Providers answering about users {title, department}'),
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
  }),
});
export type ClassicSettings = Static<typeof ClassicSettingsSchema>;

// ───────────────────────────── resolving ─────────────────────────────

export type ProfileSettings = DefaultSettings | ClassicSettings;
export type ProfileEngine = ProfileSettings['engine'];

export interface ResolvedProfile {
  name: string;
  /** Short hash of the settings: which weights produced a score. */
  version: string;
  settings: ProfileSettings;
}

export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSettings>> = Object.freeze({
  default: DEFAULT_PROFILE,
  'fido-classic': FIDO_CLASSIC_PROFILE,
});

const SCHEMAS: Record<ProfileEngine, TSchema> = { default: DefaultSettingsSchema, 'fido-classic': ClassicSettingsSchema };

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  constructor(
    readonly profile: string,
    readonly problems: readonly string[],
  ) {
    super(`scoring profile "${profile}": ${problems.join('; ')}`);
  }
}

/** `scoring.profiles` from fido.yaml: profile name → partial settings (plus `extends` for new names). */
export type ProfileOverrides = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/**
 * The named profile with its overrides applied and validated. A built-in name may be overridden in place;
 * any other name must say which built-in it `extends`. Throws ProfileError naming every bad key.
 */
export function resolveProfile(name: string, overrides: ProfileOverrides = {}): ResolvedProfile {
  const override = Object.hasOwn(overrides, name) ? overrides[name] : undefined;
  const { extends: base, ...patch } = override ?? {};
  const baseName = typeof base === 'string' ? base : name;
  if (base !== undefined && typeof base !== 'string') throw new ProfileError(name, ['extends: must be the name of a built-in profile']);
  if (!Object.hasOwn(BUILTIN_PROFILES, baseName)) {
    const known = Object.keys(BUILTIN_PROFILES).join(', ');
    const why = base === undefined ? `unknown profile (built-in: ${known}; a new profile needs "extends")` : `extends unknown profile "${baseName}" (built-in: ${known})`;
    throw new ProfileError(name, [why]);
  }
  const builtin = BUILTIN_PROFILES[baseName]!;
  if ('engine' in patch && patch.engine !== builtin.engine) throw new ProfileError(name, [`engine: cannot change "${builtin.engine}" in an override`]);
  const merged = deepMerge(builtin, patch);
  const schema = SCHEMAS[builtin.engine];
  const problems = [...Value.Errors(schema, merged)]
    .filter((e) => e.keyword !== 'boolean') // additionalProperties reports each extra key twice
    .map((e) => `${keyPath(e.instancePath, e.params)}: ${e.message}`);
  if (problems.length) throw new ProfileError(name, [...new Set(problems)]);
  const settings = merged as ProfileSettings;
  return { name, version: versionOf(settings), settings };
}

function keyPath(pointer: string, params: unknown): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = (params as { additionalProperties?: unknown }).additionalProperties;
  if (Array.isArray(extra)) parts.push(extra.map(String).join(','));
  return parts.join('.') || '(profile)';
}

/** Objects merge key by key; arrays and scalars replace. Never touches the inputs. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (!isPlain(base) || !isPlain(patch)) return (patch === undefined ? base : patch) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    // Own keys only, and never the prototype-setting keys: the patch comes from a config file.
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    out[k] = Object.hasOwn(out, k) ? deepMerge(out[k], v) : v;
  }
  return out as T;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function versionOf(settings: unknown): string {
  return createHash('sha256').update(canonicalJson(settings)).digest('hex').slice(0, 12);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlain(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
