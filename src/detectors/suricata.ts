/**
 * Suricata EVE JSON (https://docs.suricata.io/en/latest/output/eve/eve-json-format.html), one object per
 * line. The reference detector: small functions, typed access through lib/values.ts, ParseError for input
 * that is not what the format promises.
 *
 * Common section: timestamp, flow_id, in_iface, event_type, src_ip, src_port, dest_ip, dest_port, proto,
 * app_proto, tx_id, pcap_cnt, community_id, direction (7+), host (the sensor name, if configured).
 *
 * event_type "alert" → one alert:
 *   title, rule        alert.signature; rule.id = alert.signature_id, "gid:sid" when alert.gid is not 1 (never
 *                      the revision); rule.category = alert.category; event_type "alert"
 *   severity           alert.severity (classification priority: 1 high … 3 low; rules may go up to 255)
 *                      → 1: 80, 2: 55, 3: 30, 4+: 15; recorded as vendor_severity. Severity 1 is "high", not
 *                      "critical": ET puts whole POLICY families at priority 1.
 *   action             alert.action allowed|blocked; the engine's final verdict (7+: verdict.action
 *                      drop/reject, or a verdict string) wins, because alert.action stays "allowed" when
 *                      another rule dropped the packet.
 *   src / dst          src_ip:src_port → dest_ip:dest_port (the packet's direction)
 *   dst.host, domain   http.hostname, else tls.sni, else the first DNS query name (domain only); the host
 *                      name goes on the server side (usually dest; see serverSide for responses)
 *   url                http.url, made absolute with http.hostname (or the server IP) and a non-80 port
 *   file               fileinfo (filename, md5, sha1, sha256, size), or the first of files[] (7+)
 *   email              email.from / email.to / email.subject (SMTP)
 *   malware.family     alert.metadata.malware_family (ET rule metadata)
 *   host.ip            alert.target.ip, when the rule names its target (7+ `target` keyword)
 *   device.name        the sensor's `host`, as on context events (sensorOf); never host, never an indicator
 *   vendor_id          flow_id:signature_id:timestamp: stable per event, so a re-delivered line dedups
 *   observables        + ether.src_mac / ether.dest_mac (MACs, roles src/dst), hashes of every file
 * Any other event_type becomes a context event (event_type as written; kind by KIND: flow, dns, tls, http,
 * file, dhcp, auth, email, status, other) with the same network facts (src, dst, domain, url, file), flow_id as
 * session_id, flow.start/end, the sensor's `host` as device (as on alerts), the DHCP lease (assigned_ip, client
 * host, ack/nak as outcome) and the Kerberos client; the record (minus timestamp/event_type) stays in data.
 * docs/detectors/suricata.md has the whole mapping.
 */
import type { AlertDraft, DetectorAction, Endpoint, FileInfo, HostInfo } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import type { ContextKind } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { canonicalIp, makeObservable, normalizeDomain } from './lib/observables.js';
import { splitAccount } from './lib/record.js';
import { parseTimestamp } from './lib/time.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { snortRuleId } from './lib/snort-alert.js';
import { compact, isObject, optArray, optInt, optObject, optString, own, reqString, type JsonObject } from './lib/values.js';

const EVENT_TYPES = new Set([
  'alert', 'anomaly', 'drop', 'flow', 'netflow', 'http', 'http2', 'dns', 'tls', 'ssh', 'smtp', 'fileinfo', 'stats', 'dhcp',
  'smb', 'nfs', 'krb5', 'ike', 'ikev2', 'rdp', 'sip', 'snmp', 'mqtt', 'rfb', 'ftp', 'ftp_data', 'dnp3', 'modbus', 'tftp',
  'pgsql', 'quic', 'bittorrent-dht', 'frame', 'dcerpc', 'arp', 'ldap', 'websocket', 'mdns', 'doh2', 'enip', 'pop3', 'imap', 'ntp',
]);

const SCALE = 'suricata 1 (high) - 3 (low)';

const suricata: Detector = {
  name: 'suricata',
  description: 'Suricata EVE JSON: alerts; flow/dns/http/tls/fileinfo/… events as context',
  format: 'json',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (!isObject(j) || typeof own(j, 'event_type') !== 'string' || typeof own(j, 'timestamp') !== 'string') return 0;
    const type = own(j, 'event_type') as string;
    const tuple = typeof own(j, 'src_ip') === 'string' || typeof own(j, 'flow_id') === 'number';
    if (EVENT_TYPES.has(type) && (tuple || type === 'stats')) return 0.95;
    return 0.6; // EVE shape but an unknown type or no 5-tuple: still most likely Suricata
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('EVE record must be a JSON object');
    const eventType = own(j, 'event_type');
    if (typeof eventType !== 'string' || eventType === '') {
      throw new ParseError(eventType === undefined ? 'missing event_type' : `event_type is ${JSON.stringify(eventType).slice(0, 40)}, expected a string`);
    }
    const time = parseTimestamp(reqString(j, 'timestamp'), { field: 'timestamp' });
    if (eventType === 'alert') return { kind: 'alerts', alerts: [alertFrom(j, time, record.text)] };
    return { kind: 'context', events: [contextFrom(j, eventType, time)] };
  },
};
export default defineDetector(suricata);

