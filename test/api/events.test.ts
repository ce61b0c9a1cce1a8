/**
 * GET /api/v1/events (issue 18): the change feed over server-sent events, on a real listening server and real
 * stores of both dialects. Changes are written the way other processes write them: through a second store
 * connection (its commits are what store.watchCommits sees) — and once through the whole running Fido, from
 * a posted alert to its incident. Event stream format: https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import { newActionRow } from '../../src/actions/outbox-row.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { buildApi } from '../../src/api/server.js';
import { ensureToken } from '../../src/api/auth.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { eventStreamStats, type EventStreamOptions, type EventStreamStats } from '../../src/api/routes/events.js';
import { openStore, type Db, type Store } from '../../src/store/store.js';
import type { DialectName } from '../../src/store/dialect.js';
import { ulid } from '../../src/util/ulid.js';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { TOKENS, auth, apiContext } from '../support/api.js';
import { waitFor } from '../support/wait.js';
import { E2E_TOKEN, startE2e } from '../support/e2e.js';

const BOUND = 10_000;

interface Served {
  url: string;
  port: number;
  /** A second connection to the same store: "another process". */
  other: Store;
  stats(): EventStreamStats;
  close(): Promise<void>;
}

const open: Served[] = [];
after(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function serve(dialect: DialectName, events: EventStreamOptions = {}): Promise<Served> {
  const t = await openTestStore(dialect);
  for (const role of ['viewer', 'analyst', 'admin'] as const) await ensureToken(t.store.db, TOKENS[role], role, role);
  const intake = createIntakeWriter(t.store, { maxBacklog: 100_000, backlogRefreshMs: 50 });
  const app = await buildApi(
    apiContext(t.store, {
      intake,
      sources: new Map([['ids', { name: 'ids', detector: 'suricata' }]]),
      allowUndeclaredSources: true,
      events: { pollMs: 200, heartbeatMs: 200, ...events },
    }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const other = await openStore({ databaseUrl: t.url, dataDir: t.dataDir, sqliteSynchronous: 'NORMAL' });
  let closed = false;
  const s: Served = {
    url: `http://127.0.0.1:${port}/api/v1/events`,
    port,
    other,
    stats: () => eventStreamStats(app.server)!,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await intake.close();
      await other.close();
      await t.cleanup();
    },
  };
  open.push(s);
  return s;
}

interface Sse {
  event: string;
  id: string | null;
  data: string;
}

/**
 * A streaming client (node:http, one connection of its own): parses frames as they come; `comments` counts
 * heartbeats. (fetch keeps an aborted stream's connection open, which would hold the server's close.)
 */
class Client {
  events: Sse[] = [];
  comments = 0;
  ended = false;
  status = 0;
  headers: IncomingHttpHeaders = {};
  private req: ClientRequest | null = null;

  static open(url: string, headers: Record<string, string> = auth('viewer')): Promise<Client> {
    const c = new Client();
    return new Promise((resolve, reject) => {
      c.req = request(url, { headers, agent: false }, (res) => {
        c.status = res.statusCode!;
        c.headers = res.headers;
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            c.frame(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
          }
        });
        res.on('close', () => (c.ended = true));
        res.on('error', () => undefined);
        if (c.status !== 200) res.on('end', () => resolve(c));
        else resolve(c);
      });
      c.req.on('error', (err) => (c.status ? undefined : reject(err)));
      c.req.end();
    });
  }

  private frame(block: string): void {
    if (this.status !== 200) {
      this.events.push({ event: 'error', id: null, data: block });
      return;
    }
    const e: Sse = { event: 'message', id: null, data: '' };
    let hasData = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments++;
      else if (line.startsWith('event: ')) e.event = line.slice(7);
      else if (line.startsWith('id: ')) e.id = line.slice(4);
      else if (line.startsWith('data: ')) (e.data = line.slice(6)), (hasData = true);
    }
    if (hasData) this.events.push(e);
  }

  of(type: string): Array<Record<string, unknown> & { id: string; updated_at: number }> {
    return this.events.filter((e) => e.event === type).map((e) => JSON.parse(e.data) as Record<string, unknown> & { id: string; updated_at: number });
  }

  close(): void {
    this.req?.destroy();
  }
}

let clock = Date.now();
/** Strictly increasing stamps, so that each write is a new version. */
const stamp = () => (clock = Math.max(clock + 1, Date.now()));

