/**
 * The settings every enrichment provider entry may carry (ttl, timeouts, concurrency, rate, breaker), as the
 * layer (layer.ts) applies them: the schema each provider spreads into its own, and their resolution with
 * the defaults for local and remote providers.
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import type { ProviderQuota } from './provider.js';


/** The per-provider keys every provider schema spreads in: `Type.Object({ name, kind, ...providerSettingsSchema, … })`. */
export const providerSettingsSchema = {
  ttl: Type.Optional(Duration),
  negative_ttl: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Lookups in flight at once' })),
  rate_per_second: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Sustained calls per second (token bucket)' })),
  rate_burst: Type.Optional(Type.Integer({ minimum: 1, description: 'Bucket size; default: rate_per_second rounded up' })),
  /** How long a lookup may wait for a rate-limit token before it reports `ratelimited`. */
  max_wait: Type.Optional(Duration),
  /** How long a lookup may queue for a concurrency slot before it reports `ratelimited`. */
  queue_wait: Type.Optional(Duration),
  breaker_failures: Type.Optional(Type.Integer({ minimum: 1, description: 'Consecutive failures that open the circuit' })),
  breaker_cooldown: Type.Optional(Duration),
  /** Calls allowed per calendar period (UTC); default: the service's documented limits (the provider's `quota`). */
  quota: Type.Optional(
    Type.Object(
      {
        per_minute: Type.Optional(Type.Integer({ minimum: 1 })),
        per_hour: Type.Optional(Type.Integer({ minimum: 1 })),
        per_day: Type.Optional(Type.Integer({ minimum: 1 })),
        per_month: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      { additionalProperties: false },
    ),
  ),
  quota_reserve: Type.Optional(
    Type.Number({ minimum: 0, maximum: 0.9, description: 'Share of each hour, day and month kept for high-priority lookups (default 0.2)' }),
  ),
  /** External providers only: also ask about private addresses, host and user names and internal domains. */
  share_internal: Type.Optional(Type.Boolean()),
};
const ProviderSettingsObject = Type.Object(providerSettingsSchema);
export type ProviderSettingsConfig = Static<typeof ProviderSettingsObject>;

export interface ProviderSettings {
  ttlMs: number;
  negativeTtlMs: number;
  timeoutMs: number;
  concurrency: number;
  /** null: no rate limit. */
  ratePerSecond: number | null;
  rateBurst: number;
  maxWaitMs: number;
  queueWaitMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  /** The entry's quota; null: the provider's documented default (or none). */
  quota: ProviderQuota | null;
  quotaReserve: number;
  shareInternal: boolean;
}

/** Remote sources are slow and metered: cache long. Local ones are cheap and their files change: cache briefly. */
export function defaultSettings(local: boolean): ProviderSettings {
  return {
    ttlMs: local ? 60_000 : 3_600_000,
    negativeTtlMs: local ? 60_000 : 900_000,
    timeoutMs: local ? 5_000 : 10_000,
    concurrency: local ? 16 : 8,
    ratePerSecond: null,
    rateBurst: 1,
    maxWaitMs: 2_000,
    // Bounded so that one enrich batch (slot wait + token wait + timeout) ends well inside a stage lease.
    queueWaitMs: 20_000,
    breakerFailures: 5,
    breakerCooldownMs: 30_000,
    quota: null,
    quotaReserve: 0.2,
    shareInternal: false,
  };
}

/** Config keys (durations as written in YAML) → settings in ms, over the defaults for local or remote providers. */
export function resolveSettings(cfg: ProviderSettingsConfig | undefined, local: boolean): ProviderSettings {
  const d = defaultSettings(local);
  const c = cfg ?? {};
  const dur = (v: string | number | undefined, key: string, def: number) => (v === undefined ? def : parseDuration(v, key));
  const rate = c.rate_per_second ?? null;
  return {
    ttlMs: dur(c.ttl, 'ttl', d.ttlMs),
    negativeTtlMs: dur(c.negative_ttl, 'negative_ttl', d.negativeTtlMs),
    timeoutMs: dur(c.timeout, 'timeout', d.timeoutMs),
    concurrency: c.concurrency ?? d.concurrency,
    ratePerSecond: rate,
    rateBurst: c.rate_burst ?? (rate ? Math.max(1, Math.ceil(rate)) : 1),
    maxWaitMs: dur(c.max_wait, 'max_wait', d.maxWaitMs),
    queueWaitMs: dur(c.queue_wait, 'queue_wait', d.queueWaitMs),
    breakerFailures: c.breaker_failures ?? d.breakerFailures,
    breakerCooldownMs: dur(c.breaker_cooldown, 'breaker_cooldown', d.breakerCooldownMs),
    quota: c.quota ?? null,
    quotaReserve: c.quota_reserve ?? d.quotaReserve,
    shareInternal: c.share_internal ?? false,
  };
}
