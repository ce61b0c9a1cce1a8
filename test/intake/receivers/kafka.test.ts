/**
 * The kafka receiver (kafkajs, the real client) against a Kafka broker stand-in (test/support/kafka-broker.ts)
 * that speaks the documented wire protocol: no Kafka broker can be installed on this machine. Through the real
 * intake writer into a SQLite store.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import kafkaComponent, { kafkaReceiver, type KafkaReceiverConfig } from '../../../src/intake/receivers/kafka.js';
import { bodies, duplicates, run, withBusRig, type BusRig } from '../../support/buses.js';
import { KafkaStandIn, type KafkaStandInOptions } from '../../support/kafka-broker.js';
import { selfSignedCert } from '../../support/servers.js';
import { waitFor } from '../../support/wait.js';
import { writeCursorRows } from '../../../src/store/cursors.js';

const TOPIC = 'alerts';

async function withKafka(fn: (b: KafkaStandIn, rig: BusRig) => Promise<void>, opts: KafkaStandInOptions = {}, partitions = 1): Promise<void> {
  const broker = await KafkaStandIn.start(opts);
  broker.createTopic(TOPIC, partitions);
  try {
    await withBusRig((rig) => fn(broker, rig));
  } finally {
    await broker.stop();
  }
}

const config = (b: KafkaStandIn, extra: Partial<KafkaReceiverConfig> = {}): KafkaReceiverConfig => ({
  name: 'bus',
  kind: 'kafka',
  brokers: [b.bootstrap],
  topics: [TOPIC],
  group_id: 'fido',
  allow_private: true,
  max_wait: '200ms',
  session_timeout: '10s',
  ...extra,
});



/** Appends straight into the broker's log (partition p). */
function put(b: KafkaStandIn, values: readonly (string | Buffer)[], partition = 0): void {
  for (const v of values) b.append(TOPIC, partition, v);
}

const committed = (b: KafkaStandIn, partition = 0) => Number(b.committed('fido', TOPIC, partition) ?? -1n);

