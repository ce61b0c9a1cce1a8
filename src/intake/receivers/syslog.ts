/**
 * The `syslog` receiver kind: a UDP, TCP or TLS listener whose messages go to the intake log, one record per
 * message with detector auto-detection (the source's own `detector` if it forces one), so the syslog, CEF and
 * LEEF detectors parse RFC 3164 and RFC 5424 envelopes.
 *
 * - TCP/TLS framing (RFC 6587) is detected per message: octet counting or LF/NUL trailers (syslog/framing.ts).
 *   A message over `max_message_bytes` is handed over cut at the limit and counted; its rest is skipped.
 * - Acknowledging a TCP message is reading it: a connection stops being read while its messages wait for the
 *   intake (more than a batch pending) and while the intake pushes back (BackpressureError), so the sender's
 *   TCP window closes and it waits; nothing is dropped. Messages read but not yet committed are lost if Fido
 *   dies (syslog has no application acknowledgement); a clean stop commits them first.
 * - UDP cannot push back: datagrams are held (up to a bound) while the intake pushes back, and beyond it they
 *   are dropped and counted (`status().dropped`, `fido_syslog_messages_dropped_total`).
 * - `senders` maps sender addresses (CIDR, first match wins) to other sources, so one listener feeds several;
 *   unmapped senders feed this receiver's source.
 * - TLS: `cert`/`key` (and `ca`) are PEM text, typically `${file:…}` or `${env:…}` references, or paths of PEM
 *   files (relative to the config file). `client_auth: required` demands a client certificate signed by `ca`.
 * - Syslog carries no message id: a message sent twice is stored twice (dedup is the pipeline's, by content).
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { BlockList, createServer, isIPv4, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Counter } from 'prom-client';
import { Type, type Static } from 'typebox';
import type { SourceConfig } from '../../config/schema.js';
import { registry } from '../../metrics.js';
import { errorContext, type Logger } from '../../util/log.js';
import { BackpressureError, defineReceiver, recordOfBytes, type IntakeRecord, type Receiver, type ReceiverDeps, type ReceiverStatus } from '../receiver.js';
import { SyslogFramer, cutUtf8 } from '../syslog/framing.js';
import { Sleeper } from '../sleeper.js';
import { pem } from '../../util/pem.js';

// ---------------------------------------------------------------------------------------------------------
// Settings

const SourceName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' });

export const SyslogReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('syslog'),
    protocol: Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')], { description: 'udp, tcp or tls' }),
    host: Type.Optional(Type.String({ minLength: 1, description: 'Address to listen on (default 0.0.0.0)' })),
    port: Type.Integer({ minimum: 0, maximum: 65535, description: 'Port to listen on (514, 6514 for TLS…)' }),
    cert: Type.Optional(Type.String({ minLength: 1, description: 'TLS: server certificate chain, PEM text (${file:…}) or a PEM file path' })),
    key: Type.Optional(Type.String({ minLength: 1, description: 'TLS: private key, a secret reference (${file:…}, ${env:…}) or a PEM file path' })),
    ca: Type.Optional(Type.String({ minLength: 1, description: 'TLS: CA certificates that sign client certificates (PEM text or file path)' })),
    client_auth: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('required')], { description: 'TLS: required = mutual TLS, clients need a certificate signed by ca' }),
    ),
    max_message_bytes: Type.Optional(
      Type.Integer({ minimum: 256, maximum: 16 * 1024 * 1024, description: 'Longer messages are cut here (default 64 KiB)' }),
    ),
    max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'TCP/TLS: concurrent connections (default 1000)' })),
    receive_buffer_bytes: Type.Optional(
      Type.Integer({ minimum: 4096, maximum: 256 * 1024 * 1024, description: 'UDP: socket receive buffer (capped by net.core.rmem_max)' }),
    ),
    hold_bytes: Type.Optional(
      Type.Integer({ minimum: 64 * 1024, maximum: 1024 * 1024 * 1024, description: 'UDP: bytes of datagrams held while the intake pushes back; more are dropped and counted (default 16 MiB)' }),
    ),
    senders: Type.Optional(
      Type.Array(
        Type.Object(
          {
            address: Type.String({ description: 'Sender address or CIDR (10.1.0.0/16, 2001:db8::/32)' }),
            source: SourceName,
          },
          { additionalProperties: false },
        ),
        { description: 'Senders whose messages belong to another source; first match wins; others go to this source' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SyslogReceiverConfig = Static<typeof SyslogReceiverSchema>;

interface SenderRule {
  list: BlockList;
  source: string;
}

export interface SyslogSettings {
  protocol: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  tls: { cert: string; key: string; ca?: string; clientAuth: boolean } | null;
  maxMessageBytes: number;
  maxConnections: number;
  receiveBufferBytes: number | null;
  holdBytes: number;
  senders: SenderRule[];
}

const DEFAULTS = { host: '0.0.0.0', max_message_bytes: 64 * 1024, max_connections: 1000 } as const;
/** Records per intake call. */
const BATCH = 500;
/** A connection stops being read with this much waiting for the intake. */
const PENDING_RECORDS = 2 * BATCH;
const PENDING_BYTES = 4 * 1024 * 1024;
const MAX_BACKOFF_MS = 30_000;
/** How long UDP datagrams gather into a batch at most. */
const UDP_GATHER_MS = 20;
/** UDP batches handed to the intake at once. */
const UDP_IN_FLIGHT = 8;

