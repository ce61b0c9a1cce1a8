/**
 * The nats receiver against the real NATS JetStream server of this machine (127.0.0.1:4222), one stream per
 * test (deleted after), through the real intake writer and a SQLite store.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import natsComponent, { natsReceiver, type NatsReceiverConfig } from '../../../src/intake/receivers/nats.js';
import { bodies, duplicates, run, withBusRig, type BusRig } from '../../support/buses.js';
import { waitFor } from '../../support/wait.js';

const SERVER = process.env.FIDO_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subject: (s: string) => string;
  config(extra?: Partial<NatsReceiverConfig>): NatsReceiverConfig;
}

async function withNats(fn: (n: Nats, rig: BusRig) => Promise<void>): Promise<void> {
  const nc = await connect({ servers: SERVER });
  const jsm = await jetstreamManager(nc);
  const stream = `fido_t_${randomBytes(6).toString('hex')}`;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  const n: Nats = {
    nc,
    js: jetstream(nc),
    jsm,
    stream,
    subject: (s) => `${stream}.${s}`,
    config: (extra) => ({ name: 'bus', kind: 'nats', servers: [SERVER], stream, durable: 'fido', subject: `${stream}.alerts`, ack_wait: '30s', ...extra }),
  };
  try {
    await withBusRig((rig) => fn(n, rig));
  } finally {
    await jsm.streams.delete(stream);
    await nc.close();
  }
}

const consumerInfo = (n: Nats) => n.jsm.consumers.info(n.stream, 'fido');
/** The consumer has nothing left: every message acknowledged (or terminated). */
const drained = async (n: Nats) => {
  const ci = await consumerInfo(n).catch(() => null); // not created by the receiver yet
  if (!ci) return false;
  return ci.num_pending === 0 && ci.num_ack_pending === 0;
};

async function publish(n: Nats, bodies: readonly (string | Buffer)[]): Promise<void> {
  for (const b of bodies) await n.js.publish(n.subject('alerts'), typeof b === 'string' ? Buffer.from(b) : b);
}



