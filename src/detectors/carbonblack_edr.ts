/**
 * VMware Carbon Black EDR (formerly Carbon Black Response / Enterprise Response), as its event forwarder
 * (github.com/carbonblack/cb-event-forwarder, "Event Forwarder data types") writes JSON, one object per
 * line. The `type` key names the event; watchlist and feed hits from some forwarder versions omit it and
 * are recognised by their keys (their event_type is then inferred: watchlist.hit.process|binary,
 * feed.hit.process|binary, binaryinfo.observed, binarystore.file.added). Field mapping: docs/detectors/carbonblack_edr.md.
 *
 * Alerts:
 *   watchlist.hit.* / watchlist.storage.hit.* (or type-less with watchlist_id + watchlist_name + docs)
 *       a process or binary matched a watchlist. docs (an array of one, or one object) is the process
 *       document (process_name, path, cmdline, process_md5, process_pid, parent_name, hostname, username,
 *       interface_ip, sensor_id, unique_id) or the binary document (md5, observed_filename[], endpoint[]
 *       "HOST|sensor_id", orig_mod_len). title "Watchlist hit: <watchlist_name>"; rule id watchlist_id,
 *       name watchlist_name; severity 40 (the forwarder gives none).
 *   feed.ingress.hit.* / feed.storage.hit.* / feed.query.hit.* (or type-less with feed_id + ioc_type)
 *       a threat-intelligence feed IOC matched: feed_name, report_id, report_score (0-100, the severity),
 *       ioc_type (md5, sha256, ipv4, dns, query) and ioc_value, ioc_attr (port, direction), hostname,
 *       sensor_id, docs… rule id report_id, name report_title | report_id, category "feed:<feed_name>";
 *       an ipv4 IOC becomes dst (src for an inbound ioc_attr.direction), a dns IOC the domain.
 *   alert.watchlist.hit.* (raised by the server): alert_severity (0-100), unique_id, watchlist_name |
 *       feed_name, report_id, ioc_*, hostname, username, process_name, process_path, md5, sha256…
 *   ingress.event.processblock (a banned hash was blocked: action blocked) and ingress.event.tamper.
 * Context (kind, event_type = type):
 *   binaryinfo.*, binarystore.*, ingress.event.module|moduleload|filemod, type-less binary records → file
 *   ingress.event.netconn → flow (local → remote; remote → local when direction is inbound)
 *   ingress.event.procstart|process|procend|childproc|crossprocopen|remotethread|emetmitigation → process
 *   ingress.event.regmod and anything else → other
 *   host computer_name | hostname, sensor_id, interface_ip; device = the CB server (cb_server | server_name,
 *   and the top-level `host`, which is the server's address, not the endpoint's); data = the record.
 *
 *   time        event_timestamp (epoch s) | timestamp | created_time | docs.last_update
 *   vendor_id   unique_id; else "<watchlist_id|feed_id:report_id>:<process guid|md5>:<event time>"
 * Hashes are upper-case in this product; they are lower-cased like all observables.
 */
import type { AlertDraft } from '../model/alert.js';
import type { ContextKind } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { Reader, baseName, defined, ipv4FromInt, firstIp, realHash, splitAccount } from './lib/record.js';
import { isObject, own, compact, toInt } from './lib/values.js';

const SCORE_SCALE = 'carbon black edr score 0-100';

type Kind = 'watchlist' | 'feed' | 'alert' | 'block' | 'tamper' | 'context';

const cbEdr: Detector = {
  name: 'carbonblack_edr',
  description: 'Carbon Black EDR (Response) event forwarder JSON: watchlist/feed hits and alerts; binaryinfo and ingress events as context',
  format: 'json',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (!isObject(j)) return 0;
    const type = own(j, 'type');
    const server = own(j, 'cb_server') !== undefined || own(j, 'server_name') !== undefined || own(j, 'cb_version') !== undefined;
    if (typeof type === 'string') {
      if (/^(watchlist\.(hit|storagehit|storage\.hit)\.|feed\.(ingress|storage|query)\.hit\.|alert\.watchlist\.hit\.|binaryinfo\.|binarystore\.|ingress\.event\.)/.test(type)) return server ? 0.97 : 0.85;
      return 0;
    }
    if (own(j, 'watchlist_id') !== undefined && typeof own(j, 'watchlist_name') === 'string' && (Array.isArray(own(j, 'docs')) || server)) return 0.9;
    if (own(j, 'feed_id') !== undefined && typeof own(j, 'feed_name') === 'string' && own(j, 'ioc_type') !== undefined) return 0.9;
    // Type-less binary records: a binary's score or watchlist tags, or its arrival in the binary store.
    const binary = isObject(own(j, 'scores')) || isObject(own(j, 'watchlists')) || own(j, 'compressed_size') !== undefined;
    if (typeof own(j, 'md5') === 'string' && own(j, 'event_timestamp') !== undefined && binary) return 0.7;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('CB EDR record must be a JSON object');
    const r = new Reader(j);
    const type = r.str('type') ?? '';
    const kind = kindOf(r, type);
    if (kind === 'context') return { kind: 'context', events: [contextOf(r, type)] };
    return { kind: 'alerts', alerts: [alertOf(r, type, kind)] };
  },
};
export default defineDetector(cbEdr);

