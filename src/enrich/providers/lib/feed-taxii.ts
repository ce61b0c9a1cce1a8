/**
 * A TAXII 2.1 collection poller (OASIS TAXII 2.1, §4 discovery and API roots, §5 collections and objects):
 *
 *   GET {url}                                   discovery: { default, api_roots } (skipped when api_root is set)
 *   GET {api_root}                              { versions: ["application/taxii+json;version=2.1", …] }
 *   GET {api_root}/collections/                 { collections: [{ id, title, can_read }] }
 *   GET {api_root}/collections/{id}/objects/?added_after=…&limit=…&match[type]=indicator
 *                                               envelope { more, next, objects }, header X-TAXII-Date-Added-Last
 *
 * Every request carries `Accept: application/taxii+json;version=2.1`. Pages are followed with `next` (or,
 * when a server says `more` without a `next`, with added_after from X-TAXII-Date-Added-Last, as §3.4 allows),
 * and the last X-TAXII-Date-Added-Last is remembered so the next poll asks only for what was added since.
 * The API root and collection URLs a server hands out must stay on the configured URL's origin: the guard
 * and the credentials were configured for that origin, and a server does not get to send them elsewhere.
 */
import { createRemoteClient, RemoteError, statusError, type RemoteClient } from '../../remote.js';
import type { StixObject } from './stix-bundle.js';

export const TAXII_MEDIA_TYPE = 'application/taxii+json;version=2.1';

export interface TaxiiOptions {
  key: string;
  /** Discovery URL (…/taxii2/), or the server's origin when apiRoot is a full URL. */
  url: string;
  /** API root URL (absolute or relative to url); default: discovery's `default`, or its only root. */
  apiRoot?: string | undefined;
  /** Collection id or title. */
  collection: string;
  pageSize: number;
  headers: Record<string, string>;
  allowPrivate: boolean;
  ca?: string | undefined;
  timeoutMs: number;
  maxBytes: number;
  /** Safety stop for a server that pages forever. */
  maxPages?: number;
}

export interface TaxiiPoll {
  objects: StixObject[];
  /** X-TAXII-Date-Added-Last of the last page with objects, or the previous value. */
  addedAfter: string | null;
  pages: number;
}

export interface TaxiiPoller {
  poll(addedAfter: string | null, signal: AbortSignal): Promise<TaxiiPoll>;
  close(): Promise<void>;
}

const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

export function createTaxiiPoller(o: TaxiiOptions): TaxiiPoller {
  const base = new URL(o.url);
  const client: RemoteClient = createRemoteClient({
    key: o.key,
    baseUrl: base.origin,
    headers: o.headers,
    allowPrivate: o.allowPrivate,
    ca: o.ca,
    timeoutMs: o.timeoutMs,
    maxBytes: o.maxBytes,
  });
  let objectsUrl: URL | null = null;

  const sameOrigin = (u: URL, what: string): URL => {
    if (u.origin !== base.origin) throw new RemoteError(`${o.key}: the TAXII server named ${what} ${u.origin}, outside ${base.origin}; set api_root/url to it explicitly`, 'refused');
    return u;
  };
  const withSlash = (u: URL): URL => (u.pathname.endsWith('/') ? u : new URL(`${u.pathname}/${u.search}`, u));

  async function get(u: URL, query: Record<string, string | number | undefined>, signal: AbortSignal) {
    const req = { path: u.pathname, query, headers: { accept: TAXII_MEDIA_TYPE }, signal };
    const res = await client.send(req);
    if (res.status < 200 || res.status >= 300) throw statusError(res, `GET ${u.host}${u.pathname}`);
    return res;
  }

  async function findCollection(signal: AbortSignal): Promise<URL> {
    let root: URL;
    if (o.apiRoot) root = sameOrigin(withSlash(new URL(o.apiRoot, base)), 'an API root at');
    else {
      const d = asRecord((await get(base, {}, signal)).body);
      const roots = Array.isArray(d.api_roots) ? d.api_roots.filter((r): r is string => typeof r === 'string') : [];
      const chosen = typeof d.default === 'string' ? d.default : roots.length === 1 ? roots[0] : undefined;
      if (!chosen) throw new RemoteError(`${o.key}: discovery lists ${roots.length} API roots and no default; set api_root to one of ${roots.join(', ') || '(none)'}`, 'client');
      root = sameOrigin(withSlash(new URL(chosen, base)), 'an API root at');
    }
    const info = asRecord((await get(root, {}, signal)).body);
    const versions = Array.isArray(info.versions) ? info.versions.map(String) : [];
    if (versions.length && !versions.some((v) => v.replace(/\s/g, '') === TAXII_MEDIA_TYPE)) {
      throw new RemoteError(`${o.key}: the API root ${root.pathname} does not offer TAXII 2.1 (it offers ${versions.join(', ')})`, 'client');
    }
    const cols = asRecord((await get(new URL('collections/', root), {}, signal)).body).collections;
    const list = (Array.isArray(cols) ? cols : []).map(asRecord);
    const col = list.find((c) => c.id === o.collection) ?? list.find((c) => c.title === o.collection);
    if (!col || typeof col.id !== 'string') {
      throw new RemoteError(`${o.key}.collection: no collection "${o.collection}" at ${root.pathname} (there are: ${list.map((c) => `${String(c.title)} (${String(c.id)})`).join(', ') || 'none'})`, 'client');
    }
    if (col.can_read === false) throw new RemoteError(`${o.key}.collection: collection "${o.collection}" is not readable with these credentials`, 'auth');
    return new URL(`collections/${encodeURIComponent(col.id)}/objects/`, root);
  }

  async function poll(addedAfter: string | null, signal: AbortSignal): Promise<TaxiiPoll> {
    try {
      objectsUrl ??= await findCollection(signal);
    } catch (e) {
      objectsUrl = null;
      throw e;
    }
    const objects: StixObject[] = [];
    let after = addedAfter;
    let next: string | undefined;
    let pages = 0;
    const maxPages = o.maxPages ?? 10_000;
    for (;;) {
      let res;
      try {
        res = await get(objectsUrl, { added_after: next ? (addedAfter ?? undefined) : (after ?? undefined), limit: o.pageSize, 'match[type]': 'indicator', next }, signal);
      } catch (e) {
        // A collection that moved or went away: look it up again next time.
        if (e instanceof RemoteError && e.reason === 'not_found') objectsUrl = null;
        throw e;
      }
      pages++;
      const env = asRecord(res.body);
      if (res.body !== null && (typeof res.body !== 'object' || Array.isArray(res.body))) throw new RemoteError(`${o.key}: the objects answer is not a TAXII envelope`, 'malformed');
      const page = Array.isArray(env.objects) ? env.objects.map(asRecord) : [];
      objects.push(...page);
      const last = header(res.headers, 'x-taxii-date-added-last');
      if (page.length && last) after = last;
      if (env.more !== true || pages >= maxPages) break;
      if (typeof env.next === 'string' && env.next) next = env.next;
      else if (page.length && last) next = undefined; // continue from `after`
      else break;
    }
    return { objects, addedAfter: after, pages };
  }

  return { poll, close: () => client.close() };
}
