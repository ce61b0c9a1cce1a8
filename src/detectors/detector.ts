/**
 * The contract of a detector: a pure function from one raw record (a line, or one JSON value) to canonical
 * alerts. No network, no store, no clock but the record's own. Each file in this folder (not lib/) default-
 * exports `defineDetector({…})`; the registry (lib/registry.ts) finds them on the component model
 * (component/discover.ts), so adding a product is adding a file and its test. Unlike the other plug-in
 * points a detector has no configuration entry of its own: sources name it by `name`.
 * Reference implementation: suricata.ts.
 */
import type { AlertDraft } from '../model/alert.js';
import type { ContextEvent } from '../model/context.js';

export type { ContextEvent };

export interface RawRecord {
  /** The record exactly as received. */
  readonly text: string;
  /** The parsed JSON value when the text is JSON (parsed once by the caller), else undefined. */
  readonly json?: unknown;
}

export type ParseOutcome =
  | { kind: 'alerts'; alerts: AlertDraft[] }
  | { kind: 'context'; events: ContextEvent[] };

/** Thrown by `parse` for input the detector cannot turn into alerts; the reason goes to quarantine. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
}

export interface Detector {
  /** Lower-case identifier used in config (`detector: suricata`) and in Alert.detector. */
  readonly name: string;
  /** Product and format, one line, for `fido detectors list`. */
  readonly description: string;
  /** json: expects `record.json`; text: works on `record.text` lines. */
  readonly format: 'json' | 'text';
  /** Cheap check for auto-detection: 0 (not mine) … 1 (certainly mine). Must never throw. */
  sniff(record: RawRecord): number;
  /** Throws ParseError with a reason that names what is wrong. */
  parse(record: RawRecord): ParseOutcome;
}

/** Declares a detector; a malformed one is refused here, naming what is wrong, so a typo fails at load. */
export function defineDetector(detector: Detector): Detector {
  const problem = detectorProblem(detector);
  if (problem) throw new Error(`defineDetector: ${problem}`);
  return Object.freeze(detector);
}

/** Why a value is not a Detector, or undefined when it is one. */
export function detectorProblem(value: unknown): string | undefined {
  const d = value as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'is not an object (export default defineDetector({…}))';
  if (typeof d.name !== 'string' || !/^[a-z][a-z0-9_-]{0,63}$/.test(d.name)) return 'has no valid name (lower-case, [a-z0-9_-])';
  if (typeof d.description !== 'string' || d.description.trim() === '') return `"${d.name}" has no description`;
  if (d.format !== 'json' && d.format !== 'text') return `"${d.name}" has format ${String(d.format)}; expected "json" or "text"`;
  if (typeof d.sniff !== 'function') return `"${d.name}" has no sniff()`;
  if (typeof d.parse !== 'function') return `"${d.name}" has no parse()`;
  return undefined;
}
