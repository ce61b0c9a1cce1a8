/**
 * The syslog receiver against real senders: a private rsyslogd forwarding RFC 5424 octet-counted over TCP,
 * and Node UDP/TCP/TLS clients; records are read back from the intake log of a real store, written by the
 * real IntakeWriter. Framing is also checked on its own (every split of a stream gives the same messages).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { openTestStore, tempDir, type TestStore } from '../../support/stores.js';
import { selfSignedCert } from '../../support/servers.js';
import { startRsyslog } from '../../support/rsyslog.js';
import { waitFor } from '../../support/wait.js';
import syslogReceiver, { SyslogReceiver } from '../../../src/intake/receivers/syslog.js';
import { SyslogFramer } from '../../../src/intake/syslog/framing.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { createIntakeWriter, type ManagedIntakeWriter } from '../../../src/intake/writer.js';
import { loadDetectors, rawRecord } from '../../../src/detectors/lib/registry.js';
import { parseSyslog } from '../../../src/detectors/lib/syslog.js';
import { INGEST_CURSOR } from '../../../src/store/log.js';
import type { DialectName } from '../../../src/store/dialect.js';
import type { Logger } from '../../../src/util/log.js';

// ---------------------------------------------------------------------------------------------------------
// Harness

interface Row {
  source: string;
  detector: string | null;
  raw: string;
  raw_base64: string | null;
}

interface Rig {
  t: TestStore;
  dir: string;
  logs: string[];
  writer: ManagedIntakeWriter;
  /** A started syslog receiver for source `source` (default `sys`) listening on 127.0.0.1, a kernel-chosen port. */
  receiver(settings: Record<string, unknown>, source?: string): Promise<SyslogReceiver>;
  rows(): Promise<Row[]>;
  /** Waits until the intake log holds `n` records and returns them in log order. */
  waitRows(n: number): Promise<Row[]>;
}

