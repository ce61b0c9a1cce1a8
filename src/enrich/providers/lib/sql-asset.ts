/**
 * Rows of a SQL inventory query → the answer of the CSV inventory (providers/inventory.ts): the same asset
 * shape (host, ips, macs, owner, os, criticality, tags, attributes) and the same choice among candidates, by
 * building that provider's InventoryIndex from the rows and asking its findAsset. So "ws-042" finds
 * "ws-042.corp.example", "ws-042.corp.example" never finds "ws-042.lab.example", and two short-name
 * candidates are reported as ambiguous, whatever the query's own matching.
 *
 * Database values are loose: arrays (PostgreSQL text[]/inet[]), numbers, dates, NULLs. A row is never refused
 * for one bad cell (a live inventory must not hide an asset during an incident for a typo): an invalid IP,
 * MAC or criticality is dropped and named in `warnings`.
 */
import type { LookupSubject, ProviderAnswer } from '../../provider.js';
import { assetAnswer, findAsset, type Asset, type InventoryIndex } from '../inventory.js';
import { canonicalIp, hostKeys, normalizeMac } from '../../values.js';
import { CRITICALITIES, splitList, type Criticality } from '../../localfile.js';

/** The columns with a meaning; any other column becomes an attribute. */
const KNOWN = ['host', 'ip', 'mac', 'owner', 'os', 'criticality', 'tags'];

export type SqlRow = Record<string, unknown>;

/** A cell as text: NULL → undefined, lists joined with ";", dates in ISO form, JSON as JSON. */
export function cellText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.toISOString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) {
    const parts = v.map(cellText).filter((s): s is string => s !== undefined);
    return parts.length ? parts.join(';') : undefined;
  }
  return JSON.stringify(v);
}

const splitAddrs = (v: string | undefined) => (v ? v.split(/[\s;,|]+/).filter(Boolean) : []);

interface RowAsset {
  asset: Asset;
  warnings: string[];
}

/** One row → an asset (null when it has no host), with what was dropped from it. */
function rowAsset(row: SqlRow, n: number): RowAsset | null {
  const text: Record<string, string> = {};
  for (const [k, v] of Object.entries(row)) {
    const t = cellText(v);
    if (t !== undefined) text[k.toLowerCase()] = t;
  }
  const host = text.host;
  if (!host) return null;
  const warnings: string[] = [];
  const valid = (values: string[], norm: (s: string) => string | null, what: string) =>
    values.flatMap((v) => {
      const c = norm(v);
      if (!c) warnings.push(`${host}: ${what} "${v}" is not valid and was left out`);
      return c ? [c] : [];
    });
  let criticality: Criticality | null = null;
  if (text.criticality) {
    const c = text.criticality.toLowerCase();
    if ((CRITICALITIES as readonly string[]).includes(c)) criticality = c as Criticality;
    else warnings.push(`${host}: criticality "${text.criticality}" is not one of ${CRITICALITIES.join(', ')} and was left out`);
  }
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(text)) if (!KNOWN.includes(k)) attributes[k] = v;
  return {
    asset: {
      host,
      ips: valid(splitAddrs(text.ip), canonicalIp, 'ip'),
      macs: valid(splitAddrs(text.mac), normalizeMac, 'mac'),
      owner: text.owner ?? null,
      os: text.os ?? null,
      criticality,
      tags: splitList(text.tags),
      attributes,
      line: n,
    },
    warnings,
  };
}

const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];

/** Rows of the same host (a join that gives one row per address or tag) fold into one asset. */
function merge(into: Asset, a: Asset): void {
  into.ips = union(into.ips, a.ips);
  into.macs = union(into.macs, a.macs);
  into.tags = union(into.tags, a.tags);
  into.owner ??= a.owner;
  into.os ??= a.os;
  into.criticality ??= a.criticality;
  for (const [k, v] of Object.entries(a.attributes)) into.attributes[k] ??= v;
}

function push<T>(m: Map<string, T[]>, k: string, v: T) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export function indexRows(rows: readonly SqlRow[]): { index: InventoryIndex; warnings: string[] } {
  const index: InventoryIndex = { assets: [], byFull: new Map(), byShort: new Map(), byIp: new Map(), byMac: new Map() };
  const warnings: string[] = [];
  rows.forEach((row, i) => {
    const r = rowAsset(row, i + 1);
    if (!r) return;
    warnings.push(...r.warnings);
    const k = hostKeys(r.asset.host);
    const same = index.byFull.get(k.full);
    if (same) merge(same, r.asset);
    else {
      index.assets.push(r.asset);
      index.byFull.set(k.full, r.asset);
      push(index.byShort, k.short, r.asset);
    }
  });
  for (const a of index.assets) {
    for (const ip of a.ips) push(index.byIp, ip, a);
    for (const mac of a.macs) push(index.byMac, mac, a);
  }
  return { index, warnings };
}

/**
 * The answer for `subject` from the rows its query returned. The inventory's rules pick among them; rows the
 * query matched on something else (an alias column, an address table it joined without selecting `ip`) are
 * still its answer, as `matched_by: 'query'`, except hosts the short-name rule rejected.
 */
export function answerFromRows(rows: readonly SqlRow[], subject: LookupSubject, source: string): ProviderAnswer {
  const { index, warnings } = indexRows(rows);
  const extra = warnings.length ? { warnings } : {};
  let found = findAsset(index, subject);
  if (!found) {
    const q = subject.type === 'host' ? hostKeys(subject.value) : null;
    const other = q ? index.assets.filter((a) => hostKeys(a.host).short !== q.short) : index.assets;
    if (other.length > 1 && q) return { found: false, data: { ambiguous: other.map((a) => a.host), ...extra } };
    if (other[0]) found = { asset: other[0], matched_by: 'query', others: other.slice(1) };
  }
  if (!found) return { found: false, data: { ...extra } };
  if ('ambiguous' in found) return { found: false, data: { ambiguous: found.ambiguous, ...extra } };
  return assetAnswer(found, source, extra);

}
