/**
 * Lastline Enterprise (from 2020 VMware NSX Network Detection and Response): the sensor/manager "syslog
 * notifications" in LEEF or CEF, and detection events as JSON. Netflix FIDO listed Lastline as planned
 * (`lastlinev1` was a no-op poller, fido-original.md §2.1 and §3.11), so there is no FIDO field list; the
 * mapping follows the vendor's own notification fields.
 *
 * Sources: user.lastline.com "Syslog Integration" guide (trigger categories: detection events, appliance
 * status/check-in/messages, audit); Trellix ESM "Lastline Enterprise log format and field mapping" (CEF
 * sample: cat, cn1Label=impact, cn2Label=IncidentId, cn3Label=IncidentImpact, cs1Label=detectionId,
 * cs2Label=EventDetailLink, cs3Label=EventUrl, deviceExternalId, externalId, start/end/rt, src/dst/dpt,
 * fileHash, fileSHA1, dhost); FortiSIEM Lastline page (CEF appliance-status sample); ExabeamLabs
 * Content-Doc Lastline parsers (LEEF:…|Lastline|Enterprise|…: devTime "MMM dd yyyy HH:mm:ss z", desc,
 * sev, cat, emailSubject, sender, usrName, fname, fileHash, mailUrl, mailUrlHash, EventDetailLink,
 * deviceExternalId; event ids signature-match, dns-resolution, email-attachment, email-url…).
 * JSON: no public sample exists; records with the same field names (any case, snake_case or camelCase:
 * event_id, event_time, threat, threat_class, impact, src_ip, dst_ip, dst_port, detection_id,
 * incident_id, file_md5, file_sha1, url…) are read with the same mapping. That form is reconstructed,
 * not verified against a real record.
 *
 * Alerts: every detection event (signature-match, dns-resolution, email-attachment, email-url,
 * command-and-control, malicious-download, …).
 *   title        "<event name>: <threat class>/<threat>" (IDS Signature Match: drive-by/Fiesta EK)
 *   event_type   the LEEF/CEF event id (signature-match, dns-resolution, email-attachment…)
 *   rule         id = threatId | signatureId when given, else cat (the detection's stable name: class/threat),
 *                name = cat, category = threat class
 *   severity     impact 0-100 as is (Lastline's own scale); else header sev 0-10 ×10
 *   time         rt | devTime | start | end | event_time, else the syslog header, else received
 *   action       act (LOG → detected, BLOCK → blocked)
 *   src / dst    src, spt|srcPort, shost / dst, dpt|dstPort, dhost; host = the internal end (else src)
 *   url, domain  EventUrl | mailUrl | url | request; domain from it or dhost when that is a name
 *   file         fname, fileHash (type by length), fileSHA1, fileSHA256
 *   email        sender|suser → from, usrName|duser|recipient → to, emailSubject → subject (email-*)
 *   malware.name the threat (the part after "class/"), vendor_id externalId, else detectionId
 *   device       the reporting sensor/manager: dvchost | ApplianceName, dvc, deviceExternalId
 * Context: appliance-status / appliance-checkin / appliance-message (kind "status") and audit events
 * (kind "audit"): they say nothing about a threat. event_type = the event id; device = dvchost, dvc,
 * deviceExternalId; user = suser | usrName; data = the record's own fields.
 */
import { sniffJsonOrText } from './lib/sniff.js';
import type { AlertDraft, Endpoint } from '../model/alert.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { cefSeverity, findCefStart, parseCef } from './lib/cef.js';
import { receivedTime } from './lib/context.js';
import { LooseFields, baseName, firstDomain, firstUrl, internalSide, portOf, scalarMembers, splitAddresses } from './lib/fieldmap.js';
import { findLeefStart, parseLeef } from './lib/leef.js';
import { canonicalIp, hostOfUrl, makeObservable, normalizeHash } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { excerpt, trimEndChars } from './lib/text.js';
import { parseTimestamp, parseZone, tryParseTimestamp } from './lib/time.js';
import { compact, isObject, type JsonObject } from './lib/values.js';

const IMPACT_SCALE = 'lastline impact 0-100';
const HEADER_SCALE = 'lastline sev 0-10';

