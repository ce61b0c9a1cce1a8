/**
 * Email notification over SMTP (nodemailer). One attempt = one SMTP transaction; the executor retries.
 *
 * Transport security: implicit TLS (`secure: true`, port 465) or STARTTLS, which is REQUIRED by default
 * (`require_tls`), so a downgrade by a man in the middle fails instead of sending in clear. Certificates are
 * always verified; a private CA is given with `tls_ca_file`. The only way to turn verification off is the
 * explicit `allow_insecure_tls: true`, which is logged as a warning when the target is created.
 *
 * Content: a report in a text part and an HTML part, `summary` or `detailed` (lib/email-report.ts, which says
 * how attacker-chosen text is escaped and how the message is bounded), with approve/deny buttons for the
 * incident's actions that wait for a person when the process can sign links (ActionDeps.approvalLinks).
 *
 * Retries: the Message-ID is derived from the idempotency key, so a message sent again after a crash or a
 * lost reply is recognisably the same one (mail clients thread or de-duplicate it); the key is also sent as
 * `X-Fido-Idempotency-Key`.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ActionRecord } from '../../model/action.js';
import type { IncidentDetail } from '../../model/incident.js';
import type { Decision } from '../../model/decision.js';
import { log } from '../../util/log.js';
import { ActionError, defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget } from '../action.js';
import { readTlsCaFile, secretValue } from '../target-config.js';
import { summarizeIncident } from './lib/incident-summary.js';
import { renderReportHtml, renderReportText, type ReportFormat } from './lib/email-report.js';

// The escaping tag lives with the report; re-exported for the tests and for code that imported it from here.
export { escapeHtml, html, SafeHtml } from '../../util/html.js';

export const EmailConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('email'),
    host: Type.String({ minLength: 1, description: 'SMTP server' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 465 when secure, else 587' })),
    secure: Type.Optional(Type.Boolean({ description: 'Implicit TLS from the first byte (port 465). Default false: STARTTLS' })),
    require_tls: Type.Optional(Type.Boolean({ description: 'Refuse to send unless STARTTLS succeeds. Default true when not secure' })),
    user: Type.Optional(Type.String({ description: 'SMTP AUTH user (may be a secret reference)' })),
    password: Type.Optional(Type.String({ description: 'SMTP AUTH password: a secret reference such as ${env:SMTP_PASSWORD}' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of the CA(s) that sign the server certificate (relative to the config file)' })),
    tls_servername: Type.Optional(Type.String({ description: 'Name to verify in the server certificate when it differs from host' })),
    allow_insecure_tls: Type.Optional(
      Type.Boolean({ description: 'DANGEROUS: accept any server certificate. Off by default; a warning is logged when on' }),
    ),
    from: Type.String({ minLength: 3, description: 'Sender, e.g. "Fido <fido@corp.example>"' }),
    to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1, description: 'Recipients' }),
    subject: Type.Optional(
      Type.String({
        description:
          'Subject template; placeholders: {{title}} {{score}} {{outcome}} {{rule}} {{host}} {{user}} {{alert_count}} {{incident_id}}',
      }),
    ),
    format: Type.Optional(
      Type.Union([Type.Literal('summary'), Type.Literal('detailed')], {
        description: 'Report form: "summary" (one screen) or "detailed" (default: chart, evidence, alerts, enrichment, actions, timeline)',
      }),
    ),
    timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type EmailConfig = Static<typeof EmailConfigSchema>;

export const DEFAULT_SUBJECT = '[Fido] {{outcome}}: {{title}} (score {{score}})';

// ───────────────────────────── rendering ─────────────────────────────

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const SUBJECT_FIELDS = ['title', 'score', 'outcome', 'rule', 'host', 'user', 'alert_count', 'incident_id'] as const;

function currentDecision(incident: IncidentDetail): Decision | null {
  return incident.decision ?? incident.decisions[incident.decisions.length - 1] ?? null;
}

/** Fills the subject template; unknown placeholders are rejected when the target is created. */
export function renderSubject(template: string, incident: IncidentDetail): string {
  const d = currentDecision(incident);
  const fields: Record<(typeof SUBJECT_FIELDS)[number], string> = {
    title: incident.title,
    score: incident.score ? String(incident.score.total) : 'n/a',
    outcome: d?.outcome ?? 'incident',
    rule: d?.rule ?? '',
    host: incident.host ?? '',
    user: incident.user ?? '',
    alert_count: String(incident.alert_count),
    incident_id: incident.id,
  };
  const filled = template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (m, k: string) => (k in fields ? fields[k as keyof typeof fields] : m));
  // Neutralised as a whole, so that pieces from two fields (or a field and the template) cannot join into a trick.
  return headerText(filled, MAX_SUBJECT_CHARS);
}

const MAX_SUBJECT_CHARS = 250;

/**
 * Text (from alerts, so attacker-chosen) made safe to be a header value. What a mail client shows is the text
 * as sent, and nothing else:
 * - RFC 2047 encoded words: a client decodes `=?utf-8?B?…?=` in a header into whatever it encodes, so an alert
 *   title could show as any subject. A space after the `=` makes it plain text, still readable as what came.
 * - Line breaks (CR, LF, NEL, U+2028/2029) and other control characters become spaces: nothing can end the
 *   header and start another (`\r\nBcc: …`), fold it, or hide in it (NUL, ESC).
 * - Invisible format characters go: bidi overrides (U+202E shows `invoice\u202Efdp.exe` as `invoiceexe.pdf`),
 *   isolates, zero-width characters — before the step above, as they could otherwise hide a `=?` from it.
 * - Runs of white space become one space (a subject pushed out of sight by 500 spaces); the length is bounded
 *   by whole characters, with an ellipsis where it was cut.
 */
