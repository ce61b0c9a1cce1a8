/** Every enrichment provider kind Fido ships (one file each in providers/); config entries name one by `kind`. */
import type { ComponentEntry } from '../component/component.js';
import { discoverComponents } from '../component/discover.js';
import { instantiate } from '../component/instantiate.js';
import type { Store } from '../store/store.js';
import type { EnrichmentProvider, ProviderComponent } from './provider.js';
import { createEnricher, type Enricher } from './layer.js';
import { systemClock, type Clock } from './limits.js';
import type { ProviderSettingsConfig } from './settings.js';

export const providerKinds: readonly ProviderComponent[] = await discoverComponents(new URL('./providers/', import.meta.url), 'provider');

/** Whether providers of this kind answer from this machine only (ProviderComponent.local). */
export const isLocalKind = (kind: string): boolean => providerKinds.find((k) => k.kind === kind)?.local === true;

export interface ProvidersDeps {
  store: Store;
  /** `enrichment.internal_domains`: never sent to external providers. */
  internalDomains?: readonly string[];
  /** Directory of the config file: relative data-file paths resolve against it. */
  configDir: string;
  clock?: Clock;
}

/**
 * Builds the configured providers (`enrichment.providers`), through the one instantiation path
 * (component/instantiate.ts); a bad data file fails here with `file:line: reason`.
 */
export async function createProviders(entries: readonly ComponentEntry[], deps: ProvidersDeps): Promise<EnrichmentProvider[]> {
  const clock = deps.clock ?? systemClock;
  const built = await instantiate(
    { path: 'enrichment.providers', what: 'provider', close: (p) => p.close?.() },
    providerKinds,
    entries,
    { store: deps.store, configDir: deps.configDir, now: clock.now },
  );
  return built.map((b) => b.instance);
}

/** The providers of the config behind the shared layer, with each entry's ttl/limits/breaker settings. */
export async function createConfiguredEnricher(
  entries: readonly ComponentEntry[],
  deps: ProvidersDeps & { hotEntries?: number },
): Promise<Enricher> {
  const providers = await createProviders(entries, deps);
  const settings: Record<string, ProviderSettingsConfig> = Object.fromEntries(entries.map((e) => [e.name, e as ProviderSettingsConfig]));
  return createEnricher({ providers, store: deps.store, settings, clock: deps.clock, hotEntries: deps.hotEntries, internalDomains: deps.internalDomains });
}