async function putIncident(db: Db, id: string, fields: { title?: string; score?: number | null; status?: string } = {}): Promise<number> {
  const now = stamp();
  const found = await db.selectFrom('incidents').select('id').where('id', '=', id).executeTakeFirst();
  if (found) {
    await db
      .updateTable('incidents')
      .set({ updated_at: now, ...(fields.title ? { title: fields.title } : {}), ...(fields.status ? { status: fields.status } : {}), ...(fields.score !== undefined ? { score_total: fields.score } : {}) })
      .where('id', '=', id)
      .execute();
    return now;
  }
  await db
    .insertInto('incidents')
    .values({
      id,
      title: fields.title ?? `incident ${id}`,
      status: fields.status ?? 'open',
      verdict: null,
      first_seen: now,
      last_seen: now,
      alert_count: 1,
      severity: 50,
      host: null,
      user_name: null,
      score_total: fields.score ?? null,
      score: null,
      decision: JSON.stringify({ outcome: 'escalate', rule: 'r1', actions: [] }),
      created_at: now,
      updated_at: now,
      pending_since: null,
      digest: null,
    })
    .execute();
  return now;
}

async function putAction(db: Db, incidentId: string): Promise<string> {
  const now = stamp();
  const row = newActionRow({ incident_id: incidentId, decision_id: null, kind: 'webhook', target: 'soar', idempotency_key: '', params: '{}', state: 'pending', approval: 'none' }, now);
  row.idempotency_key = row.id;
  await db.insertInto('actions').values(row).execute();
  return row.id;
}

for (const dialect of DIALECTS) {
  test(`${dialect}: a change committed elsewhere reaches the stream; resuming gets only later events`, async () => {
    // Polling off: the action insert must wake the feed through watchCommits (PostgreSQL: its NOTIFY trigger;
    // SQLite: data_version), the incident written in the same transaction rides along.
    const s = await serve(dialect, { pollMs: 600_000 });
    const c = await Client.open(s.url);
    assert.equal(c.status, 200);
    assert.match(String(c.headers['content-type']), /^text\/event-stream/);
    await waitFor('ready', () => c.events.find((e) => e.event === 'ready'), BOUND);

    const first = ulid();
    let actionId = '';
    await s.other.db.transaction().execute(async (tx) => {
      await putIncident(tx, first, { title: '<b>"hostile"</b>', score: 72 });
      actionId = await putAction(tx, first);
    });
    const inc = await waitFor('incident event', () => c.of('incident').find((e) => e.id === first), BOUND);
    assert.deepEqual(
      { title: inc.title, status: inc.status, score: inc.score, decision: inc.decision, assignee: inc.assignee },
      { title: '<b>"hostile"</b>', status: 'open', score: 72, decision: { outcome: 'escalate', rule: 'r1' }, assignee: null },
    );
    const act = await waitFor('action event', () => c.of('action').find((e) => e.id === actionId), BOUND);
    assert.deepEqual({ incident_id: act.incident_id, kind: act.kind, target: act.target, state: act.state }, { incident_id: first, kind: 'webhook', target: 'soar', state: 'pending' });
    const cursorAfterFirst = c.events.filter((e) => e.event === 'incident' || e.event === 'action').at(-1)!.id!;
    c.close();

    // Two changes after that cursor, while nobody listens.
    const second = ulid();
    await putIncident(s.other.db, second, { score: 10 });
    await putIncident(s.other.db, first, { status: 'closed' });

    const r = await Client.open(s.url, { ...auth('viewer'), 'last-event-id': cursorAfterFirst });
    await waitFor('the two later changes', () => r.of('incident').length >= 2, BOUND);
    assert.deepEqual(
      r.of('incident').map((e) => [e.id, e.status]),
      [
        [second, 'open'],
        [first, 'closed'],
      ],
    );
    assert.equal(r.of('action').length, 0, 'nothing at or before the cursor again');
    r.close();

    // ?since= works the same; a cursor that is not ours gets a reset to reload from.
    const g = await Client.open(`${s.url}?since=not-a-cursor`);
    const reset = await waitFor('reset', () => g.events.find((e) => e.event === 'reset'), BOUND);
    assert.equal(JSON.parse(reset.data).reason, 'unknown_cursor');
    assert.ok(reset.id);
    g.close();
  });

  test(`${dialect}: a burst of 500 changes gives every changed incident's latest version to every client, in few shared reads`, async () => {
    const s = await serve(dialect, { pageSize: 100, pollMs: 100 });
    const a = await Client.open(s.url);
    const b = await Client.open(`${s.url}?types=incident&min_score=50`);
    await waitFor('both ready', () => a.events.some((e) => e.event === 'ready') && b.events.some((e) => e.event === 'ready'), BOUND);
    const readsBefore = s.stats().reads;
    const ids = Array.from({ length: 250 }, () => ulid());
    // 500 commits: every incident created (score i), then changed once more (score i + 100). A read sees a
    // row as it is then: versions overwritten between two reads are not sent, the latest always is.
    const versions = new Map<string, number[]>();
    // 25 commits at a time: on PostgreSQL they land out of stamp order (the feed's late-commit path).
    for (const round of [0, 100]) {
      for (let k = 0; k < ids.length; k += 25) {
        await Promise.all(
          ids.slice(k, k + 25).map(async (id, j) => {
            const at = await putIncident(s.other.db, id, { score: k + j + round });
            versions.set(id, [...(versions.get(id) ?? []), at]);
          }),
        );
      }
    }
    const latest = new Set([...versions].map(([id, v]) => `${id}@${v[1]}`));
    const got = (c: Client) => new Set(c.of('incident').map((e) => `${e.id}@${e.updated_at}`));
    await waitFor('every latest version', () => [...latest].every((k) => got(a).has(k)), BOUND);
    const seen = a.of('incident').map((e) => `${e.id}@${e.updated_at}`);
    assert.equal(new Set(seen).size, seen.length, 'no version twice');
    const written = new Set([...versions].flatMap(([id, v]) => v.map((at) => `${id}@${at}`)));
    assert.ok(seen.every((k) => written.has(k)), 'only versions that were written');
    const reads = s.stats().reads - readsBefore;
    assert.ok(reads < 500, `coalesced: ${reads} reads for 500 commits and two clients`);
    // The filtered client: incidents scored 50 or more only; every latest version is (100 to 349).
    await waitFor('filtered events', () => [...latest].every((k) => got(b).has(k)), BOUND);
    assert.ok(b.of('incident').every((e) => (e.score as number) >= 50));
    assert.equal(b.of('action').length, 0);
    a.close();
    b.close();
  });
}

