/**
 * VMware Carbon Black EDR (formerly Carbon Black Response / Enterprise Response), as its event forwarder
 * (github.com/carbonblack/cb-event-forwarder, "Event Forwarder data types") writes JSON, one object per
 * line. The `type` key names the event; watchlist and feed hits from some forwarder versions omit it and
 * are recognised by their keys.
 *
 * Alerts:
 *   watchlist.hit.* / watchlist.storagehit.* (or type-less with watchlist_id + watchlist_name + docs[])
 *       a process or binary matched a watchlist. docs[0] is the process document (process_name, path,
 *       cmdline, process_md5, process_pid, parent_name, hostname, username, interface_ip, sensor_id,
 *       unique_id) or the binary document (md5, observed_filename[], endpoint[] "HOST|sensor_id").
 *       title "Watchlist hit: <watchlist_name>"; rule id watchlist_id, name watchlist_name, category
 *       "watchlist"; severity 40 (the forwarder gives none; vendor_severity unset).
 *   feed.ingress.hit.* / feed.storage.hit.* / feed.query.hit.* (or type-less with feed_id + ioc_type)
 *       a threat-intelligence feed IOC matched: feed_name, report_id, report_score (0-100, taken as the
 *       severity), ioc_type (md5, ipv4, dns, query) and ioc_value, ioc_attr (port, protocol, direction),
 *       hostname, sensor_id, process_guid|process_id, md5, sha256, path, cmdline…
 *       title "Feed hit: <feed_name> <report_id>"; rule id report_id, name report title | report_id,
 *       category "feed:<feed_name>"; an ipv4 IOC becomes dst (src for an inbound ioc_attr.direction),
 *       a dns IOC the domain.
 *   alert.watchlist.hit.* (alerts raised by the server): alert_severity (0-100), unique_id, watchlist_name
 *       | feed_name, report_id, ioc_*, hostname, username, process_name, process_path, md5, sha256…
 *   ingress.event.processblock (a banned hash was blocked: action blocked) and ingress.event.tamper
 *       (sensor tampering) are alerts too.
 * Context (kind):
 *   binaryinfo.* → binary (a binary was first seen: md5/sha256, even with watchlist tags),
 *   binarystore.* → binary, ingress.event.<x> → process | netconn | filemod | regmod | module |
 *   crossproc | childproc… (event_type / the suffix), anything else → edr. data = the record.
 *
 *   time        event_timestamp (epoch s) | timestamp | created_time | docs[0].last_update
 *   action      detected (processblock: blocked)
 *   host        hostname | computer_name | docs[0].hostname | docs[0].endpoint[0]; ip interface_ip
 *               (integer or dotted) | comms_ip; id sensor_id; os os_type
 *   user        username (DOMAIN\user split)
 *   file        md5, sha256, path | process_path | observed_filename[0]
 *   vendor_id   unique_id; else "<watchlist_id|feed_id:report_id>:<process guid|md5>:<event time>"
 * Hashes are upper-case in this product; they are lower-cased like all observables. The top-level `host`
 * key is the CB server's address, not the endpoint's, and is not used.
 */
import type { AlertDraft } from '../model/alert.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { Reader, baseName, defined, ipv4FromInt, firstIp, realHash, splitAccount } from './lib/record.js';
import { isObject, own, compact } from './lib/values.js';

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
      if (/^(watchlist\.(hit|storagehit)\.|feed\.(ingress|storage|query)\.hit\.|alert\.watchlist\.hit\.|binaryinfo\.|binarystore\.|ingress\.event\.)/.test(type)) return server ? 0.97 : 0.85;
      return 0;
    }
    if (own(j, 'watchlist_id') !== undefined && typeof own(j, 'watchlist_name') === 'string' && (Array.isArray(own(j, 'docs')) || server)) return 0.9;
    if (own(j, 'feed_id') !== undefined && typeof own(j, 'feed_name') === 'string' && own(j, 'ioc_type') !== undefined) return 0.9;
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
  throw new ParseError('no type, and neither a watchlist hit (watchlist_id) nor a feed hit (feed_id + ioc_type)');
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
  const doc = r.objects('docs', 1)[0];
  const d = doc ?? new Reader({}, 'docs[0]');
  const time = eventTime(r, doc);
  const endpoint = d.strings('endpoint', 1)[0]?.split('|');
  const account = splitAccount(r.str('username') ?? d.str('username'));
  const path = r.first('path', 'process_path') ?? d.first('path', 'process_path') ?? d.strings('observed_filename', 1)[0];
  const md5 = r.first('md5', 'process_md5') ?? d.first('process_md5', 'md5');
  const sha256 = r.first('sha256', 'process_sha256') ?? d.first('process_sha256', 'sha256');
  const processName = r.str('process_name') ?? d.str('process_name');
  const iocType = (r.loose('ioc_type') ?? '').toLowerCase();
  const iocValue = r.str('ioc_value');
  const attr = r.sub('ioc_attr');
  const inbound = /^in/i.test(attr.loose('direction') ?? '');
  const iocIp = iocType.startsWith('ipv') || iocType === 'ip' ? (iocType === 'ipv4' && /^-?\d+$/.test(iocValue ?? '') ? ipv4FromInt(Number(iocValue)) : iocValue) : undefined;
  const remote = iocIp ? compact({ ip: iocIp, port: attr.int('port') }) : undefined;
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
    file: compact({ name: baseName(path), path, md5: realHash(md5, 'md5'), sha256: realHash(sha256, 'sha256') }),
    process: compact({
      name: processName ?? (kind === 'block' ? baseName(path) : undefined),
      command_line: r.str('cmdline') ?? d.str('cmdline'),
      pid: r.int('pid') ?? r.int('process_pid') ?? d.int('process_pid'),
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

function contextOf(r: Reader, type: string): ContextEvent {
  const kind = type.startsWith('binaryinfo.') || type.startsWith('binarystore.')
    ? 'binary'
    : type.startsWith('ingress.event.')
      ? (r.loose('event_type') ?? type.slice('ingress.event.'.length)).toLowerCase().replace(/[^a-z0-9_]/g, '').slice(0, 32) || 'edr'
      : 'edr';
  const time = tryParseTimestamp(r.raw('timestamp')) ?? tryParseTimestamp(r.raw('event_timestamp')) ?? receivedTime();
  const remote = r.raw('remote_ip') ?? r.raw('ipv4');
  return {
    kind,
    time,
    data: { ...r.obj },
    observables: defined([
      makeObservable('md5', realHash(r.first('md5', 'process_md5'), 'md5'), 'file'),
      makeObservable('sha256', realHash(r.first('sha256', 'process_sha256'), 'sha256'), 'file'),
      makeObservable('host', r.first('computer_name', 'hostname'), 'host'),
      makeObservable('ip', hostIp(remote), 'dst'),
      makeObservable('ip', hostIp(r.raw('local_ip')), 'src'),
      makeObservable('domain', r.str('domain'), 'dst'),
      makeObservable('user', splitAccount(r.str('username'))?.name, 'user'),
    ]),
  };
}
