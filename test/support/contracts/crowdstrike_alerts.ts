/**
 * A stand-in for the CrowdStrike Falcon Alerts API v2 as documented (developer.crowdstrike.com "Alerts":
 * GetQueriesAlertsV2, PostEntitiesAlertsV2; falconpy Alerts.query_alerts_v2 / get_alerts_v2 and OAuth2 carry the
 * same shapes), for the crowdstrike puller's test:
 *   POST /oauth2/token, form client_id / client_secret (/ member_cid) → 201 {access_token, token_type, expires_in:
 *     1799}; refused → 401 {"errors":[{code, message}]} (the shapes of crowdstrike_contain.ts).
 *   GET /alerts/queries/alerts/v2?filter=<FQL>&sort=<field>.asc|desc&limit=1..10000&offset=K → {meta:{query_time,
 *     pagination:{offset, limit, total}, trace_id}, resources:[composite ids], errors:[]}; a bad filter → 400.
 *   POST /alerts/entities/alerts/v2 {"composite_ids":[…]} → {meta, resources:[alert entities], errors:[]}.
 *   A 429 carries X-RateLimit-Limit, X-RateLimit-Remaining: 0 and X-RateLimit-RetryAfter (epoch seconds).
 * The FQL reader understands what the puller sends: terms joined by `+`, each `field:'v'`, `field:['a','b']`,
 * `field:>='v'` / `>'v'` / `<='v'` / `<'v'` (times compared as instants), optionally in parentheses; string
 * literals with backslash escapes. Equal sort keys keep insertion order (like the index behind the API).
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

export interface FalconAlert {
  composite_id: string;
  created_timestamp: string;
  updated_timestamp: string;
  [k: string]: unknown;
}

export interface FalconAlertsOptions {
  clientId: string;
  secret: string;
  /** Answer 429 to these request numbers (0-based, counting every request, token requests too). */
  rateLimited?: readonly number[];
  /** The token in use is refused at these API uses (1-based; expired early): that request is a 401. */
  revokeAt?: readonly number[];
  override?: (r: ContractRequest, n: number) => ContractReply | undefined;
}

type Term = { field: string; op: ':' | '>=' | '>' | '<=' | '<'; values: string[] };

/** Reads one FQL string literal at `i`; returns it and the index after it, or null. */
function literal(s: string, i: number): [string, number] | null {
  if (s[i] !== "'") return null;
  let out = '';
  for (let j = i + 1; j < s.length; j++) {
    const ch = s[j]!;
    if (ch === '\\') {
      if (j + 1 >= s.length) return null;
      out += s[++j];
    } else if (ch === "'") return [out, j + 1];
    else out += ch;
  }
  return null;
}

/** Splits at top-level `+` (outside literals and brackets). */
function splitTerms(s: string): string[] | null {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "'") {
      const lit = literal(s, i);
      if (!lit) return null;
      i = lit[1] - 1;
    } else if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === '+' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return depth === 0 ? out : null;
}

export function parseFql(filter: string): Term[] | null {
  const parts = splitTerms(filter);
  if (!parts) return null;
  const terms: Term[] = [];
  for (let part of parts) {
    if (part.startsWith('(') && part.endsWith(')')) part = part.slice(1, -1);
    const colon = part.indexOf(':');
    if (colon <= 0) return null;
    const field = part.slice(0, colon);
    if (!/^[a-z_.]+$/.test(field)) return null;
    let rest = part.slice(colon + 1);
    let op: Term['op'] = ':';
    for (const o of ['>=', '<=', '>', '<'] as const) {
      if (rest.startsWith(o)) {
        op = o;
        rest = rest.slice(o.length);
        break;
      }
    }
    const values: string[] = [];
    if (rest.startsWith('[') && op === ':') {
      let i = 1;
      for (;;) {
        const lit = literal(rest, i);
        if (!lit) return null;
        values.push(lit[0]);
        i = lit[1];
        if (rest[i] === ',') i++;
        else if (rest[i] === ']' && i === rest.length - 1) break;
        else return null;
      }
    } else {
      const lit = literal(rest, 0);
      if (lit && lit[1] === rest.length) values.push(lit[0]);
      else if (/^[0-9]+$/.test(rest)) values.push(rest);
      else return null;
    }
    terms.push({ field, op, values });
  }
  return terms;
}

function matches(a: FalconAlert, t: Term): boolean {
  const v = a[t.field];
  if (t.op === ':') return t.values.some((x) => String(v) === x);
  const x = t.values[0]!;
  const [l, r] = t.field.endsWith('timestamp') ? [Date.parse(String(v)), Date.parse(x)] : [Number(v), Number(x)];
  if (!Number.isFinite(l) || !Number.isFinite(r)) return false;
  return t.op === '>=' ? l >= r : t.op === '>' ? l > r : t.op === '<=' ? l <= r : l < r;
}

const meta = (n: number, extra: Record<string, unknown> = {}) => ({ query_time: 0.004, powered_by: 'stand-in', trace_id: `trace-${n}`, ...extra });
const errorBody = (n: number, code: number, message: string) => ({ meta: meta(n), resources: [], errors: [{ code, message }] });

