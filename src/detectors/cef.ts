/**
 * Generic ArcSight CEF, any vendor (format: lib/cef.ts, after "Implementing ArcSight CEF" rev. 25), with or
 * without a syslog envelope. Product-specific CEF detectors can sniff higher (≥ 0.9) and win; this one
 * claims any CEF line at 0.6.
 *
 *   title              header Name (else msg, else "<vendor> <product> event <signature id>")
 *   event_type         "<vendor>|<product>|<signature id>" (signature ids are only unique per product, and this
 *                      detector serves all products)
 *   rule               id = a custom field labelled "…Rule ID" (Forcepoint RuleID, Check Point Threat Prevention
 *                      Rule ID; never a NAT rule), else the header Signature ID; name = a field labelled
 *                      "…Rule Name" / "Rule", else the header Name; category = cat
 *   severity           header Severity 0-10 (×10) or Low/Medium/High/Very-High (25/50/75/95); when it is
 *                      Unknown or garbage, the deviceSeverity extension the same way; else 40
 *   time               rt, else end, else start (epoch ms or the spec's "MMM dd [yyyy] HH:mm:ss[.SSS] [zzz]"
 *                      forms; zone-less ones in dtz when given), else the syslog envelope's, else received
 *   action             act (Log / Blocked / IDS:Reset / Quarantined… → lib/action.ts; "not blocked" → detected)
 *   src / dst          src|c6a2 / dst|c6a3 (IPv6 custom fields by their spec'd label), spt / dpt,
 *                      shost / dhost, suser / duser (without a DOMAIN\ prefix)
 *   user               the one of suser / duser the event names (with sntdom / dntdom, except Check Point's
 *                      sntdom, a DNS name); unset when both are given, because which matters depends on the event
 *   device             dvchost → name (an address goes to ip), dvc → ip, deviceExternalId → id, dvcmac → mac:
 *                      CEF's device fields describe the product instance that reported the event (deviceOf)
 *   host               the device too when the product is an agent on the machine it reports about (Deep
 *                      Security Agent, endpoint and anti-virus products: HOST_AGENT); otherwise unset
 *   file               fname, filePath (or fields labelled File Name / File Path), fsize, fileHash (type by
 *                      length) and any extension key or custom label ending in MD5 / SHA1 / SHA256 (e.g.
 *                      Trend Micro TrendMicroDsFileSHA256)
 *   process            deviceProcessName|sproc|dproc, dvcpid|spid|dpid, a field labelled Command Line
 *   url, domain        request (requestUrl) or a field labelled URL; domain from its host, else Check Point's
 *                      sntdom (its DNS query name), else destinationDnsDomain
 *   email              Sender / Recipient (Check Point)
 *   vendor_id          externalId (the device's own event id), else none
 *   observables        + smac / dmac (roles src / dst)
 */
