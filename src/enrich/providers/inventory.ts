/**
 * Asset inventory from a CSV export (header: host, ip, mac, owner, os, criticality, tags; extra columns are
 * kept as `attributes`) or a JSON export of the same fields. Answers host names (case-insensitive; a short name
 * finds the FQDN and the other way round when that is unambiguous), IPs and MACs. Cells may list several IPs
 * or MACs ("10.0.0.5;fd00::5"). The file is re-read when it changes, so a nightly export needs no restart.
 *
 * The format follows the file name: `.json` holds a list of asset objects, or `{ "assets": [...] }`; `.jsonl`
 * and `.ndjson` hold one asset object per line; anything else is CSV. In JSON, ip, mac and tags may be lists,
 * `ips`/`macs` are accepted for ip/mac (the answer's own names), an `attributes` object adds attributes, and any
 * other key with a plain value is an attribute. Errors read `file:line: …` (CSV, NDJSON) or `file: item N: …`
 * (a JSON list, whose items have no line of their own after parsing).
 *
 *   - name: inventory
 *     kind: inventory
 *     file: inventory.csv        # or inventory.json, inventory.ndjson
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
    file: Type.String({ description: 'CSV with header host,ip,mac,owner,os,criticality,tags; or .json / .jsonl / .ndjson with those fields' }),
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
  /** Where it is in its file: the line (CSV, NDJSON), or the item number in a JSON list. */
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

/** One asset's fields as text; in JSON, ip, mac and tags may come as lists already. */
type Cells = Record<string, string | string[]>;

/** Where an error is: a line, or (JSON list) an item number. */
interface Place {
  file: string;
  line: number | null;
  item?: number;
}

const fail = (at: Place, reason: string) => new DataFileError(at.file, at.line, at.item === undefined ? reason : `item ${at.item}: ${reason}`);

