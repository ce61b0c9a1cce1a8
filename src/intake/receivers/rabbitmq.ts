/**
 * The `rabbitmq` receiver kind: consumes one AMQP 0-9-1 queue with manual acknowledgement. Each message
 * becomes one intake record, byte for byte, whatever its content-type (bus/loop.ts runs the fetch → accept →
 * ack loop).
 *
 * - `prefetch` bounds the unacknowledged messages the broker hands us; it is also the batch size. While the
 *   intake pushes back, the batch is held unacknowledged, so the broker simply stops delivering.
 * - basic.ack only after the batch committed; a crash or dropped connection in between makes the broker
 *   re-deliver (redelivered flag). With `dedup_by_message_id` (for publishers that give every message its
 *   own AMQP message-id) the message-id is the record's dedup key and a redelivery is not stored twice;
 *   otherwise it becomes a duplicate record. Off by default: a publisher that reuses message-ids would lose
 *   messages.
 * - A message too large to store is rejected without requeue: dead-lettered when the queue has a
 *   dead-letter exchange (x-dead-letter-exchange), dropped otherwise; the reason is logged either way.
 * - `declare` declares the queue (and binds it to an exchange) on every connect; without it the queue must
 *   exist. A dropped connection or closed channel is reopened with backoff.
 * - `pending()` is the queue's ready-message count, read with a passive declare when a fetch finds nothing.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { Connection, type AsyncMessage, type Channel } from 'rabbitmq-client';
import { isSecretRef } from '../../config/secrets.js';
import type { ComponentProblem } from '../../component/component.js';
import { defineReceiver, type ReceiverDeps } from '../receiver.js';
import { BusReceiver, type BusMessage, type BusSession } from '../bus/loop.js';

export const RabbitReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('rabbitmq'),
    url: Type.String({ pattern: '^amqps?://', description: 'amqp://user@host:5672/vhost or amqps://… (no password in clear)' }),
    password: Type.Optional(Type.String({ description: 'A secret reference such as ${env:RABBITMQ_PASSWORD}' })),
    queue: Type.String({ minLength: 1, maxLength: 255 }),
    dedup_by_message_id: Type.Optional(
      Type.Boolean({ description: "Store each message-id once per source, so redeliveries are not stored twice (default false; only for publishers whose message-ids are unique)" }),
    ),
    prefetch: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Unacknowledged messages at a time, and the batch size (default 100)' })),
    max_message_bytes: Type.Optional(
      Type.Integer({ minimum: 256, description: 'Larger messages are rejected (dead-lettered), not stored (default 262144; keep ≤ intake.max_record_bytes)' }),
    ),
    declare: Type.Optional(
      Type.Object(
        {
          durable: Type.Optional(Type.Boolean({ description: 'Declare the queue durable (default true)' })),
          dead_letter_exchange: Type.Optional(Type.String({ description: 'x-dead-letter-exchange of the queue: where rejected messages go' })),
          exchange: Type.Optional(Type.String({ minLength: 1, description: 'Exchange to declare and bind the queue to' })),
          exchange_type: Type.Optional(Type.Union([Type.Literal('direct'), Type.Literal('topic'), Type.Literal('fanout'), Type.Literal('headers')])),
          routing_keys: Type.Optional(Type.Array(Type.String(), { description: 'Binding keys (default [""] )' })),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca_file: Type.Optional(Type.String({ description: 'PEM CA bundle for a private CA (relative to the config file)' })),
          cert_file: Type.Optional(Type.String()),
          key_file: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type RabbitReceiverConfig = Static<typeof RabbitReceiverSchema>;

const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;
/** How long one fetch waits for a delivery: bounds how long stop() waits too. */
const FETCH_WAIT_MS = 1000;

