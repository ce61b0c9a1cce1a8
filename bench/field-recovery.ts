/**
 * Field-recovery benchmark: how many key fields Fido's detectors recover from real vendor records, measured
 * against the values the vendors' own published pipeline tests expect (Elastic integrations' -expected.json
 * ECS documents, mapped to Fido's canonical field names; see test/fixtures/field-recovery/README.md).
 *
 * Each `<detector>.jsonl` in DIR holds one record a line: {"origin", "record", "expected": {field: value}}.
 * Every record is normalized with its detector named (as a source configured with that detector would be);
 * an expected field is recovered when its value is found in the canonical place, or an accepted alternative
 * place, of ANY alert or context event the record produced. A record that does not parse misses all its
 * fields. Fido's goal: every record parsed, ≥ 95 % of key fields recovered.
 *
 * Run:  node --import tsx bench/field-recovery.ts [DIR] [--json]
 *       DIR defaults to test/fixtures/field-recovery. Always exits 0: it measures, it does not gate.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { loadDetectors, normalizeRecord, type DetectorRegistry } from '../src/detectors/lib/registry.js';

export const KEY_FIELDS = [
  'src.ip',
  'src.port',
  'dst.ip',
  'dst.port',
  'host.name',
  'user.name',
  'file.md5',
  'file.sha1',
  'file.sha256',
  'file.path',
  'url',
  'domain',
  'rule.name',
  'rule.id',
  'process.command_line',
] as const;
export type KeyField = (typeof KEY_FIELDS)[number];
type Expected = Partial<Record<KeyField, string | number>>;

export interface FixtureRecord {
  origin: string;
  record: string;
  expected: Expected;
}

/** An alert or a context event as a plain object: the benchmark reads both the same way. */
type Event = Readonly<Record<string, unknown>>;

/** Fixed so that results never depend on the clock (year inference of syslog headers, fallback times). */
const RECEIVED_AT = '2026-01-01T00:00:00.000Z';
const DEFAULT_DIR = fileURLToPath(new URL('../test/fixtures/field-recovery/', import.meta.url));

// ---- where each key field may be found ----------------------------------------------------------------------

/**
 * Canonical place first, then the accepted alternatives. `url.host` is derived: the host part of the event's url.
 * EDR alerts name the endpoint's address as host.ip, so it counts for src.ip; a machine named as a flow's end
 * or as the reporting device counts for host.name, and where ECS puts an address in host.name (an observer
 * known by its address) Fido's convention puts it in the ip beside the name. ECS puts a VPN session's tunnel
 * address in source.ip; Fido keeps the client's public address in src.ip and the tunnel's in assigned_ip.
 */
export const PLACES: Readonly<Record<KeyField, readonly string[]>> = {
  'src.ip': ['src.ip', 'host.ip', 'assigned_ip'],
  'src.port': ['src.port'],
  'dst.ip': ['dst.ip'],
  'dst.port': ['dst.port'],
  'host.name': ['host.name', 'device.name', 'src.host', 'dst.host', 'host.ip', 'device.ip'],
  'user.name': ['user.name', 'src.user', 'dst.user'],
  'file.md5': ['file.md5'],
  'file.sha1': ['file.sha1'],
  'file.sha256': ['file.sha256'],
  'file.path': ['file.path'],
  url: ['url'],
  domain: ['domain', 'dst.host', 'url.host'],
  'rule.name': ['rule.name', 'title'],
  'rule.id': ['rule.id'],
  'process.command_line': ['process.command_line'],
};

// ---- comparison: small pure functions -----------------------------------------------------------------------

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** IPs compare as addresses, not strings: ECS keeps zero-padded IPv6, Fido the RFC 5952 form. */
export function normalizeIp(value: string): string {
  const v = value.trim();
  try {
    const addr = ipaddr.process(v.replace(/%.*$/, ''));
    return addr.kind() === 'ipv6' ? addr.toNormalizedString() : addr.toString();
  } catch {
    return v.toLowerCase();
  }
}

export function sameIp(expected: string, got: string): boolean {
  return normalizeIp(expected) === normalizeIp(got);
}

export function samePort(expected: string, got: string): boolean {
  const e = Number(expected);
  return Number.isInteger(e) && e === Number(got);
}

/** Host and domain names are case-insensitive (the GlobalProtect ECS doc lower-cases "CP935"); a root dot is noise. */
export function sameName(expected: string, got: string): boolean {
  const norm = (s: string) => s.trim().replace(/\.$/, '').toLowerCase();
  return norm(expected) === norm(got);
}

/**
 * ECS user.name is the bare account: DOMAIN\user keeps only user, and Elastic's Okta pipeline drops the
 * @domain of the login. Fido may keep either qualifier, so the comparison strips it on both sides.
 */
export function sameUser(expected: string, got: string): boolean {
  const bare = (s: string) => (s.split('\\').pop() ?? s).trim().toLowerCase();
  const e = bare(expected);
  const g = bare(got);
  if (e === g) return true;
  return !e.includes('@') && g.includes('@') && g.slice(0, g.lastIndexOf('@')) === e;
}

