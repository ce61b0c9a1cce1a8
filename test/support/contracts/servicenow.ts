/**
 * A stand-in for a ServiceNow instance's Table API that holds records, for the servicenow_ticket tests and any
 * test that counts tickets (a crash test). Written after the documented API:
 *
 *  - https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html — GET /api/now/table/{table}
 *    (sysparm_query encoded query, conditions joined by ^, ORDERBY…; sysparm_limit; sysparm_fields) → 200
 *    {"result": [...]}; POST /api/now/table/{table} → 201 {"result": {...}}; GET/PATCH
 *    /api/now/table/{table}/{sys_id} → 200 {"result": {...}} or 404 "No Record found"; work_notes is a journal
 *    field (written by PATCH, read back empty).
 *  - Errors: {"error": {"message", "detail"}, "status": "failure"}; 401 "User Not Authenticated" without
 *    valid basic or bearer credentials.
 *  - https://www.servicenow.com/docs/r/api-implementation-reference/inbound-rest-api-rate-limiting.html — a
 *    rate-limit rule answers 429 with Retry-After (tests inject it through `override`).
 *
 * `override` answers a request before the instance does (429s, 5xx, hung or malformed answers); return
 * undefined to let the instance answer. `counts` are effects, not requests: a hung request that the instance
 * still carries out (`hangAfter`) counts.
 */
import { randomBytes } from 'node:crypto';
import { startContract, type ContractHandler, type ContractReply, type ContractRequest, type ContractServer } from '../contract.js';
import type { Cert } from '../servers.js';

export interface SnowRecord {
  sys_id: string;
  number: string;
  table: string;
  /** Every field as stored (strings, as ServiceNow returns them). */
  fields: Record<string, string>;
  /** The work notes written, oldest first. */
  work_notes: string[];
}

export interface ServicenowOptions {
  /** Accepted basic credentials (default svc_fido / snow-pass-SECRET). */
  user?: string;
  password?: string;
  /** An accepted bearer token (default snow-token-SECRET). */
  token?: string;
  /** Tables that exist (default incident). */
  tables?: string[];
}

export interface ServicenowServer {
  records: Map<string, SnowRecord>;
  handler: ContractHandler;
  /** Effects carried out: records created, PATCHes applied, records put in a resolved/closed state. */
  counts: { created: number; updated: number; resolved: number };
  readonly created: number;
  /** Records whose correlation_id is `id`. */
  byCorrelation(id: string): SnowRecord[];
  /** Records whose description names Fido incident `incidentId` (its "Incident: <id>" line). */
  byIncident(incidentId: string): SnowRecord[];
  /** Answer requests first (undefined: the instance answers). */
  setOverride(f: ((r: ContractRequest) => ContractReply | undefined) | null): void;
  /** Carry out the next request `match` accepts, then never answer it (a call whose answer is lost). */
  hangAfter(match: (r: ContractRequest) => boolean): void;
  /** Starts a contract server over `handler` (HTTPS with `tls`). */
  start(o?: { tls?: Cert }): Promise<ContractServer>;
  readonly credentials: { user: string; password: string; token: string };
}

const err = (status: number, message: string, detail: string): ContractReply => ({ status, json: { error: { message, detail }, status: 'failure' } });

