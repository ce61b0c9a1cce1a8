/**
 * syslog_cef: forwards incidents to a SIEM as ArcSight CEF over syslog. Follows the incident.
 *
 *   - name: siem
 *     kind: syslog_cef
 *     host: siem-collector.corp.example
 *     transport: tls                     # udp | tcp | tls
 *     port: 6514                         # default: 514 (udp, tcp), 6514 (tls)
 *     tls_ca_file: siem-ca.pem           # tls: the CA of the collector's certificate
 *     tls_cert_file: fido.crt            # tls, optional: a client certificate (mutual TLS)
 *     tls_key_file: fido.key
 *     format: rfc5424                    # or rfc3164
 *     framing: octet-counting            # tcp/tls: RFC 6587 octet counting (default) or newline
 *     facility: local4                   # a name or 0-23
 *     app_name: fido
 *     max_message_size: 8192             # bytes of one syslog message; msg= is cut to fit
 *     allow_private: true                # collectors usually live on internal addresses
 *
 * One CEF event per call: execute sends `incident.decided`, follow `update` sends `incident.updated` and
 * `close` `incident.closed` (with the verdict). Everything from the incident is escaped for CEF (lib/cef.ts);
 * `externalId` carries the call's idempotency key, so a SIEM can drop the copy a retry after a crash sends.
 *
 * Transport: one connection per target for tcp/tls, kept and reused; a connection the collector closed is
 * noticed and a write that fails on a reused connection is tried once more on a new one. A failed send is a
 * retryable ActionError, except a refused address and an untrusted certificate (configuration: permanent).
 * Stream syslog has no acknowledgement (RFC 6587), so a message written just as the collector drops the
 * connection can be lost; UDP delivery is never confirmed.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { hostname as osHostname } from 'node:os';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { resolve as resolvePath } from 'node:path';
import { readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { addressRefusal, guardedLookup, refusalMessage } from '../../util/outbound.js';
import { ActionError, defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type FollowContext } from '../action.js';
import { readTlsCaFile } from '../target-config.js';
import { summarizeIncident, type SeverityBand } from './lib/incident-summary.js';
import { escapedWithin, cefExtensionValue, FACILITIES, FIDO_VERSION, formatCef, frame, syslogPrefix, type Framing, type SyslogSeverity } from './lib/cef.js';

export const SyslogCefSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('syslog_cef'),
    host: Type.String({ minLength: 1, description: 'The syslog collector (name or address)' }),
    transport: Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')], { description: 'udp (delivery not confirmed), tcp, or tls (RFC 5425)' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 514 (udp, tcp), 6514 (tls)' })),
    format: Type.Optional(Type.Union([Type.Literal('rfc5424'), Type.Literal('rfc3164')], { description: 'Syslog header (default rfc5424)' })),
    framing: Type.Optional(Type.Union([Type.Literal('octet-counting'), Type.Literal('newline')], { description: 'tcp/tls: RFC 6587 framing (default octet-counting)' })),
    facility: Type.Optional(Type.Union([Type.Enum(FACILITIES), Type.Integer({ minimum: 0, maximum: 23 })], { description: 'Default local4' })),
    app_name: Type.Optional(Type.String({ minLength: 1, maxLength: 48, description: 'APP-NAME (RFC 5424) or TAG (RFC 3164); default fido' })),
    hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'HOSTNAME in the header; default this machine\'s name' })),
    max_message_size: Type.Optional(Type.Integer({ minimum: 4096, maximum: 65000, description: 'Largest syslog message in bytes (default 8192); msg= is cut to fit' })),
    timeout: Type.Optional(Duration),
    tls_ca_file: Type.Optional(Type.String({ description: 'tls: PEM file of the CA that signed the collector certificate (relative to the config file)' })),
    tls_cert_file: Type.Optional(Type.String({ description: 'tls: PEM client certificate, for collectors that require mutual TLS' })),
    tls_key_file: Type.Optional(Type.String({ description: 'tls: PEM private key of tls_cert_file' })),
    allow_private: Type.Optional(Type.Boolean({ description: 'Allow a collector on a private or loopback address. Default false' })),
  },
  { additionalProperties: false },
);
export type SyslogCefConfig = Static<typeof SyslogCefSchema>;

export type CefSignature = 'incident.decided' | 'incident.updated' | 'incident.closed';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 8192;

/** Syslog severity by score band: critical → crit, high → err, medium → warning, low → notice, info → info. */
const SYSLOG_SEVERITY: Record<SeverityBand, SyslogSeverity> = { critical: 2, high: 3, medium: 4, low: 5, info: 6 };

