/**
 * Records per second from each receiver kind into the intake log, beside HTTP's (issue 19 item 8).
 *
 *   node --import tsx bench/receivers.ts [records=20000] [kinds=http,file,sql-sqlite,sql-postgres,nats,rabbitmq,kafka,pull,imap]
 *
 * Each kind gets a fresh SQLite store (a temp file, as the tests open it), the real IntakeWriter and the real
 * receiver, built from a source entry as fido.yaml gives it. The upstream is filled with `records` JSON records
 * of ~200 bytes first; the clock runs from the receiver's start until the last record is committed. The
 * upstreams are what this machine runs: PostgreSQL, NATS, RabbitMQ and a private Dovecot are real; Kafka is the
 * tests' stand-in broker (no Kafka can run here) and the vendor API is the tests' Okta System Log stand-in, so
 * those two figures are Fido's side plus a local fake. IMAP uses records/20 messages (a mail server is slow to
 * fill). HTTP: 4 clients posting batches of 100 records to POST /api/v1/alerts/{source}. Syslog has its own
 * bench (bench/syslog.ts). Printed only.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Connection as AmqpConnection } from 'rabbitmq-client';
import { request } from 'undici';
import { createReceivers } from '../src/intake/registry.js';
import { markChecked } from '../src/component/instantiate.js';
import { resolveSecretsDeep } from '../src/config/secrets.js';
import type { AcceptOptions, AcceptResult, IntakeRecord, IntakeWriter, Receiver } from '../src/intake/receiver.js';
import { createIntakeWriter, type ManagedIntakeWriter } from '../src/intake/writer.js';
import type { Logger } from '../src/util/log.js';
import { openTestStore, PG_URL, tempDir, type TestStore } from '../test/support/stores.js';
import { auth, testApi } from '../test/support/api.js';
import { oktaLogServer } from '../test/support/contracts/okta_logs.js';
import { KafkaStandIn } from '../test/support/kafka-broker.js';
import { startDovecot } from '../test/support/dovecot.js';

const args = process.argv.slice(2);
const N = Number(args[0] ?? 20_000);
const KINDS = (args[1] ?? 'http,file,sql-sqlite,sql-postgres,nats,rabbitmq,kafka,pull,imap').split(',');
const log = pino({ level: 'warn' }) as unknown as Logger;

const body = (i: number) =>
  JSON.stringify({ event: 'bench', n: i, src_ip: `10.1.${(i >> 8) & 255}.${i & 255}`, dest_ip: `192.0.2.${i % 200}`, signature: `ET MALWARE bench ${i % 97}`, user: `user${i % 997}` });

/** The real writer, counting committed records. */
class CountingIntake implements IntakeWriter {
  count = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  constructor(readonly writer: ManagedIntakeWriter) {}
  async accept(source: string, detector: string | null, records: readonly IntakeRecord[], options?: AcceptOptions): Promise<AcceptResult> {
    const r = await this.writer.accept(source, detector, records, options);
    this.count += records.length - (r.duplicates ?? 0);
    this.waiters = this.waiters.filter((w) => (this.count >= w.n ? (w.resolve(), false) : true));
    return r;
  }
  reached(n: number): Promise<void> {
    return this.count >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

interface Run {
  store: TestStore;
  intake: CountingIntake;
  dir: string;
}

/** Builds the receiver of `receiver` on a fresh store, starts it, and times `n` records into the log. */
async function timeReceiver(receiver: Record<string, unknown>, n: number, fill?: (run: Run) => Promise<void>): Promise<number> {
  const store = await openTestStore('sqlite');
  const writer = createIntakeWriter(store.store, { maxBacklog: 1e9 });
  const intake = new CountingIntake(writer);
  const dir = tempDir('fido-bench-rx-');
  let r: Receiver | undefined;
  try {
    await fill?.({ store, intake, dir });
    // As fido.yaml is loaded: secret references resolved, the entry taken as checked.
    const resolved = resolveSecretsDeep(receiver);
    markChecked(resolved);
    [r] = await createReceivers([{ name: 'bench', receiver: resolved } as never], { store: store.store, intake, log, configDir: dir, owner: 'bench' });
    const t0 = performance.now();
    await r!.start();
    await intake.reached(n);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await r?.stop();
    await writer.close();
    await store.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

const benches: Record<string, () => Promise<{ rate: number; n: number; note: string }>> = {
  async http() {
    const api = await testApi('sqlite', { maxBacklog: 1e9 });
    try {
      const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < N) {
            const from = next;
            next += 100;
            const lines = Array.from({ length: Math.min(100, N - from) }, (_, i) => body(from + i)).join('\n');
            const res = await request(`${url}/api/v1/alerts/ids`, { method: 'POST', headers: { ...auth('analyst'), 'content-type': 'application/x-ndjson' }, body: lines });
            await res.body.dump();
            if (res.statusCode !== 202) throw new Error(`intake answered ${res.statusCode}`);
          }
        }),
      );
      return { rate: N / ((performance.now() - t0) / 1000), n: N, note: '4 clients, 100 records per request, answered once committed' };
    } finally {
      await api.close();
    }
  },

  async file() {
    let path = '';
    const rate = await timeReceiver({ kind: 'file', path: 'alerts.jsonl', format: 'jsonl', start_at: 'beginning' }, N, async ({ dir }) => {
      path = join(dir, 'alerts.jsonl');
      writeFileSync(path, Array.from({ length: N }, (_, i) => body(i)).join('\n') + '\n');
    });
    return { rate, n: N, note: 'a JSON-lines file written before the start' };
  },