// ---- alerts -------------------------------------------------------------------------------------------------

function alertFrom(j: JsonObject, time: string, text: string): AlertDraft {
  const alert = optObject(j, 'alert');
  if (!alert) throw new ParseError('event_type is alert but there is no alert object');
  const signature = reqString(alert, 'signature', 'alert.signature');
  const sid = optInt(alert, 'signature_id', 'alert.signature_id');
  const gid = optInt(alert, 'gid', 'alert.gid');
  const sev = optInt(alert, 'severity', 'alert.severity');
  const facts = networkFacts(j);
  const target = optObject(alert, 'target', 'alert.target');
  const family = firstMetadata(alert, 'malware_family');
  return {
    vendor_id: vendorId(j, text, sid),
    time,
    title: signature,
    event_type: 'alert',
    // Snort-language rules: the sid, `gid:sid` when the generator is not 1 (decoder, stream and app-layer events).
    rule: compact({ id: sid === undefined ? undefined : snortRuleId(gid ?? 1, sid), name: signature, category: optString(alert, 'category', 'alert.category') }),
    severity: severityOf(sev),
    vendor_severity: sev === undefined ? undefined : { value: String(sev), scale: SCALE },
    action: actionOf(j, alert),
    ...facts.fields,
    host: target ? compact({ ip: optString(target, 'ip', 'alert.target.ip') }) : undefined,
    device: sensorOf(j),
    malware: family ? { family } : undefined,
    observables: facts.extra,
  };
}

function severityOf(sev: number | undefined): number {
  if (sev === undefined) return UNKNOWN_SEVERITY;
  if (sev <= 1) return 80;
  if (sev === 2) return 55;
  if (sev === 3) return 30;
  return 15;
}

function actionOf(j: JsonObject, alert: JsonObject): DetectorAction {
  const v = own(j, 'verdict');
  const verdict = typeof v === 'string' ? v : isObject(v) && typeof own(v, 'action') === 'string' ? (own(v, 'action') as string) : undefined;
  if (verdict && /^(drop|reject|rejected|blocked)/i.test(verdict)) return 'blocked';
  const action = optString(alert, 'action', 'alert.action');
  if (action === 'blocked') return 'blocked';
  if (action === 'allowed') return 'allowed';
  return 'unknown';
}

function firstMetadata(alert: JsonObject, key: string): string | undefined {
  const meta = own(alert, 'metadata');
  if (!isObject(meta)) return undefined;
  const v = own(meta, key);
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first.replace(/_/g, ' ') : undefined;
}

/**
 * flow_id:signature_id:timestamp. flow_id can exceed 2^53 on some builds, so its digits are taken from the
 * text when they agree with the parsed number (JSON.parse would round them).
 */
function vendorId(j: JsonObject, text: string, sid: number | undefined): string {
  const flow = own(j, 'flow_id');
  let flowText = typeof flow === 'number' && Number.isFinite(flow) ? String(flow) : typeof flow === 'string' ? flow : 'noflow';
  const exact = /"flow_id"\s*:\s*(\d{1,20})\b/.exec(text)?.[1];
  if (exact && typeof flow === 'number' && Number(exact) === flow) flowText = exact;
  return `${flowText}:${sid ?? 'nosid'}:${own(j, 'timestamp') as string}`;
}

// ---- what alerts and context share -----------------------------------------------------------------------

interface NetworkFacts {
  fields: Pick<AlertDraft, 'src' | 'dst' | 'url' | 'domain' | 'file' | 'email'>;
  /** Indicators without an alert field: MACs, hashes of further files. */
  extra: Observable[];
}

