/**
 * FireEye / Trellix network and email security: NX (Web MPS), EX (Email MPS), FX, AX, MAS (Malware
 * Analysis) and CM/CMS (the central manager that relays their alerts). Netflix FIDO read these as `mps`
 * (e-mail notifications, fido-original.md §3.5) and `FireEye-MAS` (§3.6): source/destination IP, time,
 * MD5s, URLs, C&C hosts and channel, referer, malware type. This detector reads every transport the
 * appliances offer and maps far more than FIDO did.
 *
 * Sources: fido-original.md §3.5–3.6; FireEye "Alert notification" output formats (JSON concise / normal /
 * extended, XML with the http://www.fireeye.com/alert/2011/AlertSchema namespace, text, CEF, LEEF) as they
 * appear in public parsers and test data: splunk/splunk-connect-for-syslog (fe_cef_syslog, CMS/eMPS),
 * demisto/content FireEyeNX (Web Services API alert JSON, camelCase), ExabeamLabs content (CEF/JSON field
 * lists), Apache Metron and araqne test lines (CEF/LEEF), elastic/integrations fireeye package (NX rawmsg).
 *
 * Alerts (one record may carry several):
 *   JSON   {"msg":"extended","product":"Web MPS","appliance-id":…,"alert":{…}|[…]} and the `alerts`
 *          wrapper, a bare alert object, and the Web Services API's camelCase variant (malwareDetected,
 *          md5Sum, cncServices, alertUrl, applianceId). Single children may be objects or arrays.
 *   XML    the same notification as XML (<alerts><alert …>…</alert></alerts>), read with lib/xml-lite.ts
 *          (no DTD, no entities beyond the predefined five), mapped exactly like the JSON.
 *   text   the "normal" text notification / e-mail body FIDO parsed ("alert: (id:…, name:…)", indented
 *          "src:" / "ip:" / "occurred:" / "md5sum:" lines), when the whole body arrives as one record.
 *   CEF    CEF:0|FireEye|MPS|…, |NX|, |CMS|, |eMPS|, |HX|… (also vendor Trellix): cs1Label=sname (malware),
 *          cs4Label=link, cs5Label=cncHost, cs6Label=channel, cn1Label=vlan, cn2Label=sid, cn3Label=cncPort,
 *          flexString1Label=sname (EX), fileHash, fname/filePath, request, externalId, devicePayloadId.
 *          The generic cef detector would read these too (0.6); this one sniffs 0.95 and wins.
 *   LEEF   LEEF:1.0|FireEye|MPS|…|malware-callback| with "^"-separated sname, cncHost, cncPort, cncChannel,
 *          link, sid, externalId, devTime, srcPort/dstPort, srcMAC/dstMAC.
 * Mapping:
 *   title            "<alert type>: <malware name>" (malware-object: Trojan.Generic)
 *   event_type       the alert type (malware-object, malware-callback, domain-match, ips-event…)
 *   rule             id = the signature id (sid, IPS sig-id) when given, else the malware name (the
 *                    detection's stable name), else the alert type; name = malware
 *                    (sname), the IPS signature name (ips-detected.sig-name), else the alert type;
 *                    category = alert type (malware-object, malware-callback,
 *                    infection-match, domain-match, web-infection, ips-event, riskware-*…)
 *   severity         JSON/XML/text: crit 90, majr 75, minr 35 (vendor_severity keeps the word);
 *                    CEF/LEEF: header 0-10 ×10
 *   action           alert.action / act: notified → detected, blocked → blocked (lib/action.ts)
 *   src / dst        as the appliance reports them (ip, port, mac, host); dst.port falls back to the C&C
 *                    port, dst.host to the C&C host; e-mail alerts carry addresses, not IPs
 *   host             the end with an internal (RFC 1918 …) address; when both or neither, src (FireEye
 *                    puts the monitored client on the src side of web, callback and IPS alerts)
 *   file             first malware object: original (name), md5sum/md5Sum, sha256, sha1; CEF fileHash,
 *                    fname, filePath
 *   url              malware url, CEF request, else http://<Host header><path> of the C&C channel
 *   domain           C&C host when it is a name, else the url's host, else dst.host
 *   email            EX: smtp-mail-from / smtp-to / smtp-message.subject, email-header.*, CEF suser/duser
 *   device           the appliance: JSON appliance (name), appliance-id / applianceId (id); CEF dvchost,
 *                    dvc, deviceExternalId
 *   malware.name     malware name (sname); vendor_id uuid (devicePayloadId), else appliance:id
 *   observables      every further malware hash and url, every C&C address (role cnc), MACs
 * Context (not alerts): the NX network-metadata records {"rawmsg":"<Suricata-style JSON>","deviceid":…,
 * "meta_sip4":…} (flow, tls, dns, fileinfo, http…) become context events through the suricata detector's
 * own mapping (kind flow, tls, dns, file, http; event_type the inner event_type; src/dst from the tuple when
 * that mapping gives none), with the NX appliance as `device` (meta_cbname name, meta_sip4 ip, deviceid id)
 * and in data.sensor; a rawmsg whose inner event_type is "alert" becomes an alert the same way.
 * Not supported: multi-part MIME e-mail as one record (only its text body), FireEye HX endpoint JSON
 * (a different product; its CEF is read generically here), OS-change details of MAS reports.
 */
