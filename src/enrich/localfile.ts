/**
 * File-backed provider data (inventory, indicator lists, net segments, allowlists): paths resolve against the
 * config directory, errors name the file and line, and the data reloads when the file changes (mtime and size,
 * checked at most once per `checkEveryMs`). A reload that fails keeps the last good data and logs why, so a
 * half-saved edit never empties an allowlist or an inventory in production.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isNode, isSeq, parseDocument } from 'yaml';
import { log } from '../util/log.js';
import { CRITICALITIES, type Criticality } from '../model/asset.js';

export function resolveDataPath(file: string, configDir: string): string {
  return isAbsolute(file) ? file : resolve(configDir, file);
}

/** An error in a data file; the message reads `file:line: reason` like a compiler's. */
export class DataFileError extends Error {
  override readonly name = 'DataFileError';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(line ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
  }
}

export interface ReloadingFile<T> {
  readonly path: string;
  /** Current data; re-reads the file first if it changed since the last check. */
  get(): Promise<T>;
  /** When the data now served was loaded (epoch ms). */
  loadedAt(): number;
  /** A hash of the text now served (checking for a change first, as get() does): the same in every process. */
  revision(): Promise<string>;
}

interface Loaded<T> {
  data: T;
  hash: string;
  mtimeMs: number;
  size: number;
  at: number;
}

/**
 * Loads `path` now (throwing DataFileError if it is missing or bad, so config problems surface at start) and
 * returns a handle that reloads it on change.
 */
export function reloadingFile<T>(
  path: string,
  parse: (text: string, path: string) => T,
  opts: { now: () => number; checkEveryMs?: number },
): ReloadingFile<T> {
  const checkEvery = opts.checkEveryMs ?? 1000;
  let current = loadSync(path, parse, opts.now());
  let lastCheck = opts.now();
  let failedMtime = -1;
  let pending: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      warnOnce(`cannot stat: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, -2);
      return;
    }
    if (st.mtimeMs === current.mtimeMs && st.size === current.size) return;
    if (st.mtimeMs === failedMtime) return;
    try {
      const text = await readFile(path, 'utf8');
      const data = parse(text, path);
      current = { data, hash: textHash(text), mtimeMs: st.mtimeMs, size: st.size, at: opts.now() };
      failedMtime = -1;
      log.info({ file: path }, 'reloaded enrichment data file');
    } catch (e) {
      warnOnce((e as Error).message, st.mtimeMs);
    }
  }

  function warnOnce(message: string, mark: number) {
    if (failedMtime === mark) return;
    failedMtime = mark;
    log.warn({ file: path, err: message }, 'keeping the previous data: reload failed');
  }

  return {
    path,
    loadedAt: () => current.at,
    async revision() {
      await this.get();
      return current.hash;
    },
    async get() {
      const now = opts.now();
      if (now - lastCheck >= checkEvery || now < lastCheck) {
        lastCheck = now;
        // One refresh at a time; concurrent lookups wait for it instead of each reading the file.
        pending ??= refresh().finally(() => {
          pending = null;
        });
      }
      if (pending) await pending;
      return current.data;
    },
  };
}

function loadSync<T>(path: string, parse: (text: string, path: string) => T, at: number): Loaded<T> {
  let text: string;
  let st;
  try {
    st = statSync(path);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataFileError(path, null, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { data: parse(text, path), hash: textHash(text), mtimeMs: st.mtimeMs, size: st.size, at };
}

/** Short content hash: identifies a version of a data file (or of inline config data). */
export const textHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

export interface YamlItem {
  line: number;
  value: unknown;
}

/**
 * The items of a YAML list file, each with its line: the document is either the list itself or a mapping
 * holding it under `key` (so `segments: [...]` and a bare `- ...` list both work).
 */
export function yamlItems(text: string, file: string, key: string): YamlItem[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const first = doc.errors[0];
  if (first) throw new DataFileError(file, lc.linePos(first.pos[0]).line, first.message.split('\n')[0] ?? 'invalid YAML');
  let list: unknown = doc.contents;
  if (isMap(list)) list = list.get(key, true);
  if (list === null || list === undefined) return [];
  if (!isSeq(list)) throw new DataFileError(file, 1, `expected a list, or a mapping with a "${key}" list`);
  return list.items.map((node) => ({
    line: isNode(node) && node.range ? lc.linePos(node.range[0]).line : 1,
    value: isNode(node) ? node.toJS(doc) : node,
  }));
}

/** Reads one optional string field of a list item, naming file and line when it has the wrong type. */
export function stringField(item: Record<string, unknown>, key: string, where: { file: string; line: number }): string | undefined {
  const v = item[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  throw new DataFileError(where.file, where.line, `"${key}" must be a string`);
}

export function asRecord(value: unknown, where: { file: string; line: number }): Record<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new DataFileError(where.file, where.line, 'expected a mapping');
}

export { CRITICALITIES, type Criticality };

export function criticalityField(value: string | undefined, where: { file: string; line: number }): Criticality | null {
  if (value === undefined) return null;
  const v = value.toLowerCase();
  if ((CRITICALITIES as readonly string[]).includes(v)) return v as Criticality;
  throw new DataFileError(where.file, where.line, `criticality "${value}" must be one of ${CRITICALITIES.join(', ')}`);
}

/** A list cell such as "pci;prod" or "pci, prod" → ["pci", "prod"]. */
export function splitList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(/[;,|]/)
    .map((s) => s.trim())
    .filter(Boolean);
}