async function withRig(fn: (rig: Rig) => Promise<void>, opts: { dialect?: DialectName; maxBacklog?: number } = {}): Promise<void> {
  const t = await openTestStore(opts.dialect ?? 'sqlite');
  const dir = tempDir('fido-syslog-');
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) as unknown as Logger;
  const writer = createIntakeWriter(t.store, { maxBacklog: opts.maxBacklog ?? 1e9, backlogRefreshMs: 20 });
  const started: SyslogReceiver[] = [];
  const rows = async (): Promise<Row[]> =>
    (await t.store.db.selectFrom('intake').select(['source', 'detector', 'raw', 'raw_base64']).orderBy('seq').execute()) as Row[];
  const rig: Rig = {
    t,
    dir,
    logs,
    writer,
    async receiver(settings, source = 'sys') {
      const receiver = { kind: 'syslog', host: '127.0.0.1', port: 0, ...settings } as { kind: string };
      const [r] = await createReceivers([{ name: source, receiver }], {
        store: t.store,
        intake: writer,
        log,
        configDir: dir,
        owner: 'proc-1',
      });
      assert.ok(r instanceof SyslogReceiver, 'the syslog kind builds a SyslogReceiver');
      started.push(r);
      await r.start();
      return r;
    },
    rows,
    async waitRows(n) {
      return waitFor(`${n} intake records`, async () => {
        const got = await rows();
        return got.length >= n ? got : null;
      });
    },
  };
  try {
    await fn(rig);
  } finally {
    for (const r of started) await r.stop();
    await writer.close();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

const portOf = (r: SyslogReceiver): number => {
  const a = r.address();
  assert.ok(a, 'the receiver is listening');
  return a.port;
};

async function tcpClient(port: number): Promise<Socket> {
  const s = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((done, fail) => s.once('connect', done).once('error', fail));
  return s;
}

const endSocket = (s: Socket): Promise<void> => new Promise((done) => s.end(() => done()));

const octet = (msg: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
  return Buffer.concat([Buffer.from(`${b.length} `), b]);
};

// ---------------------------------------------------------------------------------------------------------
// Framing

test('framing: octet counting and LF/NUL trailers are told apart per message, whatever the chunking', () => {
  const stream = Buffer.concat([
    octet('<34>1 2026-12-07T10:00:00Z h app - - - counted\nwith LF inside\n'),
    Buffer.from('<13>Dec  7 10:00:01 h app: lf framed\r\n'),
    Buffer.from('<13>Dec  7 10:00:02 h app: nul framed\0'),
    octet('<13>Dec  7 10:00:03 h app: counted again'),
    Buffer.from('\n\n'),
    Buffer.from('2024-12-07 starts with digits, no count\n'),
  ]);
  const want = [
    '<34>1 2026-12-07T10:00:00Z h app - - - counted\nwith LF inside',
    '<13>Dec  7 10:00:01 h app: lf framed',
    '<13>Dec  7 10:00:02 h app: nul framed',
    '<13>Dec  7 10:00:03 h app: counted again',
    '2024-12-07 starts with digits, no count',
  ];
  for (let cut = 0; cut <= stream.length; cut++) {
    const f = new SyslogFramer(1024);
    const got = [...f.push(stream.subarray(0, cut)).messages, ...f.push(stream.subarray(cut)).messages, ...f.end().messages].map((b) => b.toString());
    assert.deepEqual(got, want, `split at byte ${cut}`);
  }
  // One byte at a time.
  const f = new SyslogFramer(1024);
  const got: string[] = [];
  for (const b of stream) got.push(...f.push(Buffer.from([b])).messages.map((m) => m.toString()));
  assert.deepEqual(got, want, 'byte by byte');
});

test('framing: an oversized message is cut at the limit (on a character boundary) and its rest skipped, in both framings', () => {
  const long = 'é'.repeat(400); // 800 bytes
  const stream = Buffer.concat([octet(`<13>${long}`), Buffer.from('<13>next\n'), Buffer.from(`<13>${long}\n`), Buffer.from('<13>last\n')]);
  for (const chunk of [stream.length, 7, 1]) {
    const f = new SyslogFramer(256);
    const messages: Buffer[] = [];
    let truncated = 0;
    for (let i = 0; i < stream.length; i += chunk) {
      const r = f.push(stream.subarray(i, i + chunk));
      messages.push(...r.messages);
      truncated += r.truncated;
      assert.ok(f.buffered <= 256 + 12, `held bytes stay bounded (${f.buffered})`);
    }
    assert.equal(truncated, 2, `both long messages counted (chunk ${chunk})`);
    assert.deepEqual(
      messages.map((m) => m.toString()),
      [`<13>${'é'.repeat(126)}`, '<13>next', `<13>${'é'.repeat(126)}`, '<13>last'],
      `cut at 256 bytes less the half character (chunk ${chunk})`,
    );
    assert.ok(messages.every((m) => m.length <= 256), 'no message over the limit');
  }
});

// ---------------------------------------------------------------------------------------------------------
// Configuration

test('config: bad sender CIDRs and TLS without its certificate are refused with the key at fault', () => {
  const problems = syslogReceiver.check!({ name: 's', kind: 'syslog', protocol: 'tls', port: 6514, client_auth: 'required', senders: [{ address: '10.0.0.0/33', source: 'x' }, { address: 'fw-1', source: 'y' }] });
  const keys = problems.map((p) => p.key).sort();
  assert.deepEqual(keys, ['ca', 'cert', 'key', 'senders[0].address', 'senders[1].address'], `problems: ${JSON.stringify(problems)}`);
  assert.deepEqual(syslogReceiver.check!({ name: 's', kind: 'syslog', protocol: 'udp', port: 514, senders: [{ address: '2001:db8::/32', source: 'v6' }] }), [], 'a valid entry passes');
});

// ---------------------------------------------------------------------------------------------------------
// A real rsyslogd as the sender

for (const dialect of ['sqlite', 'postgres'] as const)
  test(`rsyslogd forwarding RFC 5424 octet-counted over TCP: every message arrives intact and auto-detects (${dialect})`, async () => {
    await withRig(async (rig) => {
      const r = await rig.receiver({ protocol: 'tcp' });
      const rs = await startRsyslog(rig.dir, portOf(r));
      try {
        const cef = 'CEF:0|Acme|EDR|1.0|100|Malware found|8|src=10.1.2.3 dst=10.9.8.7 act=blocked';
        rs.logger(['--rfc5424', '-t', 'soar', '-p', 'auth.notice', '--msgid', 'INC7', '--sd-id', 'incident@32473', '--sd-param', 'id="INC-7"'], 'user alice locked');
        rs.logger(['-t', 'edr', '-p', 'local0.err'], cef);
        rs.logger(['--rfc5424', '-t', 'edr', '-p', 'local0.err'], cef);
        appendFileSync(rs.appLog, 'malware detected on host ws-17\n');
        const rows = await rig.waitRows(4);
        assert.equal(rows.length, 4, 'four records, no more');
        assert.ok(rows.every((x) => x.source === 'sys' && x.detector === null && x.raw_base64 === null), `source sys, auto-detection, UTF-8: ${JSON.stringify(rows)}`);
        const parsed = rows.map((x) => parseSyslog(x.raw));
        assert.ok(parsed.every((p) => p?.format === 'rfc5424'), `rsyslog's template is RFC 5424: ${JSON.stringify(rows.map((x) => x.raw))}`);
        const byApp = (app: string) => rows.filter((_, i) => parsed[i]?.appName === app).map((x) => x.raw);
        assert.ok(byApp('soar')[0]?.endsWith('[incident@32473 id="INC-7"] user alice locked'), `SD and message intact: ${byApp('soar')[0]}`);
        assert.equal(byApp('edr').length, 2, 'both CEF messages');
        assert.ok(byApp('edr').every((raw) => raw.trimEnd().endsWith(cef)), `CEF text intact: ${JSON.stringify(byApp('edr'))}`);
        assert.ok(byApp('edr-agent')[0]?.endsWith(' malware detected on host ws-17'), `imfile line intact: ${byApp('edr-agent')[0]}`);
        assert.ok(rows.every((x) => !x.raw.endsWith('\n')), 'the template’s counted line end is not kept');
        // Auto-detection recognises the CEF payload in the RFC 5424 envelope.
        const registry = await loadDetectors();
        for (const raw of byApp('edr')) {
          const d = registry.detect(rawRecord(raw));
          assert.ok('detector' in d && d.detector.name === 'cef', `CEF inside syslog detected: ${JSON.stringify('reason' in d ? d.reason : d.detector.name)}`);
        }
        assert.equal(r.status().records, 4, 'status counts the records');
        assert.equal(r.status().state, 'running', 'running');
        assert.ok(r.status().last_record_at !== null, 'last_record_at is set');
      } finally {
        await rs.stop();
      }
    }, { dialect });
  });

test('auto-detection recognises CEF in RFC 3164 and RFC 5424 envelopes as Node clients send them', async () => {
  const registry = await loadDetectors();
  const cef = 'CEF:0|Acme|IDS|2.1|42|Port scan|6|src=192.0.2.7';
  for (const raw of [`<134>Dec  7 10:00:00 ids-1 ${cef}`, `<134>1 2026-12-07T10:00:00.000Z ids-1 ids - - - ${cef}`]) {
    const d = registry.detect(rawRecord(raw));
    assert.ok('detector' in d && d.detector.name === 'cef', `${raw}: ${'reason' in d ? d.reason : d.detector.name}`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Node clients

test('UDP: one datagram is one message; senders map to other sources, first match wins', async () => {
  await withRig(async (rig) => {
    const mapped = await rig.receiver({ protocol: 'udp', senders: [{ address: '10.0.0.0/8', source: 'never' }, { address: '127.0.0.0/8', source: 'firewall' }] });
    const plain = await rig.receiver({ protocol: 'udp', senders: [{ address: '192.0.2.0/24', source: 'other' }] }, 'sys2');
    const udp = createSocket('udp4');
    const send = (port: number, m: string) => new Promise<void>((done, fail) => udp.send(Buffer.from(m), port, '127.0.0.1', (e) => (e ? fail(e) : done())));
    try {
      await send(portOf(mapped), '<13>Dec  7 10:00:00 fw-1 kernel: DROP IN=eth0 SRC=198.51.100.4\n');
      await send(portOf(mapped), '<13>1 2026-12-07T10:00:00Z fw-1 kernel - - - multi\nline datagram');
      await send(portOf(plain), '<13>Dec  7 10:00:01 h app: to my own source');
    } finally {
      udp.close();
    }
    const rows = await rig.waitRows(3);
    const bySource = (s: string) => rows.filter((x) => x.source === s).map((x) => x.raw);
    assert.deepEqual(bySource('firewall').sort(), ['<13>1 2026-12-07T10:00:00Z fw-1 kernel - - - multi\nline datagram', '<13>Dec  7 10:00:00 fw-1 kernel: DROP IN=eth0 SRC=198.51.100.4'], 'mapped to firewall; datagram kept whole, final LF dropped');
    assert.deepEqual(bySource('sys2'), ['<13>Dec  7 10:00:01 h app: to my own source'], 'unmapped sender to the receiver’s own source');
    assert.equal(mapped.status().dropped, 0, 'nothing dropped');
  });
});

test('TCP: octet-counted and LF-framed messages on one connection, then a second connection', async () => {
  await withRig(async (rig) => {
    const r = await rig.receiver({ protocol: 'tcp' });
    const c = await tcpClient(portOf(r));
    c.write(octet('<13>1 2026-12-07T10:00:00Z h app - - - one'));
    c.write('<13>Dec  7 10:00:01 h app: two\n<13>Dec  7 10:00:02 h app: three\0');
    c.write(octet('<13>Dec  7 10:00:03 h app: four'));
    c.write('<13>Dec  7 10:00:04 h app: five, no trailer before the end');
    await endSocket(c);
    const c2 = await tcpClient(portOf(r));
    c2.write('<13>Dec  7 10:00:05 h app: six\n');
    const rows = await rig.waitRows(6);
    await endSocket(c2);
    assert.deepEqual(
      rows.map((x) => x.raw),
      [
        '<13>1 2026-12-07T10:00:00Z h app - - - one',
        '<13>Dec  7 10:00:01 h app: two',
        '<13>Dec  7 10:00:02 h app: three',
        '<13>Dec  7 10:00:03 h app: four',
        '<13>Dec  7 10:00:04 h app: five, no trailer before the end',
        '<13>Dec  7 10:00:05 h app: six',
      ],
      'in order, each whole',
    );
    assert.ok(rows.every((x) => x.source === 'sys' && x.detector === null), 'own source, auto-detection');
  });
});

test('TCP: an oversized message is cut at max_message_bytes and counted; the next one is intact', async () => {
  await withRig(async (rig) => {
    const r = await rig.receiver({ protocol: 'tcp', max_message_bytes: 256 });
    const c = await tcpClient(portOf(r));
    c.write(octet(`<13>${'a'.repeat(5000)}`));
    c.write(`<13>${'b'.repeat(300_000)}\n`);
    c.write('<13>after\n');
    const rows = await rig.waitRows(3);
    await endSocket(c);
    assert.deepEqual(rows.map((x) => x.raw), [`<13>${'a'.repeat(252)}`, `<13>${'b'.repeat(252)}`, '<13>after'], 'cut at 256 bytes, next intact');
    assert.equal(r.status().truncated, 2, 'both counted');
    assert.ok(rig.logs.some((l) => l.includes('max_message_bytes')), 'logged');
  });
});

test('TCP: hostile bytes (NUL, invalid UTF-8) in an octet-counted message are stored byte for byte', async () => {
  await withRig(async (rig) => {
    const r = await rig.receiver({ protocol: 'tcp' });
    const hostile = Buffer.concat([Buffer.from('<13>Dec  7 10:00:00 h app: a\0b '), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]), Buffer.from(' \u2028 end')]);
    const c = await tcpClient(portOf(r));
    c.write(octet(hostile));
    c.write(octet('<13>Dec  7 10:00:01 h app: clean'));
    const rows = await rig.waitRows(2);
    await endSocket(c);
    assert.ok(rows[0]!.raw_base64 !== null, 'not UTF-8: raw_base64 kept');
    assert.ok(Buffer.from(rows[0]!.raw_base64!, 'base64').equals(hostile), 'the exact bytes, NUL included');
    assert.ok(rows[0]!.raw.includes('a\0b'), 'the text form keeps the NUL too');
    assert.equal(rows[1]!.raw, '<13>Dec  7 10:00:01 h app: clean', 'the next message is unaffected');
    assert.equal(rows[1]!.raw_base64, null, 'UTF-8 stored as text');
  });
});

/** A CA, a server certificate, and a client certificate it signed (openssl, in `dir`). */
function makePki(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Fido syslog test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=edr-forwarder']);
  writeFileSync(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  run(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'client.ext', '-out', 'client.crt']);
}

async function tlsClient(port: number, ca: string, own?: { cert: string; key: string }): Promise<TLSSocket> {
  const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...own });
  await new Promise<void>((done, fail) => s.once('secureConnect', done).once('error', fail));
  return s;
}

test('TLS: the server certificate verifies; mutual TLS refuses a client without a certificate', async () => {
  await withRig(async (rig) => {
    const server = selfSignedCert(rig.dir);
    makePki(rig.dir);
    const file = (n: string) => readFileSync(join(rig.dir, n), 'utf8');
    // Plain TLS: cert as PEM text (what a ${file:…} reference resolves to), key as a path.
    const r = await rig.receiver({ protocol: 'tls', cert: server.cert, key: 'server.key' });
    const c = await tlsClient(portOf(r), server.cert);
    c.write(octet('<13>Dec  7 10:00:00 h app: over tls'));
    await rig.waitRows(1);
    c.end();
    // Mutual TLS.
    const m = await rig.receiver({ protocol: 'tls', cert: 'server.crt', key: 'server.key', ca: 'ca.crt', client_auth: 'required' }, 'mtls');
    const good = await tlsClient(portOf(m), server.cert, { cert: file('client.crt'), key: file('client.key') });
    good.write('<13>Dec  7 10:00:01 h app: with a client certificate\n');
    const rows = await rig.waitRows(2);
    good.end();
    assert.deepEqual(rows.map((x) => [x.source, x.raw]), [['sys', '<13>Dec  7 10:00:00 h app: over tls'], ['mtls', '<13>Dec  7 10:00:01 h app: with a client certificate']], 'both stored');
    // Without a certificate: the handshake is refused (TLS 1.3 reports it on the first read or write).
    const bad = tlsConnect({ host: '127.0.0.1', port: portOf(m), ca: server.cert, servername: 'localhost' });
    const outcome = await new Promise<string>((done) => {
      bad.on('error', (e) => done(`error: ${e.message}`));
      bad.on('secureConnect', () => bad.write('<13>Dec  7 10:00:02 h app: no certificate\n'));
      bad.on('close', () => done('closed'));
    });
    bad.destroy();
    assert.ok(outcome.startsWith('error') || outcome === 'closed', `refused: ${outcome}`);
    await waitFor('the refusal counted', () => m.status().refused >= 1);
    const after = await rig.rows();
    assert.equal(after.length, 2, `nothing stored from the client without a certificate: ${JSON.stringify(after.map((x) => x.raw))}`);
  });
});

test('TCP backpressure: the sender is paused while the backlog is full, and nothing is lost once it drains', async () => {
  const N = 40_000;
  await withRig(
    async (rig) => {
      const r = await rig.receiver({ protocol: 'tcp' });
      const c = await tcpClient(portOf(r));
      const pad = 'x'.repeat(200);
      let sent = 0;
      let stalled = false;
      // Write until the socket says to wait, as a syslog sender does; resume on drain.
      const writeMore = (): void => {
        while (sent < N) {
          const ok = c.write(octet(`<13>Dec  7 10:00:00 h app: n=${sent} ${pad}`));
          sent++;
          if (!ok) {
            stalled = true;
            c.once('drain', writeMore);
            return;
          }
        }
      };
      writeMore();
      // The intake refuses past 1000 records (no ingest stage runs): the receiver holds, the sender's buffer fills.
      await waitFor('receiver paused and sender stalled', () => r.status().state === 'paused' && c.writableLength > 0 && sent < N);
      assert.ok(stalled, 'the sender was told to wait');
      const stored = (await rig.rows()).length;
      assert.ok(stored <= 1000, `no more than the backlog bound stored while full (${stored})`);
      // Drain: play the ingest stage, moving its cursor to the end of the log.
      const db = rig.t.store.db;
      let draining = true;
      const drainer = (async () => {
        while (draining) {
          const max = await db.selectFrom('intake').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
          await db.updateTable('pipeline_cursors').set({ seq: Number(max?.seq ?? 0) }).where('name', '=', INGEST_CURSOR).execute();
          await new Promise((d) => setTimeout(d, 20));
        }
      })();
      try {
        const rows = await rig.waitRows(N);
        assert.equal(sent, N, 'the sender got everything out');
        assert.equal(rows.length, N, 'all stored, none twice');
        rows.forEach((x, i) => assert.ok(x.raw.startsWith(`<13>Dec  7 10:00:00 h app: n=${i} `), `record ${i} in order: ${x.raw.slice(0, 50)}`));
      } finally {
        draining = false;
        await drainer;
      }
      await endSocket(c);
      assert.equal(r.status().dropped, 0, 'nothing dropped');
    },
    { maxBacklog: 1000 },
  );
});

test('UDP backpressure: datagrams are held up to hold_bytes, then dropped and counted in status(); intake resumes after', async () => {
  await withRig(
    async (rig) => {
      const r = await rig.receiver({ protocol: 'udp', hold_bytes: 65_536 });
      const port = portOf(r);
      const udp = createSocket('udp4');
      const send = (m: string) => new Promise<void>((done, fail) => udp.send(Buffer.from(m), port, '127.0.0.1', (e) => (e ? fail(e) : done())));
      const pad = 'y'.repeat(180);
      const N = 1500;
      try {
        // Paced: each datagram waits for the receiver to have read the one before (no kernel drops blur the count).
        for (let i = 0; i < N; i++) {
          await send(`<13>Dec  7 10:00:00 h app: n=${i} ${pad}`);
          const seen = i + 1;
          await waitFor(`datagram ${i} read`, () => r.status().records + r.status().dropped + r.status().held >= seen || null, 10_000, 1);
        }
        assert.ok(r.status().dropped > 0, `past the hold bound datagrams are dropped (${JSON.stringify(r.status())})`);
        assert.equal(r.status().state, 'paused', 'paused while the intake pushes back');
        // Drain: the ingest cursor moves to the end of the log; held datagrams are stored, new ones too.
        const db = rig.t.store.db;
        const max = await db.selectFrom('intake').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
        await db.updateTable('pipeline_cursors').set({ seq: Number(max?.seq ?? 0) }).where('name', '=', INGEST_CURSOR).execute();
        await waitFor('held datagrams stored', () => r.status().records + r.status().dropped === N || null);
        await db.updateTable('pipeline_cursors').set({ seq: N }).where('name', '=', INGEST_CURSOR).execute();
        await send('<13>Dec  7 10:00:01 h app: after the drain');
        const rows = await waitFor('the datagram after the drain', async () => {
          const got = await rig.rows();
          return got.some((x) => x.raw.endsWith('after the drain')) ? got : null;
        });
        assert.equal(rows.length, N - r.status().dropped + 1, 'stored = sent − dropped (+1 after the drain)');
        const ns = rows.slice(0, -1).map((x) => Number(/n=(\d+)/.exec(x.raw)?.[1]));
        assert.equal(new Set(ns).size, ns.length, 'none stored twice');
      } finally {
        udp.close();
      }
    },
    { maxBacklog: 600 },
  );
});


test('TCP: max_connections refuses connections past the bound; a freed slot is usable again', async () => {
  await withRig(async (rig) => {
    const r = await rig.receiver({ protocol: 'tcp', max_connections: 1 });
    const first = await tcpClient(portOf(r));
    first.write('<13>Dec  7 10:00:00 h app: first\n');
    await rig.waitRows(1);
    const second = await tcpClient(portOf(r));
    second.on('error', () => {});
    await new Promise<void>((done) => second.once('close', () => done()));
    assert.equal(r.status().connections, 1, 'only the first is open');
    await endSocket(first);
    await waitFor('the first connection gone', () => r.status().connections === 0);
    const third = await tcpClient(portOf(r));
    third.write('<13>Dec  7 10:00:02 h app: third\n');
    const rows = await rig.waitRows(2);
    await endSocket(third);
    assert.deepEqual(rows.map((x) => x.raw), ['<13>Dec  7 10:00:00 h app: first', '<13>Dec  7 10:00:02 h app: third'], 'first and third stored');
  });
});
