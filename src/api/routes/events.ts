/**
 * GET /api/v1/events: the change feed (store/change-feed.ts) as server-sent events, for the live queue and
 * for other tools (issue 18).
 *
 * - Events: `incident` and `action` (JSON data), `ready` (first, with the cursor the stream starts after) and
 *   `reset` (the client missed too much, or sent a cursor that is not ours: reload, then go on from its id).
 *   Every event's `id:` is an opaque cursor; reconnecting with `Last-Event-ID` (EventSource does it by itself)
 *   or `?since=` resumes after it, replaying at most `maxBacklog` events.
 * - One store reader per process fans out to every stream; each event is serialised once.
 * - A client that does not read is dropped once `maxBufferedBytes` wait in its socket's buffer: memory per
 *   stream stays bounded, and the client reconnects with Last-Event-ID (or gets a reset).
 * - At most `maxStreams` streams (503 + Retry-After past it), `maxStreamsPerToken` per token (429).
 * - Streams end when the server closes (preClose), so close does not wait for them.
 * - Auth is the bearer token like every route; a browser EventSource cannot set headers, so the web app
 *   needs a cookie session (or fetch streaming) to use this route.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Query, errors } from '../schemas.js';
import { FidoError } from '../../errors.js';
import { ChangeFeed, decodeCursor, encodeCursor, readBacklog, type ChangeFeedOptions, type FeedEvent, type FeedTable } from '../../store/change-feed.js';
import { errorContext, log } from '../../util/log.js';

export interface EventStreamOptions extends ChangeFeedOptions {
  /** A comment line this often keeps proxies and the idle timeout from cutting a quiet stream (default 15 s). */
  heartbeatMs?: number;
  maxStreams?: number;
  maxStreamsPerToken?: number;
  /** Events replayed to a resuming client; past it, a reset (default 1000). */
  maxBacklog?: number;
  /** Bytes that may wait for one client before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Retry-After of the 503/429 answers, and the `retry:` a client waits before reconnecting. */
  retryAfterSeconds?: number;
}

/** What the streams of one server hold: for tests and metrics. */
export interface EventStreamStats {
  streams: number;
  /** Bytes written to streams and not yet taken by the kernel, over all streams. */
  bufferedBytes: number;
  /** Streams dropped because their client did not read. */
  dropped: number;
  /** Store reads the shared feed has made. */
  reads: number;
}

const stats = new WeakMap<object, () => EventStreamStats>();

/** The stream counters of the API whose HTTP server is `server` (app.server). */
export function eventStreamStats(server: object): EventStreamStats | null {
  return stats.get(server)?.() ?? null;
}

const TYPES: readonly FeedTable[] = ['incident', 'action'];

interface Stream {
  res: ServerResponse;
  tokenId: string;
  types: ReadonlySet<FeedTable>;
  minScore: number | null;
  /** Per table: events at or before these positions were replayed already (a cursor ahead of this feed). */
  after: { incident: readonly [number, string]; action: readonly [number, string] } | null;
  close(): void;
}

const positionAfter = (a: readonly [number, string], b: readonly [number, string]) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

