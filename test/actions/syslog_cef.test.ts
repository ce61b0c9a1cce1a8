/**
 * syslog_cef against real listeners on 127.0.0.1 (node:dgram, node:net, node:tls with certificates made by
 * openssl), parsing what arrives with Fido's own readers (detectors/lib/cef.ts, detectors/lib/syslog.ts).
 * Formats: Micro Focus "Implementing ArcSight CEF" rev. 25 (header escapes \| \\, extension escapes \= \\ \n \r);
 * RFC 5424 (syslog), RFC 3164 (BSD syslog), RFC 5426 (UDP), RFC 6587 (TCP: octet counting, LF framing),
 * RFC 5425 (TLS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import syslogCef, { type SyslogCefConfig } from '../../src/actions/kinds/syslog_cef.js';
import { cefExtensionValue, cefHeaderField, FIDO_VERSION } from '../../src/actions/kinds/lib/cef.js';
import type { ActionContext, ActionTarget, FollowContext } from '../../src/actions/action.js';
import { parseCef, type CefEvent } from '../../src/detectors/lib/cef.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import { freePort, selfSignedCert, type Cert } from '../support/servers.js';
import { waitFor } from '../support/wait.js';
import { closeOnVerdict } from '../../src/actions/follow.js';
import { openTestStore, tempDir } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, refused, testExecutor } from './support.js';

/** Every character CEF and syslog treat specially, and markup. */
const EVIL_TITLE = `Beacon | a=b \\ c\\= x msg=forged cs1=INC-FAKE\nCEF:0|Evil|Evil|1|x|y|10|\r\nline3 <script>alert(1)</script>`;
const EVIL_USER = 'CORP\\eve suser=root';
const EVIL_HOST = 'ws=042 | shost';

function ctx(o: { title?: string; score?: number; signal?: AbortSignal } = {}): ActionContext {
  const incident = sampleIncident('INC-C1');
  incident.title = o.title ?? EVIL_TITLE;
  incident.user = EVIL_USER;
  incident.host = EVIL_HOST;
  if (o.score !== undefined) incident.score = { ...incident.score!, total: o.score };
  return actionCtx('syslog_cef', 'siem', incident, o.signal ? { signal: o.signal } : {});
}

function follow(c: ActionContext, event: 'update' | 'close'): FollowContext {
  return { ...c, event, original: c.action, originalResult: {}, ...(event === 'close' ? { verdict: { verdict: 'false_positive', by: 'analyst <a@b>' } } : {}) };
}

// ───────────────────────────── listeners ─────────────────────────────

interface Listener {
  port: number;
  messages: string[];
  /** Connections accepted (stream listeners). */
  connections: Socket[];
  close(): Promise<void>;
}

/** Splits a stream into syslog messages: RFC 6587 octet counting (`LEN SP MSG`) or LF-terminated. */
function deframer(framing: 'octet-counting' | 'newline', out: string[]): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (framing === 'newline') {
        const lf = buf.indexOf(0x0a);
        if (lf < 0) return;
        out.push(buf.subarray(0, lf).toString('utf8'));
        buf = buf.subarray(lf + 1);
        continue;
      }
      const sp = buf.indexOf(0x20);
      if (sp < 0) return;
      const len = Number(buf.subarray(0, sp).toString('ascii'));
      assert.ok(Number.isInteger(len) && len > 0, `bad octet count: ${buf.subarray(0, sp).toString()}`);
      if (buf.length < sp + 1 + len) return;
      out.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
  };
}

async function listen(server: Server, messages: string[], connections: Socket[]): Promise<Listener> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of connections) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `mute`: accepts connections and reads nothing from them (a handshake is never answered). */
async function tcpListener(framing: 'octet-counting' | 'newline' | 'mute' = 'octet-counting'): Promise<Listener> {
  const messages: string[] = [];
  const connections: Socket[] = [];
  const server = createTcpServer((s) => {
    connections.push(s);
    if (framing !== 'mute') s.on('data', deframer(framing, messages));
    s.on('error', () => undefined);
  });
  return listen(server, messages, connections);
}

