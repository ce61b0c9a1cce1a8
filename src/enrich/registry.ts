/** Every enrichment provider kind Fido ships; config entries name one by `kind`. */
import { Value } from 'typebox/value';
import type { ComponentEntry } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { EnrichmentProvider, ProviderKind } from './provider.js';
import { createEnricher, systemClock, type Clock, type Enricher, type ProviderSettingsConfig } from './layer.js';
import netsegments from './providers/netsegments.js';
import inventory from './providers/inventory.js';
import allowlist from './providers/allowlist.js';
import history from './providers/history.js';
import indicators from './providers/indicators.js';

export const providerKinds: readonly ProviderKind[] = [netsegments, inventory, allowlist, history, indicators];

/** Whether providers of this kind answer from this machine only (ProviderKind.local). */
export const isLocalKind = (kind: string): boolean => providerKinds.find((k) => k.kind === kind)?.local === true;

export interface ProvidersDeps {
  store: Store;
  /** Directory of the config file: relative data-file paths resolve against it. */
  configDir: string;
  clock?: Clock;
}

/**
 * Builds the configured providers (`enrichment.providers`). Each entry is checked against its kind's schema
 * again, so a caller that skipped config validation still gets an error that names the key; a bad data file
 * fails here with `file:line: reason`.
 */
export async function createProviders(entries: readonly ComponentEntry[], deps: ProvidersDeps): Promise<EnrichmentProvider[]> {
  const clock = deps.clock ?? systemClock;
  const out: EnrichmentProvider[] = [];
  try {
    for (const entry of entries) {
      const key = `enrichment.providers.${entry.name}`;
      const kind = providerKinds.find((k) => k.kind === entry.kind);
      if (!kind) throw new Error(`${key}.kind: unknown provider kind "${entry.kind}" (known: ${providerKinds.map((k) => k.kind).join(', ')})`);
      if (out.some((p) => p.name === entry.name)) throw new Error(`${key}: duplicate provider name`);
      const problem = Value.Errors(kind.configSchema, entry)[0];
      if (problem) throw new Error(`${key}${problem.instancePath.replace(/\//g, '.')}: ${problem.message}`);
      try {
        out.push(await kind.create(entry, { store: deps.store, configDir: deps.configDir, now: clock.now }));
      } catch (e) {
        throw new Error(`${key}: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    await Promise.allSettled(out.map((p) => p.close?.()));
    throw e;
  }
  return out;
}

/** The providers of the config behind the shared layer, with each entry's ttl/limits/breaker settings. */
export async function createConfiguredEnricher(
  entries: readonly ComponentEntry[],
  deps: ProvidersDeps & { hotEntries?: number },
): Promise<Enricher> {
  const providers = await createProviders(entries, deps);
  const settings: Record<string, ProviderSettingsConfig> = Object.fromEntries(entries.map((e) => [e.name, e as ProviderSettingsConfig]));
  return createEnricher({ providers, store: deps.store, settings, clock: deps.clock, hotEntries: deps.hotEntries });
}
