/**
 * Stand-ins for the SOC's mailbox and SOAR, for `fido demo`: an SMTP server and a webhook receiver on this
 * machine at the addresses that the configuration's loopback e-mail and webhook targets name, so that a
 * newcomer sees the notifications Fido sends instead of watching them fail against nothing. They report
 * each delivery (subject and recipients; the webhook's signature checked with the target's secret) and
 * keep nothing.
 *
 * Only plain loopback targets are served: an e-mail target that requires TLS or AUTH, or a webhook on
 * https or on another host, is someone's real service, and is left alone (listed as skipped).
 */
import type { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { Value } from 'typebox/value';
import { EmailConfigSchema, type EmailConfig } from '../actions/kinds/email.js';
import { verifySignature, WebhookConfigSchema, type WebhookConfig } from '../actions/kinds/webhook.js';
import { secretValue } from '../actions/target-config.js';

export interface Delivery {
  kind: 'email' | 'webhook';
  target: string;
  /** One line for a person: the subject and recipients, or the incident and decision of a webhook. */
  summary: string;
  /** Webhooks: whether X-Fido-Signature matched the target's secret (a mismatch is answered 401). */
  signatureValid?: boolean;
}

export interface DemoReceivers {
  /** "soc-mail (smtp://127.0.0.1:2525)" per receiver started. */
  readonly listening: readonly string[];
  /** Targets not served, with why. */
  readonly skipped: readonly string[];
  close(): Promise<void>;
}

type Target = { name: string; kind: string } & Record<string, unknown>;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

export async function startDemoReceivers(targets: readonly Target[], onDelivery: (d: Delivery) => void): Promise<DemoReceivers> {
  const listening: string[] = [];
  const skipped: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  const started = (name: string, where: string, close: () => Promise<void>) => {
    listening.push(`${name} (${where})`);
    closers.push(close);
  };
  for (const t of targets) {
    try {
      // The configuration was checked at load; the check here gives the entry its kind's type.
      if (t.kind === 'email') {
        if (!Value.Check(EmailConfigSchema, t)) {
          skipped.push(`${t.name}: not an email target this version reads`);
          continue;
        }
        const cfg = t;
        const why = plainLoopbackMail(cfg);
        if (why) skipped.push(`${cfg.name}: ${why}`);
        else started(cfg.name, `smtp://${cfg.host}:${cfg.port}`, await mailbox(cfg, onDelivery));
      } else if (t.kind === 'webhook') {
        if (!Value.Check(WebhookConfigSchema, t)) {
          skipped.push(`${t.name}: not a webhook target this version reads`);
          continue;
        }
        const cfg = t;
        const url = new URL(cfg.url);
        if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) skipped.push(`${cfg.name}: ${url.origin} is not plain http on this machine`);
        else started(cfg.name, url.href, await webhookReceiver(cfg, url, onDelivery));
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      skipped.push(`${t.name}: ${err.code === 'EADDRINUSE' ? 'its address is in use (something already listens there)' : err.message}`);
    }
  }
  return {
    listening,
    skipped,
    async close() {
      await Promise.all(closers.map((c) => c()));
    },
  };
}

function plainLoopbackMail(cfg: EmailConfig): string | undefined {
  if (!LOOPBACK.has(cfg.host)) return `${cfg.host} is not this machine`;
  if (cfg.secure || cfg.require_tls !== false) return 'it requires TLS';
  if (cfg.user || cfg.password) return 'it logs in (AUTH)';
  if (!cfg.port) return 'no port is set';
  return undefined;
}

async function mailbox(cfg: EmailConfig, onDelivery: (d: Delivery) => void): Promise<() => Promise<void>> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 64 * 1024) chunks.push(c); // the headers are at the start
      });
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address).join(', ');
        const subject = headerValue(Buffer.concat(chunks).toString('utf8'), 'subject') ?? '(no subject)';
        onDelivery({ kind: 'email', target: cfg.name, summary: `e-mail to ${to}: ${subject}` });
        callback();
      });
    },
  });
  await listen((cb) => server.listen(cfg.port, hostOf(cfg.host), cb), server); // SMTPServer re-emits its socket's errors
  server.on('error', () => undefined); // a client that hangs up mid-session is not the demo's problem
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

async function webhookReceiver(cfg: WebhookConfig, url: URL, onDelivery: (d: Delivery) => void): Promise<() => Promise<void>> {
  const secret = secretValue(cfg.secret, `actions.targets.${cfg.name}.secret`);
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', url).pathname !== url.pathname) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_MESSAGE_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const valid = verifySignature(secret, String(req.headers['x-fido-timestamp'] ?? ''), body, String(req.headers['x-fido-signature'] ?? ''));
      onDelivery({ kind: 'webhook', target: cfg.name, summary: `webhook ${url.pathname}: ${describeWebhook(body)}`, signatureValid: valid });
      res.writeHead(valid ? 204 : 401).end();
    });
  });
  await listen((cb) => server.listen(Number(url.port || 80), hostOf(url.hostname), cb), server);
  server.on('error', () => undefined);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

/** Resolves once listening; rejects with the listen error (EADDRINUSE…). */
function listen(start: (cb: () => void) => void, server: EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    start(() => {
      server.off('error', reject);
      resolve();
    });
  });
}

const hostOf = (host: string) => (host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''));

/** "escalate: <incident title> (score 85)" from the webhook's JSON body, or what is wrong with it. */
function describeWebhook(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString('utf8')) as {
      incident?: { title?: string; score?: { total?: number } | null };
      decision?: { outcome?: string } | null;
    };
    const score = doc.incident?.score?.total;
    return `${doc.decision?.outcome ?? '?'}: ${doc.incident?.title ?? '(no incident)'}${score === undefined ? '' : ` (score ${score})`}`;
  } catch {
    return `a body that is not JSON (${body.length} bytes)`;
  }
}

/** A header of an RFC 5322 message (unfolded; RFC 2047 encoded words decoded). */
export function headerValue(message: string, name: string): string | undefined {
  const end = message.search(/\r?\n\r?\n/);
  const head = (end < 0 ? message : message.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === undefined ? undefined : decodeWords(line.slice(name.length + 1).trim());
}

function decodeWords(value: string): string {
  // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (all, charset: string, enc: string, text: string) => {
    if (!/^utf-?8$/i.test(charset) && !/^(us-)?ascii$/i.test(charset)) return all;
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return bytes.toString('utf8');
  });
}
