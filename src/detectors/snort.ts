/**
 * Snort 2.9 and Snort 3 alerts in the formats the Snort manuals document for their output plugins:
 *
 *   alert_fast   MM/DD[/YY]-hh:mm:ss.ffffff [action] [**] [gid:sid:rev] msg [**] [Classification: c]
 *                [Priority: n] [AppID: a] {PROTO} src[:port] -> dst[:port]        (Snort 3 quotes msg)
 *   alert_syslog "<header> snort[pid]: [gid:sid:rev] msg [Classification: c] [Priority: n] {PROTO} a:p -> b:p"
 *   alert_full   a block whose first lines are "[**] [gid:sid:rev] msg [**]", "[Classification: c]
 *                [Priority: n]", "MM/DD-hh:mm:ss.ffffff src[:port] -> dst[:port]" (+ packet lines): parsed
 *                when the block is one record; a lone first line gives an alert timed at reception; the
 *                other lines of a block alone are refused with a reason (they carry no rule)
 *   alert_csv    Snort 2 default field order: timestamp, sig_generator, sig_id, sig_rev, msg, proto, src,
 *                srcport, dst, dstport, ethsrc, ethdst, ethlen, tcpflags, tcpseq, tcpack, tcplen, tcpwindow,
 *                ttl, tos, id, dgmlen, iplen, icmptype, icmpcode, icmpid, icmpseq (27); pfSense's
 *                timestamp, gid, sid, rev, msg, proto, src, srcport, dst, dstport, id, classification,
 *                priority[, action, disposition] (13/15); Snort 3 default "timestamp, pkt_num, proto, pkt_gen,
 *                pkt_len, dir, src_ap, dst_ap, rule, action" (10, ", "-separated)
 *   alert_json   Snort 3: seconds, timestamp, msg, class, priority, gid/sid/rev or rule "g:s:r", proto,
 *                src_addr/src_port/dst_addr/dst_port or src_ap/dst_ap, action, eth_src/eth_dst, service…
 * Snort timestamps have no year unless Snort ran with -y (MM/DD/YY-…); the year comes from lib's inference
 * against the received time, and the zone is the source's (Snort logs local time unless run with -U).
 * JSON "seconds" (epoch) wins when present.
 *
 * Every record is an alert, event_type the output plugin (alert_fast, alert_syslog, alert_full, alert_csv,
 * alert_json): title msg; rule id the sid, "gid:sid" when gid is not 1, never the revision (rule.name msg,
 * category classification);
 * severity from Priority (1 high … 4 low → 80/55/30/15; 0 or missing → 40), vendor_severity
 * { value: priority, scale: "snort priority 1 (high) - 4 (low)" }; action: detected (IDS), blocked for
 * [Drop]/block/reject, detected for would-drop ([wDrop]), pfSense disposition Blocked → blocked;
 * vendor_id: time, rule and 5-tuple (Snort has no event id); observables + ethernet MACs (CSV/JSON).
 * device.name: the sensor that reported it: the syslog header's host of alert_syslog (and of any line a syslog
 * daemon relayed), or the sensor a Firepower-style body names in 'From "…"' (sensorOf); never host, never an
 * indicator. alert_fast, alert_full, alert_csv and alert_json name no sensor.
 */
import type { AlertDraft, DetectorAction, HostInfo } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { parseContext, receivedTime } from './lib/context.js';
import { splitCsvLine } from './lib/csv.js';
import { portOf } from './lib/fieldmap.js';
import { makeObservable } from './lib/observables.js';
import { defined } from './lib/record.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { parseSnortAlertBody, snortPrioritySeverity, snortRuleId, splitAddress, type SnortAlertBody } from './lib/snort-alert.js';
import { parseSyslog, type SyslogMessage } from './lib/syslog.js';
import { excerpt, trimEndChars } from './lib/text.js';
import { inferYear, zonedToUtc } from './lib/time.js';
import { isObject, own, type JsonObject } from './lib/values.js';

