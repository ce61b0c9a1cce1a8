/**
 * Microsoft Defender alerts, from one of two APIs (`api:`):
 *   - graph (default): Microsoft Graph "List alerts_v2", GET https://graph.microsoft.com/v1.0/security/alerts_v2,
 *     `$filter=lastUpdateDateTime ge <ISO>`, `$top` (Fido asks for at most 1000), `@odata.nextLink`; token scope
 *     https://graph.microsoft.com/.default (permission SecurityAlert.Read.All);
 *   - mde: Defender for Endpoint "List alerts API", GET https://api.security.microsoft.com/api/alerts,
 *     `$filter=lastUpdateTime ge <ISO>`, `$top` (at most 10,000), `$skip`, `$expand=evidence`; token scope
 *     https://api.securitycenter.microsoft.com/.default (Alert.Read.All). 100 calls a minute, 1,500 an hour.
 * Tokens: OAuth2 client credentials from https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token
 * (`token_url` overrides it: sovereign clouds, test doubles); a 401 (InvalidAuthenticationToken: expired or
 * revoked early) fetches a new token and retries once. A 429 waits for its Retry-After.
 *
 * Order is NOT guaranteed: alerts_v2 documents only $count, $filter, $skip and $top ("the most recent alerts
 * are displayed at the top"; no $orderby; elastic/integrations#20348 sends an undocumented $orderby, Fido does
 * not), and the MDE list documents $filter, $top, $skip and $expand. So the
 * cursor does not assume the newest record of a page bounds the next query. It is:
 *   from     the `ge` bound of the current query (the watermark), kept for the whole query;
 *   next     the query of the next page of that query: the @odata.nextLink's (refused unless it points at the
 *            configured origin and path), else, after a full page without one, the same query with $skip moved on
 *            (MDE sends no nextLink; Graph may not either); null between queries;
 *   started  when (Fido's clock) the query's first page was asked for; newest: the newest time met in it;
 *   seen     "id|lastUpdate" of every version taken whose time is >= from, with its time.
 * Each page's records and the cursor after them are committed together, so a crash between pages resumes at
 * `next` of the same query: pages already committed are not read again, and a record the vendor repeats
 * (positions shift as alerts arrive) is in `seen` and skipped. Only after the last page does `from` move, to
 * min(newest, started) − lookback: never past the query's start, so an alert updated while the query was being
 * paged (its new time is after `started`) is read by the next query even if paging skipped it; `seen` then keeps
 * the versions at or after the new `from`. An update of an alert (new lastUpdate) is a new version and is
 * taken once more: the detector then sees the alert's current state.
 * Limits: `seen` holds at most `lookback_ids` keys; past that (one query of more alerts than that: a first
 * run over a busy tenant) the oldest are forgotten and a vendor repeat of one of them could be taken twice
 * (a repeat, never a loss). Graph answers $skip only so far (elastic/integrations#20234): a backlog beyond it
 * fails visibly rather than silently. `lookback` (default 0) re-reads that window for alerts Microsoft makes
 * visible late with an older lastUpdate.
 * Records: one per alert, as the API wrote it (the microsoft_defender detector reads both shapes).
 */
import { Type } from 'typebox';
import { arr, obj, str } from '../../../enrich/json-read.js';
import { withToken, tokenSource } from '../../../enrich/oauth.js';
import { RemoteError, secretSetting, type RemoteRequest } from '../../../enrich/remote.js';
import { outboundUrlProblem } from '../../../util/outbound.js';
import type { ComponentProblem } from '../../../component/component.js';
import { definePuller, nextPageQuery, pullerSchema, type PullDriver } from '../puller.js';
import { watermarkSettings, watermarkSettingsSchema } from '../watermark.js';

