/**
 * CrowdStrike Falcon alerts (Alerts API v2, developer.crowdstrike.com "Alerts": GetQueriesAlertsV2 and
 * PostEntitiesAlertsV2; falconpy Alerts.query_alerts_v2 / get_alerts_v2 document the same shapes):
 *
 *   POST /oauth2/token (form client_id, client_secret, optional member_cid) → access_token, expires_in 1799
 *   GET  /alerts/queries/alerts/v2?filter=<FQL>&sort=<field>.asc&limit=N&offset=K → resources: composite ids,
 *        meta.pagination {offset, limit, total}
 *   POST /alerts/entities/alerts/v2 {"composite_ids": [...]} → resources: the alert entities
 *
 * Cursor: a watermark (pull/watermark.ts) on `time_field`, queried as `<field>:>='<ISO>'` sorted by that field
 * ascending. The default is `created_timestamp`: Falcon sets it once, when the alert is created, so every
 * alert is read once and in the order Falcon raised them. `updated_timestamp` also changes whenever an analyst
 * (or an API client) changes the alert's status, assignee or comments; with it an alert is read again after
 * each change (its watermark id is then "<composite_id>@<updated_timestamp>"), which suits a pipeline that
 * wants alert updates and not one that wants each alert once. Alerts that share the newest timestamp across a
 * page boundary are skipped by id; when a whole page shares one timestamp (more alerts in one instant than
 * page_size) the next request steps past it with `offset` until the timestamp moves (Falcon does not document
 * the order of equal timestamps: if it changed between those requests an alert of that instant could be
 * missed). Alerts Falcon indexes late, with an older timestamp, are read when `lookback` covers the delay.
 *
 * Records are the alert entities as returned, in the query's order, read by the crowdstrike detector
 * (its "Alerts API v2 entity" mapping). A 401 from the API drops the token and retries once with a new one;
 * a 429 waits until X-RateLimit-RetryAfter (epoch seconds).
 */
import { Type } from 'typebox';
import { arr, obj, str, num } from '../../../enrich/json-read.js';
import { RemoteError, secretSetting } from '../../../enrich/remote.js';
import { tokenSource, withToken } from '../../../enrich/oauth.js';
import { advanceWatermark, emptyWatermark, queryFrom, watermarkOf, watermarkSettings, watermarkSettingsSchema, type Watermark } from '../watermark.js';
import { definePuller, pullerSchema, type PullDriver } from '../puller.js';

/** Falcon API hosts per cloud (Falcon API docs, "Base URLs"; falconpy's region map). */
export const FALCON_CLOUDS = {
  'us-1': 'https://api.crowdstrike.com',
  'us-2': 'https://api.us-2.crowdstrike.com',
  'eu-1': 'https://api.eu-1.crowdstrike.com',
  'us-gov-1': 'https://api.laggar.gcw.crowdstrike.com',
} as const;

type TimeField = 'created_timestamp' | 'updated_timestamp';

const CrowdStrikeSchema = pullerSchema('crowdstrike', {
  client_id: Type.String({ minLength: 1, description: 'API client id (scope Alerts: Read), as a secret reference: ${env:FALCON_CLIENT_ID}' }),
  client_secret: Type.String({ minLength: 1, description: 'API client secret, as a secret reference: ${env:FALCON_CLIENT_SECRET}' }),
  member_cid: Type.Optional(Type.String({ minLength: 1, description: 'Child CID to read (Flight Control / MSSP parent credentials)' })),
  cloud: Type.Optional(Type.Union([Type.Literal('us-1'), Type.Literal('us-2'), Type.Literal('eu-1'), Type.Literal('us-gov-1')], { description: 'Falcon cloud whose API host to use when `url` is not set (default us-1)' })),
  time_field: Type.Optional(Type.Union([Type.Literal('created_timestamp'), Type.Literal('updated_timestamp')], { description: 'Watermark field: created_timestamp (each alert once, default) or updated_timestamp (again after each change)' })),
  products: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "Only alerts of these products (FQL product:[…]), e.g. ['epp', 'idp']" })),
  filter: Type.Optional(Type.String({ minLength: 1, description: "Extra FQL ANDed to the time filter, e.g. severity:>=50+status:'new'" })),
  ...watermarkSettingsSchema,
});

export interface CrowdStrikeCursor {
  v: 1;
  w: Watermark;
  /** Offset past alerts that all share the newest timestamp (0 unless a whole page shared it). */
  skip: number;
}

const QUERY = '/alerts/queries/alerts/v2';
const ENTITIES = '/alerts/entities/alerts/v2';

/** An FQL string literal: single-quoted, with backslashes and single quotes escaped (FQL syntax reference). */
export function fqlString(value: string): string {
  let out = "'";
  for (const ch of value) out += ch === '\\' || ch === "'" ? `\\${ch}` : ch;
  return `${out}'`;
}