export async function falconAlertsServer(opts: FalconAlertsOptions) {
  const alerts: FalconAlert[] = [];
  const valid = new Set<string>();
  const tokenForms: URLSearchParams[] = [];
  let issued = 0;
  let uses = 0;
  const srv = await startContract((r, n) => {
    const o = opts.override?.(r, n);
    if (o) return o;
    if (opts.rateLimited?.includes(n)) {
      return {
        status: 429,
        headers: { 'x-ratelimit-limit': '6000', 'x-ratelimit-remaining': '0', 'x-ratelimit-retryafter': String(Math.ceil(Date.now() / 1000)) },
        json: errorBody(n, 429, 'API rate limit exceeded.'),
      };
    }
    if (r.method === 'POST' && r.path === '/oauth2/token') {
      tokenForms.push(r.form);
      if (r.form.get('client_id') !== opts.clientId || r.form.get('client_secret') !== opts.secret) {
        return { status: 401, json: { meta: meta(n), errors: [{ code: 401, message: 'access denied, invalid client credentials' }] } };
      }
      const token = `cs-tok-${++issued}`;
      valid.add(token);
      return { status: 201, json: { access_token: token, token_type: 'bearer', expires_in: 1799 } };
    }
    const token = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!valid.has(token)) return { status: 401, json: errorBody(n, 401, 'access denied, authorization failed') };
    if (opts.revokeAt?.includes(++uses)) {
      valid.delete(token);
      return { status: 401, json: errorBody(n, 401, 'access denied, authorization failed') };
    }
    if (r.method === 'GET' && r.path === '/alerts/queries/alerts/v2') {
      const limit = Number(r.query.get('limit') ?? 100);
      const offset = Number(r.query.get('offset') ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return { status: 400, json: errorBody(n, 400, 'limit must be between 1 and 10000') };
      if (!Number.isInteger(offset) || offset < 0 || offset + limit > 10_000) return { status: 400, json: errorBody(n, 400, 'offset + limit must not exceed 10000') };
      const filter = r.query.get('filter');
      const terms = filter === null ? [] : parseFql(filter);
      if (!terms) return { status: 400, json: errorBody(n, 400, `Invalid filter: ${filter}`) };
      const sort = r.query.get('sort') ?? 'created_timestamp.desc';
      const m = /^([a-z_]+)[.|](asc|desc)$/.exec(sort);
      if (!m) return { status: 400, json: errorBody(n, 400, `invalid sort: ${sort}`) };
      const [, field, dir] = m;
      const hits = alerts.filter((a) => terms.every((t) => matches(a, t)));
      const key = (a: FalconAlert) => Date.parse(String(a[field!]));
      // A stable sort: equal keys keep insertion order.
      hits.sort((a, b) => (dir === 'asc' ? key(a) - key(b) : key(b) - key(a)));
      const page = hits.slice(offset, offset + limit).map((a) => a.composite_id);
      return { json: { meta: meta(n, { pagination: { offset, limit, total: hits.length } }), resources: page, errors: [] } };
    }
    if (r.method === 'POST' && r.path === '/alerts/entities/alerts/v2') {
      const ids = (r.json as { composite_ids?: unknown } | undefined)?.composite_ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > 1000) return { status: 400, json: errorBody(n, 400, 'composite_ids: 1 to 1000 ids required') };
      // Answered in reverse: the API does not promise the request's order.
      const resources = [...ids].reverse().flatMap((id) => alerts.filter((a) => a.composite_id === id));
      return { json: { meta: meta(n), resources, errors: [] } };
    }
    return { status: 404, json: errorBody(n, 404, 'Not Found') };
  });
  return {
    ...srv,
    alerts,
    tokenForms,
    tokens: () => issued,
    /** Appends alerts `from`..`to`, created `baseMs + i` ms (or at `fixedMs` for all), as Alerts API v2 entities. */
    add(from: number, to: number, o: { baseMs?: number; fixedMs?: number; extra?: (i: number) => Record<string, unknown> } = {}): void {
      const base = o.baseMs ?? Date.now() - 60_000;
      for (let i = from; i <= to; i++) {
        // Falcon writes microsecond (or finer) timestamps; the puller must compare them as instants.
        const t = `${new Date(o.fixedMs ?? base + i).toISOString().slice(0, -1)}456Z`;
        alerts.push({
          composite_id: `cid0:ind:aid${i}:${1000 + i}-10-${i}`,
          cid: 'cid0',
          agent_id: `aid${i}`,
          aggregate_id: `aggind:aid${i}:${i}`,
          product: 'epp',
          type: 'ldt',
          created_timestamp: t,
          updated_timestamp: t,
          timestamp: t,
          display_name: `Credential dumping ${i}`,
          description: 'A process tried to dump credentials.',
          severity: 90,
          severity_name: 'Critical',
          status: 'new',
          tactic: 'Credential Access',
          technique: 'OS Credential Dumping',
          pattern_id: 51,
          pattern_disposition: 16,
          falcon_host_link: `https://falcon.crowdstrike.com/activity-v2/detections/cid0:ind:aid${i}`,
          filename: 'procdump.exe',
          filepath: '\\Device\\HarddiskVolume2\\tools\\procdump.exe',
          cmdline: 'procdump.exe -ma lsass.exe',
          sha256: 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd',
          user_name: 'CORP\\bob',
          device: { device_id: `aid${i}`, hostname: `WS-${i}`, local_ip: '10.9.9.9', platform_name: 'Windows' },
          ...o.extra?.(i),
        });
      }
    },
  };
}