  async 'sql-sqlite'() {
    const rate = await timeReceiver({ kind: 'sql', url: 'sqlite:upstream.db', query: 'SELECT id, body FROM alerts', cursor: { column: 'id' }, batch_size: 5000, interval: '50ms' }, N, async ({ dir }) => {
      const db = new Database(join(dir, 'upstream.db'));
      db.exec('create table alerts (id integer primary key, body text)');
      const ins = db.prepare('insert into alerts (id, body) values (?, ?)');
      db.transaction(() => {
        for (let i = 1; i <= N; i++) ins.run(i, body(i));
      })();
      db.close();
    });
    return { rate, n: N, note: 'batch_size 5000, an id cursor' };
  },

  async 'sql-postgres'() {
    const table = `fido_bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(`create table ${table} (id bigint primary key, body text)`);
      await c.query(`insert into ${table} select g, $1 || g from generate_series(1, ${N}) g`, [body(0)]);
      const rate = await timeReceiver({ kind: 'sql', url: PG_URL, query: `SELECT id, body FROM ${table}`, cursor: { column: 'id' }, batch_size: 5000, interval: '50ms' }, N);
      return { rate, n: N, note: 'batch_size 5000, an id cursor, the PostgreSQL of this machine' };
    } finally {
      await c.query(`drop table if exists ${table}`);
      await c.end();
    }
  },

  async nats() {
    const server = process.env.FIDO_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
    const nc = await natsConnect({ servers: server });
    const jsm = await jetstreamManager(nc);
    const stream = `fido_bench_${randomBytes(4).toString('hex')}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    try {
      const js = jetstream(nc);
      for (let i = 0; i < N; i += 500) await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) => js.publish(`${stream}.alerts`, Buffer.from(body(i + k)))));
      const rate = await timeReceiver({ kind: 'nats', servers: [server], stream, durable: 'fido', subject: `${stream}.alerts`, batch: 500 }, N);
      return { rate, n: N, note: 'JetStream, batch 500, acked after each commit' };
    } finally {
      await jsm.streams.delete(stream);
      await nc.close();
    }
  },

  async rabbitmq() {
    const conn = new AmqpConnection('amqp://guest:guest@127.0.0.1:5672');
    const ch = await conn.acquire();
    const queue = `fido_bench_${randomBytes(4).toString('hex')}`;
    await ch.queueDeclare({ queue, durable: false });
    try {
      for (let i = 0; i < N; i++) await ch.basicPublish({ routingKey: queue }, Buffer.from(body(i)));
      const rate = await timeReceiver({ kind: 'rabbitmq', url: 'amqp://guest@127.0.0.1:5672', password: '${env:FIDO_BENCH_AMQP_PASSWORD}', queue, prefetch: 500 }, N);
      return { rate, n: N, note: 'prefetch 500, acked after each commit' };
    } finally {
      await ch.queueDelete({ queue }).catch(() => undefined);
      await ch.close();
      await conn.close();
    }
  },

  async kafka() {
    const b = await KafkaStandIn.start();
    try {
      b.createTopic('alerts', 2);
      for (let i = 0; i < N; i++) b.append('alerts', i % 2, body(i));
      const rate = await timeReceiver({ kind: 'kafka', brokers: [b.bootstrap], topics: ['alerts'], group_id: 'fido', allow_private: true, batch: 500, max_wait: '100ms' }, N);
      return { rate, n: N, note: 'two partitions of the stand-in broker (no Kafka here): Fido and kafkajs, not a broker' };
    } finally {
      await b.stop();
    }
  },

  async pull() {
    process.env['FIDO_BENCH_OKTA_TOKEN'] = 'bench-token';
    const okta = await oktaLogServer({ token: 'bench-token' });
    try {
      okta.add(1, N);
      const rate = await timeReceiver({ kind: 'pull', vendor: 'okta', url: okta.url, api_token: '${env:FIDO_BENCH_OKTA_TOKEN}', allow_private: true, page_size: 1000, interval: '50ms', requests_per_minute: 100_000 }, N);
      return { rate, n: N, note: 'Okta System Log stand-in, pages of 1000 (local: the figure is Fido\u2019s side)' };
    } finally {
      await okta.close();
    }
  },

  async imap() {
    const n = Math.max(50, Math.floor(N / 20));
    const dovecot = await startDovecot();
    process.env['FIDO_BENCH_IMAP_PASSWORD'] = dovecot.password;
    const admin = await dovecot.client();
    try {
      for (let i = 0; i < n; i++) {
        await admin.append('INBOX', `From: alerts@bench.example\r\nTo: fido@bench.example\r\nSubject: alert ${i}\r\nMessage-ID: <b${i}@bench.example>\r\n\r\n${body(i)}\r\n`);
      }
      const rate = await timeReceiver(
        { kind: 'imap', host: dovecot.host, port: dovecot.port, tls: 'none', user: dovecot.user, password: '${env:FIDO_BENCH_IMAP_PASSWORD}', senders: ['@bench.example'], batch_size: 100, interval: '1s' },
        n,
      );
      return { rate, n, note: 'a private Dovecot, plain text messages, batch 100, flagged after each commit' };
    } finally {
      await admin.logout().catch(() => undefined);
      await dovecot.stop();
    }
  },
};

process.env['FIDO_BENCH_AMQP_PASSWORD'] ??= 'guest';
console.log(`receivers → intake log (SQLite), ${N} records each; ${new Date().toISOString()}`);
for (const kind of KINDS) {
  const run = benches[kind];
  if (!run) throw new Error(`unknown kind ${kind} (known: ${Object.keys(benches).join(', ')})`);
  try {
    const { rate, n, note } = await run();
    console.log(`${kind.padEnd(13)} ${Math.round(rate).toLocaleString('en').padStart(8)} records/s  (${n} records; ${note})`);
  } catch (e) {
    console.log(`${kind.padEnd(13)} failed: ${(e as Error).message}`);
  }
}
process.exit(0);
