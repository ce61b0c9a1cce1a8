/**
 * The rabbitmq receiver against the real RabbitMQ of this machine (127.0.0.1:5672 guest/guest), one queue per
 * test (deleted after), through the real intake writer and a SQLite store.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Connection, type Channel } from 'rabbitmq-client';
import rabbitComponent, { rabbitReceiver, type RabbitReceiverConfig } from '../../../src/intake/receivers/rabbitmq.js';
import { bodies, duplicates, run, withBusRig, type BusRig } from '../../support/buses.js';
import { waitFor } from '../../support/wait.js';

const URL_ = process.env.FIDO_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

interface Rabbit {
  ch: Channel;
  queue: string;
  config(extra?: Partial<RabbitReceiverConfig>): RabbitReceiverConfig;
  /** Publishes each body; `messageIds` gives each its AMQP message-id (its index in the list, prefixed). */
  publish(bodies: readonly (string | Buffer)[], contentType?: string, messageIds?: string): Promise<void>;
  /** Ready + unacknowledged messages are both gone. */
  drained(): Promise<boolean>;
}

async function withRabbit(fn: (r: Rabbit, rig: BusRig) => Promise<void>, declare = true): Promise<void> {
  const conn = new Connection(URL_);
  const ch = await conn.acquire();
  const queue = `fido_t_${randomBytes(6).toString('hex')}`;
  const dlq = `${queue}_dead`;
  await ch.queueDeclare({ queue: dlq, durable: false });
  if (declare) await ch.queueDeclare({ queue, durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } });
  const r: Rabbit = {
    ch,
    queue,
    config: (extra) => ({ name: 'bus', kind: 'rabbitmq', url: URL_, queue, ...extra }),
    async publish(bodies, contentType, messageIds) {
      for (const [i, b] of bodies.entries()) {
        const props = { routingKey: queue, ...(contentType ? { contentType } : {}), ...(messageIds ? { messageId: `${messageIds}-${i}` } : {}) };
        await ch.basicPublish(props, typeof b === 'string' ? Buffer.from(b) : b);
      }
    },
    async drained() {
      // A passive declare counts ready messages only; the consumer count and a basic.get see the rest.
      const q = await ch.queueDeclare({ queue, passive: true }).catch(() => null);
      if (!q || q.messageCount !== 0) return false;
      return true;
    },
  };
  try {
    await withBusRig((rig) => fn(r, rig));
  } finally {
    await ch.queueDelete({ queue }).catch(() => undefined);
    await ch.queueDelete({ queue: dlq });
    await ch.close();
    await conn.close();
  }
}



