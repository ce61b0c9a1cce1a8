/**
 * How fast syslog reaches the intake log (issue 19).
 *
 *   node --import tsx bench/syslog.ts [tcp_messages=200000] [udp_rate=10000,30000,60000] [udp_seconds=5] [--postgres]
 *
 * A store opened by openStore with its production settings (SQLite in a temp dir, or a PostgreSQL schema of
 * its own with --postgres), the real IntakeWriter and the syslog receiver on 127.0.0.1.
 * - TCP: one connection, octet-counted RFC 5424 messages carrying CEF (~260 bytes), written as fast as the
 *   socket takes them (the receiver pushes back by not reading); messages/s from the first write until the
 *   last record is committed.
 * - UDP: for each rate, datagrams sent at that fixed rate (in 5 ms ticks, from a child process so that the
 *   sender does not starve the receiver) for `udp_seconds`; then sent vs
 *   stored once the receiver is idle, with the receiver's own drops (status().dropped) and the kernel's
 *   (UDP RcvbufErrors from /proc/net/snmp, machine-wide) told apart.
 * Printed only.
 */
import { createSocket } from 'node:dgram';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { openStore, type Store } from '../src/store/store.js';
import { createIntakeWriter } from '../src/intake/writer.js';
import { createReceivers } from '../src/intake/registry.js';
import { SyslogReceiver } from '../src/intake/receivers/syslog.js';
import type { Logger } from '../src/util/log.js';
import { tempDir, PG_URL } from '../test/support/stores.js';

const args = process.argv.includes('--udp-sender') ? [] : process.argv.slice(2).filter((a) => !a.startsWith('--'));
const TCP_MESSAGES = Number(args[0] ?? 200_000);
const UDP_RATES = (args[1] ?? '10000,30000,60000').split(',').map(Number);
const UDP_SECONDS = Number(args[2] ?? 5);
const POSTGRES = process.argv.includes('--postgres');

const silent = pino({ level: 'warn' }) as unknown as Logger;

function message(i: number): Buffer {
  return Buffer.from(
    `<134>1 2026-12-07T10:00:00.000Z fw-${i % 50} edr - - - CEF:0|Acme|EDR|4.2|100|Malware detected|8|src=10.1.${(i >> 8) & 255}.${i & 255} dst=192.0.2.${i % 200} suser=user${i % 997} act=blocked fname=invoice-${i}.pdf.exe cs1Label=policy cs1=default`,
  );
}

