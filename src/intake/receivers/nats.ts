/**
 * The `nats` receiver kind: a durable pull consumer on a NATS JetStream stream. Each message becomes one
 * intake record, byte for byte (receivers/../bus/loop.ts runs the fetch → accept → ack loop).
 *
 * - The durable consumer is created when missing (explicit ack, `filter_subject` from `subject`, delivering
 *   the whole stream, `ack_wait`); an existing one is used as it is configured.
 * - Acknowledgement is `ackAck` (the server confirms it) and only after the batch committed; a crash in
 *   between re-delivers after `ack_wait`. Messages too large to store are terminated (`+TERM`), not retried.
 * - The cursor is the stream sequence of the last accepted message, committed with the records
 *   (`receiver_cursors` `nats:<source>` / `stream_seq`); `pending()` is the consumer's num_pending.
 * - TLS: a `tls://` server or a `tls:` section turns it on, certificates verified (a private CA by `ca_file`).
 *   Password and token are secret references.
 */
import { resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerInfo, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { parseDuration } from '../../config/duration.js';
import { Duration } from '../../config/schema.js';
import { isSecretRef } from '../../config/secrets.js';
import type { ComponentProblem } from '../../component/component.js';
import { defineReceiver, type ReceiverDeps } from '../receiver.js';
import { BusReceiver, type BusMessage, type BusSession } from '../bus/loop.js';

export const NatsReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('nats'),
    servers: Type.Array(Type.String({ pattern: '^(nats|tls)://' }), { minItems: 1, description: 'nats://host:4222 or tls://host:4222' }),
    stream: Type.String({ minLength: 1, description: 'The JetStream stream' }),
    subject: Type.Optional(Type.String({ minLength: 1, description: 'Filter subject of the consumer (default: all of the stream)' })),
    durable: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Durable consumer name (created when missing)' }),
    batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Messages per fetch and intake batch (default 100)' })),
    ack_wait: Type.Optional(Duration),
    max_message_bytes: Type.Optional(
      Type.Integer({ minimum: 256, description: 'Larger messages are terminated, not stored (default 262144; keep ≤ intake.max_record_bytes)' }),
    ),
    user: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String({ description: 'A secret reference such as ${env:NATS_PASSWORD}' })),
    token: Type.Optional(Type.String({ description: 'A secret reference such as ${env:NATS_TOKEN}' })),
    tls: Type.Optional(
      Type.Object(
        {
          ca_file: Type.Optional(Type.String({ description: 'PEM CA bundle for a private CA (relative to the config file)' })),
          cert_file: Type.Optional(Type.String({ description: 'Client certificate (PEM)' })),
          key_file: Type.Optional(Type.String({ description: 'Client key (PEM)' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type NatsReceiverConfig = Static<typeof NatsReceiverSchema>;

const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;
/** How long one fetch waits for messages: bounds how long stop() waits too. */
const FETCH_EXPIRES_MS = 1000;

function checkConfig(cfg: NatsReceiverConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  for (const key of ['password', 'token'] as const) {
    const v = cfg[key];
    if (v !== undefined && !isSecretRef(v)) problems.push({ key, message: 'must be a secret reference (${env:NAME} or ${file:/path}), not the secret itself' });
  }
  if (cfg.password !== undefined && cfg.user === undefined) problems.push({ key: 'password', message: 'needs `user`' });
  if (cfg.token !== undefined && cfg.user !== undefined) problems.push({ key: 'token', message: 'give either user/password or token' });
  if ((cfg.tls?.cert_file === undefined) !== (cfg.tls?.key_file === undefined)) problems.push({ key: 'tls', message: 'cert_file and key_file go together' });
  for (const s of cfg.servers) {
    try {
      const u = new URL(s);
      if (u.password) problems.push({ key: 'servers', message: 'a server URL holds a password; use user/password (a secret reference)' });
    } catch {
      problems.push({ key: 'servers', message: `${s} is not a URL` });
    }
  }
  return problems;
}

class NatsSession implements BusSession {
  private lastPending: number | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly consumer: Consumer,
    private readonly cfg: NatsReceiverConfig,
    private readonly source: string,
    private readonly ackWaitMs: number,
  ) {}

  static async open(cfg: NatsReceiverConfig, source: string, configDir: string): Promise<NatsSession> {
    const tls = cfg.tls || cfg.servers.some((s) => s.startsWith('tls://'))
      ? {
          ...(cfg.tls?.ca_file ? { caFile: resolve(configDir, cfg.tls.ca_file) } : {}),
          ...(cfg.tls?.cert_file ? { certFile: resolve(configDir, cfg.tls.cert_file) } : {}),
          ...(cfg.tls?.key_file ? { keyFile: resolve(configDir, cfg.tls.key_file) } : {}),
        }
      : undefined;
    const nc = await connect({
      servers: cfg.servers,
      name: `fido:${source}`,
      ...(cfg.user !== undefined ? { user: cfg.user, pass: cfg.password } : {}),
      ...(cfg.token !== undefined ? { token: cfg.token } : {}),
      ...(tls ? { tls } : {}),
      maxReconnectAttempts: -1,
    });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await ensureConsumer(jsm, cfg);
      const consumer = await jetstream(nc).consumers.get(cfg.stream, cfg.durable);
      return new NatsSession(nc, jsm, consumer, cfg, source, (info.config.ack_wait ?? 30e9) / 1e6);
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  async fetch(max: number): Promise<BusMessage[]> {
    const out: BusMessage[] = [];
    const iter = await this.consumer.fetch({ max_messages: max, expires: FETCH_EXPIRES_MS });
    for await (const m of iter) {
      out.push(busMessage(m));
      this.lastPending = m.info.pending;
    }
    if (out.length === 0) this.lastPending = (await this.jsm.consumers.info(this.cfg.stream, this.cfg.durable)).num_pending;
    return out;
  }

  usable(): boolean {
    return !this.nc.isClosed();
  }

  pending(): number | null {
    return this.lastPending;
  }

  keepAliveMs(): number {
    return Math.max(50, Math.floor(this.ackWaitMs / 2));
  }

  cursorAfter(batch: readonly BusMessage[]) {
    const seq = Math.max(...batch.map((m) => Number(m.id)));
    return { receiver: `nats:${this.source}`, key: 'stream_seq', value: String(seq), updated_at: Date.now() };
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

async function ensureConsumer(jsm: JetStreamManager, cfg: NatsReceiverConfig): Promise<ConsumerInfo> {
  try {
    return await jsm.consumers.info(cfg.stream, cfg.durable);
  } catch (e) {
    if (!/consumer not found/i.test((e as Error).message)) throw e;
  }
  return jsm.consumers.add(cfg.stream, {
    durable_name: cfg.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ...(cfg.subject ? { filter_subject: cfg.subject } : {}),
    ack_wait: parseDuration(cfg.ack_wait ?? '30s', `sources.${cfg.name}.receiver.ack_wait`) * 1_000_000,
    max_deliver: -1,
  });
}

function busMessage(m: JsMsg): BusMessage {
  return {
    body: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
    id: String(m.info.streamSequence),
    messageId: m.headers?.get('Nats-Msg-Id') || null,
    // The stream sequence alone would repeat if the stream were recreated; with the stored time it cannot.
    key: `${m.info.stream}:${m.info.streamSequence}:${m.info.timestampNanos}`,
    redelivered: m.redelivered,
    publishedAt: Math.floor(m.info.timestampNanos / 1e6),
    ack: async () => {
      if (!(await m.ackAck())) throw new Error(`ack of stream sequence ${m.info.streamSequence} was not confirmed`);
    },
    // Plain +TERM: a server before 2.10 ignores "+TERM <reason>" (the message stays pending). Fido logs the reason.
    reject: async () => m.term(),
    release: async () => m.nak(),
    keepAlive: () => m.working(),
  };
}

/** Built by `create`, and by tests that need the loop's counters. */
export function natsReceiver(cfg: NatsReceiverConfig, source: { name: string; detector?: string }, deps: ReceiverDeps): BusReceiver {
  return new BusReceiver(
    source.name,
    source.detector,
    { kind: 'nats', batch: cfg.batch ?? 100, maxMessageBytes: cfg.max_message_bytes ?? DEFAULT_MAX_MESSAGE_BYTES },
    () => NatsSession.open(cfg, source.name, deps.configDir),
    deps,
    { stream: cfg.stream, durable: cfg.durable },
  );
}

const natsComponent = defineReceiver({
  kind: 'nats',
  description: 'Pulls messages from a NATS JetStream durable consumer, acknowledging each once stored',
  schema: NatsReceiverSchema,
  check: checkConfig,
  create: async (config, deps) => natsReceiver(config, deps.source, deps),
});
export default natsComponent;
