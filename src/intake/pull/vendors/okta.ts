/**
 * Okta System Log (developer.okta.com "System Log API", GET /api/v1/logs), polled as Okta documents it: the
 * first request asks for events `since` the start, oldest first; every answer carries a `Link: <…>; rel="next"`
 * header whose `after` value continues exactly after its last event, and in this polling mode the next link is
 * there even when the page is empty. The cursor is that next link's query, committed with the page's events, so
 * a restart continues where the last committed page ended: no event missed or taken twice. A page shorter than
 * the limit means Fido has caught up; it waits `interval` before asking again.
 *
 * Auth: an API token (`Authorization: SSWS <token>`); 429s wait until X-Rate-Limit-Reset. The next link must
 * point at the same origin and path as the configured URL (an answer cannot send Fido elsewhere).
 * Each event is one record, read by the okta detector.
 */
import { Type } from 'typebox';
import { arr, obj, str } from '../../../enrich/json-read.js';
import { RemoteError, secretSetting } from '../../../enrich/remote.js';
import { definePuller, nextPageQuery, pullerSchema, type PullDriver } from '../puller.js';

const OktaSchema = pullerSchema('okta', {
  api_token: Type.String({ minLength: 1, description: 'An Okta API token with read access to the System Log, as a secret reference: ${env:OKTA_API_TOKEN}' }),
  filter: Type.Optional(Type.String({ minLength: 1, description: 'A System Log filter expression, e.g. eventType sw "security" (default: every event)' })),
});

export interface OktaCursor {
  v: 1;
  /** The query of the last next link (after, since, limit…), without the leading "?". */
  next: string;
}

const PATH = '/api/v1/logs';

/** The URL of `rel="next"` in a Link header, or null. */
export function nextLink(header: string | string[] | undefined): string | null {
  for (const value of Array.isArray(header) ? header : header ? [header] : []) {
    let i = 0;
    while (i < value.length) {
      const open = value.indexOf('<', i);
      const close = open < 0 ? -1 : value.indexOf('>', open);
      if (close < 0) break;
      const nextOpen = value.indexOf('<', close);
      const params = value.slice(close + 1, nextOpen < 0 ? value.length : nextOpen);
      if (/rel="?next"?/i.test(params)) return value.slice(open + 1, close);
      i = close + 1;
    }
  }
  return null;
}

const okta = definePuller({
  vendor: 'okta',
  description: 'Okta System Log events (GET /api/v1/logs, polled with since and the next link)',
  schema: OktaSchema,
  maxPageSize: 1000,
  defaultPageSize: 1000,
  create(config, build): PullDriver<OktaCursor> {
    const token = secretSetting(config.api_token, `sources.${config.name}.receiver.api_token`);
    const client = build.client({ headers: { authorization: `SSWS ${token}` } });
    const base = client.baseUrl;
    return {
      async next(cursor, ctx) {
        const query: Record<string, string> = cursor
          ? Object.fromEntries(new URLSearchParams(cursor.next))
          : {
              since: new Date(ctx.startAt).toISOString(),
              sortOrder: 'ASCENDING',
              limit: String(ctx.pageSize),
              ...(config.filter ? { filter: config.filter } : {}),
            };
        const res = await client.send({ path: PATH, query, signal: ctx.signal });
        if (res.status < 200 || res.status >= 300) throw client.errorOf(res, { path: PATH, signal: ctx.signal });
        const events = arr(res.body);
        if (!Array.isArray(res.body)) throw new RemoteError(`GET ${PATH} answered ${res.status} with something other than a list of events`, 'malformed', res.status);
        const link = nextLink(res.headers['link']);
        if (link === null) throw new RemoteError(`GET ${PATH} answered without a rel="next" link; the System Log's polling needs it`, 'malformed', res.status);
        const next = nextPageQuery(link, base, new URL(PATH, base).pathname, `GET ${PATH}`, 'the next link');
        const limit = Number(query['limit'] ?? ctx.pageSize);
        const more = events.length >= limit;
        const last = str(obj(events[events.length - 1])?.['published']);
        const lastMs = last === null ? NaN : Date.parse(last);
        return {
          records: events.map((e) => ({ raw: JSON.stringify(e) })),
          cursor: { v: 1, next },
          more,
          lagMs: more && Number.isFinite(lastMs) ? Math.max(0, ctx.now() - lastMs) : more ? null : 0,
        };
      },
      cursorOf(stored) {
        const c = stored as Partial<OktaCursor> | null;
        if (!c || c.v !== 1 || typeof c.next !== 'string') throw new Error('stored cursor is not an Okta next link { v: 1, next }');
        return c as OktaCursor;
      },
      describe: (c) => new URLSearchParams(c.next).get('after') ?? `since ${new URLSearchParams(c.next).get('since') ?? '?'}`,
      close: async () => undefined,
    };
  },
});
export default okta;