async function open(): Promise<{ store: Store; done: () => Promise<void> }> {
  const dataDir = tempDir('fido-bench-syslog-');
  if (!POSTGRES) {
    const store = await openStore({ databaseUrl: `sqlite:${join(dataDir, 'fido.db')}`, dataDir });
    return { store, done: async () => (await store.close(), rmSync(dataDir, { recursive: true, force: true })) };
  }
  const schema = `fido_bench_${randomBytes(4).toString('hex')}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  const store = await openStore({ databaseUrl: u.toString(), dataDir });
  return {
    store,
    done: async () => {
      await store.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function receiver(store: Store, name: string, protocol: 'tcp' | 'udp'): Promise<{ r: SyslogReceiver; close: () => Promise<void> }> {
  const intake = createIntakeWriter(store, { maxBacklog: 1e9 });
  const receiverEntry = { kind: 'syslog', protocol, host: '127.0.0.1', port: 0, ...(protocol === 'udp' ? { receive_buffer_bytes: 4 * 1024 * 1024 } : {}) } as { kind: string };
  const [r] = await createReceivers([{ name, receiver: receiverEntry }], { store, intake, log: silent, configDir: process.cwd(), owner: 'bench' });
  if (!(r instanceof SyslogReceiver)) throw new Error('not a syslog receiver');
  await r.start();
  return { r, close: async () => (await r.stop(), await intake.close()) };
}

const sleep = (ms: number) => new Promise((d) => setTimeout(d, ms));
const count = async (store: Store, source: string) =>
  Number((await store.db.selectFrom('intake').select((eb) => eb.fn.countAll<number>().as('n')).where('source', '=', source).executeTakeFirstOrThrow()).n);

function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [head, values] = [lines[0]!.split(/\s+/), lines[1]!.split(/\s+/)];
  return Number(values[head.indexOf('RcvbufErrors')] ?? 0);
}

async function benchTcp(store: Store): Promise<void> {
  const { r, close } = await receiver(store, 'bench-tcp', 'tcp');
  const port = r.address()!.port;
  const frames = Array.from({ length: 1000 }, (_, i) => {
    const m = message(i);
    return Buffer.concat([Buffer.from(`${m.length} `), m]);
  });
  const bytes = frames.reduce((s, f) => s + f.length, 0) / frames.length;
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((d) => sock.once('connect', d));
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let i = 0;
    const more = (): void => {
      while (i < TCP_MESSAGES) {
        if (!sock.write(frames[i++ % frames.length]!)) return void sock.once('drain', more);
      }
      done();
    };
    more();
  });
  const sentMs = performance.now() - t0;
  while (r.status().records < TCP_MESSAGES) await sleep(5);
  const ms = performance.now() - t0;
  sock.end();
  const stored = await count(store, 'bench-tcp');
  console.log(
    `TCP, 1 connection, octet-counted, ${TCP_MESSAGES} messages of ~${Math.round(bytes)} bytes: ${Math.round(TCP_MESSAGES / (ms / 1000))} messages/s ` +
      `(${(ms / 1000).toFixed(2)} s; sender done at ${(sentMs / 1000).toFixed(2)} s; stored ${stored})`,
  );
  await close();
}

interface UdpJob {
  port: number;
  rate: number;
  total: number;
}

/** The UDP sender, in a process of its own so that sending does not starve the receiver's event loop. */
async function sendUdp(job: UdpJob): Promise<{ sent: number; failed: number; ms: number }> {
  const udp = createSocket('udp4');
  let sent = 0;
  let failed = 0;
  let acked = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    const tick = (): void => {
      const due = Math.min(job.total, Math.floor(((performance.now() - t0) / 1000) * job.rate));
      while (sent < due) {
        udp.send(message(sent), job.port, '127.0.0.1', (e) => {
          if (e) failed++;
          if (++acked === job.total) done();
        });
        sent++;
      }
      if (sent < job.total) setTimeout(tick, 5);
    };
    tick();
  });
  const ms = performance.now() - t0;
  udp.close();
  return { sent, failed, ms };
}

async function benchUdp(store: Store, rate: number): Promise<void> {
  const source = `bench-udp-${rate}`;
  const { r, close } = await receiver(store, source, 'udp');
  const kernelBefore = udpRcvbufErrors();
  const job: UdpJob = { port: r.address()!.port, rate, total: rate * UDP_SECONDS };
  const child = fork(fileURLToPath(import.meta.url), ['--udp-sender', JSON.stringify(job)], { execArgv: ['--import', 'tsx'] });
  const result = await new Promise<{ sent: number; failed: number; ms: number }>((done, fail) => child.once('message', (m) => done(m as { sent: number; failed: number; ms: number })).once('error', fail));
  await new Promise((d) => (child.exitCode !== null ? d(null) : child.once('exit', d)));
  // Idle: no new record for 500 ms.
  let last = -1;
  while (r.status().records !== last) {
    last = r.status().records;
    await sleep(500);
  }
  const stored = await count(store, source);
  const kernel = udpRcvbufErrors() - kernelBefore;
  const delivered = result.sent - result.failed;
  const lost = delivered - stored;
  console.log(
    `UDP at ${rate}/s for ${UDP_SECONDS} s (sent in ${(result.ms / 1000).toFixed(2)} s): sent ${delivered}, stored ${stored}, lost ${lost} ` +
      `(${((100 * lost) / Math.max(1, delivered)).toFixed(2)}%: receiver dropped ${r.status().dropped}, kernel receive-buffer drops ${kernel})`,
  );
  await close();
}

const senderAt = process.argv.indexOf('--udp-sender');
if (senderAt >= 0) {
  process.send!(await sendUdp(JSON.parse(process.argv[senderAt + 1]!) as UdpJob));
  process.disconnect();
} else {
  const { store, done } = await open();
  console.log(`syslog bench on ${POSTGRES ? 'PostgreSQL' : 'SQLite'} (store defaults), node ${process.version}`);
  try {
    await benchTcp(store);
    for (const rate of UDP_RATES) await benchUdp(store, rate);
  } finally {
    await done();
  }
}
