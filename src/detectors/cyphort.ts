/**
 * Cyphort Advanced Threat Defense (from 2016 Juniper Advanced Threat Prevention Appliance / JATP):
 * the incident API JSON that Netflix FIDO polled (`cyphortv2`, `cyphortv3`, fido-original.md §3.3–3.4)
 * and the appliance's own CEF / LEEF syslog ("CEF:0|Cyphort|Cortex|…", as JATP "CEF:0|JATP|Cortex|…",
 * Juniper "ATP Appliance CEF/LEEF/Syslog" guide notification examples).
 *
 * Sources: fido-original.md §3.3 (v2 positional arrays) and §3.4 (v3 event_array and incident_details);
 * Cyphort syslog test lines in a public Arista CloudVision connector (CyphortSyslogMsg.py: event types
 * cnc, http, email, exploit, datatheft, submission with eventId, externalId, lastActivityTime, src, dst,
 * malwareSeverity, malwareCategory, cncServers, fileHash, fileName, fileType, url, reqReferer) and the
 * ExabeamLabs "cyphort-alert" parser (|Cyphort|Cortex|, eventId, lastActivityTime, src, dst, fileName,
 * url, malwareSeverity, malwareCategory). No public JSON sample exists; the tests' JSON is reconstructed
 * from FIDO's field list.
 *
 * All records are alerts (Cyphort only reports threats):
 *   v2   {"correlations_array":[[…]], "downloads_array":[[…]], "infections_array":[[…]]}, one alert per row,
 *        positions as FIDO read them: id [1] ([0] for downloads), time [2], internal IP [4], MD5 [7],
 *        domain [11], URL [12], file type [14], external IP [16], malware [19] (correlations) / [20]
 *        (downloads). Traffic runs external [16] → internal [4] for downloads and correlations, internal
 *        → external for infections (C&C). Severity is not in the row: correlations 80, infections (C&C)
 *        75, downloads 60 (no vendor_severity). A bare row (no array name) cannot be classified and is
 *        refused.
 *   v3   {"event_array":[…]} or one event: event_id, event_type (http, cnc, email, exploit, datatheft,
 *        submission…), event_category, event_name, event_severity, last_activity_time, endpoint_ip /
 *        endpoint_name / endpoint_os_type (the victim: host), source_ip / source_name (the threat's end),
 *        incident_id, incident_risk. Titles as FIDO wrote them: "Malware downloaded: <name> Type:
 *        <category>", "CNC Detected: <name>".
 *        {"incident_details":{…}} (or the details object): one alert per download_array entry (event_id,
 *        source_url, file_md5_string, req_headers.host) and per infection_array entry (infection_id,
 *        cnc_servers); an incident with neither gives one incident-level alert.
 *   CEF / LEEF  type = signature id, name = malware, header severity 0-10, eventId, externalId,
 *        lastActivityTime|startTime, src (threat end) → dst (victim), fileHash (SHA-1 in practice, typed by
 *        length), fileName, fileType, url, cncServers, malwareCategory.
 * Every alert: event_type = the event type (http, cnc, email, exploit, datatheft, submission; v2:
 * correlation, download, infection); rule.id = the malware name (Cyphort has no rule ids: the detection's
 * stable name), else the type. Read when present (names of the JATP extension table, not seen in a sample):
 * src_hostname / dst_hostname (hosts), dst_username (user), src_email_id / dst_email_id (e-mail).
 * A category "Unknown" is no category. device = the syslog envelope's host (the appliance), or dvchost/dvc.
 * Severity: event_severity / malwareSeverity on Cyphort's 0-1 scale ×100 (1-10 ×10, 0-100 as is);
 * CEF/LEEF header 0-10 ×10 first. Time: last_activity_time etc., zone-less values in the source's zone.
 */
import { sniffJsonOrText } from './lib/sniff.js';
import type { AlertDraft, Endpoint } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { cefSeverity, findCefStart, parseCef } from './lib/cef.js';
import { receivedTime } from './lib/context.js';
import { LooseFields, firstDomain, firstUrl, meaningfulIp, objectList, pickList, pickObject, pickString, portOf, scalarMembers, splitAddresses } from './lib/fieldmap.js';
import { findLeefStart, parseLeef } from './lib/leef.js';
import { canonicalIp, hostOfUrl, makeObservable, normalizeHash } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { isPlaceholderText } from './lib/placeholders.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { excerpt, scalarString, trimEndChars } from './lib/text.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { compact, isObject, own, type JsonObject } from './lib/values.js';

