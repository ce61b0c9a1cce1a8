/**
 * Zeek (formerly Bro) notice.log, intel.log and weird.log, in both of Zeek's writer formats:
 *
 *   JSON (LogAscii::use_json=T, one object per line; "id.orig_h" flat keys or a nested "id" object; ts as
 *   epoch seconds or ISO-8601; an optional "_path" as Corelight/Kafka writers add);
 *   TSV (the default ASCII writer): header lines "#separator \x09", "#set_separator ,", "#empty_field (empty)",
 *   "#unset_field -", "#path notice", "#open …", "#fields ts uid …", "#types time string …", then one record
 *   per line, and "#close …". Values: "-" unset, "(empty)" empty, sets joined by the set separator, bytes
 *   that are not printable (and the separator itself) escaped as \xHH.
 *
 * TSV is stateful (the header gives the columns), while a Fido record is one line or one message and a
 * detector is pure, so a TSV record is accepted in three forms:
 *   1. a record that carries its header: a whole file, or any chunk that starts with the header lines (a
 *      "#fields" line followed by data lines, e.g. lines prefixed by the header) → every data line parsed
 *      with that header (one alert per notice / intel line, one context event per weird line);
 *   2. a data line on its own (how `fido ingest` / `fido normalize` feed a file, line by line) → read with
 *      Zeek's default column layout for notice.log, intel.log or weird.log, recognised by the column count
 *      and by the column that must hold a notice type ("Scan::Port_Scan"), an intel indicator type
 *      ("Intel::ADDR") or a weird name. Default layouts cover Bro 2.x, Zeek 3.x … 7.x (the first 19 notice
 *      columns, 15 intel columns, 10/11 weird columns are the same across them; later columns differ and are
 *      not needed). A log with custom columns must be sent with its header (form 1);
 *   3. a header line on its own ("#fields …", "#close …") → a context event of kind other, event_type
 *      "zeek_log_header", so a file fed line by line normalises without errors and nothing is dropped.
 *
 * notice → alert: title msg (else note); rule id/name = note, category = its module ("SSL", "Scan");
 *   severity by notice type (Zeek notices have no severity): malware-hash and Heartbleed 80, Intel 70, SQL
 *   injection 70, password guessing 60, signatures 60, scans 50, vulnerable software 50, certificate problems
 *   30, traceroute/external DNS 25, operational notices (CaptureLoss, PacketFilter, Software, Weird, Stats…)
 *   10, others 40; action: Notice::ACTION_DROP → blocked, else detected; src/dst: id.orig_h:p → id.resp_h:p,
 *   else src / dst / p; url: sub when it is a URL; vendor_id: uid:note:ts.
 * intel → alert: "Intel hit: <indicator> (<type>) seen in <where>"; rule id "intel:<first source>"; severity
 *   70; the indicator becomes the field of its type (ADDR ip observable, DOMAIN domain, URL url, EMAIL
 *   e-mail, USER_NAME user, FILE_HASH/CERT_HASH hash, FILE_NAME file name).
 * Every other log → a context event, event_type the log's name, kind by KIND (conn flow, dns, http, ssl tls,
 * files file, dhcp, kerberos/ntlm/ssh auth, weird other, …) with its facts in the canonical fields (LOG_FACTS;
 * docs/detectors/zeek.md). JSON entries without "_path" (Zeek's own writer adds none) are recognised by their
 * columns (PATH_BY_COLUMNS). A masked or unset ts (btest baselines replace each digit with an X) falls back
 * to the received time. notice and intel alerts carry event_type "notice" / "intel".
 * Every alert and context event: device.name the Zeek system or node that logged it (sensorOf: _system_name,
 * else notice peer_descr, weird peer, intel seen.node, else _node_name); never host, and on alerts no indicator.
 */
import type { AlertDraft, DetectorAction, FileInfo, HostInfo, UserInfo } from '../model/alert.js';
import type { ContextKind } from '../model/context.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { receivedTime } from './lib/context.js';
import { canonicalIp, makeObservable, normalizeDomain, normalizeHash, normalizeUrl } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { BREAK_IN_LINE, excerpt, trimEndChars } from './lib/text.js';
import { tryParseTimestamp } from './lib/time.js';
import { compact, isObject, own, type JsonObject } from './lib/values.js';

// ---- layouts -------------------------------------------------------------------------------------------

