/** Every enrichment provider kind Fido ships; config entries name one by `kind`. */
import type { ProviderKind } from './provider.js';

export const providerKinds: readonly ProviderKind[] = [];