const lastline: Detector = {
  name: 'lastline',
  description: 'Lastline Enterprise / VMware NSX NDR: LEEF and CEF syslog notifications, JSON detection events',
  format: 'text',
  sniff(record: RawRecord): number {
    return sniffJsonOrText(record, sniffJson, (head) => {
      // The NSX product name is checked apart: /NSX[^|]*(?:NDR|Detection)[^|]*/ took quadratic time.
      const product = /(?:^|[\s>:])(?:LEEF:\d(?:\.\d)?|CEF:\d{1,2}(?:\.\d{1,2})?)\|(?:Lastline|VMware)\|(Enterprise|Lastline|NSX[^|]*)\|/i.exec(head)?.[1];
      return product !== undefined && (!/^NSX/i.test(product) || /NDR|Detection/i.test(product)) ? 0.95 : 0;
    });
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (isObject(j)) return fromFields({ eventType: pickType(j), raw: j }, jsonFields(j));
    if (j !== undefined) throw new ParseError('Lastline record must be a JSON object, LEEF or CEF');
    const text = trimEndChars(record.text, '\r\n');
    if (findLeefStart(text) >= 0) {
      const ev = parseLeef(text);
      checkVendor(ev.vendor);
      const f = new LooseFields(ev.attributes);
      return fromFields({ eventType: ev.eventId, headerSeverity: f.get('sev', 'severity'), envelopeTime: ev.envelope?.timestamp, raw: { ...ev.attributes } }, f);
    }
    if (findCefStart(text) >= 0) {
      const ev = parseCef(text);
      checkVendor(ev.vendor);
      const raw = { ...ev.extension, ...ev.labels, cef_name: ev.name, cef_severity: ev.severity };
      return fromFields({ eventType: ev.signatureId, name: ev.name, headerSeverity: ev.severity, envelopeTime: ev.envelope?.timestamp, raw }, new LooseFields(ev.labels, ev.extension));
    }
    throw new ParseError(`not a Lastline record (no LEEF or CEF header; starts: ${excerpt(text.trim())})`);
  },
};
export default defineDetector(lastline);

function checkVendor(vendor: string): void {
  if (!/^(lastline|vmware)$/i.test(vendor)) throw new ParseError(`vendor is "${excerpt(vendor)}", not Lastline`);
}

// ---- JSON -------------------------------------------------------------------------------------------------

function sniffJson(j: JsonObject): number {
  const f = jsonFields(j);
  const mentions = /lastline/i.test(JSON.stringify(j).slice(0, 8192));
  const detectionShape = f.has('impact') && (f.has('threatClass') || f.has('threat')) && (f.has('eventId') || f.has('detectionId') || f.has('incidentId'));
  if (detectionShape && mentions) return 0.95;
  if (detectionShape) return 0.75;
  if (mentions && (f.has('impact') || f.has('threatClass')) && (f.has('srcIp') || f.has('src') || f.has('dst') || f.has('dstIp'))) return 0.7;
  return 0;
}

/** Top-level scalars first, then those of nested objects one level down (event: {…}, detection: {…}). */
function jsonFields(j: JsonObject): LooseFields {
  const nested = Object.values(j).filter(isObject).slice(0, 32).map(scalarMembers);
  return new LooseFields(scalarMembers(j), ...nested);
}

function pickType(j: JsonObject): string | undefined {
  return jsonFields(j).get('eventType', 'event_type', 'detectionType', 'detection_type', 'notificationType', 'trigger', 'type');
}

// ---- the one mapping ---------------------------------------------------------------------------------------

interface Header {
  eventType?: string;
  name?: string;
  headerSeverity?: string;
  envelopeTime?: string;
  /** The record's own fields (CEF extension and labelled custom fields, LEEF attributes, the JSON object): context data. */
  raw: Record<string, unknown>;
}

const CONTEXT_TYPES = /^(appliance|audit|system|license|sensor-status|health)/i;

function fromFields(h: Header, f: LooseFields): ParseOutcome {
  const eventType = h.eventType?.trim() || undefined;
  if (eventType && /[=\t]/.test(eventType)) throw new ParseError(`event id "${excerpt(eventType)}" holds attributes: the header lacks a field (truncated?)`);
  if (eventType && CONTEXT_TYPES.test(eventType)) return { kind: 'context', events: [contextOf(eventType, h, f)] };
  return { kind: 'alerts', alerts: [alertOf(eventType, h, f)] };
}