const CONN = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p'];
const NOTICE_FIELDS = [
  ...CONN, 'fuid', 'file_mime_type', 'file_desc', 'proto', 'note', 'msg', 'sub', 'src', 'dst', 'p', 'n', 'peer_descr', 'actions',
  'email_dest', 'suppress_for', 'remote_location.country_code', 'remote_location.region', 'remote_location.city',
  'remote_location.latitude', 'remote_location.longitude',
];
// Bro 2.0/2.1: no file columns, proto right after the connection.
const NOTICE_LEGACY_FIELDS = [...CONN, 'proto', 'note', 'msg', 'sub', 'src', 'dst', 'p', 'n', 'peer_descr', 'actions', 'suppress_for', 'dropped'];
const INTEL_FIELDS = [...CONN, 'seen.indicator', 'seen.indicator_type', 'seen.where', 'seen.node', 'matched', 'sources', 'fuid', 'file_mime_type', 'file_desc'];
const WEIRD_FIELDS = [...CONN, 'name', 'addl', 'notice', 'peer', 'source'];

const NOTE = /^[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+$/;
const TS_VALUE = /^(?:\d{9,11}(?:\.\d{1,9})?|X{6,12}(?:\.X{1,9})?|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?|-)$/;
const HEADER = /^#(separator|set_separator|empty_field|unset_field|path|open|close|fields|types)\b/;
const MAX_LINES = 100_000;
const MAX_TEXT = 16 << 20;

type Row = Record<string, unknown>;

interface TsvFormat {
  sep: string;
  setSep: string;
  empty: string;
  unset: string;
  path?: string;
  fields?: string[];
}

const DEFAULT_FORMAT: TsvFormat = { sep: '\t', setSep: ',', empty: '(empty)', unset: '-' };

const zeek: Detector = {
  name: 'zeek',
  description: 'Zeek/Bro notice.log and intel.log (JSON or TSV with #fields headers) as alerts; weird.log and other logs as context',
  format: 'text',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (j !== undefined) return isObject(j) ? sniffJson(unwrapSplunk(j)) : 0;
    const text = record.text.slice(0, 8192);
    const first = text.trimStart();
    if (HEADER.test(first)) return /\n#fields\t|^#fields\t/.test(text) || /^#separator /.test(first) ? 0.95 : 0.9;
    if (first.startsWith('### BTest baseline')) return /\n#fields\t/.test(text) ? 0.95 : 0.7;
    if (/\n#fields\t/.test(text)) return 0.9;
    if (!text.includes('\t')) return 0;
    const line = text.split(/\r?\n/, 1)[0]!;
    return guessLayout(line.split('\t')) ? 0.85 : 0;
  },
  parse(record: RawRecord): ParseOutcome {
    if (record.text.length > MAX_TEXT) throw new ParseError(`record of ${record.text.length} characters is too large for a Zeek log`);
    const j = record.json;
    if (j !== undefined) {
      if (!isObject(j)) throw new ParseError('Zeek JSON record must be an object (one log entry per line)');
      return fromJson(unwrapSplunk(j));
    }
    const text = trimEndChars(record.text.replace(/^\uFEFF/, ''), '\r\n');
    if (/\r?\n/.test(text)) return fromTsvFile(text);
    const trimmed = text.trimStart();
    if (trimmed.startsWith('#')) return { kind: 'context', events: [headerEvent(trimmed)] };
    if (!text.includes('\t')) throw new ParseError(`not a Zeek log: neither JSON nor tab-separated columns (starts: ${excerpt(text.trim(), 60)})`);
    const cols = text.split('\t');
    const layout = guessLayout(cols);
    if (!layout) {
      throw new ParseError(
        `Zeek TSV line with ${cols.length} columns does not match the default notice.log, intel.log or weird.log layout; send the log with its #fields header (starts: ${excerpt(text, 60)})`,
      );
    }
    return outcomeOf([rowOf(cols, layout.fields, DEFAULT_FORMAT)], layout.path);
  },
};
export default defineDetector(zeek);

// ---- JSON ----------------------------------------------------------------------------------------------

/**
 * A Splunk search export line ({"preview":…,"result":{"_raw":"<the Zeek JSON entry>",…}}), as Zeek logs
 * re-exported from Splunk arrive: the entry inside, else the record as it is.
 */
function unwrapSplunk(j: JsonObject): JsonObject {
  const result = own(j, 'result');
  const raw = isObject(result) ? own(result, '_raw') : undefined;
  if (typeof raw !== 'string' || !raw.startsWith('{') || raw.length > 1 << 20) return j;
  try {
    const inner: unknown = JSON.parse(raw);
    return isObject(inner) ? inner : j;
  } catch {
    return j;
  }
}

function sniffJson(j: JsonObject): number {
  if (own(j, 'event_type') !== undefined) return 0; // Suricata EVE
  const path = own(j, '_path');
  if (typeof path === 'string' && /^(notice|intel|weird)$/.test(path)) return 0.95;
  const note = own(j, 'note');
  if (typeof note === 'string' && NOTE.test(note) && (own(j, 'msg') !== undefined || own(j, 'ts') !== undefined)) return 0.95;
  if (get(j, 'seen.indicator') !== undefined && get(j, 'seen.indicator_type') !== undefined) return 0.95;
  const hasConn = own(j, 'uid') !== undefined && get(j, 'id.orig_h') !== undefined && own(j, 'ts') !== undefined;
  if (typeof own(j, 'name') === 'string' && own(j, 'ts') !== undefined && (own(j, 'peer') !== undefined || own(j, 'notice') !== undefined)) {
    // A weird without a connection (non_ip_packet_in_ethernet) still has Weird::Info's boolean notice and peer.
    if (hasConn || own(j, 'addl') !== undefined || (typeof own(j, 'notice') === 'boolean' && typeof own(j, 'peer') === 'string')) return 0.8;
  }
  if (typeof path === 'string' && own(j, 'ts') !== undefined) return 0.7;
  // Zeek's own JSON writer adds no _path: a Zeek time and connection or file id, and the columns of a known log.
  // Logs about the sensor or the inventory (capture_loss, stats, software, known_*) have no connection id.
  const zeekIds = own(j, 'uid') !== undefined || own(j, 'uids') !== undefined || own(j, 'fuid') !== undefined || own(j, 'id') !== undefined || get(j, 'id.orig_h') !== undefined;
  const log = typeof own(j, 'ts') === 'number' ? kindOf(j) : undefined;
  if (log && (zeekIds || NO_CONNECTION.has(log))) return 0.7;
  if (hasConn) return 0.55;
  return 0;
}

function fromJson(j: JsonObject): ParseOutcome {
  const path = typeof own(j, '_path') === 'string' ? (own(j, '_path') as string) : kindOf(j);
  if (!path) throw new ParseError('Zeek JSON record is not one of the logs recognised by their columns (notice, intel, weird, conn, dns, http, ssl, files, dhcp, …); other logs need a "_path"');
  const row: Row = {};
  for (const [k, v] of Object.entries(j).slice(0, 512)) row[k] = v;
  // Nested records ("id": {"orig_h": …}, "seen", "san", "certificate") as some writers produce them: the
  // dotted names of the TSV columns, one level deep.
  for (const [k, v] of Object.entries(j).slice(0, 64)) {
    if (!isObject(v)) continue;
    for (const [sub, x] of Object.entries(v).slice(0, 64)) if (!isObject(x) && row[`${k}.${sub}`] === undefined) row[`${k}.${sub}`] = x;
  }
  return outcomeOf([row], path);
}

/**
 * Which log a JSON entry without "_path" comes from (Zeek's own JSON writer does not add one), by the
 * columns only that log has (the Zeek script reference's Info records). Checked in this order: weird before
 * the logs whose columns it shares, kerberos before ssl (both have "cipher").
 */
const PATH_BY_COLUMNS: Array<[path: string, has: (j: JsonObject) => boolean]> = [
  ['notice', (j) => typeof own(j, 'note') === 'string'],
  ['intel', (j) => get(j, 'seen.indicator') !== undefined],
  ['kerberos', (j) => own(j, 'request_type') !== undefined && (own(j, 'client') !== undefined || own(j, 'service') !== undefined)],
  ['ntlm', (j) => own(j, 'domainname') !== undefined || (own(j, 'username') !== undefined && own(j, 'server_nb_computer_name') !== undefined)],
  ['dhcp', (j) => own(j, 'assigned_addr') !== undefined || own(j, 'msg_types') !== undefined],
  ['dns', (j) => own(j, 'query') !== undefined || own(j, 'qtype_name') !== undefined || own(j, 'rcode_name') !== undefined],
  ['sip', (j) => own(j, 'call_id') !== undefined], // before http: SIP has a uri too
  ['http', (j) => own(j, 'uri') !== undefined || (own(j, 'trans_depth') !== undefined && own(j, 'status_code') !== undefined && own(j, 'call_id') === undefined)],
  ['files', (j) => own(j, 'fuid') !== undefined && (own(j, 'tx_hosts') !== undefined || own(j, 'rx_hosts') !== undefined || own(j, 'seen_bytes') !== undefined || own(j, 'analyzers') !== undefined)],
  ['ssl', (j) => own(j, 'server_name') !== undefined || own(j, 'cipher') !== undefined || own(j, 'established') !== undefined],
  ['x509', (j) => get(j, 'certificate.subject') !== undefined || get(j, 'certificate.serial') !== undefined],
  ['ssh', (j) => own(j, 'auth_success') !== undefined || own(j, 'auth_attempts') !== undefined],
  ['smtp', (j) => own(j, 'mailfrom') !== undefined || own(j, 'rcptto') !== undefined || own(j, 'helo') !== undefined],
  ['rdp', (j) => own(j, 'cookie') !== undefined || own(j, 'security_protocol') !== undefined],
  ['ftp', (j) => own(j, 'reply_code') !== undefined && own(j, 'command') !== undefined],
  ['smb_files', (j) => typeof own(j, 'action') === 'string' && (own(j, 'action') as string).startsWith('SMB::')],
  ['smb_mapping', (j) => own(j, 'share_type') !== undefined],
  ['dce_rpc', (j) => own(j, 'endpoint') !== undefined && own(j, 'operation') !== undefined],
  ['dpd', (j) => own(j, 'failure_reason') !== undefined],
  ['tunnel', (j) => own(j, 'tunnel_type') !== undefined],
  ['snmp', (j) => own(j, 'community') !== undefined || own(j, 'get_requests') !== undefined],
  ['radius', (j) => own(j, 'framed_addr') !== undefined || own(j, 'connect_info') !== undefined],
  ['software', (j) => own(j, 'software_type') !== undefined],
  ['known_services', (j) => own(j, 'port_num') !== undefined && own(j, 'service') !== undefined],
  ['known_certs', (j) => own(j, 'port_num') !== undefined && own(j, 'subject') !== undefined],
  ['capture_loss', (j) => own(j, 'percent_lost') !== undefined],
  ['stats', (j) => own(j, 'pkts_proc') !== undefined || own(j, 'mem') !== undefined],
  ['weird', (j) => typeof own(j, 'name') === 'string' && (own(j, 'addl') !== undefined || own(j, 'notice') !== undefined || own(j, 'peer') !== undefined)],
  ['conn', (j) => own(j, 'conn_state') !== undefined || own(j, 'history') !== undefined || own(j, 'orig_bytes') !== undefined],
];

const NO_CONNECTION = new Set(['capture_loss', 'stats', 'software', 'known_services', 'known_certs']);

function kindOf(j: JsonObject): string | undefined {
  const known = PATH_BY_COLUMNS.find(([, has]) => has(j))?.[0];
  if (known) return known;
  if (typeof own(j, 'name') === 'string' && own(j, 'ts') !== undefined) return 'weird';
  return undefined;
}

function get(j: JsonObject, dotted: string): unknown {
  const flat = own(j, dotted);
  if (flat !== undefined) return flat;
  const [a, b] = dotted.split('.');
  const inner = own(j, a!);
  return isObject(inner) ? own(inner, b!) : undefined;
}

// ---- TSV -----------------------------------------------------------------------------------------------

function fromTsvFile(text: string): ParseOutcome {
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_LINES) throw new ParseError(`Zeek TSV record has ${lines.length} lines; at most ${MAX_LINES} are read in one record`);
  let fmt: TsvFormat = { ...DEFAULT_FORMAT };
  const rows: Array<{ row: Row; path: string }> = [];
  const headers: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      fmt = applyHeader(fmt, line);
      headers.push(line);
      continue;
    }
    const cols = line.split(fmt.sep);
    if (fmt.fields) {
      if (cols.length !== fmt.fields.length) {
        throw new ParseError(`Zeek TSV line has ${cols.length} columns but #fields names ${fmt.fields.length} (starts: ${excerpt(line, 60)})`);
      }
      rows.push({ row: rowOf(cols, fmt.fields, fmt), path: fmt.path ?? pathFromFields(fmt.fields) });
      continue;
    }
    const layout = guessLayout(cols);
    if (!layout) throw new ParseError(`Zeek TSV data line before any #fields header, and not a default notice/intel/weird layout (starts: ${excerpt(line, 60)})`);
    rows.push({ row: rowOf(cols, layout.fields, fmt), path: layout.path });
  }
  if (rows.length === 0) return { kind: 'context', events: [headerEvent(headers.join('\n'))] };
  const alerts: AlertDraft[] = [];
  const events: ContextEvent[] = [];
  for (const { row, path } of rows) {
    const o = outcomeOf([row], path);
    if (o.kind === 'alerts') alerts.push(...o.alerts);
    else events.push(...o.events);
  }
  if (alerts.length && events.length) throw new ParseError('Zeek TSV record mixes alert logs (notice/intel) with other logs; send each log file as its own record');
  return alerts.length ? { kind: 'alerts', alerts } : { kind: 'context', events };
}