test('produced messages arrive once each, byte for byte, from two partitions; offsets, cursor and status follow', async (t: TestContext) => {
  await withKafka(
    async (b, rig) => {
      const odd = Buffer.from([0x7b, 0x22, 0x62, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"b":"<invalid UTF-8>"}
      const producer = new Kafka({ brokers: [b.bootstrap], clientId: 'test-producer', logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      try {
        const p0 = bodies('p0', 12);
        const p1 = bodies('p1', 9);
        await producer.send({ topic: TOPIC, messages: [...p0.map((value) => ({ value, partition: 0 })), { value: odd, partition: 0 }] });
        const receiver = kafkaReceiver(config(b, { batch: 5 }), { name: 'bus' }, rig.deps);
        await run(receiver, async () => {
          await producer.send({ topic: TOPIC, messages: p1.map((value) => ({ value, partition: 1 })) });
          await waitFor('all 22 records stored', async () => (await rig.intake.stored()).length >= 22);
          await waitFor('the group committed both partitions', () => committed(b, 0) === 13 && committed(b, 1) === 9);
          const stored = await rig.intake.stored();
          assert.equal(stored.length, 22, 'each message exactly once');
          const text = stored.map(String);
          assert.deepEqual(text.filter((s) => s.includes('"p0-')), p0, 'partition 0 in order');
          assert.deepEqual(text.filter((s) => s.includes('"p1-')), p1, 'partition 1 in order');
          assert.ok(stored.some((s) => s.equals(odd)), 'invalid UTF-8 kept byte for byte');
          const st = receiver.status();
          assert.equal(st.records, 22, 'status counts the records');
          assert.equal(st.cursor, 'p0:13 p1:9', 'the cursor is the next offset of each partition');
          assert.equal(st.state, 'running');
          assert.equal(st.lag_ms, 0, 'caught up with the high watermarks');
          assert.equal(receiver.pending(), 0, 'nothing pending');
          const rows = await rig.t.store.db.selectFrom('receiver_cursors').select(['key', 'value']).where('receiver', '=', 'kafka:bus').orderBy('key').execute();
          assert.deepEqual(rows, [
            { key: 'alerts/0', value: '13' },
            { key: 'alerts/1', value: '9' },
          ], 'Fido\'s cursor is committed with the records');
        });
      } finally {
        await producer.disconnect();
      }
      assert.ok(b.versions.has('1:3') && b.versions.has('8:2'), 'kafkajs negotiated Fetch v3 and OffsetCommit v2 from ApiVersions');
      t.diagnostic(`api versions used: ${[...b.versions].sort().join(' ')}`);
    },
    {},
    2,
  );
});

test('crash between the intake commit and the offset commit: the group is behind, the restart seeks to Fido\'s cursor: no duplicate, no loss', async (t: TestContext) => {
  await withKafka(async (b, rig) => {
    const sent = bodies('crash', 30);
    put(b, sent);
    const first = kafkaReceiver(config(b, { batch: 10 }), { name: 'bus' }, rig.deps);
    let crashed = false;
    let die: (e: Error) => void = () => undefined;
    // After the first batch commits, the "process" hangs before the receiver learns it (and so before any offset commit).
    rig.intake.afterCommit = () => {
      crashed = true;
      return new Promise<void>((_, reject) => (die = reject));
    };
    await first.start();
    await waitFor('the crash point', () => crashed);
    assert.equal((await rig.intake.stored()).length, 10, 'the first batch is in the intake log');
    assert.equal(b.committed('fido', TOPIC, 0), undefined, 'and the group has committed nothing: offsets only follow the intake commit');
    const stopping = first.stop();
    die(new Error('simulated crash'));
    await stopping;
    assert.equal(b.committed('fido', TOPIC, 0), undefined, 'the dead consumer committed nothing');

    const second = kafkaReceiver(config(b, { batch: 10 }), { name: 'bus' }, rig.deps);
    await run(second, async () => {
      await waitFor('the group committed everything', () => committed(b) === 30);
      const stored = await rig.intake.storedText();
      assert.deepEqual(stored, sent, 'each message once, in order');
      assert.equal(duplicates(stored).size, 0, 'no duplicates');
      assert.equal(second.counts.seeks, 1, 'the restart sought forward past the stored batch');
      assert.equal(second.counts.alreadyStored, 0, 'so the stored batch was not even offered again');
      assert.equal(second.status().cursor, 'p0:30');
      t.diagnostic(`kafka crash: 30 sent, ${stored.length} records, seeks ${second.counts.seeks}`);
    });
  });
});

test('an accept that fails after committing: the retry finds the cursor moved and stores nothing twice', async () => {
  await withKafka(async (b, rig) => {
    const sent = bodies('fail', 8);
    put(b, sent);
    rig.intake.afterCommit = async () => {
      throw new Error('connection reset after commit');
    };
    const receiver = kafkaReceiver(config(b, { batch: 4 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('the group committed everything', () => committed(b) === 8);
      assert.deepEqual(await rig.intake.storedText(), sent, 'each once, in order');
      assert.equal(receiver.counts.alreadyStored, 4, 'the retried batch was recognised as stored');
      assert.ok(rig.logs.some((l) => l.includes('intake refused the batch')), 'the failure is logged');
    });
  });
});

test('a cursor past the end of the partition (topic recreated) is dropped with a warning, not sought to', async () => {
  await withKafka(async (b, rig) => {
    await writeCursorRows(rig.t.store.db, [{ receiver: 'kafka:bus', key: 'alerts/0', value: '100', updated_at: Date.now() }]);
    const sent = bodies('new', 3);
    put(b, sent);
    const receiver = kafkaReceiver(config(b), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('all three committed', () => committed(b) === 3);
      assert.deepEqual(await rig.intake.storedText(), sent, 'the recreated topic is read from its start');
      assert.equal(receiver.counts.seeks, 0, 'no seek to the stale position');
      assert.equal(receiver.status().cursor, 'p0:3', 'the cursor follows the new log');
      assert.ok(rig.logs.some((l) => l.includes('past the end of the partition')), 'the reset is logged');
    });
  });
});

test('backpressure: the batch is held (no offset commit) and offered again; nothing lost or duplicated', async () => {
  await withKafka(async (b, rig) => {
    const sent = bodies('bp', 12);
    put(b, sent);
    rig.intake.refuse = 3;
    const receiver = kafkaReceiver(config(b, { batch: 6 }), { name: 'bus' }, rig.deps);
    const states = new Set<string>();
    const committedWhilePaused = new Set<number>();
    await run(receiver, async () => {
      await waitFor('the group committed everything', () => {
        const state = receiver.status().state;
        states.add(state);
        if (state === 'paused') committedWhilePaused.add(committed(b));
        return committed(b) === 12;
      });
      assert.deepEqual([...committedWhilePaused], [-1], 'while the first batch was held, the group committed nothing');
      assert.deepEqual(await rig.intake.storedText(), sent, 'all, once, in order');
      assert.equal(rig.intake.refused, 3, 'the intake refused three times');
      assert.ok(rig.logs.some((l) => l.includes('intake backpressure')), 'the hold is logged');
      assert.equal(receiver.status().state, 'running', 'running again');
    });
    assert.ok(states.has('paused'), 'the status said paused while the batch was held');
  });
});

test('a message too large to store is skipped, logged and counted, and does not block the partition', async () => {
  await withKafka(async (b, rig) => {
    put(b, ['{"a":1}', 'x'.repeat(1000), '', '{"a":2}']);
    const receiver = kafkaReceiver(config(b, { batch: 1, max_message_bytes: 256 }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('the group committed past all four', () => committed(b) === 4);
      assert.deepEqual(await rig.intake.storedText(), ['{"a":1}', '{"a":2}'], 'the others are stored');
      assert.equal(receiver.counts.skipped, 1, 'one message skipped as too large');
      assert.equal(receiver.counts.empty, 1, 'the empty one carries nothing');
      assert.equal(receiver.status().cursor, 'p0:4', 'the cursor moved past them');
      assert.ok(rig.logs.some((l) => l.includes('too large') && l.includes('"bytes":1000')), 'the reason is logged');
    });
  });
});

test('broker lost: the status says failing, then the receiver recovers and misses nothing', async () => {
  await withKafka(async (b, rig) => {
    put(b, bodies('before', 5));
    const receiver = kafkaReceiver(config(b), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('the first five', () => committed(b) === 5);
      await b.stop();
      await waitFor('failing', () => receiver.status().state === 'failing', 120_000);
      assert.ok(receiver.status().error, 'the error is shown');
      put(b, bodies('after', 5));
      await b.restart();
      await waitFor('the rest committed', () => committed(b) === 10, 120_000);
      const stored = await rig.intake.storedText();
      assert.deepEqual(stored, [...bodies('before', 5), ...bodies('after', 5)], 'each once');
      await waitFor('running again', () => receiver.status().state === 'running');
      assert.equal(receiver.status().error, null, 'the error is cleared');
    });
  });
});

test('TLS with a private CA and SASL PLAIN: the password is a secret reference and never shows', async () => {
  const dir = (await import('node:fs')).mkdtempSync('/tmp/fido-kafka-tls-');
  const cert = selfSignedCert(dir);
  process.env.FIDO_TEST_KAFKA_PW = 's3cret-kafka-pw';
  try {
    await withKafka(
      async (b, rig) => {
        put(b, bodies('tls', 3));
        const good = kafkaReceiver(
          config(b, { tls_ca_file: cert.certFile, sasl: { mechanism: 'plain', username: 'fido', password: '${env:FIDO_TEST_KAFKA_PW}' } }),
          { name: 'bus' },
          rig.deps,
        );
        await run(good, async () => {
          await waitFor('all three', () => committed(b) === 3);
          assert.deepEqual(await rig.intake.storedText(), bodies('tls', 3));
        });
        process.env.FIDO_TEST_KAFKA_PW = 'wrong-password-xyz';
        const bad = kafkaReceiver(
          config(b, { group_id: 'other', tls_ca_file: cert.certFile, sasl: { mechanism: 'plain', username: 'fido', password: '${env:FIDO_TEST_KAFKA_PW}' } }),
          { name: 'bus2' },
          rig.deps,
        );
        await run(bad, async () => {
          await waitFor('failing on authentication', () => bad.status().state === 'failing');
          assert.ok(!String(bad.status().error).includes('wrong-password-xyz'), 'the password is not in the error');
        });
        assert.ok(!rig.logs.some((l) => l.includes('wrong-password-xyz') || l.includes('s3cret-kafka-pw')), 'nor in the log');
        const untrusted = kafkaReceiver(config(b, { group_id: 'third', tls: true }), { name: 'bus3' }, rig.deps);
        await run(untrusted, async () => {
          await waitFor('failing on the certificate', () => untrusted.status().state === 'failing');
        });
        assert.equal((await rig.intake.stored()).length, 3, 'nothing more was stored');
      },
      { tls: { cert: cert.cert, key: cert.key }, sasl: { username: 'fido', password: 's3cret-kafka-pw' } },
    );
  } finally {
    delete process.env.FIDO_TEST_KAFKA_PW;
    (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  }
});

test('the outbound guard: a loopback broker is refused without allow_private', async () => {
  await withKafka(async (b, rig) => {
    put(b, bodies('guard', 2));
    const receiver = kafkaReceiver(config(b, { allow_private: false }), { name: 'bus' }, rig.deps);
    await run(receiver, async () => {
      await waitFor('failing', () => receiver.status().state === 'failing');
      assert.match(String(receiver.status().error), /not a public address|allow_private/);
    });
    assert.equal((await rig.intake.stored()).length, 0, 'nothing read');
    assert.equal(b.requests.size, 0, 'no request reached the broker');
  });
});

test('config check: secrets are references, brokers are host:port, SASL needs TLS', () => {
  const base = { name: 'bus', kind: 'kafka' as const, brokers: ['k1:9092'], topics: ['t'], group_id: 'g' };
  const check = kafkaComponent.check!;
  const sasl = { mechanism: 'scram-sha-512' as const, username: 'u', password: '${env:KAFKA_PW}' };
  assert.deepEqual(check({ ...base, tls: true, sasl }), [], 'a referenced password over TLS passes');
  assert.ok(check({ ...base, tls: true, sasl: { ...sasl, password: 'hunter2' } }).some((p) => p.key === 'sasl.password'), 'a literal password is refused');
  assert.ok(check({ ...base, sasl }).some((p) => p.key === 'sasl'), 'SASL without TLS is refused');
  assert.ok(check({ ...base, brokers: ['k1'] }).some((p) => p.key === 'brokers'), 'a broker without a port is refused');
  assert.ok(check({ ...base, brokers: ['kafka://k1:9092'] }).some((p) => p.key === 'brokers'), 'a URL is not host:port');
});