function alertOf(eventType: string | undefined, h: Header, f: LooseFields): AlertDraft {
  const { cat, threatClass, threat } = threatOf(f);
  const name = h.name?.trim() || f.get('desc', 'description', 'eventName', 'name', 'msg') || (eventType ? humanize(eventType) : undefined);
  if (!name && !cat) throw new ParseError('Lastline record names no event and no threat (expected a LEEF/CEF event id, desc, cat, threat or threat_class)');
  const { severity, vendorSeverity } = severityOf(f, h.headerSeverity);
  const src: Endpoint = { ip: f.get('src', 'srcIp', 'sourceIp', 'sourceAddress', 'srcHostIp'), port: portOf(f.get('spt', 'srcPort', 'sourcePort')), host: f.get('shost', 'srcHost', 'srcHostname', 'sourceHost') };
  const dst: Endpoint = { ip: f.get('dst', 'dstIp', 'destIp', 'destinationIp', 'destinationAddress', 'dstHostIp'), port: portOf(f.get('dpt', 'dstPort', 'destPort', 'destinationPort')), host: f.get('dhost', 'dstHost', 'dstHostname', 'destHost', 'fqdn', 'hostname') };
  // A name in the ip slot (some exports put the host there) goes to host instead.
  if (src.ip && !canonicalIp(src.ip)) [src.host, src.ip] = [src.host ?? src.ip, undefined];
  if (dst.ip && !canonicalIp(dst.ip)) [dst.host, dst.ip] = [dst.host ?? dst.ip, undefined];
  const side = internalSide(src.ip, dst.ip, src.ip || src.host ? 'src' : dst.ip ? 'dst' : undefined);
  const hostEnd = side === 'dst' ? dst : side === 'src' ? src : undefined;
  const sender = f.get('sender', 'suser', 'emailSender', 'mailFrom', 'from');
  const recipientText = f.get('usrName', 'duser', 'recipient', 'recipients', 'emailRecipient', 'mailTo', 'to');
  const subject = f.get('emailSubject', 'subject', 'mailSubject');
  const isEmail = /^email/i.test(eventType ?? '') || [sender, recipientText].some((v) => v?.includes('@')) || subject !== undefined;
  const recipients = splitAddresses(recipientText);
  const url = firstUrl(f.get('EventUrl', 'eventUrl', 'mailUrl', 'url', 'request', 'requestUrl', 'downloadUrl'));
  const domain = firstDomain(f.get('domain', 'dnsQuery', 'queryName', 'rrname'), hostOfUrl(url), dst.host);
  const file = fileOf(f);
  const user = isEmail
    ? recipients?.length === 1 ? { name: recipients[0], email: recipients[0] } : undefined
    : splitAccount(f.get('usrName', 'duser', 'suser', 'user', 'userName'));
  return {
    vendor_id: f.get('externalId', 'eventId', 'event_id') ?? f.get('detectionId'),
    // The JSON form names no event type: every record of it is a detection.
    event_type: eventType ?? 'detection',
    time: timeOf(f, h.envelopeTime),
    title: cat ? `${name ?? 'Lastline detection'}: ${cat}` : name!,
    // Lastline's detections have no rule id: the stable name is the threat ("class/threat"); the event id
    // (signature-match, dns-resolution…) is the kind of record, in event_type.
    rule: compact({ id: f.get('threatId', 'signatureId', 'sid') ?? cat ?? eventType, name: cat ?? name, category: threatClass }),
    severity,
    vendor_severity: vendorSeverity,
    action: mapAction(f.get('act', 'action', 'outcome')),
    src: compact(src),
    dst: compact(dst),
    host: hostEnd ? compact({ ip: hostEnd.ip, name: hostEnd.host }) : undefined,
    device: deviceOf(f),
    user,
    file,
    url,
    domain,
    email: isEmail ? compact({ from: sender, to: recipients, subject }) : undefined,
    malware: threat ? { name: threat, family: threatClass } : undefined,
    observables: defined([makeObservable('mac', f.get('smac', 'srcMAC'), 'src'), makeObservable('mac', f.get('dmac', 'dstMAC'), 'dst')]),
  };
}

/** cat is "threat class/threat" ("drive-by/Fiesta EK"); JSON names both parts. */
function threatOf(f: LooseFields): { cat?: string; threatClass?: string; threat?: string } {
  const cls = f.get('threatClass', 'threat_class');
  const threat = f.get('threat', 'threatName', 'malware', 'malwareName');
  const cat = f.get('cat', 'category') ?? (cls && threat ? `${cls}/${threat}` : (threat ?? cls));
  if (!cat) return {};
  const slash = cat.indexOf('/');
  return {
    cat,
    threatClass: cls ?? (slash > 0 ? cat.slice(0, slash).trim() : undefined),
    threat: threat ?? (slash > 0 ? cat.slice(slash + 1).trim() || undefined : cat),
  };
}

