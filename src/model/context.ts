/**
 * The canonical context event: what a product reported that is not an alert but says who held which address,
 * which session ran when, which flow, name lookup or file transfer happened. Enrichment reads these (an
 * address → the machine and person that held it at the time of an alert), so the facts sit in the same
 * canonical places as an alert's; the product's own object is kept beside in `data`.
 * Documented in src/model/README.md beside the Alert.
 */
import type { EmailInfo, Endpoint, FileInfo, HostInfo, ProcessInfo, RuleInfo, UserInfo } from './alert.js';
import type { Observable } from './observable.js';

/**
 * What kind of event: a sign-on (`auth`), a VPN session (`vpn`), an address lease (`dhcp`), a network
 * connection (`flow`), a name lookup (`dns`), a TLS handshake (`tls`), a web request (`http`), a file seen
 * on the wire or on disk (`file`), a process start (`process`), a mail transfer (`email`), an administrative
 * or configuration change (`audit`), the product's own health (`status`), or none of these (`other`).
 */
export const CONTEXT_KINDS = ['auth', 'vpn', 'dhcp', 'flow', 'dns', 'tls', 'http', 'file', 'process', 'email', 'audit', 'status', 'other'] as const;
export type ContextKind = (typeof CONTEXT_KINDS)[number];

export function isContextKind(kind: unknown): kind is ContextKind {
  return (CONTEXT_KINDS as readonly unknown[]).includes(kind);
}

/** Whether what the event reports succeeded: a sign-on accepted or refused, a lease granted, a session set up. */
export const CONTEXT_OUTCOMES = ['success', 'failure', 'unknown'] as const;
export type ContextOutcome = (typeof CONTEXT_OUTCOMES)[number];

export interface ContextEvent {
  kind: ContextKind;
  /** The product's own name for this event type: "gateway-auth", "user.session.start", "conn", "traffic/forward". */
  event_type?: string;
  /** When it happened, UTC ISO-8601. */
  time: string;
  /** The person (or service account) the event is about. */
  user?: UserInfo;
  /** Where it came from: the client of a sign-on or VPN session (its public address), a flow's originator. */
  src?: Endpoint;
  /** Where it went: a flow's responder, the server of a DNS/TLS/HTTP exchange. */
  dst?: Endpoint;
  /** The address the event gave the user's machine: a VPN tunnel address, a DHCP lease. */
  assigned_ip?: string;
  /** The machine the event is about: a VPN or DHCP client's name, an endpoint agent's host. */
  host?: HostInfo;
  /** The product instance that reported it: a firewall, a sensor, an identity provider's tenant. */
  device?: HostInfo;
  outcome?: ContextOutcome;
  /** The product's session id: events with the same one belong to one session (start, updates, end). */
  session_id?: string;
  /** When the session or flow began and ended, where the product says (UTC ISO-8601). */
  start?: string;
  end?: string;
  domain?: string;
  url?: string;
  file?: FileInfo;
  process?: ProcessInfo;
  /** The rule or policy that matched, where the product names one: a firewall's security rule for a flow. */
  rule?: RuleInfo;
  /** A mail transfer's sender, recipients and subject (`email` events). */
  email?: EmailInfo;
  /** The product's own object (minus what is already above where the product duplicates it). */
  data: Record<string, unknown>;
  /** Every indicator found, as for alerts: derived from the fields above, plus what the detector lists. */
  observables: Observable[];
}
