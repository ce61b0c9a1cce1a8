/**
 * A stand-in for Okta's System Log API as documented (developer.okta.com "System Log API"): GET /api/v1/logs
 * with `Authorization: SSWS <token>` (else 401 E0000011); `since` (inclusive), `sortOrder=ASCENDING`, `limit`
 * (at most 1000), `after` (an opaque position from a previous next link), `filter` (only `eventType eq "…"` is
 * understood here). Every answer carries `Link: <…>; rel="self"` and, in polling mode (since, no until),
 * `<…>; rel="next"` even when the page is empty; its `after` continues after the page's last event. A 429 carries
 * X-Rate-Limit-Limit / -Remaining / -Reset (epoch seconds) and the E0000047 body.
 */
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

export interface OktaEvent {
  uuid: string;
  published: string;
  eventType: string;
  [k: string]: unknown;
}

export interface OktaLogOptions {
  token: string;
  /** Answer 429 to these request numbers (0-based, counting every request). */
  rateLimited?: readonly number[];
  override?: (r: ContractRequest, n: number) => ContractReply | undefined;
}

export async function oktaLogServer(opts: OktaLogOptions) {
  const events: OktaEvent[] = [];
  const srv = await startContract((r, n) => {
    const o = opts.override?.(r, n);
    if (o) return o;
    if (r.headers.authorization !== `SSWS ${opts.token}`) {
      return { status: 401, json: { errorCode: 'E0000011', errorSummary: 'Invalid token provided', errorLink: 'E0000011', errorId: `oae${n}`, errorCauses: [] } };
    }
    if (opts.rateLimited?.includes(n)) {
      const reset = String(Math.ceil(Date.now() / 1000));
      return {
        status: 429,
        headers: { 'x-rate-limit-limit': '60', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': reset },
        json: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.', errorLink: 'E0000047', errorId: `oae${n}`, errorCauses: [] },
      };
    }
    if (r.method !== 'GET' || r.path !== '/api/v1/logs') return { status: 404, json: { errorCode: 'E0000022', errorSummary: 'The endpoint does not support the provided HTTP method' } };
    const limit = Math.min(Number(r.query.get('limit') ?? 100), 1000);
    if (!Number.isInteger(limit) || limit < 1) return { status: 400, json: { errorCode: 'E0000001', errorSummary: 'Api validation failed: limit' } };
    if (r.query.get('sortOrder') !== 'ASCENDING') return { status: 400, json: { errorCode: 'E0000001', errorSummary: 'this stand-in serves polling (sortOrder=ASCENDING) only' } };
    const since = r.query.get('since');
    const filter = r.query.get('filter');
    const wanted = /^eventType eq "([^"]*)"$/.exec(filter ?? '')?.[1];
    const after = r.query.get('after');
    // Positions are indexes into the (append-only, time-ordered) log, disguised as Okta's opaque tokens.
    let from = 0;
    if (after !== null) {
      const m = /^1[0-9]{12}_([0-9]+)$/.exec(after);
      if (!m) return { status: 400, json: { errorCode: 'E0000001', errorSummary: 'Api validation failed: after' } };
      from = Number(m[1]);
    } else if (since !== null) {
      const t = Date.parse(since);
      if (!Number.isFinite(t)) return { status: 400, json: { errorCode: 'E0000001', errorSummary: 'Api validation failed: since' } };
      from = events.findIndex((e) => Date.parse(e.published) >= t);
      if (from < 0) from = events.length;
    }
    const page: OktaEvent[] = [];
    let i = from;
    for (; i < events.length && page.length < limit; i++) if (wanted === undefined || events[i]!.eventType === wanted) page.push(events[i]!);
    const q = (extra: Record<string, string>) => new URLSearchParams({ ...(since ? { since } : {}), limit: String(limit), sortOrder: 'ASCENDING', ...(filter ? { filter } : {}), ...extra }).toString();
    const self = `<${srv.url}/api/v1/logs?${r.query.toString()}>; rel="self"`;
    const next = `<${srv.url}/api/v1/logs?${q({ after: `1700000000000_${i}` })}>; rel="next"`;
    return { headers: { link: `${self}, ${next}` }, json: page };
  });
  return {
    ...srv,
    events,
    /** Appends events `from`..`to` published `baseMs + i` ms, eventType security.threat.detected. */
    add(from: number, to: number, baseMs = Date.now() - 60_000): void {
      for (let i = from; i <= to; i++) {
        events.push({ uuid: `ev-${i}`, published: new Date(baseMs + i).toISOString(), eventType: i % 5 === 0 ? 'user.session.start' : 'security.threat.detected', severity: 'WARN', displayMessage: `event ${i}` });
      }
    },
  };
}