function applyHeader(fmt: TsvFormat, line: string): TsvFormat {
  const m = /^#([a-z_]+)(?:[ \t]|$)(.*)$/.exec(line);
  if (!m) return fmt;
  const [, key, rest] = m as unknown as [string, string, string];
  const value = key === 'separator' ? unescapeZeek(rest.trim()) : rest;
  const next = { ...fmt };
  switch (key) {
    case 'separator':
      if (value.length >= 1 && value.length <= 8) next.sep = value;
      break;
    case 'set_separator':
      next.setSep = unescapeZeek(value.split(fmt.sep)[0] ?? ',') || ',';
      break;
    case 'empty_field':
      next.empty = value.split(fmt.sep)[0] ?? '(empty)';
      break;
    case 'unset_field':
      next.unset = value.split(fmt.sep)[0] ?? '-';
      break;
    case 'path':
      next.path = (value.split(fmt.sep)[0] ?? '').trim() || undefined;
      break;
    case 'fields':
      next.fields = value.split(fmt.sep).slice(0, 1024);
      break;
    default:
      break;
  }
  return next;
}

function headerEvent(text: string): ContextEvent {
  const directives: Record<string, string> = {};
  for (const line of text.split(/\r?\n/).slice(0, 64)) {
    // A line with a stray line break is no directive. Checked first, so that the match cannot fail at its end
    // and backtrack through the name (quadratic).
    const m = BREAK_IN_LINE.test(line) ? null : /^#([a-z_]+)[ \t]?(.*)$/s.exec(line);
    if (m && !(m[1]! in directives)) directives[m[1]!] = m[2]!.replace(/\t/g, ' ').slice(0, 4096);
  }
  return { kind: 'other', event_type: 'zeek_log_header', time: receivedTime(), data: { directives, note: 'Zeek TSV header line: no event' }, observables: [] };
}