function networkFacts(j: JsonObject): NetworkFacts {
  const src: Endpoint = { ip: optString(j, 'src_ip'), port: optInt(j, 'src_port') };
  const dst: Endpoint = { ip: optString(j, 'dest_ip'), port: optInt(j, 'dest_port') };
  const http = optObject(j, 'http');
  const tls = optObject(j, 'tls');
  const hostname = http ? optString(http, 'hostname', 'http.hostname') : undefined;
  const sni = tls ? optString(tls, 'sni', 'tls.sni') : undefined;
  const name = hostname ?? sni;
  const server = serverSide(j, src, dst, name);
  if (name && !canonicalIp(name)) server.host = name.replace(/\.$/, ''); // "a.example." is the same host
  const files = fileList(j);
  const extra: Observable[] = [];
  const ether = optObject(j, 'ether');
  if (ether) extra.push(...[makeObservable('mac', own(ether, 'src_mac'), 'src'), makeObservable('mac', own(ether, 'dest_mac'), 'dst')].filter(isDefined));
  for (const f of files.slice(1)) extra.push(...[makeObservable('md5', f.md5, 'file'), makeObservable('sha1', f.sha1, 'file'), makeObservable('sha256', f.sha256, 'file')].filter(isDefined));
  return {
    fields: {
      src: compact(src),
      dst: compact(dst),
      url: http ? absoluteUrl(http, hostname ?? server.ip, server.port) : undefined,
      domain: normalizeDomain(name) ?? normalizeDomain(dnsQueryName(j)),
      file: files[0],
      email: emailOf(j),
    },
    extra,
  };
}

/**
 * EVE writes the tuple in the direction of the packet that was logged, so a response (a downloaded file,
 * an alert on server content) has the server as src. Which side serves the HTTP/TLS name: the `direction`
 * field (7+) if present; else the side whose address is the HTTP host; else, when exactly one port is below
 * 10000 (client ports are ephemeral: 32768+ on Linux, 49152+ on Windows and macOS), that side; else dest.
 */
function serverSide(j: JsonObject, src: Endpoint, dst: Endpoint, name: string | undefined): Endpoint {
  const direction = own(j, 'direction');
  if (direction === 'to_client') return src;
  if (direction === 'to_server') return dst;
  const ip = name ? canonicalIp(name) : undefined;
  if (ip && ip === canonicalIp(src.ip) && ip !== canonicalIp(dst.ip)) return src;
  if (ip && ip === canonicalIp(dst.ip)) return dst;
  if (src.port !== undefined && dst.port !== undefined && src.port < 10000 && dst.port >= 10000) return src;
  return dst;
}

/**
 * The sensor that logged the record: EVE's `host` (the `sensor-name` setting, when configured). It is the
 * alert's and the context event's `device`, never its `host` (what the alert is about) and never an indicator.
 */
function sensorOf(j: JsonObject): HostInfo | undefined {
  const name = strOrUndef(own(j, 'host'));
  return name ? { name } : undefined;
}

function isDefined<T>(v: T | undefined): v is T {
  return v !== undefined;
}

/** http.url is usually a path ("/x"); with the host (and a port other than 80) it becomes a full URL. */
function absoluteUrl(http: JsonObject, host: string | undefined, serverPort: number | undefined): string | undefined {
  const url = optString(http, 'url', 'http.url');
  if (!url) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url; // proxy requests carry the absolute form
  if (!host) return undefined;
  const port = optInt(http, 'http_port', 'http.http_port') ?? serverPort;
  const h = host.includes(':') && canonicalIp(host) ? `[${host}]` : host;
  return `http://${h}${port && port !== 80 ? `:${port}` : ''}${url.startsWith('/') ? url : `/${url}`}`;
}

function dnsQueryName(j: JsonObject): string | undefined {
  const dns = optObject(j, 'dns');
  if (!dns) return undefined;
  const direct = optString(dns, 'rrname', 'dns.rrname');
  if (direct) return direct;
  // Alerts log queries as dns.query[] (≤ 7) or dns.queries[] (8+).
  for (const key of ['queries', 'query']) {
    const list = optArray(dns, key, `dns.${key}`);
    const first = list?.[0];
    if (isObject(first) && typeof own(first, 'rrname') === 'string') return own(first, 'rrname') as string;
  }
  return undefined;
}

function fileList(j: JsonObject): FileInfo[] {
  const sources: unknown[] = [];
  const fileinfo = optObject(j, 'fileinfo');
  if (fileinfo) sources.push(fileinfo);
  sources.push(...(optArray(j, 'files') ?? []).slice(0, 64));
  return sources.filter(isObject).map((f) => {
    const path = typeof own(f, 'filename') === 'string' ? (own(f, 'filename') as string) : undefined;
    return {
      name: path?.split(/[\\/]/).pop() || undefined, // SMB transfers name files with backslashes
      path,
      md5: strOrUndef(own(f, 'md5')),
      sha1: strOrUndef(own(f, 'sha1')),
      sha256: strOrUndef(own(f, 'sha256')),
      size: typeof own(f, 'size') === 'number' ? (own(f, 'size') as number) : undefined,
    };
  }).map((f) => compact(f)).filter(isDefined);
}