function checkConfig(cfg: RabbitReceiverConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  if (cfg.password !== undefined && !isSecretRef(cfg.password)) problems.push({ key: 'password', message: 'must be a secret reference (${env:NAME} or ${file:/path})' });
  const REF = 'secret-reference';
  try {
    const u = new URL(cfg.url.replace(/\$\{(env|file):[^{}]+\}/g, REF));
    if (u.password && u.password !== REF) problems.push({ key: 'url', message: 'holds a password in clear; give it as `password: ${env:NAME}`' });
    if (u.password && cfg.password !== undefined) problems.push({ key: 'password', message: 'the URL holds a password already' });
  } catch {
    problems.push({ key: 'url', message: 'is not a URL (amqp://user@host:5672/vhost)' });
  }
  if (cfg.tls && !cfg.url.startsWith('amqps://')) problems.push({ key: 'tls', message: 'needs an amqps:// url' });
  if ((cfg.tls?.cert_file === undefined) !== (cfg.tls?.key_file === undefined)) problems.push({ key: 'tls', message: 'cert_file and key_file go together' });
  return problems;
}

/** The connection options: the password spliced into the URL (the client reads it from there). */
function connectionOptions(cfg: RabbitReceiverConfig, source: string, configDir: string) {
  const u = new URL(cfg.url);
  if (cfg.password !== undefined) u.password = encodeURIComponent(cfg.password);
  const file = (f: string | undefined) => (f ? readFileSync(resolve(configDir, f)) : undefined);
  const tls = u.protocol === 'amqps:' ? { rejectUnauthorized: true, ca: file(cfg.tls?.ca_file), cert: file(cfg.tls?.cert_file), key: file(cfg.tls?.key_file) } : undefined;
  return { url: u.toString(), connectionName: `fido:${source}`, ...(tls ? { tls } : {}), connectionTimeout: 10_000, retryHigh: 30_000 };
}

interface ChannelInternals {
  _onHeader?: (frame: { fields: Record<string, unknown> }) => void;
}

/**
 * rabbitmq-client decodes text/plain bodies to strings (lossy for invalid UTF-8) and application/json ones
 * to objects, which loses the exact bytes. Its per-channel header hook (5.0.x internal) gets the content
 * type hidden, so every body stays a Buffer; tests check the bytes, and a body that is not a Buffer fails.
 */
function keepRawBodies(ch: Channel): void {
  const internals = ch as unknown as ChannelInternals;
  const onHeader = internals._onHeader;
  if (typeof onHeader !== 'function') throw new Error('rabbitmq-client internals changed: cannot keep message bodies as bytes');
  internals._onHeader = function (this: unknown, frame) {
    if (frame.fields.contentType !== undefined && !frame.fields.contentEncoding) frame.fields = { ...frame.fields, contentType: undefined };
    onHeader.call(this, frame);
  };
}

class RabbitSession implements BusSession {
  private readonly buffer: AsyncMessage[] = [];
  private waiter: (() => void) | null = null;
  private lastPending: number | null = null;

  private constructor(
    private readonly conn: Connection,
    private readonly ch: Channel,
    private readonly queue: string,
    private readonly dedup: boolean,
  ) {}

  static async open(cfg: RabbitReceiverConfig, source: string, configDir: string): Promise<RabbitSession> {
    const conn = new Connection(connectionOptions(cfg, source, configDir));
    conn.on('error', () => undefined); // surfaced by the channel's failures and logged by the loop
    try {
      const ch = await conn.acquire();
      keepRawBodies(ch);
      if (cfg.declare) {
        const d = cfg.declare;
        await ch.queueDeclare({
          queue: cfg.queue,
          durable: d.durable ?? true,
          ...(d.dead_letter_exchange !== undefined ? { arguments: { 'x-dead-letter-exchange': d.dead_letter_exchange } } : {}),
        });
        if (d.exchange) {
          await ch.exchangeDeclare({ exchange: d.exchange, type: d.exchange_type ?? 'direct', durable: d.durable ?? true });
          for (const routingKey of d.routing_keys ?? ['']) await ch.queueBind({ queue: cfg.queue, exchange: d.exchange, routingKey });
        }
      }
      const session = new RabbitSession(conn, ch, cfg.queue, cfg.dedup_by_message_id ?? false);
      await ch.basicQos({ prefetchCount: cfg.prefetch ?? 100 });
      await ch.basicConsume({ queue: cfg.queue, noAck: false }, (m) => session.delivered(m));
      return session;
    } catch (e) {
      conn.unsafeDestroy();
      throw e;
    }
  }