const DefenderSchema = pullerSchema('defender', {
  api: Type.Optional(Type.Union([Type.Literal('graph'), Type.Literal('mde')], { description: 'graph: Microsoft Graph security alerts_v2 (default); mde: the Defender for Endpoint alerts API' })),
  tenant_id: Type.String({ minLength: 1, description: 'Entra ID tenant (directory) id, or a secret reference' }),
  client_id: Type.String({ minLength: 1, description: 'Application (client) id of the app registration, or a secret reference' }),
  client_secret: Type.String({ minLength: 1, description: 'Its client secret, as a secret reference: ${env:DEFENDER_CLIENT_SECRET}' }),
  token_url: Type.Optional(Type.String({ minLength: 1, description: 'Token endpoint (default https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token)' })),
  scope: Type.Optional(Type.String({ minLength: 1, description: "Token scope (default the API's .default scope; sovereign clouds differ)" })),
  ...watermarkSettingsSchema,
});

type Api = 'graph' | 'mde';

const APIS: Record<Api, { url: string; path: string; field: string; scope: string; maxTop: number; extra: Record<string, string> }> = {
  graph: { url: 'https://graph.microsoft.com', path: '/v1.0/security/alerts_v2', field: 'lastUpdateDateTime', scope: 'https://graph.microsoft.com/.default', maxTop: 1000, extra: {} },
  mde: { url: 'https://api.security.microsoft.com', path: '/api/alerts', field: 'lastUpdateTime', scope: 'https://api.securitycenter.microsoft.com/.default', maxTop: 10_000, extra: { $expand: 'evidence' } },
};

export interface DefenderCursor {
  v: 1;
  /** The `ge` bound of the current (or next) query, ISO. */
  from: string;
  /** The query string of the next page of the current query; null between queries. */
  next: string | null;
  /** Epoch ms (Fido's clock) the current query began; null between queries. */
  started: number | null;
  /** Newest record time (epoch ms) met in the current query. */
  newest: number | null;
  /** ["id|lastUpdate", epoch ms] of the versions taken at or after `from`. */
  seen: [string, number][];
}

const TENANT_OK = (t: string): boolean => t.length <= 100 && [...t].every((c) => /[A-Za-z0-9.-]/.test(c));

