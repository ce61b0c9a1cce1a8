/**
 * The `kafka` receiver kind: a consumer-group member (kafkajs) on one or more topics. Each message value
 * becomes one intake record, byte for byte.
 *
 * - Offsets are committed to the group only after the intake committed the records (`autoCommit: false`;
 *   eachBatch resolves and commits explicitly after `accept` resolved). A crash in between leaves the group
 *   behind the intake log.
 * - So Fido also keeps its own position: the next offset of each partition is committed WITH the records
 *   (`receiver_cursors` `kafka:<source>`, key `<topic>/<partition>`). Messages below it are already stored and
 *   are dropped; when the group's position is behind it the consumer seeks forward. With one Fido consumer per
 *   group this stores each message exactly once, whatever the crash point.
 * - While the intake pushes back (BackpressureError) the batch is held: eachBatch does not return, so kafkajs
 *   fetches nothing more; heartbeats keep the group membership meanwhile.
 * - A message over `max_message_bytes` is skipped (logged, counted), never retried: it does not block the
 *   partition. An empty (or null, tombstone) value carries nothing and is skipped too.
 * - bus/loop.ts is not used: it pulls (fetch → accept → ack), while kafkajs runs its own fetch loop, group
 *   membership and rebalances, and hands batches to a callback. The loop's rules (ack after commit, hold on
 *   backpressure, reject the unstorable, reconnect with backoff) are the same here.
 * - Connections go through the outbound guard (`allow_private` for private addresses), brokers advertised in
 *   metadata included. TLS verifies certificates (`tls_ca_file` for a private CA). SASL PLAIN/SCRAM with a
 *   secret-reference password.
 */
import { Socket, connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Type, type Static } from 'typebox';
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaMessage, type LogEntry, type SASLOptions, type ISocketFactory } from 'kafkajs';
import { parseDuration } from '../../config/duration.js';
import { Duration } from '../../config/schema.js';
import { isSecretRef } from '../../config/secrets.js';
import type { ComponentProblem } from '../../component/component.js';
import { readCaFile, secretSetting } from '../../enrich/remote.js';
import type { CursorRow } from '../../store/cursors.js';
import { addressRefusal, guardedLookup, OutboundRefusedError, refusalMessage } from '../../util/outbound.js';
import { errorContext, type Logger } from '../../util/log.js';
import { defineReceiver, holdDelay, recordOfBytes, type Receiver, type ReceiverDeps, type ReceiverStatus } from '../receiver.js';
import { Sleeper } from '../sleeper.js';