test('a resume past the backlog limit gets a reset; filters and bad types', async () => {
  const s = await serve('sqlite', { maxBacklog: 5 });
  const c = await Client.open(s.url);
  const ready = await waitFor('ready', () => c.events.find((e) => e.event === 'ready'), BOUND);
  c.close();
  for (let i = 0; i < 6; i++) await putIncident(s.other.db, ulid());
  const r = await Client.open(`${s.url}?since=${ready.id}`);
  const reset = await waitFor('reset', () => r.events.find((e) => e.event === 'reset'), BOUND);
  assert.deepEqual(JSON.parse(reset.data), { reason: 'backlog', max: 5 });
  assert.equal(r.of('incident').length, 0);
  // Live events go on after the reset.
  const later = ulid();
  await putIncident(s.other.db, later);
  await waitFor('live after reset', () => r.of('incident').some((e) => e.id === later), BOUND);
  r.close();

  const onlyActions = await Client.open(`${s.url}?types=action`);
  await waitFor('ready', () => onlyActions.events.some((e) => e.event === 'ready'), BOUND);
  const inc = ulid();
  await putIncident(s.other.db, inc);
  const act = await putAction(s.other.db, inc);
  await waitFor('action', () => onlyActions.of('action').some((e) => e.id === act), BOUND);
  assert.equal(onlyActions.of('incident').length, 0);
  onlyActions.close();

  // A late commit: stamped behind a row the feed has already read (another process's clock, a slow
  // transaction). It is still sent, once.
  const live = await Client.open(s.url);
  await waitFor('ready', () => live.events.some((e) => e.event === 'ready'), BOUND);
  const ahead = ulid();
  const aheadAt = stamp() + 1000;
  clock = aheadAt;
  await putIncident(s.other.db, ahead);
  await waitFor('the row ahead', () => live.of('incident').some((e) => e.id === ahead), BOUND);
  const behind = ulid();
  await s.other.db.transaction().execute(async (tx) => {
    await putIncident(tx, behind);
    await tx.updateTable('incidents').set({ updated_at: aheadAt - 500 }).where('id', '=', behind).execute();
  });
  await waitFor('the late row', () => live.of('incident').some((e) => e.id === behind), BOUND);
  await putIncident(s.other.db, ulid()); // one more read, which must not send the late row again
  await waitFor('a later row', () => live.of('incident').length >= 3, BOUND);
  assert.equal(live.of('incident').filter((e) => e.id === behind).length, 1);
  live.close();

  const bad = await Client.open(`${s.url}?types=incident,secrets`);
  assert.equal(bad.status, 400);
});

test('auth: viewer allowed, no token 401, a bad token 401', async () => {
  const s = await serve('sqlite');
  const none = await Client.open(s.url, {});
  assert.equal(none.status, 401);
  const wrong = await Client.open(s.url, { authorization: 'Bearer not-a-real-token-000' });
  assert.equal(wrong.status, 401);
  const viewer = await Client.open(s.url);
  assert.equal(viewer.status, 200);
  // Heartbeats keep a quiet stream alive.
  await waitFor('heartbeats', () => viewer.comments >= 2, BOUND);
  viewer.close();
});