const defender = definePuller({
  vendor: 'defender',
  description: 'Microsoft Defender alerts: Graph security alerts_v2 (default) or the Defender for Endpoint alerts API, OAuth2 client credentials',
  schema: DefenderSchema,
  defaultUrl: APIS.graph.url,
  maxPageSize: 10_000,
  defaultPageSize: 1000,
  check(c): ComponentProblem[] {
    if (c.token_url === undefined || /\$\{(env|file):/.test(c.token_url)) return [];
    const problem = outboundUrlProblem(c.token_url, { allowPrivate: c.allow_private ?? false });
    return problem ? [{ key: 'token_url', message: problem }] : [];
  },
  create(config, build): PullDriver<DefenderCursor> {
    const key = `sources.${config.name}.receiver`;
    const api = APIS[config.api ?? 'graph'];
    const tenant = secretSetting(config.tenant_id, `${key}.tenant_id`);
    if (!TENANT_OK(tenant)) throw new Error(`${key}.tenant_id: not a tenant id or domain (letters, digits, "." and "-")`);
    const clientId = secretSetting(config.client_id, `${key}.client_id`);
    const secret = secretSetting(config.client_secret, `${key}.client_secret`);
    const { lookbackMs, maxIds } = watermarkSettings(config);
    const tokenUrl = config.token_url ?? `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
    const tokens = tokenSource(build.client({ baseUrl: tokenUrl, secrets: [secret] }), '', {
      client_id: clientId,
      client_secret: secret,
      grant_type: 'client_credentials',
      scope: config.scope ?? api.scope,
    });
    const client = build.client({ baseUrl: config.url ?? api.url, secrets: [secret] });
    const base = client.baseUrl;
    const apiPath = new URL(`${base.pathname.replace(/\/$/, '')}${api.path}`, base).pathname;

    async function get(query: Record<string, string>, signal: AbortSignal): Promise<unknown> {
      return withToken(tokens, signal, async (auth) => {
        const req: RemoteRequest = { path: api.path, query, headers: auth, signal };
        const res = await client.send(req);
        if (res.status < 200 || res.status >= 300) throw client.errorOf(res, req);
        return res.body;
      });
    }

    return {
      async next(cursor, ctx) {
        const top = Math.min(ctx.pageSize, api.maxTop);
        let c: DefenderCursor = cursor ?? { v: 1, from: new Date(ctx.startAt).toISOString(), next: null, started: null, newest: null, seen: [] };
        if (c.next === null) c = { ...c, started: ctx.now(), newest: null };
        const query: Record<string, string> =
          c.next !== null ? Object.fromEntries(new URLSearchParams(c.next)) : { $filter: `${api.field} ge ${c.from}`, $top: String(top), ...api.extra };
        const body = obj(await get(query, ctx.signal));
        if (!body || !Array.isArray(body['value'])) throw new RemoteError(`GET ${api.path} answered without a "value" list of alerts`, 'malformed', 200);
        const fromMs = Date.parse(c.from);
        const seen = new Map(c.seen);
        let newest = c.newest;
        const records: { raw: string }[] = [];
        const page = arr(body['value']);
        for (const item of page) {
          const a = obj(item);
          const id = str(a?.['id']);
          const time = str(a?.[api.field]);
          const parsed = time === null ? NaN : Date.parse(time);
          const ms = Number.isFinite(parsed) ? parsed : fromMs;
          if (newest === null || ms > newest) newest = ms;
          if (id !== null) {
            const k = `${id}|${time ?? ''}`;
            if (seen.has(k)) continue; // taken before: a vendor repeat, or the same version in a later query
            seen.set(k, ms);
          }
          records.push({ raw: JSON.stringify(item) });
        }
        const link = str(body['@odata.nextLink']);
        let next: string | null = null;
        if (link !== null) {
          next = nextPageQuery(link, base, apiPath, `GET ${api.path}`, 'the @odata.nextLink');
        } else if (page.length >= Number(query['$top'] ?? top)) {
          // A full page and no link: the rest of the same query by $skip.
          next = new URLSearchParams({ ...query, $skip: String(Number(query['$skip'] ?? 0) + page.length) }).toString();
        }
        let out: DefenderCursor;
        if (next !== null) {
          out = { v: 1, from: c.from, next, started: c.started, newest, seen: bound([...seen], maxIds) };
        } else {
          // The query is done: the watermark moves, never past the query's own start.
          const upTo = Math.min(newest ?? fromMs, c.started ?? fromMs) - lookbackMs;
          const fromNext = Math.max(fromMs, upTo);
          out = { v: 1, from: new Date(fromNext).toISOString(), next: null, started: null, newest: null, seen: bound([...seen].filter(([, ms]) => ms >= fromNext), maxIds) };
        }
        return { records, cursor: out, more: next !== null, lagMs: next !== null ? null : 0 };
      },
      cursorOf(stored) {
        const c = stored as Partial<DefenderCursor> | null;
        if (
          !c ||
          c.v !== 1 ||
          typeof c.from !== 'string' ||
          !Number.isFinite(Date.parse(c.from)) ||
          !(c.next === null || typeof c.next === 'string') ||
          !(c.started === null || typeof c.started === 'number') ||
          !(c.newest === null || typeof c.newest === 'number') ||
          !Array.isArray(c.seen) ||
          !c.seen.every((p) => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'number')
        ) {
          throw new Error('stored cursor is not a Defender cursor { v: 1, from, next, started, newest, seen }');
        }
        return c as DefenderCursor;
      },
      describe: (c) => `${api.field} ge ${c.from}${c.next !== null ? ' (paging)' : ''}`,
      close: async () => undefined,
    };
  },
});
export default defender;

/** At most `max` keys: the oldest are forgotten first (a later repeat of one could be taken again, never lost). */
function bound(keys: [string, number][], max: number): [string, number][] {
  if (keys.length <= max) return keys;
  return keys.sort((a, b) => a[1] - b[1]).slice(keys.length - max);
}