export function servicenowServer(o: ServicenowOptions = {}): ServicenowServer {
  const credentials = { user: o.user ?? 'svc_fido', password: o.password ?? 'snow-pass-SECRET', token: o.token ?? 'snow-token-SECRET' };
  const tables = new Set(o.tables ?? ['incident']);
  const records = new Map<string, SnowRecord>();
  const counts = { created: 0, updated: 0, resolved: 0 };
  let seq = 10000;
  let override: ((r: ContractRequest) => ContractReply | undefined) | null = null;
  let hang: ((r: ContractRequest) => boolean) | null = null;

  const authorized = (r: ContractRequest) => {
    const a = r.headers.authorization ?? '';
    return a === `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}` || a === `Bearer ${credentials.token}`;
  };
  /** sysparm_fields picks the fields a record is returned with. */
  const view = (rec: SnowRecord, q: URLSearchParams): Record<string, string> => {
    const all = { ...rec.fields, sys_id: rec.sys_id, number: rec.number, work_notes: '' };
    const pick = q.get('sysparm_fields');
    if (!pick) return all;
    return Object.fromEntries(pick.split(',').map((f) => [f, all[f as keyof typeof all] ?? '']));
  };
  /** An encoded query: conditions `field=value` joined by ^ (AND); ORDERBY terms ignored. */
  const matches = (rec: SnowRecord, query: string): boolean =>
    query
      .split('^')
      .filter((c) => c && !c.startsWith('ORDERBY'))
      .every((c) => {
        const eq = c.indexOf('=');
        if (eq < 0) return false;
        const field = c.slice(0, eq);
        return (field === 'sys_id' ? rec.sys_id : field === 'number' ? rec.number : rec.fields[field]) === c.slice(eq + 1);
      });
  const write = (rec: SnowRecord, body: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(body)) {
      if (k === 'work_notes') {
        if (String(v)) rec.work_notes.push(String(v));
      } else if (k !== 'sys_id' && k !== 'number') rec.fields[k] = String(v);
    }
  };

  function instance(r: ContractRequest): ContractReply {
    if (!authorized(r)) return err(401, 'User Not Authenticated', 'Required to provide Auth information');
    const parts = r.path.split('/').slice(1);
    if (parts[0] !== 'api' || parts[1] !== 'now' || parts[2] !== 'table' || !parts[3] || parts.length > 5) return err(400, 'Requested URI does not represent any resource', 'pattern not found');
    const table = decodeURIComponent(parts[3]);
    if (!tables.has(table)) return err(400, `Invalid table ${table}`, '');
    const sysId = parts[4] ? decodeURIComponent(parts[4]) : null;
    const body = (r.json ?? {}) as Record<string, unknown>;
    if ((r.method === 'POST' || r.method === 'PATCH') && (typeof r.json !== 'object' || r.json === null || !String(r.headers['content-type']).startsWith('application/json'))) {
      return err(400, 'Exception while reading request', 'The payload is not valid JSON.');
    }
    if (sysId === null && r.method === 'GET') {
      const query = r.query.get('sysparm_query') ?? '';
      const limit = Number(r.query.get('sysparm_limit') ?? '10000');
      const found = [...records.values()].filter((x) => x.table === table && matches(x, query)).slice(0, limit);
      return { json: { result: found.map((x) => view(x, r.query)) } };
    }
    if (sysId === null && r.method === 'POST') {
      const rec: SnowRecord = { sys_id: randomBytes(16).toString('hex'), number: `INC${String(++seq).padStart(7, '0')}`, table, fields: { state: '1', active: 'true' }, work_notes: [] };
      write(rec, body);
      records.set(rec.sys_id, rec);
      counts.created++;
      return { status: 201, headers: { location: `/api/now/table/${table}/${rec.sys_id}` }, json: { result: view(rec, r.query) } };
    }
    if (sysId === null) return err(405, 'Method not Supported', `${r.method} is not supported for this resource`);
    const rec = records.get(sysId);
    if (!rec || rec.table !== table) return err(404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
    if (r.method === 'GET') return { json: { result: view(rec, r.query) } };
    if (r.method === 'PATCH' || r.method === 'PUT') {
      const wasOpen = !['6', '7', '8'].includes(rec.fields.state ?? '');
      write(rec, body);
      counts.updated++;
      if (wasOpen && ['6', '7', '8'].includes(rec.fields.state ?? '')) counts.resolved++;
      return { json: { result: view(rec, r.query) } };
    }
    return err(405, 'Method not Supported', `${r.method} is not supported for this resource`);
  }

  const handler: ContractHandler = (r) => {
    const o = override?.(r);
    if (o) return o;
    if (hang?.(r)) {
      hang = null;
      instance(r);
      return { hang: true };
    }
    return instance(r);
  };

  return {
    records,
    handler,
    counts,
    get created() {
      return counts.created;
    },
    byCorrelation: (id) => [...records.values()].filter((x) => x.fields.correlation_id === id),
    byIncident: (id) => [...records.values()].filter((x) => (x.fields.description ?? '').split('\n').includes(`Incident: ${id}`)),
    setOverride(f) {
      override = f;
    },
    hangAfter(match) {
      hang = match;
    },
    start: (so = {}) => startContract(handler, so),
    credentials,
  };
}
