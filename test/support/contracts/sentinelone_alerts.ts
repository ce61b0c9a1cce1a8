/**
 * A stand-in for the SentinelOne Management API v2.1 list endpoints the sentinelone puller reads, as documented
 * (console /api-doc; the parameters as the generated clients of swagger_2_1.json carry them, e.g. the
 * ThreatsQuery / ListAlertsQuery of ayol377/sentinelone-rs):
 *   GET /web/api/v2.1/threats — limit 1..1000, cursor, sortBy (id | createdAt | updatedAt), sortOrder asc|desc,
 *     createdAt__gte / updatedAt__gte (threatInfo.createdAt / updatedAt), siteIds, accountIds, skipCount;
 *   GET /web/api/v2.1/cloud-detection/alerts — the same paging, sortBy id | severity (createdAt is not a sort
 *     key of alerts: a 400 as the API's validation answers), createdAt__gte (alertInfo.createdAt);
 * answers {"data": [...], "pagination": {"nextCursor": <opaque or null>, "totalItems": n | null}}; errors
 * {"errors": [{"code", "detail", "title"}]}: 401 without `Authorization: ApiToken <token>`, 400 for bad
 * parameters, 429 with Retry-After. nextCursor is a keyset position (base64 of the last record's sort key and
 * id), so it stays valid across restarts and records added later come after it. Records are built from the
 * real v2.1 threat and STAR alert of test/fixtures/samples/sentinel_one (ids and times changed).
 */
import { readFileSync } from 'node:fs';
import { startContract, type ContractReply, type ContractRequest } from '../contract.js';

const SAMPLES = new URL('../../fixtures/samples/sentinel_one/', import.meta.url);
const firstLine = (file: string) => JSON.parse(readFileSync(new URL(file, SAMPLES), 'utf8').split('\n')[0]!) as Record<string, unknown>;
const THREAT = firstLine('threats_v21.jsonl');
const ALERT = firstLine('cloud_detection_alerts.jsonl');

type Rec = Record<string, unknown>;

export interface S1ListOptions {
  token: string;
  /** Answer 429 to these request numbers (0-based, counting every request). */
  rateLimited?: readonly number[];
  override?: (r: ContractRequest, n: number) => ContractReply | undefined;
}

const err = (status: number, code: number, title: string, detail: string): ContractReply => ({ status, json: { errors: [{ code, detail, title }] } });

/** A time as SentinelOne writes it: microseconds, Z. */
const s1Time = (ms: number) => `${new Date(ms).toISOString().slice(0, -1)}519Z`;
const idOf = (i: number) => String(1_900_000_000_000_000_000n + BigInt(i));

