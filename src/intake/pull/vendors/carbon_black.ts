/**
 * VMware / Broadcom Carbon Black Cloud alerts, Alerts API v7 (developer.carbonblack.com "Alerts API" and its
 * "Alert Bulk Export" guide; cbc-sdk-python examples/platform/alerts_bulk_export.py):
 * POST {url}/api/alerts/v7/orgs/{org_key}/alerts/_search with `X-Auth-Token: <api_secret_key>/<api_id>` and
 * {"time_range": {"start", "end"}, "criteria": {…}, "start": <1-based row>, "rows": N, "sort":
 * [{"field": "backend_timestamp", "order": "ASC"}]} → {"results": [...], "num_found": n}. `start + rows` may not
 * pass 10,000.
 *
 * As the bulk-export guide does, the query is on backend_timestamp (when the alert reached the backend: it does
 * not change when the alert is updated, so each alert is taken once), oldest first, and ends 30 s before now so
 * that Carbon Black's asynchronous processing has settled what the range holds. The cursor is a watermark
 * (watermark.ts): the newest backend_timestamp taken and the ids taken at it, so the next request starts at that
 * time (inclusive) and skips what it has; alerts sharing a timestamp across a page boundary are neither lost nor
 * repeated. When a whole page sits at the watermark's time (more alerts at one millisecond than a page), `row`
 * moves on through them; it is back at 1 once the time moves. Each page's alerts are committed with the cursor
 * after them, so a crash between pages resumes there. An alert that became visible only after its time had
 * settled (backend_timestamp older than the 30 s) is outside what the API promises; `lookback` re-reads that
 * window and takes such late alerts once (without it one is missed when it sorts before rows already read).
 *
 * Credentials: `api_id` and `api_secret_key` (an API key of access level type "Custom" with alerts READ), or one
 * `api_token` reference holding "<secret>/<id>". 401 names a refused key; 429 waits for Retry-After. `criteria`
 * narrows the search (e.g. {"minimum_severity": 3, "type": ["CB_ANALYTICS", "WATCHLIST"]}).
 * Records: one per alert, as the API wrote it (the carbon_black_cloud detector reads v7 alerts).
 */
import { Type } from 'typebox';
import { arr, obj, str } from '../../../enrich/json-read.js';
import { RemoteError, secretSetting } from '../../../enrich/remote.js';
import type { ComponentProblem } from '../../../component/component.js';
import { definePuller, pullerSchema, type PullDriver } from '../puller.js';
import { advanceWatermark, emptyWatermark, queryFrom, watermarkOf, watermarkSettings, watermarkSettingsSchema, type Watermark } from '../watermark.js';

const CarbonBlackSchema = pullerSchema('carbon_black', {
  org_key: Type.String({ minLength: 1, maxLength: 64, description: 'The organization key (Settings > API Access > API Keys)' }),
  api_id: Type.Optional(Type.String({ minLength: 1, description: 'API ID of a Custom API key with alerts READ' })),
  api_secret_key: Type.Optional(Type.String({ minLength: 1, description: 'Its API secret key, as a secret reference: ${env:CBC_API_SECRET}' })),
  api_token: Type.Optional(Type.String({ minLength: 1, description: 'Instead of the two: one secret reference holding "<api_secret_key>/<api_id>"' })),
  criteria: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Alert search criteria, as the v7 API takes them' })),
  ...watermarkSettingsSchema,
});

export interface CarbonBlackCursor {
  v: 1;
  mark: Watermark;
  /** 1-based row of the next request, past alerts at the watermark's time already read (1 when the time moved). */
  row: number;
}

/** Carbon Black Cloud's asynchronous processing time, left out of the range (the bulk export guide's 30 s). */
const SETTLE_MS = 30_000;
const MAX_ROWS = 10_000;
const KEY_OK = (k: string): boolean => [...k].every((c) => /[A-Za-z0-9_-]/.test(c));

