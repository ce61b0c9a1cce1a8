/**
 * Validation with errors that name the key and its line: JSON Schema (Ajv) for shape, then each component
 * entry against the schema of its kind. Pure: text in, config or errors out.
 */
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { TSchema } from 'typebox';
import type { AnyComponent } from '../component/component.js';
import { ConfigSchema, type FidoConfig } from './schema.js';
import { resolveTimeZone } from '../detectors/lib/time.js';
import { DEFAULT_TIMEOUTS } from '../api/limits.js';
import { DEFAULT_FAILED_AUTH_LIMIT } from '../api/auth-limit.js';
import { addressMatcher } from '../api/client-address.js';
import { compileLimits } from '../actions/limits.js';
import { parseDuration } from './duration.js';
import { isSecretRef, resolveSecretRefs } from './secrets.js';
import { DURATION_PATTERN } from './duration.js';

export interface ConfigError {
  /** Dotted key path, e.g. enrichment.providers[1].file */
  key: string;
  line: number | null;
  message: string;
}

export interface ConfigKinds {
  receivers: readonly AnyComponent[];
  providers: readonly AnyComponent[];
  actions: readonly AnyComponent[];
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// verbose: describe() reads the schema beside an error (the known keys, a pattern's meaning).
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false, verbose: true }));
const compiled = new WeakMap<object, ValidateFunction>();
function validatorFor(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema as object);
    compiled.set(schema, v);
  }
  return v;
}

export type PathPart = string | number;

function keyOf(path: PathPart[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

function lineOf(doc: Document, lc: LineCounter, path: PathPart[]): number | null {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return null;
}

function describe(e: ErrorObject): { extra: PathPart[]; message: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const near = nearest(key, known);
      const hint = near ? `; did you mean "${near}"?` : known.length ? ` (known keys: ${known.join(', ')})` : '';
      return { extra: [key], message: `unknown key${hint}` };
    }
    case 'pattern':
      if (p.pattern === DURATION_PATTERN) {
        return { extra: [], message: 'is not a duration: a number and a unit — ms, s, m, h or d (500ms, 20s, 5m, 2h, 1d) — or a number of milliseconds' };
      }
      return { extra: [], message: e.message ?? 'invalid' };
    case 'required':
      return { extra: [String(p.missingProperty)], message: 'is required' };
    case 'enum':
    case 'const':
      return { extra: [], message: `${e.message ?? 'invalid value'}${p.allowedValues ? `: ${JSON.stringify(p.allowedValues)}` : ''}` };
    default:
      return { extra: [], message: e.message ?? 'invalid' };
  }
}

function schemaErrors(doc: Document, lc: LineCounter, base: PathPart[], schema: TSchema, value: unknown): ConfigError[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  const seen = new Set<string>();
  const out: ConfigError[] = [];
  // anyOf/union failures report every branch; keep the most specific message per key.
  for (const e of validate.errors ?? []) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    const path: PathPart[] = [
      ...base,
      ...e.instancePath
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
    ];
    const { extra, message } = describe(e);
    const full = [...path, ...extra];
    const key = keyOf(full);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, line: lineOf(doc, lc, e.keyword === 'required' ? path : full), message });
  }
  return out;
}

