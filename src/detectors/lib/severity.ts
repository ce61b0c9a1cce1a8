/**
 * Vendor severity → Fido's 0-100 scale. Label bands (model/alert.ts): info <10, low 10-39, medium 40-69,
 * high 70-89, critical ≥90. Words land in the middle of their band so that one step of a vendor's scale is
 * one band here.
 */
const WORDS: Record<string, number> = {
  info: 5, informational: 5, information: 5, notice: 5, debug: 0, none: 0,
  low: 25, minor: 25,
  medium: 50, moderate: 50, warning: 50, warn: 50,
  high: 75, major: 75, important: 75, error: 75, severe: 80,
  critical: 95, 'very-high': 95, 'very high': 95, veryhigh: 95, very_high: 95, emergency: 95, fatal: 95,
};

/** A severity word in any case (Low, HIGH, Very-High…), or undefined for unknown words and "unknown". */
export function wordSeverity(word: unknown): number | undefined {
  if (typeof word !== 'string') return undefined;
  const key = word.trim().toLowerCase();
  return Object.hasOwn(WORDS, key) ? WORDS[key] : undefined;
}

/**
 * A number on a vendor scale 0…max (or 1…max with `invert`, where 1 is the most severe) → 0-100.
 * Out-of-scale values give undefined (they are data errors, not "very severe").
 */
export function scaleSeverity(value: number, max: number, invert = false): number | undefined {
  if (!Number.isFinite(value) || !(max > 0)) return undefined;
  if (invert) {
    if (value < 1 || value > max) return undefined;
    return Math.round(((max + 1 - value) / max) * 100);
  }
  if (value < 0 || value > max) return undefined;
  return Math.round((value / max) * 100);
}

/**
 * A record that says nothing usable about severity: the lowest medium, so it is neither filed away as info
 * nor escalated on no evidence. Detectors record the vendor's value in vendor_severity either way.
 */
export const UNKNOWN_SEVERITY = 40;
