/**
 * VMware / Broadcom Carbon Black Cloud alerts, as the Alerts API returns them and the Data Forwarder writes
 * them (developer.carbonblack.com "Alerts API" v7 and the v6 → v7 field-name migration guide; Data
 * Forwarder alert schema 2.0.0 = v7 names, 1.0.0 = v6 names):
 *
 *   v7   id, type (CB_ANALYTICS, WATCHLIST, DEVICE_CONTROL, CONTAINER_RUNTIME, HOST_BASED_FIREWALL,
 *        INTRUSION_DETECTION_SYSTEM, NETWORK_ANOMALY), detection_timestamp, first_event_timestamp,
 *        backend_timestamp, severity 1-10, reason, reason_code, device_name, device_id, device_os,
 *        device_internal_ip, device_external_ip, device_username, process_name (a full path),
 *        process_cmdline, process_pid, process_sha256, process_md5, process_username, parent_name,
 *        parent_sha256, parent_md5, childproc_*, sensor_action, policy_applied, run_state,
 *        report_id/report_name, watchlists[], ioc_hit, ttps[], netconn_* (local/remote ip, port, domain),
 *        threat_id, alert_url
 *   v6   create_time, first_event_time, last_event_time, category, device_name, device_username,
 *        device_os, device_internal_ip, threat_cause_actor_name / _sha256 / _md5, threat_cause_vector,
 *        threat_indicators[], process_name, reason, severity, policy_applied, sensor_action, workflow…
 *   SIEM notification (the legacy integrationServices v3 API / cb-defense-syslog): type THREAT | POLICY_ACTION,
 *        threatInfo{incidentId, score 1-10, summary, time, indicators[], threatCause{actor (sha256), actorName,
 *        reason, threatCategory}}, policyAction{sha256Hash, action, applicationName}, deviceInfo{deviceId,
 *        deviceName, email, internalIpAddress, externalIpAddress, deviceType}, eventTime, eventId, url, ruleName
 *   Data Forwarder watch list hits (type "watchlist.hit", schema 1): report_id/report_name, watchlists[],
 *        ioc_hit, device_*, process_path, process_hash [md5, sha256], process_cmdline, process_username,
 *        parent_path, parent_hash…: an alert like the Alerts API's WATCHLIST alerts;
 *   and a list page ({"results": [...]}): one alert per element.
 *   Data Forwarder endpoint events (type "endpoint.event.*") are not alerts but context: procstart → process
 *   (the started child: childproc_name, target_cmdline, childproc_pid; the parent process_path), procend and
 *   crossproc → process, filemod / moduleload → file (filemod_name / modload_name and their hashes),
 *   netconn → flow (local_ip:local_port → remote_ip:remote_port, reversed when netconn_inbound; netconn_domain),
 *   scriptload, regmod and others → process when a process is named, else other. Field mapping:
 *   docs/detectors/carbon_black_cloud.md.
 *
 *   time        first_event_timestamp | detection_timestamp | backend_timestamp (v6: first_event_time |
 *               create_time)
 *   event_type  type (CB_ANALYTICS, WATCHLIST, THREAT, watchlist.hit…)
 *   title       reason | report_name | threat_name | reason_code (v6 watchlist alerts carry only that) |
 *               "<type> alert"
 *   rule        id report_id | rule_id (IDS) | k8s_rule_id (container runtime) | reason_code; name
 *               report_name | the first watchlist name | threat_name | k8s_rule | reason_code; category type
 *   severity    1-10 ×10 (vendor_severity keeps the raw value)
 *   action      policy_applied APPLIED with sensor_action DENY/BLOCK/TERMINATE, or run_state DID_NOT_RUN
 *               → blocked; sensor_action ALLOW → allowed; else detected
 *   host        device_name (a "DOMAIN\NAME" form loses the domain), device_internal_ip, device_id,
 *               device_os (+ version)
 *   user        device_username (the person logged on), unless absent or a service account: then
 *               process_username (e-mail addresses kept as e-mail)
 *   process     process_name | process_path base name, process_cmdline, process_pid, parent_name |
 *               parent_path base name
 *   file        the process image: path process_path | process_name, process_sha256 | process_hash[],
 *               process_md5 (v6: threat_cause_actor_*)
 *   dst / src   netconn_remote_ip:port / netconn_local_ip:port; domain netconn_remote_domain | netconn_domain
 *   malware     the name in a reputation reason ("A known virus (HackTool: Powerpuff) was detected…")
 *   url         alert_url (the console link; https:// added when it has no scheme)
 *   vendor_id   id
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { ContextKind } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY, scaleSeverity } from './lib/severity.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { Reader, type Account, baseName, defined, firstIp, itemOrPageScore, machineName, mapPageOf, personFirst, realHash, splitAccount } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';
import type { HashType } from './lib/observables.js';

const SCALE = 'carbon black cloud 1-10';
const ALERT_TYPES = new Set(['CB_ANALYTICS', 'WATCHLIST', 'DEVICE_CONTROL', 'CONTAINER_RUNTIME', 'HOST_BASED_FIREWALL', 'INTRUSION_DETECTION_SYSTEM', 'NETWORK_ANOMALY', 'THREAT', 'POLICY_ACTION']);

const cbCloud: Detector = {
  name: 'carbon_black_cloud',
  description: 'Carbon Black Cloud alerts JSON (Alerts API v7 and v6 field names, Data Forwarder alert schema); endpoint events as context',
  format: 'json',
  sniff(record: RawRecord): number {
    return itemOrPageScore(record.json, 'results', shapeScore, 0.9, (x) => shapeOf(x) === 'alert');
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('Carbon Black Cloud record must be a JSON object');
    const shape = shapeOf(j);
    if (shape === 'event') return { kind: 'context', events: [endpointEvent(new Reader(j))] };
    if (shape === 'notification') return { kind: 'alerts', alerts: [notificationAlert(new Reader(j))] };
    const page = mapPageOf(j, 'results', (x) => shapeOf(x) === 'alert', (x) => alertOf(new Reader(x as Record<string, unknown>)));
    return { kind: 'alerts', alerts: page ?? [alertOf(new Reader(j))] };
  },
};
export default defineDetector(cbCloud);

function shapeOf(j: unknown): 'alert' | 'event' | 'notification' | undefined {
  if (!isObject(j)) return undefined;
  const type = own(j, 'type');
  const has = (k: string) => own(j, k) !== undefined;
  if ((type === 'THREAT' || type === 'POLICY_ACTION') && isObject(own(j, 'deviceInfo')) && (has('threatInfo') || has('policyAction'))) return 'notification';
  if (typeof type === 'string' && type.startsWith('endpoint.event.') && (has('org_key') || has('device_id'))) return 'event';
  if (type === 'watchlist.hit' && (has('device_id') || has('device_name')) && (has('report_id') || has('watchlists'))) return 'alert';
  // Container runtime alerts name a Kubernetes workload instead of a device.
  const device = has('device_id') || has('device_name') || has('k8s_cluster');
  const cbType = typeof type === 'string' && ALERT_TYPES.has(type);
  const v7 = has('detection_timestamp') || has('backend_timestamp') || has('alert_url');
  const v6 = has('create_time') && (has('threat_cause_actor_name') || has('legacy_alert_id') || has('threat_indicators') || has('category'));
  if (device && has('id') && (cbType || has('org_key')) && (v7 || v6) && (has('reason') || has('severity'))) return 'alert';
  return undefined;
}

function shapeScore(j: unknown): number {
  const s = shapeOf(j);
  if (!s) return 0;
  if (s === 'notification') return 0.93;
  return isObject(j) && own(j, 'org_key') !== undefined ? 0.96 : 0.9;
}

function alertOf(r: Reader): AlertDraft {
  const type = r.str('type');
  const reason = r.str('reason');
  const watchlists = r.objects('watchlists', 32);
  const title = reason ?? r.first('report_name', 'threat_name', 'reason_code') ?? (type ? `Carbon Black Cloud ${type} alert` : undefined);
  if (!title) throw new ParseError('missing reason (and type)');
  const sev = r.num('severity');
  const processPath = r.first('process_path', 'process_name', 'threat_cause_actor_name');
  const processHash = hashes(r, 'process_hash');
  const processUser = splitAccount(r.str('process_username'));
  const deviceUser = splitAccount(r.str('device_username'));
  // The person logged on to the device (the Alerts API's device_username) is who the alert is about; the account
  // that ran the process when the device names none, or only a service identity.
  const user = personFirst(deviceUser, processUser);
  const time = r.first('first_event_timestamp', 'detection_timestamp', 'first_event_time', 'create_time', 'backend_timestamp', 'last_event_timestamp');
  const os = [r.str('device_os'), r.str('device_os_version')].filter(Boolean).join(' ') || undefined;
  const link = r.str('alert_url');
  const parentHash = hashes(r, 'parent_hash');
  return {
    vendor_id: r.first('id', 'legacy_alert_id') ?? forwarderId(r),
    event_type: type,
    time: time ? parseTimestamp(time, { field: 'first_event_timestamp' }) : receivedTime(),
    title,
    rule: compact({
      id: r.first('report_id', 'rule_id', 'k8s_rule_id', 'reason_code'),
      name: r.str('report_name') ?? watchlists[0]?.str('name') ?? r.first('threat_name', 'k8s_rule', 'reason_code'),
      category: type ?? r.str('category'),
    }),
    severity: sev === undefined ? UNKNOWN_SEVERITY : (scaleSeverity(sev, 10) ?? UNKNOWN_SEVERITY),
    vendor_severity: sev === undefined ? undefined : { value: String(sev), scale: SCALE },
    action: actionOf(r),
    src: compact({ ip: r.first('netconn_local_ip', 'netconn_local_ipv4', 'netconn_local_ipv6'), port: r.int('netconn_local_port') }),
    dst: compact({ ip: r.first('netconn_remote_ip', 'netconn_remote_ipv4', 'netconn_remote_ipv6'), port: r.int('netconn_remote_port') }),
    host: compact({ name: machineName(r.str('device_name')), ip: firstIp(r.loose('device_internal_ip')), id: r.str('device_id'), os }),
    user: userInfo(user),
    process: compact({
      name: baseName(r.first('process_name', 'process_path')),
      command_line: r.str('process_cmdline'),
      pid: r.int('process_pid'),
      parent_name: baseName(r.first('parent_name', 'parent_path')),
    }),
    file: compact({
      name: baseName(processPath),
      path: processPath,
      md5: realHash(r.first('process_md5', 'threat_cause_actor_md5'), 'md5') ?? processHash.md5,
      sha256: realHash(r.first('process_sha256', 'threat_cause_actor_sha256'), 'sha256') ?? processHash.sha256,
    }),
    domain: r.first('netconn_remote_domain', 'netconn_domain'),
    url: link && !/^[a-z][a-z0-9+.-]*:\/\//i.test(link) ? `https://${link}` : link,
    malware: compact({ name: malwareIn(reason) }),
    observables: defined([
      makeObservable('ip', r.str('device_external_ip'), 'host'),
      makeObservable('sha256', realHash(r.str('parent_sha256'), 'sha256') ?? parentHash.sha256, 'parent'),
      makeObservable('md5', realHash(r.str('parent_md5'), 'md5') ?? parentHash.md5, 'parent'),
      makeObservable('sha256', realHash(r.str('childproc_sha256'), 'sha256'), 'child'),
      makeObservable('user', processUser?.name, 'process'),
      makeObservable('user', deviceUser?.name, 'device_user'),
      makeObservable('email', deviceUser?.email, 'device_user'),
      ...r.objects('threat_indicators', 32).map((t) => makeObservable('sha256', realHash(t.str('sha256'), 'sha256'), 'file')),
    ]),
  };
}

/** A Data Forwarder watchlist hit has no id of its own: the process and the report it matched identify it. */
function forwarderId(r: Reader): string | undefined {
  const parts = [r.str('report_id'), r.str('process_guid'), r.str('create_time')];
  return parts.every((p) => p !== undefined) ? parts.join(':') : undefined;
}

