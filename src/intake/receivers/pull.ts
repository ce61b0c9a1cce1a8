/**
 * The `pull` receiver kind: reads alerts from a vendor's API (`vendor:` names a puller in pull/vendors/:
 * crowdstrike, sentinelone, defender, carbon_black, okta, panos…) and hands each to the intake.
 *
 * - The puller's cursor is committed with the records of each page (receiver_cursors `pull:<source>`), so a
 *   crash or restart resumes after the last committed page: nothing is missed, nothing taken twice (within what
 *   each vendor's API allows: see its file).
 * - Requests are spaced to `requests_per_minute`; a 429 waits as long as the vendor said (Retry-After, or its
 *   own reset header), other failures back off (interval × 2ⁿ, at most 60 s); an expired token is fetched again.
 *   A failing puller never stops other receivers.
 * - One of several processes sharing a PostgreSQL store polls (lease `pull:<source>`).
 * - Secrets (`api_token`, `client_secret`…) are references, resolved at start, never in logs or status.
 */
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { discoverComponents } from '../../component/discover.js';
import type { ComponentProblem } from '../../component/component.js';
import { parseDuration } from '../../config/duration.js';
import type { SourceConfig } from '../../config/schema.js';
import { createRemoteClient, readCaFile, type RemoteClient } from '../../enrich/remote.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { defineReceiver, type ReceiverDeps } from '../receiver.js';
import { PolledReceiver } from '../polled.js';
import { pullSettingsSchema, type PullDriver, type Puller, type PullerBuild } from '../pull/puller.js';

export const pullers: readonly Puller[] = await discoverComponents<Puller>(new URL('../pull/vendors/', import.meta.url), 'puller', {
  nameOf: (p) => p.vendor,
  problemOf: (e) => (e && typeof e === 'object' && typeof (e as Puller).vendor === 'string' && typeof (e as Puller).create === 'function' ? undefined : 'does not default-export definePuller({…})'),
});

const DEFAULTS = { interval: '60s', start: '24h', requests_per_minute: 60, timeout: '30s' } as const;

/** The entry as the receiver kind's schema sees it: the shared keys and a vendor; the vendor's schema checks the rest. */
const PullEntrySchema = Type.Object({ ...pullSettingsSchema, vendor: Type.String({ description: `The vendor's API: ${pullers.map((p) => p.vendor).join(', ')}` }) }, { additionalProperties: true });

interface PullEntry {
  name: string;
  kind: 'pull';
  vendor: string;
  url?: string;
  allow_private?: boolean;
  tls_ca_file?: string;
  timeout?: string | number;
  interval?: string | number;
  page_size?: number;
  start?: string | number;
  requests_per_minute?: number;
  detector?: string;
}

const pullerOf = (vendor: string): Puller | undefined => pullers.find((p) => p.vendor === vendor);

function problems(c: PullEntry): ComponentProblem[] {
  const p = pullerOf(c.vendor);
  if (!p) return [{ key: 'vendor', message: `unknown vendor "${c.vendor}" (known: ${pullers.map((x) => x.vendor).join(', ')})` }];
  const bad = Value.Errors(p.schema, c)[0];
  if (bad) return [{ key: bad.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'vendor', message: bad.message }];
  const out: ComponentProblem[] = [];
  for (const k of ['interval', 'start', 'timeout'] as const) {
    try {
      if (c[k] !== undefined) parseDuration(c[k], k);
    } catch (e) {
      out.push({ key: k, message: (e as Error).message });
    }
  }
  const url = c.url ?? p.defaultUrl;
  if (url === undefined) out.push({ key: 'url', message: `is required for vendor ${p.vendor}` });
  else if (!/\$\{(env|file):/.test(url)) {
    const problem = outboundUrlProblem(url, { allowPrivate: c.allow_private ?? false });
    if (problem) out.push({ key: 'url', message: problem });
  }
  return [...out, ...(p.check?.(c as never) ?? [])];
}

export const receiverName = (source: string): string => `pull:${source}`;

/** Spaces requests evenly at `perMinute`, for every client of one receiver. */
function spacer(perMinute: number): (signal: AbortSignal) => Promise<void> {
  const gap = 60_000 / perMinute;
  let nextAt = 0;
  return async (signal) => {
    const now = Date.now();
    const at = Math.max(now, nextAt);
    nextAt = at + gap;
    if (at > now) {
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const aborted = (): void => (clearTimeout(t), reject(signal.reason as Error));
        // The listener goes with the wait: the signal lives as long as the receiver.
        const t = setTimeout(() => (signal.removeEventListener('abort', aborted), resolve()), at - now);
        signal.addEventListener('abort', aborted, { once: true });
      });
    }
  };
}

