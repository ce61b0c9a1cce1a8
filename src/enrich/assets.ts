/**
 * One machine, several inventories: the CSV/JSON `inventory`, `sql_inventory`, `jamf` and `http_inventory`
 * all answer with the same asset shape (host, ips, macs, owner, os, criticality, tags, attributes; some add
 * last_seen). When several of them know a host they may disagree (the CMDB says "critical", JAMF has a newer
 * owner). This file merges their stored answers into one asset in which every value says who said it, so the
 * analyst sees both the answer and where it came from; disagreements are listed, never hidden.
 *
 * Choice of a single value (owner, os, criticality, host, each attribute), in this order:
 *   1. configured precedence (`enrichment.assets.precedence`): an earlier provider wins; providers not listed
 *      come after all listed ones;
 *   2. freshness: the answer's own `last_seen` (or `attributes.lastContactTime`) when it has one, else when
 *      it was fetched; the newer wins;
 *   3. the order the answers were given in (the store gives them by provider name), so the result is stable.
 * The best answer that has a value for a field gives it: a CSV without an OS column does not blank out the
 * OS another inventory knows. Answers older than `max_age` (by the same freshness time) are left out and
 * listed as `stale`. Each provider counts once, with its freshest answer: the same inventory asked about the
 * host and about its address describes one record, and its newest answer is its current view.
 * List values (ips, macs, tags) are unions; each item names every provider that listed it.
 *
 * Pure: no store, no clock (the caller passes `now`).
 */
import type { ObservableType } from '../model/observable.js';
import type { AnswerRef, AssetConflict, IncidentAsset, MergedAsset, SourcedItem, SourcedValue } from '../model/asset.js';
import { CRITICALITIES, type Criticality } from '../model/asset.js';
import { arr, obj, scalarText, str } from './json-read.js';
import { canonicalIp, hostKeys, normalizeMac } from './values.js';

/** A stored answer as the incident detail holds it (model/enrichment.ts), or any answer of that shape. */
export interface AssetAnswerInput {
  provider: string;
  subject?: { type: ObservableType; value: string };
  data: Record<string, unknown>;
  /** Answers with `found: false` (or an error) are never merged. */
  found?: boolean;
  /** ISO time or epoch ms. */
  fetched_at: string | number;
}

export interface MergeOptions {
  /** Provider names, most trusted first. */
  precedence?: readonly string[];
  /** Answers whose freshness time is older than this (ms before `now`) are left out; null/undefined: no limit. */
  maxAgeMs?: number | null;
  now: number;
}

export type { AnswerRef, AssetConflict, IncidentAsset, MergedAsset, SourcedItem, SourcedValue };

/** An answer in the inventories' asset shape: it names a host and lists addresses (inventory.ts, lib/http-inventory.ts). */
export function isAssetAnswer(a: { data: Record<string, unknown>; found?: boolean }): boolean {
  return a.found !== false && str(a.data.host) !== null && (Array.isArray(a.data.ips) || Array.isArray(a.data.macs));
}

interface Ranked {
  provider: string;
  data: Record<string, unknown>;
  attributes: Record<string, unknown>;
  fetchedMs: number;
  fetchedIso: string;
  lastSeen: string | null;
  /** When the record was last known true: last_seen if it says, else fetched_at. */
  freshMs: number;
  order: number;
}

const toMs = (t: string | number): number => (typeof t === 'number' ? t : Date.parse(t));