import { sniffJsonOrText } from './lib/sniff.js';
import type { AlertDraft, DetectorAction, Endpoint, FileInfo } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { isContextKind, type ContextKind } from '../model/context.js';
import suricata from './suricata.js';
import { mapAction } from './lib/action.js';
import { cefSeverity, findCefStart, parseCef, splitHeader } from './lib/cef.js';
import { receivedTime } from './lib/context.js';
import { LooseFields, baseName, firstDomain, firstUrl, internalSide, objectList, pickList, pickObject, pickString, portOf, splitAddresses } from './lib/fieldmap.js';
import { findLeefStart, parseLeef, parseLeefAttributes } from './lib/leef.js';
import { canonicalIp, hostOfUrl, makeObservable, normalizeHash } from './lib/observables.js';
import { defined } from './lib/record.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { BREAK_IN_LINE, excerpt, trimEndChars } from './lib/text.js';
import { parseTimestamp, parseZone, tryParseTimestamp } from './lib/time.js';
import { compact, isObject, own, type JsonObject } from './lib/values.js';
import { looksLikeXml, parseXml, xmlToJson } from './lib/xml-lite.js';

const WORD_SCALE = 'fireeye crit|majr|minr';
const CEF_SCALE = 'fireeye cef/leef 0-10';
const MAX_ALERTS = 500;

const fireeye: Detector = {
  name: 'fireeye',
  description: 'FireEye/Trellix NX, EX, MPS, MAS, CMS: JSON/XML/text notifications, CEF, LEEF; NX rawmsg metadata as context',
  format: 'text',
  sniff(record: RawRecord): number {
    return sniffJsonOrText(record, sniffJson, (head) => {
      if (/(?:^|[\s>:])CEF:\d{1,2}(?:\.\d{1,2})?\|(?:FireEye|Trellix)\|/i.test(head)) return 0.95;
      if (/(?:^|[\s>:])LEEF:\d(?:\.\d)?\|(?:FireEye|Trellix)\|/i.test(head)) return 0.95;
      if (looksLikeXml(record.text) && /<(?:\w+:)?alerts?[\s>]/.test(head) && /fireeye\.com\/alert|product="[^"]*(?:MPS|MAS|NX|EX|CMS)|appliance-id=/i.test(head)) return 0.9;
      if (isTextNotification(record.text)) return 0.85;
      return 0;
    });
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (isObject(j)) {
      if (typeof own(j, 'rawmsg') === 'string') return parseRawmsg(j);
      return { kind: 'alerts', alerts: alertsFromNotification(j) };
    }
    if (j !== undefined) throw new ParseError('FireEye record must be a JSON object, XML, CEF, LEEF or a text notification');
    const text = trimEndChars(record.text, '\r\n');
    if (findCefStart(text) >= 0) return { kind: 'alerts', alerts: [alertFromCef(text)] };
    if (findLeefStart(text) >= 0) return { kind: 'alerts', alerts: [alertFromLeef(text)] };
    if (looksLikeXml(text)) {
      const root = parseXml(text);
      const json = xmlToJson(root);
      const wrapper: JsonObject = root.name === 'alert' ? { alert: json } : isObject(json) ? json : {};
      return { kind: 'alerts', alerts: alertsFromNotification(wrapper) };
    }
    if (isTextNotification(text)) return { kind: 'alerts', alerts: alertsFromNotification(textNotificationToJson(text)) };
    throw new ParseError(`not a FireEye record (no JSON, XML, CEF, LEEF or text notification; starts: ${excerpt(text.trim())})`);
  },
};
export default defineDetector(fireeye);

// ---- sniffing ---------------------------------------------------------------------------------------------

const NOTIFICATION_MSG = new Set(['concise', 'normal', 'extended']);

