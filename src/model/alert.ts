/**
 * The canonical Alert (DESIGN.md §3). Field names are pinned: the API, tests and outside tools rely on them.
 */
import type { Observable } from './observable.js';

export const SEVERITY_LABELS = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type SeverityLabel = (typeof SEVERITY_LABELS)[number];

export const DETECTOR_ACTIONS = ['allowed', 'blocked', 'quarantined', 'detected', 'unknown'] as const;
export type DetectorAction = (typeof DETECTOR_ACTIONS)[number];

export interface Endpoint {
  ip?: string;
  port?: number;
  host?: string;
  user?: string;
}

export interface HostInfo {
  name?: string;
  ip?: string;
  id?: string;
  os?: string;
  mac?: string;
}

export interface UserInfo {
  name?: string;
  domain?: string;
  email?: string;
}

export interface FileInfo {
  name?: string;
  path?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  size?: number;
}

export interface ProcessInfo {
  name?: string;
  command_line?: string;
  pid?: number;
  parent_name?: string;
}

export interface RuleInfo {
  id?: string;
  name?: string;
  category?: string;
}

export interface EmailInfo {
  from?: string;
  to?: string[];
  subject?: string;
}

export interface MalwareInfo {
  name?: string;
  family?: string;
}

/** What a detector produces: everything but the fields the pipeline assigns. */
export interface AlertDraft {
  vendor_id?: string;
  /** The product's own name for this kind of record: "THREAT/virus", "DetectionSummaryEvent", "ips". */
  event_type?: string;
  time: string;
  title: string;
  rule?: RuleInfo;
  severity: number;
  severity_label?: SeverityLabel;
  /** The product's own severity value and scale, e.g. { value: "1", scale: "suricata 1(high)-3(low)" }. */
  vendor_severity?: { value: string; scale: string };
  action?: DetectorAction;
  src?: Endpoint;
  dst?: Endpoint;
  host?: HostInfo;
  /** The product instance that reported it, when that is not the host the alert is about: a firewall, an IDS sensor. */
  device?: HostInfo;
  user?: UserInfo;
  file?: FileInfo;
  process?: ProcessInfo;
  url?: string;
  domain?: string;
  email?: EmailInfo;
  malware?: MalwareInfo;
  observables: Observable[];
}

export interface Alert extends AlertDraft {
  /** ULID assigned at intake. */
  id: string;
  /** The configured receiver/source name. */
  source: string;
  /** The parser that produced it. */
  detector: string;
  received_at: string;
  severity_label: SeverityLabel;
  /** The original text, byte for byte. */
  raw: string;
}

/** Maps 0–100 to the pinned label. Boundaries follow CVSS-like bands. */
export function severityLabel(severity: number): SeverityLabel {
  if (severity >= 90) return 'critical';
  if (severity >= 70) return 'high';
  if (severity >= 40) return 'medium';
  if (severity >= 10) return 'low';
  return 'info';
}

export function clampSeverity(n: number): number {
  if (!Number.isFinite(n)) return 0;
  return Math.max(0, Math.min(100, Math.round(n)));
}