function toAsset(values: Cells, at: Place): Asset {
  // Only ip, mac and tags are ever lists (jsonCells refuses a list anywhere else).
  const one = (key: string): string | undefined => {
    const v = values[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const list = (key: string, split: (v: string | undefined) => string[]) => {
    const v = values[key];
    return Array.isArray(v) ? v.map((x) => x.trim()).filter(Boolean) : split(v);
  };
  const host = one('host')?.trim();
  if (!host) throw fail(at, 'empty "host"');
  const ips = list('ip', splitAddrs).map((ip) => {
    const c = canonicalIp(ip);
    if (!c) throw fail(at, `ip "${ip}" is not an IP address`);
    return c;
  });
  const macs = list('mac', splitAddrs).map((m) => {
    const c = normalizeMac(m);
    if (!c) throw fail(at, `mac "${m}" is not a MAC address`);
    return c;
  });
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (!KNOWN.includes(k) && typeof v === 'string' && v !== '') attributes[k] = v;
  let criticality: Criticality | null;
  // The shared check words the error; only its place is ours (an item number in a JSON list).
  try {
    criticality = criticalityField(one('criticality'), { file: at.file, line: at.line ?? 0 });
  } catch (e) {
    throw e instanceof DataFileError ? fail(at, e.reason) : e;
  }
  return {
    host,
    ips,
    macs,
    owner: one('owner') ?? null,
    os: one('os') ?? null,
    criticality,
    tags: list('tags', splitList),
    attributes,
    line: at.line ?? at.item ?? 0,
  };
}

/** A plain JSON value as text (null: absent); `what` names it in the error for anything else. */
function jsonText(v: unknown, at: Place, what: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw fail(at, `${what} must be a string, a number or a boolean`);
}

/** One JSON asset object → the cells toAsset reads, with the CSV's meaning for each known name. */
function jsonCells(item: unknown, at: Place): Cells {
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw fail(at, 'expected an object with at least "host"');
  const cells: Cells = {};
  const attribute = (k: string, v: unknown) => {
    // A list of plain values reads as the CSV would hold it ("a;b"); nested objects have no column form.
    const t = Array.isArray(v) ? v.map((x) => jsonText(x, at, `attribute "${k}"`)).filter(Boolean).join(';') : jsonText(v, at, `attribute "${k}"`);
    if (t) cells[k] = t;
  };
  for (const [key, v] of Object.entries(item as Record<string, unknown>)) {
    const lower = key.toLowerCase();
    const name = lower === 'ips' ? 'ip' : lower === 'macs' ? 'mac' : lower;
    if (name === 'attributes' && v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) attribute(k, x);
    } else if (name === 'ip' || name === 'mac' || name === 'tags') {
      const got = Array.isArray(v) ? v.flatMap((x) => jsonText(x, at, `"${key}"`) ?? []) : jsonText(v, at, `"${key}"`);
      if (got === undefined) continue;
      const had = cells[name];
      cells[name] = had === undefined ? got : [...(Array.isArray(had) ? had : [had]), ...(Array.isArray(got) ? got : [got])];
    } else if (KNOWN.includes(name)) {
      const t = jsonText(v, at, `"${key}"`);
      if (t !== undefined) cells[name] = t;
    } else attribute(key, v);
  }
  return cells;
}

type Format = 'csv' | 'json' | 'ndjson';

export function inventoryFormat(file: string): Format {
  const f = file.toLowerCase();
  if (f.endsWith('.json')) return 'json';
  if (f.endsWith('.jsonl') || f.endsWith('.ndjson')) return 'ndjson';
  return 'csv';
}

/** The file's assets in order, each with its place; the format follows the file name. */
function readAssets(text: string, file: string): Array<{ asset: Asset; at: Place }> {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  switch (inventoryFormat(file)) {
    case 'csv':
      return parseCsvTable(src, { file, comments: true, required: ['host'] }).rows.map((row) => {
        const at = { file, line: row.line };
        return { asset: toAsset(row.values, at), at };
      });
    case 'ndjson':
      return src.split(/\r?\n/).flatMap((lineText, i) => {
        if (lineText.trim() === '') return [];
        const at = { file, line: i + 1 };
        let item: unknown;
        try {
          item = JSON.parse(lineText);
        } catch (e) {
          throw fail(at, `invalid JSON: ${(e as Error).message}`);
        }
        return [{ asset: toAsset(jsonCells(item, at), at), at }];
      });
    case 'json': {
      let doc: unknown;
      try {
        doc = src.trim() === '' ? [] : JSON.parse(src);
      } catch (e) {
        throw new DataFileError(file, jsonErrorLine(src, (e as Error).message), `invalid JSON: ${(e as Error).message}`);
      }
      const list = Array.isArray(doc) ? doc : doc && typeof doc === 'object' ? (doc as Record<string, unknown>).assets : undefined;
      if (!Array.isArray(list)) throw new DataFileError(file, null, 'expected a list of assets, or an object with an "assets" list');
      return list.map((item, i) => {
        const at = { file, line: null, item: i + 1 };
        return { asset: toAsset(jsonCells(item, at), at), at };
      });
    }
  }
}

/** The line of a JSON.parse error, from the position its message gives (null when it gives none). */
function jsonErrorLine(text: string, message: string): number | null {
  const m = /position (\d+)/.exec(message);
  if (!m) return null;
  return text.slice(0, Number(m[1])).split('\n').length;
}

const placeOf = (at: Place) => (at.item !== undefined ? `item ${at.item}` : `line ${at.line}`);

function push<T>(m: Map<string, T[]>, k: string, v: T) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export function parseInventory(text: string, file: string): InventoryIndex {
  const idx: InventoryIndex = { assets: [], byFull: new Map(), byShort: new Map(), byIp: new Map(), byMac: new Map() };
  const first = new Map<string, Place>();
  for (const { asset: a, at } of readAssets(text, file)) {
    const k = hostKeys(a.host);
    const had = first.get(k.full);
    if (had) throw fail(at, `host "${a.host}" is listed twice (first on ${placeOf(had)})`);
    first.set(k.full, at);
    idx.assets.push(a);
    idx.byFull.set(k.full, a);
    push(idx.byShort, k.short, a);
    for (const ip of a.ips) push(idx.byIp, ip, a);
    for (const mac of a.macs) push(idx.byMac, mac, a);
  }
  return idx;
}

export type Found = { asset: Asset; matched_by: string; others: Asset[] };

/** The answer every inventory-shaped provider gives for an asset found (sql_inventory, jamf… answer the same). */
export function assetAnswer(found: Found, source: string, extra: Record<string, unknown> = {}): ProviderAnswer {
  const a = found.asset;
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
      matched_by: found.matched_by,
      // Several assets share this address (stale DHCP rows, clusters): say so rather than guess silently.
      ...(found.others.length ? { also: found.others.map((o) => o.host) } : {}),
      source,
      ...extra,
    },
  };
}

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
  description: 'Asset inventory file (CSV, JSON or NDJSON): host, IP or MAC → owner, OS, criticality, tags (reloads on change)',
  schema: Schema,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const path = resolveDataPath(cfg.file, deps.configDir);
    const data = reloadingFile(path, parseInventory, { now: deps.now });
    const source = basename(path);
    // A JSON list's assets are numbered, not on lines of their own.
    const where = inventoryFormat(path) === 'json' ? (a: Asset) => `${source}#${a.line}` : (a: Asset) => `${source}:${a.line}`;
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
        return assetAnswer(r, where(r.asset));
      },
    };
  },
});

export default inventory;