function sniffJson(j: JsonObject): number {
  const raw = own(j, 'rawmsg');
  if (typeof raw === 'string') {
    const inner = tryJson(raw);
    if (isObject(inner) && typeof own(inner, 'event_type') === 'string') return 0.95;
    return pickString(j, 'deviceid', 'meta_sip4', 'meta_cbname') ? 0.7 : 0;
  }
  const alerts = alertList(j);
  if (alerts.length) {
    const product = pickString(j, 'product') ?? pickString(alerts[0], 'product');
    const marked =
      NOTIFICATION_MSG.has(String(own(j, 'msg')).toLowerCase()) ||
      pickString(j, 'appliance-id', 'applianceId') !== undefined ||
      (product !== undefined && /\b(?:[A-Za-z]*MPS|MAS|NX|EX|AX|FX|CMS|CM|FireEye|Trellix)\b|^(?:WEB|EMAIL|FILE)_MPS$/i.test(product));
    const shaped = alerts.some(looksLikeAlert);
    if (shaped && marked) return 0.95;
    if (shaped) return 0.85;
    return marked && alerts.some((a) => own(a, 'name') !== undefined) ? 0.7 : 0;
  }
  if (looksLikeAlert(j) && (own(j, 'explanation') !== undefined || pickString(j, 'alert-url', 'alertUrl') !== undefined)) return 0.85;
  return 0;
}

/** An alert object: explanation plus occurred, or FireEye's own alert-url. */
function looksLikeAlert(a: JsonObject): boolean {
  const hasTime = pickString(a, 'occurred', 'attackTime', 'attack-time') !== undefined;
  const hasExplanation = isObject(own(a, 'explanation'));
  const hasUrl = pickString(a, 'alert-url', 'alertUrl') !== undefined && /event_stream|malware_analysis|emps|alert/i.test(pickString(a, 'alert-url', 'alertUrl')!);
  return (hasTime && (hasExplanation || hasUrl || isObject(own(a, 'src')))) || (hasExplanation && hasUrl);
}

function alertList(j: JsonObject): JsonObject[] {
  const direct = objectList(own(j, 'alert'), MAX_ALERTS);
  if (direct.length) return direct;
  const alerts = own(j, 'alerts');
  if (Array.isArray(alerts)) return objectList(alerts, MAX_ALERTS);
  if (isObject(alerts)) return objectList(own(alerts, 'alert'), MAX_ALERTS);
  return [];
}

