/**
 * A single-node Kafka broker stand-in for the kafka receiver tests (no Kafka broker can be installed on this
 * machine). It speaks the Kafka wire protocol as documented at kafka.apache.org/protocol, with the old,
 * non-flexible versions only, which it advertises in ApiVersions so that the client (the real kafkajs)
 * negotiates down to them:
 *
 *   Produce v0-2, Fetch v0-3, ListOffsets v0-1, Metadata v0, OffsetCommit v2, OffsetFetch v1,
 *   FindCoordinator v0, JoinGroup v0, Heartbeat v0, LeaveGroup v0, SyncGroup v0, SaslHandshake v0-1,
 *   SaslAuthenticate v0 (PLAIN), ApiVersions v0-2.
 *
 * Requests use header v1 (api_key, api_version, correlation_id, client_id), responses header v0
 * (correlation_id); each is framed by an INT32 size. Requests on one connection are answered in order.
 * Messages are MessageSet v1 entries (magic 1: offset, size, CRC-32 of the rest, magic, attributes,
 * timestamp, key, value), uncompressed. Each partition is an in-memory log; committed offsets are kept per
 * group. Simplifications (stated, not hidden): one member per group at a time (a new member's JoinGroup takes
 * the group over and the old member's next request gets UNKNOWN_MEMBER_ID), no replication, no retention.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

// ── Error codes (kafka.apache.org/protocol#protocol_error_codes) ──
const NONE = 0;
const OFFSET_OUT_OF_RANGE = 1;
const CORRUPT_MESSAGE = 2;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const ILLEGAL_GENERATION = 22;
const UNKNOWN_MEMBER_ID = 25;
const UNSUPPORTED_SASL_MECHANISM = 33;
const UNSUPPORTED_VERSION = 35;
const SASL_AUTHENTICATION_FAILED = 58;
const UNSUPPORTED_COMPRESSION_TYPE = 76;

/** [api_key, min_version, max_version] as ApiVersions advertises them. */
const SUPPORTED: ReadonlyArray<readonly [number, number, number]> = [
  [0, 0, 2], // Produce
  [1, 0, 3], // Fetch
  [2, 0, 1], // ListOffsets
  [3, 0, 0], // Metadata
  [8, 2, 2], // OffsetCommit
  [9, 1, 1], // OffsetFetch
  [10, 0, 0], // FindCoordinator
  [11, 0, 0], // JoinGroup
  [12, 0, 0], // Heartbeat
  [13, 0, 0], // LeaveGroup
  [14, 0, 0], // SyncGroup
  [17, 0, 1], // SaslHandshake
  [18, 0, 2], // ApiVersions
  [36, 0, 0], // SaslAuthenticate
];

// ── Primitive encodings ──

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  int8(): number {
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  /** STRING / NULLABLE_STRING: INT16 length (-1: null) then UTF-8. */
  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** BYTES / NULLABLE_BYTES: INT32 length (-1: null). */
  bytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) return null;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** ARRAY: INT32 count (-1: null), then the items. */
  array<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  take(n: number): Buffer {
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  remaining(): number {
    return this.buf.length - this.pos;
  }
}

class Writer {
  private readonly parts: Buffer[] = [];
  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.raw(b);
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.raw(b);
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.raw(b);
  }
  int64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    return this.raw(b);
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    return this.int32(b.length).raw(b);
  }
  array<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    this.int32(items.length);
    for (const v of items) item(this, v);
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** CRC-32 (IEEE 802.3), the checksum of MessageSet v0/v1 messages. */
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();
function crc32(b: Buffer): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) | 0;
}

// ── The broker's state ──

export interface StoredMessage {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

interface Group {
  generation: number;
  memberId: string | null;
  protocol: string | null;
  metadata: Buffer | null;
  assignment: Buffer | null;
  offsets: Map<string, bigint>;
}

export interface KafkaStandInOptions {
  /** Serve TLS with this certificate (PEM). */
  tls?: { cert: string; key: string };
  /** Require SASL PLAIN with these credentials. */
  sasl?: { username: string; password: string };
  /** Listen on this port (to come back on the same one after `stop`). */
  port?: number;
}

export class KafkaStandIn {
  readonly logs = new Map<string, StoredMessage[][]>();
  readonly groups = new Map<string, Group>();
  /** Requests seen, by api key (what the client actually used). */
  readonly requests = new Map<number, number>();
  /** Versions the client asked for, `key:version`. */
  readonly versions = new Set<string>();
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Set<() => void>();
  port = 0;