/** `10.0.0.0/8`, `2001:db8::/32` or a bare address: [address, prefix, family], or a problem. */
function parseCidr(text: string): [string, number, 'ipv4' | 'ipv6'] | string {
  const [addr = '', bits, extra] = text.trim().split('/');
  if (extra !== undefined) return 'is not an address or CIDR';
  const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
  if (!family) return 'is not an address or CIDR';
  const width = family === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? width : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= width)) return `has a prefix length outside 0–${width}`;
  return [addr, prefix, family];
}

function checkConfig(c: SyslogReceiverConfig): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  (c.senders ?? []).forEach((s, i) => {
    const r = parseCidr(s.address);
    if (typeof r === 'string') problems.push({ key: `senders[${i}].address`, message: `${JSON.stringify(s.address)} ${r}` });
  });
  if (c.protocol === 'tls') {
    if (!c.cert) problems.push({ key: 'cert', message: 'required for protocol tls' });
    if (!c.key) problems.push({ key: 'key', message: 'required for protocol tls' });
    if (c.client_auth === 'required' && !c.ca) problems.push({ key: 'ca', message: 'required with client_auth: required' });
  } else {
    for (const k of ['cert', 'key', 'ca', 'client_auth'] as const) if (c[k] !== undefined) problems.push({ key: k, message: 'only for protocol tls' });
  }
  for (const k of ['receive_buffer_bytes', 'hold_bytes'] as const) if (c[k] !== undefined && c.protocol !== 'udp') problems.push({ key: k, message: 'only for protocol udp' });
  return problems;
}

export function resolveSettings(c: SyslogReceiverConfig, configDir: string): SyslogSettings {
  const problems = checkConfig(c);
  if (problems.length > 0) throw new Error(problems.map((p) => `sources.${c.name}.receiver.${p.key}: ${p.message}`).join('; '));
  const senders = (c.senders ?? []).map((s) => {
    const [addr, prefix, family] = parseCidr(s.address) as [string, number, 'ipv4' | 'ipv6'];
    const list = new BlockList();
    list.addSubnet(addr, prefix, family);
    return { list, source: s.source };
  });
  return {
    protocol: c.protocol,
    host: c.host ?? DEFAULTS.host,
    port: c.port,
    tls:
      c.protocol === 'tls'
        ? { cert: pem(c.cert!, configDir), key: pem(c.key!, configDir), ...(c.ca ? { ca: pem(c.ca, configDir) } : {}), clientAuth: c.client_auth === 'required' }
        : null,
    maxMessageBytes: c.max_message_bytes ?? DEFAULTS.max_message_bytes,
    maxConnections: c.max_connections ?? DEFAULTS.max_connections,
    receiveBufferBytes: c.receive_buffer_bytes ?? null,
    holdBytes: c.hold_bytes ?? Math.max(16 * 1024 * 1024, 8 * (c.max_message_bytes ?? DEFAULTS.max_message_bytes)),
    senders,
  };
}