/** The Data Forwarder's hash lists ([md5, sha256], blanks when not computed), by length. */
function hashes(r: Reader, key: string): Partial<Record<HashType, string>> {
  const out: Partial<Record<HashType, string>> = {};
  for (const h of r.strings(key, 4)) {
    const md5 = realHash(h, 'md5');
    const sha256 = realHash(h, 'sha256');
    if (md5) out.md5 ??= md5;
    if (sha256) out.sha256 ??= sha256;
  }
  return out;
}

function actionOf(r: Reader): DetectorAction {
  const sensor = (r.loose('sensor_action') ?? '').toUpperCase();
  const applied = (r.loose('policy_applied') ?? '').toUpperCase();
  const runState = (r.loose('run_state') ?? '').toUpperCase();
  if (runState === 'DID_NOT_RUN') return 'blocked';
  if (/DENY|BLOCK|TERMINATE|KILL/.test(sensor) && applied !== 'NOT_APPLIED') return 'blocked';
  if (applied === 'APPLIED' && !sensor) return 'blocked';
  if (sensor === 'ALLOW' || sensor === 'ALLOW_AND_LOG') return 'allowed';
  return 'detected';
}

/** "A known virus (HackTool: Powerpuff) was detected running." → "HackTool: Powerpuff". */
function malwareIn(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  return /\b(?:known (?:virus|malware)|malware|virus|ransomware)\s*\(([^()]{1,200})\)/i.exec(reason)?.[1]?.trim();
}

