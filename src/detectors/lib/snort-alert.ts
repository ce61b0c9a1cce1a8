/**
 * The Snort alert line body that Snort 2/3 "fast" and syslog outputs, the first lines of alert_full, and
 * Sourcefire / Firepower Management Center intrusion syslog alerts (SFIMS) share:
 *
 *   [action] [**] [gid:sid:rev] msg [**] [Classification: text] [Priority: n] [AppID: x] {PROTO} src[:port] -> dst[:port]
 *   [gid:sid:rev] "msg" [Impact: …] From "device" at … [Classification: text] [Priority: n] {PROTO} a:p->b:p
 *
 * Every part after the [gid:sid:rev] is optional and found by its marker, in any order. The message runs to
 * the first marker. Addresses: IPv4 "a.b.c.d:port", bracketed IPv6 "[addr]:port", and bare IPv6 (for TCP
 * and UDP the last ":n" is the port when what precedes it is still an address). All searches are bounded
 * (anchored, fixed-length classes, windows of a few KiB): linear on any input.
 */
import { canonicalIp } from './observables.js';

export interface SnortAlertBody {
  gid: number;
  sid: number;
  rev: number;
  msg: string;
  classification?: string;
  priority?: number;
  impact?: string;
  appId?: string;
  /** Device named in SFIMS "From "<device>" at <time>". */
  device?: string;
  /** Time text from SFIMS "at <time>" (e.g. "Mon Mar 12 12:00:21 2018 UTC"). */
  at?: string;
  proto?: string;
  src?: string;
  sport?: number;
  dst?: string;
  dport?: number;
  /** An action bracket before the rule id: Drop, wDrop, block, … as written. */
  action?: string;
  xrefs: string[];
  /** Offset of "[gid:sid:rev]" in the text. */
  start: number;
}

const RULE = /\[(\d{1,10}):(\d{1,12}):(\d{1,10})\]/;
const WINDOW = 8192;
const MSG_ENDS = [' [**]', '[**]', ' [Classification:', ' [Priority:', ' [Impact:', ' [AppID:', ' [Xref', ' {', ' From "'];

