/**
 * Local indicator lists (a SOC's own blocklist, an exported feed): IPs, CIDRs, domains, URLs, e-mail
 * addresses and hashes, each with a verdict (malicious | suspicious | benign) and a source name. Formats:
 * CSV `indicator,type,verdict,source` (header optional, only `indicator` required; missing type is guessed)
 * or plain text with one indicator per line and `#` comments. Defanged values (hxxp://, evil[.]example) are
 * refanged. Matching: an IP inside a listed CIDR, a domain or any of its parent domains, a URL exactly or by
 * its host, an e-mail address or its domain, hashes exactly. When several entries match, the answer's
 * `verdict` is the most severe and `matches` lists them all.
 *
 *   - name: soc-intel
 *     kind: indicators
 *     file: [indicators.csv, extra-blocklist.txt]
 *     source: soc            # for rows without a source (default: the file's base name)
 *     verdict: malicious     # for rows without a verdict
 */
import { basename } from 'node:path';
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer, type LookupSubject } from '../provider.js';
import type { ObservableType } from '../../model/observable.js';
import { providerSettingsSchema } from '../settings.js';
import { parseCsv } from '../csv.js';
import { CidrTable, domainAndParents, guessType, normalizeDomain, normalizeUrl, normalizeValue, parseCidr, parseIp, refang } from '../values.js';
import { DataFileError, reloadingFile, resolveDataPath, type ReloadingFile } from '../localfile.js';

export const VERDICTS = ['malicious', 'suspicious', 'benign'] as const;
export type IndicatorVerdict = (typeof VERDICTS)[number];
const SEVERITY: Record<IndicatorVerdict, number> = { malicious: 3, suspicious: 2, benign: 1 };

const Verdict = Type.Union(VERDICTS.map((v) => Type.Literal(v)));
const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('indicators'),
    ...providerSettingsSchema,
    file: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], { description: 'One list file or several' }),
    format: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('csv'), Type.Literal('text')], { description: 'auto: .csv is CSV, anything else plain text' })),
    source: Type.Optional(Type.String({ description: 'Source name for rows without one (default: the file name)' })),
    verdict: Type.Optional(Verdict),
  },
  { additionalProperties: false },
);