export function headerText(text: string, maxChars: number): string {
  const clean = text
    .replace(/\p{Cf}/gu, '')
    .replace(/\p{Cs}/gu, '\uFFFD')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/=\?/g, '= ?')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(clean);
  return chars.length > maxChars ? `${chars.slice(0, maxChars - 1).join('').trimEnd()}…` : clean;
}

function checkSubjectTemplate(template: string, key: string): void {
  // Braces excluded inside, spaces trimmed here: \s*([^}]*?)\s* took cubic time on a long blank run.
  for (const m of template.matchAll(/\{\{([^{}]*)\}\}/g)) {
    const name = m[1]!.trim();
    if (!(SUBJECT_FIELDS as readonly string[]).includes(name)) {
      throw new Error(`${key}: unknown placeholder {{${name}}} (known: ${SUBJECT_FIELDS.join(', ')})`);
    }
  }
}

export interface RenderOptions {
  subject: string;
  publicUrl: string;
  /** Default `detailed` (what this kind always sent: the score explained and the alerts). */
  format?: ReportFormat;
  approvalLinks?: ActionDeps['approvalLinks'];
  /** Epoch ms, for the age of enrichment answers; default now. */
  now?: number;
}

/** The whole message for one incident: pure given `now`, so it is tested without SMTP. */
export function renderEmail(incident: IncidentDetail, action: ActionRecord, opts: RenderOptions): RenderedEmail {
  const summary = summarizeIncident(incident, { publicUrl: opts.publicUrl, ...(opts.approvalLinks ? { approvalLinks: opts.approvalLinks } : {}) });
  const report = { incident, action, summary, format: opts.format ?? 'detailed', now: opts.now ?? Date.now() };
  return { subject: renderSubject(opts.subject, incident), text: renderReportText(report), html: renderReportHtml(report) };
}

// ───────────────────────────── sending ─────────────────────────────

/** A Message-ID that is the same for every attempt of one action: `<hash.fido@sender-domain>`. */
export function messageIdFor(idempotencyKey: string, from: string): string {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40);
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'fido.invalid';
  return `<${hash}.fido@${domain}>`;
}

/** SMTP 5xx is a permanent refusal (bad credentials, rejected recipient); anything else may pass later. */
function toActionError(e: unknown): ActionError {
  const err = e as { code?: string; responseCode?: number; message?: string };
  const what = `SMTP send failed${err.code ? ` (${err.code})` : ''}: ${err.message ?? String(e)}`;
  const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
  return new ActionError(what, !permanent);
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ActionError('email: call aborted (timeout)', true));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ActionError('email: call aborted (timeout)', true));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function transportOptions(cfg: EmailConfig, deps: ActionDeps): SMTPTransport.Options {
  const secure = cfg.secure ?? false;
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `actions.targets.${cfg.name}.timeout`) : 30_000;
  const user = secretValue(cfg.user, `actions.targets.${cfg.name}.user`);
  const pass = secretValue(cfg.password, `actions.targets.${cfg.name}.password`);
  if ((user === undefined) !== (pass === undefined)) throw new Error(`actions.targets.${cfg.name}: user and password go together`);
  const ca = readTlsCaFile(cfg, deps.configDir);
  if (cfg.allow_insecure_tls) {
    log.warn({ target: cfg.name }, 'email target: TLS certificate verification is OFF (allow_insecure_tls); mail and credentials can be intercepted');
  }
  return {
    host: cfg.host,
    port: cfg.port ?? (secure ? 465 : 587),
    secure,
    requireTLS: !secure && (cfg.require_tls ?? true),
    ...(user !== undefined && pass !== undefined ? { auth: { user, pass } } : {}),
    tls: {
      rejectUnauthorized: cfg.allow_insecure_tls !== true,
      minVersion: 'TLSv1.2',
      ...(ca ? { ca } : {}),
      ...(cfg.tls_servername ? { servername: cfg.tls_servername } : {}),
    },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  };
}

async function create(cfg: EmailConfig, deps: ActionDeps): Promise<ActionTarget> {
  const subject = cfg.subject ?? DEFAULT_SUBJECT;
  checkSubjectTemplate(subject, `actions.targets.${cfg.name}.subject`);
  const transport = nodemailer.createTransport(transportOptions(cfg, deps));
  return {
    name: cfg.name,
    kind: 'email',
    async execute(ctx: ActionContext): Promise<ActionOutcome> {
      const msg = renderEmail(ctx.incident, ctx.action, {
        subject,
        publicUrl: deps.publicUrl,
        format: cfg.format ?? 'detailed',
        ...(deps.approvalLinks ? { approvalLinks: deps.approvalLinks } : {}),
      });
      const messageId = messageIdFor(ctx.idempotencyKey, cfg.from);
      let info: SMTPTransport.SentMessageInfo;
      try {
        info = await abortable(
          transport.sendMail({
            from: cfg.from,
            to: cfg.to,
            subject: msg.subject,
            text: msg.text,
            html: msg.html,
            messageId,
            headers: { 'X-Fido-Idempotency-Key': headerText(ctx.idempotencyKey, 200) },
          }),
          ctx.signal,
        );
      } catch (e) {
        throw e instanceof ActionError ? e : toActionError(e);
      }
      if (info.accepted.length === 0) throw new ActionError(`SMTP: every recipient was rejected (${info.rejected.join(', ')})`, false);
      return { detail: { message_id: messageId, accepted: info.accepted, rejected: info.rejected, response: info.response } };
    },
    async close() {
      transport.close();
    },
  };
}

const email = defineAction({
  kind: 'email',
  description: 'Email over SMTP (STARTTLS or implicit TLS, verified): a summary or detailed report, score chart, approve/deny links',
  schema: EmailConfigSchema,
  create,
});
export default email;