/** Finds and parses the alert body; undefined when there is no [gid:sid:rev]. */
export function parseSnortAlertBody(text: string): SnortAlertBody | undefined {
  const head = text.slice(0, WINDOW);
  const rule = RULE.exec(head);
  if (!rule) return undefined;
  const before = head.slice(Math.max(0, rule.index - 64), rule.index);
  const after = head.slice(rule.index + rule[0].length);
  let end = after.length;
  for (const marker of MSG_ENDS) {
    const i = after.indexOf(marker);
    if (i >= 0 && i < end) end = i;
  }
  let msg = after.slice(0, end).trim();
  if (msg.length >= 2 && msg.startsWith('"') && msg.endsWith('"')) msg = msg.slice(1, -1).replace(/\\"/g, '"');
  const rest = after.slice(end);
  const body: SnortAlertBody = {
    gid: Number(rule[1]),
    sid: Number(rule[2]),
    rev: Number(rule[3]),
    msg,
    xrefs: [],
    start: rule.index,
  };
  const action = /\[(Drop|wDrop|SDrop|sDrop|drop|block|blocked|reject|reset|would[ _-]?(?:drop|block)|alert|pass|allow|rewrite|replace)\]\s*(?:\[\*\*\]\s*)?$/i.exec(before);
  if (action) body.action = action[1];
  for (const { key, value } of bracketFields(rest)) {
    if (key === 'Classification' && body.classification === undefined) body.classification = value;
    else if (key === 'Priority' && body.priority === undefined && /^\d{1,3}$/.test(value)) body.priority = Number(value);
    else if (key === 'Impact' && body.impact === undefined) body.impact = value;
    else if (key === 'AppID' && body.appId === undefined) body.appId = value;
    else if (key === 'Xref =>' && body.xrefs.length < 16) body.xrefs.push(value);
  }
  const from = deviceAndTime(rest);
  if (from) {
    body.device = from.device;
    if (from.at) body.at = from.at;
  }
  const flow = findFlow(rest);
  if (flow) {
    body.proto = flow.proto.toUpperCase();
    const s = splitAddress(flow.src, body.proto);
    const d = splitAddress(flow.dst, body.proto);
    body.src = s.ip;
    body.sport = s.port;
    body.dst = d.ip;
    body.dport = d.port;
  }
  return body;
}

// The searches below are scans by hand, with the same results as the regular expressions they replace, which
// took polynomial time: /\[(Classification|…)\s*:?\s*([^\]]{0,512})\]/g on blank runs and on names without a
// "]"; /From "([^"]{0,256})"(?: at ([^[{]{1,64}?))?\s*(?=\[|\{|$)/ on 'From "" at ' repeats;
// /\{([A-Za-z0-9_-]{1,16})\}\s*([^\s>]{1,80}?)\s*->\s*(\S{1,80})/ on runs of blanks or of "{x}".

const SPACE = /\s/;
/** From `end`: white space up to the next bracketed field or the end of the line. */
const BLANK_TO_FIELD = /\s*(?:[[{]|$)/y;

/** The first index at or after `i` that is not white space. */
function skipSpace(s: string, i: number): number {
  while (i < s.length && SPACE.test(s[i]!)) i++;
  return i;
}

/**
 * "[Classification: …]", "[Priority: n]"…: the name, white space, an optional ":", white space, then at most
 * 512 characters up to the next "]"; at most 64 of them. The next "]" is looked up once for all the names
 * before it.
 */
function bracketFields(rest: string): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  const names = /\[(Classification|Priority|Impact|AppID|Xref =>)/g;
  let close = -1;
  for (let m = names.exec(rest); m && out.length < 64; m = names.exec(rest)) {
    let i = m.index + m[0].length;
    i = skipSpace(rest, i);
    if (rest[i] === ':') i++;
    i = skipSpace(rest, i);
    if (close < i) close = rest.indexOf(']', i);
    if (close < 0) break;
    if (close - i > 512) continue;
    out.push({ key: m[1]!, value: rest.slice(i, close).trim() });
    names.lastIndex = close + 1;
  }
  return out;
}

/**
 * SFIMS 'From "device"', then either " at <time>" (1-64 characters, white space after them not counted) up
 * to the next "[" or "{" or the end, or only white space before the next "[" / "{" or the end.
 */
function deviceAndTime(rest: string): { device: string; at?: string } | undefined {
  const from = /From "([^"]{0,256})"/g;
  const bracket = /[[{]/g;
  let next = -2; // the next "[" or "{" from the last position asked about; -1: none
  const stopAt = (i: number): number => {
    if (next === -2 || (next >= 0 && next < i)) {
      bracket.lastIndex = i;
      next = bracket.exec(rest)?.index ?? -1;
    }
    return next < 0 ? rest.length : next;
  };
  let blankFrom = { stop: -1, at: 0 }; // where the white space before `stop` begins (once per stop)
  for (let m = from.exec(rest); m; m = from.exec(rest)) {
    const end = m.index + m[0].length;
    if (rest.startsWith(' at ', end)) {
      const start = end + 4;
      const stop = stopAt(start);
      if (blankFrom.stop !== stop) {
        let e = stop;
        while (e > start && SPACE.test(rest[e - 1]!)) e--;
        blankFrom = { stop, at: e };
      }
      const textEnd = Math.max(blankFrom.at, start);
      if (stop > start && Math.max(textEnd - start, 1) <= 64) return { device: m[1]!, at: rest.slice(start, textEnd).trim() };
    }
    BLANK_TO_FIELD.lastIndex = end;
    if (BLANK_TO_FIELD.test(rest)) return { device: m[1]! };
    from.lastIndex = m.index + 1;
  }
  return undefined;
}

/**
 * "{PROTO} src -> dst": the first "{proto}" (1-16 word characters) that is followed by white space, a source
 * of 1-80 characters (no white space, no ">"; the shortest that an arrow follows), white space, "->", white
 * space and a destination (the next 1-80 non-blank characters).
 */
function findFlow(rest: string): { proto: string; src: string; dst: string } | undefined {
  const braces = /\{([A-Za-z0-9_-]{1,16})\}/g;
  for (let m = braces.exec(rest); m; m = braces.exec(rest)) {
    let i = m.index + m[0].length;
    i = skipSpace(rest, i);
    const srcStart = i;
    let arrow = -1;
    while (i < rest.length && i - srcStart < 80 && !SPACE.test(rest[i]!) && rest[i] !== '>') {
      i++;
      const j = skipSpace(rest, i);
      if (rest.startsWith('->', j)) {
        arrow = j;
        break;
      }
      if (j > i) break; // white space, but no arrow after it: the source cannot go on
    }
    if (arrow < 0) continue;
    const k = skipSpace(rest, arrow + 2);
    let end = k;
    while (end < rest.length && end - k < 80 && !SPACE.test(rest[end]!)) end++;
    if (end > k) return { proto: m[1]!, src: rest.slice(srcStart, i), dst: rest.slice(k, end) };
  }
  return undefined;
}

/** "1.2.3.4:80", "[2001:db8::1]:80", "2001:db8::1:80" (TCP/UDP), "1.2.3.4" → address and port. */
export function splitAddress(token: string, proto?: string): { ip?: string; port?: number } {
  const t = token.trim();
  const bracket = /^\[([0-9A-Fa-f:.%\w]{2,64})\](?::(\d{1,5}))?$/.exec(t);
  if (bracket) return { ip: canonicalIp(bracket[1]) ? bracket[1] : undefined, port: portOf(bracket[2]) };
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(t);
  if (v4) return canonicalIp(v4[1]) ? { ip: v4[1], port: portOf(v4[2]) } : {};
  const ported = /^(.+):(\d{1,5})$/.exec(t);
  const withPort = proto === 'TCP' || proto === 'UDP' || proto === 'SCTP';
  if (ported && withPort && canonicalIp(ported[1]!)) return { ip: ported[1], port: portOf(ported[2]) };
  if (canonicalIp(t)) return { ip: t };
  if (ported && canonicalIp(ported[1]!)) return { ip: ported[1], port: portOf(ported[2]) };
  return {};
}

function portOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
}

/** The rule id by the convention for Snort-language rules: the sid alone, `gid:sid` when the generator is not 1; never the revision. */
export function snortRuleId(gid: number, sid: number): string {
  return gid === 1 ? String(sid) : `${gid}:${sid}`;
}

/** Snort priority 1 (high) … 4 (low) → 0-100, as the suricata detector maps its classification priorities. */
export function snortPrioritySeverity(p: number | undefined): number | undefined {
  if (p === undefined || p < 1) return undefined;
  if (p === 1) return 80;
  if (p === 2) return 55;
  if (p === 3) return 30;
  return 15;
}
