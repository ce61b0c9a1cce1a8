/**
 * Finds the components of a plug-in point: every module in its folder default-exports one (component.ts).
 * Modules are imported in file-name order and the list is sorted by name, so nothing depends on the
 * file system's order; a module that fails to load, exports no component, or repeats a name is an error
 * naming the file.
 */
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The folder's modules: .ts or .js, neither declarations nor tests, nor the files named in `skip`. */
export async function modulesIn(dir: URL | string, skip: readonly string[] = []): Promise<string[]> {
  const path = typeof dir === 'string' ? dir : fileURLToPath(dir);
  return (await readdir(path, { withFileTypes: true }))
    .filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name) && !/\.d\.ts$|\.test\.(ts|js)$/.test(e.name))
    .filter((e) => !skip.includes(e.name.replace(/\.(ts|js)$/, '')))
    .map((e) => join(path, e.name))
    .sort();
}

export interface DiscoverOptions<C> {
  /** Why a default export is not one of this point's components, or undefined when it is one. */
  problemOf?: (exported: unknown) => string | undefined;
  /** The name a configuration uses for it (default: its `kind`). */
  nameOf?: (component: C) => string;
  /** Module names (without extension) in the folder that are not components, e.g. the point's contract. */
  skip?: readonly string[];
}

export async function discoverComponents<C>(dir: URL | string, point: string, opts: DiscoverOptions<C> = {}): Promise<C[]> {
  const problemOf = opts.problemOf ?? componentProblem;
  const nameOf = opts.nameOf ?? ((c: C) => (c as { kind: string }).kind);
  const found = new Map<string, { component: C; file: string }>();
  for (const file of await modulesIn(dir, opts.skip)) {
    let exported: unknown;
    try {
      exported = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
    } catch (e) {
      throw new Error(`${point} file ${basename(file)} failed to load: ${(e as Error).message}`, { cause: e });
    }
    const problem = problemOf(exported);
    if (problem) throw new Error(`${point} file ${basename(file)}: default export ${problem} (export default what define… makes; ${file})`);
    const name = nameOf(exported as C);
    const other = found.get(name);
    if (other) throw new Error(`${point} file ${basename(file)}: name "${name}" is already used by ${basename(other.file)}`);
    found.set(name, { component: exported as C, file });
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, f]) => f.component);
}

function componentProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'is not an object';
  const c = x as Record<string, unknown>;
  const expected: Array<[string, string]> = [['kind', 'string'], ['description', 'string'], ['schema', 'object'], ['create', 'function']];
  const missing = expected.filter(([key, type]) => typeof c[key] !== type).map(([key]) => key);
  return missing.length ? `has no ${missing.join(', ')}` : undefined;
}