/** The legacy SIEM notification (integrationServices v3 "notification", cb-defense-syslog): THREAT or POLICY_ACTION. */
function notificationAlert(r: Reader): AlertDraft {
  const type = r.req('type');
  const threat = r.sub('threatInfo');
  const cause = threat.sub('threatCause');
  const policy = r.sub('policyAction');
  const device = r.sub('deviceInfo');
  const score = threat.num('score');
  const title = threat.str('summary') ?? r.str('eventDescription') ?? `Carbon Black Cloud ${type}`;
  const eventTime = r.raw('eventTime') ?? threat.raw('time');
  const sha256 = cause.str('actor') ?? policy.str('sha256Hash');
  const policyAction = (policy.loose('action') ?? '').toUpperCase();
  const user = splitAccount(device.str('email'));
  return {
    vendor_id: threat.str('incidentId') ?? r.str('eventId'),
    event_type: type,
    time: eventTime !== undefined && eventTime !== null ? parseTimestamp(eventTime, { field: 'eventTime' }) : receivedTime(),
    title,
    rule: compact({ id: cause.str('reason') ?? (policyAction || undefined), name: r.str('ruleName') ?? cause.str('reason'), category: cause.str('threatCategory') ?? type }),
    severity: score === undefined ? UNKNOWN_SEVERITY : (scaleSeverity(score, 10) ?? UNKNOWN_SEVERITY),
    vendor_severity: score === undefined ? undefined : { value: String(score), scale: SCALE },
    action: type === 'POLICY_ACTION' ? (/TERMINATE|DENY|BLOCK|KILL/.test(policyAction) ? 'blocked' : policyAction === 'ALLOW' ? 'allowed' : 'detected') : 'detected',
    host: compact({ name: machineName(device.str('deviceName')), ip: firstIp(device.loose('internalIpAddress')), id: device.str('deviceId'), os: device.str('deviceType') }),
    user: userInfo(user),
    file: compact({ name: cause.str('actorName') ?? policy.str('applicationName'), sha256: realHash(sha256, 'sha256') }),
    url: r.str('url'),
    observables: defined([
      makeObservable('ip', device.str('externalIpAddress'), 'host'),
      ...threat.objects('indicators', 32).map((i) => makeObservable('sha256', realHash(i.str('sha256Hash'), 'sha256'), 'file')),
    ]),
  };
}