function check(cfg: SyslogCefConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  const refusal = isIP(cfg.host) ? addressRefusal(cfg.host, cfg.allow_private ?? false) : null;
  if (refusal) problems.push({ key: 'host', message: refusalMessage(refusal) });
  if (cfg.transport === 'udp' && cfg.framing) problems.push({ key: 'framing', message: 'framing applies to tcp and tls only' });
  if (cfg.transport !== 'tls') {
    for (const k of ['tls_ca_file', 'tls_cert_file', 'tls_key_file'] as const) if (cfg[k]) problems.push({ key: k, message: 'applies to transport: tls only' });
  }
  if (!cfg.tls_cert_file !== !cfg.tls_key_file) problems.push({ key: cfg.tls_cert_file ? 'tls_key_file' : 'tls_cert_file', message: 'tls_cert_file and tls_key_file go together' });
  return problems;
}

// ───────────────────────────── the event ─────────────────────────────

/** The first address of the incident's alerts on `side` that is an IP address (CEF src/dst hold addresses only). */
function firstIp(ctx: ActionContext, side: 'src' | 'dst'): string | undefined {
  for (const a of ctx.incident.alerts) {
    const ip = a[side]?.ip;
    if (typeof ip === 'string' && isIP(ip)) return ip;
  }
  return undefined;
}

type Pair = [string, string | number | null | undefined];

/** A custom field and its label, or nothing when the value is unknown. */
function custom(field: string, label: string, value: string | number | null | undefined): Pair[] {
  return value === null || value === undefined ? [] : [[`${field}Label`, label], [field, value]];
}

/** The CEF line for one event about the incident (without msg=, which is sized to the message's room). */
export function cefFor(ctx: ActionContext, deps: Pick<ActionDeps, 'publicUrl'>, signature: CefSignature, verdict?: FollowContext['verdict'], nowMs = Date.now()): { line: string; title: string; band: SeverityBand } {
  const s = summarizeIncident(ctx.incident, deps);
  const what = signature === 'incident.decided' ? 'Incident decided' : signature === 'incident.updated' ? 'Incident updated' : 'Incident closed';
  const ms = (iso: string) => (Number.isFinite(Date.parse(iso)) ? Date.parse(iso) : undefined);
  const line = formatCef({
    vendor: 'Fido',
    product: 'Fido',
    version: FIDO_VERSION,
    signatureId: signature,
    name: `${what}: ${s.title}`,
    // CEF 0-10 by tens, so the bands meet CEF's: 7-8 High (Fido's high, 70-89), 9-10 Very-High (critical).
    severity: s.score === null ? 0 : Math.floor(s.score / 10),
    extension: [
      ['rt', nowMs],
      ['start', ms(s.first_seen)],
      ['end', ms(s.last_seen)],
      ['src', firstIp(ctx, 'src')],
      ['dst', firstIp(ctx, 'dst')],
      ['shost', s.host],
      ['suser', s.user],
      ...custom('cs1', 'incidentId', s.id),
      ...custom('cs2', 'decision', s.outcome),
      ...custom('cs3', 'rule', s.rule),
      ...custom('cs4', 'verdict', verdict?.verdict ?? s.verdict),
      ...custom('cs5', 'status', s.status),
      ...custom('cs6', 'closedBy', verdict?.by),
      ...custom('cn1', 'score', s.score),
      ['cnt', s.alert_count],
      ['request', s.link],
      ['externalId', ctx.idempotencyKey],
    ],
  });
  return { line, title: s.title, band: s.band };
}

// ───────────────────────────── transports ─────────────────────────────