function severityOf(f: LooseFields, header: string | undefined): { severity: number; vendorSeverity?: AlertDraft['vendor_severity'] } {
  const impact = f.get('impact', 'threatImpact', 'score');
  if (impact !== undefined && /^\d{1,3}(\.\d+)?$/.test(impact) && Number(impact) <= 100) return { severity: Math.round(Number(impact)), vendorSeverity: { value: impact, scale: IMPACT_SCALE } };
  const sev = cefSeverity(header);
  if (header !== undefined && sev !== undefined) return { severity: sev, vendorSeverity: { value: header, scale: HEADER_SCALE } };
  return { severity: UNKNOWN_SEVERITY, vendorSeverity: impact ? { value: impact, scale: IMPACT_SCALE } : header ? { value: header, scale: HEADER_SCALE } : undefined };
}

function timeOf(f: LooseFields, envelope: string | undefined): string {
  const dtz = f.get('dtz');
  const zone = dtz && parseZone(dtz) ? dtz : undefined;
  const primary = f.get('rt', 'devTime', 'eventTime', 'detectionTime', 'time', 'timestamp');
  if (primary) return parseTimestamp(primary, { field: 'event time', timeZone: zone });
  for (const v of [f.get('start', 'startTime', 'firstSeen'), f.get('end', 'endTime', 'lastSeen')]) {
    const t = tryParseTimestamp(v, { timeZone: zone });
    if (t) return t;
  }
  return envelope ?? receivedTime();
}

function fileOf(f: LooseFields): AlertDraft['file'] {
  const hashes = [f.get('fileHash', 'fileMd5', 'md5'), f.get('fileSHA1', 'fileSha1', 'sha1'), f.get('fileSHA256', 'fileSha256', 'sha256')];
  const file: NonNullable<AlertDraft['file']> = {};
  for (const v of hashes) {
    const h = normalizeHash(v);
    if (h && file[h.type] === undefined) file[h.type] = h.value;
  }
  const path = f.get('filePath');
  file.name = f.get('fname', 'fileName', 'attachmentName') ?? baseName(path);
  file.path = path;
  const size = f.get('fsize', 'fileSize');
  if (size && /^\d{1,15}$/.test(size)) file.size = Number(size);
  return compact(file);
}


function humanize(eventType: string): string {
  return eventType.replace(/[-_]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

// ---- context ------------------------------------------------------------------------------------------------

/**
 * Appliance status, check-in and message notifications are the appliance's health (`status`), audit
 * notifications administrative changes (`audit`): the appliance (dvchost, dvc, deviceExternalId) is the
 * device, the acting user and the address they came from (audit) user and src.
 */
function contextOf(eventType: string, h: Header, f: LooseFields): ContextEvent {
  const audit = /^audit/i.test(eventType);
  const user = f.get('suser', 'usrName', 'user', 'userName');
  return {
    kind: audit ? 'audit' : 'status',
    // The JSON form names no event type: every record of it is a detection.
    event_type: eventType ?? 'detection',
    time: timeOf(f, h.envelopeTime),
    user: splitAccount(user),
    src: audit ? compact({ ip: f.get('src', 'srcIp'), user }) : undefined,
    device: deviceOf(f, audit ? undefined : f.get('src')),
    outcome: audit ? outcomeOf(f.get('outcome', 'result', 'status')) : undefined,
    data: h.raw,
    observables: [],
  };
}

/** The reporting sensor or manager: dvchost, dvc (a status event's src is the appliance too), deviceExternalId. */
function deviceOf(f: LooseFields, ip?: string): ContextEvent['device'] {
  return compact({ name: f.get('dvchost', 'ApplianceName', 'applianceHostname'), ip: f.get('dvc', 'deviceAddress') ?? ip, id: f.get('deviceExternalId', 'applianceUuid') });
}

function outcomeOf(word: string | undefined): ContextEvent['outcome'] {
  if (!word) return undefined;
  if (/^(success|succeeded|ok|true)$/i.test(word)) return 'success';
  return /^(fail|failed|failure|error|denied|false)$/i.test(word) ? 'failure' : 'unknown';
}