class PullReceiver extends PolledReceiver<unknown> {
  private abort = new AbortController();

  constructor(
    source: SourceConfig,
    private readonly driver: PullDriver<unknown>,
    private readonly o: { intervalMs: number; startMs: number; pageSize: number; detector: string | null; vendor: string; clients: RemoteClient[] },
    deps: ReceiverDeps,
  ) {
    super('pull', receiverName(source.name), source.name, { intervalMs: o.intervalMs, detector: o.detector }, deps, deps.log.child({ receiver: 'pull', vendor: o.vendor, source: source.name }));
  }

  protected parseCursor(stored: string): unknown {
    return this.driver.cursorOf(JSON.parse(stored));
  }

  protected describeCursor(c: unknown): string | null {
    return c === null || c === undefined ? null : this.driver.describe(c);
  }

  protected async poll(): Promise<boolean> {
    if (this.abort.signal.aborted) this.abort = new AbortController();
    const before = this.cursor ?? null;
    const now = Date.now();
    const page = await this.driver.next(before, { signal: this.abort.signal, startAt: now - this.o.startMs, pageSize: this.o.pageSize, now: Date.now });
    // An unchanged cursor with nothing new needs no commit.
    if (page.records.length > 0 || JSON.stringify(page.cursor) !== JSON.stringify(before)) {
      if (!(await this.deliver(page.records, page.cursor))) return false;
    }
    this.st = { ...this.st, state: 'running', error: null, lag_ms: page.lagMs };
    return page.more;
  }

  protected override stopRequested(): void {
    this.abort.abort(new Error('receiver stopping'));
  }

  /** Stops for good: the driver and its connection pools are closed (a stopped pull receiver is not started again). */
  override async stop(): Promise<void> {
    await super.stop();
    await this.driver.close();
    await Promise.all(this.o.clients.map((x) => x.close()));
  }
}

const pullReceiver = defineReceiver({
  kind: 'pull',
  description: "Pulls alerts from a vendor's API (CrowdStrike, SentinelOne, Defender, Carbon Black Cloud, Okta, PAN-OS) past a committed cursor",
  schema: PullEntrySchema,
  check: (c) => problems(c as PullEntry),
  create: async (config, deps) => {
    const c = config as PullEntry;
    const p = pullerOf(c.vendor)!;
    const key = `sources.${c.name}.receiver`;
    const dur = (k: 'interval' | 'start' | 'timeout') => parseDuration(c[k] ?? DEFAULTS[k], `${key}.${k}`);
    const ca = readCaFile(c.tls_ca_file, deps.configDir, key);
    const wait = spacer(c.requests_per_minute ?? DEFAULTS.requests_per_minute);
    const clients: RemoteClient[] = [];
    const build: PullerBuild = {
      configDir: deps.configDir,
      log: deps.log,
      client: (o = {}) => {
        const base = createRemoteClient({
          key,
          baseUrl: o.baseUrl ?? c.url ?? p.defaultUrl!,
          headers: o.headers ?? {},
          secrets: o.secrets ?? [],
          allowPrivate: c.allow_private ?? false,
          ...(ca !== undefined ? { ca } : {}),
          timeoutMs: dur('timeout'),
          maxBytes: 32 * 1024 * 1024,
          userAgent: 'fido-intake/1',
        });
        const limited: RemoteClient = {
          baseUrl: base.baseUrl,
          json: async (req) => (await wait(req.signal), base.json(req)),
          send: async (req) => (await wait(req.signal), base.send(req)),
          errorOf: (res, req) => base.errorOf(res, req),
          close: () => base.close(),
        };
        clients.push(limited);
        return limited;
      },
    };
    const driver = p.create(c as never, build) as PullDriver<unknown>;
    return new PullReceiver(
      deps.source,
      driver,
      {
        intervalMs: dur('interval'),
        startMs: dur('start'),
        pageSize: Math.min(c.page_size ?? p.defaultPageSize, p.maxPageSize),
        detector: c.detector ?? (deps.source.detector && deps.source.detector !== 'auto' ? deps.source.detector : null),
        vendor: p.vendor,
        clients,
      },
      deps,
    );
  },
});
export default pullReceiver;