const SCALE = 'snort priority 1 (high) - 4 (low)';
const TS = /^(\d{2})\/(\d{2})(?:\/(\d{2}|\d{4}))?-(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?/;
const MAX_TEXT = 1 << 20;

const snort: Detector = {
  name: 'snort',
  description: 'Snort 2/3 alerts: fast, syslog, full, CSV (Snort 2 default, pfSense, Snort 3) and Snort 3 alert_json',
  format: 'text',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (j !== undefined) return isObject(j) && isSnortJson(j) ? 0.9 : 0;
    const text = record.text.slice(0, 4096).trimStart();
    const body = /\[\d{1,10}:\d{1,12}:\d{1,10}\]/.test(text);
    if (body && /\[\*\*\]/.test(text)) return 0.95; // fast / full
    const ts = TS.exec(text);
    if (ts && /^\s*,/.test(text.slice(ts[0].length)) && /,\s*\d{1,10}\s*,\s*\d{1,12}\s*,|,\s*\d{1,10}:\d{1,12}:\d{1,10}\s*,/.test(text)) return 0.9; // CSV
    if (body && /(?:^|\s)snort(?:\[\d+\])?:\s*\[/.test(text)) return 0.9; // syslog
    // [^\s{]: a source never holds "{", so each "{proto}" scans up to the next one only (\S+ made it quadratic).
    if (body && /\{[A-Za-z0-9_-]{1,16}\}\s*[^\s{]+\s*->/.test(text) && /\[Priority:\s*\d+\]/.test(text)) return 0.8;
    if (isContinuation(text)) return 0.55; // alert_full lines without the rule header: claimed to explain why not
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    if (record.text.length > MAX_TEXT) throw new ParseError(`record of ${record.text.length} characters is too long for a Snort alert`);
    const j = record.json;
    if (j !== undefined) {
      if (!isObject(j)) throw new ParseError('Snort alert_json record must be a JSON object');
      return { kind: 'alerts', alerts: [jsonAlert(j)] };
    }
    const text = trimEndChars(record.text.replace(/^\uFEFF/, ''), '\r\n');
    if (/\r?\n/.test(text)) return { kind: 'alerts', alerts: fullBlocks(text) };
    const trimmed = text.trimStart();
    const ts = TS.exec(trimmed);
    if (ts && /^\s*,/.test(trimmed.slice(ts[0].length))) return { kind: 'alerts', alerts: [csvAlert(trimmed)] };
    return { kind: 'alerts', alerts: [lineAlert(text)] };
  },
};
export default defineDetector(snort);

// ---- fast / syslog / full ------------------------------------------------------------------------------

function lineAlert(text: string): AlertDraft {
  const body = parseSnortAlertBody(text);
  if (!body) {
    if (isContinuation(text.trimStart())) {
      throw new ParseError('Snort alert_full continuation line (no [gid:sid:rev]); send each alert_full block as one record');
    }
    throw new ParseError(`not a Snort alert: no [gid:sid:rev] found (starts: ${excerpt(text.trim(), 60)})`);
  }
  const before = text.slice(0, body.start);
  // alert_fast starts with its timestamp (or the "[action] [**]" groups); anything else before the body is a syslog header.
  const head = before.trim();
  const envelope = head ? parseSyslog(head) : undefined;
  const time = leadingTime(before) ?? envelope?.timestamp ?? receivedTime();
  const output: Output = TS.test(head) || ONLY_GROUPS.test(head) ? 'alert_fast' : 'alert_syslog';
  return alertFrom(output, body, time, { sensor: sensorOf(body, envelope, head) });
}

/** alert_full: blocks separated by blank lines; each block's first lines carry rule, priority, time, flow. */
function fullBlocks(text: string): AlertDraft[] {
  const blocks = text.split(/\r?\n\s*\r?\n/).map((b) => b.trim()).filter((b) => b !== '').slice(0, 1000);
  const out: AlertDraft[] = [];
  for (const block of blocks) {
    const lines = block.split(/\r?\n/).slice(0, 3);
    const joined = lines.join(' ');
    const body = parseSnortAlertBody(joined);
    if (!body) throw new ParseError(`alert_full block without [gid:sid:rev] (starts: ${excerpt(block, 60)})`);
    let time: string | undefined;
    for (const line of lines) {
      const ts = TS.exec(line.trim());
      if (!ts) continue;
      time = snortTime(ts);
      if (body.src === undefined) {
        const flow = /^\S+\s+(\S{1,80})\s*->\s*(\S{1,80})/.exec(line.trim());
        if (flow) {
          const proto = /^(TCP|UDP|ICMP|IP|SCTP)\b/m.exec(block)?.[1];
          const s = splitAddress(flow[1]!, proto);
          const d = splitAddress(flow[2]!, proto);
          Object.assign(body, { src: s.ip, sport: s.port, dst: d.ip, dport: d.port, proto });
        }
      }
      break;
    }
    if (body.proto === undefined) body.proto = /^(TCP|UDP|ICMP|IP|SCTP)\s+TTL/m.exec(block)?.[1];
    out.push(alertFrom('alert_full', body, time ?? receivedTime(), { sensor: sensorOf(body) }));
  }
  if (!out.length) throw new ParseError('empty alert_full record');
  return out;
}

const CONTINUATION: Array<{ test(line: string): boolean }> = [
  /^\[(?:Classification|Priority|Xref =>)[^\]]*\]/,
  { test: isFlowLine },
  /^(?:TCP|UDP|ICMP|IP|SCTP) TTL:\d+/,
  /^[*UAPRSF12]{8} Seq: 0x/,
  /^Len: \d+$/,
  /^Type:\s*\d+\s+Code:\s*\d+/,
];

/**
 * alert_full's "MM/DD-hh:mm:ss.f src -> dst" line, nothing after it. Read by tokens: as a regular expression
 * (\S+\s*->\s*\S+\s*$) the arrow could be found in either token, which took quadratic time on "->" runs.
 */
function isFlowLine(line: string): boolean {
  const ts = /^\d{2}\/\d{2}(?:\/\d{2,4})?-\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+/.exec(line);
  if (!ts) return false;
  const parts = line.slice(ts[0].length).trim().split(/\s+/);
  if (parts.length === 3) return parts[1] === '->';
  if (parts.length === 2) return (parts[0]!.length > 2 && parts[0]!.endsWith('->')) || (parts[1]!.length > 2 && parts[1]!.startsWith('->'));
  return parts.length === 1 && parts[0]!.slice(1, -1).includes('->');
}

function isContinuation(text: string): boolean {
  const t = text.trim();
  return CONTINUATION.some((re) => re.test(t.slice(0, 300)));
}

// ---- CSV ------------------------------------------------------------------------------------------------

function csvAlert(line: string): AlertDraft {
  const sep = /^[^,]*,\s/.test(line) && !/^[^,]*,\d/.test(line) ? ', ' : ',';
  const { fields: raw } = splitCsvLine(line, { separator: sep, maxFields: 64 });
  const f = raw.map((v) => v.trim());
  const ts = TS.exec(f[0] ?? '');
  if (!ts) throw new ParseError(`Snort CSV: first field "${excerpt(f[0] ?? '', 32)}" is not a Snort timestamp`);
  const time = snortTime(ts);
  // Snort 3 default: timestamp, pkt_num, proto, pkt_gen, pkt_len, dir, src_ap, dst_ap, rule, action
  const ruleAt = f.findIndex((v, i) => i > 0 && /^\d{1,10}:\d{1,12}:\d{1,10}$/.test(v));
  if (ruleAt >= 0 && !/^\d+$/.test(f[2] ?? '')) {
    const [g, s, r] = f[ruleAt]!.split(':').map(Number) as [number, number, number];
    const proto = (f[2] ?? '').toUpperCase() || undefined;
    const src = splitAddress(f[6] ?? '', proto);
    const dst = splitAddress(f[7] ?? '', proto);
    const msgAt = f.findIndex((v, i) => i > 0 && i !== ruleAt && /^".*"$/.test(v));
    const body: SnortAlertBody = { gid: g, sid: s, rev: r, msg: msgAt >= 0 ? f[msgAt]!.slice(1, -1) : `Snort rule ${f[ruleAt]}`, proto, src: src.ip, sport: src.port, dst: dst.ip, dport: dst.port, xrefs: [], start: 0 };
    return alertFrom('alert_csv', body, time, { disposition: f[ruleAt + 1], pktNum: f[1] });
  }
  if (f.length < 10) throw new ParseError(`Snort CSV record has ${f.length} fields; the default layouts have 10, 13, 15 or 27`);
  const [gid, sid, rev] = [f[1], f[2], f[3]].map((v) => (v !== undefined && /^\d{1,12}$/.test(v) ? Number(v) : undefined));
  if (gid === undefined || sid === undefined) throw new ParseError(`Snort CSV: sig_generator/sig_id "${excerpt(f[1] ?? '', 12)}", "${excerpt(f[2] ?? '', 12)}" are not numbers`);
  const proto = (f[5] ?? '').toUpperCase() || undefined;
  const body: SnortAlertBody = {
    gid, sid, rev: rev ?? 0, msg: f[4] || `Snort rule ${gid}:${sid}`, proto,
    src: f[6] || undefined, sport: portOf(f[7]), dst: f[8] || undefined, dport: portOf(f[9]), xrefs: [], start: 0,
  };
  let disposition: string | undefined;
  const extra: Array<Observable | undefined> = [];
  if (f.length >= 13 && f.length <= 16 && !/^[0-9A-Fa-f]{2}:/.test(f[10] ?? '')) {
    // pfSense: …, id, classification, priority[, action, disposition]
    body.classification = f[11] || undefined;
    body.priority = /^\d{1,3}$/.test(f[12] ?? '') ? Number(f[12]) : undefined;
    body.action = f[13] || undefined;
    disposition = f[14] || undefined;
  } else {
    extra.push(makeObservable('mac', f[10], 'src'), makeObservable('mac', f[11], 'dst'));
  }
  return alertFrom('alert_csv', body, time, { disposition, extra });
}

// ---- JSON -----------------------------------------------------------------------------------------------

function isSnortJson(j: JsonObject): boolean {
  if (own(j, 'event_type') !== undefined) return false; // Suricata EVE
  const rule = own(j, 'rule');
  const hasRule = (typeof rule === 'string' && /^\d+:\d+:\d+$/.test(rule)) || (own(j, 'sid') !== undefined && own(j, 'gid') !== undefined);
  const snortish = ['src_ap', 'dst_ap', 'pkt_num', 'pkt_gen', 'b64_data', 'src_addr'].some((k) => own(j, k) !== undefined);
  return hasRule && snortish;
}

function jsonAlert(j: JsonObject): AlertDraft {
  const str = (k: string) => {
    const v = own(j, k);
    return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
  };
  let gid = intOf(own(j, 'gid'));
  let sid = intOf(own(j, 'sid'));
  let rev = intOf(own(j, 'rev'));
  const rule = str('rule');
  if (rule && /^\d{1,10}:\d{1,12}:\d{1,10}$/.test(rule)) [gid, sid, rev] = rule.split(':').map(Number) as [number, number, number];
  if (gid === undefined || sid === undefined) throw new ParseError('Snort alert_json record has neither rule "gid:sid:rev" nor gid and sid');
  const proto = str('proto')?.toUpperCase();
  const srcAp = splitAddress(str('src_ap') ?? '', proto);
  const dstAp = splitAddress(str('dst_ap') ?? '', proto);
  const cls = str('class');
  const body: SnortAlertBody = {
    gid, sid, rev: rev ?? 0,
    msg: str('msg') ?? `Snort rule ${gid}:${sid}:${rev ?? 0}`,
    classification: cls && cls !== 'none' ? cls : undefined,
    priority: intOf(own(j, 'priority')),
    proto,
    src: str('src_addr') ?? srcAp.ip,
    sport: intOf(own(j, 'src_port')) ?? srcAp.port,
    dst: str('dst_addr') ?? dstAp.ip,
    dport: intOf(own(j, 'dst_port')) ?? dstAp.port,
    action: str('action'),
    xrefs: [],
    start: 0,
  };
  const time = jsonTime(j, str('timestamp'));
  const extra = [makeObservable('mac', str('eth_src'), 'src'), makeObservable('mac', str('eth_dst'), 'dst')];
  return alertFrom('alert_json', body, time, { pktNum: str('pkt_num'), extra });
}

function jsonTime(j: JsonObject, ts: string | undefined): string {
  const seconds = own(j, 'seconds');
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 1e8 && seconds < 1e11) {
    const frac = ts ? /\.(\d{1,9})$/.exec(ts)?.[1] : undefined;
    const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
    return new Date(Math.floor(seconds) * 1000 + ms).toISOString();
  }
  if (ts) {
    const m = TS.exec(ts.trim());
    if (m) return snortTime(m);
    const iso = Date.parse(ts);
    if (Number.isFinite(iso)) return new Date(iso).toISOString();
    throw new ParseError(`timestamp "${excerpt(ts, 40)}" is not a Snort time`);
  }
  return receivedTime();
}

