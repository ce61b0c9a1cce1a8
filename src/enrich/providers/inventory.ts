/**
 * Asset inventory from a CSV export (header: host, ip, mac, owner, os, criticality, tags; extra columns are
 * kept as `attributes`). Answers host names (case-insensitive; a short name finds the FQDN and the other way
 * round when that is unambiguous), IPs and MACs. Cells may list several IPs or MACs ("10.0.0.5;fd00::5").
 * The file is re-read when it changes, so a nightly export needs no restart.
 *
 *   - name: inventory
 *     kind: inventory
 *     file: inventory.csv
 */
import { basename } from 'node:path';
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer, type LookupSubject } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { parseCsvTable } from '../csv.js';
import { canonicalIp, hostKeys, normalizeMac } from '../values.js';
import { DataFileError, criticalityField, reloadingFile, resolveDataPath, splitList, type Criticality } from '../localfile.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('inventory'),
    ...providerSettingsSchema,
    file: Type.String({ description: 'CSV with header host,ip,mac,owner,os,criticality,tags' }),
  },
  { additionalProperties: false },
);

const KNOWN = ['host', 'ip', 'mac', 'owner', 'os', 'criticality', 'tags'];

export interface Asset {
  host: string;
  ips: string[];
  macs: string[];
  owner: string | null;
  os: string | null;
  criticality: Criticality | null;
  tags: string[];
  attributes: Record<string, string>;
  line: number;
}

export interface InventoryIndex {
  assets: Asset[];
  byFull: Map<string, Asset>;
  byShort: Map<string, Asset[]>;
  byIp: Map<string, Asset[]>;
  byMac: Map<string, Asset[]>;
}

const splitAddrs = (v: string | undefined) => (v ? v.split(/[\s;,|]+/).filter(Boolean) : []);

function toAsset(values: Record<string, string>, file: string, line: number): Asset {
  const where = { file, line };
  const host = values.host?.trim();
  if (!host) throw new DataFileError(file, line, 'empty "host"');
  const ips = splitAddrs(values.ip).map((ip) => {
    const c = canonicalIp(ip);
    if (!c) throw new DataFileError(file, line, `ip "${ip}" is not an IP address`);
    return c;
  });
  const macs = splitAddrs(values.mac).map((m) => {
    const c = normalizeMac(m);
    if (!c) throw new DataFileError(file, line, `mac "${m}" is not a MAC address`);
    return c;
  });
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (!KNOWN.includes(k) && v !== '') attributes[k] = v;
  return {
    host,
    ips,
    macs,
    owner: values.owner || null,
    os: values.os || null,
    criticality: criticalityField(values.criticality || undefined, where),
    tags: splitList(values.tags),
    attributes,
    line,
  };
}

function push<T>(m: Map<string, T[]>, k: string, v: T) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export function parseInventory(text: string, file: string): InventoryIndex {
  const table = parseCsvTable(text, { file, comments: true, required: ['host'] });
  const idx: InventoryIndex = { assets: [], byFull: new Map(), byShort: new Map(), byIp: new Map(), byMac: new Map() };
  const firstLine = new Map<string, number>();
  for (const row of table.rows) {
    const a = toAsset(row.values, file, row.line);
    const k = hostKeys(a.host);
    if (idx.byFull.has(k.full)) throw new DataFileError(file, row.line, `host "${a.host}" is listed twice (first on line ${firstLine.get(k.full)})`);
    firstLine.set(k.full, row.line);
    idx.assets.push(a);
    idx.byFull.set(k.full, a);
    push(idx.byShort, k.short, a);
    for (const ip of a.ips) push(idx.byIp, ip, a);
    for (const mac of a.macs) push(idx.byMac, mac, a);
  }
  return idx;
}

type Found = { asset: Asset; matched_by: string; others: Asset[] };

/** Exact name first; then the short name, only when exactly one asset could be meant. */
function findHost(idx: InventoryIndex, value: string): Found | { ambiguous: string[] } | null {
  const q = hostKeys(value);
  const exact = idx.byFull.get(q.full);
  if (exact) return { asset: exact, matched_by: 'host', others: [] };
  const cands = idx.byShort.get(q.short) ?? [];
  // "ws-042" finds "ws-042.corp.example"; "ws-042.corp.example" finds a bare "ws-042" but never "ws-042.lab.example".
  const usable = q.fqdn ? cands.filter((a) => !hostKeys(a.host).fqdn) : cands;
  if (usable.length === 1) return { asset: usable[0]!, matched_by: 'short_name', others: [] };
  if (usable.length > 1) return { ambiguous: usable.map((a) => a.host) };
  return null;
}

export function findAsset(idx: InventoryIndex, subject: LookupSubject): Found | { ambiguous: string[] } | null {
  const byList = (list: Asset[] | undefined, how: string): Found | null =>
    list?.[0] ? { asset: list[0], matched_by: how, others: list.slice(1) } : null;
  switch (subject.type) {
    case 'host':
      return findHost(idx, subject.value);
    case 'ip': {
      const ip = canonicalIp(subject.value);
      return ip ? byList(idx.byIp.get(ip), 'ip') : null;
    }
    case 'mac': {
      const mac = normalizeMac(subject.value);
      return mac ? byList(idx.byMac.get(mac), 'mac') : null;
    }
    default:
      return null;
  }
}

const inventory = defineProvider({
  kind: 'inventory',
  local: true,
  description: 'Asset inventory CSV: host, IP or MAC → owner, OS, criticality, tags (reloads on change)',
  schema: Schema,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const path = resolveDataPath(cfg.file, deps.configDir);
    const data = reloadingFile(path, parseInventory, { now: deps.now });
    const source = basename(path);
    return {
      name: cfg.name,
      kind: 'inventory',
      subjects: ['host', 'ip', 'mac'],
      local: true,
      inMemory: true,
      revision: () => data.revision(),
      async lookup(subject): Promise<ProviderAnswer> {
        const r = findAsset(await data.get(), subject);
        if (!r) return { found: false, data: {} };
        if ('ambiguous' in r) return { found: false, data: { ambiguous: r.ambiguous } };
        const a = r.asset;
        return {
          found: true,
          data: {
            host: a.host,
            ips: a.ips,
            macs: a.macs,
            owner: a.owner,
            os: a.os,
            criticality: a.criticality,
            tags: a.tags,
            attributes: a.attributes,
            matched_by: r.matched_by,
            // Several assets share this address (stale DHCP rows, clusters): say so rather than guess silently.
            ...(r.others.length ? { also: r.others.map((o) => o.host) } : {}),
            source: `${source}:${a.line}`,
          },
        };
      },
    };
  },
});

export default inventory;