// A line's indent is white space that is not a line break: with \s, every line start of a long blank run
// rescanned the rest of the run (quadratic, and every multi-line record is sniffed here).
function isTextNotification(text: string): boolean {
  if (!text.includes('\n')) return false;
  const head = text.slice(0, 16384);
  if (!/^[^\S\n\r\u2028\u2029]*occurred\s*:/m.test(head)) return false;
  return /alert\s*(?::\s*)?\(id\s*:/i.test(head) || (/^[^\S\n\r\u2028\u2029]*(?:md5sum|alert-url|src)\s*:/m.test(head) && /fireeye|\bMPS\b|appliance|malware/i.test(head));
}

function tryJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

// ---- JSON / XML / text notifications -----------------------------------------------------------------------

function alertsFromNotification(j: JsonObject): AlertDraft[] {
  const alerts = alertList(j);
  if (alerts.length) return alerts.map((a) => alertFromJson(a, j));
  if (looksLikeAlert(j) || own(j, 'explanation') !== undefined) return [alertFromJson(j, undefined)];
  throw new ParseError('FireEye notification has no alert (expected "alert", "alerts" or an alert object with occurred/explanation)');
}

interface MalwareInfo {
  name?: string;
  sid?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  original?: string;
  url?: string;
  type?: string;
}

interface CncInfo {
  address?: string;
  port?: string;
  channel?: string;
  sname?: string;
  protocol?: string;
}

function alertFromJson(a: JsonObject, wrapper: JsonObject | undefined): AlertDraft {
  const type = alertType(pickString(a, 'name', 'alert-type', 'alertType'));
  const explanation = objectList(own(a, 'explanation'))[0];
  const malware = pickList(pickObject(explanation, 'malware-detected', 'malwareDetected'), 'malware').map(malwareOf);
  const cnc = pickList(pickObject(explanation, 'cnc-services', 'cncServices'), 'cnc-service', 'cncService').map(cncOf);
  const srcObj = pickObject(a, 'src');
  const dstObj = pickObject(a, 'dst');
  const first = malware[0];
  // IPS alerts (ips-event) explain themselves with the matched signature instead of a malware object.
  const ips = pickObject(explanation, 'ips-detected', 'ipsDetected');
  const sigName = pickString(ips, 'sig-name', 'sigName', 'signature-name');
  const malwareName = first?.name ?? malware.find((m) => m.name)?.name ?? cnc.find((c) => c.sname)?.sname ?? sigName;
  const cncHost = cnc.find((c) => c.address)?.address;

  const src: Endpoint = { ip: pickString(srcObj, 'ip'), port: portOf(pickString(srcObj, 'port')), host: pickString(srcObj, 'host') };
  const dstIp = pickString(dstObj, 'ip');
  // The C&C service fills in the server end only when it is that end (or the alert names no server).
  const cncIsDst = !dstIp || (cncHost !== undefined && canonicalIp(cncHost) === canonicalIp(dstIp));
  const dst: Endpoint = {
    ip: dstIp ?? (cncHost && canonicalIp(cncHost) ? cncHost : undefined),
    port: portOf(pickString(dstObj, 'port')) ?? (cncIsDst ? portOf(cnc.find((c) => c.address === cncHost)?.port) : undefined),
    host: pickString(dstObj, 'host') ?? (cncIsDst && cncHost && !canonicalIp(cncHost) ? cncHost : undefined),
  };
  const email = emailOf(a, srcObj, dstObj);
  const url = firstUrl(...malware.map((m) => m.url), ...cnc.map((c) => channelUrl(c.channel, c.address, c.port)));
  const side = internalSide(src.ip, dst.ip, src.ip ? 'src' : dst.ip ? 'dst' : undefined);
  const hostEnd = side === 'dst' ? dst : side === 'src' ? src : undefined;
  const hostMac = side ? pickString(side === 'src' ? srcObj : dstObj, 'mac') : undefined;
  const sev = pickString(a, 'severity');
  const id = pickString(a, 'id');
  const appliance = pickString(a, 'applianceId', 'appliance-id') ?? pickString(wrapper, 'appliance-id', 'applianceId', 'appliance');

  return {
    vendor_id: pickString(a, 'uuid') ?? (id ? (appliance ? `${appliance}:${id}` : id) : undefined),
    event_type: type,
    time: jsonTime(a),
    title: `${type ?? 'FireEye alert'}: ${malwareName ?? cncHost ?? email?.subject ?? '(no malware name)'}`,
    // The signature id when FireEye gives one, else the detection's stable name (the malware name), never the alert type.
    rule: compact({ id: first?.sid ?? pickString(ips, 'sig-id', 'sigId') ?? malwareName ?? type, name: malwareName ?? type, category: type }),
    ...severityOfWord(sev),
    action: actionOf(pickString(a, 'action')),
    src: compact(src),
    dst: compact(dst),
    host: hostEnd ? compact({ ip: hostEnd.ip, name: hostEnd.host, mac: hostMac }) : undefined,
    // The appliance that raised the alert (a CMS relays it with the appliance's own name and id).
    device: compact({ name: pickString(a, 'appliance') ?? pickString(wrapper, 'appliance'), id: realId(pickString(a, 'applianceId', 'appliance-id') ?? pickString(wrapper, 'appliance-id', 'applianceId')) }),
    user: email?.to?.length === 1 ? { name: email.to[0], email: email.to[0] } : undefined,
    file: fileOf(first),
    url,
    domain: domainOf(cncHost, url, dst.host),
    email,
    malware: malwareName ? { name: malwareName } : undefined,
    observables: extraObservables(malware, cnc, srcObj, dstObj, url),
  };
}

/** An appliance id of only zeros (00:00:00:00:00:00, test and demo appliances) names no appliance. */
function realId(id: string | undefined): string | undefined {
  return id && !/^[0:-]+$/.test(id) ? id : undefined;
}

function alertType(name: string | undefined): string | undefined {
  return name ? name.trim().toLowerCase().replace(/_/g, '-') : undefined;
}

function malwareOf(m: JsonObject): MalwareInfo {
  return {
    name: pickString(m, 'name', 'sname'),
    sid: pickString(m, 'sid'),
    md5: pickString(m, 'md5sum', 'md5Sum', 'md5'),
    sha1: pickString(m, 'sha1', 'sha1sum', 'sha1Sum'),
    sha256: pickString(m, 'sha256', 'sha256sum', 'sha256Sum'),
    original: pickString(m, 'original', 'filename', 'fileName'),
    url: pickString(m, 'url'),
    type: pickString(m, 'type', 'stype'),
  };
}

function cncOf(c: JsonObject): CncInfo {
  return {
    address: pickString(c, 'address', 'host'),
    port: pickString(c, 'port'),
    channel: pickString(c, 'channel'),
    sname: pickString(c, 'sname'),
    protocol: pickString(c, 'protocol'),
  };
}

function jsonTime(a: JsonObject): string {
  const candidates = ['occurred', 'attackTime', 'attack-time', 'occurredAt'];
  let seen: string | undefined;
  for (const key of candidates) {
    const v = pickString(a, key);
    if (v === undefined) continue;
    seen ??= `${key}: "${v.slice(0, 64)}"`;
    const t = tryParseTimestamp(v);
    if (t) return t;
  }
  // Malware objects and IPS matches carry their own times when the alert's is missing (MAS concise notifications).
  const explanation = objectList(own(a, 'explanation'))[0];
  const ipsTime = tryParseTimestamp(pickString(pickObject(explanation, 'ips-detected', 'ipsDetected'), 'attack-time', 'attackTime'));
  if (ipsTime) return ipsTime;
  for (const m of pickList(pickObject(explanation, 'malware-detected', 'malwareDetected'), 'malware')) {
    const t = tryParseTimestamp(pickString(m, 'executed-at', 'executedAt', 'downloaded-at', 'downloadedAt'));
    if (t) return t;
  }
  if (seen) throw new ParseError(`unrecognised alert time (${seen})`);
  return receivedTime();
}

function severityOfWord(sev: string | undefined): Pick<AlertDraft, 'severity' | 'vendor_severity'> {
  if (!sev) return { severity: UNKNOWN_SEVERITY };
  const s = sev.trim().toLowerCase();
  const n = /^(crit|critical)$/.test(s) ? 90 : /^(majr|major|high)$/.test(s) ? 75 : /^(minr|minor|low)$/.test(s) ? 35 : /^(med|medium)$/.test(s) ? 55 : undefined;
  const numeric = n === undefined ? cefSeverity(s) : undefined;
  return { severity: n ?? numeric ?? UNKNOWN_SEVERITY, vendor_severity: { value: sev, scale: n === undefined && numeric !== undefined ? CEF_SCALE : WORD_SCALE } };
}

function actionOf(word: string | undefined): DetectorAction | undefined {
  return mapAction(word);
}

function emailOf(a: JsonObject, srcObj: JsonObject | undefined, dstObj: JsonObject | undefined): AlertDraft['email'] {
  const smtp = pickObject(a, 'smtp-message', 'smtpMessage');
  const header = pickObject(a, 'email-header', 'emailHeader');
  const from = pickString(srcObj, 'smtp-mail-from', 'smtpMailFrom') ?? pickString(header, 'from') ?? pickString(smtp, 'from');
  const toValue = own(dstObj ?? {}, 'smtp-to') ?? own(dstObj ?? {}, 'smtpTo') ?? own(header ?? {}, 'to') ?? own(smtp ?? {}, 'to');
  const to = Array.isArray(toValue) ? toValue.filter((t): t is string => typeof t === 'string').slice(0, 100) : splitAddresses(typeof toValue === 'string' ? toValue : undefined);
  const subject = pickString(smtp, 'subject') ?? pickString(header, 'subject');
  return compact({ from, to: to?.length ? to : undefined, subject });
}

function fileOf(m: MalwareInfo | undefined): FileInfo | undefined {
  if (!m) return undefined;
  const path = m.original && /[\\/]/.test(m.original) ? m.original : undefined;
  return compact({ name: baseName(m.original), path, md5: m.md5, sha1: m.sha1, sha256: m.sha256 });
}

/**
 * A C&C channel is the request as FireEye saw it, lines joined by "::~~":
 * "GET /path HTTP/1.1::~~Host: evil.example::~~User-Agent: …". Host + path give the URL FIDO collected.
 */
function channelUrl(channel: string | undefined, address: string | undefined, port: string | undefined): string | undefined {
  if (!channel) return undefined;
  const lines = channel.split(/::~~|\r?\n/);
  const request = /^(?:GET|POST|HEAD|PUT|CONNECT|OPTIONS|DELETE|PATCH)\s+(\S+)\s+HTTP\/\d/i.exec(lines[0]?.trim() ?? '');
  if (!request) return undefined;
  const path = request[1]!;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  const hostLine = lines.find((l) => /^\s*host\s*:/i.test(l));
  const host = hostLine ? hostLine.replace(/^\s*host\s*:\s*/i, '').trim() : address;
  if (!host) return undefined;
  const p = port && port !== '80' && !host.includes(':') ? `:${port}` : '';
  return `http://${host}${p}${path.startsWith('/') ? path : `/${path}`}`;
}

function domainOf(cncHost: string | undefined, url: string | undefined, dstHost: string | undefined): string | undefined {
  return firstDomain(cncHost, hostOfUrl(url), dstHost);
}

function extraObservables(malware: MalwareInfo[], cnc: CncInfo[], srcObj: JsonObject | undefined, dstObj: JsonObject | undefined, url: string | undefined): Observable[] {
  const out: Array<Observable | undefined> = [];
  for (const m of malware.slice(1)) out.push(makeObservable('md5', m.md5, 'file'), makeObservable('sha1', m.sha1, 'file'), makeObservable('sha256', m.sha256, 'file'));
  for (const m of malware) if (m.url && m.url !== url) out.push(makeObservable('url', m.url, 'url'));
  for (const c of cnc) {
    if (c.address) out.push(canonicalIp(c.address) ? makeObservable('ip', c.address, 'cnc') : makeObservable('domain', c.address, 'cnc'));
    const u = channelUrl(c.channel, c.address, c.port);
    if (u && u !== url) out.push(makeObservable('url', u, 'cnc'));
  }
  out.push(makeObservable('mac', pickString(srcObj, 'mac'), 'src'), makeObservable('mac', pickString(dstObj, 'mac'), 'dst'));
  return defined(out);
}

// ---- text notification ("msg: normal" / the e-mail body FIDO read) ---------------------------------------------

/**
 * Turns the indented text notification into the JSON notification shape:
 *
 *   alert: (id:123, name:malware-callback)      →  { alert: { id: "123", name: "malware-callback",
 *     severity: majr                                            severity: "majr", src: { ip: "10.0.0.5" },
 *     src:                                                       … } }
 *       ip: 10.0.0.5
 *
 * Lines are "key: value", "key: (k:v, k:v)" or "key:" opening a block of more-indented lines; a repeated
 * key becomes a list. A value's own colons (URLs, times) stay in the value.
 */
function textNotificationToJson(text: string): JsonObject {
  const root: JsonObject = {};
  const stack: Array<{ indent: number; obj: JsonObject }> = [{ indent: -1, obj: root }];
  for (const rawLine of text.split(/\r?\n/).slice(0, 5000)) {
    const line = rawLine.replace(/\t/g, '  ');
    if (line.trim() === '') continue;
    const m = notificationLine(line);
    if (!m) continue;
    const { indent } = m;
    const key = m.key.toLowerCase();
    const rest = m.rest.trim();
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!.obj;
    const inline = /^\((.*)\)$/.exec(rest);
    let value: unknown;
    if (rest === '' || inline) {
      const obj: JsonObject = {};
      if (inline) for (const part of inline[1]!.split(/,\s*/)) {
        const kv = /^\s*([\w.\-]+)\s*:\s*(.*)$/s.exec(part);
        if (kv) obj[kv[1]!] = kv[2]!.trim();
      }
      value = obj;
      stack.push({ indent, obj });
    } else {
      value = rest;
    }
    const prev = own(parent, key);
    if (prev === undefined) parent[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else parent[key] = [prev, value];
  }
  // FIDO's subject line ("malware-callback detected: …") names the type when the body does not.
  const alert = own(root, 'alert');
  if (isObject(alert) && own(alert, 'name') === undefined) {
    const subject = /^[^\S\n\r\u2028\u2029]*subject\s*:\s*([a-z-]+)\s+detected/im.exec(text);
    if (subject) alert.name = subject[1]!;
  }
  if (!isObject(alert) && !Array.isArray(alert)) return { alert: root };
  return root;
}

const KEY = /^[A-Za-z][\w.\-]{0,63}$/;
const SPACED_KEY = /^[A-Za-z][\w.\- ]{0,63}$/;

/**
 * One line of the text notification (no "\n" in it): "key (k:v, …)" with an optional colon after the
 * parenthesis, else "key: value" (the key may hold spaces; "key:" opens a block). The indent is the leading
 * white space. Scanned by hand: the regular expressions this replaces took quadratic time on long blank runs
 * between the parts. A value holding another line break (\r, U+2028, U+2029) does not count, as before.
 */
function notificationLine(line: string): { indent: number; key: string; rest: string } | undefined {
  const body = line.trimStart();
  const indent = line.length - body.length;
  if (!/^[A-Za-z]/.test(body)) return undefined;
  // "key (…)": the parenthesis runs to the last ")", after which only white space and one ":" may follow.
  let end = body.trimEnd();
  if (end.endsWith(':')) end = end.slice(0, -1).trimEnd();
  const open = end.indexOf('(');
  if (open > 0 && end.endsWith(')') && !BREAK_IN_LINE.test(end.slice(open))) {
    // Before the parenthesis: the key (no spaces in it) and white space.
    const key = end.slice(0, open).trimEnd();
    if (KEY.test(key)) return { indent, key, rest: end.slice(open) };
  }
  // "key: value": the key ends at the first colon.
  const colon = body.indexOf(':');
  if (colon < 0) return undefined;
  const key = body.slice(0, colon).trimEnd();
  if (!SPACED_KEY.test(key)) return undefined;
  let rest = body.slice(colon + 1);
  if (/^\s/.test(rest)) rest = rest.slice(1);
  if (BREAK_IN_LINE.test(rest)) return undefined;
  return { indent, key, rest };
}

// ---- CEF and LEEF ----------------------------------------------------------------------------------------

/** The fields a FireEye syslog alert carries, whichever of CEF and LEEF carried them. */
interface SyslogAlert {
  type: string;
  classId?: string;
  headerSeverity?: string;
  f: LooseFields;
  envelopeTime?: string;
}

function alertFromCef(text: string): AlertDraft {
  const ev = parseCef(text);
  if (!/^(fireeye|trellix)$/i.test(ev.vendor)) throw new ParseError(`CEF vendor is "${excerpt(ev.vendor)}", not FireEye/Trellix`);
  // Labelled custom fields (cs1Label=sname cs1=…) by label first, then the extension keys.
  return alertFromSyslog({ type: ev.name || ev.signatureId, classId: ev.signatureId, headerSeverity: ev.severity, f: new LooseFields(ev.labels, ev.extension), envelopeTime: ev.envelope?.timestamp });
}

function alertFromLeef(text: string): AlertDraft {
  const ev = parseLeef(text);
  if (!/^(fireeye|trellix)$/i.test(ev.vendor)) throw new ParseError(`LEEF vendor is "${excerpt(ev.vendor)}", not FireEye/Trellix`);
  let attributes = ev.attributes;
  // FireEye writes LEEF 1.0 with "^" between attributes (1.0 defines tab): re-split when that is what came.
  const start = findLeefStart(text);
  const { rest } = splitHeader(text, start + 5, 5);
  if (ev.version.startsWith('1') && !rest.includes('\t') && /\^[A-Za-z][\w.-]*=/.test(rest)) attributes = parseLeefAttributes(rest, '^');
  return alertFromSyslog({ type: ev.eventId, headerSeverity: new LooseFields(attributes).get('sev', 'severity'), f: new LooseFields(attributes), envelopeTime: ev.envelope?.timestamp });
}

function alertFromSyslog(s: SyslogAlert): AlertDraft {
  const f = s.f;
  const type = alertType(s.type) ?? 'fireeye-alert';
  const sname = f.get('sname', 'malwareName');
  const cncHost = f.get('cncHost', 'cnchost');
  const cncPort = f.get('cncPort');
  const channel = f.get('channel', 'cncChannel');
  const src: Endpoint = { ip: f.get('src', 'sourceAddress'), port: portOf(f.get('spt', 'srcPort')), host: f.get('shost', 'srcHost') };
  const dstIp = f.get('dst', 'dest', 'destinationAddress');
  const cncIsDst = !dstIp || (cncHost !== undefined && canonicalIp(cncHost) === canonicalIp(dstIp));
  const dst: Endpoint = {
    ip: dstIp ?? (cncHost && canonicalIp(cncHost) ? cncHost : undefined),
    port: portOf(f.get('dpt', 'dstPort')) ?? (cncIsDst ? portOf(cncPort) : undefined),
    host: f.get('dhost', 'dstHost') ?? (cncIsDst && cncHost && !canonicalIp(cncHost) ? cncHost : undefined),
  };
  const suser = f.get('suser', 'sender', 'smtpMailFrom');
  const duser = f.get('duser', 'recipient', 'smtpTo');
  const isEmail = [suser, duser].some((u) => u?.includes('@'));
  const hash = f.get('fileHash', 'md5sum', 'md5');
  const h = normalizeHash(hash);
  const filePath = f.get('filePath');
  const pathIsUrl = filePath !== undefined && /^[a-z][a-z0-9+.-]*:\/\/|^[\w.-]+\.[a-z]{2,}\//i.test(filePath);
  const fname = f.get('fname', 'fileName') ?? (pathIsUrl ? undefined : baseName(filePath));
  const url = firstUrl(f.get('request', 'url'), pathIsUrl ? filePath : undefined, channelUrl(channel, cncHost, cncPort));
  const side = internalSide(src.ip, dst.ip, src.ip ? 'src' : dst.ip ? 'dst' : undefined);
  const hostEnd = side === 'dst' ? dst : side === 'src' ? src : undefined;
  const sev = s.headerSeverity !== undefined ? cefSeverity(s.headerSeverity) : undefined;
  const recipients = isEmail ? splitAddresses(duser) : undefined;
  const observables: Array<Observable | undefined> = [
    makeObservable('mac', f.get('smac', 'srcMAC', 'sourceMacAddress'), 'src'),
    makeObservable('mac', f.get('dmac', 'dstMAC', 'destinationMacAddress'), 'dst'),
    cncHost ? (canonicalIp(cncHost) ? makeObservable('ip', cncHost, 'cnc') : makeObservable('domain', cncHost, 'cnc')) : undefined,
  ];
  const channelLink = channelUrl(channel, cncHost, cncPort);
  if (channelLink && channelLink !== url) observables.push(makeObservable('url', channelLink, 'cnc'));
  return {
    vendor_id: f.get('devicePayloadId', 'uuid') ?? f.get('externalId'),
    event_type: type,
    time: syslogTime(f, s.envelopeTime),
    title: `${type}: ${sname ?? cncHost ?? '(no malware name)'}`,
    rule: compact({ id: f.get('sid') ?? sname ?? type, name: sname ?? type, category: type }),
    severity: sev ?? UNKNOWN_SEVERITY,
    vendor_severity: s.headerSeverity ? { value: s.headerSeverity, scale: CEF_SCALE } : undefined,
    action: mapAction(f.get('act', 'action')),
    src: compact({ ...src, user: isEmail ? undefined : suser }),
    dst: compact({ ...dst, user: isEmail ? undefined : duser }),
    host: hostEnd ? compact({ ip: hostEnd.ip, name: hostEnd.host }) : undefined,
    device: compact({ name: f.get('dvchost'), ip: f.get('dvc'), id: f.get('deviceExternalId') }),
    user: userOfSyslog(isEmail, recipients, duser ?? suser),
    file: compact({ name: fname, path: pathIsUrl ? undefined : filePath, md5: h?.type === 'md5' ? h.value : undefined, sha1: h?.type === 'sha1' ? h.value : undefined, sha256: h?.type === 'sha256' ? h.value : f.get('fileSha256', 'sha256') }),
    process: compact({ name: f.get('dproc', 'sproc') }),
    url,
    domain: domainOf(cncHost, url, dst.host),
    email: isEmail ? compact({ from: suser, to: recipients, subject: f.get('subject', 'emailSubject') }) : undefined,
    malware: sname ? { name: sname } : undefined,
    observables: defined(observables),
  };
}

function userOfSyslog(isEmail: boolean, recipients: string[] | undefined, name: string | undefined): AlertDraft['user'] {
  if (isEmail) return recipients?.length === 1 ? { name: recipients[0], email: recipients[0] } : undefined;
  return name ? { name } : undefined;
}

function syslogTime(f: LooseFields, envelope: string | undefined): string {
  const dtz = f.get('dtz');
  const zone = dtz && parseZone(dtz) ? dtz : undefined;
  const rt = f.get('rt', 'devTime');
  if (rt) return parseTimestamp(rt, { field: 'rt', timeZone: zone });
  for (const key of ['start', 'end']) {
    const t = tryParseTimestamp(f.get(key), { timeZone: zone });
    if (t) return t;
  }
  return envelope ?? receivedTime();
}

// ---- NX network metadata (rawmsg) ------------------------------------------------------------------------

/** NX metadata event types (Suricata EVE names) → context kinds. */
const NX_KINDS: Record<string, ContextKind> = { flow: 'flow', netflow: 'flow', dns: 'dns', tls: 'tls', http: 'http', fileinfo: 'file', smtp: 'email', dhcp: 'dhcp' };

function parseRawmsg(j: JsonObject): ParseOutcome {
  const raw = own(j, 'rawmsg') as string;
  const inner = tryJson(raw.trim());
  if (!isObject(inner)) throw new ParseError(`rawmsg is not a JSON object (starts: ${excerpt(raw.trim())})`);
  const innerType = own(inner, 'event_type');
  if (typeof innerType !== 'string') throw new ParseError('rawmsg has no event_type (expected a Suricata-style NX metadata event)');
  const outcome = suricata.parse({ text: raw.trim(), json: inner });
  // The NX appliance that saw the traffic: its id, management address and name.
  const sensor = compact({ device_id: pickString(j, 'deviceid'), ip: pickString(j, 'meta_sip4'), name: pickString(j, 'meta_cbname') });
  const device = sensor ? compact({ name: sensor.name, ip: sensor.ip, id: sensor.device_id }) : undefined;
  if (outcome.kind === 'alerts') return { kind: 'alerts', alerts: outcome.alerts.map((a) => ({ ...a, event_type: a.event_type ?? innerType, device: a.device ?? device })) };
  // The suricata mapping gives the canonical fields; the flow's own tuple and the NX kind stand in where it does not.
  const src = compact({ ip: pickString(inner, 'src_ip'), port: portOf(pickString(inner, 'src_port')) });
  const dst = compact({ ip: pickString(inner, 'dest_ip'), port: portOf(pickString(inner, 'dest_port')) });
  const events: ContextEvent[] = outcome.events.map((e) => ({
    ...e,
    kind: isContextKind(e.kind) && e.kind !== 'other' ? e.kind : (NX_KINDS[innerType] ?? 'other'),
    event_type: e.event_type ?? innerType,
    src: e.src ?? src,
    dst: e.dst ?? dst,
    device: e.device ?? device,
    data: sensor ? { ...e.data, sensor } : e.data,
  }));
  return { kind: 'context', events };
}