// ---- common ---------------------------------------------------------------------------------------------

/** The Snort output plugin that wrote the record: the event_type of its alerts. */
type Output = 'alert_fast' | 'alert_syslog' | 'alert_full' | 'alert_csv' | 'alert_json';

interface AlertExtras {
  /** pfSense's disposition or the Snort 3 CSV action column. */
  disposition?: string;
  /** Snort 3 pkt_num: part of the dedup key. */
  pktNum?: string;
  extra?: Array<Observable | undefined>;
  /** The reporting sensor (sensorOf). */
  sensor?: HostInfo;
}

function alertFrom(output: Output, b: SnortAlertBody, time: string, { disposition, pktNum, extra = [], sensor }: AlertExtras = {}): AlertDraft {
  const full = `${b.gid}:${b.sid}:${b.rev}`; // the revision tells re-deliveries of different rule versions apart
  const sev = snortPrioritySeverity(b.priority);
  return {
    vendor_id: [time, full, b.src ?? '', b.sport ?? '', b.dst ?? '', b.dport ?? '', pktNum ?? ''].join('|'),
    event_type: output,
    time,
    title: b.msg || `Snort rule ${full}`,
    rule: { id: snortRuleId(b.gid, b.sid), name: b.msg || undefined, category: b.classification },
    severity: sev ?? UNKNOWN_SEVERITY,
    vendor_severity: b.priority !== undefined ? { value: String(b.priority), scale: SCALE } : undefined,
    action: actionOf(b.action, disposition),
    src: b.src || b.sport !== undefined ? { ip: b.src, port: b.sport } : undefined,
    dst: b.dst || b.dport !== undefined ? { ip: b.dst, port: b.dport } : undefined,
    device: sensor,
    observables: defined(extra),
  };
}

