/**
 * Scoring profiles are data: weights, tiers, thresholds and windows (DESIGN.md §7), read by a scoring engine
 * (engines/: `default`, the modern profile, docs/scoring.md; `fido-classic`, Netflix FIDO's matrix). A profile is a
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
import { Value } from 'typebox/value';
import { scoringEngines } from './engines.js';

/** A profile's settings: its engine's (engines/*.ts), which names the engine. */
export type ProfileSettings = { readonly engine: string } & Readonly<Record<string, unknown>>;

export interface ResolvedProfile {
  name: string;
  /** Short hash of the settings: which weights produced a score. */
  version: string;
  settings: ProfileSettings;
}

/** Each engine's built-in profile, under the engine's name. */
export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSettings>> = Object.freeze(
  Object.fromEntries(scoringEngines.map((e) => [e.kind, e.builtin as ProfileSettings])),
);

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
  const schema = scoringEngines.find((e) => e.kind === builtin.engine)!.schema;
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