// ---- Data Forwarder endpoint events ------------------------------------------------------------------------------

const FILE_EVENTS: Record<string, string> = { 'endpoint.event.filemod': 'filemod', 'endpoint.event.moduleload': 'modload', 'endpoint.event.scriptload': 'scriptload' };

function endpointEvent(r: Reader): ContextEvent {
  const type = r.req('type');
  const time = forwarderTime(r.raw('device_timestamp')) ?? forwarderTime(r.raw('create_time')) ?? forwarderTime(r.raw('backend_timestamp')) ?? receivedTime();
  const procstart = type === 'endpoint.event.procstart';
  const prefix = FILE_EVENTS[type];
  const fileHash = prefix ? hashes(r, `${prefix}_hash`) : {};
  const filePath = prefix ? r.str(`${prefix}_name`) : undefined;
  const file = prefix
    ? compact({ name: baseName(filePath), path: filePath, md5: realHash(r.str(`${prefix}_md5`), 'md5') ?? fileHash.md5, sha256: realHash(r.str(`${prefix}_sha256`), 'sha256') ?? fileHash.sha256 })
    : undefined;
  // A process start is about the child it started; the record's process_* fields are its parent's.
  const process = procstart
    ? compact({ name: baseName(r.str('childproc_name')), command_line: r.str('target_cmdline'), pid: r.int('childproc_pid'), parent_name: baseName(r.str('process_path')) })
    : compact({ name: baseName(r.first('process_path', 'process_name')), command_line: r.str('process_cmdline'), pid: r.int('process_pid'), parent_name: baseName(r.str('parent_path')) });
  const actor = hashes(r, 'process_hash');
  const inbound = r.bool('netconn_inbound') === true;
  const local = compact({ ip: r.first('local_ip', 'netconn_local_ip', 'netconn_local_ipv4'), port: r.int('local_port') });
  const remote = compact({ ip: r.first('remote_ip', 'netconn_remote_ip', 'netconn_remote_ipv4'), port: r.int('remote_port') });
  const flow = type === 'endpoint.event.netconn';
  const account = splitAccount(procstart ? r.first('childproc_username', 'process_username') : r.str('process_username'));
  return {
    kind: endpointKind(type, file, process),
    event_type: type,
    time,
    host: compact({ name: machineName(r.str('device_name')), id: r.str('device_id'), ip: firstIp(r.loose('device_internal_ip')), os: r.str('device_os') }),
    user: userInfo(account),
    src: flow ? (inbound ? remote : local) : undefined,
    dst: flow ? (inbound ? local : remote) : undefined,
    domain: r.first('netconn_domain', 'remote_domain'),
    file: file ?? (procstart ? compact({ path: r.str('childproc_name'), ...hashes(r, 'childproc_hash') }) : undefined),
    process,
    data: { ...r.obj },
    observables: defined([
      makeObservable('ip', r.str('device_external_ip'), 'host'),
      makeObservable('md5', actor.md5, 'process'),
      makeObservable('sha256', actor.sha256 ?? realHash(r.str('process_sha256'), 'sha256'), 'process'),
      ...Object.entries(hashes(r, 'crossproc_hash')).map(([t, v]) => makeObservable(t as HashType, v, 'target')),
    ]),
  };
}