function kindErrors(
  doc: Document,
  lc: LineCounter,
  base: PathPart[],
  entries: unknown,
  kinds: readonly AnyComponent[],
  what: string,
): ConfigError[] {
  if (!Array.isArray(entries)) return [];
  const out: ConfigError[] = [];
  const names = new Set<string>();
  entries.forEach((entry, i) => {
    const e = entry as { name?: unknown; kind?: unknown };
    if (typeof e.name === 'string') {
      if (names.has(e.name)) out.push({ key: keyOf([...base, i, 'name']), line: lineOf(doc, lc, [...base, i, 'name']), message: `duplicate name "${e.name}"` });
      names.add(e.name);
    }
    if (typeof e.kind !== 'string') return;
    const kind = kinds.find((k) => k.kind === e.kind);
    if (!kind) {
      out.push({
        key: keyOf([...base, i, 'kind']),
        line: lineOf(doc, lc, [...base, i, 'kind']),
        message: `unknown ${what} kind "${e.kind}" (known: ${kinds.map((k) => k.kind).join(', ') || 'none'})`,
      });
      return;
    }
    const shape = schemaErrors(doc, lc, [...base, i], kind.schema, entry);
    out.push(...shape);
    // The kind's own checks, the same that its constructor makes at start (e.g. a private webhook address).
    if (shape.length === 0 && kind.check) {
      for (const p of kind.check(entry as never)) {
        const path = [...base, i, ...p.key.split('.')];
        out.push({ key: keyOf(path), line: lineOf(doc, lc, path), message: p.message });
      }
    }
  });
  return out;
}

export interface ParsedConfig {
  config: FidoConfig;
  /** sha256 of the text: the version every decision records. */
  version: string;
  errors: ConfigError[];
  /** The line of a key of the text (null: not in it), for checks made after the parse. */
  lineOf(path: PathPart[]): number | null;
}

export function parseConfigText(text: string, kinds: ConfigKinds): ParsedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: false });
  const version = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const errors: ConfigError[] = doc.errors.map((e) => ({
    key: '(yaml)',
    line: e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line,
    message: e.message.split('\n')[0] ?? 'invalid YAML',
  }));
  const at = (path: PathPart[]) => lineOf(doc, lc, path);
  if (errors.length) return { config: {}, version, errors, lineOf: at };
  const value = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as unknown;
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { config: {}, version, errors: [{ key: '(root)', line: 1, message: 'the config must be a mapping' }], lineOf: at };
  }
  errors.push(...schemaErrors(doc, lc, [], ConfigSchema, value));
  const config = value as FidoConfig;
  errors.push(...kindErrors(doc, lc, ['enrichment', 'providers'], config.enrichment?.providers, kinds.providers, 'enrichment provider'));
  errors.push(...kindErrors(doc, lc, ['actions', 'targets'], config.actions?.targets, kinds.actions, 'action'));
  const receivers = (config.sources ?? []).map((s) => ({ name: s.name, ...(s.receiver ?? { kind: 'http' }) }));
  for (const e of kindErrors(doc, lc, ['sources'], receivers, kinds.receivers, 'receiver')) {
    // Receiver settings live under sources[i].receiver; re-anchor the key path.
    const key = e.key.replace(/^sources\[(\d+)\]/, 'sources[$1].receiver');
    if (!e.message.startsWith('duplicate')) errors.push({ ...e, key });
  }
  const sourceNames = new Set<string>();
  (config.sources ?? []).forEach((s, i) => {
    if (sourceNames.has(s.name)) errors.push({ key: `sources[${i}].name`, line: lineOf(doc, lc, ['sources', i, 'name']), message: `duplicate source "${s.name}"` });
    sourceNames.add(s.name);
    if (s.time_zone !== undefined) {
      try {
        resolveTimeZone(s.time_zone);
      } catch (e) {
        errors.push({ key: `sources[${i}].time_zone`, line: lineOf(doc, lc, ['sources', i, 'time_zone']), message: (e as Error).message });
      }
    }
  });
  errors.push(...intakeProtectionErrors(doc, lc, config));
  errors.push(...serverErrors(doc, lc, config));
  errors.push(...guardErrors(doc, lc, config, kinds.actions));
  const providerNames = new Set((config.enrichment?.providers ?? []).map((p) => p.name));
  (config.enrichment?.assets?.precedence ?? []).forEach((name, i) => {
    if (!providerNames.has(name)) {
      const path = ['enrichment', 'assets', 'precedence', i];
      errors.push({ key: keyOf(path), line: lineOf(doc, lc, path), message: `no enrichment provider is named "${name}"` });
    }
  });
  return { config, version, errors, lineOf: at };
}