export const KafkaReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('kafka'),
    brokers: Type.Array(Type.String({ minLength: 3, description: 'host:port' }), { minItems: 1, description: 'Bootstrap brokers, host:port' }),
    topics: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' }), { minItems: 1 }),
    group_id: Type.String({ minLength: 1, maxLength: 255, description: 'The consumer group (one Fido consumer per group)' }),
    client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Default fido' })),
    from_beginning: Type.Optional(Type.Boolean({ description: 'Where a group without committed offsets starts: the oldest message (default true) or new ones only' })),
    batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Messages per intake batch (default 100)' })),
    max_message_bytes: Type.Optional(
      Type.Integer({ minimum: 256, description: 'Larger messages are skipped, not stored (default 262144; keep ≤ intake.max_record_bytes)' }),
    ),
    session_timeout: Type.Optional(Duration),
    max_wait: Type.Optional(Duration),
    tls: Type.Optional(Type.Boolean({ description: 'Connect with TLS, certificates verified' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM CA bundle for a private CA (relative to the config file); implies tls' })),
    sasl: Type.Optional(
      Type.Object(
        {
          mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')]),
          username: Type.String({ minLength: 1 }),
          password: Type.String({ description: 'A secret reference such as ${env:KAFKA_PASSWORD}' }),
        },
        { additionalProperties: false },
      ),
    ),
    allow_private: Type.Optional(Type.Boolean({ description: 'Allow brokers on private and loopback addresses (default false)' })),
  },
  { additionalProperties: false },
);
export type KafkaReceiverConfig = Static<typeof KafkaReceiverSchema>;

const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;
const MIN_RETRY_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/** host:port with a port in range; a string scan (no regex on operator input). */
function brokerProblem(b: string): string | null {
  const colon = b.lastIndexOf(':');
  if (colon <= 0) return `${b} is not host:port`;
  const port = Number(b.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `${b} has no valid port`;
  if (b.includes('/') || b.includes('@')) return `${b} is not host:port (no scheme, path or credentials)`;
  return null;
}

function checkConfig(cfg: KafkaReceiverConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  for (const b of cfg.brokers) {
    const p = brokerProblem(b);
    if (p) problems.push({ key: 'brokers', message: p });
  }
  if (cfg.sasl && !isSecretRef(cfg.sasl.password)) problems.push({ key: 'sasl.password', message: 'must be a secret reference (${env:NAME} or ${file:/path}), not the secret itself' });
  if (cfg.sasl && !cfg.tls && !cfg.tls_ca_file) problems.push({ key: 'sasl', message: 'needs tls: true (the password would cross the network in clear)' });
  return problems;
}

/**
 * Connections to the brokers, through the outbound guard: an IP literal is checked here (net.connect does not
 * look it up), a name through guardedLookup, so a broker advertised in metadata cannot lead elsewhere.
 */
function guardedSocketFactory(allowPrivate: boolean): ISocketFactory {
  const lookup = guardedLookup(allowPrivate);
  return ({ host, port, ssl, onConnect }) => {
    if (isIP(host)) {
      const refused = addressRefusal(host, allowPrivate);
      if (refused) {
        const s = new Socket();
        process.nextTick(() => s.destroy(new OutboundRefusedError(refusalMessage(refused))));
        return s;
      }
    }
    const socket = ssl
      ? tlsConnect({ host, port, lookup, ...(isIP(host) ? {} : { servername: host }), ...(ssl as object), rejectUnauthorized: true }, onConnect)
      : netConnect({ host, port, lookup }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}

const partitionKey = (topic: string, partition: number): string => `${topic}/${partition}`;

export class KafkaReceiver implements Receiver {
  private readonly log: Logger;
  private readonly detector: string | null;
  private readonly receiverId: string;
  private readonly batchSize: number;
  private readonly maxMessageBytes: number;
  private consumer: Consumer | null = null;
  private stopping = false;
  private running = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private readonly naps = new Sleeper();
  /** Next offset per `topic/partition` as committed in the intake (Fido's own cursor). */
  private readonly positions = new Map<string, bigint>();
  private readonly highWatermarks = new Map<string, bigint>();
  private state: ReceiverStatus['state'] = 'stopped';
  private lastRecordAt: number | null = null;
  private lastPublishedAt: number | null = null;
  private records = 0;
  private error: string | null = null;
  /** For tests and operators: messages skipped as too large or empty, already stored ones dropped, forward seeks. */
  readonly counts = { skipped: 0, empty: 0, alreadyStored: 0, seeks: 0, crashes: 0 };

  constructor(
    private readonly cfg: KafkaReceiverConfig,
    private readonly sourceName: string,
    detector: string | undefined,
    private readonly deps: ReceiverDeps,
  ) {
    this.log = deps.log.child({ receiver: 'kafka', source: sourceName, topics: cfg.topics, group: cfg.group_id });
    this.detector = detector && detector !== 'auto' ? detector : null;
    this.receiverId = `kafka:${sourceName}`;
    this.batchSize = cfg.batch ?? 100;
    this.maxMessageBytes = cfg.max_message_bytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.naps.reset();
    this.state = 'running';
    await this.loadPositions();
    await this.connect();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.naps.stop();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.dropConsumer();
    this.running = false;
    this.state = 'stopped';
  }

  status(): ReceiverStatus {
    return { state: this.state, last_record_at: this.lastRecordAt, records: this.records, lag_ms: this.lagMs(), error: this.error, cursor: this.cursorText() };
  }

  /** Messages waiting upstream: high watermark minus Fido's position, summed over the partitions seen. */
  pending(): number | null {
    if (this.highWatermarks.size === 0) return null;
    let n = 0n;
    for (const [k, hw] of this.highWatermarks) {
      const at = this.positions.get(k) ?? 0n;
      if (hw > at) n += hw - at;
    }
    return Number(n);
  }

  private lagMs(): number | null {
    const pending = this.pending();
    if (pending === 0) return 0;
    if (pending === null || this.lastPublishedAt === null) return null;
    return Math.max(0, Date.now() - this.lastPublishedAt);
  }

  /** "p0:123 p1:45" (one topic), "alerts/p0:123 audit/p0:7" (several): the next offset of each partition. */
  private cursorText(): string | null {
    if (this.positions.size === 0) return null;
    const one = this.cfg.topics.length === 1;
    return [...this.positions]
      .map(([k, v]) => {
        const slash = k.lastIndexOf('/');
        return { topic: k.slice(0, slash), partition: Number(k.slice(slash + 1)), v };
      })
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
      .map((p) => `${one ? '' : `${p.topic}/`}p${p.partition}:${p.v}`)
      .join(' ');
  }

  private async loadPositions(): Promise<void> {
    const rows = await this.deps.store.db.selectFrom('receiver_cursors').select(['key', 'value']).where('receiver', '=', this.receiverId).execute();
    for (const r of rows) this.positions.set(r.key, BigInt(r.value));
  }

  /** The position as the store has it now (after an accept that failed: it may have committed). */
  private async reloadPosition(key: string): Promise<void> {
    const row = await this.deps.store.db.selectFrom('receiver_cursors').select('value').where('receiver', '=', this.receiverId).where('key', '=', key).executeTakeFirst();
    if (row) this.positions.set(key, BigInt(row.value));
  }

  private buildConsumer(): Consumer {
    const cfg = this.cfg;
    const key = `sources.${this.sourceName}.receiver`;
    const ca = readCaFile(cfg.tls_ca_file, this.deps.configDir, key);
    const tls = cfg.tls === true || ca !== undefined;
    let sasl: SASLOptions | undefined;
    if (cfg.sasl) {
      const password = secretSetting(cfg.sasl.password, `${key}.sasl.password`);
      sasl =
        cfg.sasl.mechanism === 'plain'
          ? { mechanism: 'plain', username: cfg.sasl.username, password }
          : cfg.sasl.mechanism === 'scram-sha-256'
            ? { mechanism: 'scram-sha-256', username: cfg.sasl.username, password }
            : { mechanism: 'scram-sha-512', username: cfg.sasl.username, password };
    }
    const log = this.log;
    const kafka = new Kafka({
      clientId: cfg.client_id ?? 'fido',
      brokers: cfg.brokers,
      ...(tls ? { ssl: { rejectUnauthorized: true, ...(ca ? { ca: [ca] } : {}) } } : {}),
      ...(sasl ? { sasl } : {}),
      socketFactory: guardedSocketFactory(cfg.allow_private ?? false),
      connectionTimeout: 10_000,
      retry: { initialRetryTime: MIN_RETRY_MS, maxRetryTime: 5_000, retries: 5 },
      logLevel: logLevel.WARN,
      // kafkajs's own warnings and errors, into Fido's log (they name brokers and errors, never the password).
      logCreator:
        () =>
        ({ level, log: entry }: LogEntry) => {
          const { message, timestamp: _t, logger: _l, ...fields } = entry;
          if (level <= logLevel.ERROR) log.error({ kafkajs: fields }, `kafkajs: ${message}`);
          else log.warn({ kafkajs: fields }, `kafkajs: ${message}`);
        },
    });
    const sessionMs = parseDuration(cfg.session_timeout ?? '30s', `${key}.session_timeout`);
    return kafka.consumer({
      groupId: cfg.group_id,
      sessionTimeout: sessionMs,
      heartbeatInterval: Math.max(100, Math.floor(sessionMs / 10)),
      maxWaitTimeInMs: parseDuration(cfg.max_wait ?? '1s', `${key}.max_wait`),
      maxBytesPerPartition: Math.max(1024 * 1024, this.maxMessageBytes * 2),
      // A retriable failure restarts the consumer inside kafkajs; a fatal one ends here and we reconnect.
      retry: { initialRetryTime: MIN_RETRY_MS, maxRetryTime: 5_000, retries: 5, restartOnFailure: async () => !this.stopping },
    });
  }

  private async connect(): Promise<void> {
    if (this.stopping) return;
    try {
      const consumer = this.buildConsumer();
      this.consumer = consumer;
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        this.counts.crashes++;
        this.fail(payload.error);
        this.log.error({ err: errorContext(payload.error), restart: payload.restart }, 'kafka consumer failed');
        if (!payload.restart && this.consumer === consumer) this.scheduleReconnect();
      });
      consumer.on(consumer.events.FETCH, () => this.healthy());
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        this.healthy();
        this.log.info({ assignment: payload.memberAssignment, protocol: payload.groupProtocol }, 'joined the consumer group');
      });
      // stop() may come while connecting: it drops this.consumer, and this one must not run on.
      const dropped = (): boolean => this.stopping || this.consumer !== consumer;
      await consumer.connect();
      if (dropped()) return void (await consumer.disconnect().catch(() => undefined));
      await consumer.subscribe({ topics: this.cfg.topics, fromBeginning: this.cfg.from_beginning ?? true });
      if (dropped()) return void (await consumer.disconnect().catch(() => undefined));
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.onBatch(consumer, payload),
      });
    } catch (e) {
      this.fail(e);
      this.log.error({ err: errorContext(e) }, 'kafka consumer could not start');
      await this.dropConsumer();
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    this.failures++;
    const delay = Math.min(MIN_RETRY_MS * 2 ** this.failures, MAX_BACKOFF_MS);
    this.log.warn({ retry_in_ms: delay }, 'reconnecting to kafka');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.dropConsumer().then(() => this.connect());
    }, delay);
  }

  private async dropConsumer(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    await c?.disconnect().catch((e: unknown) => this.log.warn({ err: errorContext(e) }, 'closing the kafka consumer failed'));
  }

  private healthy(): void {
    this.failures = 0;
    if (this.state === 'failing') {
      this.state = 'running';
      this.error = null;
    }
  }

  private async onBatch(consumer: Consumer, p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const key = partitionKey(batch.topic, batch.partition);
    this.highWatermarks.set(key, BigInt(batch.highWatermark));
    const messages = batch.messages;
    if (messages.length === 0) return;
    let stored = this.positions.get(key);
    if (stored !== undefined && stored > BigInt(batch.highWatermark)) {
      // Past the end of the log: the topic was recreated (or the store belongs elsewhere). Seeking there would
      // only bounce off OFFSET_OUT_OF_RANGE; follow the group, and the next commit replaces the cursor.
      this.log.warn({ topic: batch.topic, partition: batch.partition, cursor: String(stored), high_watermark: batch.highWatermark }, 'Fido\'s cursor is past the end of the partition (topic recreated?); following the group');
      this.positions.delete(key);
      stored = undefined;
    }
    const first = BigInt(messages[0]!.offset);
    if (stored !== undefined && first < stored) {
      // The group is behind the intake (a crash between the two commits): go on from Fido's cursor. (Were the
      // seek to race with a fetch, deliver() still drops what is below the cursor.)
      this.counts.seeks++;
      this.log.info({ topic: batch.topic, partition: batch.partition, from: String(first), to: String(stored) }, 'the group is behind the intake log; seeking to Fido\'s cursor');
      consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(stored) });
      return;
    } else if (stored !== undefined && first > stored) {
      this.log.warn(
        { topic: batch.topic, partition: batch.partition, cursor: String(stored), group_offset: String(first) },
        'the group is ahead of Fido\'s cursor (another consumer in the group, a reset, or retention); the messages in between are not read',
      );
    }
    for (let i = 0; i < messages.length; i += this.batchSize) {
      if (this.stopping || !p.isRunning() || p.isStale()) return;
      const chunk = messages.slice(i, i + this.batchSize);
      if (!(await this.deliver(batch.topic, batch.partition, chunk, p))) return;
      const last = chunk[chunk.length - 1]!.offset;
      p.resolveOffset(last);
      // Committed in the intake: only now may the group move on.
      await p.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(BigInt(last) + 1n) }] }] });
      await p.heartbeat();
    }
  }

  /**
   * Offers the chunk until the intake takes it. False when given up (stopping, or the partition was revoked or
   * sought): nothing is committed, the group re-delivers, Fido's cursor drops what was stored.
   */
  private async deliver(topic: string, partition: number, chunk: readonly KafkaMessage[], p: EachBatchPayload): Promise<boolean> {
    const key = partitionKey(topic, partition);
    const next = BigInt(chunk[chunk.length - 1]!.offset) + 1n;
    for (let attempt = 1; ; attempt++) {
      if (this.stopping || !p.isRunning() || p.isStale()) return false;
      const position = this.positions.get(key);
      if (position !== undefined && position >= next) {
        this.counts.alreadyStored += chunk.length;
        return true;
      }
      const fresh = position === undefined ? chunk : chunk.filter((m) => BigInt(m.offset) >= position);
      this.counts.alreadyStored += chunk.length - fresh.length;
      const bodies: Buffer[] = [];
      let skipped = 0;
      let empty = 0;
      for (const m of fresh) {
        const body = m.value;
        if (!body || body.length === 0) empty++;
        else if (body.length > this.maxMessageBytes) {
          skipped++;
          if (attempt === 1)
            this.log.error({ topic, partition, offset: m.offset, bytes: body.length, limit: this.maxMessageBytes }, 'message too large to store; skipped (not stored, not retried)');
        } else bodies.push(body);
      }
      const cursor: CursorRow = { receiver: this.receiverId, key, value: String(next), updated_at: Date.now() };
      let wait: number;
      try {
        await this.deps.intake.accept(this.sourceName, this.detector, bodies.map(recordOfBytes), { cursor });
        this.counts.skipped += skipped;
        this.counts.empty += empty;
        this.accepted(key, next, bodies.length, fresh[fresh.length - 1]);
        if (attempt > 1) this.log.info({ attempts: attempt }, 'batch accepted after waiting');
        return true;
      } catch (e) {
        const hold = holdDelay(e, attempt, MIN_RETRY_MS, MAX_BACKOFF_MS);
        wait = hold.ms;
        if (hold.backpressure) {
          this.state = 'paused';
          if (attempt === 1) this.log.warn({ retry_in_ms: wait, messages: chunk.length }, 'intake backpressure; holding the batch (no fetch, no commit)');
        } else {
          this.fail(e);
          this.log.error({ err: errorContext(e), retry_in_ms: wait }, 'intake refused the batch; holding it');
          if (this.stopping) return false;
          // It may have committed before failing: what the store holds decides what is offered again.
          await this.reloadPosition(key).catch(() => undefined);
        }
      }
      await this.sleep(wait, p);
    }
  }

  private accepted(key: string, next: bigint, records: number, last: KafkaMessage | undefined): void {
    this.positions.set(key, next);
    this.records += records;
    if (records > 0) this.lastRecordAt = Date.now();
    if (last) this.lastPublishedAt = Number(last.timestamp);
    this.state = 'running';
    this.error = null;
  }

  private fail(e: unknown): void {
    this.state = 'failing';
    this.error = e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300);
  }

  /** A sleep that stop() cuts short, heartbeating so that the group keeps us while we hold a batch. */
  private async sleep(ms: number, p: EachBatchPayload): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) {
      await this.naps.sleep(Math.min(1000, until - Date.now()));
      await p.heartbeat().catch(() => undefined);
    }
  }
}

/** Built by `create`, and by tests that need the counters. */
export function kafkaReceiver(cfg: KafkaReceiverConfig, source: { name: string; detector?: string }, deps: ReceiverDeps): KafkaReceiver {
  return new KafkaReceiver(cfg, source.name, source.detector, deps);
}

const kafkaComponent = defineReceiver({
  kind: 'kafka',
  description: 'Consumes Kafka topics as a consumer-group member, committing offsets only after the records are stored',
  schema: KafkaReceiverSchema,
  check: checkConfig,
  create: async (config, deps) => kafkaReceiver(config, deps.source, deps),
});
export default kafkaComponent;
