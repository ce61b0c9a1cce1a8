/**
 * Threat-intelligence feeds held in memory and refreshed on a schedule: a STIX 2.1 bundle (file or URL), a
 * TAXII 2.1 collection, abuse.ch's Feodo Tracker IP blocklist and URLhaus CSV downloads, or a text list of
 * one indicator per line. Lookups answer from memory with the local indicator lists' matching rules (an IP
 * in a CIDR, a domain and its parents, a URL exactly or by host, hashes exactly) in the common intelligence
 * shape (intel.ts); downloads run in the background, never in a lookup. A refresh that fails keeps the last
 * good copy and says so in every answer (`detail.stale_since`); with `cache_dir` the last download is kept
 * on disk, so a restart answers before the network does.
 *
 *   - name: feodo
 *     kind: feed
 *     format: feodo                      # stix | taxii | feodo | urlhaus | text
 *     url: https://feodotracker.abuse.ch/downloads/ipblocklist.csv
 *     interval: 1h
 *     cache_dir: /var/lib/fido/feeds
 *
 *   - name: isac
 *     kind: feed
 *     format: taxii
 *     url: https://taxii.isac.example/taxii2/
 *     collection: indicators             # id or title
 *     username: fido
 *     password: ${env:ISAC_TAXII_PASSWORD}
 *     interval: 15m
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer, type ProviderDeps } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { readCaFile, remoteSettingsSchema, secretSetting, SecretString } from '../remote.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { DataFileError, resolveDataPath, textHash } from '../localfile.js';
import { log } from '../../util/log.js';
import type { ComponentProblem } from '../../component/component.js';
import { buildFeedIndex, expiredCount, feedAnswer, type FeedIndex, type FeedValue, type SkipCounts } from './lib/feed-index.js';
import { mergeStixObjects, parseStixBundle, stixValues, type StixObject } from './lib/stix-bundle.js';
import { feodoValues, textValues, urlhausValues, type ListDefaults } from './lib/feed-formats.js';
import { createTextFetcher, type TextFetcher } from './lib/feed-fetch.js';
import { createTaxiiPoller, type TaxiiPoller } from './lib/feed-taxii.js';

const FORMATS = ['stix', 'taxii', 'feodo', 'urlhaus', 'text'] as const;
type FeedFormat = (typeof FORMATS)[number];

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('feed'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    format: Type.Union(FORMATS.map((f) => Type.Literal(f)), { description: 'stix (bundle), taxii (2.1 collection), feodo, urlhaus (abuse.ch CSV) or text' }),
    file: Type.Optional(Type.String({ description: 'Read the feed from this file instead of a url (stix, feodo, urlhaus, text)' })),
    interval: Type.Optional(Duration),
    collection: Type.Optional(Type.String({ minLength: 1, description: 'TAXII collection id or title' })),
    api_root: Type.Optional(Type.String({ minLength: 1, description: 'TAXII API root URL (skips discovery)' })),
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'TAXII objects per page (limit)' })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(SecretString),
    token: Type.Optional(SecretString),
    token_header: Type.Optional(Type.String({ minLength: 1, description: 'Header for token (default Authorization, sent as "Bearer <token>")' })),
    download_timeout: Type.Optional(Duration),
    max_bytes: Type.Optional(Type.Integer({ minimum: 1024, description: 'Largest download or TAXII page, in bytes (default 64 MiB)' })),
    cache_dir: Type.Optional(Type.String({ description: 'Keeps the last download here, for restarts without the network' })),
    verdict: Type.Optional(Type.Union([Type.Literal('malicious'), Type.Literal('suspicious')], { description: 'Verdict of listed indicators (default malicious)' })),
    score: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Score of listed indicators without a confidence (default 75; 50 with verdict suspicious)' })),
  },
  { additionalProperties: false },
);
type FeedConfig = Static<typeof Schema>;

const DEFAULT_INTERVAL_MS = 3_600_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function problems(cfg: FeedConfig): ComponentProblem[] {
  const out: ComponentProblem[] = [];
  if (cfg.file !== undefined && cfg.url !== undefined) out.push({ key: 'file', message: 'give either file or url, not both' });
  if (cfg.file === undefined && cfg.url === undefined) out.push({ key: cfg.format === 'taxii' ? 'url' : 'file', message: `a ${cfg.format} feed needs ${cfg.format === 'taxii' ? 'url' : 'a file or a url'}` });
  if (cfg.format === 'taxii') {
    if (cfg.file !== undefined) out.push({ key: 'file', message: 'a taxii feed is read from a server: use url' });
    if (!cfg.collection) out.push({ key: 'collection', message: 'a taxii feed needs the collection to poll (its id or title)' });
  } else {
    for (const k of ['collection', 'api_root', 'page_size'] as const) if (cfg[k] !== undefined) out.push({ key: k, message: `${k} applies to format taxii only` });
  }
  if (cfg.url !== undefined) {
    const p = outboundUrlProblem(cfg.url, { allowPrivate: cfg.allow_private ?? false });
    if (p) out.push({ key: 'url', message: p });
  }
  if (cfg.api_root !== undefined && /^[a-z]+:/i.test(cfg.api_root) && cfg.url !== undefined) {
    const p = outboundUrlProblem(cfg.api_root, { allowPrivate: cfg.allow_private ?? false });
    if (p) out.push({ key: 'api_root', message: p });
    else if (new URL(cfg.api_root).origin !== new URL(cfg.url).origin) out.push({ key: 'api_root', message: 'must be on the same server (origin) as url' });
  }
  if ((cfg.username === undefined) !== (cfg.password === undefined)) out.push({ key: cfg.username === undefined ? 'username' : 'password', message: 'username and password go together' });
  if (cfg.username !== undefined && cfg.token !== undefined) out.push({ key: 'token', message: 'give either username/password or token, not both' });
  if (cfg.token_header !== undefined && cfg.token === undefined) out.push({ key: 'token_header', message: 'token_header needs a token' });
  if (cfg.file !== undefined && (cfg.username ?? cfg.token ?? cfg.cache_dir) !== undefined) {
    out.push({ key: cfg.cache_dir !== undefined ? 'cache_dir' : cfg.token !== undefined ? 'token' : 'username', message: 'applies to downloads (url) only' });
  }
  return out;
}

/** What a feed provider says about itself, for tests and `fido lookup`. */
export interface FeedStatus {
  indicators: number;
  skipped: SkipCounts;
  updatedAt: number | null;
  staleSince: number | null;
  lastError: string | null;
  /** TAXII: the added_after of the next poll. */
  addedAfter: string | null;
}

