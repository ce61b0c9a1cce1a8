/**
 * ProtectWise (network detection in the cloud; Verizon, 2017–2019): events and their observations from the
 * REST API, as Netflix FIDO polled them (`protectwisev1-event`, fido-original.md §3.8).
 *
 * Sources: fido-original.md §3.8 (events[] with id, type, message, observations, netflows, confidence,
 * threatScore, threatLevel, killChainStage, category, threatSubCategory; observation flowId.ip.srcIp /
 * dstIp, occurredAt epoch ms, data.ipReputation / urlReputation / idsEvent / fileReputation /
 * dnsReputation; netflows[i].geo); the Splunk SOAR ProtectWise connector (observation connectionInfo
 * srcIp/dstIp/srcPort/dstPort/srcMac/dstMac/layer4Proto, sensorId, data.fileReputation.hashes md5/sha1/
 * sha256/sha512, data.idsEvent.description, event startedAt/endedAt/observationCount) and the Cortex XSOAR
 * ProtectWise integration (event fields message, id, type, sensorId, threatScore, killChainStage,
 * confidence, startedAt, observedAt, endedAt, observationCount, netflowCount, observedStage; observation
 * source, severity, occurredAt, netflowId; netflow id.srcIp/dstIp/srcPort/dstPort/layer4Proto). No public
 * record sample exists; the tests' records are reconstructed from these field lists.
 *
 * Records: an event (GET /events/{id}: with observations and netflows), an event summary (GET /events
 * items), an observation (GET /observations items), or the list wrappers {"events":[…]} /
 * {"observations":[…]}. All are alerts (ProtectWise raises events only for threats):
 *   one alert per observation of an event (FIDO raised up to three per observation, one per reputation
 *   kind; here one alert carries all of them); an event without observations is one alert.
 *   title        the event message, else the IDS description, else "<kill chain stage> observation from
 *                <source>"
 *   rule         IDS signature (id, description, category) when there is one, else threatSubCategory |
 *                category (id), message (name), category / threatSubCategory / killChainStage
 *   severity     threatScore 0-100 as is; else threatLevel LOW/MEDIUM/HIGH (25/50/75); else severity 0-100
 *   time         observation occurredAt (epoch ms), observedAt, else event startedAt / observedAt
 *   src / dst    connectionInfo, else flowId.ip, else the matching netflow's id; 0.0.0.0 is dropped (FIDO
 *                skipped such observations); host = the internal end (FIDO: the "10." one), else src
 *   url, domain  data.urlReputation.url (its host as domain), data.dnsReputation domain
 *   file         data.fileReputation hashes (and name when given)
 *   device       sensorId (observation, else event): the sensor that captured the traffic
 *   observables  data.ipReputation ip (role reputation), MACs
 *   action       detected (ProtectWise observes; it does not block). vendor_id event:observation id.
 *   event_type   the observation's source (Ids, FileReputation, UrlReputation, DnsReputation, IpReputation…),
 *                else the event type
 *   rule.id      the IDS signature id, gid:sid only when the generator is not 1
 */
import type { AlertDraft, Endpoint } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { receivedTime } from './lib/context.js';
import { firstDomain, internalSide, meaningfulIp, objectList, pickObject, pickString, portOf } from './lib/fieldmap.js';
import { hostOfUrl, makeObservable } from './lib/observables.js';
import { defined } from './lib/record.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { tryParseTimestamp } from './lib/time.js';
import { compact, isObject, own, type JsonObject } from './lib/values.js';

const MAX_ITEMS = 1000;

const protectwise: Detector = {
  name: 'protectwise',
  description: 'ProtectWise API events and observations (JSON), as FIDO polled them',
  format: 'json',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (!isObject(j)) return 0;
    const events = own(j, 'events');
    if (Array.isArray(events) && events.some((e) => isObject(e) && isEvent(e))) return 0.95;
    const observations = own(j, 'observations');
    if (!isEvent(j) && Array.isArray(observations) && observations.some((o) => isObject(o) && isObservation(o))) return 0.95;
    if (isEvent(j)) return 0.9;
    if (isObservation(j)) return 0.85;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('ProtectWise record must be a JSON object');
    return { kind: 'alerts', alerts: alertsOf(j) };
  },
};
export default defineDetector(protectwise);

const THREAT_KEYS = ['killChainStage', 'threatLevel', 'threatScore', 'threatSubCategory'];