const carbonBlack = definePuller({
  vendor: 'carbon_black',
  description: 'VMware Carbon Black Cloud alerts (Alerts API v7 _search, oldest first on backend_timestamp)',
  schema: CarbonBlackSchema,
  maxPageSize: MAX_ROWS,
  defaultPageSize: 1000,
  check(c): ComponentProblem[] {
    const out: ComponentProblem[] = [];
    if (c.api_token === undefined && (c.api_id === undefined || c.api_secret_key === undefined)) {
      out.push({ key: c.api_id === undefined ? 'api_id' : 'api_secret_key', message: 'is required (or api_token holding "<api_secret_key>/<api_id>")' });
    }
    if (c.api_token !== undefined && (c.api_id !== undefined || c.api_secret_key !== undefined)) out.push({ key: 'api_token', message: 'give either api_token or api_id with api_secret_key, not both' });
    if (!KEY_OK(c.org_key)) out.push({ key: 'org_key', message: 'letters, digits, "_" and "-" only' });
    return out;
  },
  create(config, build): PullDriver<CarbonBlackCursor> {
    const key = `sources.${config.name}.receiver`;
    const token =
      config.api_token !== undefined
        ? secretSetting(config.api_token, `${key}.api_token`)
        : `${secretSetting(config.api_secret_key ?? '', `${key}.api_secret_key`)}/${secretSetting(config.api_id ?? '', `${key}.api_id`)}`;
    if (!token.includes('/') || token.startsWith('/') || token.endsWith('/')) throw new Error(`${key}.api_token: must read "<api_secret_key>/<api_id>"`);
    const { lookbackMs, maxIds } = watermarkSettings(config);
    const client = build.client({ headers: { 'x-auth-token': token }, secrets: token.split('/') });
    const path = `/api/alerts/v7/orgs/${encodeURIComponent(config.org_key)}/alerts/_search`;
    return {
      async next(cursor, ctx) {
        const c: CarbonBlackCursor = cursor ?? { v: 1, mark: emptyWatermark(), row: 1 };
        const rows = Math.min(ctx.pageSize, MAX_ROWS - c.row + 1);
        if (rows < 1) throw new RemoteError(`more than ${MAX_ROWS - 1} alerts share backend_timestamp ${c.mark.newest}; the v7 search cannot page past row ${MAX_ROWS}`, 'client');
        const fromMs = queryFrom(c.mark, lookbackMs, ctx.startAt);
        const endMs = Math.max(fromMs, ctx.now() - SETTLE_MS);
        const body = {
          time_range: { start: new Date(fromMs).toISOString(), end: new Date(endMs).toISOString() },
          ...(config.criteria ? { criteria: config.criteria } : {}),
          start: c.row,
          rows,
          sort: [{ field: 'backend_timestamp', order: 'ASC' }],
        };
        const req = { method: 'POST' as const, path, json: body, signal: ctx.signal };
        const res = await client.send(req);
        if (res.status < 200 || res.status >= 300) throw client.errorOf(res, req);
        const answer = obj(res.body);
        if (!answer || !Array.isArray(answer['results'])) throw new RemoteError(`POST ${path} answered ${res.status} without a "results" list`, 'malformed', res.status);
        const page = arr(answer['results']);
        const items = page.map((r, i) => ({ id: str(obj(r)?.['id']) ?? `row-${c.row + i}@${str(obj(r)?.['backend_timestamp']) ?? ''}`, time: str(obj(r)?.['backend_timestamp']) ?? '' }));
        const { fresh, next } = advanceWatermark(c.mark, items, lookbackMs, maxIds);
        const full = page.length >= rows;
        // A full page that did not move the time is all at the watermark's time: read on past it by row.
        const row = full && next.newest === c.mark.newest ? c.row + page.length : 1;
        const last = items.length > 0 ? Date.parse(items[items.length - 1]!.time) : NaN;
        return {
          records: fresh.map((i) => ({ raw: JSON.stringify(page[i]) })),
          cursor: { v: 1, mark: next, row },
          more: full,
          lagMs: full ? (Number.isFinite(last) ? Math.max(0, ctx.now() - last) : null) : 0,
        };
      },
      cursorOf(stored) {
        const c = stored as Partial<CarbonBlackCursor> | null;
        if (!c || c.v !== 1 || typeof c.row !== 'number' || !Number.isInteger(c.row) || c.row < 1) throw new Error('stored cursor is not a Carbon Black cursor { v: 1, mark, row }');
        return { v: 1, mark: watermarkOf(c.mark), row: c.row };
      },
      describe: (c) => `backend_timestamp ${c.mark.newest ?? 'start'}${c.row > 1 ? ` row ${c.row}` : ''}`,
      close: async () => undefined,
    };
  },
});
export default carbonBlack;
