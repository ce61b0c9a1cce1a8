/**
 * The allowlist: things the organisation has vetted (its own domains, the vulnerability scanner, a known
 * admin tool's hash), each with a reason and optionally an expiry after which it is ignored. An entry names
 * one subject (ip, cidr, domain incl. subdomains, url, md5/sha1/sha256/hash, email, host, user) and may be
 * scoped to detection rules (`rule:`), e.g. "the scanner may trigger rule 2031412". A rule scope needs a
 * subject: to silence a rule everywhere, write a policy rule instead. The answer says whether any matching
 * entry is unconditional, so scoring and policy know whether to check the alert's rule.
 *
 *   - name: allowlist
 *     kind: allowlist
 *     file: allowlist.yaml
 *     entries:
 *       - { domain: corp.example, reason: "our own domain" }
 *       - { host: vulnscan-01, rule: ["2031412"], reason: "weekly scan", expires: 2027-06-30 }
 *
 * A date-only expiry means "through that day" (UTC).
 */
import { basename } from 'node:path';
import { Type, type TOptional, type TString } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer, type LookupSubject } from '../provider.js';
import { providerSettingsSchema, resolveSettings } from '../settings.js';
import { CidrTable, domainAndParents, hashType, hostKeys, normalizeDomain, normalizeUrl, parseCidr, parseIp, userKeys } from '../values.js';
import { DataFileError, asRecord, reloadingFile, resolveDataPath, stringField, textHash, yamlItems, type ReloadingFile } from '../localfile.js';
import { iso } from '../../util/time.js';

export const SUBJECT_KEYS = ['ip', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'hash', 'email', 'host', 'user'] as const;
type SubjectKey = (typeof SUBJECT_KEYS)[number];

/** One optional string per subject key, typed key by key (Object.fromEntries would lose the keys). */
const subjectFields = Object.fromEntries(SUBJECT_KEYS.map((k) => [k, Type.Optional(Type.String())])) as { [K in SubjectKey]: TOptional<TString> };

const RuleScope = Type.Union([Type.String(), Type.Number(), Type.Array(Type.Union([Type.String(), Type.Number()]))]);
const EntrySchema = Type.Object(
  {
    ...subjectFields,
    rule: Type.Optional(RuleScope),
    reason: Type.String({ minLength: 1, description: 'Why this is allowed (shown with every match)' }),
    expires: Type.Optional(Type.String({ description: 'ISO date or date-time; a date means through that day (UTC)' })),
    added_by: Type.Optional(Type.String()),
    ticket: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('allowlist'),
    ...providerSettingsSchema,
    file: Type.Optional(Type.String({ description: 'YAML list of entries (or a mapping with `entries:`)' })),
    entries: Type.Optional(Type.Array(EntrySchema)),
  },
  { additionalProperties: false },
);

export interface AllowEntry {
  type: Exclude<SubjectKey, 'hash'>;
  /** Canonical value: IPs and CIDRs normalised, domains/hashes/emails lower-cased. */
  value: string;
  rules: string[];
  reason: string;
  /** Epoch ms after which the entry is ignored; null: never. */
  expiresAt: number | null;
  added_by: string | null;
  ticket: string | null;
  origin: string;
}

export interface AllowIndex {
  entries: AllowEntry[];
  nets: CidrTable<AllowEntry>;
}

type Where = { file: string; line: number };

function parseExpiry(v: string, where: Where): number {
  // Date only: the entry holds through the whole of that day.
  const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) + 86_400_000 : Date.parse(v);
  if (Number.isNaN(t)) throw new DataFileError(where.file, where.line, `expires "${v}" is not an ISO date or date-time`);
  return t;
}

function canonical(type: SubjectKey, raw: string, where: Where): { type: AllowEntry['type']; value: string } {
  const bad = (what: string) => new DataFileError(where.file, where.line, `${type} "${raw}" is not ${what}`);
  switch (type) {
    case 'ip': {
      const ip = parseIp(raw);
      if (!ip) throw bad('an IP address');
      return { type, value: ip.toString() };
    }
    case 'cidr': {
      const c = parseCidr(raw);
      if (!c) throw bad('a network in CIDR notation');
      return { type, value: c.text };
    }
    case 'domain': {
      const d = normalizeDomain(raw.replace(/^\*\./, ''));
      if (!d) throw bad('a domain name');
      return { type, value: d };
    }
    case 'url': {
      const u = normalizeUrl(raw);
      if (!u) throw bad('a URL');
      return { type, value: u.url };
    }
    case 'hash':
    case 'md5':
    case 'sha1':
    case 'sha256': {
      const h = hashType(raw);
      if (!h || (type !== 'hash' && h !== type)) throw bad(type === 'hash' ? 'an MD5, SHA-1 or SHA-256 hash' : `a ${type} hash`);
      return { type: h, value: raw.trim().toLowerCase() };
    }
    case 'email':
    case 'host':
    case 'user':
      return { type, value: raw.trim().toLowerCase() };
  }
}

function toEntry(raw: Record<string, unknown>, where: Where): AllowEntry {
  const keys = SUBJECT_KEYS.filter((k) => raw[k] !== undefined && raw[k] !== null && raw[k] !== '');
  const reason = stringField(raw, 'reason', where);
  if (keys.length !== 1) {
    const scoped = raw.rule !== undefined && keys.length === 0;
    throw new DataFileError(
      where.file,
      where.line,
      scoped
        ? 'a rule entry needs a subject (host, user, ip, domain, …); to silence a rule everywhere use a policy rule'
        : `an entry names exactly one of ${SUBJECT_KEYS.join(', ')} (found ${keys.length ? keys.join(', ') : 'none'})`,
    );
  }
  if (!reason) throw new DataFileError(where.file, where.line, 'an entry needs a "reason"');
  const key = keys[0]!;
  const { type, value } = canonical(key, stringField(raw, key, where)!, where);
  const rule = raw.rule;
  const rules = rule === undefined || rule === null ? [] : (Array.isArray(rule) ? rule : [rule]).map((r) => String(r).trim());
  const expires = stringField(raw, 'expires', where);
  return {
    type,
    value,
    rules,
    reason,
    expiresAt: expires ? parseExpiry(expires, where) : null,
    added_by: stringField(raw, 'added_by', where) ?? null,
    ticket: stringField(raw, 'ticket', where) ?? null,
    origin: `${basename(where.file)}:${where.line}`,
  };
}