function isEvent(e: JsonObject): boolean {
  const threat = THREAT_KEYS.some((k) => own(e, k) !== undefined);
  const shape = ['startedAt', 'observationCount', 'netflowCount', 'observations', 'netflows'].some((k) => own(e, k) !== undefined);
  return own(e, 'id') !== undefined && typeof own(e, 'message') === 'string' && threat && shape;
}

function isObservation(o: JsonObject): boolean {
  const flow = isObject(own(o, 'flowId')) || isObject(own(o, 'connectionInfo')) || own(o, 'netflowId') !== undefined;
  const pw = ['killChainStage', 'sensorId', 'observedStage'].some((k) => own(o, k) !== undefined) || isObject(own(o, 'data'));
  return own(o, 'occurredAt') !== undefined && flow && pw;
}

function alertsOf(j: JsonObject): AlertDraft[] {
  const events = own(j, 'events');
  if (!isEvent(j) && Array.isArray(events)) {
    const list = objectList(events, MAX_ITEMS);
    if (!list.length) throw new ParseError('events holds no event objects');
    return list.flatMap(eventAlerts);
  }
  const observations = own(j, 'observations');
  if (!isEvent(j) && !isObservation(j) && Array.isArray(observations)) {
    const list = objectList(observations, MAX_ITEMS);
    if (!list.length) throw new ParseError('observations holds no observation objects');
    return list.map((o) => alertOf(undefined, o, undefined));
  }
  if (isEvent(j)) return eventAlerts(j);
  if (isObservation(j)) return [alertOf(undefined, j, undefined)];
  throw new ParseError('not a ProtectWise event or observation (expected id, message and threat fields, or occurredAt with flowId/connectionInfo)');
}

function eventAlerts(event: JsonObject): AlertDraft[] {
  const observations = objectList(own(event, 'observations'), MAX_ITEMS);
  const netflows = objectList(own(event, 'netflows'), MAX_ITEMS);
  if (!observations.length) return [alertOf(event, undefined, netflows[0])];
  return observations.map((o, i) => alertOf(event, o, matchingNetflow(o, netflows, i)));
}

/** The netflow an observation refers to (netflowId = netflow key), else the one at the same index (FIDO). */
function matchingNetflow(o: JsonObject, netflows: JsonObject[], i: number): JsonObject | undefined {
  const ref = pickString(o, 'netflowId');
  if (ref) {
    const hit = netflows.find((n) => pickString(n, 'key') === ref || pickString(n, 'id') === ref);
    if (hit) return hit;
  }
  return netflows[i];
}

function alertOf(event: JsonObject | undefined, obs: JsonObject | undefined, netflow: JsonObject | undefined): AlertDraft {
  const data = pickObject(obs, 'data');
  const ids = pickObject(data, 'idsEvent');
  const urlRep = pickObject(data, 'urlReputation');
  const ipRep = pickObject(data, 'ipReputation');
  const fileRep = pickObject(data, 'fileReputation');
  const dnsRep = pickObject(data, 'dnsReputation');
  const stage = pickString(obs, 'killChainStage') ?? pickString(event, 'killChainStage');
  const source = pickString(obs, 'source');
  const title =
    pickString(event, 'message') ??
    pickString(ids, 'description', 'message', 'signature') ??
    (stage || source ? `${stage ?? 'Threat'} observation${source ? ` from ${source}` : ''}` : 'ProtectWise observation');
  const { src, dst, macs } = endpoints(obs, netflow);
  const side = internalSide(src.ip, dst.ip, src.ip ? 'src' : dst.ip ? 'dst' : undefined);
  const hostEnd = side === 'dst' ? dst : side === 'src' ? src : undefined;
  const url = pickString(urlRep, 'url', 'uri');
  const urlDomain = hostOfUrl(url);
  const dnsDomain = pickString(dnsRep, 'domain', 'name', 'query', 'fqdn');
  const hashes = pickObject(fileRep, 'hashes') ?? fileRep;
  const { severity, vendor } = severityOf(obs, event);
  const eventId = pickString(event, 'id');
  const obsId = pickString(obs, 'id');
  const extra: Array<Observable | undefined> = [makeObservable('ip', pickString(ipRep, 'ip', 'ipAddress', 'address'), 'reputation'), ...macs];
  return {
    vendor_id: eventId && obsId ? `${eventId}:${obsId}` : (obsId ?? eventId),
    // What kind of observation (Ids, FileReputation, UrlReputation…) decides which fields it has; an event
    // without observations is known by its type.
    event_type: source ?? pickString(event, 'type'),
    time: timeOf(obs, event),
    title,
    rule: ids
      ? compact({ id: idsSignature(ids), name: pickString(ids, 'description', 'message', 'signature'), category: pickString(ids, 'category', 'classification') ?? stage })
      : // Without a signature the detection's stable name is the threat it names (Zeus), not the record type.
        compact({ id: pickString(event, 'threatSubCategory', 'category') ?? pickString(obs, 'category') ?? pickString(event, 'type') ?? source, name: pickString(event, 'message') ?? title, category: pickString(event, 'threatSubCategory', 'category') ?? pickString(obs, 'category') ?? stage }),
    severity,
    vendor_severity: vendor,
    action: 'detected',
    src: compact(src),
    dst: compact(dst),
    host: hostEnd ? compact({ ip: hostEnd.ip, name: hostEnd.host }) : undefined,
    // The ProtectWise sensor that captured the traffic.
    device: compact({ id: pickString(obs, 'sensorId') ?? pickString(event, 'sensorId') }),
    file: compact({
      name: pickString(fileRep, 'fileName', 'filename', 'name'),
      md5: pickString(hashes, 'md5'),
      sha1: pickString(hashes, 'sha1'),
      sha256: pickString(hashes, 'sha256'),
    }),
    url,
    domain: firstDomain(dnsDomain, urlDomain),
    observables: defined(extra),
  };
}

