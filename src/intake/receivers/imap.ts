/**
 * The `imap` receiver kind: reads alert e-mails from one mailbox of an IMAP server (IDLE, with a poll every
 * `interval` as the fallback) and hands each accepted message to the intake as records (imap/records.ts:
 * the text body, each text/JSON/XML attachment; the raw message when nothing else is usable).
 *
 * What is guaranteed:
 * - The position is { uidvalidity, last_uid }, committed in the same transaction as the records of each
 *   batch. A restart, or a crash at any point, resumes at the UIDs above last_uid: no message is lost, none
 *   is ingested twice. The flags set after the commit ($FidoProcessed, or the configured keyword; the move to
 *   `mark.move_to`) are for people and for the case below; a crash between commit and flagging leaves
 *   committed messages unflagged, which is harmless.
 * - With no committed position (first start), or when the server's UIDVALIDITY differs from the committed
 *   one (the mailbox was recreated or renumbered: UIDs no longer mean what they meant), the receiver reads
 *   every message of the mailbox that carries none of its flags (processed, $FidoRejected, $FidoTooLarge),
 *   and says so in a log line. Then, messages whose flag was lost (a crash between commit and flagging just
 *   before the change, or flags removed by someone) are ingested again; messages flagged by someone else
 *   with Fido's keyword are skipped. Messages moved away (`move_to`) are never read again.
 * - Refused messages (sender not in `senders`; Authentication-Results not passing what is required) are not
 *   ingested: they are flagged $FidoRejected, logged with the reason (From address and Message-ID, never the
 *   body) and counted in status; the position moves past them. Messages above `max_message_bytes` are not
 *   fetched: flagged $FidoTooLarge, logged, counted.
 * - Errors (connection, login, TLS) are logged, shown in status() and retried with backoff, reconnecting;
 *   messages and status never carry the password.
 * - A lease row `imap:<source>` makes one of several processes sharing a PostgreSQL store read the mailbox.
 */
import { isIP } from 'node:net';
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import { simpleParser } from 'mailparser';
import { Type, type Static } from 'typebox';
import { parseDuration } from '../../config/duration.js';
import { Duration, type SourceConfig } from '../../config/schema.js';
import { readCaFile, secretSetting } from '../../enrich/remote.js';
import { defineReceiver, type IntakeRecord, type ReceiverDeps, type ReceiverStatus } from '../receiver.js';
import { PolledReceiver } from '../polled.js';
import { checkAuthentication, headerValue, type AuthPolicy } from '../imap/auth-results.js';
import { messageRecords } from '../imap/records.js';
import { parseSenderRule, senderAllowed, singleFrom, type SenderRule } from '../imap/senders.js';

// ---------------------------------------------------------------------------------------------------------
// Settings

const Keyword = Type.String({
  pattern: '^(\\\\Seen|\\\\Flagged|\\$?[A-Za-z][A-Za-z0-9_.-]{0,62})$',
  description: 'An IMAP keyword such as $FidoProcessed (or \\Seen / \\Flagged)',
});