/**
 * What the schema cannot say about `sources[].intake` (src/intake/protection.ts): tokens and the HMAC secret
 * are references, never the secret itself in the file; ranges parse; the body limit is within the server's.
 */
function intakeProtectionErrors(doc: Document, lc: LineCounter, config: FidoConfig): ConfigError[] {
  const out: ConfigError[] = [];
  const literal = 'must be a secret reference (${env:NAME} or ${file:/path}), not the secret itself';
  const serverMax = config.server?.max_body_bytes ?? 10 * 1024 * 1024;
  (config.sources ?? []).forEach((s, i) => {
    const intake = s.intake;
    if (!intake || typeof intake !== 'object') return;
    const at = (path: PathPart[], message: string) => {
      const full: PathPart[] = ['sources', i, 'intake', ...path];
      out.push({ key: keyOf(full), line: lineOf(doc, lc, full), message });
    };
    (intake.tokens ?? []).forEach((t, j) => {
      if (typeof t === 'string' && !isSecretRef(t)) at(['tokens', j], literal);
    });
    if (typeof intake.hmac?.secret === 'string' && !isSecretRef(intake.hmac.secret)) at(['hmac', 'secret'], literal);
    if (intake.hmac?.max_skew !== undefined) {
      try {
        if (!(parseDuration(intake.hmac.max_skew) > 0)) at(['hmac', 'max_skew'], 'must be above zero');
      } catch {
        // The schema reported it.
      }
    }
    (intake.allow ?? []).forEach((a, j) => {
      try {
        addressMatcher([a]);
      } catch {
        at(['allow', j], `"${a}" is not an IP address or CIDR range`);
      }
    });
    if (intake.client_certs && !config.server?.tls?.client_ca) at(['client_certs'], 'needs mutual TLS: set server.tls with a client_ca');
    if (typeof intake.max_body_bytes === 'number' && intake.max_body_bytes > serverMax) {
      at(['max_body_bytes'], `${intake.max_body_bytes} is above server.max_body_bytes (${serverMax}); a source can only lower the limit`);
    }
  });
  return out;
}

/**
 * What the schema cannot say about `actions.guards.limits`: each limit says what it limits and how much (as the
 * worker will read it), names a containment kind and a configured target — a typo would limit nothing.
 */
function guardErrors(doc: Document, lc: LineCounter, config: FidoConfig, actionKinds: readonly AnyComponent[]): ConfigError[] {
  const out: ConfigError[] = [];
  const targets = (config.actions?.targets ?? []).map((t) => t.name);
  const containment = actionKinds.filter((k) => (k as { containment?: true }).containment).map((k) => k.kind);
  (config.actions?.guards?.limits ?? []).forEach((l, i) => {
    const at = (key: string | null, message: string) => {
      const path: PathPart[] = ['actions', 'guards', 'limits', i, ...(key ? [key] : [])];
      out.push({ key: keyOf(path), line: lineOf(doc, lc, path), message });
    };
    try {
      compileLimits([l]);
    } catch (e) {
      at(null, (e as Error).message.replace(/^actions\.guards\.limits\[0\] \([^)]*\): /, ''));
    }
    if (l.kind !== undefined && !containment.includes(l.kind)) {
      const near = nearest(l.kind, containment);
      at('kind', `"${l.kind}" is not a containment kind (limits apply to containment only)${near ? `; did you mean "${near}"?` : ''}`);
    }
    if (l.target !== undefined && !targets.includes(l.target)) {
      const near = nearest(l.target, targets);
      at('target', `no action target is named "${l.target}"${near ? `; did you mean "${near}"?` : ''}`);
    }
  });
  return out;
}

