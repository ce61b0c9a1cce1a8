/**
 * Values that products write where they have nothing to say: "-", "N/A", "unknown", "No Authentication
 * Required" as a user, an all-zero hash, 0.0.0.0 as an address. One convention for every detector: such a
 * value is not a fact, so the finalisers (observables.ts) drop it from the canonical fields and from the
 * indicators; the product's object keeps it.
 */

/** Lower-cased, trimmed texts that mean "none" in the products Fido reads. */
const NONE_TEXTS = new Set([
  '-', '--', '?', 'n/a', 'na', 'none', 'null', '(null)', 'nil', 'undefined', 'unknown', '(unknown)', '<unknown>',
  'not available', 'not applicable', 'unavailable', 'no authentication required', 'no user', '(none)', '<none>', 'empty', '<empty>',
]);

/** Whether a text field's value only says "none". */
export function isPlaceholderText(value: string): boolean {
  const s = value.trim().toLowerCase();
  return s === '' || NONE_TEXTS.has(s);
}

/** An address that names no machine: 0.0.0.0 and :: (unspecified), as products write when they have none. */
export function isPlaceholderIp(canonical: string): boolean {
  return canonical === '0.0.0.0' || canonical === '::';
}

/** A hash of only zeros (products fill the field when they did not compute it). Expects lower-case hex. */
export function isPlaceholderHash(hex: string): boolean {
  return /^0+$/.test(hex);
}
