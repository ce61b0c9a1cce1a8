/**
 * The sql receiver against the real PostgreSQL and MariaDB of this machine (a table of its own per test,
 * dropped after) and a SQLite file, delivering into a real store through the real IntakeWriter (which
 * commits the receiver's cursor with the records).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { pino } from 'pino';
import { openTestStore, PG_URL, tempDir, type TestStore } from '../../support/stores.js';
import { waitFor } from '../../support/wait.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { receiverName } from '../../../src/intake/receivers/sql.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import type { IntakeWriter, Receiver, ReceiverStatus } from '../../../src/intake/receiver.js';
import { createIntakeWriter } from '../../../src/intake/writer.js';
import { RecordingIntake } from '../../support/intake.js';
import type { Logger } from '../../../src/util/log.js';

const MARIA_URL = process.env.FIDO_TEST_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306/test';
type Kind = 'postgres' | 'mariadb' | 'sqlite';
const KINDS: readonly Kind[] = ['postgres', 'mariadb', 'sqlite'];

// ---------------------------------------------------------------------------------------------------------
// The upstream database: one table `name` (id, ts, msg) per test.

interface Upstream {
  url: string;
  table: string;
  /** Runs SQL with bound values (setup only). */
  exec(sql: string, params?: unknown[]): Promise<void>;
  insert(rows: readonly { id: number | bigint; ts?: string; msg?: string }[]): Promise<void>;
  cleanup(): Promise<void>;
}