  constructor(private readonly opts: KafkaStandInOptions = {}) {}

  static async start(opts: KafkaStandInOptions = {}): Promise<KafkaStandIn> {
    const b = new KafkaStandIn(opts);
    await b.listen(opts.port ?? 0);
    return b;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  createTopic(name: string, partitions: number): void {
    this.logs.set(name, Array.from({ length: partitions }, () => []));
  }

  /** Appends to a partition's log (as a producer would); returns the offset. */
  append(topic: string, partition: number, value: Buffer | string | null, key: Buffer | null = null, timestamp = Date.now()): bigint {
    const log = this.partitionLog(topic, partition);
    if (!log) throw new Error(`no partition ${topic}/${partition}`);
    const offset = BigInt(log.length);
    log.push({ offset, timestamp: BigInt(timestamp), key, value: typeof value === 'string' ? Buffer.from(value) : value });
    for (const w of [...this.waiters]) w();
    return offset;
  }

  /** The group's committed offset for a partition (the next one to read), or undefined. */
  committed(group: string, topic: string, partition: number): bigint | undefined {
    return this.groups.get(group)?.offsets.get(`${topic}/${partition}`);
  }

  /** Stops listening and drops every connection, as a broker that died would. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    for (const w of [...this.waiters]) w();
    if (s) await new Promise<void>((done) => s.close(() => done()));
  }

  /** Listens again on the same port, with the same logs and groups. */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  private async listen(port: number): Promise<void> {
    const onSocket = (sock: Socket): void => this.serve(sock);
    const server = this.opts.tls ? createTlsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, onSocket) : createTcpServer(onSocket);
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => done());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private partitionLog(topic: string, partition: number): StoredMessage[] | undefined {
    return this.logs.get(topic)?.[partition];
  }