interface Sender {
  send(bytes: Buffer, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The collector's address through the outbound guard (dgram's own lookup also resolves the bind address). */
function guardedAddress(host: string, family: 4 | 6, allowPrivate: boolean): Promise<string> {
  const lookup = guardedLookup(allowPrivate);
  return new Promise<string>((resolve, reject) => lookup(host, { family }, (err, address) => (err ? reject(err) : resolve(address as string))));
}

function udpSender(host: string, port: number, allowPrivate: boolean): Sender {
  // A name is resolved for IPv4 unless the host is an IPv6 literal.
  const family = isIP(host) === 6 ? 6 : 4;
  let socket: UdpSocket | null = null;
  return {
    async send(bytes) {
      const address = await guardedAddress(host, family, allowPrivate);
      if (!socket) {
        const s = createSocket(family === 6 ? 'udp6' : 'udp4');
        // Errors of an unconnected socket come back to send's callback; this only keeps a stray one from crashing.
        s.on('error', () => {
          if (socket === s) socket = null;
          s.close();
        });
        socket = s;
      }
      const s = socket;
      await new Promise<void>((resolve, reject) => s.send(bytes, port, address, (err) => (err ? reject(err) : resolve())));
    },
    async close() {
      const s = socket;
      socket = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

interface StreamOptions {
  host: string;
  port: number;
  tls: { ca?: string; cert?: string; key?: string } | null;
  allowPrivate: boolean;
}

/** Resolves when `socket` is connected (and, for TLS, the certificate verified); rejects on error or abort. */
function connected(socket: Socket, tls: boolean, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off(tls ? 'secureConnect' : 'connect', ok);
      socket.off('error', fail);
      signal.removeEventListener('abort', abort);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve();
    };
    const ok = () => done();
    const fail = (e: Error) => done(e);
    const abort = () => done(new Error('no connection before the time limit'));
    socket.once(tls ? 'secureConnect' : 'connect', ok);
    socket.once('error', fail);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });
}

function written(socket: Socket, bytes: Buffer, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const abort = () => {
      socket.destroy();
      reject(new Error('the write did not complete before the time limit'));
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.write(bytes, (err) => {
      signal.removeEventListener('abort', abort);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** One kept connection (tcp or tls), opened on first use and again after it failed or was closed. */
function streamSender(o: StreamOptions): Sender {
  let live: Socket | null = null;

  async function open(signal: AbortSignal): Promise<Socket> {
    const lookup = guardedLookup(o.allowPrivate);
    const socket = o.tls
      ? tlsConnect({
          host: o.host,
          port: o.port,
          lookup,
          rejectUnauthorized: true,
          ...(isIP(o.host) ? {} : { servername: o.host }),
          ...(o.tls.ca ? { ca: o.tls.ca } : {}),
          ...(o.tls.cert && o.tls.key ? { cert: o.tls.cert, key: o.tls.key } : {}),
        })
      : netConnect({ host: o.host, port: o.port, lookup });
    // Errors are read where they matter (connect, write); a late one (after a destroy) must not crash the process.
    socket.on('error', () => undefined);
    await connected(socket, !!o.tls, signal);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    // The collector sends nothing; reading lets its close (FIN) be seen, so a dead connection is not reused.
    socket.resume();
    const forget = () => {
      if (live === socket) live = null;
    };
    socket.on('error', forget);
    socket.on('end', () => {
      forget();
      socket.destroy();
    });
    socket.on('close', forget);
    live = socket;
    return socket;
  }

  return {
    async send(bytes, signal) {
      const reused = live && !live.destroyed && live.writable ? live : null;
      if (reused) {
        try {
          return await written(reused, bytes, signal);
        } catch (e) {
          reused.destroy();
          if (signal.aborted) throw e;
          // The connection had died unnoticed: once more on a new one.
        }
      }
      const socket = await open(signal);
      try {
        await written(socket, bytes, signal);
      } catch (e) {
        socket.destroy();
        throw e;
      }
    },
    async close() {
      const s = live;
      live = null;
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => s.destroy(), 1000).unref();
      });
    },
  };
}

// An untrusted or mismatched certificate (Node's and OpenSSL's codes), as in lib/remote-action.ts.
const TLS_TRUST = /certificate|self.signed|UNABLE_TO|ERR_TLS_CERT|CERT_/i;

/** A failed send as the executor's retry rules: configuration problems are permanent, the rest retried. */
function sendError(e: unknown, key: string, where: string): ActionError {
  const err = e as { code?: string; message?: string };
  const text = `${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`;
  if (err.code === 'EFIDO_PRIVATE_ADDRESS') return new ActionError(`${key}: ${where} refused: ${err.message ?? ''}`, false);
  if (TLS_TRUST.test(text)) return new ActionError(`${key}: ${where}: ${text}: TLS certificate not trusted; set tls_ca_file for a private CA`, false);
  return new ActionError(`${key}: sending to ${where} failed: ${text}`, true);
}

function readFile(file: string, configDir: string, key: string): string {
  const path = resolvePath(configDir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${key}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

// ───────────────────────────── the target ─────────────────────────────

async function create(cfg: SyslogCefConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const port = cfg.port ?? (cfg.transport === 'tls' ? 6514 : 514);
  const where = `${cfg.transport}://${isIP(cfg.host) === 6 ? `[${cfg.host}]` : cfg.host}:${port}`;
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;
  const maxBytes = cfg.max_message_size ?? DEFAULT_MAX_BYTES;
  const framing: Framing | undefined = cfg.transport === 'udp' ? undefined : (cfg.framing ?? 'octet-counting');
  const facility = typeof cfg.facility === 'number' ? cfg.facility : FACILITIES.indexOf(cfg.facility ?? 'local4');
  const allowPrivate = cfg.allow_private ?? false;
  const sender =
    cfg.transport === 'udp'
      ? udpSender(cfg.host, port, allowPrivate)
      : streamSender({
          host: cfg.host,
          port,
          allowPrivate,
          tls:
            cfg.transport === 'tls'
              ? {
                  ...(cfg.tls_ca_file ? { ca: readTlsCaFile(cfg, deps.configDir) } : {}),
                  ...(cfg.tls_cert_file && cfg.tls_key_file
                    ? { cert: readFile(cfg.tls_cert_file, deps.configDir, `${key}.tls_cert_file`), key: readFile(cfg.tls_key_file, deps.configDir, `${key}.tls_key_file`) }
                    : {}),
                }
              : null,
        });
  const host = cfg.hostname ?? osHostname();
  // One send at a time per target: one connection, messages in order.
  let queue: Promise<unknown> = Promise.resolve();

  async function send(ctx: ActionContext, signature: CefSignature, verdict?: FollowContext['verdict']): Promise<ActionOutcome> {
    const now = Date.now();
    const { line, title, band } = cefFor(ctx, deps, signature, verdict, now);
    const prefix = syslogPrefix({ format: cfg.format ?? 'rfc5424', facility, severity: SYSLOG_SEVERITY[band], time: new Date(now), hostname: host, appName: cfg.app_name ?? 'fido', procId: String(process.pid), msgId: signature });
    // msg= goes last and gets the room left: the framing and every other field stay whole.
    const room = maxBytes - Buffer.byteLength(prefix) - Buffer.byteLength(line) - ' msg='.length;
    const msg = escapedWithin(title, cefExtensionValue, room);
    const message = `${prefix}${line} msg=${msg}`;
    const bytes = frame(message, framing);
    const run = queue.then(async () => {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
      try {
        await sender.send(bytes, signal);
      } catch (e) {
        throw sendError(e, key, where);
      }
    });
    queue = run.catch(() => undefined);
    await run;
    return { detail: { transport: cfg.transport, signature_id: signature, bytes: Buffer.byteLength(message), truncated: msg !== cefExtensionValue(title), delivery: cfg.transport === 'udp' ? 'unconfirmed' : 'written' } };
  }

  return {
    name: cfg.name,
    kind: 'syslog_cef',
    execute: (ctx) => send(ctx, 'incident.decided'),
    follow: (ctx) => (ctx.event === 'close' ? send(ctx, 'incident.closed', ctx.verdict) : send(ctx, 'incident.updated')),
    close: () => sender.close(),
  };
}

const syslogCef = defineAction({
  kind: 'syslog_cef',
  description: 'Forwards incidents to a SIEM as ArcSight CEF over syslog (udp, tcp, tls)',
  schema: SyslogCefSchema,
  check,
  create,
  follows: true,
});
export default syslogCef;