const crowdstrike = definePuller({
  vendor: 'crowdstrike',
  description: 'CrowdStrike Falcon alerts (Alerts API v2: FQL time watermark, OAuth2 client credentials)',
  schema: CrowdStrikeSchema,
  defaultUrl: FALCON_CLOUDS['us-1'],
  // PostEntitiesAlertsV2 takes at most 1000 composite ids per request.
  maxPageSize: 1000,
  defaultPageSize: 500,
  check(config) {
    return config.url !== undefined && config.cloud !== undefined ? [{ key: 'cloud', message: 'set either url or cloud, not both' }] : [];
  },
  create(config, build): PullDriver<CrowdStrikeCursor> {
    const key = `sources.${config.name}.receiver`;
    const clientId = secretSetting(config.client_id, `${key}.client_id`);
    const secret = secretSetting(config.client_secret, `${key}.client_secret`);
    const memberCid = config.member_cid === undefined ? undefined : secretSetting(config.member_cid, `${key}.member_cid`);
    const client = build.client({ baseUrl: config.url ?? FALCON_CLOUDS[config.cloud ?? 'us-1'], secrets: [clientId, secret] });
    const tokens = tokenSource(client, '/oauth2/token', { client_id: clientId, client_secret: secret, ...(memberCid ? { member_cid: memberCid } : {}) });
    const field: TimeField = config.time_field ?? 'created_timestamp';
    const { lookbackMs, maxIds } = watermarkSettings(config);
    const scope = [
      ...(config.products ? [`product:[${config.products.map(fqlString).join(',')}]`] : []),
      ...(config.filter ? [`(${config.filter})`] : []),
    ];

    async function entities(ids: string[], signal: AbortSignal): Promise<Map<string, Record<string, unknown>>> {
      const body = await withToken(tokens, signal, (auth) => client.json({ method: 'POST', path: ENTITIES, json: { composite_ids: ids }, headers: auth, signal }));
      const out = new Map<string, Record<string, unknown>>();
      for (const r of arr(obj(body)?.['resources'])) {
        const e = obj(r);
        const id = str(e?.['composite_id']);
        if (e && id !== null) out.set(id, e);
      }
      return out;
    }

    return {
      async next(cursor, ctx) {
        const c = cursor ?? { v: 1, w: emptyWatermark(), skip: 0 };
        const from = new Date(queryFrom(c.w, lookbackMs, ctx.startAt)).toISOString();
        const filter = [...scope, `${field}:>=${fqlString(from)}`].join('+');
        const query = { filter, sort: `${field}.asc`, limit: ctx.pageSize, offset: c.skip };
        const body = obj(await withToken(tokens, ctx.signal, (auth) => client.json({ path: QUERY, query, headers: auth, signal: ctx.signal })));
        if (!body || !Array.isArray(body['resources'])) throw new RemoteError(`GET ${QUERY} answered without a resources list`, 'malformed', 200);
        const ids = arr(body['resources']).map(str).filter((x): x is string => x !== null);
        if (ids.length === 0) return { records: [], cursor: c, more: false, lagMs: 0 };
        const found = await entities(ids, ctx.signal);
        // The query's order is the time order; the entities answer need not keep it.
        const alerts = ids.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
        const items = alerts.map((a) => {
          const id = str(a['composite_id'])!;
          const time = str(a[field]) ?? '';
          return { id: field === 'updated_timestamp' ? `${id}@${time}` : id, time };
        });
        const { fresh, next } = advanceWatermark(c.w, items, lookbackMs, maxIds);
        const total = num(obj(obj(body['meta'])?.['pagination'])?.['total']);
        const more = total !== null ? c.skip + ids.length < total : ids.length >= ctx.pageSize;
        // A page that did not move the watermark while more follow: every alert on it shares the newest time.
        const skip = next.newest !== c.w.newest ? 0 : more ? c.skip + ids.length : c.skip;
        const lastMs = Date.parse(items[items.length - 1]?.time ?? '');
        return {
          records: fresh.map((i) => ({ raw: JSON.stringify(alerts[i]) })),
          cursor: { v: 1, w: next, skip },
          more,
          lagMs: !more ? 0 : Number.isFinite(lastMs) ? Math.max(0, ctx.now() - lastMs) : null,
        };
      },
      cursorOf(stored) {
        const c = stored as Partial<CrowdStrikeCursor> | null;
        if (!c || c.v !== 1 || typeof c.skip !== 'number' || !Number.isInteger(c.skip) || c.skip < 0) throw new Error('stored cursor is not a CrowdStrike cursor { v: 1, w, skip }');
        return { v: 1, w: watermarkOf(c.w), skip: c.skip };
      },
      describe: (c) => `${field} >= ${c.w.newest ?? 'start'}${c.skip ? ` +${c.skip}` : ''}`,
      close: async () => undefined,
    };
  },
});
export default crowdstrike;