export const ImapReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('imap'),
    host: Type.String({ minLength: 1, description: 'The IMAP server' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 993 with tls: implicit, else 143' })),
    tls: Type.Optional(
      Type.Union([Type.Literal('implicit'), Type.Literal('starttls'), Type.Literal('none')], {
        description:
          "implicit (IMAPS, default), starttls (required: the connection fails if the server does not offer it), or none. 'none' sends the password and the alerts in clear, so it is only accepted for a loopback host (127.0.0.0/8, ::1, localhost) or with allow_plaintext: true",
      }),
    ),
    allow_plaintext: Type.Optional(Type.Boolean({ description: "Accept tls: none for a host that is not loopback (a trusted network you own); default false" })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM CA bundle to verify the server certificate (relative to the config file); the system CAs otherwise' })),
    user: Type.String({ minLength: 1 }),
    password: Type.String({ minLength: 1, description: 'A secret reference such as ${env:ALERTS_IMAP_PASSWORD}' }),
    mailbox: Type.Optional(Type.String({ minLength: 1, description: 'Default INBOX' })),
    interval: Type.Optional(Duration),
    idle: Type.Optional(Type.Boolean({ description: 'Wait with IMAP IDLE between polls (default true): new mail is read at once; the interval still bounds each wait' })),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Messages per intake batch (default 100)' })),
    max_message_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, description: 'Larger messages are not fetched: flagged $FidoTooLarge and logged (default 10 MiB)' })),
    senders: Type.Array(Type.String({ minLength: 3 }), {
      minItems: 1,
      description:
        'Accepted From addresses: "alerts@fireeye.example" (exact) or "@fireeye.example" (that domain exactly), case-insensitive. Required and non-empty: an empty list would accept nobody. Others are flagged $FidoRejected',
    }),
    require_authentication: Type.Optional(
      Type.Object(
        {
          authserv_id: Type.String({
            minLength: 1,
            description:
              "The authserv-id YOUR receiving mail server writes in Authentication-Results. Only the topmost field(s) with this id are read: anyone can put such a field lower in a message (RFC 8601 §5)",
          }),
          dkim: Type.Optional(Type.Boolean({ description: 'Require dkim=pass (default true)' })),
          spf: Type.Optional(Type.Boolean({ description: 'Require spf=pass (default false)' })),
          dmarc: Type.Optional(Type.Boolean({ description: 'Require dmarc=pass (default false)' })),
          dkim_aligned: Type.Optional(Type.Boolean({ description: 'The passing DKIM signature must be by the From domain or a parent domain of it (default false)' })),
          trusted_headers: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'Leading fields with authserv_id read (your server may add one per checker); default 1' })),
        },
        { additionalProperties: false },
      ),
    ),
    mark: Type.Optional(
      Type.Object(
        {
          processed_flag: Type.Optional(Keyword),
          move_to: Type.Optional(Type.String({ minLength: 1, description: 'Folder processed messages are moved to after their commit (must exist)' })),
        },
        { additionalProperties: false },
      ),
    ),
    timeout: Type.Optional(Duration),
    detector: Type.Optional(Type.String({ description: "Detector for the records; default the source's" })),
  },
  { additionalProperties: false },
);
export type ImapReceiverConfig = Static<typeof ImapReceiverSchema>;

export type TlsMode = 'implicit' | 'starttls' | 'none';

export interface ImapSettings {
  host: string;
  port: number;
  tls: TlsMode;
  ca: string | undefined;
  user: string;
  password: string;
  mailbox: string;
  intervalMs: number;
  idle: boolean;
  batchSize: number;
  maxMessageBytes: number;
  senders: SenderRule[];
  auth: AuthPolicy | null;
  processedFlag: string;
  moveTo: string | null;
  timeoutMs: number;
  detector: string | null;
}

export const REJECTED_FLAG = '$FidoRejected';
export const TOO_LARGE_FLAG = '$FidoTooLarge';
const DEFAULTS = { interval: '60s', batch_size: 100, max_message_bytes: 10 * 1024 * 1024, processed_flag: '$FidoProcessed', timeout: '60s' } as const;
/** Bytes of message source fetched in one batch (at least one message is always taken). */
const BATCH_BYTES = 32 * 1024 * 1024;
const MIN_INTERVAL_MS = 10;

const key = (c: ImapReceiverConfig, k: string) => `sources.${c.name}.receiver.${k}`;

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

function problems(c: ImapReceiverConfig): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  for (const k of ['interval', 'timeout'] as const) {
    try {
      const ms = c[k] === undefined ? null : parseDuration(c[k], key(c, k));
      if (ms !== null && ms < MIN_INTERVAL_MS) out.push({ key: k, message: `must be at least ${MIN_INTERVAL_MS}ms` });
    } catch (e) {
      out.push({ key: k, message: (e as Error).message });
    }
  }
  if ((c.tls ?? 'implicit') === 'none' && !isLoopbackHost(c.host) && c.allow_plaintext !== true) {
    out.push({ key: 'tls', message: `none sends the password in clear: only for a loopback host, or set allow_plaintext: true (${c.host} is not loopback)` });
  }
  c.senders.forEach((s, i) => {
    const r = parseSenderRule(s);
    if (typeof r === 'string') out.push({ key: `senders[${i}]`, message: r });
  });
  if (c.require_authentication) {
    const a = c.require_authentication;
    if (a.dkim === false && !a.spf && !a.dmarc) out.push({ key: 'require_authentication', message: 'requires nothing: set dkim, spf or dmarc (or remove the section)' });
    if (a.dkim_aligned && a.dkim === false) out.push({ key: 'require_authentication.dkim_aligned', message: 'needs dkim' });
  }
  if (c.mark?.move_to !== undefined && c.mark.move_to === (c.mailbox ?? 'INBOX')) out.push({ key: 'mark.move_to', message: 'must differ from mailbox' });
  return out;
}