/** A bare "host snort[pid]:" header (a relay that dropped the syslog time): the token before Snort's tag. */
const HOST_TAG = /^(\S{1,255}) snort(?:\[\d{1,10}\])?:(?:\s|$)/;

/**
 * The sensor that reported the alert (the alert's `device`, never its `host` and never an indicator): the
 * sensor a Firepower-style body names in 'From "…"'; else the syslog header's host (alert_syslog, or a line a
 * syslog daemon relayed); else the host of a bare "host snort[pid]:" header.
 */
function sensorOf(b: SnortAlertBody, envelope?: SyslogMessage, head = ''): HostInfo | undefined {
  const name = b.device?.trim() || envelope?.hostname || (envelope ? undefined : HOST_TAG.exec(head)?.[1]);
  return name ? { name } : undefined;
}

function actionOf(action: string | undefined, disposition: string | undefined): DetectorAction {
  const d = disposition?.toLowerCase();
  if (d && /block|drop|reject/.test(d)) return 'blocked';
  const a = action?.toLowerCase().replace(/[ _-]/g, '');
  if (!a) return 'detected';
  if (a.startsWith('would') || a === 'wdrop') return 'detected';
  if (/^(drop|sdrop|block|blocked|reject|reset)$/.test(a)) return 'blocked';
  return 'detected'; // alert, allow, pass: the engine reported and let the packet through
}

