/**
 * Real peers for tests: a self-signed certificate made with openssl, a real SMTP server (smtp-server,
 * STARTTLS, AUTH PLAIN) and a local HTTP receiver that answers from a script.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

// ───────────────────────────── TLS and SMTP ─────────────────────────────

export interface Cert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl in `dir`. */
export function selfSignedCert(dir: string, name = 'server'): Cert {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

export interface SmtpHarness {
  port: number;
  messages: ParsedMail[];
  /** Whether each session upgraded with STARTTLS before sending. */
  secured: boolean[];
  /** The AUTH mechanism of each login attempt. */
  authMethods: string[];
  close(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1:0 with STARTTLS (certificate `cert`) and AUTH PLAIN required.
 * `starttls: false` makes a server that offers no TLS at all (and then allows AUTH in clear).
 */
export async function startSmtp(cert: Cert, user: string, pass: string, opts: { starttls?: boolean } = {}): Promise<SmtpHarness> {
  const messages: ParsedMail[] = [];
  const secured: boolean[] = [];
  const authMethods: string[] = [];
  const starttls = opts.starttls ?? true;
  const server = new SMTPServer({
    key: cert.key,
    cert: cert.cert,
    authMethods: ['PLAIN'],
    authOptional: false,
    logger: false,
    ...(starttls ? {} : { disabledCommands: ['STARTTLS'], allowInsecureAuth: true }),
    onAuth(auth, _session, cb) {
      authMethods.push(auth.method);
      if (auth.username === user && auth.password === pass) return cb(null, { user });
      return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((m) => {
          messages.push(m);
          secured.push(session.secure);
          cb();
        })
        .catch(cb);
    },
  });
  // A client killed mid-session (the crash tests SIGKILL Fido) resets its connection: expected, not a failure.
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') throw e;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, messages, secured, authMethods, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

// ───────────────────────────── HTTP receiver ─────────────────────────────

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export type Responder = (req: Received, n: number) => { status: number; headers?: Record<string, string>; body?: string };

export interface HttpHarness {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** A local receiver: every POST is kept, and answered by `respond` (given the 0-based request number). */
export async function startHttp(respond: Responder = () => ({ status: 200, body: 'ok' })): Promise<HttpHarness> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(r);
      const out = respond(r, received.length - 1);
      res.writeHead(out.status, out.headers ?? {});
      res.end(out.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A loopback TCP port nobody listens on right now (the kernel's choice). For configurations that must name a
 * port before anything listens on it, so that two suites on one machine do not meet on a fixed one.
 */
export async function freePort(): Promise<number> {
  const { createServer: createTcpServer } = await import('node:net');
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