export function resolveSettings(c: ImapReceiverConfig, source: SourceConfig, configDir: string): ImapSettings {
  const p = problems(c);
  if (p.length) throw new Error(`${key(c, p[0]!.key)}: ${p[0]!.message}`);
  const tls = c.tls ?? 'implicit';
  const a = c.require_authentication;
  return {
    host: c.host,
    port: c.port ?? (tls === 'implicit' ? 993 : 143),
    tls,
    ca: readCaFile(c.tls_ca_file, configDir, `sources.${c.name}.receiver`),
    user: c.user,
    password: secretSetting(c.password, key(c, 'password')),
    mailbox: c.mailbox ?? 'INBOX',
    intervalMs: parseDuration(c.interval ?? DEFAULTS.interval, key(c, 'interval')),
    idle: c.idle ?? true,
    batchSize: c.batch_size ?? DEFAULTS.batch_size,
    maxMessageBytes: c.max_message_bytes ?? DEFAULTS.max_message_bytes,
    senders: c.senders.map((s) => parseSenderRule(s) as SenderRule),
    auth: a
      ? { authservId: a.authserv_id, dkim: a.dkim ?? true, spf: a.spf ?? false, dmarc: a.dmarc ?? false, dkimAligned: a.dkim_aligned ?? false, trustedHeaders: a.trusted_headers ?? 1 }
      : null,
    processedFlag: c.mark?.processed_flag ?? DEFAULTS.processed_flag,
    moveTo: c.mark?.move_to ?? null,
    timeoutMs: parseDuration(c.timeout ?? DEFAULTS.timeout, key(c, 'timeout')),
    detector: c.detector ?? (source.detector && source.detector !== 'auto' ? source.detector : null),
  };
}

export const receiverName = (source: string): string => `imap:${source}`;

// ---------------------------------------------------------------------------------------------------------
// The position

export interface ImapCursor {
  uidvalidity: string;
  /** Every message with a UID up to this one was taken (ingested, refused, or skipped as flagged). */
  last_uid: number;
  /**
   * Set after a resynchronisation (first start, UIDVALIDITY change): messages below this UID that carry one
   * of Fido's flags were handled before and are skipped. Dropped once last_uid reaches it.
   */
  flagged_below?: number;
}

export function parseImapCursor(stored: string): ImapCursor {
  const v = JSON.parse(stored) as Partial<ImapCursor>;
  if (typeof v.uidvalidity !== 'string' || typeof v.last_uid !== 'number' || !Number.isInteger(v.last_uid) || v.last_uid < 0) {
    throw new Error(`unreadable imap cursor: ${stored.slice(0, 200)}`);
  }
  return { uidvalidity: v.uidvalidity, last_uid: v.last_uid, ...(typeof v.flagged_below === 'number' ? { flagged_below: v.flagged_below } : {}) };
}

export const cursorText = (c: ImapCursor | null): string | null => (c ? `${c.uidvalidity}/${c.last_uid}` : null);

// ---------------------------------------------------------------------------------------------------------
// The receiver

type Verdict = { take: 'accept' } | { take: 'skip' } | { take: 'too_large' } | { take: 'reject'; reason: string; from: string | null };

interface Candidate {
  uid: number;
  size: number;
  verdict: Verdict;
  internalDate: number | null;
}

export interface ImapStatus extends ReceiverStatus {
  /** Messages refused (sender or authentication) since start. */
  rejected: number;
  /** Messages above max_message_bytes since start. */
  too_large: number;
}

export class ImapReceiver extends PolledReceiver<ImapCursor> {
  private client: ImapFlow | null = null;
  /** The server announced new messages (EXISTS) since the last poll began. */
  private changed = false;
  /** Ends the current IDLE wait. */
  private endWait: (() => void) | null = null;
  private rejected = 0;
  private tooLarge = 0;
  private flagsChecked: ImapFlow | null = null;

  constructor(
    source: SourceConfig,
    private readonly imap: ImapSettings,
    deps: ReceiverDeps,
  ) {
    super(
      'imap',
      receiverName(source.name),
      source.name,
      { intervalMs: imap.intervalMs, detector: imap.detector },
      deps,
      deps.log.child({ receiver: 'imap', source: source.name, host: imap.host, port: imap.port, user: imap.user, mailbox: imap.mailbox }),
    );
  }

  override status(): ImapStatus {
    return { ...super.status(), rejected: this.rejected, too_large: this.tooLarge };
  }

  protected parseCursor(stored: string): ImapCursor {
    return parseImapCursor(stored);
  }