export function sameHash(expected: string, got: string): boolean {
  return expected.trim().toLowerCase() === got.trim().toLowerCase();
}

/**
 * Windows paths: case-insensitive, and / equals \ (ECS and the product may write either). Elastic's Defender
 * pipeline writes the folder as file.path, where Fido (and ECS's definition) has the file's full path: the
 * folder of Fido's path counts.
 */
export function samePath(expected: string, got: string): boolean {
  const norm = (s: string) => s.trim().replace(/\\/g, '/').replace(/\/$/, '').toLowerCase();
  const e = norm(expected);
  const g = norm(got);
  return e === g || (g.startsWith(`${e}/`) && !g.slice(e.length + 1).includes('/'));
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i;

/** Lower-cases scheme and host (they are case-insensitive) and drops a trailing '/'. */
export function normalizeUrl(value: string): string {
  const v = value.trim();
  const m = SCHEME.exec(v);
  const out = m ? `${m[1]!.toLowerCase()}://${m[2]!.toLowerCase()}${m[3]!}` : v;
  return out.endsWith('/') ? out.slice(0, -1) : out;
}

/** The host of a URL with or without scheme ("a.b/c" → a.b); undefined for a bare path. */
export function urlHost(value: string): string | undefined {
  const v = value.trim();
  const m = SCHEME.exec(v);
  const hostPort = m ? m[2]! : v.startsWith('/') ? '' : (v.split(/[/?#]/)[0] ?? '');
  const host = hostPort.replace(/^[^@]*@/, '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === '' ? undefined : host.toLowerCase();
}

/**
 * Equal after normalisation; or the expected has no scheme and Fido added "http://" (or "https://"); or the expected is a bare
 * path (Suricata's url.original is the request path) and it is the path of Fido's full URL.
 */
export function sameUrl(expected: string, got: string): boolean {
  const g = normalizeUrl(got);
  const e = expected.trim();
  if (normalizeUrl(e) === g) return true;
  // No scheme in the expected value: the scheme Fido adds (http, or https from the port/app) is not held against it.
  if (!SCHEME.test(e) && !e.startsWith('/') && ['http', 'https'].some((s) => normalizeUrl(`${s}://${e}`) === g)) return true;
  if (e.startsWith('/')) {
    const m = SCHEME.exec(got.trim());
    if (m && normalizeUrl(`x://h${m[3]!}`) === normalizeUrl(`x://h${e}`)) return true;
  }
  return false;
}

export function sameText(expected: string, got: string): boolean {
  return expected.trim() === got.trim();
}

/** Command lines are compared with whitespace runs collapsed: some pipelines trim or re-space them. */
export function sameCommandLine(expected: string, got: string): boolean {
  const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
  return norm(expected) === norm(got);
}

const MATCHERS: Readonly<Record<KeyField, (expected: string, got: string) => boolean>> = {
  'src.ip': sameIp,
  'src.port': samePort,
  'dst.ip': sameIp,
  'dst.port': samePort,
  'host.name': sameName,
  'user.name': sameUser,
  'file.md5': sameHash,
  'file.sha1': sameHash,
  'file.sha256': sameHash,
  'file.path': samePath,
  url: sameUrl,
  domain: sameName,
  'rule.name': sameText,
  'rule.id': sameText,
  'process.command_line': sameCommandLine,
};

/** The value at a dotted place of an event; `url.host` is the host part of the event's url. */
export function valueAt(event: Event, place: string): string | undefined {
  if (place === 'url.host') {
    const u = text(event.url);
    return u === undefined ? undefined : urlHost(u);
  }
  let cur: unknown = event;
  for (const key of place.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return text(cur);
}

export interface FieldResult {
  field: KeyField;
  expected: string;
  recovered: boolean;
  /** What Fido has at the accepted places, as "place=value" (distinct, over all events of the record). */
  got: string[];
}

/** Checks one expected field against every event of a record. */
export function checkField(field: KeyField, expected: string | number, events: readonly Event[]): FieldResult {
  const want = String(expected);
  const got: string[] = [];
  let recovered = false;
  for (const event of events) {
    for (const place of PLACES[field]) {
      const v = valueAt(event, place);
      if (v === undefined) continue;
      if (MATCHERS[field](want, v)) recovered = true;
      const shown = `${place}=${v}`;
      if (!got.includes(shown)) got.push(shown);
    }
  }
  return { field, expected: want, recovered, got };
}

// ---- running ------------------------------------------------------------------------------------------------

export interface RecordResult {
  detector: string;
  origin: string;
  parsed: boolean;
  error?: string;
  fields: FieldResult[];
}

export function readFixtures(dir: string): Map<string, FixtureRecord[]> {
  const out = new Map<string, FixtureRecord[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => l.trim() !== '');
    out.set(
      file.replace(/\.jsonl$/, ''),
      lines.map((l, i) => {
        const r = JSON.parse(l) as FixtureRecord;
        if (typeof r.origin !== 'string' || typeof r.record !== 'string' || typeof r.expected !== 'object' || r.expected === null) {
          throw new Error(`${file}:${i + 1}: expected {"origin","record","expected"}`);
        }
        for (const k of Object.keys(r.expected)) {
          if (!(KEY_FIELDS as readonly string[]).includes(k)) throw new Error(`${file}:${i + 1}: unknown key field "${k}"`);
        }
        return r;
      }),
    );
  }
  return out;
}

export function evaluateRecord(registry: DetectorRegistry, detector: string, fixture: FixtureRecord): RecordResult {
  const result = normalizeRecord(registry, fixture.record, detector, { receivedAt: RECEIVED_AT, timeZone: 'UTC' });
  const expected = KEY_FIELDS.filter((f) => fixture.expected[f] !== undefined).map((f) => [f, fixture.expected[f]!] as const);
  if ('error' in result) {
    const fields = expected.map(([field, value]) => ({ field, expected: String(value), recovered: false, got: [] }));
    return { detector, origin: fixture.origin, parsed: false, error: result.error, fields };
  }
  const events: Event[] = 'alerts' in result ? (result.alerts as unknown as Event[]) : (result.context as unknown as Event[]);
  return { detector, origin: fixture.origin, parsed: true, fields: expected.map(([field, value]) => checkField(field, value, events)) };
}

export interface Tally {
  records: number;
  parsed: number;
  recovered: number;
  expected: number;
  by_field: Partial<Record<KeyField, { recovered: number; expected: number }>>;
}

export function tally(results: readonly RecordResult[]): Tally {
  const t: Tally = { records: results.length, parsed: 0, recovered: 0, expected: 0, by_field: {} };
  for (const r of results) {
    if (r.parsed) t.parsed++;
    for (const f of r.fields) {
      const slot = (t.by_field[f.field] ??= { recovered: 0, expected: 0 });
      slot.expected++;
      t.expected++;
      if (f.recovered) {
        slot.recovered++;
        t.recovered++;
      }
    }
  }
  return t;
}

function pct(n: number, d: number): string {
  return d === 0 ? '–' : `${((100 * n) / d).toFixed(1)}%`;
}

function fieldLine(t: Tally): string {
  return KEY_FIELDS.filter((f) => t.by_field[f])
    .map((f) => `${f} ${t.by_field[f]!.recovered}/${t.by_field[f]!.expected}`)
    .join(', ');
}

export async function runFieldRecovery(dir: string): Promise<{ byDetector: Map<string, RecordResult[]>; total: Tally }> {
  const registry = await loadDetectors();
  const byDetector = new Map<string, RecordResult[]>();
  for (const [detector, fixtures] of readFixtures(dir)) {
    byDetector.set(detector, fixtures.map((f) => evaluateRecord(registry, detector, f)));
  }
  return { byDetector, total: tally([...byDetector.values()].flat()) };
}

async function main(argv: readonly string[]): Promise<void> {
  const json = argv.includes('--json');
  const dir = resolve(argv.find((a) => !a.startsWith('--')) ?? DEFAULT_DIR);
  const { byDetector, total } = await runFieldRecovery(dir);
  const all = [...byDetector.values()].flat();
  const misses = all.flatMap((r) =>
    r.fields.filter((f) => !f.recovered).map((f) => ({ detector: r.detector, origin: r.origin, field: f.field, expected: f.expected, got: r.parsed ? f.got : [], error: r.error })),
  );
  if (json) {
    const detectors = [...byDetector].map(([detector, results]) => ({ detector, ...tally(results) }));
    const unparsed = all.filter((r) => !r.parsed).map((r) => ({ detector: r.detector, origin: r.origin, error: r.error }));
    process.stdout.write(`${JSON.stringify({ dir, detectors, total, unparsed, misses }, null, 2)}\n`);
    return;
  }
  const out: string[] = [`field recovery — ${dir}`, ''];
  for (const [detector, results] of byDetector) {
    const t = tally(results);
    out.push(`${detector}: records ${t.records}, parsed ${t.parsed}, key fields ${t.recovered}/${t.expected} (${pct(t.recovered, t.expected)})`);
    out.push(`    ${fieldLine(t)}`);
  }
  out.push('', `TOTAL: records ${total.records}, parsed ${total.parsed}, key fields ${total.recovered}/${total.expected} (${pct(total.recovered, total.expected)})`);
  out.push(`    ${fieldLine(total)}`);
  const unparsed = all.filter((r) => !r.parsed);
  out.push('', `not parsed (${unparsed.length}):`);
  for (const r of unparsed) out.push(`  ${r.detector} ${r.origin} ${r.error ?? ''}`);
  out.push('', `misses (${misses.length}):`);
  for (const m of misses) {
    const got = m.error !== undefined ? `(not parsed)` : m.got.length > 0 ? m.got.join(' | ') : 'nothing';
    out.push(`  ${m.detector} ${m.origin} ${m.field} expected=${m.expected} got=${got}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

// Run only when executed, so tests can import the comparison functions.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    // A benchmark reports; it does not fail the caller. Fixture errors are printed and the exit code stays 0.
    process.stderr.write(`field-recovery: ${e instanceof Error ? e.message : String(e)}\n`);
  });
}
