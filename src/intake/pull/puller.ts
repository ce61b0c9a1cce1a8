/**
 * The contract of a vendor API puller: one file in pull/vendors/ that default-exports `definePuller({…})`.
 * The `pull` receiver kind (receivers/pull.ts) runs every puller alike: it loads the committed cursor under
 * the source's lease, asks the puller for the page after it, hands the page's records to the intake with the
 * puller's new cursor in the same commit, asks again at once while the puller says there is more, and waits
 * `interval` otherwise; failures back off, a 429 waits as long as the vendor said. A puller only speaks its
 * vendor's API: which request reads the next page, what the cursor is, which record is which.
 * Reference puller: vendors/okta.ts.
 */
import { Type, type Static, type TObject, type TProperties } from 'typebox';
import { Duration } from '../../config/schema.js';
import type { ComponentProblem } from '../../component/component.js';
import { RemoteError, type RemoteClient } from '../../enrich/remote.js';
import type { Logger } from '../../util/log.js';
import type { IntakeRecord } from '../receiver.js';

/** Keys every `pull` receiver entry has; a vendor's schema adds its own (credentials, filters). */
export const pullSettingsSchema = {
  name: Type.String(),
  kind: Type.Literal('pull'),
  url: Type.Optional(Type.String({ description: "Base URL of the vendor's API (default: its public endpoint where there is one)" })),
  allow_private: Type.Optional(Type.Boolean({ description: 'Allow a url on a private or loopback address (an on-premises console, a test double)' })),
  tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA that signed the API certificate' })),
  timeout: Type.Optional(Duration),
  interval: Type.Optional(Duration),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: "Records asked for per request (default: the vendor's usual page, capped at its maximum)" })),
  start: Type.Optional(Duration),
  requests_per_minute: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Most API requests per minute, token requests included (default 60)' })),
  detector: Type.Optional(Type.String({ description: "Detector for the records; default the source's" })),
};

/** What `pull` passes a puller besides its entry. */
export interface PullerBuild {
  /** Directory of the config file: relative paths resolve against it. */
  configDir: string;
  log: Logger;
  /**
   * A client for one base URL of the vendor (default the entry's `url`), behind the outbound guard, TLS
   * verified with the entry's CA, rate limited with the receiver's other clients; `secrets` never appear in
   * its errors. Errors are RemoteErrors; a 429's wait is in `retryAfterMs` (Retry-After or the vendor's own
   * reset header).
   */
  client(o?: { baseUrl?: string; headers?: Record<string, string>; secrets?: readonly string[] }): RemoteClient;
}

/** What one request of the loop gets. */
export interface PullContext {
  signal: AbortSignal;
  /** Where a first run starts (epoch ms): now minus the entry's `start` (default 24 h). */
  startAt: number;
  pageSize: number;
  now(): number;
}

export interface PullPage<C> {
  /** Records to store, in the vendor's order; may be empty while the cursor still moves. */
  records: IntakeRecord[];
  /** The position after these records, committed with them. */
  cursor: C;
  /** Another page is ready now: the loop asks again without waiting. */
  more: boolean;
  /** How far behind the vendor the receiver is (ms): 0 when caught up, null when unknown. */
  lagMs: number | null;
}

export interface PullDriver<C> {
  /** The page after `cursor` (null: nothing committed yet; start at ctx.startAt). */
  next(cursor: C | null, ctx: PullContext): Promise<PullPage<C>>;
  /** A stored cursor, checked; throws naming what is wrong (the receiver then fails visibly). */
  cursorOf(stored: unknown): C;
  /** The cursor as short text for `fido receivers`. */
  describe(cursor: C): string;
  close(): Promise<void>;
}

/** A vendor: what `vendor:` names, its own keys, and how a driver is built from a checked entry. */
export interface Puller<S extends TObject = TObject, C = unknown> {
  readonly vendor: string;
  readonly description: string;
  /** The whole entry: pullSettingsSchema's keys, `vendor`, and the vendor's own (pullerSchema builds it). */
  readonly schema: S;
  /** Default `url` when the vendor has one public endpoint. */
  readonly defaultUrl?: string;
  /** Largest page the vendor serves; `page_size` is capped at it. */
  readonly maxPageSize: number;
  readonly defaultPageSize: number;
  check?(config: Static<S>): ComponentProblem[];
  create(config: Static<S>, build: PullerBuild): PullDriver<C>;
}

/** The schema of a vendor's entries: the shared keys, `vendor: <name>`, and its own. */
export function pullerSchema<P extends TProperties>(vendor: string, own: P) {
  return Type.Object({ ...pullSettingsSchema, vendor: Type.Literal(vendor), ...own }, { additionalProperties: false });
}

/** Declares a puller; `create` gets the entry typed by its schema. */
export function definePuller<S extends TObject, C>(p: Puller<S, C>): Puller<S, C> {
  return p;
}

/**
 * The query of a vendor's next-page link (`what`, e.g. "the @odata.nextLink"), checked to stay on `base`'s origin
 * and on `pathname`: an answer can send Fido neither to another host nor to another endpoint. Throws a
 * malformed RemoteError (the receiver fails visibly; no cursor moves) naming `where` and what was wrong.
 */
export function nextPageQuery(link: string, base: URL, pathname: string, where: string, what: string): string {
  let url: URL;
  try {
    url = new URL(link, base);
  } catch {
    throw new RemoteError(`${where}: ${what} is not a URL; refused`, 'malformed', 200);
  }
  if (url.origin !== base.origin || url.pathname !== pathname) {
    throw new RemoteError(`${where}: ${what} points elsewhere (${url.origin}${url.pathname}); refused`, 'malformed', 200);
  }
  return url.search.slice(1);
}
