/**
 * Syslog envelopes: RFC 5424 and RFC 3164 (BSD), as real devices send them.
 *
 * RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v"…]… MSG`, "-" for nil values,
 * SD-PARAM values escape `"`, `\` and `]` with a backslash, MSG may begin with a UTF-8 BOM.
 * RFC 3164: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`. Real senders vary, and all of these are accepted:
 * no PRI (files written by syslog daemons), a year after the day (Cisco: `Mmm dd yyyy hh:mm:ss`),
 * fractional seconds, an RFC 3339 timestamp instead (rsyslog), no HOSTNAME, no TAG, `host : %ASA-…`.
 * RFC 3164 timestamps carry neither year nor zone: the year comes from `inferYear` against `reference`
 * (default: the received time) and the zone from `timeZone` (default: the parse context's, UTC).
 */
import { parseContext } from './context.js';
import { tryParseTimestamp } from './time.js';

export interface SyslogOptions {
  /** For RFC 3164 year inference; default: the parse context's received time. */
  reference?: Date;
  /** Zone of RFC 3164 timestamps (IANA name or offset); default: the parse context's (UTC). */
  timeZone?: string;
}

export interface SdElement {
  id: string;
  params: Record<string, string>;
}

export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164';
  pri?: number;
  facility?: number;
  /** 0 emergency … 7 debug. */
  severity?: number;
  /** UTC ISO-8601; undefined when nil or unparseable. */
  timestamp?: string;
  /** The timestamp text as written. */
  rawTimestamp?: string;
  hostname?: string;
  appName?: string;
  procId?: string;
  msgId?: string;
  structuredData: SdElement[];
  message: string;
}

/** Parses an envelope; undefined when the text does not start like syslog. Never throws. */
export function parseSyslog(text: string, opts: SyslogOptions = {}): SyslogMessage | undefined {
  const pri = /^<(\d{1,3})>/.exec(text);
  const priValue = pri ? Number(pri[1]) : undefined;
  if (priValue !== undefined && priValue > 191) return undefined;
  const rest = pri ? text.slice(pri[0].length) : text;
  const base = priValue === undefined ? {} : { pri: priValue, facility: priValue >> 3, severity: priValue & 7 };
  if (pri && /^\d{1,2} /.test(rest)) {
    const m = parse5424(rest, opts);
    if (m) return { ...base, ...m };
  }
  const m = parse3164(rest, opts);
  return m ? { ...base, ...m } : undefined;
}

// ---- RFC 5424 ---------------------------------------------------------------------------------------------

type Body = Omit<SyslogMessage, 'pri' | 'facility' | 'severity'>;

function parse5424(text: string, opts: SyslogOptions): Body | undefined {
  const head = /^(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  if (!head) return undefined;
  const [, , ts, host, app, proc, msgid] = head;
  const sd = parseStructuredData(text, head[0].length);
  if (!sd) return undefined;
  let message = text.slice(sd.end);
  if (message.startsWith(' ')) message = message.slice(1);
  if (message.startsWith('\uFEFF')) message = message.slice(1);
  return {
    format: 'rfc5424',
    timestamp: ts === '-' ? undefined : tryParseTimestamp(ts, { timeZone: opts.timeZone ?? 'UTC' }),
    rawTimestamp: nil(ts),
    hostname: nil(host),
    appName: nil(app),
    procId: nil(proc),
    msgId: nil(msgid),
    structuredData: sd.elements,
    message,
  };
}

function nil(v: string | undefined): string | undefined {
  return v === undefined || v === '-' ? undefined : v;
}

/** STRUCTURED-DATA at `start`: "-" or one or more [id k="v" …] elements. Linear scan. */
export function parseStructuredData(text: string, start: number): { elements: SdElement[]; end: number } | undefined {
  if (text[start] === '-') return { elements: [], end: start + 1 };
  const elements: SdElement[] = [];
  let i = start;
  while (text[i] === '[') {
    const idMatch = /^[^\s=\]"]{1,64}/.exec(text.slice(i + 1, i + 66));
    if (!idMatch) return undefined;
    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    i += 1 + idMatch[0].length;
    while (text[i] === ' ') {
      i++;
      const name = /^[^\s=\]"]{1,32}/.exec(text.slice(i, i + 33));
      if (!name || text[i + name[0].length] !== '=' || text[i + name[0].length + 1] !== '"') return undefined;
      i += name[0].length + 2;
      let value = '';
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === ']')) i++;
        value += text[i];
        i++;
      }
      if (text[i] !== '"') return undefined;
      i++;
      if (!(name[0] in params)) params[name[0]] = value;
    }
    if (text[i] !== ']') return undefined;
    i++;
    elements.push({ id: idMatch[0], params });
  }
  return elements.length ? { elements, end: i } : undefined;
}

// ---- RFC 3164 ---------------------------------------------------------------------------------------------

// Mmm dd[ yyyy] hh:mm:ss[.frac]  — day may be space-padded ("Feb  5").
const BSD_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(?= |$)/;
// RFC 3339, as rsyslog's "high precision" template writes it.
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)(?= |$)/;
const TAG = /^([\w./@-]{1,64})(?:\[([\w.-]{1,32})\])?:(?= |$)/;

function parse3164(text: string, opts: SyslogOptions): Body | undefined {
  let rawTimestamp: string | undefined;
  let timestamp: string | undefined;
  let rest: string;
  const bsd = BSD_TIME.exec(text);
  const iso = bsd ? null : ISO_TIME.exec(text);
  if (bsd) {
    rawTimestamp = bsd[0];
    timestamp = tryParseTimestamp(bsd[0], { timeZone: opts.timeZone, reference: opts.reference ?? parseContext().receivedAt });
    if (!timestamp) return undefined; // "Foo 99 …" is not a syslog date
    rest = text.slice(bsd[0].length);
  } else if (iso) {
    rawTimestamp = iso[1];
    timestamp = tryParseTimestamp(iso[1], { timeZone: opts.timeZone });
    rest = text.slice(iso[0].length);
  } else {
    return undefined;
  }
  rest = rest.replace(/^ +/, '');
  let hostname: string | undefined;
  // A first token ending in ":" is the TAG (no hostname was sent); otherwise it is the HOSTNAME.
  const first = /^(\S+)/.exec(rest)?.[1];
  if (first !== undefined && !TAG.test(rest) && first !== ':') {
    hostname = first;
    rest = rest.slice(first.length).replace(/^ +/, '');
  }
  let appName: string | undefined;
  let procId: string | undefined;
  const tag = TAG.exec(rest);
  if (tag) {
    appName = tag[1];
    procId = tag[2];
    rest = rest.slice(tag[0].length);
  } else if (rest.startsWith(': ')) {
    rest = rest.slice(1); // Cisco: "host : %ASA-6-…"
  }
  return { format: 'rfc3164', timestamp, rawTimestamp, hostname, appName, procId, structuredData: [], message: rest.replace(/^ /, '') };
}