async function tlsListener(cert: Cert, clientCa?: string): Promise<Listener & { peers: (string | null)[] }> {
  const messages: string[] = [];
  const connections: Socket[] = [];
  const peers: (string | null)[] = [];
  const server = createTlsServer({ cert: cert.cert, key: cert.key, ...(clientCa ? { requestCert: true, rejectUnauthorized: true, ca: clientCa } : {}) }, (s: TLSSocket) => {
    connections.push(s);
    peers.push(s.authorized ? String(s.getPeerCertificate().subject?.CN ?? '') : null);
    s.on('data', deframer('octet-counting', messages));
    s.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  return Object.assign(await listen(server, messages, connections), { peers });
}

async function udpListener(): Promise<Listener> {
  const messages: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (m) => messages.push(m.toString('utf8')));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, messages, connections: [], close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/** The CEF event, its envelope checked as syslog. */
function parsed(message: string): CefEvent & { envelope: NonNullable<CefEvent['envelope']> } {
  const e = parseCef(message);
  assert.ok(e.envelope, `no syslog envelope: ${message.slice(0, 120)}`);
  return e as CefEvent & { envelope: NonNullable<CefEvent['envelope']> };
}

/** What every event about the incident carries, hostile values back as they were. */
function assertIncidentFields(e: CefEvent, signature: string): void {
  assert.equal(e.version, 0);
  assert.equal(e.vendor, 'Fido');
  assert.equal(e.product, 'Fido');
  assert.equal(e.deviceVersion, FIDO_VERSION);
  assert.equal(e.signatureId, signature);
  // The header has no line breaks: they became spaces; pipes and backslashes come back.
  assert.equal(e.name, `${signature === 'incident.decided' ? 'Incident decided' : signature === 'incident.updated' ? 'Incident updated' : 'Incident closed'}: ${EVIL_TITLE.replace(/\r|\n/g, ' ')}`);
  assert.equal(e.extension.msg, EVIL_TITLE);
  assert.equal(e.extension.suser, EVIL_USER);
  assert.equal(e.extension.shost, EVIL_HOST);
  assert.equal(e.extension.src, '10.1.2.3');
  assert.equal(e.extension.dst, '203.0.113.7');
  assert.equal(e.labels.incidentId, 'INC-C1');
  assert.equal(e.extension.cs1, 'INC-C1', 'a forged cs1= in the title does not win');
  assert.equal(e.labels.decision, 'notify');
  assert.equal(e.labels.rule, 'notify-high');
  assert.equal(e.extension.request, 'http://fido.test/api/v1/incidents/INC-C1');
  assert.equal(e.extension.externalId, 'INC-C1:ACT1:siem');
  assert.equal(e.extension.cnt, '2');
  assert.equal(e.extension.start, String(Date.parse('2026-11-27T12:00:00.000Z')));
  assert.ok(Math.abs(Number(e.extension.rt) - Date.now()) < 600_000, e.extension.rt);
  assert.equal(Object.keys(e.extension).filter((k) => k === 'msg').length, 1);
}

describe('syslog_cef', () => {
  const dir = tempDir('fido-syslog-cef-');
  let server: Cert;
  let client: Cert;
  const targets: ActionTarget[] = [];
  const listeners: Listener[] = [];
  before(() => {
    server = selfSignedCert(dir, 'collector');
    selfSignedCert(dir, 'other'); // other.crt: a CA that did not sign the collector's certificate
    client = selfSignedCert(dir, 'fido-client');
  });
  after(async () => {
    for (const t of targets) await t.close?.();
    for (const l of listeners) await l.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function target(over: Partial<SyslogCefConfig> & Pick<SyslogCefConfig, 'transport'>): Promise<ActionTarget> {
    const t = await syslogCef.create({ name: 'siem', kind: 'syslog_cef', host: '127.0.0.1', allow_private: true, hostname: 'fido-01', ...over }, { configDir: dir, publicUrl: 'http://fido.test' });
    targets.push(t);
    return t;
  }
  async function kept<L extends Listener>(l: Promise<L>): Promise<L> {
    const x = await l;
    listeners.push(x);
    return x;
  }

  test('escaping per the CEF spec', () => {
    assert.equal(cefHeaderField('a|b\\c\nd\re'), 'a\\|b\\\\c d e');
    assert.equal(cefExtensionValue('a=b\\c\nd\re|f\u0000g'), 'a\\=b\\\\c\\nd\\re|f g');
  });

  test('schema and check', () => {
    const base = { name: 'siem', kind: 'syslog_cef', host: 'siem.corp.example', transport: 'tcp' };
    const problem = (over: Record<string, unknown>) => entryProblem(syslogCef as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.siem');
    assert.equal(problem({}), null);
    assert.match(problem({ host: '10.0.0.5' }) ?? '', /^actions\.targets\.siem\.host: .*allow_private/);
    assert.equal(problem({ host: '10.0.0.5', allow_private: true }), null);
    assert.match(problem({ host: '169.254.169.254', allow_private: true }) ?? '', /metadata/);
    assert.match(problem({ transport: 'udp', framing: 'newline' }) ?? '', /framing/);
    assert.match(problem({ tls_ca_file: 'ca.pem' }) ?? '', /tls_ca_file: applies to transport: tls only/);
    assert.match(problem({ transport: 'tls', tls_cert_file: 'c.pem' }) ?? '', /tls_key_file/);
    assert.match(problem({ max_message_size: 1000 }) ?? '', /max_message_size/);
    assert.match(problem({ transport: 'smoke' }) ?? '', /transport/);
    assert.match(problem({ facility: 'local9' }) ?? '', /facility/);
  });

  test('udp: one datagram per event, RFC 5424, hostile values round-trip; delivery is unconfirmed', async () => {
    const l = await kept(udpListener());
    const t = await target({ transport: 'udp', port: l.port });
    const r = await t.execute(ctx());
    assert.equal(r.detail.delivery, 'unconfirmed');
    await waitFor('the datagram', () => l.messages.length === 1, 5000);
    const e = parsed(l.messages[0]!);
    assertIncidentFields(e, 'incident.decided');
    assert.equal(e.severity, '8', 'score 85');
    assert.equal(e.labels.score, '85');
    assert.equal(e.envelope.format, 'rfc5424');
    assert.equal(e.envelope.facility, 20, 'local4');
    assert.equal(e.envelope.severity, 3, 'high → err');
    assert.equal(e.envelope.hostname, 'fido-01');
    assert.equal(e.envelope.appName, 'fido');
    assert.equal(e.envelope.msgId, 'incident.decided');
    assert.ok(!l.messages[0]!.includes('\n'));
    // A name is resolved through the outbound guard: allowed with allow_private, refused (permanently) without.
    const named = await target({ transport: 'udp', port: l.port, host: 'localhost' });
    await named.execute(ctx());
    await waitFor('the datagram sent to a name', () => l.messages.length === 2, 5000);
    const guarded = await target({ transport: 'udp', port: l.port, host: 'localhost', allow_private: false });
    await refused(guarded.execute(ctx()), /refused: localhost resolves to 127\.0\.0\.1, which is not a public address/, false);
    const guardedTcp = await target({ transport: 'tcp', port: l.port, host: 'localhost', allow_private: false });
    await refused(guardedTcp.execute(ctx()), /refused: localhost resolves to 127\.0\.0\.1/, false);
  });

  test('tcp: octet counting on one kept connection; decided, updated, closed with the verdict', async () => {
    const l = await kept(tcpListener());
    const t = await target({ transport: 'tcp', port: l.port, facility: 'authpriv', app_name: 'fido-soc' });
    const c = ctx();
    await t.execute(c);
    await t.follow!(follow(ctx({ score: 95 }), 'update'));
    await t.follow!(follow(c, 'close'));
    await waitFor('three messages', () => l.messages.length === 3, 5000);
    assert.equal(l.connections.length, 1, 'the connection is reused');
    const [d, u, x] = l.messages.map(parsed) as [CefEvent, CefEvent, CefEvent];
    assertIncidentFields(d, 'incident.decided');
    assertIncidentFields(u, 'incident.updated');
    assertIncidentFields(x, 'incident.closed');
    assert.equal(u.severity, '9');
    assert.equal(u.envelope!.severity, 2, 'critical → crit');
    assert.equal(d.envelope!.facility, 10, 'authpriv');
    assert.equal(d.envelope!.appName, 'fido-soc');
    assert.equal(x.labels.verdict, 'false_positive');
    assert.equal(x.labels.closedBy, 'analyst <a@b>');
    assert.equal(d.labels.verdict, undefined);
  });

  test('tcp: newline framing with an RFC 3164 header', async () => {
    const l = await kept(tcpListener('newline'));
    const t = await target({ transport: 'tcp', port: l.port, framing: 'newline', format: 'rfc3164' });
    await t.execute(ctx());
    await waitFor('the message', () => l.messages.length === 1, 5000);
    const e = parsed(l.messages[0]!);
    assertIncidentFields(e, 'incident.decided');
    assert.equal(e.envelope.format, 'rfc3164');
    assert.equal(e.envelope.hostname, 'fido-01');
    assert.equal(e.envelope.appName, 'fido');
  });

  test('a connection the collector closed is replaced; a collector that is down is a retryable error', async () => {
    const l = await kept(tcpListener());
    const t = await target({ transport: 'tcp', port: l.port });
    await t.execute(ctx());
    await waitFor('the first message', () => l.messages.length === 1, 5000);
    const first = l.connections[0]!;
    first.destroy();
    await waitFor('the collector to drop the connection', () => first.destroyed, 5000);
    // Stream syslog has no acknowledgement: a message written before Fido sees the close can be lost, so
    // this sends until one arrives on the new connection (the first try does, in practice).
    await waitFor(
      'a message on a new connection',
      async () => {
        await t.execute(ctx());
        return l.connections.length === 2 && l.messages.length >= 2;
      },
      5000,
    );
    const down = await target({ transport: 'tcp', port: await freePort() });
    await refused(down.execute(ctx()), /sending to tcp:\/\/127\.0\.0\.1:\d+ failed: ECONNREFUSED/, true);
    const downTls = await target({ transport: 'tls', port: await freePort(), tls_ca_file: server.certFile });
    await refused(downTls.execute(ctx()), /ECONNREFUSED/, true);
  });

  test('tls: the collector certificate is verified; an untrusted one is a permanent error; a hung handshake is retried', async () => {
    const l = await kept(tlsListener(server));
    const t = await target({ transport: 'tls', port: l.port, tls_ca_file: 'collector.crt' });
    await t.execute(ctx());
    await waitFor('the message over TLS', () => l.messages.length === 1, 5000);
    assertIncidentFields(parsed(l.messages[0]!), 'incident.decided');
    // Signed by a CA the target does not trust: configuration to fix, not retried.
    const wrong = await target({ transport: 'tls', port: l.port, tls_ca_file: 'other.crt' });
    await refused(wrong.execute(ctx()), /certificate.*not trusted; set tls_ca_file/i, false);
    const system = await target({ transport: 'tls', port: l.port });
    await refused(system.execute(ctx()), /not trusted/, false);
    assert.equal(l.messages.length, 1);
    // A listener that accepts and never answers the handshake: retried after the call's limit.
    const mute = await kept(tcpListener('mute'));
    const hung = await target({ transport: 'tls', port: mute.port, tls_ca_file: 'collector.crt' });
    const ac = new AbortController();
    const call = hung.execute(ctx({ signal: ac.signal }));
    await waitFor('the connection', () => mute.connections.length === 1, 5000);
    ac.abort();
    await refused(call, /no connection before the time limit/, true);
  });

  test('mutual TLS: the client certificate is presented', async () => {
    const l = await kept(tlsListener(server, client.cert));
    const t = await target({ transport: 'tls', port: l.port, tls_ca_file: 'collector.crt', tls_cert_file: 'fido-client.crt', tls_key_file: 'fido-client.key' });
    await t.execute(ctx());
    await waitFor('the message over mutual TLS', () => l.messages.length === 1, 5000);
    assert.deepEqual(l.peers, ['localhost']);
    assertIncidentFields(parsed(l.messages[0]!), 'incident.decided');
    await assert.rejects(target({ transport: 'tls', port: l.port, tls_cert_file: 'missing.crt', tls_key_file: 'fido-client.key' }), /actions\.targets\.siem\.tls_cert_file: cannot read/);
  });

  test('through the executor: the decision is sent, and the verdict\'s close follow-up sends incident.closed', async () => {
    const l = await kept(tcpListener());
    const t = await target({ transport: 'tcp', port: l.port });
    const st = await openTestStore('sqlite');
    try {
      const incident = sampleIncident('INC-X1');
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-X1', incident_id: incident.id, kind: 'syslog_cef', target: 'siem', now: Date.now() });
      const ex = testExecutor(st.store, 'siem', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      await st.store.db.transaction().execute((tx) => closeOnVerdict(tx, incident.id, { verdict: 'false_positive', by: 'analyst' }, Date.now()));
      assert.equal((await ex.runOnce()).succeeded, 1);
      await waitFor('two messages', () => l.messages.length === 2, 5000);
      const [d, c] = l.messages.map(parsed) as [CefEvent, CefEvent];
      assert.equal(d.signatureId, 'incident.decided');
      assert.equal(d.extension.externalId, 'INC-X1:ACT-X1:siem');
      assert.equal(c.signatureId, 'incident.closed');
      assert.equal(c.labels.verdict, 'false_positive');
      assert.equal(c.labels.closedBy, 'analyst');
      assert.equal(c.extension.externalId, 'INC-X1:ACT-X1:siem:close');
      assert.equal((await actionRow(st.store.db, 'ACT-X1')).state, 'succeeded');
    } finally {
      await st.cleanup();
    }
  });

  test('max_message_size: msg= is cut to fit, the other fields and the framing stay whole', async () => {
    const l = await kept(tcpListener());
    const t = await target({ transport: 'tcp', port: l.port, max_message_size: 4096 });
    const long = `${'é|='.repeat(3000)}\n<script>`;
    const r = await t.execute(ctx({ title: long }));
    assert.equal(r.detail.truncated, true);
    assert.ok((r.detail.bytes as number) <= 4096, String(r.detail.bytes));
    await waitFor('the message', () => l.messages.length === 1, 5000);
    assert.ok(Buffer.byteLength(l.messages[0]!) <= 4096);
    const e = parsed(l.messages[0]!);
    assert.ok(e.extension.msg!.endsWith('…'));
    assert.ok(long.startsWith(e.extension.msg!.slice(0, -1)), 'cut between characters and escapes');
    assert.equal(e.extension.externalId, 'INC-C1:ACT1:siem');
    assert.equal(e.labels.incidentId, 'INC-C1');
  });
});