type EntryType = Exclude<ObservableType, 'user' | 'host' | 'mac'> | 'cidr';
const ENTRY_TYPES: readonly EntryType[] = ['ip', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email'];

export interface IndicatorEntry {
  indicator: string;
  type: EntryType;
  verdict: IndicatorVerdict;
  source: string;
  origin: string;
}

export interface IndicatorIndex {
  exact: Map<string, IndicatorEntry[]>;
  nets: CidrTable<IndicatorEntry>;
  size: number;
}

interface ListOptions {
  format: 'auto' | 'csv' | 'text';
  source?: string | undefined;
  verdict: IndicatorVerdict;
}

function toEntry(
  fields: { indicator: string; type?: string; verdict?: string; source?: string },
  defaults: { source: string; verdict: IndicatorVerdict },
  where: { file: string; line: number },
): IndicatorEntry {
  const fail = (reason: string) => new DataFileError(where.file, where.line, reason);
  const raw = refang(fields.indicator.trim());
  if (!raw) throw fail('empty indicator');
  const declared = fields.type?.trim().toLowerCase();
  const type = (declared || guessType(raw)) as EntryType | null;
  if (!type) throw fail(`cannot tell what kind of indicator "${raw}" is; add a type (${ENTRY_TYPES.join(', ')})`);
  if (!ENTRY_TYPES.includes(type)) {
    throw fail(declared ? `type "${declared}" must be one of ${ENTRY_TYPES.join(', ')}` : `"${raw}" looks like a ${type}, which indicator lists do not hold`);
  }
  const value = type === 'cidr' ? (parseCidr(raw)?.text ?? null) : normalizeValue(type, raw);
  if (!value) throw fail(`"${raw}" is not a valid ${type}`);
  const verdict = (fields.verdict?.trim().toLowerCase() || defaults.verdict) as IndicatorVerdict;
  if (!VERDICTS.includes(verdict)) throw fail(`verdict "${fields.verdict}" must be one of ${VERDICTS.join(', ')}`);
  return { indicator: value, type, verdict, source: fields.source?.trim() || defaults.source, origin: `${basename(where.file)}:${where.line}` };
}

function csvEntries(text: string, file: string, defaults: { source: string; verdict: IndicatorVerdict }): IndicatorEntry[] {
  const records = parseCsv(text, { file, comments: true });
  const first = records[0];
  // A header is optional: it is there when the first cell says "indicator".
  const hasHeader = first?.fields[0]?.trim().toLowerCase() === 'indicator';
  const cols = hasHeader ? first!.fields.map((f) => f.trim().toLowerCase()) : ['indicator', 'type', 'verdict', 'source'];
  const col = (name: string) => cols.indexOf(name);
  return records.slice(hasHeader ? 1 : 0).map((r) => {
    if (r.fields.length > cols.length && !hasHeader) {
      throw new DataFileError(file, r.line, `expected at most ${cols.length} fields (indicator,type,verdict,source), got ${r.fields.length}`);
    }
    if (hasHeader && r.fields.length !== cols.length) {
      throw new DataFileError(file, r.line, `expected ${cols.length} fields (${cols.join(',')}), got ${r.fields.length}`);
    }
    const get = (name: string) => (col(name) >= 0 ? r.fields[col(name)] : undefined);
    return toEntry({ indicator: get('indicator') ?? '', type: get('type'), verdict: get('verdict'), source: get('source') }, defaults, { file, line: r.line });
  });
}

function textEntries(text: string, file: string, defaults: { source: string; verdict: IndicatorVerdict }): IndicatorEntry[] {
  const out: IndicatorEntry[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    const v = l.replace(/(^|\s)#.*$/s, '').trim();
    if (v) out.push(toEntry({ indicator: v }, defaults, { file, line: i + 1 }));
  });
  return out;
}

export function parseIndicatorList(text: string, file: string, opts: ListOptions): IndicatorEntry[] {
  const defaults = { source: opts.source ?? basename(file).replace(/\.[^.]+$/, ''), verdict: opts.verdict };
  const csv = opts.format === 'csv' || (opts.format === 'auto' && /\.csv$/i.test(file));
  return csv ? csvEntries(text, file, defaults) : textEntries(text, file, defaults);
}

export function buildIndicatorIndex(entries: readonly IndicatorEntry[]): IndicatorIndex {
  const idx: IndicatorIndex = { exact: new Map(), nets: new CidrTable(), size: entries.length };
  for (const e of entries) {
    if (e.type === 'ip' || e.type === 'cidr') idx.nets.add(parseCidr(e.indicator)!, e);
    else {
      const k = `${e.type}:${e.indicator}`;
      const list = idx.exact.get(k);
      if (list) list.push(e);
      else idx.exact.set(k, [e]);
    }
  }
  return idx;
}

export interface IndicatorMatch extends IndicatorEntry {
  /** How the subject matched: exact, cidr, parent_domain, url_domain, url_ip, email_domain. */
  match: string;
}

function domainMatches(idx: IndicatorIndex, domain: string, how: (name: string) => string): IndicatorMatch[] {
  return domainAndParents(domain).flatMap((name) => (idx.exact.get(`domain:${name}`) ?? []).map((e) => ({ ...e, match: how(name) })));
}

function ipMatches(idx: IndicatorIndex, ip: string, exactHow: string, netHow: string): IndicatorMatch[] {
  return idx.nets.matchAll(ip).flatMap((m) => m.values.map((e) => ({ ...e, match: e.type === 'ip' ? exactHow : netHow })));
}

export function matchIndicators(idx: IndicatorIndex, subject: LookupSubject): IndicatorMatch[] {
  const exact = (type: string, value: string) => (idx.exact.get(`${type}:${value}`) ?? []).map((e) => ({ ...e, match: 'exact' }));
  switch (subject.type) {
    case 'ip':
      return parseIp(subject.value) ? ipMatches(idx, subject.value, 'exact', 'cidr') : [];
    case 'domain': {
      const d = normalizeDomain(subject.value);
      return d ? domainMatches(idx, d, (name) => (name === d ? 'exact' : 'parent_domain')) : [];
    }
    case 'url': {
      const u = normalizeUrl(subject.value);
      if (!u) return [];
      const host = parseIp(u.host) ? ipMatches(idx, u.host, 'url_ip', 'url_ip') : domainMatches(idx, u.host, () => 'url_domain');
      return [...exact('url', u.url), ...host];
    }
    case 'email': {
      const e = subject.value.trim().toLowerCase();
      const d = normalizeDomain(e.slice(e.lastIndexOf('@') + 1));
      return [...exact('email', e), ...(d ? domainMatches(idx, d, () => 'email_domain') : [])];
    }
    case 'md5':
    case 'sha1':
    case 'sha256':
      return exact(subject.type, subject.value.trim().toLowerCase());
    default:
      return [];
  }
}

const MAX_MATCHES = 20;

const indicators = defineProvider({
  kind: 'indicators',
  local: true,
  description: 'Local indicator lists (CSV or text): IPs, CIDRs, domains, URLs, e-mail addresses and hashes with a verdict',
  schema: Schema,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const opts: ListOptions = { format: cfg.format ?? 'auto', source: cfg.source, verdict: cfg.verdict ?? 'malicious' };
    const files: ReloadingFile<IndicatorIndex>[] = (Array.isArray(cfg.file) ? cfg.file : [cfg.file]).map((f) =>
      reloadingFile(resolveDataPath(f, deps.configDir), (text, p) => buildIndicatorIndex(parseIndicatorList(text, p, opts)), { now: deps.now }),
    );
    return {
      name: cfg.name,
      kind: 'indicators',
      subjects: ['ip', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256'],
      local: true,
      inMemory: true,
      revision: async () => (await Promise.all(files.map((f) => f.revision()))).join('.'),
      async lookup(subject): Promise<ProviderAnswer> {
        const matches: IndicatorMatch[] = [];
        for (const f of files) matches.push(...matchIndicators(await f.get(), subject));
        if (matches.length === 0) return { found: false, data: {} };
        matches.sort((a, b) => SEVERITY[b.verdict] - SEVERITY[a.verdict]);
        return {
          found: true,
          data: {
            verdict: matches[0]!.verdict,
            sources: [...new Set(matches.map((m) => m.source))],
            matches: matches.slice(0, MAX_MATCHES).map((m) => ({
              indicator: m.indicator,
              type: m.type,
              verdict: m.verdict,
              source: m.source,
              match: m.match,
              origin: m.origin,
            })),
            ...(matches.length > MAX_MATCHES ? { more_matches: matches.length - MAX_MATCHES } : {}),
          },
        };
      },
    };
  },
});

export default indicators;