function pathFromFields(fields: string[]): string {
  if (fields.includes('note')) return 'notice';
  if (fields.includes('seen.indicator')) return 'intel';
  if (fields.includes('name') && fields.includes('peer')) return 'weird';
  return 'unknown';
}

/** Which default layout a header-less line has, by column count and tell-tale columns. */
function guessLayout(cols: string[]): { fields: string[]; path: string } | undefined {
  if (cols.length < 9 || cols.length > 64 || !TS_VALUE.test(cols[0] ?? '')) return undefined;
  if (cols.length >= 19 && NOTE.test(cols[10] ?? '')) return { fields: NOTICE_FIELDS, path: 'notice' };
  if (cols.length >= 16 && NOTE.test(cols[7] ?? '') && /^(?:tcp|udp|icmp|unknown_transport|-)$/.test(cols[6] ?? '')) return { fields: NOTICE_LEGACY_FIELDS, path: 'notice' };
  if (cols.length >= 12 && /^Intel::[A-Z_]+$/.test(cols[7] ?? '')) return { fields: INTEL_FIELDS, path: 'intel' };
  if (cols.length <= 12 && /^[A-Za-z0-9_]{1,128}$/.test(cols[6] ?? '') && /^[TF-]$/.test(cols[8] ?? '')) return { fields: WEIRD_FIELDS, path: 'weird' };
  return undefined;
}

