/** Every action kind Fido ships; `actions.targets[].kind` names one. */
import { Value } from 'typebox/value';
import type { ComponentEntry } from '../config/schema.js';
import type { ActionDeps, ActionKind, ActionTarget } from './action.js';
import email from './kinds/email.js';
import webhook from './kinds/webhook.js';

export const actionKinds: readonly ActionKind[] = [email, webhook];

/**
 * Builds the configured targets (`actions.targets`), keyed by name, for the executor. Each entry is checked
 * against its kind's schema again here, so a caller that skipped config validation still gets a clear error.
 */
export async function createActionTargets(entries: readonly ComponentEntry[], deps: ActionDeps): Promise<Map<string, ActionTarget>> {
  const targets = new Map<string, ActionTarget>();
  try {
    for (const entry of entries) {
      const key = `actions.targets.${entry.name}`;
      const kind = actionKinds.find((k) => k.kind === entry.kind);
      if (!kind) throw new Error(`${key}.kind: unknown action kind "${entry.kind}" (known: ${actionKinds.map((k) => k.kind).join(', ')})`);
      if (targets.has(entry.name)) throw new Error(`${key}: duplicate target name`);
      const problem = Value.Errors(kind.configSchema, entry)[0];
      if (problem) throw new Error(`${key}${problem.instancePath.replace(/\//g, '.')}: ${problem.message}`);
      targets.set(entry.name, await kind.create(entry, deps));
    }
  } catch (e) {
    await closeActionTargets(targets);
    throw e;
  }
  return targets;
}

/** Releases connections held by targets (SMTP transports, HTTP agents). */
export async function closeActionTargets(targets: ReadonlyMap<string, ActionTarget>): Promise<void> {
  await Promise.allSettled([...targets.values()].map((t) => t.close?.()));
}