export interface FeedProvider extends EnrichmentProvider {
  /** Downloads (or re-reads) the feed now; resolves when done, never rejects (a failure is kept in status). */
  refresh(): Promise<FeedStatus>;
  status(): FeedStatus;
}

/** What a cache file holds: the last download as text, or a TAXII collection's objects and where to go on. */
interface CacheFile {
  version: 1;
  saved_at: number;
  text?: string;
  taxii?: { added_after: string | null; objects: StixObject[] };
}

function authHeaders(cfg: FeedConfig, key: string): Record<string, string> {
  if (cfg.username !== undefined && cfg.password !== undefined) {
    const pass = secretSetting(cfg.password, `${key}.password`);
    return { authorization: `Basic ${Buffer.from(`${cfg.username}:${pass}`).toString('base64')}` };
  }
  if (cfg.token !== undefined) {
    const token = secretSetting(cfg.token, `${key}.token`);
    const name = cfg.token_header ?? 'Authorization';
    return { [name.toLowerCase()]: name.toLowerCase() === 'authorization' ? `Bearer ${token}` : token };
  }
  return {};
}

export async function createFeed(cfg: FeedConfig, deps: ProviderDeps): Promise<FeedProvider> {
  const key = `enrichment.providers.${cfg.name}`;
  const format: FeedFormat = cfg.format;
  const intervalMs = cfg.interval === undefined ? DEFAULT_INTERVAL_MS : parseDuration(cfg.interval, `${key}.interval`);
  const verdict = cfg.verdict ?? 'malicious';
  // A suspicious list scores below the malicious threshold (75) unless the entry says otherwise.
  const defaults: ListDefaults = { verdict, score: cfg.score ?? (verdict === 'suspicious' ? 50 : 75) };
  const remote = {
    key,
    headers: authHeaders(cfg, key),
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
    timeoutMs: cfg.download_timeout === undefined ? 60_000 : parseDuration(cfg.download_timeout, `${key}.download_timeout`),
    maxBytes: cfg.max_bytes ?? DEFAULT_MAX_BYTES,
  };
  const file = cfg.file === undefined ? null : resolveDataPath(cfg.file, deps.configDir);
  const fetcher: TextFetcher | null = cfg.url !== undefined && format !== 'taxii' ? createTextFetcher({ ...remote, url: cfg.url }) : null;
  const taxii: TaxiiPoller | null =
    format === 'taxii'
      ? createTaxiiPoller({ ...remote, url: cfg.url!, apiRoot: cfg.api_root, collection: cfg.collection!, pageSize: cfg.page_size ?? 1000 })
      : null;
  const cachePath = cfg.cache_dir === undefined ? null : join(resolveDataPath(cfg.cache_dir, deps.configDir), `${cfg.name.replace(/[^A-Za-z0-9._-]/g, '_')}.feed.json`);

  let current: FeedIndex | null = null;
  let updatedAt: number | null = null;
  let staleSince: number | null = null;
  let lastError: string | null = null;
  // TAXII: every indicator seen so far (latest version of each), and where the next poll starts.
  const taxiiObjects = new Map<string, StixObject>();
  let addedAfter: string | null = null;

  /** A downloaded or read text → index (throws when the text is not the format). */
  function indexText(text: string, where: string): FeedIndex {
    const skipped: SkipCounts = {};
    let values: FeedValue[];
    try {
      if (format === 'stix') values = stixValues(parseStixBundle(text), deps.now(), defaults, skipped);
      else if (format === 'feodo') values = feodoValues(text, where, defaults, skipped);
      else if (format === 'urlhaus') values = urlhausValues(text, where, defaults, skipped);
      else values = textValues(text, defaults, skipped);
    } catch (e) {
      throw e instanceof DataFileError ? e : new DataFileError(where, null, (e as Error).message);
    }
    return buildFeedIndex(values, textHash(text), skipped, cfg.name);
  }

  function indexTaxii(): FeedIndex {
    const skipped: SkipCounts = {};
    const values = stixValues(taxiiObjects.values(), deps.now(), defaults, skipped);
    const versions = [...taxiiObjects.values()].map((o) => `${String(o.id)}@${String(o.modified ?? o.created ?? '')}`).sort();
    return buildFeedIndex(values, textHash(versions.join('\n')), skipped, cfg.name);
  }

  function saveCache(content: Omit<CacheFile, 'version' | 'saved_at'>): void {
    if (!cachePath) return;
    try {
      mkdirSync(join(cachePath, '..'), { recursive: true });
      const tmp = `${cachePath}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ version: 1, saved_at: deps.now(), ...content } satisfies CacheFile));
      renameSync(tmp, cachePath);
    } catch (e) {
      log.warn({ provider: cfg.name, file: cachePath, err: (e as Error).message }, 'feed: cannot write the cache file');
    }
  }

  function loadCache(): void {
    if (!cachePath) return;
    let c: CacheFile;
    try {
      c = JSON.parse(readFileSync(cachePath, 'utf8')) as CacheFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ provider: cfg.name, file: cachePath, err: (e as Error).message }, 'feed: ignoring an unreadable cache file');
      return;
    }
    try {
      if (format === 'taxii' && c.taxii) {
        mergeStixObjects(taxiiObjects, c.taxii.objects);
        addedAfter = c.taxii.added_after;
        current = indexTaxii();
      } else if (typeof c.text === 'string') current = indexText(c.text, cachePath);
      if (current) updatedAt = c.saved_at;
    } catch (e) {
      log.warn({ provider: cfg.name, file: cachePath, err: (e as Error).message }, 'feed: ignoring a cache file that does not parse');
    }
  }

  let inflight: Promise<FeedStatus> | null = null;
  let abort = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  async function load(): Promise<void> {
    const signal = abort.signal;
    if (taxii) {
      const polled = await taxii.poll(addedAfter, signal);
      // Only indicators are kept (a server may ignore match[type]); they accumulate across polls.
      mergeStixObjects(taxiiObjects, polled.objects.filter((o) => o.type === 'indicator'));
      addedAfter = polled.addedAfter;
      current = indexTaxii();
      saveCache({ taxii: { added_after: addedAfter, objects: [...taxiiObjects.values()] } });
    } else if (fetcher) {
      const text = await fetcher.get(signal);
      current = indexText(text, cfg.url!);
      saveCache({ text });
    } else {
      current = indexText(await readFile(file!, 'utf8'), file!);
    }
    updatedAt = deps.now();
  }

  const status = (): FeedStatus => ({
    indicators: current?.records.size ?? 0,
    skipped: current?.skipped ?? {},
    updatedAt,
    staleSince,
    lastError,
    addedAfter,
  });

  function refresh(): Promise<FeedStatus> {
    inflight ??= load()
      .then(
        () => {
          staleSince = null;
          lastError = null;
        },
        (e: unknown) => {
          lastError = (e as Error).message;
          staleSince ??= deps.now();
          log.warn({ provider: cfg.name, err: lastError }, current ? 'feed: refresh failed, keeping the previous copy' : 'feed: download failed, no data yet');
        },
      )
      .then(() => {
        inflight = null;
        schedule();
        return status();
      });
    return inflight;
  }

  function schedule(): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void refresh(), intervalMs);
    timer.unref();
  }

  if (file) {
    // A file is read now, so that a bad file stops start (and `fido config validate`) with file:line.
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new DataFileError(file, null, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    current = indexText(text, file);
    updatedAt = deps.now();
    schedule();
  } else {
    loadCache();
    // The first download runs in the background: start does not wait for (or fail on) the network.
    void refresh();
  }

  const about = (): Record<string, unknown> => ({
    feed: cfg.name,
    updated_at: updatedAt === null ? null : new Date(updatedAt).toISOString(),
    ...(staleSince !== null ? { stale_since: new Date(staleSince).toISOString(), refresh_error: lastError } : {}),
  });

  return {
    name: cfg.name,
    kind: 'feed',
    subjects: ['ip', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256'],
    local: true,
    inMemory: true,
    async lookup(subject: LookupSubject): Promise<ProviderAnswer> {
      // No data at all is not "unknown": saying so would clear every indicator until the first download.
      if (!current) throw new Error(`feed ${cfg.name} has no data yet${lastError ? `: ${lastError}` : ' (first download in progress)'}`);
      return feedAnswer(current, subject, deps.now(), about());
    },
    async revision() {
      return current ? `${current.hash}.${expiredCount(current, deps.now())}` : 'empty';
    },
    refresh,
    status,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      abort.abort();
      abort = new AbortController();
      await Promise.all([fetcher?.close(), taxii?.close()]);
    },
  };
}

const feed = defineProvider({
  kind: 'feed',
  description: 'Threat-intelligence feeds in memory, refreshed on a schedule: STIX 2.1 bundles, TAXII 2.1 collections, abuse.ch Feodo/URLhaus CSV, text lists',
  schema: Schema,
  check: problems,
  create: (cfg, deps): Promise<EnrichmentProvider> => createFeed(cfg, deps),
});

export default feed;