  private serve(sock: Socket): void {
    this.sockets.add(sock);
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    const conn = { authenticated: !this.opts.sasl, mechanism: null as string | null };
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        // In order, one at a time, as Kafka answers the requests of a connection.
        chain = chain.then(async () => {
          const out = await this.handle(frame, conn).catch(() => null);
          if (out === null) sock.destroy();
          else if (!sock.destroyed) sock.write(out);
        });
      }
    });
  }

  /** One request frame → one response frame (or null: close the connection, as Kafka does on a bad request). */
  private async handle(frame: Buffer, conn: { authenticated: boolean; mechanism: string | null }): Promise<Buffer | null> {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const version = r.int16();
    const correlationId = r.int32();
    r.string(); // client_id
    this.requests.set(apiKey, (this.requests.get(apiKey) ?? 0) + 1);
    this.versions.add(`${apiKey}:${version}`);
    const w = new Writer().int32(correlationId);
    const supported = SUPPORTED.find(([k]) => k === apiKey);
    if (apiKey === 18) {
      // ApiVersions: an unsupported version gets error 35 in the v0 layout, so the client can retry lower.
      if (!supported || version > supported[2]) return frameOf(w.int16(UNSUPPORTED_VERSION).array(SUPPORTED, apiVersionEntry));
      w.int16(NONE).array(SUPPORTED, apiVersionEntry);
      if (version >= 1) w.int32(0);
      return frameOf(w);
    }
    if (!supported || version < supported[1] || version > supported[2]) return null;
    if (apiKey === 17) return frameOf(this.saslHandshake(r, w, conn));
    if (apiKey === 36) return frameOf(this.saslAuthenticate(r, w, conn));
    if (!conn.authenticated) return null; // Kafka closes a connection that skips authentication
    switch (apiKey) {
      case 0:
        return frameOf(this.produce(r, w, version));
      case 1:
        return frameOf(await this.fetch(r, w, version));
      case 2:
        return frameOf(this.listOffsets(r, w, version));
      case 3:
        return frameOf(this.metadata(r, w));
      case 8:
        return frameOf(this.offsetCommit(r, w));
      case 9:
        return frameOf(this.offsetFetch(r, w));
      case 10:
        return frameOf(w.int16(NONE).int32(0).string('127.0.0.1').int32(this.port));
      case 11:
        return frameOf(this.joinGroup(r, w));
      case 12:
        return frameOf(this.heartbeat(r, w));
      case 13:
        return frameOf(this.leaveGroup(r, w));
      case 14:
        return frameOf(this.syncGroup(r, w));
      default:
        return null;
    }
  }

  private saslHandshake(r: Reader, w: Writer, conn: { mechanism: string | null }): Writer {
    const mechanism = r.string();
    const ok = mechanism === 'PLAIN' && this.opts.sasl !== undefined;
    if (ok) conn.mechanism = 'PLAIN';
    return w.int16(ok ? NONE : UNSUPPORTED_SASL_MECHANISM).array(this.opts.sasl ? ['PLAIN'] : [], (x, m) => x.string(m));
  }

  /** PLAIN (RFC 4616): authzid NUL authcid NUL passwd. */
  private saslAuthenticate(r: Reader, w: Writer, conn: { authenticated: boolean; mechanism: string | null }): Writer {
    const token = r.bytes() ?? Buffer.alloc(0);
    const [, user, pass] = token.toString('utf8').split('\u0000');
    const ok = conn.mechanism === 'PLAIN' && this.opts.sasl !== undefined && user === this.opts.sasl.username && pass === this.opts.sasl.password;
    conn.authenticated = ok;
    return w.int16(ok ? NONE : SASL_AUTHENTICATION_FAILED).string(ok ? null : 'Authentication failed: invalid credentials').bytes(Buffer.alloc(0));
  }

  private metadata(r: Reader, w: Writer): Writer {
    const asked = r.array((x) => x.string() ?? '') ?? [];
    const names = asked.length === 0 ? [...this.logs.keys()] : asked;
    w.array([0], (x) => x.int32(0).string('127.0.0.1').int32(this.port));
    return w.array(names, (x, name) => {
      const parts = this.logs.get(name);
      x.int16(parts ? NONE : UNKNOWN_TOPIC_OR_PARTITION).string(name);
      x.array(parts ? parts.map((_, i) => i) : [], (y, p) => y.int16(NONE).int32(p).int32(0).array([0], (z, n) => z.int32(n)).array([0], (z, n) => z.int32(n)));
    });
  }

  private produce(r: Reader, w: Writer, version: number): Writer {
    r.int16(); // acks
    r.int32(); // timeout
    const topics =
      r.array((x) => ({
        topic: x.string() ?? '',
        partitions: x.array((y) => ({ partition: y.int32(), set: y.bytes() ?? Buffer.alloc(0) })) ?? [],
      })) ?? [];
    w.array(topics, (x, t) => {
      x.string(t.topic).array(t.partitions, (y, p) => {
        const log = this.partitionLog(t.topic, p.partition);
        let code = log ? NONE : UNKNOWN_TOPIC_OR_PARTITION;
        let base = -1n;
        if (log) {
          const parsed = parseMessageSet(p.set);
          if (typeof parsed === 'number') code = parsed;
          else {
            base = BigInt(log.length);
            for (const m of parsed) this.append(t.topic, p.partition, m.value, m.key, Number(m.timestamp));
          }
        }
        y.int32(p.partition).int16(code).int64(base);
        if (version >= 2) y.int64(-1); // log_append_time: -1, the topic uses CreateTime
      });
    });
    if (version >= 1) w.int32(0);
    return w;
  }

  private async fetch(r: Reader, w: Writer, version: number): Promise<Writer> {
    r.int32(); // replica_id
    const maxWait = r.int32();
    const minBytes = r.int32();
    const maxBytes = version >= 3 ? r.int32() : Number.MAX_SAFE_INTEGER;
    const topics =
      r.array((x) => ({
        topic: x.string() ?? '',
        partitions: x.array((y) => ({ partition: y.int32(), offset: y.int64(), maxBytes: y.int32() })) ?? [],
      })) ?? [];
    const deadline = Date.now() + maxWait;
    for (;;) {
      let total = 0;
      let budget = maxBytes;
      const answer = topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const log = this.partitionLog(t.topic, p.partition);
          if (!log) return { partition: p.partition, code: UNKNOWN_TOPIC_OR_PARTITION, hw: -1n, set: Buffer.alloc(0) };
          const hw = BigInt(log.length);
          if (p.offset < 0n || p.offset > hw) return { partition: p.partition, code: OFFSET_OUT_OF_RANGE, hw, set: Buffer.alloc(0) };
          const set = messageSet(log, Number(p.offset), Math.min(p.maxBytes, budget), total === 0 && version >= 3);
          budget -= set.length;
          total += set.length;
          return { partition: p.partition, code: NONE, hw, set };
        }),
      }));
      const waitMore = total < Math.max(minBytes, 1) && Date.now() < deadline && this.server !== null;
      if (!waitMore) {
        if (version >= 1) w.int32(0);
        return w.array(answer, (x, t) => x.string(t.topic).array(t.partitions, (y, p) => y.int32(p.partition).int16(p.code).int64(p.hw).bytes(p.set)));
      }
      // Long poll: until something is appended, or max_wait_time.
      await new Promise<void>((done) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          done();
        };
        const timer = setTimeout(wake, Math.max(1, deadline - Date.now()));
        this.waiters.add(wake);
      });
    }
  }

  private listOffsets(r: Reader, w: Writer, version: number): Writer {
    r.int32(); // replica_id
    const topics =
      r.array((x) => ({
        topic: x.string() ?? '',
        partitions: x.array((y) => ({ partition: y.int32(), timestamp: y.int64(), max: version === 0 ? y.int32() : 1 })) ?? [],
      })) ?? [];
    return w.array(topics, (x, t) =>
      x.string(t.topic).array(t.partitions, (y, p) => {
        const log = this.partitionLog(t.topic, p.partition);
        let offset = -1n;
        if (log) {
          if (p.timestamp === -2n) offset = 0n; // earliest
          else if (p.timestamp === -1n) offset = BigInt(log.length); // latest
          else offset = log.find((m) => m.timestamp >= p.timestamp)?.offset ?? BigInt(log.length);
        }
        y.int32(p.partition).int16(log ? NONE : UNKNOWN_TOPIC_OR_PARTITION);
        if (version === 0) y.array(log ? [offset] : [], (z, o) => z.int64(o));
        else y.int64(-1).int64(offset);
      }),
    );
  }

  private group(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = { generation: 0, memberId: null, protocol: null, metadata: null, assignment: null, offsets: new Map() };
      this.groups.set(id, g);
    }
    return g;
  }

  private joinGroup(r: Reader, w: Writer): Writer {
    const g = this.group(r.string() ?? '');
    r.int32(); // session_timeout
    const asked = r.string() ?? '';
    r.string(); // protocol_type
    const protocols = r.array((x) => ({ name: x.string() ?? '', metadata: x.bytes() ?? Buffer.alloc(0) })) ?? [];
    if (asked !== '' && asked !== g.memberId) return w.int16(UNKNOWN_MEMBER_ID).int32(-1).string('').string('').string('').array([], () => undefined);
    const member = asked || `member-${randomUUID()}`;
    g.generation++;
    g.memberId = member;
    g.protocol = protocols[0]?.name ?? '';
    g.metadata = protocols[0]?.metadata ?? Buffer.alloc(0);
    g.assignment = null;
    return w
      .int16(NONE)
      .int32(g.generation)
      .string(g.protocol)
      .string(member)
      .string(member)
      .array([member], (x, m) => x.string(m).bytes(g.metadata));
  }

  private memberCheck(g: Group, generation: number, member: string): number {
    if (member !== g.memberId) return UNKNOWN_MEMBER_ID;
    if (generation !== g.generation) return ILLEGAL_GENERATION;
    return NONE;
  }

  private syncGroup(r: Reader, w: Writer): Writer {
    const g = this.group(r.string() ?? '');
    const generation = r.int32();
    const member = r.string() ?? '';
    const assignments = r.array((x) => ({ member: x.string() ?? '', assignment: x.bytes() ?? Buffer.alloc(0) })) ?? [];
    const code = this.memberCheck(g, generation, member);
    if (code !== NONE) return w.int16(code).bytes(Buffer.alloc(0));
    g.assignment = assignments.find((a) => a.member === member)?.assignment ?? g.assignment ?? Buffer.alloc(0);
    return w.int16(NONE).bytes(g.assignment);
  }

  private heartbeat(r: Reader, w: Writer): Writer {
    const g = this.group(r.string() ?? '');
    const generation = r.int32();
    return w.int16(this.memberCheck(g, generation, r.string() ?? ''));
  }

  private leaveGroup(r: Reader, w: Writer): Writer {
    const g = this.group(r.string() ?? '');
    const member = r.string() ?? '';
    if (member !== g.memberId) return w.int16(UNKNOWN_MEMBER_ID);
    g.memberId = null;
    g.assignment = null;
    return w.int16(NONE);
  }

  private offsetCommit(r: Reader, w: Writer): Writer {
    const g = this.group(r.string() ?? '');
    const generation = r.int32();
    const member = r.string() ?? '';
    r.int64(); // retention_time
    const topics =
      r.array((x) => ({
        topic: x.string() ?? '',
        partitions: x.array((y) => ({ partition: y.int32(), offset: y.int64(), metadata: y.string() })) ?? [],
      })) ?? [];
    // generation -1: a commit outside group management (simple consumer), allowed as Kafka allows it.
    const code = generation === -1 && member === '' ? NONE : this.memberCheck(g, generation, member);
    return w.array(topics, (x, t) =>
      x.string(t.topic).array(t.partitions, (y, p) => {
        const known = this.partitionLog(t.topic, p.partition) !== undefined;
        const c = code !== NONE ? code : known ? NONE : UNKNOWN_TOPIC_OR_PARTITION;
        if (c === NONE) g.offsets.set(`${t.topic}/${p.partition}`, p.offset);
        y.int32(p.partition).int16(c);
      }),
    );
  }

  private offsetFetch(r: Reader, w: Writer): Writer {
    const g = this.group(r.string() ?? '');
    const topics = r.array((x) => ({ topic: x.string() ?? '', partitions: x.array((y) => y.int32()) ?? [] })) ?? [];
    return w.array(topics, (x, t) =>
      x.string(t.topic).array(t.partitions, (y, p) => y.int32(p).int64(g.offsets.get(`${t.topic}/${p}`) ?? -1n).string('').int16(NONE)),
    );
  }
}