function rowOf(cols: string[], fields: string[], fmt: TsvFormat): Row {
  const row: Row = {};
  cols.forEach((raw, i) => {
    const name = fields[i] ?? `column_${i + 1}`;
    if (raw === fmt.unset) return;
    if (raw === fmt.empty) {
      row[name] = '';
      return;
    }
    const v = unescapeZeek(raw);
    row[name] = SET_FIELDS.has(name) ? v.split(fmt.setSep).slice(0, 256) : v;
  });
  return row;
}

const SET_FIELDS = new Set(['actions', 'email_dest', 'matched', 'sources', 'dropped_set']);

function unescapeZeek(s: string): string {
  return s.includes('\\x') ? s.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))) : s;
}

// ---- records → outcome ---------------------------------------------------------------------------------

function outcomeOf(rows: Row[], path: string): ParseOutcome {
  if (path === 'notice') return { kind: 'alerts', alerts: rows.map(noticeAlert) };
  if (path === 'intel') return { kind: 'alerts', alerts: rows.map(intelAlert) };
  const name = path.replace(/[^a-z0-9_]/gi, '').toLowerCase() || 'log';
  return { kind: 'context', events: rows.map((r) => contextEvent(r, name)) };
}

function str(r: Row, k: string): string | undefined {
  const v = r[k];
  if (typeof v === 'string') return v === '' || v === '-' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return v ? 'T' : 'F';
  return undefined;
}

function list(r: Row, k: string): string[] {
  const v = r[k];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '').slice(0, 64);
  const s = str(r, k);
  return s ? s.split(',').slice(0, 64) : [];
}

function portOf(v: unknown): number | undefined {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.replace(/\/(?:tcp|udp|icmp|unknown)$/, '') : undefined;
  return s !== undefined && /^\d{1,5}$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined;
}