export default async function eventRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const o = ctx.events ?? {};
  const heartbeatMs = o.heartbeatMs ?? 15_000;
  const maxStreams = o.maxStreams ?? 100;
  const maxPerToken = o.maxStreamsPerToken ?? 10;
  const maxBacklog = o.maxBacklog ?? 1000;
  const maxBuffered = o.maxBufferedBytes ?? 1024 * 1024;
  const retryAfter = o.retryAfterSeconds ?? 2;
  const feed = new ChangeFeed(ctx.store, o);
  const streams = new Set<Stream>();
  const perToken = new Map<string, number>();
  let dropped = 0;
  let heartbeat: NodeJS.Timeout | null = null;

  stats.set(app.server, () => ({
    streams: streams.size,
    bufferedBytes: [...streams].reduce((n, s) => n + s.res.writableLength, 0),
    dropped,
    reads: feed.reads,
  }));

  /**
   * False once the client is gone or dropped. A client is dropped when what was written for it before is still
   * waiting in its socket's buffer (more than maxBuffered) as new events come: it reads slower than the feed
   * goes. The check is per batch, not per write, because the batch's writes are buffered together (Node
   * corks the socket until the next tick); so one stream holds at most maxBuffered plus one batch.
   */
  const keeps = (s: Stream): boolean => {
    if (s.res.destroyed || s.res.writableEnded) return false;
    if (s.res.writableLength <= maxBuffered) return true;
    dropped++;
    s.res.destroy();
    return false;
  };
  const send = (s: Stream, chunk: string): void => {
    if (!s.res.destroyed && !s.res.writableEnded) s.res.write(chunk);
  };
  const frame = (event: string, id: string | null, data: string) => `event: ${event}\n${id === null ? '' : `id: ${id}\n`}data: ${data}\n\n`;
  const wanted = (s: Stream, e: FeedEvent) =>
    s.types.has(e.type) && (s.minScore === null || e.type !== 'incident' || (e.score !== null && e.score >= s.minScore));
  const deliver = (s: Stream, events: readonly FeedEvent[]) => {
    if (!keeps(s)) return;
    for (const e of events) {
      if (s.after && !e.late && !positionAfter(e.position, s.after[e.type])) continue;
      // An unwanted event still moves the client's cursor: send its id alone, once per batch at the end.
      if (wanted(s, e)) send(s, frame(e.type, e.cursor, e.data));
    }
    const last = events.at(-1);
    if (last && !wanted(s, last)) send(s, `id: ${last.cursor}\n\n`);
  };

  app.addHook('preClose', async () => {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    for (const s of [...streams]) s.close();
    feed.close();
  });

  app.get(
    '/events',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Live changes to incidents and actions (server-sent events)',
        description:
          'text/event-stream of `incident` and `action` events, each with an opaque cursor as its id. Resume with the Last-Event-ID header or `since`; a `reset` event means reload.',
        querystring: Query({
          since: Type.Optional(Type.String({ maxLength: 400, description: 'resume after this event id (as Last-Event-ID)' })),
          types: Type.Optional(Type.String({ maxLength: 40, description: 'comma-separated: incident, action (default both)' })),
          min_score: Type.Optional(Type.Number({ description: 'only incidents scored at least this (actions are not filtered)' })),
        }),
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...errors(400, 401, 403, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const q = req.query as { since?: string; types?: string; min_score?: number };
      const types = new Set<FeedTable>();
      for (const t of (q.types ?? TYPES.join(',')).split(',')) {
        const name = t.trim();
        if (!(TYPES as readonly string[]).includes(name)) throw new FidoError('bad_request', `types: "${name.slice(0, 40)}" is not one of ${TYPES.join(', ')}`);
        types.add(name as FeedTable);
      }
      const tokenId = req.principal!.tokenId;
      if (streams.size >= maxStreams) {
        throw new FidoError('overloaded', `too many event streams (${maxStreams}); retry later`, { retryAfterSeconds: retryAfter });
      }
      if ((perToken.get(tokenId) ?? 0) >= maxPerToken) {
        throw new FidoError('backpressure', `this token has ${maxPerToken} event streams open already; close one or retry later`, { retryAfterSeconds: retryAfter });
      }
      const lastId = req.headers['last-event-id'];
      const sinceText = q.since ?? (typeof lastId === 'string' ? lastId : undefined);
      const since = sinceText === undefined ? null : decodeCursor(sinceText);

      const res = reply.raw;
      // Live events that arrive while the backlog is read wait here, then follow it.
      let pending: FeedEvent[] | null = [];
      const s: Stream = {
        res,
        tokenId,
        types,
        minScore: q.min_score ?? null,
        after: null,
        close: () => {
          if (!streams.delete(s)) return;
          const n = (perToken.get(tokenId) ?? 1) - 1;
          if (n > 0) perToken.set(tokenId, n);
          else perToken.delete(tokenId);
          sub?.stop();
          if (streams.size === 0 && heartbeat) {
            clearInterval(heartbeat);
            heartbeat = null;
          }
          if (!res.destroyed) res.end();
        },
      };
      streams.add(s);
      perToken.set(tokenId, (perToken.get(tokenId) ?? 0) + 1);
      let sub: { stop: () => void } | null = null;
      res.on('close', () => s.close());

      reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx would buffer the stream otherwise.
        'x-accel-buffering': 'no',
        // The connection serves this stream only: when it ends (also at shutdown), the socket closes with it.
        connection: 'close',
      });
      send(s, `retry: ${retryAfter * 1000}\n\n`);
      try {
        const subscription = await feed.subscribe((events) => (pending ? pending.push(...events) : deliver(s, events)));
        sub = subscription;
        if (!streams.has(s)) {
          subscription.stop(); // the client left while the feed started
          return;
        }
        const head = subscription.head;
        if (sinceText !== undefined && !since) {
          send(s, frame('reset', encodeCursor(head), JSON.stringify({ reason: 'unknown_cursor' })));
        } else if (since) {
          const backlog = await readBacklog(ctx.store.db, since, head, maxBacklog);
          if (backlog.overflow) send(s, frame('reset', encodeCursor(head), JSON.stringify({ reason: 'backlog', max: maxBacklog })));
          else {
            deliver(s, backlog.events);
            s.after = since;
          }
        } else {
          send(s, frame('ready', encodeCursor(head), JSON.stringify({ cursor: encodeCursor(head) })));
        }
        const waiting = pending;
        pending = null;
        deliver(s, waiting);
      } catch (err) {
        log.warn({ err: errorContext(err) }, 'events: a stream could not start');
        s.close();
        return;
      }
      heartbeat ??= setInterval(() => {
        for (const x of streams) if (keeps(x)) send(x, ': ping\n\n');
      }, heartbeatMs).unref();
    },
  );
}