function kindOf(r: Reader, type: string): Kind {
  if (type.startsWith('alert.')) return 'alert';
  if (type.startsWith('watchlist.')) return 'watchlist';
  if (type.startsWith('feed.')) return 'feed';
  if (type === 'ingress.event.processblock') return 'block';
  if (type === 'ingress.event.tamper') return 'tamper';
  if (type !== '') return 'context';
  if (r.has('watchlist_id') && r.has('watchlist_name')) return 'watchlist';
  if (r.has('feed_id') && r.has('ioc_type')) return 'feed';
  // Type-less binary records (binary store, score and watchlist tag updates) name a binary by its md5.
  if (r.has('md5')) return 'context';
  throw new ParseError('no type, and neither a watchlist hit (watchlist_id), a feed hit (feed_id + ioc_type) nor a binary record (md5)');
}

/** The one document of a hit: `docs` is an array of one (the forwarder splits longer ones) or, in some versions, one object. */
function docOf(r: Reader): Reader | undefined {
  const docs = r.raw('docs');
  if (docs === undefined || docs === null) return undefined;
  if (isObject(docs)) return new Reader(docs, 'docs');
  if (Array.isArray(docs)) return r.objects('docs', 1)[0];
  throw new ParseError('docs is neither an array nor an object');
}

/** Whether a hit's document is a binary's (observed file names, endpoints) rather than a process's. */
function isBinaryDoc(d: Reader | undefined, r: Reader): boolean {
  if (d) return d.has('observed_filename') || d.has('endpoint') || (!d.has('process_name') && !d.has('process_md5'));
  return !r.has('process_id') && !r.has('process_guid') && !r.has('process_name');
}

/** The product's name for the record; the type-less forwarder records get the name of what they are. */
function eventTypeOf(r: Reader, type: string, kind: Kind, doc: Reader | undefined): string {
  if (type !== '') return type;
  const subject = isBinaryDoc(doc, r) ? 'binary' : 'process';
  if (kind === 'watchlist') return `watchlist.hit.${subject}`;
  if (kind === 'feed') return `feed.hit.${subject}`;
  return r.has('file_path') ? 'binarystore.file.added' : 'binaryinfo.observed';
}

function eventTime(r: Reader, doc: Reader | undefined): string {
  for (const key of ['event_timestamp', 'timestamp', 'created_time', 'alert_time']) {
    const v = r.raw(key);
    if (v !== undefined && v !== null && v !== '') return parseTimestamp(v, { field: key });
  }
  return tryParseTimestamp(doc?.raw('last_update')) ?? tryParseTimestamp(doc?.raw('start')) ?? tryParseTimestamp(doc?.raw('server_added_timestamp')) ?? receivedTime();
}

function hostIp(v: unknown): string | undefined {
  return typeof v === 'number' ? ipv4FromInt(v) : firstIp(v);
}