function timeOf(r: Row): string {
  const ts = r.ts;
  if (ts === undefined || ts === null || ts === '' || ts === '-' || (typeof ts === 'string' && /^X+(?:\.X+)?$/.test(ts))) return receivedTime();
  const t = tryParseTimestamp(typeof ts === 'string' && /^\d+(\.\d+)?$/.test(ts) ? Number(ts) : ts);
  if (!t) throw new ParseError(`ts ${typeof ts === 'string' ? `"${excerpt(ts, 40)}"` : String(ts)} is not a time`);
  return t;
}

const NOTE_SEVERITY: Array<[RegExp, number]> = [
  [/^TeamCymruMalwareHashRegistry::Match$|^SSL::Heartbleed|^Heartbleed::/, 80],
  [/^Intel::/, 70],
  [/^HTTP::SQL_Injection_(?:Attacker|Victim)$/, 70],
  [/^SSH::(?:Login_By_Password_Guesser|Interesting_Hostname_Login)$/, 70],
  [/^SSH::Password_Guessing$|^FTP::Bruteforcing$/, 60],
  [/^Signatures::/, 60],
  [/^Software::Vulnerable_Version$/, 50],
  [/^Scan::/, 50],
  [/^SSL::|^SSH::Watched_Country_Login$/, 30],
  [/^Traceroute::|^DNS::External_Name$|^ProtocolDetector::/, 25],
  [/^Weird::/, 15],
  [/^(?:CaptureLoss|PacketFilter|Software|Conn::|Notice::Tally|Stats|Reporter|Cluster|Broker|Barnyard2?|LoadBalancing|Telemetry)/, 5],
];

function noteSeverity(note: string | undefined): number {
  if (!note) return 40;
  for (const [re, s] of NOTE_SEVERITY) if (re.test(note)) return s;
  return 40;
}

function noticeAlert(r: Row): AlertDraft {
  const note = str(r, 'note');
  const msg = str(r, 'msg');
  if (!note && !msg) throw new ParseError('Zeek notice has neither note nor msg');
  const time = timeOf(r);
  const actions = list(r, 'actions');
  const action: DetectorAction = actions.some((a) => /ACTION_DROP/.test(a)) ? 'blocked' : 'detected';
  const sub = str(r, 'sub');
  const srcIp = str(r, 'id.orig_h') ?? str(r, 'src');
  const dstIp = str(r, 'id.resp_h') ?? str(r, 'dst');
  const url = sub && /^[a-z][a-z0-9+.-]*:\/\//i.test(sub) ? sub : undefined;
  return {
    vendor_id: `${str(r, 'uid') ?? srcIp ?? ''}:${note ?? ''}:${str(r, 'ts') ?? time}`,
    time,
    event_type: 'notice',
    title: msg ?? note!,
    rule: compact({ id: note, name: note, category: note?.split('::')[0] }),
    severity: noteSeverity(note),
    action,
    src: compact({ ip: srcIp, port: portOf(r['id.orig_p']) }),
    dst: compact({ ip: dstIp, port: portOf(r['id.resp_p']) ?? portOf(r.p) }),
    url: url && normalizeUrl(url) ? url : undefined,
    domain: url ? undefined : sub && !canonicalIp(sub) ? normalizeDomain(sub) : undefined,
    device: sensorOf(r),
    observables: [],
  };
}

function intelAlert(r: Row): AlertDraft {
  const indicator = str(r, 'seen.indicator');
  const type = str(r, 'seen.indicator_type');
  if (!indicator) throw new ParseError('Zeek intel record has no seen.indicator');
  const time = timeOf(r);
  const where = str(r, 'seen.where');
  const sources = list(r, 'sources');
  const shortType = type?.replace(/^Intel::/, '');
  const extra: Array<Observable | undefined> = [];
  let domain: string | undefined;
  let url: string | undefined;
  let file: FileInfo | undefined;
  let user: string | undefined;
  switch (shortType) {
    case 'ADDR':
      extra.push(makeObservable('ip', indicator, 'intel'));
      break;
    case 'DOMAIN':
      domain = indicator;
      break;
    case 'URL':
      url = /^[a-z][a-z0-9+.-]*:\/\//i.test(indicator) ? indicator : `http://${indicator}`;
      break;
    case 'EMAIL':
      extra.push(makeObservable('email', indicator, 'intel'));
      break;
    case 'USER_NAME':
      user = indicator;
      break;
    case 'FILE_HASH':
    case 'CERT_HASH': {
      const h = normalizeHash(indicator);
      if (h) file = { [h.type]: h.value };
      break;
    }
    case 'FILE_NAME':
      file = { name: indicator };
      break;
    default:
      break;
  }
  const fileHash = str(r, 'fuid');
  return {
    vendor_id: `${str(r, 'uid') ?? fileHash ?? ''}:${indicator}:${str(r, 'ts') ?? time}`,
    time,
    event_type: 'intel',
    title: `Intel hit: ${indicator}${shortType ? ` (${shortType})` : ''}${where ? ` seen in ${where}` : ''}`,
    rule: compact({ id: `intel:${sources[0] ?? shortType ?? 'unknown'}`, name: sources.length ? sources.join(', ') : undefined, category: type }),
    severity: 70,
    action: 'detected',
    src: compact({ ip: str(r, 'id.orig_h'), port: portOf(r['id.orig_p']) }),
    dst: compact({ ip: str(r, 'id.resp_h'), port: portOf(r['id.resp_p']) }),
    user: user ? { name: user } : undefined,
    domain,
    url,
    file,
    device: sensorOf(r),
    observables: defined(extra),
  };
}

