/**
 * The contract of a detector: a pure function from one raw record (a line, or one JSON value) to canonical
 * alerts. No network, no store, no clock but the record's own. Each file in this folder (not lib/) default-
 * exports one Detector; the registry (lib/registry.ts) finds them, so adding a product is adding a file.
 * Reference implementation: suricata.ts.
 */
import type { AlertDraft } from '../model/alert.js';
import type { Observable } from '../model/observable.js';

export interface RawRecord {
  /** The record exactly as received. */
  readonly text: string;
  /** The parsed JSON value when the text is JSON (parsed once by the caller), else undefined. */
  readonly json?: unknown;
}

/** Something a detector understood that is not an alert: flows, VPN sessions, DNS answers… kept for enrichment. */
export interface ContextEvent {
  /** e.g. "flow", "dns", "vpn_session", "auth". */
  kind: string;
  time: string;
  data: Record<string, unknown>;
  observables: Observable[];
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