test('stream limits: 503 with Retry-After past the total, 429 past the per-token limit; server close ends streams', async () => {
  const s = await serve('sqlite', { maxStreams: 2, maxStreamsPerToken: 1, retryAfterSeconds: 3 });
  const v = await Client.open(s.url);
  assert.equal(v.status, 200);
  const again = await Client.open(s.url);
  assert.equal(again.status, 429);
  assert.equal(again.headers['retry-after'], '3');
  const a = await Client.open(s.url, auth('analyst'));
  assert.equal(a.status, 200);
  await waitFor('two streams', () => s.stats().streams === 2, BOUND);
  const third = await Client.open(s.url, auth('admin'));
  assert.equal(third.status, 503);
  assert.equal(third.headers['retry-after'], '3');

  // A closed stream frees its place.
  a.close();
  await waitFor('one stream', () => s.stats().streams === 1, BOUND);
  const admin = await Client.open(s.url, auth('admin'));
  assert.equal(admin.status, 200);

  // Close with streams open: it finishes, and the streams end.
  await waitFor('closed', async () => (await s.close(), true), BOUND);
  await waitFor('streams ended', () => v.ended && admin.ended, BOUND);
  assert.equal(s.stats().streams, 0);
});

/** A client that sends its request and then reads nothing. */
function stalledClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1' }, () => {
      sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: fido\r\nAuthorization: Bearer ${TOKENS.viewer}\r\n\r\n`);
      sock.pause();
      resolve(sock);
    });
    sock.on('error', reject);
  });
}

test('a client that does not read is dropped with bounded memory; the others keep getting everything', async () => {
  const maxBufferedBytes = 64 * 1024;
  const pageBytes = 200 * 8200; // one read's events: what a stream may hold past the limit
  const s = await serve('sqlite', { maxBufferedBytes, pageSize: 200 });
  const reader = await Client.open(s.url);
  const stalled = await stalledClient(s.port);
  let closed = false;
  stalled.on('close', () => (closed = true));
  stalled.on('error', () => undefined); // reset by the server
  await waitFor('two streams', () => s.stats().streams === 2, BOUND);
  // ~16 MB of events: more than the kernel buffers of a loopback connection take.
  const title = 'x'.repeat(8000);
  const ids: string[] = [];
  let maxBuffered = 0;
  for (let batch = 0; batch < 10; batch++) {
    await s.other.db.transaction().execute(async (tx) => {
      for (let i = 0; i < 200; i++) {
        const id = ulid();
        ids.push(id);
        await putIncident(tx, id, { title });
      }
    });
    maxBuffered = Math.max(maxBuffered, s.stats().bufferedBytes);
  }
  await waitFor('the stalled client dropped', () => {
    maxBuffered = Math.max(maxBuffered, s.stats().bufferedBytes);
    return s.stats().dropped === 1;
  }, BOUND);
  stalled.resume(); // a paused socket does not notice the close
  await waitFor('the stalled connection closed', () => closed, BOUND);
  assert.ok(maxBuffered <= 2 * (maxBufferedBytes + pageBytes), `buffered ${maxBuffered} bytes`);
  await waitFor('every event for the reading client', () => reader.of('incident').length >= ids.length, BOUND);
  assert.equal(reader.of('incident').length, ids.length);
  assert.equal(s.stats().streams, 1);
  reader.close();
});

test('end to end: an alert posted to a running Fido reaches the live stream as an incident', async () => {
  const e = await startE2e('sqlite');
  try {
    const c = await Client.open(`${e.fido.url}/api/v1/events?types=incident`, { authorization: `Bearer ${E2E_TOKEN}` });
    await waitFor('ready', () => c.events.some((x) => x.event === 'ready'), BOUND);
    const record = { timestamp: new Date().toISOString(), event_type: 'alert', src_ip: '10.1.6.7', src_port: 1234, dest_ip: '198.51.100.23', dest_port: 443, proto: 'TCP', alert: { action: 'allowed', signature_id: 9000001, signature: 'events test', category: 'x', severity: 1 } };
    const r = await e.api('/alerts/ids', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: JSON.stringify(record) });
    assert.equal(r.status, 202);
    const decided = await waitFor('a decided incident', () => c.of('incident').find((x) => x.decision !== null), BOUND);
    assert.ok(decided.id);
    c.close();
  } finally {
    await e.close();
  }
});
