/**
 * A stand-in for the two Microsoft Defender alert lists and the Entra ID token endpoint, as documented:
 *   - POST /{tenant}/oauth2/v2.0/token, client credentials (learn.microsoft.com "OAuth 2.0 client credentials
 *     flow"): {token_type, expires_in, access_token}; a wrong secret → 401 {error: "invalid_client",
 *     error_description: "AADSTS7000215: Invalid client secret provided…"} (this stand-in echoes what it got, so
 *     tests see that Fido cuts the secret out of its messages); scope must be the API's .default scope.
 *   - GET /v1.0/security/alerts_v2 (microsoft-graph-docs-contrib api-reference/v1.0/api/security-list-alerts_v2.md:
 *     $count, $filter, $skip, $top only, "the most recent alerts are displayed at the top", "Use @odata.nextLink
 *     for pagination"); errors {error: {code, message, innerError}} (graph "errors"), 401 InvalidAuthenticationToken.
 *   - GET /api/alerts (learn.microsoft.com defender-endpoint/api/get-alerts: $filter on lastUpdateTime…, $top
 *     at most 10,000, $skip, $expand=evidence; no @odata.nextLink, as MicrosoftDocs/microsoft-365-docs#8489
 *     reports); errors {error: {code, message}}.
 * Only the `<field> ge <ISO>` filter is understood. Lists are served newest created first (no $orderby): an
 * alert updated while a client pages keeps its place, a new alert pushes every later position down one.
 * A 429 carries Retry-After (seconds), as Graph's throttling guidance documents.
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

export type DefenderApi = 'graph' | 'mde';

export interface DefenderAlertsOptions {
  api: DefenderApi;
  tenant: string;
  clientId: string;
  secret: string;
  /** Answer 429 to these request numbers (0-based, every request counted, token requests included). */
  rateLimited?: readonly number[];
  /** Graph only: leave @odata.nextLink out (clients then page with $skip). */
  noNextLink?: boolean;
  override?: (r: ContractRequest, n: number) => ContractReply | undefined;
}

export interface StoredAlert {
  id: string;
  created: number;
  updated: number;
  title: string;
  extra?: Record<string, unknown>;
}

const SCOPES: Record<DefenderApi, string> = { graph: 'https://graph.microsoft.com/.default', mde: 'https://api.securitycenter.microsoft.com/.default' };
const FIELD: Record<DefenderApi, string> = { graph: 'lastUpdateDateTime', mde: 'lastUpdateTime' };
const PATH: Record<DefenderApi, string> = { graph: '/v1.0/security/alerts_v2', mde: '/api/alerts' };
/** Graph writes 7 fraction digits. */
const graphTime = (ms: number) => new Date(ms).toISOString().replace('Z', '0000Z');

export function graphAlert(a: StoredAlert): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id: a.id,
    providerAlertId: a.id,
    incidentId: '28282',
    status: 'new',
    severity: 'high',
    serviceSource: 'microsoftDefenderForEndpoint',
    detectionSource: 'antivirus',
    detectorId: 'e0da400f-affd-43ef-b1d5-afc2eb6f2756',
    title: a.title,
    category: 'Malware',
    createdDateTime: graphTime(a.created),
    lastUpdateDateTime: graphTime(a.updated),
    firstActivityDateTime: graphTime(a.created - 60_000),
    threatFamilyName: 'Mimikatz',
    evidence: [
      { '@odata.type': '#microsoft.graph.security.deviceEvidence', deviceDnsName: 'ws-042.corp.example', mdeDeviceId: '73e7e2de709dff64ef64b1d0c30e67fab63279db', osPlatform: 'Windows10', ipInterfaces: ['10.1.2.3'], roles: [] },
      { '@odata.type': '#microsoft.graph.security.fileEvidence', detectionStatus: 'detected', roles: [], fileDetails: { fileName: 'mimikatz.exe', filePath: 'C:\\Users\\bob\\Downloads', sha1: '5f1e8acedc065031aad553b710838eb366cfee9a', sha256: '8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec' } },
    ],
    ...a.extra,
  };
}