test('messages published before and during the run arrive once each, byte for byte, whatever the content type', async () => {
  await withRabbit(async (r, rig) => {
    const odd = Buffer.from([0x7b, 0x22, 0x62, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const before = bodies('before', 25);
    await r.publish(before, 'application/json'); // the client would parse these: the bytes must survive
    await r.publish([odd], 'text/plain'); // and decode this one lossily
    const receiver = rabbitReceiver(r.config({ prefetch: 10 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      const during = bodies('during', 25);
      await r.publish(during);
      await waitFor('all 51 records stored', async () => (await rig.intake.stored()).length >= 51);
      await waitFor('the queue is empty', () => r.drained());
      await receiver.stop(); // acks flushed, channel closed: anything unacknowledged would be ready again
      const stored = await rig.intake.stored();
      assert.equal(stored.length, 51, 'each message exactly once');
      assert.deepEqual(stored.slice(0, 25).map(String), before, 'JSON bodies byte for byte, in queue order');
      assert.ok(stored[25]!.equals(odd), 'invalid UTF-8 kept byte for byte');
      assert.deepEqual(stored.slice(26).map(String), during, 'then the later ones');
      assert.ok(await r.drained(), 'nothing went back to the queue: all were acknowledged');
      const st = receiver.status();
      assert.equal(st.records, 51, 'status counts the records');
      assert.equal(receiver.counts.redelivered, 0, 'nothing re-delivered');
    });
  });
});

for (const dedup of [false, true]) {
  const what = dedup ? 'with dedup_by_message_id, none is stored twice' : 'without message-ids, they become duplicate records';
  test(`crash between commit and ack: nothing is lost; the re-deliveries are counted; ${what}`, async (t: TestContext) => {
    await withRabbit(async (r, rig) => {
      const sent = bodies('crash', 30);
      await r.publish(sent, undefined, dedup ? 'alert' : undefined);
      const config = r.config({ prefetch: 10, ...(dedup ? { dedup_by_message_id: true } : {}) });
      const first = rabbitReceiver(config, { name: 'bus' }, rig.deps);
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

      const second = rabbitReceiver(config, { name: 'bus' }, rig.deps);
      await run(second, async () => {
        await waitFor('the other 20 and the 10 re-delivered', () => second.status().records >= 30);
        await waitFor('the queue is empty', () => r.drained());
        await second.stop();
        assert.ok(await r.drained(), 'all acknowledged');
        const stored = await rig.intake.storedText();
        assert.deepEqual([...new Set(stored)].sort(), [...sent].sort(), 'every message is in the intake log (nothing lost)');
        const dups = duplicates(stored);
        assert.equal(second.counts.redelivered, 10, 'the ten unacknowledged messages were re-delivered');
        assert.equal(dups.size, dedup ? 0 : 10, dedup ? 'and none was stored twice' : 'and, without a key, each is a duplicate record');
        assert.equal(second.counts.duplicates, dedup ? 10 : 0, 'the writer counted the redeliveries it did not store');
        assert.equal(stored.length, dedup ? 30 : 40);
        t.diagnostic(`rabbitmq crash (dedup ${dedup}): 30 sent, ${stored.length} records, ${second.counts.redelivered} re-delivered, ${dups.size} duplicated`);
      });
    });
  });
}

test('backpressure: the batch is held unacknowledged and offered again; nothing is lost or re-delivered', async () => {
  await withRabbit(async (r, rig) => {
    const sent = bodies('bp', 15);
    await r.publish(sent);
    rig.intake.refuse = 3;
    const receiver = rabbitReceiver(r.config({ prefetch: 5 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('15 records', async () => (await rig.intake.stored()).length >= 15);
      await receiver.stop();
      assert.ok(await r.drained(), 'all acknowledged');
      assert.deepEqual(await rig.intake.storedText(), sent, 'all, once, in order');
      assert.equal(rig.intake.refused, 3, 'the intake refused three times');
      assert.equal(receiver.counts.redelivered, 0, 'held messages were not re-delivered');
      assert.ok(rig.logs.some((l) => l.includes('holding the batch')), 'the backoff is logged');
    });
  });
});

test('stop while the intake pushes back: the held batch is given back, and a restart stores it once', async () => {
  await withRabbit(async (r, rig) => {
    const sent = bodies('held', 5);
    await r.publish(sent);
    rig.intake.refuse = 1e9;
    const first = rabbitReceiver(r.config({ prefetch: 5 }), { name: 'bus' }, rig.deps);
    await first.start();
    await waitFor('the intake refused', () => rig.intake.refused > 0);
    await first.stop();
    assert.equal((await rig.intake.stored()).length, 0, 'nothing stored while refused');
    assert.equal(first.status().state, 'stopped', 'stopped');
    rig.intake.refuse = 0;
    const second = rabbitReceiver(r.config({ prefetch: 5 }), { name: 'bus' }, rig.deps);
    await run(second, async () => {
      await waitFor('all five', async () => (await rig.intake.stored()).length >= 5);
      await waitFor('drained', () => r.drained());
      await second.stop();
      assert.deepEqual(await rig.intake.storedText(), sent, 'each once, in order');
      assert.equal(second.counts.redelivered, 5, 'the given-back messages came again (re-delivered, yet not duplicates)');
    });
  });
});

test('a message too large to store is dead-lettered with the reason logged and does not block the rest', async () => {
  await withRabbit(async (r, rig) => {
    const big = 'x'.repeat(1000);
    await r.publish(['{"a":1}', big, '{"a":2}']);
    const receiver = rabbitReceiver(r.config({ prefetch: 1, max_message_bytes: 256 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('2 records', async () => (await rig.intake.stored()).length >= 2);
      await receiver.stop();
      assert.deepEqual(await rig.intake.storedText(), ['{"a":1}', '{"a":2}'], 'the others are stored');
      assert.equal(receiver.counts.rejected, 1, 'one message rejected');
      assert.ok(await r.drained(), 'the rejected message is not back in the queue');
      const dead = await r.ch.basicGet({ queue: `${r.queue}_dead`, noAck: true });
      assert.ok(dead && Buffer.isBuffer(dead.body) && dead.body.length === 1000, 'it went to the dead-letter queue');
      assert.ok(rig.logs.some((l) => l.includes('too large') && l.includes('"bytes":1000')), 'the reason is logged');
    });
  });
});

test('declare: the queue is declared and bound to an exchange; pending reads the queue depth', async () => {
  await withRabbit(async (r, rig) => {
    const exchange = `${r.queue}_x`;
    const receiver = rabbitReceiver(r.config({ declare: { durable: false, exchange, exchange_type: 'topic', routing_keys: ['alerts.#'] } }), { name: 'bus' }, rig.deps);
    try {
      await run(receiver, async () => {
        await waitFor('pending is read', () => receiver.pending() === 0);
        await r.ch.basicPublish({ exchange, routingKey: 'alerts.high' }, Buffer.from('{"via":"exchange"}'));
        await r.ch.basicPublish({ exchange, routingKey: 'other' }, Buffer.from('{"via":"unbound"}'));
        await waitFor('the bound message', async () => (await rig.intake.stored()).length >= 1);
        assert.deepEqual(await rig.intake.storedText(), ['{"via":"exchange"}'], 'only what the binding routes');
      });
    } finally {
      await r.ch.exchangeDelete({ exchange });
    }
  }, false);
});

/** Closes, from the broker's side, the connection whose client named itself `name` (rabbitmqctl, as root). */
function brokerCloses(name: string): boolean {
  const rows = execFileSync('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { encoding: 'utf8' }).split('\n');
  const row = rows.find((l) => l.includes(`"${name}"`));
  const pid = row?.split('\t')[0];
  if (!pid) return false;
  execFileSync('rabbitmqctl', ['-q', 'close_connection', pid, 'test: broker drops the connection']);
  return true;
}

test('the broker dropping the connection: the receiver reconnects and nothing is lost', async () => {
  await withRabbit(async (r, rig) => {
    const source = `bus-${randomBytes(4).toString('hex')}`;
    const receiver = rabbitReceiver(r.config(), { name: source }, rig.deps);
    await run(receiver, async () => {
      await r.publish(bodies('one', 5));
      await waitFor('the first five', async () => (await rig.intake.stored()).length >= 5);
      await waitFor('the broker closed our connection', () => brokerCloses(`fido:${source}`), 30_000, 200);
      await r.publish(bodies('two', 5));
      await waitFor('all ten', async () => (await rig.intake.stored()).length >= 10);
      await receiver.stop();
      assert.deepEqual(await rig.intake.storedText(), [...bodies('one', 5), ...bodies('two', 5)], 'all, once, in order');
      assert.ok(rig.logs.filter((l) => l.includes('"msg":"connected"')).length >= 2, 'it connected again');
      assert.ok(await r.drained(), 'all acknowledged');
    });
  });
});

test('config check: no password in clear', () => {
  const base = { name: 'bus', kind: 'rabbitmq' as const, queue: 'q' };
  const check = rabbitComponent.check!;
  assert.deepEqual(check({ ...base, url: 'amqp://fido@mq:5672/', password: '${env:MQ_PW}' }), [], 'a referenced password passes');
  assert.deepEqual(check({ ...base, url: 'amqp://fido:${env:MQ_PW}@mq:5672/' }), [], 'a reference spliced into the URL passes');
  assert.ok(check({ ...base, url: 'amqp://fido:secret@mq:5672/' }).some((p) => p.key === 'url'), 'a literal password in the URL is refused');
  assert.ok(check({ ...base, url: 'amqp://fido@mq/', password: 'secret' }).some((p) => p.key === 'password'), 'a literal password is refused');
});