  private delivered(m: AsyncMessage): void {
    this.buffer.push(m);
    this.waiter?.();
  }

  async fetch(max: number): Promise<BusMessage[]> {
    if (this.buffer.length === 0) {
      await new Promise<void>((done) => {
        const timer = setTimeout(finish, FETCH_WAIT_MS);
        const onClose = (): void => finish();
        this.ch.once('close', onClose);
        const self = this;
        function finish(): void {
          clearTimeout(timer);
          self.ch.off('close', onClose);
          self.waiter = null;
          done();
        }
        this.waiter = finish;
      });
      // Deliveries come in bursts: let the rest of this one arrive.
      await new Promise((r) => setImmediate(r));
    }
    if (!this.ch.active) throw new Error('the AMQP channel closed');
    const batch = this.buffer.splice(0, max).map((m) => this.busMessage(m));
    if (batch.length === 0) this.lastPending = (await this.ch.queueDeclare({ queue: this.queue, passive: true })).messageCount;
    return batch;
  }

  private busMessage(m: AsyncMessage): BusMessage {
    const body: unknown = m.body;
    if (!Buffer.isBuffer(body)) throw new Error('a message body was decoded by the client; its bytes are lost');
    const tag = m.deliveryTag;
    const messageId = typeof m.messageId === 'string' && m.messageId !== '' ? m.messageId : null;
    return {
      body,
      id: String(tag),
      messageId,
      key: this.dedup && messageId !== null ? `message-id:${messageId}` : null,
      redelivered: m.redelivered,
      publishedAt: typeof m.timestamp === 'number' && m.timestamp > 0 ? m.timestamp * 1000 : null,
      ack: async () => this.ch.basicAck({ deliveryTag: tag }),
      reject: async () => this.ch.basicNack({ deliveryTag: tag, requeue: false }),
      release: async () => this.ch.basicNack({ deliveryTag: tag, requeue: true }),
      keepAlive: () => undefined,
    };
  }

  usable(): boolean {
    return this.ch.active;
  }

  pending(): number | null {
    return this.lastPending;
  }

  keepAliveMs(): null {
    return null; // AMQP has no ack timer short enough to matter (consumer_timeout is 30 min by default)
  }

  cursorAfter(): undefined {
    return undefined; // delivery tags are per channel: nothing to resume from
  }

  async close(): Promise<void> {
    this.waiter?.();
    if (this.ch.active) await this.ch.close().catch(() => undefined);
    await this.conn.close();
  }
}

/** Built by `create`, and by tests that need the loop's counters. */
export function rabbitReceiver(cfg: RabbitReceiverConfig, source: { name: string; detector?: string }, deps: ReceiverDeps): BusReceiver {
  return new BusReceiver(
    source.name,
    source.detector,
    { kind: 'rabbitmq', batch: cfg.prefetch ?? 100, maxMessageBytes: cfg.max_message_bytes ?? DEFAULT_MAX_MESSAGE_BYTES },
    () => RabbitSession.open(cfg, source.name, deps.configDir),
    deps,
    { queue: cfg.queue },
  );
}

const rabbitComponent = defineReceiver({
  kind: 'rabbitmq',
  description: 'Consumes a RabbitMQ (AMQP 0-9-1) queue, acknowledging each message once stored',
  schema: RabbitReceiverSchema,
  check: checkConfig,
  create: async (config, deps) => rabbitReceiver(config, deps.source, deps),
});
export default rabbitComponent;