const V2_ARRAYS = ['correlations_array', 'downloads_array', 'infections_array'] as const;
type V2Kind = (typeof V2_ARRAYS)[number];
const MAX_ROWS = 1000;
const SCALE = 'cyphort severity 0-1';

const cyphort: Detector = {
  name: 'cyphort',
  description: 'Cyphort / Juniper ATP: v2 and v3 incident API JSON (as FIDO polled it), Cortex CEF and LEEF syslog',
  format: 'text',
  sniff(record: RawRecord): number {
    // Juniper's ATP Appliance (JATP) writes the same messages with vendor "JATP".
    return sniffJsonOrText(record, sniffJson, (head) => (/(?:^|[\s>:])(?:CEF:\d{1,2}(?:\.\d{1,2})?|LEEF:\d(?:\.\d)?)\|(?:Cyphort|JATP\|Cortex)\|/i.test(head) ? 0.95 : 0));
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (Array.isArray(j)) throw new ParseError('a bare Cyphort v2 row cannot be classified: send it inside its response object ({"downloads_array": [[…]]} etc.)');
    if (isObject(j)) return { kind: 'alerts', alerts: alertsFromJson(j) };
    if (j !== undefined) throw new ParseError('Cyphort record must be a JSON object, CEF or LEEF');
    const text = trimEndChars(record.text, '\r\n');
    if (findCefStart(text) >= 0) {
      const ev = parseCef(text);
      checkVendor(ev.vendor);
      const f = new LooseFields(ev.labels, ev.extension);
      return { kind: 'alerts', alerts: [alertFromEvent({ type: ev.signatureId, name: ev.name, headerSeverity: ev.severity, envelopeTime: ev.envelope?.timestamp, device: ev.envelope?.hostname, syslog: true }, f)] };
    }
    if (findLeefStart(text) >= 0) {
      const ev = parseLeef(text);
      checkVendor(ev.vendor);
      const f = new LooseFields(ev.attributes);
      return { kind: 'alerts', alerts: [alertFromEvent({ type: ev.eventId, headerSeverity: f.get('sev'), envelopeTime: ev.envelope?.timestamp, device: ev.envelope?.hostname, syslog: true }, f)] };
    }
    throw new ParseError(`not a Cyphort record (no JSON, CEF or LEEF; starts: ${excerpt(text.trim())})`);
  },
};
export default defineDetector(cyphort);

function checkVendor(vendor: string): void {
  if (!/^(cyphort|jatp)$/i.test(vendor)) throw new ParseError(`vendor is "${excerpt(vendor)}", not Cyphort / Juniper ATP`);
}

// ---- JSON ---------------------------------------------------------------------------------------------------

function sniffJson(j: JsonObject): number {
  if (V2_ARRAYS.some((k) => Array.isArray(own(j, k)))) return 0.95;
  const events = own(j, 'event_array');
  if (Array.isArray(events)) return events.length === 0 || events.some((e) => isObject(e) && isV3Event(e)) ? 0.95 : 0.5;
  if (isV3Event(j)) return 0.9;
  const details = pickObject(j, 'incident_details') ?? j;
  if (isIncidentDetails(details)) return details === j ? 0.85 : 0.95;
  return 0;
}

function isV3Event(e: JsonObject): boolean {
  return own(e, 'event_id') !== undefined && typeof own(e, 'event_type') === 'string' && (own(e, 'endpoint_ip') !== undefined || own(e, 'source_ip') !== undefined || own(e, 'incident_id') !== undefined);
}

function isIncidentDetails(d: JsonObject): boolean {
  const flags = ['has_download', 'has_infection', 'has_exploit', 'has_execution', 'has_data_theft', 'has_file_submission'].filter((k) => own(d, k) !== undefined).length;
  return flags >= 2 || Array.isArray(own(d, 'download_array')) || Array.isArray(own(d, 'infection_array'));
}