test('messages published before and during the run arrive once each, byte for byte; status and cursor follow', async () => {
  await withNats(async (n, rig) => {
    const odd = Buffer.from([0x7b, 0x22, 0x62, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"b":"<invalid UTF-8>"}
    const before = bodies('before', 25);
    await publish(n, [...before, odd]);
    const receiver = natsReceiver(n.config({ batch: 10 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      const during = bodies('during', 25);
      await publish(n, during);
      await waitFor('all 51 records stored', async () => (await rig.intake.stored()).length >= 51);
      await waitFor('the consumer is drained', () => drained(n));
      const stored = await rig.intake.stored();
      assert.equal(stored.length, 51, 'each message exactly once');
      assert.deepEqual(stored.slice(0, 25).map(String), before, 'the earlier messages first, in stream order');
      assert.ok(stored[25]!.equals(odd), 'invalid UTF-8 kept byte for byte');
      assert.deepEqual(stored.slice(26).map(String), during, 'then the later ones');
      const st = receiver.status();
      assert.equal(st.records, 51, 'status counts the records');
      assert.equal(st.cursor, '51', 'the cursor is the stream sequence of the last accepted message');
      assert.equal(st.state, 'running', 'running');
      assert.ok(st.last_record_at !== null, 'last_record_at is set');
      await waitFor('pending is read as 0 once idle', () => receiver.pending() === 0);
      const cursor = await rig.t.store.db.selectFrom('receiver_cursors').select('value').where('receiver', '=', 'nats:bus').executeTakeFirst();
      assert.equal(cursor?.value, '51', 'the stream sequence is committed with the records');
      assert.equal(receiver.counts.redelivered, 0, 'nothing re-delivered');
    });
  });
});

test('crash between commit and ack: nothing is lost; the re-deliveries are counted and not stored twice (stream sequence as the key)', async (t: TestContext) => {
  await withNats(async (n, rig) => {
    const sent = bodies('crash', 30);
    await publish(n, sent);
    // A short ack_wait: the crashed batch comes back soon (elsewhere a long one, so a slow commit on a loaded machine
    // is never taken for a lost one).
    const first = natsReceiver(n.config({ batch: 10, ack_wait: '1s' }), { name: 'bus' }, rig.deps);
    // After the first batch commits, the connection dies before any ack goes out; then the "process" stops.
    let crashed = false;
    rig.intake.afterCommit = async () => {
      await first.disconnect();
      crashed = true;
    };
    await first.start();
    await waitFor('the crash happened', () => crashed);
    await first.stop();
    assert.equal(first.counts.ackFailed, 10, 'the ten acks of the committed batch failed');
    assert.equal((await rig.intake.stored()).length, 10, 'the batch was committed before the crash');

    const second = natsReceiver(n.config({ batch: 10, ack_wait: '1s' }), { name: 'bus' }, rig.deps);
    await run(second, async () => {
      await waitFor('the consumer is drained', () => drained(n));
      const stored = await rig.intake.storedText();
      assert.deepEqual([...new Set(stored)].sort(), [...sent].sort(), 'every message is in the intake log (nothing lost)');
      const dups = duplicates(stored);
      assert.equal(second.counts.redelivered, 10, 'the ten unacknowledged messages were re-delivered');
      assert.equal(dups.size, 0, 'and none was stored twice: the intake log knows their keys');
      assert.equal(second.counts.duplicates, 10, 'the writer counted the redeliveries it did not store');
      assert.equal(stored.length, 30);
      t.diagnostic(`nats crash: 30 sent, ${stored.length} records, ${second.counts.redelivered} re-delivered, ${dups.size} duplicated`);
    });
  });
});

test('backpressure: the batch is held unacknowledged and offered again; nothing is lost or re-delivered', async () => {
  await withNats(async (n, rig) => {
    const sent = bodies('bp', 15);
    await publish(n, sent);
    rig.intake.refuse = 3;
    const receiver = natsReceiver(n.config({ batch: 5 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('the consumer is drained', () => drained(n));
      assert.deepEqual(await rig.intake.storedText(), sent, 'all, once, in order');
      assert.equal(rig.intake.refused, 3, 'the intake refused three times');
      assert.equal(receiver.counts.redelivered, 0, 'held messages were not re-delivered (their ack timer was kept alive)');
      assert.ok(rig.logs.some((l) => l.includes('holding the batch')), 'the backoff is logged');
    });
  });
});

test('stop while the intake pushes back: the held batch is given back, and a restart stores it once', async () => {
  await withNats(async (n, rig) => {
    const sent = bodies('held', 5);
    await publish(n, sent);
    rig.intake.refuse = 1e9;
    const first = natsReceiver(n.config({ batch: 5 }), { name: 'bus' }, rig.deps);
    await first.start();
    await waitFor('the intake refused', () => rig.intake.refused > 0);
    await first.stop();
    assert.equal((await rig.intake.stored()).length, 0, 'nothing stored while refused');
    assert.equal(first.status().state, 'stopped', 'stopped');
    rig.intake.refuse = 0;
    const second = natsReceiver(n.config({ batch: 5 }), { name: 'bus' }, rig.deps);
    await run(second, async () => {
      await waitFor('all five', async () => (await rig.intake.stored()).length >= 5);
      await waitFor('drained', () => drained(n));
      await second.stop();
      assert.deepEqual(await rig.intake.storedText(), sent, 'each once, in order');
      assert.equal(second.counts.redelivered, 5, 'the given-back messages came again (re-delivered, yet not duplicates)');
    });
  });
});

test('a message too large to store is terminated with the reason logged and does not block the rest', async () => {
  await withNats(async (n, rig) => {
    const big = 'x'.repeat(1000);
    await publish(n, ['{"a":1}', big, '{"a":2}']);
    const receiver = natsReceiver(n.config({ batch: 1, max_message_bytes: 256 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('the consumer is drained', () => drained(n));
      assert.deepEqual(await rig.intake.storedText(), ['{"a":1}', '{"a":2}'], 'the others are stored');
      assert.equal(receiver.counts.rejected, 1, 'one message rejected');
      const ci = await consumerInfo(n);
      assert.equal(ci.num_redelivered, 0, 'the terminated message is not re-delivered');
      assert.ok(rig.logs.some((l) => l.includes('too large') && l.includes('"bytes":1000')), 'the reason is logged');
    });
  });
});

test('config check: secrets must be references', () => {
  const base = { name: 'bus', kind: 'nats' as const, servers: [SERVER], stream: 's', durable: 'd' };
  const check = natsComponent.check!;
  assert.deepEqual(check({ ...base, user: 'u', password: '${env:NATS_PW}' }), [], 'a referenced password passes');
  assert.ok(check({ ...base, user: 'u', password: 'hunter2' }).some((p) => p.key === 'password'), 'a literal password is refused');
  assert.ok(check({ ...base, token: 'abc' }).some((p) => p.key === 'token'), 'a literal token is refused');
  assert.ok(check({ ...base, servers: ['nats://u:pw@host:4222'] }).some((p) => p.key === 'servers'), 'a password in a server URL is refused');
});