async function openUpstream(kind: Kind, dir: string): Promise<Upstream> {
  const table = `fido_sqlrx_${randomBytes(5).toString('hex')}`;
  if (kind === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL, options: '-c TimeZone=UTC' });
    await c.connect();
    await c.query(`create table ${table} (id bigint primary key, ts timestamptz(6), msg text)`);
    return {
      url: PG_URL,
      table,
      exec: async (sql, params = []) => void (await c.query(sql, params)),
      async insert(rows) {
        for (const r of rows) await c.query(`insert into ${table} (id, ts, msg) values ($1, $2, $3)`, [String(r.id), r.ts ?? null, r.msg ?? null]);
      },
      async cleanup() {
        await c.query(`drop table if exists ${table}`);
        await c.end();
      },
    };
  }
  if (kind === 'mariadb') {
    const u = new URL(MARIA_URL.replace(/^mariadb:/, 'mysql:'));
    const c = await mysql.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: u.username, database: u.pathname.slice(1), timezone: 'Z' });
    await c.query(`create table ${table} (id bigint primary key, ts datetime(6), msg text)`);
    return {
      url: MARIA_URL,
      table,
      exec: async (sql, params = []) => void (await c.query(sql, params)),
      async insert(rows) {
        for (const r of rows) await c.execute(`insert into ${table} (id, ts, msg) values (?, ?, ?)`, [BigInt(r.id), r.ts ?? null, r.msg ?? null]);
      },
      async cleanup() {
        await c.query(`drop table if exists ${table}`);
        await c.end();
      },
    };
  }
  const file = join(dir, 'upstream.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`create table ${table} (id integer primary key, ts text, msg text)`);
  return {
    url: `sqlite:${file}`,
    table,
    exec: async (sql, params = []) => void db.prepare(sql).run(...(params as unknown[])),
    async insert(rows) {
      const st = db.prepare(`insert into ${table} (id, ts, msg) values (?, ?, ?)`);
      for (const r of rows) st.run(BigInt(r.id), r.ts ?? null, r.msg ?? null);
    },
    async cleanup() {
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The receiving side

interface Rig {
  up: Upstream;
  store: TestStore;
  intake: RecordingIntake;
  logs: string[];
  receiver(settings: Record<string, unknown>, o?: { intake?: IntakeWriter; source?: string }): Promise<Receiver>;
  /** Waits until the receiver has committed `n` records in all. */
  waitRecords(n: number): Promise<void>;
}

async function withRig(kind: Kind, fn: (rig: Rig) => Promise<void>): Promise<void> {
  const dir = tempDir('fido-sqlrx-');
  const store = await openTestStore('sqlite');
  const up = await openUpstream(kind, dir);
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) as unknown as Logger;
  const writer = createIntakeWriter(store.store, { maxBacklog: 1e9 });
  const intake = new RecordingIntake(writer);
  const started: Receiver[] = [];
  const rig: Rig = {
    up,
    store,
    intake,
    logs,
    async receiver(settings, o = {}) {
      const receiver = { kind: 'sql', url: up.url, query: `SELECT id, ts, msg FROM ${up.table}`, cursor: { column: 'id' }, interval: '20ms', ...settings };
      const [r] = await createReceivers([{ name: o.source ?? 'db', receiver }], { store: store.store, intake: o.intake ?? intake, log, configDir: dir, owner: 'proc-1' });
      assert.ok(r, 'a sql receiver is built');
      started.push(r);
      await r.start();
      return r;
    },
    waitRecords: (n) => waitFor(`${n} records`, () => intake.committed.length >= n).then(() => undefined),
  };
  try {
    await fn(rig);
  } finally {
    intake.releaseCrash();
    for (const r of started) await r.stop();
    await writer.close();
    await up.cleanup();
    await store.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ts = (s: number, micros = 0) => `2026-01-01 10:00:${String(s).padStart(2, '0')}.${String(micros).padStart(6, '0')}`;
const waitState = (r: Receiver, what: string, ok: (s: ReceiverStatus) => boolean) => waitFor(what, () => (ok(r.status!()) ? r.status!() : null));

// ---------------------------------------------------------------------------------------------------------

for (const kind of KINDS) {
  test(`${kind}: rows arrive in order, each once, across several batches, as JSON records`, async () => {
    await withRig(kind, async ({ up, intake, receiver, waitRecords }) => {
      await up.insert(range(1, 11).map((id) => ({ id, ts: ts(id), msg: `m${id}` })));
      const r = await receiver({ batch_size: 4 });
      await waitRecords(11);
      assert.deepEqual(intake.ids(), range(1, 11).map(String), 'every row once, in id order');
      assert.ok(intake.batchSizes.every((n) => n <= 4) && intake.batchSizes.length >= 3, `batches of at most batch_size: ${intake.batchSizes}`);
      const first = JSON.parse(intake.committed[0]!) as Record<string, unknown>;
      assert.deepEqual(first, { id: 1, ts: kind === 'postgres' ? '2026-01-01T10:00:01Z' : kind === 'mariadb' ? '2026-01-01T10:00:01.000000' : ts(1), msg: 'm1' }, 'column names as keys, values converted');
      const s = await waitState(r, 'status shows the cursor', (x) => x.cursor === '11');
      assert.equal(s.records, 11, 'status counts the records');
      assert.equal(s.state, 'running', 'status is running');
      assert.equal(s.error, null, 'no error');
    });
  });

  test(`${kind}: a restart after a crash between accept and the next poll resumes exactly`, async () => {
    await withRig(kind, async ({ up, store, intake, receiver, waitRecords }) => {
      await up.insert(range(1, 10).map((id) => ({ id, msg: `m${id}` })));
      intake.crashAfter = 2; // the 2nd batch commits, then the receiver "dies" before it learns so
      const r1 = await receiver({ batch_size: 3 });
      await waitRecords(6);
      const stopping = r1.stop();
      intake.releaseCrash();
      await stopping;
      const stored = await readCursorValue(store.store.db, receiverName('db'), 'position');
      assert.ok(stored?.includes('"6"'), `the cursor was committed with the batch: ${stored}`);
      await up.insert(range(11, 14).map((id) => ({ id })));
      await receiver({ batch_size: 3 });
      await up.insert([{ id: 15 }]);
      await waitRecords(15);
      assert.deepEqual(intake.ids(), range(1, 15).map(String), 'every row exactly once across the restart');
    });
  });

  test(`${kind}: timestamp + tie-breaker cursor with equal timestamps across batch boundaries`, async () => {
    await withRig(kind, async ({ up, intake, receiver, waitRecords }) => {
      // Ten rows on one timestamp (ids out of insertion order), then microsecond-apart ones.
      await up.insert([7, 3, 9, 1, 5, 2, 8, 4, 10, 6].map((id) => ({ id, ts: ts(1) })));
      await up.insert([{ id: 12, ts: ts(2, 1) }, { id: 11, ts: ts(2, 2) }, { id: 13, ts: ts(2, 2) }]);
      const r = await receiver({ batch_size: 3, cursor: { column: 'ts', tie_breaker: 'id' } });
      await waitRecords(13);
      await up.insert([{ id: 14, ts: ts(2, 2) }]); // same timestamp as the cursor, larger id: still new
      await waitRecords(14);
      assert.deepEqual(intake.ids(), [...range(1, 10), 12, 11, 13, 14].map(String), 'ordered by (ts, id), none skipped or repeated');
      await waitState(r, 'status cursor is the last pair', (s) => s.cursor?.endsWith(' / 14') === true);
    });
  });

  test(`${kind}: lookback takes a late row inside the window once, and misses one older than the window`, async () => {
    await withRig(kind, async ({ up, intake, receiver, waitRecords }) => {
      await up.insert(range(1, 5).map((id) => ({ id, ts: ts(10 + id) })));
      const settings = { batch_size: 2, cursor: { column: 'ts', tie_breaker: 'id' }, lookback: '10s' };
      let r = await receiver(settings);
      await waitRecords(5);
      // The newest taken is 10:00:15. 10:00:07 is 8 s older (inside 10 s); 10:00:01 is 14 s older (outside).
      await up.insert([{ id: 100, ts: ts(7) }, { id: 101, ts: ts(1) }, { id: 102, ts: ts(15) }]);
      await up.insert([{ id: 6, ts: ts(20) }]);
      await waitFor('the late row and the next one', () => intake.ids().includes('100') && intake.ids().includes('6'));
      // Restarted, the window's keys come from the committed cursor: nothing is taken again.
      const stopping = r.stop();
      await stopping;
      r = await receiver(settings);
      await up.insert([{ id: 7, ts: ts(21) }]);
      await waitFor('the sentinel row', () => intake.ids().includes('7'));
      const ids = intake.ids();
      for (const id of ['1', '2', '3', '4', '5', '100', '102', '6', '7']) assert.equal(ids.filter((x) => x === id).length, 1, `row ${id} taken exactly once: ${ids}`);
      assert.ok(!ids.includes('101'), 'a row committed more than lookback late is missed (documented)');
      assert.equal(ids.length, 9, `nothing else: ${ids}`);
    });
  });

  test(`${kind}: hostile values are just data`, async () => {
    await withRig(kind, async ({ up, intake, receiver, waitRecords }) => {
      const hostile = [`'; DROP TABLE ${up.table}; --`, `" OR 1=1 --`, 'back\\slash', '\u0000nul? no: ünïcødé ✓', `$1 ? :cursor`];
      await up.insert(hostile.map((msg, i) => ({ id: i + 1, msg: msg.replace('\u0000', '') })));
      await receiver({ batch_size: 2 });
      await waitRecords(hostile.length);
      const msgs = intake.committed.map((r) => (JSON.parse(r) as { msg: string }).msg);
      assert.deepEqual(msgs, hostile.map((m) => m.replace('\u0000', '')), 'values come back as they were stored');
      await up.insert([{ id: 99, msg: 'table still there' }]);
      await waitRecords(hostile.length + 1);
      assert.equal(intake.ids().at(-1), '99', 'the table survived and polling goes on');
    });
  });

  test(`${kind}: a bad query is a clear status error, retried, and fixed rows flow once it works`, async () => {
    await withRig(kind, async ({ up, intake, receiver, logs }) => {
      const missing = `${up.table}_nope`;
      const r = await receiver({ query: `SELECT id FROM ${missing}` });
      const s = await waitState(r, 'a failing status', (x) => x.state === 'failing');
      assert.ok(s.error?.includes('query failed') && s.error.includes('_nope'), `the error names the problem: ${s.error}`);
      assert.ok(logs.some((l) => l.includes('sql receiver failed')), 'the failure is logged');
      // Once the table exists, the retry succeeds and the error clears.
      await up.exec(`create table ${missing} (id integer)`);
      await up.exec(`insert into ${missing} (id) values (1)`);
      try {
        await waitFor('the row after recovery', () => intake.committed.length === 1);
        await waitState(r, 'error cleared', (x) => x.state === 'running' && x.error === null);
      } finally {
        await r.stop();
        await up.exec(`drop table ${missing}`);
      }
    });
  });

  test(`${kind}: a cursor column missing from the query is named in the status`, async () => {
    await withRig(kind, async ({ up, receiver }) => {
      await up.insert([{ id: 1 }]);
      const r = await receiver({ query: `SELECT id AS ident, msg FROM ${up.table}` });
      const s = await waitState(r, 'a failing status', (x) => x.state === 'failing');
      assert.ok(s.error?.includes('id'), `the error names the column: ${s.error}`);
    });
  });
}

test('postgres: integers beyond 2^53, bytes, decimals, booleans and json convert deterministically', async () => {
  await withRig('postgres', async ({ up, intake, receiver, waitRecords }) => {
    const t = `${up.table}_types`;
    await up.exec(`create table ${t} (id bigint primary key, b bytea, d numeric(10,2), ok boolean, j jsonb)`);
    try {
      await up.exec(`insert into ${t} values (9007199254740993, '\\x00ff', 1.50, true, '{"a":[1,"x"]}'), (9007199254740994, null, null, false, null)`);
      await receiver({ query: `SELECT * FROM ${t}`, batch_size: 1 });
      await waitRecords(2);
      assert.deepEqual(JSON.parse(intake.committed[0]!), { id: '9007199254740993', b: 'AP8=', d: '1.50', ok: true, j: { a: [1, 'x'] } }, 'exact conversions');
      assert.equal((JSON.parse(intake.committed[1]!) as { id: string }).id, '9007199254740994', 'the bigint cursor moved exactly');
    } finally {
      await up.exec(`drop table ${t}`);
    }
  });
});

test('the password never appears in the status or logs', async () => {
  const secret = `Sup3r-${randomBytes(6).toString('hex')}`;
  for (const [kind, settings] of [
    ['mariadb', { url: 'mariadb://fido_no_such_user@127.0.0.1:3306/test', password: secret }],
    ['postgres', { url: `postgres://postgres:${secret}@127.0.0.1:1/test` }],
  ] as const) {
    await withRig(kind, async ({ receiver, logs }) => {
      const r = await receiver(settings);
      const s = await waitState(r, `${kind}: a failing status`, (x) => x.state === 'failing');
      assert.ok(s.error && s.error.length > 0, `${kind}: an error is reported: ${s.error}`);
      await r.stop();
      assert.ok(!JSON.stringify(s).includes(secret), `${kind}: no password in the status: ${s.error}`);
      assert.ok(!logs.join('\n').includes(secret), `${kind}: no password in the logs`);
      if (kind === 'postgres') assert.ok(logs.some((l) => l.includes('postgres://postgres:***@127.0.0.1:1/test')), 'logs show the URL with its password masked');
    });
  }
});

test('sqlite: past lookback_keys the window shrinks to the remembered keys; nothing is taken twice', async () => {
  await withRig('sqlite', async ({ up, intake, receiver, waitRecords }) => {
    await up.insert(range(1, 5).map((id) => ({ id, ts: ts(10 + id) })));
    const settings = { batch_size: 2, cursor: { column: 'ts', tie_breaker: 'id' }, lookback: '1h', lookback_keys: 2 };
    await receiver(settings);
    await waitRecords(5);
    // Remembered: 10:00:14 and :15 only. A late row at :14 with a new id is inside; one at :12 is before the floor.
    await up.insert([{ id: 100, ts: ts(14) }, { id: 101, ts: ts(12) }]);
    await up.insert([{ id: 6, ts: ts(20) }]);
    await waitFor('the next row', () => intake.ids().includes('6'));
    const ids = intake.ids();
    assert.deepEqual(ids.filter((x) => x !== '6' && x !== '100'), ['1', '2', '3', '4', '5'], `nothing repeated: ${ids}`);
    assert.ok(ids.includes('100'), 'a late row at or after the oldest remembered key is taken');
    assert.ok(!ids.includes('101'), 'a late row before the oldest remembered key is missed (documented)');
  });
});

test('sqlite: turning lookback on over a strict cursor takes nothing twice', async () => {
  await withRig('sqlite', async ({ up, intake, receiver, waitRecords }) => {
    await up.insert(range(1, 4).map((id) => ({ id, ts: ts(10 + id) })));
    const strict = { batch_size: 3, cursor: { column: 'ts', tie_breaker: 'id' } };
    const r = await receiver(strict);
    await waitRecords(4);
    await r.stop();
    await receiver({ ...strict, lookback: '1h' });
    await up.insert([{ id: 5, ts: ts(15) }]);
    await waitRecords(5);
    await up.insert([{ id: 100, ts: ts(14) }, { id: 6, ts: ts(16) }]); // 100: older than the cursor, inside the window
    await waitFor('the late row and the next one', () => intake.ids().includes('6') && intake.ids().includes('100'));
    await up.insert([{ id: 7, ts: ts(17) }]);
    await waitRecords(8);
    assert.deepEqual(intake.ids(), ['1', '2', '3', '4', '5', '100', '6', '7'], 'every row once, the late one included');
  });
});

test('config checks: url scheme, lookback needs a tie-breaker, a whole-URL secret reference passes validate', async () => {
  const { default: kind } = await import('../../../src/intake/receivers/sql.js');
  const base = { name: 's', kind: 'sql' as const, url: 'postgres://u@h/db', query: 'SELECT 1', cursor: { column: 'id' } };
  assert.deepEqual(kind.check!(base), [], 'a good entry passes');
  assert.deepEqual(kind.check!({ ...base, url: '${env:ALERTS_DB_URL}' }), [], 'a reference is checked once resolved');
  assert.equal(kind.check!({ ...base, url: 'http://h/db' })[0]?.key, 'url', 'an unknown scheme is refused');
  assert.equal(kind.check!({ ...base, lookback: '5m' })[0]?.key, 'lookback', 'lookback without a tie-breaker is refused');
});
