/**
 * Shared pieces for the action tests: an incident whose alerts carry hostile text, rows for the outbox, a
 * self-signed certificate made with openssl, a real SMTP server (smtp-server, STARTTLS, AUTH PLAIN) and a
 * local HTTP receiver that answers from a script.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { Db } from '../../src/store/store.js';
import type { Alert } from '../../src/model/alert.js';
import type { ActionRecord } from '../../src/model/action.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import type { Score } from '../../src/model/score.js';
import type { Decision } from '../../src/model/decision.js';
import { toAction } from '../../src/store/incidents.js';

export const HOSTILE_TITLE = `<script>alert("pwned")</script> & 'single' "double"`;

export const SCORE: Score = {
  profile: 'default',
  total: 85,
  components: { threat: 60, asset: 15, user: 10 },
  explanation: [
    { factor: 'threat.intel', points: 60, evidence: 'evil.example listed by abuse.ch <feodo>' },
    { factor: 'asset.criticality', points: 15, evidence: 'ws-042 is in zone "finance"' },
    { factor: 'user.privileged', points: 10, evidence: 'alice is a domain admin' },
  ],
};

export const DECISION: Decision = {
  rule: 'notify-high',
  outcome: 'notify',
  actions: [{ kind: 'email', target: 'soc-mail', params: {}, approval: 'auto' }],
  dry_run: false,
  config_version: 'abc123',
};

function alert(id: string, title: string, time: string): Alert {
  return {
    id,
    source: 'dmz-suricata',
    detector: 'suricata',
    time,
    received_at: time,
    title,
    severity: 80,
    severity_label: 'high',
    src: { ip: '10.1.2.3', port: 51234, host: 'ws-042', user: 'alice' },
    dst: { ip: '203.0.113.7', port: 443, host: 'evil.example' },
    observables: [
      { type: 'ip', value: '203.0.113.7', role: 'dst' },
      { type: 'domain', value: 'evil.example', role: 'dst' },
      { type: 'url', value: 'http://evil.example/a?x=<b>&y="1"', role: 'url' },
    ],
    raw: 'raw text',
  };
}

export function sampleIncident(id = 'INC1'): IncidentDetail {
  return {
    id,
    title: `Beacon from ws-042: ${HOSTILE_TITLE}`,
    status: 'new',
    verdict: null,
    first_seen: '2026-11-27T12:00:00.000Z',
    last_seen: '2026-11-27T12:05:00.000Z',
    alert_count: 2,
    host: 'ws-042',
    user: 'alice',
    score: SCORE,
    decision: DECISION,
    alerts: [alert(`${id}-A1`, HOSTILE_TITLE, '2026-11-27T12:00:00.000Z'), alert(`${id}-A2`, 'ET MALWARE Cobalt Strike Beacon Observed', '2026-11-27T12:05:00.000Z')],
    enrichment: [],
    decisions: [DECISION],
    actions: [],
    timeline: [],
  };
}

/** Writes an incident and its alerts the way the pipeline stores them. */
export async function seedIncident(db: Db, incident: IncidentDetail): Promise<void> {
  const t = Date.parse(incident.first_seen);
  await db
    .insertInto('incidents')
    .values({
      id: incident.id,
      title: incident.title,
      status: incident.status,
      verdict: null,
      first_seen: t,
      last_seen: Date.parse(incident.last_seen),
      alert_count: incident.alert_count,
      severity: 80,
      host: incident.host,
      user_name: incident.user,
      score_total: incident.score?.total ?? null,
      score: JSON.stringify(incident.score),
      decision: JSON.stringify(incident.decision),
      created_at: t,
      updated_at: t,
    })
    .execute();
  for (const a of incident.alerts) {
    const { raw, ...doc } = a;
    await db
      .insertInto('alerts')
      .values({
        id: a.id,
        intake_id: `in-${a.id}`,
        source: a.source,
        detector: a.detector,
        vendor_id: null,
        fingerprint: `fp-${a.id}`,
        time: Date.parse(a.time),
        received_at: Date.parse(a.received_at),
        title: a.title,
        severity: a.severity,
        rule_id: null,
        host: a.host?.name ?? null,
        user_name: a.user?.name ?? null,
        incident_id: incident.id,
        repeat_count: 1,
        last_repeat_at: null,
        doc: JSON.stringify(doc),
        raw,
      })
      .execute();
  }
}

export interface NewAction {
  id: string;
  incident_id: string;
  kind: string;
  target: string;
  state?: 'pending' | 'awaiting_approval';
  dry_run?: boolean;
  params?: Record<string, unknown>;
  now: number;
}

/** An outbox row as the decide stage writes it. */
export async function insertAction(db: Db, a: NewAction): Promise<void> {
  const state = a.state ?? 'pending';
  await db
    .insertInto('actions')
    .values({
      id: a.id,
      incident_id: a.incident_id,
      decision_id: null,
      kind: a.kind,
      target: a.target,
      idempotency_key: `${a.incident_id}:${a.id}:${a.target}`,
      params: JSON.stringify(a.params ?? {}),
      state,
      approval: state === 'awaiting_approval' ? 'required' : 'auto',
      dry_run: a.dry_run ? 1 : 0,
      attempts: 0,
      next_attempt_at: a.now,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      result: null,
      approved_by: null,
      created_at: a.now,
      updated_at: a.now,
    })
    .execute();
}

export async function actionRow(db: Db, id: string) {
  return db.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** An ActionRecord for calling a target directly, outside the executor. */
export function actionRecord(incidentId: string, kind: string, target: string, id = 'ACT1'): ActionRecord {
  return toAction({
    id,
    incident_id: incidentId,
    decision_id: null,
    kind,
    target,
    idempotency_key: `${incidentId}:${id}:${target}`,
    params: '{}',
    state: 'running',
    approval: 'auto',
    dry_run: 0,
    attempts: 1,
    next_attempt_at: 0,
    lease_owner: null,
    lease_until: null,
    last_error: null,
    result: null,
    approved_by: null,
    created_at: 0,
    updated_at: 0,
  });
}

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