function idsSignature(ids: JsonObject): string | undefined {
  const sid = pickString(ids, 'signatureId', 'sigId', 'sid', 'signature_id');
  const gid = pickString(ids, 'generatorId', 'gid');
  // Snort convention: the generator only when it is not 1 (the rules engine), never the revision.
  return sid && gid && gid !== '1' ? `${gid}:${sid}` : sid;
}

function endpoints(obs: JsonObject | undefined, netflow: JsonObject | undefined): { src: Endpoint; dst: Endpoint; macs: Array<Observable | undefined> } {
  const conn = pickObject(obs, 'connectionInfo');
  const flowIp = pickObject(pickObject(obs, 'flowId'), 'ip') ?? pickObject(obs, 'flowId');
  const nf = pickObject(netflow, 'id') ?? pickObject(netflow, 'key');
  for (const c of [conn, flowIp, nf]) {
    if (!c) continue;
    const srcIp = meaningfulIp(pickString(c, 'srcIp', 'sourceIp', 'src'));
    const dstIp = meaningfulIp(pickString(c, 'dstIp', 'destIp', 'dst'));
    if (!srcIp && !dstIp) continue;
    return {
      src: { ip: srcIp, port: portOf(pickString(c, 'srcPort', 'sourcePort')) },
      dst: { ip: dstIp, port: portOf(pickString(c, 'dstPort', 'destPort')) },
      macs: [makeObservable('mac', pickString(c, 'srcMac'), 'src'), makeObservable('mac', pickString(c, 'dstMac'), 'dst')],
    };
  }
  return { src: {}, dst: {}, macs: [] };
}

function severityOf(obs: JsonObject | undefined, event: JsonObject | undefined): { severity: number; vendor?: AlertDraft['vendor_severity'] } {
  for (const o of [obs, event]) {
    const score = pickString(o, 'threatScore');
    if (score !== undefined && /^\d{1,3}(\.\d+)?$/.test(score) && Number(score) <= 100) return { severity: Math.round(Number(score)), vendor: { value: score, scale: 'protectwise threatScore 0-100' } };
  }
  for (const o of [obs, event]) {
    const level = pickString(o, 'threatLevel');
    const w = wordSeverity(level);
    if (level && w !== undefined) return { severity: w, vendor: { value: level, scale: 'protectwise threatLevel LOW|MEDIUM|HIGH' } };
  }
  const sev = pickString(obs, 'severity') ?? pickString(event, 'severity');
  if (sev !== undefined && /^\d{1,3}$/.test(sev) && Number(sev) <= 100) return { severity: Number(sev), vendor: { value: sev, scale: 'protectwise severity 0-100' } };
  return { severity: UNKNOWN_SEVERITY };
}

function timeOf(obs: JsonObject | undefined, event: JsonObject | undefined): string {
  const candidates = [own(obs ?? {}, 'occurredAt'), own(obs ?? {}, 'observedAt'), own(event ?? {}, 'startedAt'), own(event ?? {}, 'observedAt'), own(event ?? {}, 'endedAt')];
  for (const c of candidates) {
    if (c === undefined || c === null || c === 0 || c === '0' || c === '') continue; // 0: not set
    const t = tryParseTimestamp(c);
    if (t) return t;
    throw new ParseError(`unrecognised time ${JSON.stringify(c)?.slice(0, 40)} (expected epoch milliseconds)`);
  }
  return receivedTime();
}