export function mdeAlert(a: StoredAlert): Record<string, unknown> {
  return {
    id: a.id,
    incidentId: 11,
    severity: 'Medium',
    status: 'New',
    detectionSource: 'WindowsDefenderAv',
    category: 'Malware',
    threatFamilyName: 'Mountsi',
    title: a.title,
    alertCreationTime: new Date(a.created).toISOString(),
    firstEventTime: new Date(a.created - 60_000).toISOString(),
    lastUpdateTime: new Date(a.updated).toISOString(),
    machineId: '53425a964f417c11f6277d5bf9489f0d',
    computerDnsName: 'testserver4',
    relatedUser: { userName: 'administrator1', domainName: 'TestServer4' },
    evidence: [{ entityType: 'File', sha1: 'a8a8d1b4b2d9b1b7e2b4b2d9b1b7e2b4b2d9b1b7', fileName: 'mountsi.exe', filePath: 'C:\\Temp' }],
    ...a.extra,
  };
}

export async function defenderAlertsServer(opts: DefenderAlertsOptions) {
  const alerts: StoredAlert[] = [];
  const valid = new Set<string>();
  let issued = 0;
  const field = FIELD[opts.api];
  const path = PATH[opts.api];
  const err = (status: number, code: string, message: string): ContractReply => ({ status, json: { error: { code, message, innerError: { 'request-id': 'r1', date: '2026-12-07T09:00:00' } } } });
  const srv = await startContract((r, n) => {
    const o = opts.override?.(r, n);
    if (o) return o;
    if (opts.rateLimited?.includes(n)) return { status: 429, headers: { 'retry-after': '1' }, ...err(429, 'TooManyRequests', 'Too many requests, retry after 1 second') };
    if (r.path === `/${opts.tenant}/oauth2/v2.0/token`) {
      const f = r.form;
      if (r.method !== 'POST' || f.get('grant_type') !== 'client_credentials' || f.get('scope') !== SCOPES[opts.api]) return { status: 400, json: { error: 'invalid_request', error_description: `AADSTS70011: scope ${f.get('scope')} is not valid` } };
      if (f.get('client_id') !== opts.clientId || f.get('client_secret') !== opts.secret) {
        return { status: 401, json: { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided. Got ${f.get('client_secret')}` } };
      }
      const token = `eyJ0eXAi.${opts.api}-token-${++issued}`;
      valid.add(token);
      return { json: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
    }
    const bearer = /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ''))?.[1];
    if (!bearer || !valid.has(bearer)) return err(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    if (r.method !== 'GET' || r.path !== path) return err(404, 'ResourceNotFound', 'Resource not found');
    const filter = r.query.get('$filter') ?? '';
    const prefix = `${field} ge `;
    const since = filter.startsWith(prefix) ? Date.parse(filter.slice(prefix.length)) : NaN;
    if (!Number.isFinite(since)) return err(400, 'BadRequest', `Invalid filter clause: ${filter}`);
    const top = Number(r.query.get('$top') ?? 100);
    const skip = Number(r.query.get('$skip') ?? 0);
    const max = opts.api === 'graph' ? 1000 : 10_000;
    if (!Number.isInteger(top) || top < 1 || !Number.isInteger(skip) || skip < 0) return err(400, 'BadRequest', 'Invalid $top or $skip');
    if (opts.api === 'mde' && r.query.get('$expand') !== 'evidence') return err(400, 'BadRequest', 'this stand-in serves $expand=evidence only');
    const matching = alerts.filter((a) => a.updated >= since).sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
    const take = Math.min(top, max);
    const value = matching.slice(skip, skip + take).map(opts.api === 'graph' ? graphAlert : mdeAlert);
    const body: Record<string, unknown> = { '@odata.context': `${srv.url}${path}/$metadata`, value };
    if (opts.api === 'graph' && !opts.noNextLink && skip + take < matching.length) {
      const q = new URLSearchParams({ $filter: filter, $top: String(top), $skip: String(skip + take) });
      body['@odata.nextLink'] = `${srv.url}${path}?${q.toString()}`;
    }
    return { json: body };
  });
  return {
    ...srv,
    alerts,
    issued: () => issued,
    /** Every token stops being accepted (expired early / revoked). */
    expireAll: () => valid.clear(),
    /** Alerts `alert-from`..`alert-to`, created and last updated at `baseMs + i` (or `sameMs` for all). */
    add(from: number, to: number, baseMs = Date.now() - 60_000, sameMs?: number): void {
      for (let i = from; i <= to; i++) {
        const t = sameMs ?? baseMs + i;
        alerts.push({ id: `alert-${i}`, created: t, updated: t, title: `Suspicious activity ${i}` });
      }
    },
    update(id: string, ms: number): void {
      const a = alerts.find((x) => x.id === id);
      if (a) a.updated = ms;
    },
    /** Requests to the alert list (token requests left out). */
    listRequests: () => srv.requests.filter((q) => q.path === path),
  };
}