function alertsFromJson(j: JsonObject): AlertDraft[] {
  if (V2_ARRAYS.some((k) => own(j, k) !== undefined)) return v2Alerts(j);
  const events = own(j, 'event_array');
  if (events !== undefined) {
    if (!Array.isArray(events)) throw new ParseError('event_array is not an array');
    const list = objectList(events, MAX_ROWS);
    if (!list.length) throw new ParseError('event_array holds no events');
    return list.map((e) => alertFromEvent({ type: pickString(e, 'event_type') }, eventFields(e)));
  }
  if (isV3Event(j)) return [alertFromEvent({ type: pickString(j, 'event_type') }, eventFields(j))];
  const details = pickObject(j, 'incident_details') ?? j;
  if (isIncidentDetails(details)) return incidentAlerts(details, j);
  throw new ParseError('not a Cyphort API record (expected correlations/downloads/infections arrays, event_array, an event with event_id/event_type, or incident_details)');
}

function eventFields(e: JsonObject): LooseFields {
  return new LooseFields(scalarMembers(e));
}

// ---- v2 positional rows ---------------------------------------------------------------------------------------

function v2Alerts(j: JsonObject): AlertDraft[] {
  const out: AlertDraft[] = [];
  for (const kind of V2_ARRAYS) {
    const rows = own(j, kind);
    if (rows === undefined || rows === null) continue;
    if (!Array.isArray(rows)) throw new ParseError(`${kind} is not an array`);
    // FIDO reversed each array to process the oldest first; order does not matter for Fido.
    rows.slice(0, MAX_ROWS).forEach((row, n) => {
      if (!Array.isArray(row)) throw new ParseError(`${kind}[${n}] is not a positional array`);
      out.push(v2Alert(kind, row.map((c) => scalarString(c)?.trim() ?? '')));
    });
  }
  if (!out.length) throw new ParseError('Cyphort v2 response holds no rows');
  return out;
}

function v2Alert(kind: V2Kind, row: string[]): AlertDraft {
  const at = (i: number) => (row[i] !== undefined && row[i] !== '' ? row[i] : undefined);
  const id = kind === 'downloads_array' ? at(0) : at(1);
  const internal = meaningfulIp(at(4));
  const external = meaningfulIp(at(16));
  const malware = kind === 'correlations_array' ? at(19) : kind === 'downloads_array' ? at(20) : (at(19) ?? at(20));
  const time = at(2);
  const title =
    kind === 'correlations_array' ? `Infection and download: ${malware ?? 'unknown malware'}`
    : kind === 'downloads_array' ? `Malware download detected: ${malware ?? 'unknown malware'}`
    : `C&C external communication detected${malware && !canonicalIp(malware) ? `: ${malware}` : ''}`;
  const outbound = kind === 'infections_array';
  const inside: Endpoint = { ip: internal };
  const outside: Endpoint = { ip: external, host: at(11) };
  const h = normalizeHash(at(7));
  const type = kind.replace('s_array', '');
  const named = malware && !canonicalIp(malware) ? malware : undefined;
  return {
    vendor_id: id ? `${kind.replace('_array', '')}:${id}` : undefined,
    event_type: type,
    time: time ? parseTimestamp(time, { field: `${kind}[2]` }) : receivedTime(),
    title,
    rule: compact({ id: named ?? type, name: malware ?? title, category: type }),
    severity: kind === 'correlations_array' ? 80 : kind === 'infections_array' ? 75 : 60,
    action: 'detected',
    src: compact(outbound ? inside : outside),
    dst: compact(outbound ? outside : inside),
    host: compact({ ip: internal, os: at(6) }),
    file: h ? compact({ [h.type]: h.value }) : undefined,
    url: at(12),
    domain: at(11),
    malware: malware && !canonicalIp(malware) ? { name: malware } : undefined,
    observables: [],
  };
}

// ---- v3 incident details ------------------------------------------------------------------------------------

