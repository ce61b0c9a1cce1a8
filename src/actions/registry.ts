/** Every action kind Fido ships (one file each in kinds/); `actions.targets[].kind` names one. */
import type { ComponentEntry } from '../component/component.js';
import { discoverComponents } from '../component/discover.js';
import { instantiate } from '../component/instantiate.js';
import type { ActionComponent, ActionDeps, ActionTarget } from './action.js';

export const actionKinds: readonly ActionComponent[] = await discoverComponents(new URL('./kinds/', import.meta.url), 'action');

/** Builds the configured targets (`actions.targets`), keyed by name, for the executor (component/instantiate.ts). */
export async function createActionTargets(entries: readonly ComponentEntry[], deps: ActionDeps): Promise<Map<string, ActionTarget>> {
  const built = await instantiate({ path: 'actions.targets', what: 'action', close: (t) => t.close?.() }, actionKinds, entries, deps);
  return new Map(built.map((b) => [b.entry.name, b.instance]));
}

/** Releases connections held by targets (SMTP transports, HTTP agents). */
export async function closeActionTargets(targets: ReadonlyMap<string, ActionTarget>): Promise<void> {
  await Promise.allSettled([...targets.values()].map((t) => t.close?.()));
}