  protected describeCursor(c: ImapCursor | null): string | null {
    return cursorText(c);
  }

  private async connected(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    await this.disconnect();
    const s = this.imap;
    const client = new ImapFlow({
      host: s.host,
      port: s.port,
      secure: s.tls === 'implicit',
      doSTARTTLS: s.tls === 'starttls' ? true : s.tls === 'none' ? false : undefined,
      tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(s.ca ? { ca: s.ca } : {}) },
      auth: { user: s.user, pass: s.password },
      logger: false,
      disableAutoIdle: true,
      clientInfo: { name: 'fido' },
      connectionTimeout: s.timeoutMs,
      greetingTimeout: s.timeoutMs,
      // IDLE is silent: restart it well before the inactivity watchdog.
      socketTimeout: Math.max(s.timeoutMs, 5 * 60_000),
      maxIdleTime: 4 * 60_000,
      // A server that announces more than a message may be is not believed.
      maxLiteralSize: s.maxMessageBytes + 1024 * 1024,
    });
    client.on('error', (e: unknown) => this.log.warn({ error: this.errorText(e) }, 'imap connection error'));
    client.on('exists', () => {
      this.changed = true;
      this.endWait?.();
    });
    client.on('close', () => this.endWait?.());
    try {
      await client.connect();
    } catch (e) {
      client.close();
      const err = e as { authenticationFailed?: boolean; responseText?: string; code?: string };
      if (err.authenticationFailed) throw new Error(`login as ${s.user} failed at ${s.host}:${s.port}${err.responseText ? `: ${err.responseText}` : ''}`);
      throw new Error(`cannot connect to ${s.host}:${s.port} (tls: ${s.tls}): ${(e as Error).message}${err.code ? ` (${err.code})` : ''}`);
    }
    this.client = client;
    return client;
  }

  /** One poll: be connected, read one batch past the cursor, deliver it, then mark it. True when more waits. */
  protected async poll(): Promise<boolean> {
    const client = await this.connected();
    this.changed = false;
    let lock: Awaited<ReturnType<ImapFlow['getMailboxLock']>>;
    try {
      lock = await client.getMailboxLock(this.imap.mailbox);
    } catch (e) {
      const text = (e as { responseText?: string }).responseText ?? (e as Error).message;
      throw new Error(`cannot open mailbox ${this.imap.mailbox}: ${text}`);
    }
    try {
      const mailbox = client.mailbox;
      if (!mailbox) throw new Error(`mailbox ${this.imap.mailbox} is not open`);
      const uidvalidity = String(mailbox.uidValidity);
      this.checkFlagsAllowed(mailbox.permanentFlags);
      const held = this.cursor ?? null;
      let cur: ImapCursor;
      if (held === null) {
        cur = { uidvalidity, last_uid: 0, flagged_below: mailbox.uidNext };
        this.log.info({ uidvalidity }, `no committed position: reading every message without ${this.imap.processedFlag}, ${REJECTED_FLAG} or ${TOO_LARGE_FLAG}`);
      } else if (held.uidvalidity !== uidvalidity) {
        cur = { uidvalidity, last_uid: 0, flagged_below: mailbox.uidNext };
        this.log.warn(
          { old_uidvalidity: held.uidvalidity, uidvalidity, old_last_uid: held.last_uid },
          `UIDVALIDITY changed (mailbox recreated or renumbered): reading every message without ${this.imap.processedFlag}, ${REJECTED_FLAG} or ${TOO_LARGE_FLAG}; messages whose flags were lost are ingested again`,
        );
      } else cur = held;

      const found = (await client.search({ uid: `${cur.last_uid + 1}:*` }, { uid: true })) || [];
      // "N:*" also answers the highest UID when it is below N.
      const uids = found.filter((u) => u > cur.last_uid).sort((a, b) => a - b);
      if (uids.length === 0) {
        if (cur !== held && !(await this.deliver([], cur))) return false;
        this.st = { ...this.st, state: 'running', error: null, lag_ms: 0, cursor: cursorText(this.cursor ?? null) };
        return false;
      }
      const page = uids.slice(0, this.imap.batchSize);
      const candidates = await this.examine(client, page, cur);
      // Stop where the accepted sources would exceed the byte budget (at least one message is taken).
      let bytes = 0;
      let end = 0;
      for (; end < candidates.length; end++) {
        const c = candidates[end]!;
        if (c.verdict.take !== 'accept') continue;
        if (bytes > 0 && bytes + c.size > BATCH_BYTES) break;
        bytes += c.size;
      }
      const batch = candidates.slice(0, end);
      const lastUid = end < candidates.length ? candidates[end]!.uid - 1 : page[page.length - 1]!;
      const records = await this.recordsOf(client, batch);
      const next: ImapCursor = { uidvalidity, last_uid: lastUid };
      if (cur.flagged_below !== undefined && lastUid + 1 < cur.flagged_below) next.flagged_below = cur.flagged_below;
      if (!(await this.deliver(records.records, next))) return false;
      this.count(batch);
      this.log.info(
        { messages: records.ingested, records: records.records.length, rejected: batch.filter((c) => c.verdict.take === 'reject').length, too_large: batch.filter((c) => c.verdict.take === 'too_large').length, cursor: cursorText(next) },
        'imap batch committed',
      );
      // After the commit: flags and moves are for people (and resynchronisation); a failure loses nothing.
      await this.mark(client, batch, records.accepted);
      const more = lastUid < uids[uids.length - 1]!;
      const newest = batch.length > 0 ? batch[batch.length - 1]!.internalDate : null;
      this.st = { ...this.st, state: 'running', error: null, lag_ms: more ? (newest === null ? null : Math.max(0, Date.now() - newest)) : 0 };
      return more;
    } finally {
      lock.release();
    }
  }

  /** Says once per connection when the server will not keep Fido's keywords (marking then does nothing). */
  private checkFlagsAllowed(permanent: Set<string> | undefined): void {
    if (this.flagsChecked === this.client) return;
    this.flagsChecked = this.client;
    if (!permanent || permanent.has('\\*')) return;
    const missing = [this.imap.processedFlag, REJECTED_FLAG, TOO_LARGE_FLAG].filter((f) => !permanent.has(f));
    if (missing.length > 0) this.log.warn({ missing }, 'the server does not allow these flags on this mailbox: messages are not marked (the position alone prevents repeats)');
  }

  /** Flags, size and the From / Authentication-Results fields of `uids`; the verdict on each. */
  private async examine(client: ImapFlow, uids: readonly number[], cur: ImapCursor): Promise<Candidate[]> {
    const fetched: FetchMessageObject[] = [];
    // No other command may run inside this loop (imapflow would deadlock): collect, then decide.
    for await (const m of client.fetch(uids.join(','), { uid: true, flags: true, size: true, internalDate: true, headers: ['from', 'authentication-results'] }, { uid: true })) fetched.push(m);
    fetched.sort((a, b) => a.uid - b.uid);
    const out: Candidate[] = [];
    for (const m of fetched) {
      const size = m.size ?? 0;
      const date = m.internalDate === undefined ? null : new Date(m.internalDate).getTime();
      out.push({ uid: m.uid, size, internalDate: date === null || Number.isNaN(date) ? null : date, verdict: await this.verdict(m, size, cur) });
    }
    return out;
  }

  private async verdict(m: FetchMessageObject, size: number, cur: ImapCursor): Promise<Verdict> {
    const flags = m.flags ?? new Set<string>();
    if (cur.flagged_below !== undefined && m.uid < cur.flagged_below && [this.imap.processedFlag, REJECTED_FLAG, TOO_LARGE_FLAG].some((f) => flags.has(f))) return { take: 'skip' };
    if (size > this.imap.maxMessageBytes) return { take: 'too_large' };
    const head = await simpleParser(m.headers ?? Buffer.alloc(0), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    const fromField = head.from;
    const mailboxes = fromField === undefined ? [] : Array.isArray(fromField) ? fromField.flatMap((f) => f.value) : fromField.value;
    const from = singleFrom(mailboxes);
    if ('reason' in from) return { take: 'reject', reason: from.reason, from: null };
    if (!senderAllowed(from, this.imap.senders)) return { take: 'reject', reason: 'sender not allowed', from: from.address };
    if (this.imap.auth) {
      const fields = head.headerLines.filter((h) => h.key === 'authentication-results').map((h) => headerValue(h.line));
      const v = checkAuthentication(fields, from.domain, this.imap.auth);
      if (!v.ok) return { take: 'reject', reason: v.reason, from: from.address };
    }
    return { take: 'accept' };
  }

  /** The records of the accepted messages of `batch`, in UID order. */
  private async recordsOf(client: ImapFlow, batch: readonly Candidate[]): Promise<{ records: IntakeRecord[]; accepted: number[]; ingested: number }> {
    const wanted = batch.filter((c) => c.verdict.take === 'accept').map((c) => c.uid);
    const sources = new Map<number, Buffer>();
    if (wanted.length > 0) {
      for await (const m of client.fetch(wanted.join(','), { uid: true, source: true }, { uid: true })) if (m.source) sources.set(m.uid, m.source);
    }
    const records: IntakeRecord[] = [];
    const accepted: number[] = [];
    for (const uid of wanted) {
      const source = sources.get(uid);
      if (!source) {
        this.log.warn({ uid }, 'message gone before it could be read (expunged meanwhile); skipped');
        continue;
      }
      const mail = await simpleParser(source, { skipTextToHtml: true, skipImageLinks: true });
      const r = messageRecords(mail, source);
      records.push(...r.records);
      accepted.push(uid);
      if (r.skipped.length > 0 || r.raw) {
        this.log.info({ uid, message_id: mail.messageId ?? null, binary_attachments: r.skipped, raw_message_record: r.raw }, r.raw ? 'nothing usable in the message: its raw text is the record' : 'binary attachments not ingested');
      }
    }
    return { records, accepted, ingested: accepted.length };
  }

  private count(batch: readonly Candidate[]): void {
    for (const c of batch) {
      if (c.verdict.take === 'reject') {
        this.rejected++;
        this.log.warn({ uid: c.uid, from: c.verdict.from, reason: c.verdict.reason }, 'message refused; flagged ' + REJECTED_FLAG);
      } else if (c.verdict.take === 'too_large') {
        this.tooLarge++;
        this.log.warn({ uid: c.uid, bytes: c.size, max_message_bytes: this.imap.maxMessageBytes }, 'message too large; not fetched; flagged ' + TOO_LARGE_FLAG);
      }
    }
  }

  private async mark(client: ImapFlow, batch: readonly Candidate[], accepted: readonly number[]): Promise<void> {
    const uidsOf = (take: Verdict['take']) => batch.filter((c) => c.verdict.take === take).map((c) => c.uid);
    const steps: Array<[string, () => Promise<unknown>]> = [];
    const rejected = uidsOf('reject');
    const large = uidsOf('too_large');
    if (accepted.length) steps.push([this.imap.processedFlag, () => client.messageFlagsAdd(accepted.join(','), [this.imap.processedFlag], { uid: true })]);
    if (rejected.length) steps.push([REJECTED_FLAG, () => client.messageFlagsAdd(rejected.join(','), [REJECTED_FLAG], { uid: true })]);
    if (large.length) steps.push([TOO_LARGE_FLAG, () => client.messageFlagsAdd(large.join(','), [TOO_LARGE_FLAG], { uid: true })]);
    const moveTo = this.imap.moveTo;
    if (moveTo && accepted.length) steps.push([`move to ${moveTo}`, () => client.messageMove(accepted.join(','), moveTo, { uid: true })]);
    for (const [what, step] of steps) {
      try {
        const ok = await step();
        if (ok === false) this.log.warn({ step: what }, 'marking committed messages was refused by the server (nothing is lost)');
      } catch (e) {
        if (!client.usable) throw e;
        this.log.warn({ step: what, error: this.errorText(e) }, 'marking committed messages failed (nothing is lost)');
      }
    }
  }

  /** IDLE until the server announces a message, `ms` passes, or stop() is called. */
  protected override async waitForMore(ms: number): Promise<void> {
    const client = this.client;
    if (this.changed || this.stopping) return;
    if (!this.imap.idle || !client?.usable) return this.sleep(ms);
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.endWait === finish) this.endWait = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.endWait = finish;
      // The next command (the poll's) ends IDLE; a failed IDLE ends the wait and the poll finds out why.
      client.idle({ whenFree: true }).catch(() => finish());
    });
  }

  protected override stopRequested(): void {
    this.endWait?.();
  }

  protected override errorText(e: unknown): string {
    const out = super.errorText(e);
    const pw = this.imap.password;
    return pw.length > 0 ? out.split(pw).join('***') : out;
  }

  protected override async disconnect(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    try {
      if (c.usable) await Promise.race([c.logout(), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch {
      // closing anyway
    }
    c.close();
  }
}

const imapReceiver = defineReceiver({
  kind: 'imap',
  description: 'Reads alert e-mails from an IMAP mailbox (IDLE or poll): body and text attachments as records, senders and DKIM/SPF checked',
  schema: ImapReceiverSchema,
  check: problems,
  create: async (config, deps) => new ImapReceiver(deps.source, resolveSettings(config, deps.source, deps.configDir), deps),
});
export default imapReceiver;