function incidentAlerts(d: JsonObject, outer: JsonObject): AlertDraft[] {
  const incident = new LooseFields(scalarMembers(d), d === outer ? undefined : scalarMembers(outer));
  const incidentId = incident.get('incident_id', 'id');
  const alerts: AlertDraft[] = [];
  for (const dl of pickList(d, 'download_array')) {
    const f = new LooseFields(scalarMembers(dl), scalarMembers(pickObject(dl, 'req_headers') ?? {}));
    const url = f.get('source_url', 'url');
    const name = f.get('malware_name', 'event_name', 'name') ?? f.get('file_name', 'filename') ?? url;
    alerts.push(alertFromEvent({ type: 'http', name: `Malware downloaded: ${name ?? 'unknown file'}`, incident }, f, { id: f.get('event_id') ?? incidentId, url, host: f.get('host') }));
  }
  for (const inf of pickList(d, 'infection_array')) {
    const f = new LooseFields(scalarMembers(inf));
    const cnc = f.get('cnc_servers', 'cnc_server', 'cnc');
    alerts.push(alertFromEvent({ type: 'cnc', name: `Infection (C&C) detected: ${f.get('malware_name', 'event_name', 'name') ?? cnc ?? 'unknown'}`, incident }, f, { id: f.get('infection_id', 'event_id') ?? incidentId, cnc }));
  }
  if (alerts.length) return alerts;
  const stages = ['has_exploit', 'has_download', 'has_execution', 'has_infection', 'has_data_theft', 'has_file_submission']
    .filter((k) => own(d, k) === true || own(d, k) === 1 || own(d, k) === 'true')
    .map((k) => k.slice(4).replace(/_/g, ' '));
  return [alertFromEvent({ type: 'incident', name: `Cyphort incident${incidentId ? ` ${incidentId}` : ''}${stages.length ? `: ${stages.join(', ')}` : ''}`, incident }, incident, { id: incidentId })];
}

// ---- the event mapping (v3 JSON events, incident entries, CEF, LEEF) -----------------------------------------------

interface EventHeader {
  type?: string;
  /** Title override or the CEF Name (the malware). */
  name?: string;
  headerSeverity?: string;
  envelopeTime?: string;
  /** The appliance that sent the syslog message (the envelope's host name). */
  device?: string;
  syslog?: boolean;
  /** The incident an entry belongs to: fallback for its time, hosts, severity. */
  incident?: LooseFields;
}

interface Extras {
  id?: string;
  url?: string;
  host?: string;
  cnc?: string;
}

function alertFromEvent(h: EventHeader, f: LooseFields, x: Extras = {}): AlertDraft {
  const inc = h.incident;
  const get = (...keys: string[]) => f.get(...keys) ?? inc?.get(...keys);
  const type = (h.type ?? get('event_type', 'type'))?.toLowerCase();
  const malwareName = h.syslog ? (h.name?.trim() || get('event_name', 'malware_name')) : get('event_name', 'malware_name', 'malwareName');
  const categoryText = get('event_category', 'malwareCategory', 'malware_category', 'category');
  const category = categoryText && !isPlaceholderText(categoryText) ? categoryText : undefined; // "Unknown" is no category
  const title = h.syslog || !h.name ? titleOf(type, malwareName, category) : h.name;
  const sev = severityOf(h.headerSeverity, get('event_severity', 'malwareSeverity', 'malware_severity', 'severity'), get('incident_risk', 'risk'));
  // Cyphort's "source" is the threat's end (download server, C&C server, sender); its port is the service's.
  const source: Endpoint = { ip: meaningfulIp(get('source_ip', 'src', 'sourceAddress')), host: get('source_name', 'shost', 'src_hostname'), port: portOf(get('port', 'spt', 'source_port')) };
  const endpoint: Endpoint = { ip: meaningfulIp(get('endpoint_ip', 'dst', 'destinationAddress')), host: get('endpoint_name', 'dhost', 'dst_hostname'), port: portOf(get('dpt', 'endpoint_port')) };
  // The victim's account (JATP: dst_username) and, for e-mail events, sender and recipient addresses.
  const user = splitAccount(get('dst_username', 'duser', 'endpoint_user', 'username'));
  const from = get('src_email_id', 'sender', 'mail_from');
  const to = splitAddresses(get('dst_email_id', 'recipient', 'emailRecipients', 'mail_to'));
  const url = firstUrl(x.url, get('url', 'source_url', 'request'));
  const cnc = splitAddresses(x.cnc ?? get('cncServers', 'cnc_servers'));
  const h1 = normalizeHash(get('fileHash', 'file_md5_string', 'file_md5', 'md5'));
  const h2 = normalizeHash(get('file_sha1_string', 'file_sha1', 'sha1'));
  const h3 = normalizeHash(get('file_sha256_string', 'file_sha256', 'sha256'));
  const file: NonNullable<AlertDraft['file']> = {};
  for (const hh of [h1, h2, h3]) if (hh && file[hh.type] === undefined) file[hh.type] = hh.value;
  file.name = get('fileName', 'file_name', 'fname', 'filename');
  const observables: Array<Observable | undefined> = [];
  for (const c of cnc ?? []) observables.push(canonicalIp(c) ? makeObservable('ip', c, 'cnc') : makeObservable('domain', c, 'cnc'));
  const referer = get('reqReferer', 'referer');
  if (referer) observables.push(makeObservable('url', referer, 'referer'));
  const id = x.id ?? get('event_id', 'eventId');
  const incidentId = get('incident_id', 'externalId');
  return {
    vendor_id: id ? (h.syslog && incidentId ? `${incidentId}:${id}` : id) : incidentId,
    event_type: type,
    time: timeOf(get),
    title,
    // Cyphort's detections have no rule id: the malware name (TROJAN_Zbot.CY) is the detection's stable name.
    rule: compact({ id: malwareName ?? type, name: malwareName ?? title, category: category ?? type }),
    severity: sev.severity,
    vendor_severity: sev.vendor,
    action: 'detected',
    src: compact(source),
    dst: compact(endpoint),
    host: compact({ ip: endpoint.ip, name: endpoint.host, os: get('endpoint_os_type', 'os') }),
    device: compact({ name: get('dvchost') ?? h.device, ip: get('dvc') }),
    user: user ?? (to?.length === 1 ? { name: to[0], email: to[0] } : undefined),
    email: from || to?.length ? compact({ from, to, subject: get('emailSubject', 'email_subject', 'subject') }) : undefined,
    file: compact(file),
    url,
    domain: domainOf(x.host ?? get('host'), source.host, url, cnc),
    malware: malwareName ? compact({ name: malwareName, family: category }) : undefined,
    observables: defined(observables),
  };
}