function apiVersionEntry(w: Writer, [key, min, max]: readonly [number, number, number]): void {
  w.int16(key).int16(min).int16(max);
}

function frameOf(w: Writer): Buffer {
  const body = w.done();
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** One MessageSet v1 entry: offset, message_size, then crc over magic..value. */
function messageEntry(m: StoredMessage): Buffer {
  const content = new Writer().int8(1).int8(0).int64(m.timestamp).bytes(m.key).bytes(m.value).done();
  const crc = Buffer.alloc(4);
  crc.writeInt32BE(crc32(content));
  const message = Buffer.concat([crc, content]);
  return new Writer().int64(m.offset).int32(message.length).raw(message).done();
}

/**
 * The messages from `from` within `maxBytes`; with `atLeastOne` (Fetch v3+: the first partition of a response)
 * the first message is returned even when larger, so that a big message cannot stall the consumer.
 */
function messageSet(log: readonly StoredMessage[], from: number, maxBytes: number, atLeastOne: boolean): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = from; i < log.length; i++) {
    const e = messageEntry(log[i]!);
    if (size + e.length > maxBytes && !(atLeastOne && parts.length === 0)) break;
    parts.push(e);
    size += e.length;
  }
  return Buffer.concat(parts);
}

/** A producer's MessageSet (magic 0 or 1, uncompressed), checked; or the error code that refuses it. */
function parseMessageSet(set: Buffer): Array<{ timestamp: bigint; key: Buffer | null; value: Buffer | null }> | number {
  const r = new Reader(set);
  const out: Array<{ timestamp: bigint; key: Buffer | null; value: Buffer | null }> = [];
  while (r.remaining() >= 12) {
    r.int64(); // offset: the producer's, ignored
    const size = r.int32();
    if (r.remaining() < size) return CORRUPT_MESSAGE;
    const message = r.take(size);
    const m = new Reader(message);
    const crc = m.int32();
    if (crc32(message.subarray(4)) !== crc) return CORRUPT_MESSAGE;
    const magic = m.int8();
    const attributes = m.int8();
    if ((attributes & 0x07) !== 0) return UNSUPPORTED_COMPRESSION_TYPE;
    const timestamp = magic >= 1 ? m.int64() : BigInt(Date.now());
    out.push({ timestamp, key: m.bytes(), value: m.bytes() });
  }
  return out;
}