export const syslogTruncated = new Counter({
  name: 'fido_syslog_messages_truncated_total',
  help: 'Syslog messages longer than max_message_bytes, handed over cut at the limit, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});
export const syslogDropped = new Counter({
  name: 'fido_syslog_messages_dropped_total',
  help: 'Syslog UDP datagrams dropped while the intake pushed back (past the receiver’s hold bound), by source',
  labelNames: ['source'] as const,
  registers: [registry],
});

// ---------------------------------------------------------------------------------------------------------
// The receiver.

/** status() of a syslog receiver: the common fields and its own counts. */
export interface SyslogStatus extends ReceiverStatus {
  /** UDP datagrams dropped under backpressure since start. */
  dropped: number;
  /** Messages cut at max_message_bytes since start. */
  truncated: number;
  /** Messages read and not yet stored (queued or being committed). */
  held: number;
  /** Open TCP/TLS connections. */
  connections: number;
  /** TLS handshakes refused (no or bad client certificate…) since start. */
  refused: number;
}

/** Records waiting for the intake (with their sizes in bytes, for the bounds). */
class Queue {
  readonly records: IntakeRecord[] = [];
  private readonly sizes: number[] = [];
  bytes = 0;
  push(r: IntakeRecord, size: number): void {
    this.records.push(r);
    this.sizes.push(size);
    this.bytes += size;
  }
  take(): IntakeRecord[] {
    for (const n of this.sizes.splice(0, BATCH)) this.bytes -= n;
    return this.records.splice(0, BATCH);
  }
}

export class SyslogReceiver implements Receiver {
  private readonly log: Logger;
  private readonly detector: string | null;
  private server: Server | null = null;
  private udp: UdpSocket | null = null;
  private readonly connections = new Set<Socket>();
  /** Deliveries in flight (connection pumps, the UDP pump): stop() waits for them. */
  private readonly pumps = new Set<Promise<void>>();
  private readonly senderSource = new Map<string, string>();
  private stopping = false;
  private readonly naps = new Sleeper();
  /** Deliveries currently refused by backpressure. */
  private backedOff = 0;
  /** Messages read and not yet stored. */
  private held = 0;
  private stats = { records: 0, lastRecordAt: null as number | null, dropped: 0, truncated: 0, refused: 0, error: null as string | null, failing: false };
  // UDP: what waits for the intake, per source, under one byte bound.
  private readonly udpQueues = new Map<string, Queue>();
  private udpBytes = 0;
  private udpTimer: NodeJS.Immediate | NodeJS.Timeout | null = null;
  private udpInFlight = 0;
  private readonly udpHoldBytes: number;

  constructor(
    private readonly source: SourceConfig,
    private readonly settings: SyslogSettings,
    private readonly deps: ReceiverDeps,
  ) {
    this.log = deps.log.child({ receiver: 'syslog', source: source.name, protocol: settings.protocol });
    this.detector = source.detector && source.detector !== 'auto' ? source.detector : null;
    this.udpHoldBytes = settings.holdBytes;
  }

  /** Where it listens (port 0 in the config: the port the kernel chose), null when not listening. */
  address(): { address: string; port: number } | null {
    const a = (this.server?.address() ?? this.udp?.address() ?? null) as AddressInfo | string | null;
    return a && typeof a === 'object' ? { address: a.address, port: a.port } : null;
  }

  status(): SyslogStatus {
    const listening = this.server !== null || this.udp !== null;
    return {
      state: !listening ? (this.stats.failing ? 'failing' : 'stopped') : this.stats.failing ? 'failing' : this.backedOff > 0 ? 'paused' : 'running',
      last_record_at: this.stats.lastRecordAt,
      records: this.stats.records,
      lag_ms: null,
      error: this.stats.error,
      cursor: null,
      dropped: this.stats.dropped,
      truncated: this.stats.truncated,
      held: this.held,
      connections: this.connections.size,
      refused: this.stats.refused,
    };
  }

  /** Binds the listener; fails (port in use, bad certificate…) with the reason. */
  async start(): Promise<void> {
    if (this.server || this.udp) return;
    this.stopping = false;
    this.naps.reset();
    const { host, port } = this.settings;
    try {
      if (this.settings.protocol === 'udp') await this.listenUdp(host, port);
      else await this.listenStream(host, port);
    } catch (e) {
      this.stats.failing = true;
      this.stats.error = `cannot listen on ${host}:${port}: ${(e as Error).message}`;
      throw new Error(`sources.${this.source.name}.receiver: ${this.stats.error}`);
    }
    // A start that follows a failed one (the supervisor retries it) clears the failure.
    this.stats.failing = false;
    this.stats.error = null;
    this.log.info({ address: this.address() }, 'syslog receiver listening');
  }

  /** Stops listening, commits what was read, then closes the connections. */
  async stop(): Promise<void> {
    if (!this.server && !this.udp) return;
    this.stopping = true;
    const server = this.server;
    const udp = this.udp;
    const closed = server ? new Promise<void>((done) => server.close(() => done())) : Promise.resolve();
    for (const s of this.connections) s.pause();
    if (udp) {
      udp.close();
      if (this.udpTimer) {
        clearTimeout(this.udpTimer as NodeJS.Timeout);
        clearImmediate(this.udpTimer as NodeJS.Immediate);
        this.udpTimer = null;
      }
      this.flushUdp();
    }
    // Pumps end once their pending records are committed (or, under backpressure, given up on).
    this.naps.stop();
    while (this.pumps.size > 0) await Promise.allSettled([...this.pumps]);
    for (const s of this.connections) s.destroy();
    await closed;
    this.server = null;
    this.udp = null;
  }

  /** The source of messages from `address`: the first `senders` rule that matches it, else this one. */
  private sourceOf(address: string): string {
    const cached = this.senderSource.get(address);
    if (cached) return cached;
    const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : null;
    const family = v4 || isIPv4(address) ? 'ipv4' : 'ipv6';
    const rule = this.settings.senders.find((r) => r.list.check(v4 ?? address, family));
    const source = rule?.source ?? this.source.name;
    if (this.senderSource.size > 10_000) this.senderSource.clear();
    this.senderSource.set(address, source);
    return source;
  }

  private detectorFor(source: string): string | null {
    return source === this.source.name ? this.detector : null;
  }

  private countTruncated(source: string, n: number): void {
    if (n === 0) return;
    this.stats.truncated += n;
    syslogTruncated.inc({ source }, n);
    this.log.warn({ messages: n, max_message_bytes: this.settings.maxMessageBytes, to: source }, 'syslog messages over max_message_bytes cut at the limit');
  }

  /**
   * Hands one batch to the intake, offering it again after a backoff while the intake pushes back or fails
   * (`onHold` is told, to stop reading). True once committed; false if stop() came first.
   */
  private async deliver(source: string, batch: IntakeRecord[], onHold: () => void): Promise<boolean> {
    try {
      return await this.offer(source, batch, onHold);
    } finally {
      this.held -= batch.length;
    }
  }

  private async offer(source: string, batch: IntakeRecord[], onHold: () => void): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.intake.accept(source, this.detectorFor(source), batch);
        this.stats.records += batch.length;
        this.stats.lastRecordAt = Date.now();
        this.stats.error = null;
        this.stats.failing = false;
        return true;
      } catch (e) {
        if (this.stopping && attempt > 1) {
          this.log.error({ records: batch.length, to: source }, 'stopping while the intake refuses: messages read but not stored are lost');
          return false;
        }
        const pushedBack = e instanceof BackpressureError;
        // Short first retries; never longer than the writer advises (or the cap).
        const advised = pushedBack ? Math.max(50, e.retryAfterSeconds * 1000) : MAX_BACKOFF_MS;
        const delay = Math.min(advised, 50 * 2 ** Math.min(attempt - 1, 10), MAX_BACKOFF_MS);
        if (pushedBack) {
          if (attempt === 1) this.log.info({ to: source }, 'intake backlog full: holding syslog input');
        } else {
          this.stats.failing = true;
          this.stats.error = `intake: ${(e as Error).message}`;
          this.log.error({ err: errorContext(e), retry_in_ms: delay }, 'syslog batch not stored; retrying');
        }
        this.backedOff++;
        onHold();
        try {
          await this.naps.sleep(delay);
        } finally {
          this.backedOff--;
        }
      }
    }
  }

  private track(p: Promise<void>): void {
    this.pumps.add(p);
    void p.finally(() => this.pumps.delete(p));
  }

  // -------------------------------------------------------------------------------------------------------
  // TCP and TLS

  private async listenStream(host: string, port: number): Promise<void> {
    const tlsSettings = this.settings.tls;
    let server: Server;
    if (tlsSettings) {
      server = createTlsServer(
        {
          cert: tlsSettings.cert,
          key: tlsSettings.key,
          ...(tlsSettings.ca ? { ca: tlsSettings.ca } : {}),
          requestCert: tlsSettings.clientAuth,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        },
        (s: TLSSocket) => this.onConnection(s),
      );
      server.on('tlsClientError', (e: Error, s: TLSSocket) => {
        this.stats.refused++;
        this.log.warn({ remote: s.remoteAddress, err: e.message }, 'syslog TLS handshake refused');
      });
    } else {
      server = createServer((s) => this.onConnection(s));
    }
    server.maxConnections = this.settings.maxConnections;
    server.on('drop', (d) => this.log.warn({ remote: d?.remoteAddress, max_connections: this.settings.maxConnections }, 'syslog connection refused: max_connections reached'));
    server.on('error', (e) => {
      this.stats.error = e.message;
      this.log.error({ err: errorContext(e) }, 'syslog listener error');
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen({ host, port }, () => {
        server.off('error', fail);
        done();
      });
    });
    this.server = server;
  }

  private onConnection(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const source = this.sourceOf(socket.remoteAddress ?? '');
    const framer = new SyslogFramer(this.settings.maxMessageBytes);
    const queue = new Queue();
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.connections.add(socket);
    socket.setKeepAlive(true, 60_000);
    let pumping = false;
    let ended = false;
    let held = false;
    const hold = (): void => {
      held = true;
      socket.pause();
    };
    const full = (): boolean => queue.records.length >= PENDING_RECORDS || queue.bytes >= PENDING_BYTES;
    const take = (chunk: { messages: Buffer[]; truncated: number }): void => {
      for (const m of chunk.messages) queue.push(recordOfBytes(m), m.length);
      this.held += chunk.messages.length;
      this.countTruncated(source, chunk.truncated);
    };
    const pump = async (): Promise<void> => {
      pumping = true;
      try {
        while (queue.records.length > 0) {
          if (!(await this.deliver(source, queue.take(), hold))) return;
          if (held && !full() && !this.stopping) {
            held = false;
            socket.resume();
          }
        }
      } finally {
        pumping = false;
      }
      if (ended && !socket.destroyed) socket.destroy();
    };
    const kick = (): void => {
      if (!pumping && queue.records.length > 0) this.track(pump());
    };
    socket.on('data', (chunk: Buffer) => {
      take(framer.push(chunk));
      if (full()) hold();
      kick();
    });
    socket.on('end', () => {
      ended = true;
      take(framer.end());
      kick();
      if (!pumping) socket.end();
    });
    socket.on('error', (e) => this.log.debug({ remote, err: e.message }, 'syslog connection error'));
    socket.on('close', () => {
      this.connections.delete(socket);
      if (queue.records.length > 0 && !pumping) kick();
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // UDP: one datagram, one message.

  private async listenUdp(host: string, port: number): Promise<void> {
    const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onDatagram(msg, rinfo));
    udp.on('error', (e) => {
      this.stats.error = e.message;
      this.log.error({ err: errorContext(e) }, 'syslog UDP socket error');
    });
    await new Promise<void>((done, fail) => {
      udp.once('error', fail);
      udp.bind({ address: host, port }, () => {
        udp.off('error', fail);
        done();
      });
    });
    if (this.settings.receiveBufferBytes) {
      try {
        udp.setRecvBufferSize(this.settings.receiveBufferBytes);
      } catch (e) {
        this.log.warn({ err: errorContext(e) }, 'could not set the UDP receive buffer size');
      }
    }
    this.udp = udp;
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const source = this.sourceOf(rinfo.address);
    if (this.udpBytes + msg.length > this.udpHoldBytes || this.stopping) {
      this.stats.dropped++;
      syslogDropped.inc({ source });
      return;
    }
    let body = msg;
    if (body.length > this.settings.maxMessageBytes) {
      body = Buffer.from(cutUtf8(body, this.settings.maxMessageBytes));
      this.countTruncated(source, 1);
    }
    // A trailing line end is the sender's framing habit, not content.
    let end = body.length;
    while (end > 0 && (body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x00)) end--;
    if (end === 0) return;
    body = body.subarray(0, end);
    let q = this.udpQueues.get(source);
    if (!q) this.udpQueues.set(source, (q = new Queue()));
    q.push(recordOfBytes(body), body.length);
    this.udpBytes += body.length;
    this.held++;
    this.scheduleUdp();
  }

  /**
   * Lets datagrams gather into a batch for a few ms (or until a batch is full), then hands them over: libuv
   * reads a few dozen datagrams per event-loop turn, and committing each such handful would spend the loop
   * on commits (SQLite's are synchronous) while the socket's buffer overflows.
   */
  private scheduleUdp(): void {
    if (this.udpTimer) return;
    const full = [...this.udpQueues.values()].some((q) => q.records.length >= BATCH);
    const flush = (): void => {
      this.udpTimer = null;
      this.flushUdp();
    };
    this.udpTimer = full ? setImmediate(flush) : setTimeout(flush, UDP_GATHER_MS);
  }

  /**
   * Hands what is queued to the intake, several batches in flight at once: libuv reads a few dozen datagrams
   * per turn, and one commit at a time of such small batches would not keep up (the writer group-commits
   * concurrent batches). Order across batches is not kept under backpressure (UDP keeps none either).
   */
  private flushUdp(): void {
    for (const [source, q] of this.udpQueues) {
      while (q.records.length > 0 && this.udpInFlight < UDP_IN_FLIGHT) {
        const before = q.bytes;
        const batch = q.take();
        const bytes = before - q.bytes;
        this.udpInFlight++;
        this.track(
          this.deliver(source, batch, () => {}).then(() => {
            this.udpInFlight--;
            this.udpBytes -= bytes;
            // On stop, what is still queued goes now: stop() waits for the deliveries started here.
            if (this.stopping) this.flushUdp();
            else this.scheduleUdp();
          }),
        );
      }
    }
  }

}

const syslogReceiver = defineReceiver({
  kind: 'syslog',
  description: 'Listens for syslog over UDP, TCP or TLS (RFC 5424/3164; RFC 6587 framing), one record per message',
  schema: SyslogReceiverSchema,
  check: (config) => checkConfig(config),
  create: async (config, deps) => new SyslogReceiver(deps.source, resolveSettings(config, deps.configDir), deps),
});
export default syslogReceiver;