export async function s1ListServer(opts: S1ListOptions) {
  const threats: Rec[] = [];
  const alerts: Rec[] = [];
  const feeds = {
    '/web/api/v2.1/threats': {
      records: threats,
      sorts: ['id', 'createdAt', 'updatedAt'],
      times: ['createdAt', 'updatedAt'],
      id: (r: Rec) => String(r['id']),
      field: (r: Rec, f: string) => (f === 'id' ? String(r['id']) : String((r['threatInfo'] as Rec)[f])),
      site: (r: Rec) => String((r['agentDetectionInfo'] as Rec)['siteId']),
    },
    '/web/api/v2.1/cloud-detection/alerts': {
      records: alerts,
      sorts: ['id', 'severity'],
      times: ['createdAt'],
      id: (r: Rec) => String((r['alertInfo'] as Rec)['alertId']),
      field: (r: Rec, f: string) => (f === 'id' ? String((r['alertInfo'] as Rec)['alertId']) : f === 'severity' ? String((r['ruleInfo'] as Rec)['severity']) : String((r['alertInfo'] as Rec)[f])),
      site: (r: Rec) => String((r['agentDetectionInfo'] as Rec)['siteId']),
    },
  } as const;
  const srv = await startContract((r, n) => {
    const o = opts.override?.(r, n);
    if (o) return o;
    if (r.headers.authorization !== `ApiToken ${opts.token}`) return err(401, 4010010, 'Unauthorized', 'Authentication Failed');
    if (opts.rateLimited?.includes(n)) return { ...err(429, 4290010, 'Too Many Requests', 'Too many requests, try again later'), headers: { 'retry-after': '1' } };
    const feed = r.method === 'GET' ? feeds[r.path as keyof typeof feeds] : undefined;
    if (!feed) return err(404, 4040010, 'Not Found', 'Not found');
    const q = r.query;
    const limit = Number(q.get('limit') ?? 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return err(400, 4000010, 'Validation Error', 'limit: Must be between 1 and 1000.');
    const sortBy = q.get('sortBy') ?? 'id';
    if (!(feed.sorts as readonly string[]).includes(sortBy)) return err(400, 4000010, 'Validation Error', `sortBy: Must be one of: ${feed.sorts.join(', ')}.`);
    const order = q.get('sortOrder') ?? 'asc';
    if (order !== 'asc' && order !== 'desc') return err(400, 4000010, 'Validation Error', 'sortOrder: Must be one of: asc, desc.');
    let hits = [...feed.records];
    for (const t of ['createdAt', 'updatedAt']) {
      const v = q.get(`${t}__gte`);
      if (v === null) continue;
      if (!(feed.times as readonly string[]).includes(t)) return err(400, 4000010, 'Validation Error', `${t}__gte: Unknown field.`);
      const at = Date.parse(v);
      if (!Number.isFinite(at)) return err(400, 4000010, 'Validation Error', `${t}__gte: Not a valid datetime.`);
      hits = hits.filter((x) => Date.parse(feed.field(x, t)) >= at);
    }
    const sites = q.get('siteIds');
    if (sites !== null) hits = hits.filter((x) => sites.split(',').includes(feed.site(x)));
    // Keyset order: the sort key, then the id; the cursor is the last position handed out.
    const key = (x: Rec): [number | bigint | string, bigint] => {
      const v = feed.field(x, sortBy);
      return [sortBy === 'id' ? BigInt(v) : sortBy === 'severity' ? v : Date.parse(v), BigInt(feed.id(x))];
    };
    const cmp = (a: [number | bigint | string, bigint], b: [number | bigint | string, bigint]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
    hits.sort((a, b) => (order === 'asc' ? cmp(key(a), key(b)) : cmp(key(b), key(a))));
    const cursor = q.get('cursor');
    if (cursor !== null) {
      let pos: [number | bigint | string, bigint];
      try {
        const [k, id] = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as [string, string];
        pos = [sortBy === 'id' ? BigInt(k) : sortBy === 'severity' ? k : Number(k), BigInt(id)];
      } catch {
        return err(400, 4000010, 'Validation Error', 'cursor: Invalid cursor.');
      }
      hits = hits.filter((x) => (order === 'asc' ? cmp(key(x), pos) > 0 : cmp(key(x), pos) < 0));
    }
    const page = hits.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor = hits.length > limit && last ? Buffer.from(JSON.stringify(key(last).map(String))).toString('base64') : null;
    return { json: { data: page, pagination: { nextCursor, totalItems: q.get('skipCount') === 'true' ? null : hits.length } } };
  });
  return {
    ...srv,
    threats,
    alerts,
    /** Appends threats `from`..`to`, created at `time(i)` (default: a minute ago + i ms). */
    addThreats(from: number, to: number, o: { time?: (i: number) => number; extra?: (i: number) => Rec; site?: string } = {}): void {
      const base = Date.now() - 60_000;
      for (let i = from; i <= to; i++) {
        const t = s1Time(o.time ? o.time(i) : base + i);
        const copy = structuredClone(THREAT);
        const info = copy['threatInfo'] as Rec;
        Object.assign(info, { threatId: idOf(i), createdAt: t, updatedAt: t, identifiedAt: t, threatName: `Trojan.${i}`, ...o.extra?.(i) });
        Object.assign(copy['agentRealtimeInfo'] as Rec, { agentComputerName: `host-${i}` });
        Object.assign(copy['agentDetectionInfo'] as Rec, { siteId: o.site ?? '1234567890123456789' });
        copy['id'] = idOf(i);
        threats.push(copy);
      }
    },
    /** Marks threat `i` updated at `ms`. */
    updateThreat(i: number, ms: number): void {
      const t = threats.find((x) => x['id'] === idOf(i))!;
      (t['threatInfo'] as Rec)['updatedAt'] = s1Time(ms);
      (t['threatInfo'] as Rec)['mitigationStatus'] = 'mitigated';
    },
    /** Appends cloud-detection alerts `from`..`to` (alert ids increasing), created at `time(i)`. */
    addAlerts(from: number, to: number, o: { time?: (i: number) => number } = {}): void {
      const base = Date.now() - 60_000;
      for (let i = from; i <= to; i++) {
        const t = s1Time(o.time ? o.time(i) : base + i);
        const copy = structuredClone(ALERT);
        Object.assign(copy['alertInfo'] as Rec, { alertId: idOf(500 + i), createdAt: t, reportedAt: t, updatedAt: t });
        Object.assign(copy['ruleInfo'] as Rec, { name: `STAR rule ${i}` });
        alerts.push(copy);
      }
    },
  };
}

export const s1ThreatId = idOf;
export const s1AlertId = (i: number) => idOf(500 + i);