/** What the schema cannot say about the HTTP limits: timeouts that contradict, proxies that do not parse. */
function serverErrors(doc: Document, lc: LineCounter, config: FidoConfig): ConfigError[] {
  const out: ConfigError[] = [];
  const at = (path: PathPart[], message: string) => out.push({ key: keyOf(path), line: lineOf(doc, lc, path), message });
  // A value the schema refused is reported there already: undefined here.
  const ms = (v: string | number | undefined): number | undefined => {
    if (v === undefined) return undefined;
    try {
      return parseDuration(v);
    } catch {
      return undefined;
    }
  };
  const server = config.server ?? {};
  if (server.tls?.client_auth !== undefined && !server.tls.client_ca) at(['server', 'tls', 'client_auth'], 'needs client_ca (the CA that signs client certificates)');
  for (const key of ['headers_timeout', 'request_timeout', 'keep_alive_timeout', 'idle_timeout'] as const) {
    // A number is bounded by the schema; text such as "0s" only here.
    const v = server[key];
    const n = typeof v === 'string' ? ms(v) : undefined;
    if (n !== undefined && !(n > 0)) at(['server', key], 'must be above zero');
  }
  const headers = ms(server.headers_timeout) ?? parseDuration(DEFAULT_TIMEOUTS.headers);
  const request = ms(server.request_timeout) ?? parseDuration(DEFAULT_TIMEOUTS.request);
  if (headers > request) {
    at(['server', server.headers_timeout !== undefined ? 'headers_timeout' : 'request_timeout'], 'server.headers_timeout must not be longer than server.request_timeout');
  }
  try {
    addressMatcher(server.trust_proxy ?? []);
  } catch (e) {
    const m = /^server\.trust_proxy\[(\d+)\]: (.*)$/.exec((e as Error).message);
    if (m) at(['server', 'trust_proxy', Number(m[1])], m[2]!);
  }
  const failed = config.auth?.failed_attempts;
  const window = ms(failed?.window);
  if (window !== undefined && (failed?.limit ?? DEFAULT_FAILED_AUTH_LIMIT.limit) > 0 && !(window > 0)) {
    at(['auth', 'failed_attempts', 'window'], 'must be above zero (limit: 0 turns the limit off)');
  }
  return out;
}

/**
 * Secret references (`${env:NAME}`, `${file:PATH}`) that would not resolve in `env`: each reported at its key
 * and line, by the variable's name or the file's path, never by a value.
 */
export function secretErrors(parsed: ParsedConfig, env: NodeJS.ProcessEnv = process.env): ConfigError[] {
  const out: ConfigError[] = [];
  const walk = (value: unknown, path: PathPart[]): void => {
    if (typeof value === 'string') {
      try {
        resolveSecretRefs(value, keyOf(path), env);
      } catch (e) {
        const key = keyOf(path);
        out.push({ key, line: parsed.lineOf(path), message: (e as Error).message.replace(`${key}: `, '') });
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  walk(parsed.config, []);
  return out;
}

/**
 * Sources that name a detector that does not exist (`known`: the built-in detectors and the configuration's
 * JSON mappings), at their key and line, with the nearest known name when one is close.
 */
export function detectorErrors(parsed: ParsedConfig, known: readonly string[]): ConfigError[] {
  const out: ConfigError[] = [];
  (parsed.config.sources ?? []).forEach((s, i) => {
    if (s.detector === undefined || s.detector === 'auto' || known.includes(s.detector)) return;
    const near = nearest(s.detector, known);
    out.push({
      key: `sources[${i}].detector`,
      line: parsed.lineOf(['sources', i, 'detector']),
      message: `unknown detector "${s.detector}"${near ? ` (did you mean "${near}"?)` : ''}; "auto" or one of: ${[...known].sort().join(', ')}`,
    });
  });
  return out;
}

/** The name within two edits of `word` (case aside), the nearest first; undefined when none is that close. */
export function nearest(word: string, names: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = editDistance(word.toLowerCase(), name.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

export function formatConfigErrors(file: string, errors: readonly ConfigError[]): string {
  return errors.map((e) => `${file}${e.line ? `:${e.line}` : ''}: ${e.key}: ${e.message}`).join('\n');
}
