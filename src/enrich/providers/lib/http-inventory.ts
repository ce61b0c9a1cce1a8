/**
 * What the inventories asked over HTTP (jamf.ts, http_inventory.ts) share: the asset they answer with — the
 * same shape as the CSV inventory (providers/inventory.ts): host, ips, macs, owner, os, criticality, tags,
 * attributes — and the choice, among the records a service sent back, of the one the subject really names.
 * Services search loosely (a prefix, a case-folded match, a NAT address shared by a whole office), so the
 * provider re-checks each record against the subject with the CSV inventory's rules rather than trusting the
 * service's idea of a match.
 *
 * This folder is not a provider folder: discover.ts only reads the files directly inside providers/.
 */
import type { LookupSubject, ProviderAnswer } from '../../provider.js';
import { canonicalIp, hostKeys, normalizeMac } from '../../values.js';
import { CRITICALITIES, type Criticality } from '../../localfile.js';
import type { Asset } from '../inventory.js';
import { RemoteError } from '../../remote.js';
import { scalarText } from '../../json-read.js';

/** The CSV inventory's asset (providers/inventory.ts) without its file line, with where it came from. */
export interface RemoteAsset extends Omit<Asset, 'line'> {
  /** Last time the asset was heard of (ISO), when the service says: how fresh the record is. */
  last_seen?: string | null;
  /** Where the record comes from ("jamf:computer/42"), for answers that say why. */
  source: string;
}

/** Builds an asset from loose service values: invalid IPs and MACs are dropped, duplicates removed. */
export function remoteAsset(a: {
  host: string;
  ips?: ReadonlyArray<unknown>;
  macs?: ReadonlyArray<unknown>;
  owner?: unknown;
  os?: unknown;
  criticality?: unknown;
  tags?: ReadonlyArray<unknown>;
  attributes?: Record<string, unknown>;
  last_seen?: string | null;
  source: string;
}): RemoteAsset {
  const uniq = (xs: Array<string | null>) => [...new Set(xs.filter((x): x is string => !!x))];
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.attributes ?? {})) {
    const s = scalarText(v);
    if (s !== null) attributes[k] = s;
  }
  const crit = scalarText(a.criticality)?.toLowerCase() ?? null;
  return {
    host: a.host,
    ips: uniq((a.ips ?? []).map((v) => canonicalIp(scalarText(v) ?? ''))),
    macs: uniq((a.macs ?? []).map((v) => normalizeMac(scalarText(v) ?? ''))),
    owner: scalarText(a.owner),
    os: scalarText(a.os),
    // An unknown word is not guessed into a level: it stays visible in the attributes instead.
    criticality: crit && (CRITICALITIES as readonly string[]).includes(crit) ? (crit as Criticality) : null,
    tags: uniq((a.tags ?? []).map(scalarText)),
    attributes: crit && !(CRITICALITIES as readonly string[]).includes(crit) ? { ...attributes, criticality: crit } : attributes,
    ...(a.last_seen !== undefined ? { last_seen: a.last_seen } : {}),
    source: a.source,
  };
}

type Matched = { asset: RemoteAsset; matched_by: string; others: RemoteAsset[] };

/**
 * The record the subject names, with the CSV inventory's rules: a host by its exact name, else by its short
 * name when exactly one record can be meant ("ws-042" finds "ws-042.corp.example"; "ws-042.corp.example"
 * finds a bare "ws-042" but never "ws-042.lab.example"); an IP or a MAC by membership, the first record
 * winning and the others named. `trustService` keeps the service's records as they are for a subject type
 * the records do not carry (an inventory that does not map MACs yet answers a MAC query).
 */
export function matchAsset(subject: LookupSubject, assets: readonly RemoteAsset[], trustService = false): Matched | { ambiguous: string[] } | null {
  const pick = (list: RemoteAsset[], how: string): Matched | null => (list[0] ? { asset: list[0], matched_by: how, others: list.slice(1) } : null);
  switch (subject.type) {
    case 'host': {
      const q = hostKeys(subject.value);
      const exact = assets.filter((a) => hostKeys(a.host).full === q.full);
      if (exact.length) return pick(exact, 'host');
      const usable = assets.filter((a) => {
        const k = hostKeys(a.host);
        return k.short === q.short && (!q.fqdn || !k.fqdn);
      });
      if (usable.length === 1) return pick(usable, 'short_name');
      if (usable.length > 1) return { ambiguous: usable.map((a) => a.host) };
      return null;
    }
    case 'ip': {
      const ip = canonicalIp(subject.value);
      return pick(trustService ? [...assets] : assets.filter((a) => ip !== null && a.ips.includes(ip)), 'ip');
    }
    case 'mac': {
      const mac = normalizeMac(subject.value);
      return pick(trustService ? [...assets] : assets.filter((a) => mac !== null && a.macs.includes(mac)), 'mac');
    }
    default:
      return pick(trustService ? [...assets] : [], subject.type);
  }
}

/** The provider answer for a subject among the records a service returned (not found when none is it). */
export function assetAnswer(subject: LookupSubject, assets: readonly RemoteAsset[], extra: Record<string, unknown> = {}, trustService = false): ProviderAnswer {
  const r = matchAsset(subject, assets, trustService);
  if (!r) return { found: false, data: { ...extra } };
  if ('ambiguous' in r) return { found: false, data: { ambiguous: r.ambiguous, ...extra } };
  const { source, last_seen, ...a } = r.asset;
  return {
    found: true,
    data: {
      ...a,
      ...(last_seen !== undefined ? { last_seen } : {}),
      matched_by: r.matched_by,
      // Several assets share this address (a NAT address, stale DHCP records): say so rather than guess silently.
      ...(r.others.length ? { also: r.others.map((o) => o.host) } : {}),
      source,
      ...extra,
    },
  };
}

/** Waits for a shared promise, but gives up (with the transport error an abort gives) when `signal` aborts. */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal, where: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new RemoteError(`${where}: aborted`, 'transport'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new RemoteError(`${where}: aborted`, 'transport'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