export function buildAllowIndex(entries: AllowEntry[]): AllowIndex {
  const nets = new CidrTable<AllowEntry>();
  for (const e of entries) if (e.type === 'ip' || e.type === 'cidr') nets.add(parseCidr(e.value)!, e);
  return { entries, nets };
}

export function parseAllowlistFile(text: string, file: string): AllowEntry[] {
  return yamlItems(text, file, 'entries').map((it) => toEntry(asRecord(it.value, { file, line: it.line }), { file, line: it.line }));
}

const sameHost = (a: string, b: string) => {
  const x = hostKeys(a);
  const y = hostKeys(b);
  return x.full === y.full || ((!x.fqdn || !y.fqdn) && x.short === y.short);
};

/** "alice" matches CORP\alice and alice@corp.example; a qualified entry matches only itself or the bare name. */
const sameUser = (entry: string, subject: string) => {
  const e = userKeys(entry);
  const s = userKeys(subject);
  return e.full === s.full || ((e.full === e.account || s.full === s.account) && e.account === s.account);
};

function domainMatches(entries: readonly AllowEntry[], domain: string): AllowEntry[] {
  const names = new Set(domainAndParents(domain));
  return entries.filter((e) => e.type === 'domain' && names.has(e.value));
}

/** Every entry that matches the subject, expired or not (the caller filters by time). */
export function matchEntries(idx: AllowIndex, subject: LookupSubject): AllowEntry[] {
  const v = subject.value.trim();
  const ipMatches = (ip: string) => idx.nets.matchAll(ip).flatMap((m) => m.values);
  switch (subject.type) {
    case 'ip':
      return ipMatches(v);
    case 'domain': {
      const d = normalizeDomain(v);
      return d ? domainMatches(idx.entries, d) : [];
    }
    case 'url': {
      const u = normalizeUrl(v);
      if (!u) return [];
      const exact = idx.entries.filter((e) => e.type === 'url' && e.value === u.url);
      const host = parseIp(u.host) ? ipMatches(u.host) : domainMatches(idx.entries, u.host);
      return [...exact, ...host];
    }
    case 'md5':
    case 'sha1':
    case 'sha256':
    case 'email': {
      const lv = v.toLowerCase();
      return idx.entries.filter((e) => e.type === subject.type && e.value === lv);
    }
    case 'host':
      return idx.entries.filter((e) => e.type === 'host' && sameHost(e.value, v));
    case 'user':
      return idx.entries.filter((e) => e.type === 'user' && sameUser(e.value, v));
    default:
      return [];
  }
}

const allowlist = defineProvider({
  kind: 'allowlist',
  local: true,
  description: 'Allowlist of vetted indicators, hosts and users, each with a reason, optional rule scope and expiry',
  schema: Schema,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const inline = (cfg.entries ?? []).map((e, i) => toEntry(e as Record<string, unknown>, { file: `enrichment.providers[${cfg.name}].entries`, line: i + 1 }));
    let file: ReloadingFile<AllowIndex> | null = null;
    if (cfg.file) {
      const path = resolveDataPath(cfg.file, deps.configDir);
      file = reloadingFile(path, (text, p) => buildAllowIndex([...inline, ...parseAllowlistFile(text, p)]), { now: deps.now });
    }
    const inlineIndex = buildAllowIndex(inline);
    const inlineHash = textHash(JSON.stringify(cfg.entries ?? []));
    const ttlMs = resolveSettings(cfg, true).ttlMs;
    return {
      name: cfg.name,
      kind: 'allowlist',
      subjects: ['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email', 'host', 'user'],
      local: true,
      inMemory: true,
      // Answers change with the entries (config and file) and when an entry expires: the count of expired
      // entries only grows, so it moves whenever the set of live entries does.
      async revision() {
        const idx = file ? await file.get() : inlineIndex;
        const now = deps.now();
        let expired = 0;
        for (const e of idx.entries) if (e.expiresAt !== null && e.expiresAt <= now) expired++;
        return `${inlineHash}:${file ? await file.revision() : ''}:${expired}`;
      },
      async lookup(subject): Promise<ProviderAnswer> {
        const idx = file ? await file.get() : inlineIndex;
        const now = deps.now();
        const live = matchEntries(idx, subject).filter((e) => e.expiresAt === null || e.expiresAt > now);
        if (live.length === 0) return { found: false, data: {} };
        // Never serve a cached "allowed" past the moment its entry expires.
        const firstExpiry = Math.min(...live.map((e) => e.expiresAt ?? Infinity));
        return {
          found: true,
          data: {
            allowlisted: true,
            unconditional: live.some((e) => e.rules.length === 0),
            entries: live.map((e) => ({
              match: `${e.type}:${e.value}`,
              reason: e.reason,
              rules: e.rules,
              expires: e.expiresAt === null ? null : iso(e.expiresAt),
              added_by: e.added_by,
              ticket: e.ticket,
              origin: e.origin,
            })),
          },
          ttlMs: Math.max(0, Math.min(ttlMs, firstExpiry - now)),
        };
      },
    };
  },
});

export default allowlist;