function alertOf(r: Reader, type: string, kind: Kind): AlertDraft {
  const doc = docOf(r);
  const d = doc ?? new Reader({}, 'docs');
  const time = eventTime(r, doc);
  const endpoint = d.strings('endpoint', 1)[0]?.split('|');
  const account = splitAccount(r.str('username') ?? d.str('username'));
  // A binary seen under several names: the last one, as the product lists them oldest first.
  const observed = d.strings('observed_filename', 16);
  const path = r.first('path', 'process_path') ?? d.first('path', 'process_path') ?? observed[observed.length - 1];
  const md5 = r.first('md5', 'process_md5') ?? d.first('process_md5', 'md5');
  const sha256 = r.first('sha256', 'process_sha256') ?? d.first('process_sha256', 'sha256');
  const processName = r.str('process_name') ?? d.str('process_name');
  const iocType = (r.loose('ioc_type') ?? '').toLowerCase();
  const iocValue = r.str('ioc_value');
  const attr = r.sub('ioc_attr');
  const inbound = /^in/i.test(attr.loose('direction') ?? '');
  const iocIp = iocType.startsWith('ipv') || iocType === 'ip' ? (iocType === 'ipv4' && /^-?\d+$/.test(iocValue ?? '') ? ipv4FromInt(Number(iocValue)) : iocValue) : undefined;
  const remote = iocIp ? compact({ ip: iocIp, port: port(attr.loose('port')) }) : undefined;
  const watchlist = r.str('watchlist_name');
  const feed = r.str('feed_name');
  const reportId = r.str('report_id');
  const score = r.num('alert_severity') ?? r.num('report_score');
  const guid = r.first('process_guid', 'process_id') ?? d.first('unique_id', 'process_guid') ?? md5;
  const severity = kind === 'tamper' ? 75 : score !== undefined && score >= 0 && score <= 100 ? score : UNKNOWN_SEVERITY;
  const hostName = r.first('hostname', 'computer_name') ?? d.first('hostname', 'computer_name') ?? endpoint?.[0];
  const { title, rule } = describe(kind, type, r, watchlist, feed, reportId);
  const hostId = r.str('sensor_id') ?? d.str('sensor_id') ?? endpoint?.[1];
  return {
    vendor_id: r.str('unique_id') ?? [r.first('watchlist_id') ?? (r.str('feed_id') ? `${r.str('feed_id')}:${reportId ?? ''}` : type), guid ?? hostName ?? 'none', time].join(':'),
    event_type: eventTypeOf(r, type, kind, doc),
    time,
    title,
    rule,
    severity,
    vendor_severity: score !== undefined ? { value: String(score), scale: r.has('alert_severity') ? 'carbon black edr alert_severity 0-100' : SCORE_SCALE } : undefined,
    action: kind === 'block' ? 'blocked' : 'detected',
    src: inbound ? remote : undefined,
    dst: inbound ? undefined : remote,
    host: compact({
      name: hostName,
      ip: hostIp(r.raw('interface_ip')) ?? hostIp(d.raw('interface_ip')) ?? hostIp(r.raw('comms_ip')) ?? hostIp(d.raw('comms_ip')),
      id: hostId,
      os: r.str('os_type') ?? d.str('os_type'),
    }),
    user: account ? compact({ name: account.name, domain: account.domain, email: account.email }) : undefined,
    file: compact({ name: baseName(path), path, md5: realHash(md5, 'md5'), sha256: realHash(sha256, 'sha256'), size: size(d.raw('orig_mod_len') ?? r.raw('size')) }),
    process: compact({
      name: processName ?? (kind === 'block' ? baseName(path) : undefined),
      command_line: r.str('cmdline') ?? d.str('cmdline'),
      pid: toInt(r.raw('pid') ?? r.raw('process_pid') ?? d.raw('process_pid')),
      parent_name: r.str('parent_name') ?? d.str('parent_name'),
    }),
    domain: iocType === 'dns' || iocType === 'domain' ? iocValue : undefined,
    observables: defined([
      iocType === 'md5' ? makeObservable('md5', iocValue, 'ioc') : undefined,
      iocType === 'sha256' ? makeObservable('sha256', iocValue, 'ioc') : undefined,
      makeObservable('md5', realHash(r.str('parent_md5') ?? d.str('parent_md5'), 'md5'), 'parent'),
      makeObservable('ip', hostIp(r.raw('comms_ip')), 'host'),
    ]),
  };
}

function describe(kind: Kind, type: string, r: Reader, watchlist?: string, feed?: string, reportId?: string): { title: string; rule: AlertDraft['rule'] } {
  switch (kind) {
    case 'watchlist':
      return { title: `Watchlist hit: ${watchlist ?? r.str('watchlist_id') ?? 'unnamed'}`, rule: compact({ id: r.str('watchlist_id'), name: watchlist, category: 'watchlist' }) };
    case 'feed':
      return {
        title: `Feed hit: ${[feed, reportId].filter(Boolean).join(' ') || 'unnamed'}`,
        rule: compact({ id: reportId, name: r.str('report_title') ?? reportId, category: feed ? `feed:${feed}` : 'feed' }),
      };
    case 'alert': {
      const name = watchlist ?? feed ?? r.str('report_id') ?? 'unnamed';
      return { title: `Carbon Black alert: ${name}`, rule: compact({ id: r.first('watchlist_id', 'report_id'), name, category: r.str('alert_type') ?? type }) };
    }
    case 'block':
      return { title: `Banned process blocked: ${r.first('process_name', 'path', 'md5') ?? 'unknown'}`, rule: { id: type, name: 'process blocked (banned hash)', category: 'banning' } };
    case 'tamper':
      return { title: `Sensor tampering: ${r.first('tamper_type') ?? 'unknown'}`, rule: { id: type, name: 'sensor tamper', category: 'tamper' } };
    default:
      return { title: type, rule: { id: type } };
  }
}

