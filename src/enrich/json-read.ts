/**
 * Readers for JSON that came from outside (a vendor's API answer): each takes an `unknown` and gives the value
 * only when it has the expected shape, `null` (or an empty list) otherwise, so a provider maps an answer
 * without casts and an odd field never throws a TypeError halfway through. Null rather than undefined: the
 * values go into answers stored as JSON, where a missing field and a null one should read the same.
 *
 * Services send numbers as text (MISP ids and epoch seconds, abuse.ch sizes), lists as null, and pad strings:
 * the readers accept those forms of the same value.
 */

export type Json = Record<string, unknown>;

/** A plain object (not an array, not null). */
export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object, or null. `obj(x)?.field` walks an answer without trusting it. */
export function obj(v: unknown): Json | null {
  return isRecord(v) ? v : null;
}

/** The list, or [] (a service that sends null for an empty list). */
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The objects of a list (other items dropped); [] when it is not a list. */
export function objs(v: unknown): Json[] {
  return arr(v).filter(isRecord);
}

/** A non-empty string, trimmed, or a finite number as text; null otherwise. */
export function str(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? null : v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** Like `str`, booleans as text too: any JSON scalar, for free-form attributes; null for objects and lists. */
export function scalarText(v: unknown): string | null {
  return typeof v === 'boolean' ? String(v) : str(v);
}

/** The non-empty strings of a list (numbers as text); [] when it is not a list. */
export function strs(v: unknown): string[] {
  return arr(v)
    .map(str)
    .filter((s): s is string => s !== null);
}

/** A finite number, or a decimal number written as text ("42", "-1.5"); null otherwise. */
export function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return null;
}
