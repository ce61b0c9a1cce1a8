/**
 * Finds the components of a plug-in point: every module in its folder default-exports one (component.ts).
 * Modules are imported in file-name order and the list is sorted by kind, so nothing depends on the
 * file system's order; a module that exports no component, or a kind given twice, is an error naming the file.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyComponent } from './component.js';

/** The folder's modules: .ts or .js, neither declarations nor tests. */
export async function modulesIn(dir: URL): Promise<string[]> {
  const path = fileURLToPath(dir);
  return (await readdir(path, { withFileTypes: true }))
    .filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name) && !/\.d\.ts$|\.test\.(ts|js)$/.test(e.name))
    .map((e) => join(path, e.name))
    .sort();
}

export async function discoverComponents<C extends { readonly kind: string }>(
  dir: URL,
  point: string,
  is: (x: unknown) => boolean = isComponent,
): Promise<C[]> {
  const found = new Map<string, { component: C; file: string }>();
  for (const file of await modulesIn(dir)) {
    const exported = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
    if (!is(exported)) throw new Error(`${file}: a ${point} module must default-export a ${point} (its plug-in point's define… function makes one)`);
    const kind = (exported as C).kind;
    const other = found.get(kind);
    if (other) throw new Error(`${file}: ${point} kind "${kind}" is already defined by ${other.file}`);
    found.set(kind, { component: exported as C, file });
  }
  return [...found.values()].map((f) => f.component).sort((a, b) => (a.kind < b.kind ? -1 : 1));
}

function isComponent(x: unknown): x is AnyComponent {
  const c = x as Partial<AnyComponent> | null | undefined;
  return typeof c === 'object' && c !== null && typeof c.kind === 'string' && typeof c.description === 'string' && typeof c.schema === 'object' && typeof c.create === 'function';
}