import type { AlertDraft, FileInfo, HostInfo } from '../model/alert.js';
import { defineDetector, ParseError, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { cefSeverity, findCefStart, parseCef, type CefEvent } from './lib/cef.js';
import { mapAction } from './lib/action.js';
import { hostOfUrl, makeObservable, normalizeDomain, normalizeHash, type HashType } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { trimEndChars } from './lib/text.js';
import { tryParseTimestamp, parseTimestamp, parseZone } from './lib/time.js';
import { compact } from './lib/values.js';
import { splitAccount } from './lib/record.js';

const SCALE = 'cef 0-10 (Low 0-3, Medium 4-6, High 7-8, Very-High 9-10)';
/** Custom-field labels are short names; a longer one names nothing mapped here (and is not worth normalising). */
const MAX_LABEL = 64;

const cef: Detector = {
  name: 'cef',
  description: 'ArcSight CEF from any vendor (optionally behind a syslog header)',
  format: 'text',
  sniff(record: RawRecord): number {
    return record.json === undefined && findCefStart(record.text) >= 0 ? 0.6 : 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const ev = parseCef(trimEndChars(record.text, '\r\n'));
    return { kind: 'alerts', alerts: [alertFrom(ev)] };
  },
};
export default defineDetector(cef);

function alertFrom(ev: CefEvent): AlertDraft {
  const x = ev.extension;
  const title = nonEmpty(ev.name) ?? nonEmpty(x.msg) ?? `${ev.vendor} ${ev.product} event ${ev.signatureId}`.trim();
  const { severity, vendorSeverity } = severityOf(ev);
  const url = x.request ?? byLabel(ev, (k) => k === 'url' || k === 'requesturl');
  const urlHostName = url ? hostOfUrl(url) : undefined;
  const sender = x.Sender;
  const recipient = x.Recipient;
  return {
    vendor_id: nonEmpty(x.externalId),
    // The signature id is only unique per product, and this detector serves all of them.
    event_type: `${ev.vendor}|${ev.product}|${ev.signatureId}`,
    time: timeOf(ev),
    title,
    rule: compact({
      // A rule the device names in a labelled field (Forcepoint "RuleID", Check Point "Threat Prevention Rule
      // ID"), else the header's signature id: the device's id of the event class, which is what fired.
      id: byLabel(ev, (k) => k.endsWith('ruleid') && !k.startsWith('nat')) ?? nonEmpty(ev.signatureId),
      name: byLabel(ev, (k) => (k.endsWith('rulename') || k === 'rule') && !k.startsWith('nat')) ?? nonEmpty(ev.name),
      category: nonEmpty(x.cat),
    }),
    severity,
    vendor_severity: vendorSeverity,
    // "not blocked" (NetScaler's WAF in learning mode) is a detection: mapAction knows it for every detector.
    action: mapAction(x.act),
    src: compact({ ip: x.src ?? labelled(ev, 'c6a2', 'Source IPv6 Address'), port: num(x.spt), host: x.shost, user: splitAccount(x.suser)?.name }),
    dst: compact({ ip: x.dst ?? labelled(ev, 'c6a3', 'Destination IPv6 Address'), port: num(x.dpt), host: x.dhost, user: splitAccount(x.duser)?.name }),
    user: userOf(ev),
    device: deviceOf(ev),
    // An agent on the machine (Deep Security Agent, an endpoint product) reports from the machine the event
    // is about: there the device is the host too, so enrichment and scoring see which machine it is.
    host: HOST_AGENT.test(ev.product) ? deviceOf(ev) : undefined,
    file: fileOf(ev),
    process: compact({
      name: x.deviceProcessName ?? x.sproc ?? x.dproc,
      pid: num(x.dvcpid ?? x.spid ?? x.dpid),
      command_line: byLabel(ev, (k) => k.includes('commandline')),
    }),
    url,
    // Check Point writes the DNS query name in sntdom (its "domain_name"); elsewhere sntdom is an NT domain.
    domain: (urlHostName && normalizeDomain(urlHostName)) || (isCheckPoint(ev) ? x.sntdom : undefined) || x.destinationDnsDomain,
    email: sender || recipient ? compact({ from: sender, to: recipient ? recipient.split(/[,;]\s*/) : undefined }) : undefined,
    observables: [makeObservable('mac', x.smac, 'src'), makeObservable('mac', x.dmac, 'dst')].filter((o) => o !== undefined),
  };
}

/**
 * The product instance that reported the event, from CEF's device fields: dvchost (deviceHostName), dvc
 * (deviceAddress), deviceExternalId, dvcmac (deviceMacAddress). The one place they are read.
 */
/** Products that run on the machine they report about (their device fields name that machine). */
const HOST_AGENT = /\b(?:agent|endpoint|end-point|anti-?virus|server protection|host ips|hips|edr)\b/i;

function deviceOf(ev: CefEvent): HostInfo | undefined {
  const x = ev.extension;
  return compact({ name: nonEmpty(x.dvchost), ip: nonEmpty(x.dvc), id: nonEmpty(x.deviceExternalId), mac: nonEmpty(x.dvcmac) });
}

/**
 * The value of a custom field whose label, lower-cased with everything but letters and digits dropped
 * ("Threat Prevention Rule ID" → "threatpreventionruleid"), passes `test`.
 */
function byLabel(ev: CefEvent, test: (key: string) => boolean): string | undefined {
  for (const [label, value] of Object.entries(ev.labels)) {
    if (label.length > MAX_LABEL || value.trim() === '') continue;
    if (test(label.toLowerCase().replace(/[^a-z0-9]/g, ''))) return value;
  }
  return undefined;
}

/** Check Point's Log Exporter gives some keys its own meaning (sntdom: the DNS query name, "domain_name"). */
function isCheckPoint(ev: CefEvent): boolean {
  return ev.vendor.toLowerCase() === 'check point';
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s.trim() !== '' ? s : undefined;
}

function num(s: string | undefined): number | undefined {
  return s !== undefined && /^\s*\d{1,15}\s*$/.test(s) ? Number(s) : undefined;
}

/** A custom field by its number, but only when its label says what the spec reserves it for. */
function labelled(ev: CefEvent, key: string, label: string): string | undefined {
  const l = ev.extension[`${key}Label`];
  return l !== undefined && l.toLowerCase() === label.toLowerCase() ? ev.extension[key] : undefined;
}

function severityOf(ev: CefEvent): { severity: number; vendorSeverity: AlertDraft['vendor_severity'] } {
  const header = cefSeverity(ev.severity);
  if (header !== undefined) return { severity: header, vendorSeverity: { value: ev.severity, scale: SCALE } };
  const device = ev.extension.deviceSeverity;
  const fromDevice = cefSeverity(device);
  if (device !== undefined && fromDevice !== undefined) return { severity: fromDevice, vendorSeverity: { value: device, scale: `deviceSeverity: ${SCALE}` } };
  return { severity: UNKNOWN_SEVERITY, vendorSeverity: ev.severity ? { value: ev.severity, scale: SCALE } : undefined };
}

function timeOf(ev: CefEvent): string {
  const x = ev.extension;
  // dtz ("Europe/Berlin", "GMT+01:00") is the device's zone for its zone-less timestamps.
  const zone = x.dtz && parseZone(x.dtz) ? x.dtz : undefined;
  for (const key of ['rt', 'end', 'start'] as const) {
    const v = x[key];
    if (v === undefined || v.trim() === '') continue;
    // rt is the event's time: a malformed one is an error, not something to paper over with received time.
    return key === 'rt' ? parseTimestamp(v, { field: 'rt', timeZone: zone }) : (tryParseTimestamp(v, { timeZone: zone }) ?? fail(key, v));
  }
  return ev.envelope?.timestamp ?? receivedTime();
}

function fail(key: string, v: string): never {
  throw new ParseError(`${key}: unrecognised timestamp "${v.slice(0, 64)}"`);
}

function userOf(ev: CefEvent): AlertDraft['user'] {
  const { suser, duser, sntdom, dntdom } = ev.extension;
  // Check Point's sntdom is a DNS name, not the user's domain.
  const account = suser && !duser ? splitAccount(suser, isCheckPoint(ev) ? undefined : sntdom) : duser && !suser ? splitAccount(duser, dntdom) : undefined;
  return account && compact({ name: account.name, domain: account.domain, email: account.email });
}

const HASH_KEY = /(md5|sha1|sha256)$/i;

function fileOf(ev: CefEvent): FileInfo | undefined {
  const x = ev.extension;
  const file: FileInfo = { name: x.fname ?? byLabel(ev, (k) => k === 'filename'), path: x.filePath ?? byLabel(ev, (k) => k === 'filepath'), size: num(x.fsize) };
  const put = (value: string | undefined, type?: HashType) => {
    const h = normalizeHash(value, type);
    if (h && file[h.type] === undefined) file[h.type] = h.value;
  };
  put(x.fileHash);
  // Vendor keys and custom-field labels that name a hash type (TrendMicroDsFileSHA256, cs3Label=SHA256…).
  for (const [key, value] of Object.entries(x)) {
    const m = HASH_KEY.exec(key);
    if (m && !/^old/i.test(key)) put(value, m[1]!.toLowerCase() as HashType);
  }
  for (const [label, value] of Object.entries(ev.labels)) {
    if (label.length > MAX_LABEL) continue;
    const m = HASH_KEY.exec(label.replace(/[\s_-]/g, ''));
    if (m) put(value, m[1]!.toLowerCase() as HashType);
  }
  return compact(file);
}