/** FIDO's titles for http and cnc events (§3.4), generic ones for the rest. */
function titleOf(type: string | undefined, name: string | undefined, category: string | undefined): string {
  const n = name ?? 'unknown malware';
  switch (type) {
    case 'http':
    case 'download':
      return `Malware downloaded: ${n}${category ? ` Type: ${category}` : ''}`;
    case 'cnc':
      return `CNC Detected: ${n}`;
    case 'email':
      return `Malicious e-mail: ${n}`;
    case 'exploit':
      return `Exploit: ${n}`;
    case 'datatheft':
      return `Data theft: ${n}`;
    case 'submission':
      return `File submission: ${n}`;
    default:
      return type ? `Cyphort ${type}: ${n}` : `Cyphort: ${n}`;
  }
}

function severityOf(header: string | undefined, value: string | undefined, risk: string | undefined): { severity: number; vendor?: AlertDraft['vendor_severity'] } {
  const h = header !== undefined ? cefSeverity(header) : undefined;
  if (h !== undefined) return { severity: h, vendor: { value: header!, scale: 'cyphort cef/leef 0-10' } };
  for (const v of [value, risk]) {
    if (v === undefined) continue;
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n) && n >= 0) {
      const s = n <= 1 ? n * 100 : n <= 10 ? n * 10 : n <= 100 ? n : undefined;
      if (s !== undefined) return { severity: Math.round(s), vendor: { value: v, scale: n <= 1 ? SCALE : n <= 10 ? 'cyphort severity 0-10' : 'cyphort severity 0-100' } };
    }
    const w = wordSeverity(v);
    if (w !== undefined) return { severity: w, vendor: { value: v, scale: 'cyphort risk words' } };
  }
  return { severity: UNKNOWN_SEVERITY };
}

function timeOf(get: (...keys: string[]) => string | undefined): string {
  const primary = get('last_activity_time', 'lastActivityTime', 'event_time', 'rt', 'timestamp');
  if (primary) return parseTimestamp(primary, { field: 'last_activity_time' });
  for (const v of [get('start', 'startTime', 'first_activity_time', 'submissionTime'), get('end')]) {
    const t = tryParseTimestamp(v);
    if (t) return t;
  }
  return receivedTime();
}

function domainOf(reqHost: string | undefined, sourceName: string | undefined, url: string | undefined, cnc: string[] | undefined): string | undefined {
  return firstDomain(reqHost?.replace(/:\d+$/, ''), sourceName, hostOfUrl(url), ...(cnc ?? []));
}