// ---- context ------------------------------------------------------------------------------------------------

const FILE_EVENTS = new Set(['ingress.event.module', 'ingress.event.moduleload', 'ingress.event.filemod']);
const PROCESS_EVENTS = new Set(['ingress.event.procstart', 'ingress.event.process', 'ingress.event.procend', 'ingress.event.childproc', 'ingress.event.crossprocopen', 'ingress.event.remotethread', 'ingress.event.emetmitigation']);

function contextKind(type: string): ContextKind {
  if (type.startsWith('binaryinfo.') || type.startsWith('binarystore.') || FILE_EVENTS.has(type)) return 'file';
  if (type === 'ingress.event.netconn') return 'flow';
  if (PROCESS_EVENTS.has(type)) return 'process';
  return 'other';
}

function contextOf(r: Reader, rawType: string): ContextEvent {
  const type = eventTypeOf(r, rawType, 'context', undefined);
  const kind = contextKind(type);
  const time = tryParseTimestamp(r.raw('timestamp')) ?? tryParseTimestamp(r.raw('event_timestamp')) ?? receivedTime();
  const processPath = r.str('process_path');
  const child = type === 'ingress.event.childproc';
  // The record's md5/sha256 are the file's in file events and a child's image in childproc; elsewhere the acting process's.
  const ownFile = kind === 'file' || child;
  const path = r.first('path', 'file_path') ?? r.str('utf8_on_disk_filename');
  const local = compact({ ip: hostIp(r.raw('local_ip')), port: port(r.raw('local_port')) });
  const remote = compact({ ip: hostIp(r.raw('remote_ip') ?? r.raw('ipv4')), port: port(r.raw('remote_port')), host: r.str('domain') });
  const inbound = /^in/i.test(r.loose('direction') ?? '');
  const md5 = realHash(r.first('md5', 'process_md5'), 'md5');
  const sha256 = realHash(r.first('sha256', 'process_sha256'), 'sha256');
  return {
    kind,
    event_type: type,
    time,
    host: compact({ name: r.first('computer_name', 'hostname'), id: r.str('sensor_id'), ip: hostIp(r.raw('interface_ip')), os: r.str('os_type') }),
    device: compact({ name: r.first('cb_server', 'server_name'), ip: hostIp(r.raw('host')) }),
    src: kind === 'flow' ? (inbound ? remote : local) : undefined,
    dst: kind === 'flow' ? (inbound ? local : remote) : undefined,
    domain: kind === 'flow' ? r.str('domain') : undefined,
    file: ownFile ? compact({ name: baseName(path), path: kind === 'file' || child ? path : undefined, md5, sha256, size: size(r.raw('size')) }) : undefined,
    process: compact({
      name: child ? baseName(path) : baseName(processPath),
      command_line: r.str('cmdline'),
      pid: toInt(child ? r.raw('child_pid') : r.raw('pid')),
      parent_name: child ? baseName(processPath) : undefined,
    }),
    user: userOf(r.str('username')),
    data: { ...r.obj },
    observables: defined([
      ...(ownFile ? [] : [makeObservable('md5', md5, 'process'), makeObservable('sha256', sha256, 'process')]),
      makeObservable('md5', realHash(r.str('target_md5'), 'md5'), 'target'),
      makeObservable('sha256', realHash(r.str('target_sha256'), 'sha256'), 'target'),
    ]),
  };
}

function userOf(value: string | undefined): ContextEvent['user'] {
  const a = splitAccount(value);
  return a ? compact({ name: a.name, domain: a.domain, email: a.email }) : undefined;
}

/** A byte count (numbers or numeric strings, as forwarder versions differ). */
function size(v: unknown): number | undefined {
  const n = toInt(v);
  return n !== undefined && n >= 0 ? n : undefined;
}

function port(v: unknown): number | undefined {
  const n = toInt(v);
  return n !== undefined && n >= 0 && n <= 65535 ? n : undefined;
}
