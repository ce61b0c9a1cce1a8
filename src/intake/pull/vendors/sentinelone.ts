/**
 * SentinelOne Management API v2.1 (console /api-doc; the same parameters in the generated clients of
 * swagger_2_1.json): `Authorization: ApiToken <token>`, list answers {"data": [...], "pagination": {"nextCursor",
 * "totalItems"}}, errors {"errors": [{code, detail, title}]}, 429 with Retry-After.
 *
 *   threats  GET /web/api/v2.1/threats?createdAt__gte=T&sortBy=createdAt&sortOrder=asc&limit=N[&cursor=C]
 *            (or updatedAt__gte / sortBy=updatedAt with `threat_time: updatedAt`)
 *   alerts   GET /web/api/v2.1/cloud-detection/alerts?createdAt__gte=T&sortBy=id&sortOrder=asc&limit=N[&cursor=C]
 *
 * `feeds` chooses which (default threats); each has its own cursor inside one cursor object, committed with
 * the records of each page. A feed's cursor is a watermark (pull/watermark.ts) on its time field plus the
 * sweep in progress: one query "time >= T" is read to its end by following pagination.nextCursor (an opaque
 * keyset position, valid across restarts), then the next sweep starts at the newest time taken. Within a sweep
 * the API's cursor returns each record once, so records sharing one instant across page boundaries — even
 * more of them than a page — are neither skipped nor repeated; across sweeps the watermark skips by id what it
 * took at the newest instant (and, with `lookback`, inside the window, for records SentinelOne makes visible
 * late with an older time).
 *
 * Threats are listed oldest first. Cloud-detection alerts cannot be sorted by time (their sortBy allows id,
 * severity, status… but not createdAt), so an alerts sweep reads "createdAt >= T" in id order: every alert of
 * the sweep is taken once whatever its time, and the next sweep starts at the newest createdAt taken. What
 * this cannot guarantee: an alert that becomes visible after its sweep passed, with a createdAt older than the
 * newest taken, is only read when `lookback` covers the delay (the same limit as for late threats).
 *
 * With `threat_time: updatedAt` a threat is read again each time SentinelOne updates it (mitigation, verdict,
 * status); its watermark id is then "<id>@<updatedAt>". Records are the threats / alerts as returned, one per
 * record, read by the sentinel_one detector.
 */
import { Type } from 'typebox';
import { arr, obj, str } from '../../../enrich/json-read.js';
import { RemoteError, secretSetting } from '../../../enrich/remote.js';
import { advanceWatermark, emptyWatermark, queryFrom, watermarkOf, watermarkSettings, watermarkSettingsSchema, type Watermark, type WatermarkItem } from '../watermark.js';
import { definePuller, pullerSchema, type PullContext, type PullDriver } from '../puller.js';

type Feed = 'threats' | 'alerts';

const SentinelOneSchema = pullerSchema('sentinelone', {
  api_token: Type.String({ minLength: 1, description: 'A SentinelOne API token (service user, Viewer role), as a secret reference: ${env:S1_API_TOKEN}' }),
  feeds: Type.Optional(
    Type.Array(Type.Union([Type.Literal('threats'), Type.Literal('alerts')]), { minItems: 1, uniqueItems: true, description: 'What to read: threats (default) and/or cloud-detection (STAR) alerts' }),
  ),
  threat_time: Type.Optional(Type.Union([Type.Literal('createdAt'), Type.Literal('updatedAt')], { description: 'Threat watermark field: createdAt (each threat once, default) or updatedAt (again after each update)' })),
  site_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, pattern: '^[0-9]+$' }), { minItems: 1, description: 'Only these sites (siteIds)' })),
  account_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, pattern: '^[0-9]+$' }), { minItems: 1, description: 'Only these accounts (accountIds)' })),
  ...watermarkSettingsSchema,
});

export interface FeedCursor {
  w: Watermark;
  /** The lower time bound of the sweep in progress (null between sweeps). */
  from: string | null;
  /** pagination.nextCursor of the sweep in progress (null between sweeps). */
  next: string | null;
}

export interface SentinelOneCursor {
  v: 1;
  feeds: Partial<Record<Feed, FeedCursor>>;
}

const API = '/web/api/v2.1';
const PATHS: Record<Feed, string> = { threats: `${API}/threats`, alerts: `${API}/cloud-detection/alerts` };

const emptyFeed = (): FeedCursor => ({ w: emptyWatermark(), from: null, next: null });

function feedCursorOf(stored: unknown, feed: string): FeedCursor {
  const f = stored as Partial<FeedCursor> | null;
  if (!f || typeof f !== 'object' || !(f.from === null || typeof f.from === 'string') || !(f.next === null || typeof f.next === 'string')) {
    throw new Error(`stored cursor of feed ${feed} is not { w, from, next }`);
  }
  return { w: watermarkOf(f.w), from: f.from, next: f.next };
}

/**
 * advanceWatermark for a sweep: the API's cursor never repeats a record inside one sweep, so a record older
 * than the watermark's floor is new there (an alerts sweep is not in time order) and is taken; the floor
 * still bounds where the next sweep starts.
 */
function advanceInSweep(w: Watermark, items: readonly WatermarkItem[], lookbackMs: number, maxIds: number): { fresh: number[]; next: Watermark } {
  const { fresh, next } = advanceWatermark({ ...w, floor: null }, items, lookbackMs, maxIds);
  const newestMs = next.newest === null ? null : Date.parse(next.newest);
  const keep = w.floor !== null && newestMs !== null && Number.isFinite(newestMs) && w.floor >= newestMs - lookbackMs ? w.floor : null;
  const floor = next.floor === null ? keep : keep === null ? next.floor : Math.max(next.floor, keep);
  return { fresh, next: { ...next, floor } };
}