/**
 * The Zeek system that logged the record (an alert's and a context event's `device`, never its `host`):
 * `_system_name` (the sensor's host name, as Corelight and Security Onion add it), else the Zeek node the log
 * names — notice `peer_descr`, weird `peer`, intel `seen.node` — else `_node_name`.
 */
function sensorOf(r: Row): HostInfo | undefined {
  const name = str(r, '_system_name') ?? str(r, 'peer_descr') ?? str(r, 'peer') ?? str(r, 'seen.node') ?? str(r, '_node_name');
  return name ? { name } : undefined;
}

// ---- context -------------------------------------------------------------------------------------------

/** Zeek logs → context kinds (docs/model.md); a log not listed is a connection (flow) when it has one. */
const KIND: Record<string, ContextKind> = {
  conn: 'flow', dns: 'dns', http: 'http', ssl: 'tls', x509: 'tls', files: 'file', dhcp: 'dhcp', kerberos: 'auth', ntlm: 'auth',
  ssh: 'auth', radius: 'auth', smtp: 'email', smb_files: 'file', stats: 'status', capture_loss: 'status', reporter: 'status', loaded_scripts: 'status',
  weird: 'other', zeek_log_header: 'other',
};

function contextEvent(r: Row, path: string): ContextEvent {
  const time = timeOf(r);
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r).slice(0, 256)) data[k] = typeof v === 'string' && v.length > 4096 ? v.slice(0, 4096) : v;
  const facts = LOG_FACTS[path]?.(r) ?? {};
  const kind = KIND[path] ?? (str(r, 'id.orig_h') ? 'flow' : 'other');
  return {
    kind: kind === 'tls' && !facts.domain && !str(r, 'id.resp_h') ? 'other' : kind, // an x509 entry of Zeek 4+ names no server
    event_type: path,
    time,
    src: compact({ ip: str(r, 'id.orig_h'), port: portOf(r['id.orig_p']) }),
    dst: compact({ ip: str(r, 'id.resp_h'), port: portOf(r['id.resp_p']) }),
    session_id: str(r, 'uid'),
    device: sensorOf(r),
    ...facts,
    data,
    observables: [],
  };
}