function endpointKind(type: string, file: ContextEvent['file'], process: ContextEvent['process']): ContextKind {
  if (type === 'endpoint.event.netconn') return 'flow';
  if (file?.path || file?.md5 || file?.sha256) return 'file';
  if (type === 'endpoint.event.regmod') return 'other';
  return process ? 'process' : 'other';
}

/** The Data Forwarder writes Go's default time format, "2022-02-10 11:50:51.686294 +0000 UTC"; ISO-8601 otherwise. */
function forwarderTime(v: unknown): string | undefined {
  const m = typeof v === 'string' ? /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d{1,9})? ([+-]\d\d)(\d\d)(?: [A-Z]{1,5})?$/.exec(v) : null;
  if (!m) return tryParseTimestamp(v);
  const fraction = (m[3] ?? '').slice(0, 4); // milliseconds: a Date holds no more
  return tryParseTimestamp(`${m[1]}T${m[2]}${fraction}${m[4]}:${m[5]}`);
}

/** An account as the canonical user; "DOMAIN\\user@example.com" (v6 device_username) keeps its address as the e-mail too. */
function userInfo(a: Account | undefined): AlertDraft['user'] {
  if (!a) return undefined;
  return compact({ name: a.name, domain: a.domain, email: a.email ?? (a.name?.includes('@') ? a.name : undefined) });
}