const sentinelone = definePuller({
  vendor: 'sentinelone',
  description: 'SentinelOne threats and cloud-detection alerts (Management API v2.1: time watermark + nextCursor sweeps)',
  schema: SentinelOneSchema,
  maxPageSize: 1000,
  defaultPageSize: 500,
  create(config, build): PullDriver<SentinelOneCursor> {
    const token = secretSetting(config.api_token, `sources.${config.name}.receiver.api_token`);
    const client = build.client({ headers: { authorization: `ApiToken ${token}` } });
    const feeds: Feed[] = config.feeds ?? ['threats'];
    const threatTime = config.threat_time ?? 'createdAt';
    const { lookbackMs, maxIds } = watermarkSettings(config);
    const scope = {
      ...(config.site_ids ? { siteIds: config.site_ids.join(',') } : {}),
      ...(config.account_ids ? { accountIds: config.account_ids.join(',') } : {}),
    };
    // The feeds still to read in this round (in memory: a restart simply starts a new round).
    let round: Feed[] = [...feeds];

    const itemOf = (feed: Feed, d: unknown, raw: string): WatermarkItem => {
      const o = obj(d);
      if (feed === 'threats') {
        const info = obj(o?.['threatInfo']);
        const id = str(o?.['id']) ?? str(info?.['threatId']) ?? raw;
        const time = str(info?.[threatTime]) ?? str(o?.[threatTime]) ?? '';
        return { id: threatTime === 'updatedAt' ? `${id}@${time}` : id, time };
      }
      const info = obj(o?.['alertInfo']);
      return { id: str(info?.['alertId']) ?? str(o?.['id']) ?? raw, time: str(info?.['createdAt']) ?? '' };
    };

    async function poll(feed: Feed, fc: FeedCursor, ctx: PullContext) {
      const { pageSize, startAt, signal } = ctx;
      const from = fc.from ?? new Date(queryFrom(fc.w, lookbackMs, startAt)).toISOString();
      const timeParam = feed === 'threats' ? threatTime : 'createdAt';
      const path = PATHS[feed];
      const query = {
        [`${timeParam}__gte`]: from,
        sortBy: feed === 'threats' ? threatTime : 'id',
        sortOrder: 'asc',
        limit: pageSize,
        skipCount: true,
        ...scope,
        ...(fc.next !== null ? { cursor: fc.next } : {}),
      };
      const res = await client.send({ path, query, signal });
      if (res.status < 200 || res.status >= 300) throw client.errorOf(res, { path, signal });
      const body = obj(res.body);
      if (!body || !Array.isArray(body['data'])) throw new RemoteError(`GET ${path} answered ${res.status} without a data list`, 'malformed', res.status);
      const data = arr(body['data']);
      const raws = data.map((d) => JSON.stringify(d));
      const items = data.map((d, i) => itemOf(feed, d, raws[i]!));
      const { fresh, next } = advanceInSweep(fc.w, items, lookbackMs, maxIds);
      // An empty page ends the sweep even if a cursor came with it: nothing to follow.
      const nextCursor = data.length > 0 ? str(obj(body['pagination'])?.['nextCursor']) : null;
      const lastMs = Date.parse(items[items.length - 1]?.time ?? '');
      return {
        records: fresh.map((i) => ({ raw: raws[i]! })),
        cursor: { w: next, from: nextCursor === null ? null : from, next: nextCursor },
        lagMs: nextCursor === null ? 0 : Number.isFinite(lastMs) ? Math.max(0, ctx.now() - lastMs) : null,
      };
    }

    return {
      async next(cursor, ctx) {
        if (round.length === 0) round = [...feeds];
        const feed = round.shift()!;
        const fc = cursor?.feeds[feed] ?? emptyFeed();
        const page = await poll(feed, fc, ctx).catch((e: unknown) => {
          round.unshift(feed); // asked again after the backoff
          throw e;
        });
        // A sweep in progress goes to the back of the round, so every feed moves.
        if (page.cursor.next !== null) round.push(feed);
        const more = round.length > 0;
        if (!more) round = [...feeds];
        return { records: page.records, cursor: { v: 1, feeds: { ...cursor?.feeds, [feed]: page.cursor } }, more, lagMs: page.lagMs };
      },
      cursorOf(stored) {
        const c = stored as Partial<SentinelOneCursor> | null;
        if (!c || c.v !== 1 || typeof c.feeds !== 'object' || c.feeds === null) throw new Error('stored cursor is not a SentinelOne cursor { v: 1, feeds }');
        const out: SentinelOneCursor = { v: 1, feeds: {} };
        for (const [k, f] of Object.entries(c.feeds)) {
          if (k !== 'threats' && k !== 'alerts') throw new Error(`stored cursor names an unknown feed "${k}"`);
          out.feeds[k] = feedCursorOf(f, k);
        }
        return out;
      },
      describe: (c) =>
        feeds.map((f) => {
          const fc = c.feeds[f];
          return `${f} >= ${fc?.w.newest ?? 'start'}${fc?.next ? ' (paging)' : ''}`;
        }).join('; '),
      close: async () => undefined,
    };
  },
});
export default sentinelone;