/** The answer's own idea of when the asset was last heard of (ISO), if it has a readable one. */
function lastSeenOf(data: Record<string, unknown>): string | null {
  for (const v of [data.last_seen, obj(data.attributes)?.lastContactTime]) {
    const s = scalarText(v);
    if (s === null) continue;
    const ms = Date.parse(s);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  return null;
}

/** Two host names for one machine: equal, or a bare name and an FQDN with that short name. */
function sameHost(a: string, b: string): boolean {
  const x = hostKeys(a);
  const y = hostKeys(b);
  return x.full === y.full || (x.short === y.short && (!x.fqdn || !y.fqdn));
}

/** Merges the found asset answers about one machine (see the header for the rules). */
export function mergeAssets(answers: readonly AssetAnswerInput[], opts: MergeOptions): MergedAsset {
  const rankOf = new Map((opts.precedence ?? []).map((p, i) => [p, i] as const));
  const usable: Ranked[] = [];
  answers.forEach((a, order) => {
    if (!isAssetAnswer(a)) return;
    const fetchedMs = toMs(a.fetched_at);
    if (!Number.isFinite(fetchedMs)) return;
    const lastSeen = lastSeenOf(a.data);
    usable.push({
      provider: a.provider,
      data: a.data,
      attributes: obj(a.data.attributes) ?? {},
      fetchedMs,
      fetchedIso: new Date(fetchedMs).toISOString(),
      lastSeen,
      freshMs: lastSeen !== null ? Date.parse(lastSeen) : fetchedMs,
      order,
    });
  });

  // Each provider once: its freshest answer (then the latest fetched; then the first given).
  const perProvider = new Map<string, Ranked>();
  for (const r of usable) {
    const had = perProvider.get(r.provider);
    if (!had || r.freshMs > had.freshMs || (r.freshMs === had.freshMs && r.fetchedMs > had.fetchedMs)) perProvider.set(r.provider, r);
  }
  const ref = (r: Ranked): AnswerRef => ({ provider: r.provider, fetched_at: r.fetchedIso, last_seen: r.lastSeen });
  const maxAge = opts.maxAgeMs ?? null;
  const isStale = (r: Ranked) => maxAge !== null && r.freshMs < opts.now - maxAge;
  const rank = (r: Ranked) => rankOf.get(r.provider) ?? Number.POSITIVE_INFINITY;
  const ranked = [...perProvider.values()].sort((a, b) => rank(a) - rank(b) || b.freshMs - a.freshMs || a.order - b.order);
  const kept = ranked.filter((r) => !isStale(r));

  const conflicts: AssetConflict[] = [];
  /** The best answer's value for a field, noting a conflict when the answers hold different values. */
  const pick = <T extends string>(field: string, read: (r: Ranked) => T | null, same: (a: string, b: string) => boolean): SourcedValue<T> | null => {
    const said = kept.flatMap((r) => {
      const value = read(r);
      return value === null ? [] : [{ value, r }];
    });
    const best = said[0];
    if (!best) return null;
    if (said.some((s, i) => said.slice(i + 1).some((t) => !same(s.value, t.value)))) {
      conflicts.push({ field, values: said.map((s) => ({ value: s.value, source: s.r.provider })) });
    }
    return { value: best.value, source: best.r.provider, fetched_at: best.r.fetchedIso, last_seen: best.r.lastSeen };
  };
  const caseless = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const text = (key: string) => (r: Ranked) => scalarText(r.data[key]);

  const host = pick('host', text('host'), sameHost);
  const owner = pick('owner', text('owner'), caseless);
  const os = pick('os', text('os'), caseless);
  const criticality = pick<Criticality>(
    'criticality',
    (r) => {
      const c = scalarText(r.data.criticality)?.toLowerCase() ?? null;
      return c !== null && (CRITICALITIES as readonly string[]).includes(c) ? (c as Criticality) : null;
    },
    (a, b) => a === b,
  );
  const attributes: Record<string, SourcedValue> = {};
  const names = [...new Set(kept.flatMap((r) => Object.keys(r.attributes)))].sort();
  for (const name of names) {
    const v = pick(`attributes.${name}`, (r) => scalarText(r.attributes[name]), (a, b) => a === b);
    if (v) attributes[name] = v;
  }

  return {
    host,
    owner,
    os,
    criticality,
    ips: union(kept, 'ips', canonicalIp),
    macs: union(kept, 'macs', normalizeMac),
    tags: union(kept, 'tags', (t) => t.trim() || null, (t) => t.toLowerCase()),
    attributes,
    sources: kept.map(ref),
    stale: ranked.filter(isStale).map(ref),
    conflicts,
  };
}

/** The items of a list field over all answers, best answer's first; invalid items dropped. */
function union(answers: readonly Ranked[], key: string, normalize: (v: string) => string | null, identity: (v: string) => string = (v) => v): SourcedItem[] {
  const byKey = new Map<string, SourcedItem>();
  for (const r of answers) {
    for (const raw of arr(r.data[key])) {
      const s = scalarText(raw);
      const value = s === null ? null : normalize(s);
      if (value === null) continue;
      const k = identity(value);
      const item = byKey.get(k);
      if (!item) byKey.set(k, { value, sources: [r.provider] });
      else if (!item.sources.includes(r.provider)) item.sources.push(r.provider);
    }
  }
  return [...byKey.values()];
}


/**
 * The incident's machines, each with its merged asset: the asset answers are grouped by machine — an answer
 * about a host subject joins that host with the name the inventory gave; an answer about an address joins the
 * host it names; a bare name joins the one FQDN with that short name when there is exactly one (the
 * inventories' own short-name rule) — and each group is merged. Sorted by name.
 */
export function incidentAssets(answers: readonly AssetAnswerInput[], opts: MergeOptions): IncidentAsset[] {
  const assetAnswers = answers.filter(isAssetAnswer);
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    if (!parent.has(k)) parent.set(k, k);
    let root = k;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(k, root);
    return root;
  };
  const join = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra < rb) parent.set(rb, ra);
    else if (rb < ra) parent.set(ra, rb);
  };
  const keyOf = (a: AssetAnswerInput) => hostKeys(str(a.data.host)!).full;
  for (const a of assetAnswers) {
    find(keyOf(a));
    if (a.subject?.type === 'host') join(keyOf(a), hostKeys(a.subject.value).full);
  }
  const names = [...parent.keys()];
  for (const bare of names.filter((n) => !hostKeys(n).fqdn)) {
    const fqdns = names.filter((n) => hostKeys(n).fqdn && hostKeys(n).short === bare);
    if (fqdns.length === 1) join(bare, fqdns[0]!);
  }

  const groups = new Map<string, AssetAnswerInput[]>();
  for (const a of assetAnswers) {
    const root = find(keyOf(a));
    const list = groups.get(root);
    if (list) list.push(a);
    else groups.set(root, [a]);
  }
  const out: IncidentAsset[] = [];
  for (const group of groups.values()) {
    const merged = mergeAssets(group, opts);
    const subjects = dedupeSubjects(group.flatMap((a) => (a.subject ? [a.subject] : [])));
    const named = subjects.find((s) => s.type === 'host')?.value ?? merged.host?.value ?? str(group[0]!.data.host)!;
    out.push({ name: named, subjects, ...merged });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function dedupeSubjects(list: ReadonlyArray<{ type: ObservableType; value: string }>): Array<{ type: ObservableType; value: string }> {
  const seen = new Set<string>();
  const order: ObservableType[] = ['host', 'ip', 'mac'];
  return list
    .filter((s) => {
      const k = `${s.type}\u0000${s.value}`;
      return seen.has(k) ? false : (seen.add(k), true);
    })
    .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}