function strOrUndef(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function emailOf(j: JsonObject): AlertDraft['email'] {
  const email = optObject(j, 'email');
  if (!email) return undefined;
  const to = own(email, 'to');
  return compact({
    from: strOrUndef(own(email, 'from')),
    to: Array.isArray(to) ? to.filter((t): t is string => typeof t === 'string') : typeof to === 'string' ? [to] : undefined,
    subject: strOrUndef(own(email, 'subject')),
  });
}

// ---- context ---------------------------------------------------------------------------------------------

/** EVE event types → context kinds; app-layer transactions not listed here are connections (flow). */
const KIND: Record<string, ContextKind> = {
  flow: 'flow', netflow: 'flow', dns: 'dns', mdns: 'dns', doh2: 'dns', tls: 'tls', quic: 'tls', http: 'http', http2: 'http',
  fileinfo: 'file', dhcp: 'dhcp', smtp: 'email', pop3: 'email', imap: 'email', krb5: 'auth', stats: 'status',
  anomaly: 'other', drop: 'flow', frame: 'other',
};

function kindOf(eventType: string, j: JsonObject): ContextKind {
  return KIND[eventType] ?? (typeof own(j, 'src_ip') === 'string' ? 'flow' : 'other');
}

/** Context facts are read leniently (strOrUndef): a field of an unexpected type is left out, the event kept. */
function contextFrom(j: JsonObject, eventType: string, time: string): ContextEvent {
  // fromEntries defines own properties: a record's "__proto__" key stays data instead of becoming a prototype.
  const data = Object.fromEntries(Object.entries(j).filter(([k]) => k !== 'timestamp' && k !== 'event_type'));
  const { fields, extra } = networkFacts(j);
  const flow = optObject(j, 'flow');
  const flowId = own(j, 'flow_id');
  return {
    kind: kindOf(eventType, j),
    event_type: eventType,
    time,
    src: fields.src,
    dst: fields.dst,
    domain: fields.domain,
    url: fields.url,
    file: fields.file,
    // flow_id ties the flow, its app-layer events and its alerts together.
    session_id: typeof flowId === 'number' || typeof flowId === 'string' ? String(flowId) : undefined,
    start: flow ? strOrUndef(own(flow, 'start')) : undefined,
    end: flow ? strOrUndef(own(flow, 'end')) : undefined,
    device: sensorOf(j),
    ...dhcpFacts(j),
    ...krb5Facts(j),
    data,
    observables: [...extra, ...dnsAnswers(j)],
  };
}

/** dhcp: the lease (assigned_ip), the client's MAC and name, and whether the server granted (ack) or refused (nak). */
function dhcpFacts(j: JsonObject): Partial<ContextEvent> {
  const dhcp = optObject(j, 'dhcp');
  if (!dhcp) return {};
  const type = strOrUndef(own(dhcp, 'dhcp_type'));
  return {
    assigned_ip: strOrUndef(own(dhcp, 'assigned_ip')),
    host: compact({ name: strOrUndef(own(dhcp, 'hostname')), mac: strOrUndef(own(dhcp, 'client_mac')), ip: strOrUndef(own(dhcp, 'client_ip')) }),
    outcome: type === 'ack' ? 'success' : type === 'nak' ? 'failure' : undefined,
  };
}

/** krb5: the client principal (a UPN-like "alice@REALM" stays whole, as the convention says); an error means the KDC refused. */
function krb5Facts(j: JsonObject): Partial<ContextEvent> {
  const krb = optObject(j, 'krb5');
  if (!krb) return {};
  // Suricata writes "<empty>" for a principal or realm the request did not carry.
  const given = (key: string) => {
    const v = strOrUndef(own(krb, key));
    return v === '<empty>' ? undefined : v;
  };
  const cname = given('cname');
  const failed = given('failed_request') ?? given('error_code');
  return {
    user: splitAccount(cname, given('realm')),
    outcome: failed ? 'failure' : undefined,
  };
}

/** DNS answers (v1 rdata, v2 answers[]/grouped) as indicators: which name resolved to which address. */
function dnsAnswers(j: JsonObject): Observable[] {
  const dns = optObject(j, 'dns');
  if (!dns) return [];
  const values: unknown[] = [own(dns, 'rdata')];
  const answers = own(dns, 'answers');
  if (Array.isArray(answers)) for (const a of answers.slice(0, 64)) if (isObject(a)) values.push(own(a, 'rdata'));
  const grouped = own(dns, 'grouped');
  if (isObject(grouped)) for (const t of ['A', 'AAAA', 'CNAME']) values.push(...((Array.isArray(own(grouped, t)) ? own(grouped, t) : []) as unknown[]).slice(0, 64));
  return values
    .map((v) => (typeof v === 'string' ? (canonicalIp(v) ? makeObservable('ip', v, 'dns') : makeObservable('domain', v, 'dns')) : undefined))
    .filter(isDefined);
}