/** Snort timestamps (MM/DD[/YY]-hh:mm:ss[.f]) anywhere in a text. */
const ANY_TIMESTAMP = /\d{2}\/\d{2}(?:\/\d{2,4})?-\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?/g;
/** Nothing but bracketed groups ("[1:2003:8]", "[**]"), each of at most 32 characters. */
const ONLY_GROUPS = /^\s*(?:\[[^\]]{0,32}\]\s*)*$/;

function leadingTime(prefix: string): string | undefined {
  const t = prefix.trim();
  const direct = TS.exec(t);
  if (direct) return snortTime(direct);
  // After a syslog header ("… snort[12]: 05/30-19:09:10.917356 [**] …"): the Snort timestamp that only
  // bracketed groups follow. Found as timestamps (a fixed shape) and a check of what follows each, anchored at
  // both ends: one pattern that did both, unanchored at its start, took cubic time on repeated near-timestamps.
  const tail = t.slice(-200);
  for (const found of tail.matchAll(ANY_TIMESTAMP)) {
    if (!ONLY_GROUPS.test(tail.slice(found.index + found[0].length))) continue;
    const m = TS.exec(found[0]);
    if (m) return snortTime(m);
  }
  return undefined;
}

/** MM/DD[/YY]-hh:mm:ss[.f] in the source's zone; the year, when absent, by lib's inference. */
function snortTime(m: RegExpExecArray): string {
  const month = Number(m[1]);
  const day = Number(m[2]);
  const wall = { month, day, hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6]), ms: m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0 };
  const ctx = parseContext();
  let year: number | undefined;
  if (m[3]) year = m[3].length === 2 ? 2000 + Number(m[3]) : Number(m[3]);
  else {
    try {
      year = inferYear(wall, ctx.receivedAt, ctx.timeZone);
    } catch {
      year = undefined;
    }
  }
  if (year === undefined || month < 1 || month > 12 || day < 1 || day > 31 || wall.hour > 23 || wall.minute > 59 || wall.second > 60) {
    throw new ParseError(`Snort timestamp "${m[0]}" is not a valid date`);
  }
  const ms = zonedToUtc({ ...wall, year }, ctx.timeZone);
  const d = new Date(ms);
  if (!Number.isFinite(ms) || d.getUTCFullYear() < 1990) throw new ParseError(`Snort timestamp "${m[0]}" is not a valid date`);
  // Date.UTC rolls Feb 30 into March: check the day survived in the zone's wall time.
  if (!validDay(year, month, day)) throw new ParseError(`Snort timestamp "${m[0]}" is not a valid date`);
  return d.toISOString();
}

function validDay(year: number, month: number, day: number): boolean {
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function intOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^\d{1,12}$/.test(v)) return Number(v);
  return undefined;
}
