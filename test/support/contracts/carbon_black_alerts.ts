/**
 * A stand-in for Carbon Black Cloud's Alerts API v7 search as documented (developer.carbonblack.com "Alerts API"
 * v7 and its "Alert Bulk Export" guide; cbc-sdk-python examples/platform/alerts_bulk_export.py):
 * POST /api/alerts/v7/orgs/{org_key}/alerts/_search with `X-Auth-Token: <api_secret_key>/<api_id>` (else 401,
 * an empty body as the API gives), body {time_range: {start, end}, criteria, start (1-based row), rows,
 * sort: [{field: "backend_timestamp", order: "ASC"}]} → {results, num_found}; `start + rows` over 10,000 or a
 * malformed body → 400 {error_code, message}. time_range bounds backend_timestamp (start inclusive, end
 * exclusive). Only `criteria.type` and `criteria.minimum_severity` are understood. Results are v7 alerts shaped
 * like the vendor's own sample (test/fixtures/vendor-samples/carbon_black_cloud/alerts.jsonl). A 429 carries
 * Retry-After: Carbon Black documents the 429 but not its headers, so this sends the standard one (RFC 6585).
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

export interface CbAlert {
  id: string;
  backend_timestamp: string;
  type: string;
  severity: number;
  reason: string;
  [k: string]: unknown;
}

export interface CbAlertsOptions {
  orgKey: string;
  /** "<api_secret_key>/<api_id>". */
  token: string;
  rateLimited?: readonly number[];
  override?: (r: ContractRequest, n: number) => ContractReply | undefined;
}

export function cbAlert(id: string, backendMs: number, more: Partial<CbAlert> = {}): CbAlert {
  const t = new Date(backendMs).toISOString();
  return {
    org_key: 'ABCD1234',
    alert_url: `defense.conferdeploy.net/alerts?s[c][query_string]=id:${id}&orgKey=ABCD1234`,
    id,
    type: 'CB_ANALYTICS',
    backend_timestamp: t,
    backend_update_timestamp: t,
    detection_timestamp: new Date(backendMs - 5000).toISOString(),
    first_event_timestamp: new Date(backendMs - 20_000).toISOString(),
    last_event_timestamp: new Date(backendMs - 20_000).toISOString(),
    severity: 5,
    reason: 'A known virus (HackTool: Powerpuff) was detected running.',
    reason_code: 'T_REP_VIRUS',
    threat_id: '9e0afc389c1acc43b382b1ba590498d2',
    policy_applied: 'NOT_APPLIED',
    run_state: 'RAN',
    sensor_action: 'ALLOW',
    device_id: 6948863,
    device_name: 'Kognos-W19-CB-3',
    device_os: 'WINDOWS',
    device_os_version: 'Windows Server 2019 x64',
    device_username: 'demouser@demo.org',
    device_internal_ip: '10.0.14.120',
    device_external_ip: '34.234.170.45',
    process_pid: 3600,
    process_name: 'c:\\users\\administrator\\appdata\\local\\temp\\powerdump.ps1',
    process_sha256: '3b463c94b52414cfaad61ecdac64ca84eaea1ab4be69f75834aaa7701ab5e7d0',
    process_cmdline: 'powershell.exe -File powerdump.ps1',
    process_username: 'KOGNOS-W19-CB-3\\Administrator',
    parent_name: 'c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe',
    ...more,
  };
}

export async function cbAlertsServer(opts: CbAlertsOptions) {
  const alerts: CbAlert[] = [];
  const path = `/api/alerts/v7/orgs/${opts.orgKey}/alerts/_search`;
  const bad = (message: string): ContractReply => ({ status: 400, json: { error_code: 'INVALID_ARGUMENT', message } });
  const srv = await startContract((r, n) => {
    const o = opts.override?.(r, n);
    if (o) return o;
    if (r.headers['x-auth-token'] !== opts.token) return { status: 401, body: '' };
    if (opts.rateLimited?.includes(n)) return { status: 429, headers: { 'retry-after': '1' }, json: { error_code: 'TOO_MANY_REQUESTS', message: 'Rate limit exceeded' } };
    if (r.method !== 'POST' || r.path !== path) return { status: 404, json: { error_code: 'NOT_FOUND', message: 'not found' } };
    const b = r.json as { time_range?: { start?: string; end?: string }; criteria?: { type?: string[]; minimum_severity?: number }; start?: number; rows?: number; sort?: { field: string; order: string }[] } | undefined;
    if (!b || typeof b !== 'object') return bad('request body must be JSON');
    const start = b.start ?? 1;
    const rows = b.rows ?? 100;
    if (!Number.isInteger(start) || start < 1 || !Number.isInteger(rows) || rows < 1 || start + rows > 10_001) return bad('start and rows must be positive, start + rows at most 10000');
    const from = Date.parse(b.time_range?.start ?? '');
    const to = Date.parse(b.time_range?.end ?? '');
    if (!Number.isFinite(from) || !Number.isFinite(to)) return bad('time_range needs start and end');
    const sort = b.sort?.[0];
    if (!sort || sort.field !== 'backend_timestamp' || sort.order !== 'ASC') return bad('this stand-in sorts on backend_timestamp ASC only');
    const matching = alerts
      .filter((a) => {
        const t = Date.parse(a.backend_timestamp);
        return t >= from && t < to && (!b.criteria?.type || b.criteria.type.includes(a.type)) && (b.criteria?.minimum_severity === undefined || a.severity >= b.criteria.minimum_severity);
      })
      .sort((x, y) => Date.parse(x.backend_timestamp) - Date.parse(y.backend_timestamp) || (x.id < y.id ? -1 : 1));
    return { json: { results: matching.slice(start - 1, start - 1 + rows), num_found: matching.length } };
  });
  return {
    ...srv,
    alerts,
    /** Alerts `cb-<from>`..`cb-<to>` at backend time `baseMs + i` (or `sameMs` for all). */
    add(from: number, to: number, baseMs = Date.now() - 120_000, sameMs?: number, more: Partial<CbAlert> = {}): void {
      for (let i = from; i <= to; i++) alerts.push(cbAlert(`cb-${i}`, sameMs ?? baseMs + i, more));
    },
  };
}