/** What each log says beyond the connection, in the canonical fields (Zeek script reference, <Log>::Info). */
const LOG_FACTS: Record<string, (r: Row) => Partial<ContextEvent>> = {
  conn: (r) => ({ start: timeOf(r), end: endOf(r), outcome: connOutcome(str(r, 'conn_state')) }),
  dns: (r) => ({ domain: normalizeDomain(str(r, 'query')) }),
  http: (r) => {
    const host = str(r, 'host');
    const uri = str(r, 'uri');
    const server = host ?? str(r, 'id.resp_h');
    const port = portOf(r['id.resp_p']);
    const url = uri && /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? uri : uri && server ? `http://${server}${port && port !== 80 && !host?.includes(':') ? `:${port}` : ''}${uri.startsWith('/') ? uri : `/${uri}`}` : undefined;
    return { url, domain: host && !canonicalIp(host) ? normalizeDomain(host.replace(/:\d+$/, '')) : undefined, user: account(str(r, 'username')), ...dstHost(r, host) };
  },
  ssl: (r) => {
    const established = str(r, 'established');
    return { domain: normalizeDomain(str(r, 'server_name')), ...dstHost(r, str(r, 'server_name')), outcome: established === 'T' ? 'success' : established === 'F' ? 'failure' : undefined };
  },
  x509: (r) => ({ domain: list(r, 'san.dns').map((d) => normalizeDomain(d)).find((d) => d !== undefined) }),
  files: (r) => {
    const name = str(r, 'filename');
    return {
      file: compact({ name: name?.split(/[\\/]/).pop() || undefined, path: name?.includes('/') || name?.includes('\\') ? name : undefined, md5: str(r, 'md5'), sha1: str(r, 'sha1'), sha256: str(r, 'sha256'), size: count(r.total_bytes) ?? count(r.seen_bytes) }),
      // files.log names the hosts, not the connection: tx_hosts sent the file, rx_hosts received it.
      src: compact({ ip: list(r, 'tx_hosts')[0] }),
      dst: compact({ ip: list(r, 'rx_hosts')[0] }),
      session_id: list(r, 'conn_uids')[0] ?? str(r, 'fuid'), // the connection's uid ties the file to its conn/http events
    };
  },
  dhcp: (r) => {
    const types = list(r, 'msg_types');
    return {
      assigned_ip: str(r, 'assigned_addr'),
      host: compact({ name: str(r, 'host_name') ?? str(r, 'client_fqdn'), mac: str(r, 'mac'), ip: str(r, 'client_addr') }),
      src: compact({ ip: str(r, 'client_addr') }), // dhcp.log has no connection: the client and server addresses stand for it
      dst: compact({ ip: str(r, 'server_addr') }),
      outcome: types.includes('ACK') ? 'success' : types.includes('NAK') ? 'failure' : undefined,
      session_id: list(r, 'uids')[0],
    };
  },
  kerberos: (r) => {
    const client = str(r, 'client'); // "alice/CORP.EXAMPLE": principal / realm
    const slash = client?.lastIndexOf('/') ?? -1;
    return { user: slash > 0 ? account(client!.slice(0, slash), client!.slice(slash + 1)) : account(client), outcome: authOutcome(str(r, 'success')) };
  },
  ntlm: (r) => ({ user: account(str(r, 'username'), str(r, 'domainname')), host: compact({ name: str(r, 'hostname') }), outcome: authOutcome(str(r, 'success')) }),
  ssh: (r) => ({ outcome: authOutcome(str(r, 'auth_success')) }),
  radius: (r) => ({ user: account(str(r, 'username')), assigned_ip: str(r, 'framed_addr'), host: compact({ mac: str(r, 'mac') }), outcome: str(r, 'result') === 'success' ? 'success' : str(r, 'result') === 'failed' ? 'failure' : undefined }),
  smb_files: (r) => {
    const name = str(r, 'name');
    const dir = str(r, 'path'); // the share, as \\host\ADMIN$
    return { file: compact({ name: name?.split(/[\\/]/).pop() || undefined, path: dir && name ? `${dir.replace(/\\$/, '')}\\${name}` : name, size: count(r.size) || undefined }) };
  },
  software: (r) => ({ host: compact({ ip: str(r, 'host') }) }),
  ftp: (r) => ({ user: account(str(r, 'user')) }),
  rdp: (r) => ({ user: account(str(r, 'cookie')) }),
  smtp: (r) => ({ user: account(str(r, 'mailfrom')?.replace(/^<|>$/g, '')) }),
};

function account(name: string | undefined, domain?: string): UserInfo | undefined {
  return splitAccount(name, domain);
}

function dstHost(r: Row, host: string | undefined): Partial<ContextEvent> {
  const name = host?.replace(/:\d+$/, '');
  if (!name || canonicalIp(name)) return {};
  return { dst: compact({ ip: str(r, 'id.resp_h'), port: portOf(r['id.resp_p']), host: name }) };
}

function authOutcome(v: string | undefined): ContextEvent['outcome'] {
  return v === 'T' ? 'success' : v === 'F' ? 'failure' : undefined;
}

/** conn_state: REJ (refused), S0 (no answer) failed; SF (normal close) and S1 (established) succeeded; the rest unsure. */
function connOutcome(state: string | undefined): ContextEvent['outcome'] {
  if (state === 'REJ' || state === 'S0' || state === 'RSTOS0' || state === 'RSTRH' || state === 'SH' || state === 'SHR') return 'failure';
  if (state === 'SF' || state === 'S1' || state === 'S2' || state === 'S3' || state === 'RSTO' || state === 'RSTR') return 'success';
  return undefined;
}

function endOf(r: Row): string | undefined {
  // From the epoch seconds themselves when the ts is one: the start time is already cut to milliseconds.
  const epoch = typeof r.ts === 'number' ? r.ts : typeof r.ts === 'string' && /^\d{9,11}(?:\.\d{1,9})?$/.test(r.ts) ? Number(r.ts) : NaN;
  const start = Number.isFinite(epoch) ? epoch * 1000 : Date.parse(timeOf(r));
  const duration = typeof r.duration === 'number' ? r.duration : typeof r.duration === 'string' ? Number(r.duration) : NaN;
  return Number.isFinite(duration) && duration >= 0 && duration < 1e9 ? new Date(start + duration * 1000).toISOString() : undefined;
}

function count(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
