/**
 * The one path from configuration entries to instances, for every plug-in point: find each entry's kind,
 * check the entry (unless the configuration loader already has), build it, and on any failure close what was
 * built and throw an error that names the entry's key. A kind's `create` thus always gets an entry that
 * matches its schema.
 */
import { Value } from 'typebox/value';
import type { AnyComponent, Component, ComponentEntry } from './component.js';
import type { TSchema } from 'typebox';

/** Entries the configuration loader checked (config/validate.ts): not checked again. */
const checked = new WeakSet<object>();

/** Records that `entry` passed its kind's schema and checks, where they report line numbers. */
export function markChecked(entry: object): void {
  checked.add(entry);
}

export function wasChecked(entry: object): boolean {
  return checked.has(entry);
}

/** The first problem of `entry` against `kind` (schema, then the kind's own checks), as `key: message`, or null. */
export function entryProblem(kind: AnyComponent, entry: ComponentEntry, key: string): string | null {
  if (checked.has(entry)) return null;
  const problem = Value.Errors(kind.schema, entry)[0];
  if (problem) return `${key}${problem.instancePath.replace(/\//g, '.')}: ${problem.message}`;
  const own = kind.check?.(entry as never)[0];
  return own ? `${key}.${own.key}: ${own.message}` : null;
}

export interface Placement<I> {
  /** Where the entries are in the configuration, e.g. `enrichment.providers`. */
  path: string;
  /** What one is called in messages: `provider`, `action`, `receiver`. */
  what: string;
  /** The key that names an entry in messages (default `${path}.${name}`). */
  key?(entry: ComponentEntry): string;
  /** Releases an instance when a later one fails to build. */
  close?(instance: I): Promise<void> | void;
}

export async function instantiate<Deps, I>(
  at: Placement<I>,
  kinds: ReadonlyArray<Component<TSchema, Deps, I>>,
  entries: readonly ComponentEntry[],
  deps: Deps,
): Promise<Array<{ entry: ComponentEntry; instance: I }>> {
  const built: Array<{ entry: ComponentEntry; instance: I }> = [];
  try {
    for (const entry of entries) {
      const key = at.key?.(entry) ?? `${at.path}.${entry.name}`;
      const kind = kinds.find((k) => k.kind === entry.kind);
      if (!kind) throw new Error(`${key}.kind: unknown ${at.what} kind "${entry.kind}" (known: ${kinds.map((k) => k.kind).join(', ')})`);
      if (built.some((b) => b.entry.name === entry.name)) throw new Error(`${key}: duplicate ${at.what} name`);
      const problem = entryProblem(kind as AnyComponent, entry, key);
      if (problem) throw new Error(problem);
      try {
        built.push({ entry, instance: await kind.create(entry as never, deps) });
      } catch (e) {
        const message = (e as Error).message;
        // Most kinds already name the key at fault (`actions.targets.x.subject: …`).
        throw new Error(message.startsWith(`${key}.`) || message.startsWith(`${key}:`) ? message : `${key}: ${message}`, { cause: e });
      }
    }
  } catch (e) {
    await Promise.allSettled(built.map((b) => at.close?.(b.instance)));
    throw e;
  }
  return built;
}
