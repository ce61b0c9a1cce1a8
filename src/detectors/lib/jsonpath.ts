/**
 * Dotted paths into parsed JSON: `a.b[0].c`, `alert["signature id"]`, `items[-1]` (last element).
 * Paths come from configuration (detectors.json[].fields) and records are hostile, so lookups read own
 * properties only and a path can never name `__proto__`, `constructor` or `prototype`: a mapping cannot be
 * turned into a way to reach (or, elsewhere, pollute) Object.prototype.
 */
export type PathSegment = string | number;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_SEGMENTS = 64;

export class JsonPathError extends Error {
  override readonly name = 'JsonPathError';
}

const cache = new Map<string, readonly PathSegment[]>();

/** Parses a path once; throws JsonPathError naming the problem (a configuration mistake). */
export function parsePath(path: string): readonly PathSegment[] {
  const hit = cache.get(path);
  if (hit) return hit;
  const segments = parseUncached(path);
  if (cache.size >= 1024) cache.clear();
  cache.set(path, segments);
  return segments;
}

function parseUncached(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new JsonPathError(`invalid path "${path.slice(0, 100)}": ${why}`);
  };
  if (path === '') fail('empty');
  while (i < path.length) {
    if (path[i] === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) fail('unclosed [');
      const inner = path.slice(i + 1, close).trim();
      if (/^-?\d{1,9}$/.test(inner)) out.push(Number(inner));
      else if (/^(["']).*\1$/s.test(inner)) out.push(inner.slice(1, -1));
      else fail(`bad index [${inner}]`);
      i = close + 1;
      if (i < path.length && path[i] !== '.' && path[i] !== '[') fail(`unexpected "${path[i]}" after ]`);
      if (path[i] === '.') {
        i++;
        if (i >= path.length) fail('ends with a dot');
      }
      continue;
    }
    let end = i;
    while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
    const name = path.slice(i, end);
    if (name === '') fail('empty segment');
    out.push(name);
    i = end;
    if (path[i] === '.') {
      i++;
      if (i >= path.length) fail('ends with a dot');
    }
  }
  for (const s of out) if (typeof s === 'string' && FORBIDDEN.has(s)) fail(`segment "${s}" is not allowed`);
  if (out.length > MAX_SEGMENTS) fail(`more than ${MAX_SEGMENTS} segments`);
  return out;
}

/** The value at `path`, or undefined when any step is missing, not own, or of the wrong kind. */
export function getPath(value: unknown, path: string | readonly PathSegment[]): unknown {
  const segments = typeof path === 'string' ? parsePath(path) : path;
  let cur: unknown = value;
  for (const seg of segments) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur)) return undefined;
      const idx = seg < 0 ? cur.length + seg : seg;
      if (idx < 0 || idx >= cur.length) return undefined;
      cur = cur[idx];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
      if (FORBIDDEN.has(seg) || !Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

/** Whether a path resolves to something other than undefined/null. */
export function hasPath(value: unknown, path: string | readonly PathSegment[]): boolean {
  const v = getPath(value, path);
  return v !== undefined && v !== null;
}
