/**
 * Which address a blocking action acts on, and whether it may: shared by the kinds that block an address
 * (nftables_block, panos_dag, fortigate_address) so that they all pick and refuse alike.
 *
 * What is blocked: `params.address` when the rule gives one; otherwise the incident's first public address,
 * reading its alerts in order, each alert's `src.ip` before its `dst.ip` (the outside party of an inbound attack
 * is the source; of a beacon, the destination). With `allow_private: true` and no public address, the first
 * alert's `src.ip`. Refused: anything that is not an IP address (only the canonical form ipaddr.js prints goes
 * on), loopback, unspecified, multicast and broadcast always, the `never_block` networks always, other
 * non-public addresses unless `allow_private: true`.
 */
import { parseDuration } from '../../../config/duration.js';
import type { ComponentProblem } from '../../../component/component.js';
import type { IncidentDetail } from '../../../model/incident.js';
import { CidrTable, canonicalIp, parseCidr } from '../../../enrich/values.js';
import { classifyAddress, describeAddress } from '../../../util/outbound.js';
import { ActionError } from '../../action.js';

/** The address to block, as given or read from the incident (see the header); null when there is none. */
export function offendingAddress(params: Record<string, unknown>, incident: IncidentDetail, allowPrivate: boolean): { value: unknown; from: string } | null {
  if (params.address !== undefined) return { value: params.address, from: 'params.address' };
  const alerts = incident.alerts ?? [];
  for (const [i, a] of alerts.entries()) {
    for (const side of ['src', 'dst'] as const) {
      const ip = a[side]?.ip;
      if (ip && classifyAddress(ip)?.public) return { value: ip, from: `alerts[${i}].${side}.ip` };
    }
  }
  const first = alerts[0]?.src?.ip;
  return allowPrivate && first ? { value: first, from: 'alerts[0].src.ip' } : null;
}

const ALWAYS_REFUSED = new Set(['loopback', 'unspecified', 'multicast', 'broadcast']);

/** `never_block` problems for a kind's `check` (each names its index). */
export function neverBlockProblems(list: readonly string[] | undefined): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  (list ?? []).forEach((c, i) => {
    if (!parseCidr(c)) problems.push({ key: `never_block[${i}]`, message: `"${c}" is not an IP address or CIDR` });
  });
  return problems;
}

/** The `never_block` table; entries are assumed checked (neverBlockProblems). */
export function neverBlockTable(list: readonly string[] | undefined): CidrTable<string> {
  const never = new CidrTable<string>();
  for (const text of list ?? []) {
    const c = parseCidr(text);
    if (c) never.add(c, c.text);
  }
  return never;
}

/** The canonical address, or why it may not be blocked (a permanent ActionError whose message starts with `kind`). */
export function vetAddress(
  kind: string,
  raw: unknown,
  from: string,
  allowPrivate: boolean,
  never: CidrTable<string>,
  /** The config key that allows non-public addresses, named in the refusal. */
  privateKey = 'allow_private',
): { address: string; v6: boolean } {
  const text = typeof raw === 'string' ? raw : '';
  const shown = typeof raw === 'string' ? JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text) : `(a ${typeof raw})`;
  // Only the characters of an address: no spaces, zones (%eth0), prefixes or anything a parser might read.
  const address = /^[0-9A-Fa-f:.]{2,45}$/.test(text) ? canonicalIp(text) : null;
  if (!address) throw new ActionError(`${kind}: ${from} ${shown} is not an IP address`, false);
  const c = classifyAddress(address);
  if (!c) throw new ActionError(`${kind}: ${from} ${shown} is not an IP address`, false);
  if (ALWAYS_REFUSED.has(c.range) || ALWAYS_REFUSED.has(c.embeddedRange ?? '')) {
    throw new ActionError(`${kind}: refusing to block ${address} (${describeAddress(c)}): never blocked`, false);
  }
  const protectedBy = never.longest(address);
  if (protectedBy) throw new ActionError(`${kind}: refusing to block ${address}: it is in never_block ${protectedBy[0]}`, false);
  if (!c.public && !allowPrivate) {
    throw new ActionError(`${kind}: refusing to block ${address} (${describeAddress(c)}): not a public address (set ${privateKey}: true to allow)`, false);
  }
  return { address, v6: address.includes(':') };
}

/** The address an execute (or its reconcile) acts on: picked, then vetted; a permanent error when there is none. */
export function chooseAddress(kind: string, params: Record<string, unknown>, incident: IncidentDetail, allowPrivate: boolean, never: CidrTable<string>, privateKey = 'allow_private') {
  const picked = offendingAddress(params, incident, allowPrivate);
  if (!picked) throw new ActionError(`${kind}: nothing to block (no params.address and no public src/dst address in the incident's alerts)`, false);
  return { ...vetAddress(kind, picked.value, picked.from, allowPrivate, never, privateKey), from: picked.from };
}

/** A duration param ("30m", 600) in ms; a permanent error when it is not one. */
export function paramDuration(kind: string, value: unknown, key: string): number {
  if (typeof value !== 'string' && typeof value !== 'number') throw new ActionError(`${kind}: ${key} must be a duration such as 30m`, false);
  try {
    return parseDuration(value, key);
  } catch (e) {
    throw new ActionError(`${kind}: ${(e as Error).message}`, false);
  }
}
