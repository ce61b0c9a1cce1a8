/**
 * Palo Alto Networks GlobalProtect VPN session logs from PAN-OS, syslog default (CSV) format.
 * Follows "Syslog Field Descriptions → GlobalProtect Log Fields" (PAN-OS 9.1, 10.x, 11.x); the common
 * header and CSV handling are in lib/panos.ts. Positions (0-based):
 *
 *   0-6   FUTURE_USE, Receive Time, Serial, Type GLOBALPROTECT, Subtype (0 or "globalprotect"), FUTURE_USE,
 *         Generated Time
 *   7     Virtual System          8 Event ID (portal-prelogin, portal-auth, gateway-auth, gateway-connected,
 *                                   gateway-setup-ipsec, gateway-tunnel-latency, gateway-logout, …)
 *   9     Stage                   10 Authentication Method   11 Tunnel Type   12 Source User
 *   13    Source Region           14 Machine Name   15 Public IP   16 Public IPv6   17 Private IP
 *   18    Private IPv6            19 Host ID   20 Serial Number   21 Client Version   22 Client OS
 *   23    Client OS Version       24 Repeat Count   25 Reason   26 Error   27 Description   28 Status
 *   29    Location                30 Login Duration   31 Connect Method   32 Error Code   33 Portal
 *   34    Sequence Number         35 Action Flags
 *   10.x+ appends: 36 High Resolution Timestamp, 37 Selection Type, 38 Response Time, 39 Priority,
 *         40 Attempted Gateways, 41 Gateway, 42-45 Device Group Hierarchy, 46 vsys name, 47 Device Name,
 *         48 vsys ID.
 * Both layouts are the same up to field 35, so one table reads 9.1 and 10.x records; a record whose event id
 * is one field off (an extra or missing column before it) is realigned on the event id.
 *
 * Before 9.1, GlobalProtect events were SYSTEM logs with subtype globalprotect (event ids such as
 * globalprotectgateway-auth-succ, globalprotectgateway-logout-succ); their Description ("Login from: …,
 * User name: …, Private IP: …") is read for the same facts.
 *
 * Every record becomes ONE context event of kind "vpn_session" — these are not incidents: enrichment uses
 * them to map a tunnel (private) address to a user and machine at a given time. Failed logins stay context
 * too (status "failure", with the error); a policy can count them. data: user, user_domain, public_ip,
 * private_ip, machine, event_id, stage, status, auth_method, tunnel_type, client_os, client_version,
 * portal, gateway, source_region, error, error_code, reason, description, login_duration, connect_method,
 * host_id, device_name, serial. Observables: user (user), public ip (src), private ip (tunnel), machine (host).
 */
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { addressField, field, findPanosCsv, panosTime, panosUser, parsePanos, type PanosRecord } from './lib/panos.js';
import { defined } from './lib/record.js';
import { trimEndWhile } from './lib/text.js';
import { withoutEmpty } from './lib/values.js';

const G = {
  vsys: 7, eventid: 8, stage: 9, auth: 10, tunnel: 11, user: 12, region: 13, machine: 14, public4: 15, public6: 16,
  private4: 17, private6: 18, hostid: 19, serialnumber: 20, clientver: 21, clientos: 22, clientosver: 23, repeat: 24,
  reason: 25, error: 26, description: 27, status: 28, location: 29, duration: 30, connect: 31, errorcode: 32, portal: 33,
  seqno: 34, actionflags: 35, highres: 36, selection: 37, responsetime: 38, priority: 39, attempted: 40, gateway: 41,
  vsysname: 46, devicename: 47,
} as const;

const EVENT_ID = /^(?:portal|gateway|clientless|globalprotect|hip|gp|login|logout|tunnel|auth|config)[a-z0-9-]*$/i;

const detector: Detector = {
  name: 'panos_globalprotect',
  description: 'Palo Alto Networks GlobalProtect logs (PAN-OS 9.1+/10.x CSV, older SYSTEM globalprotect): VPN sessions as context',
  format: 'text',
  sniff(record: RawRecord): number {
    if (record.json !== undefined) return 0;
    const found = findPanosCsv(record.text);
    if (!found) return 0;
    if (found.type === 'GLOBALPROTECT') return 0.97;
    if (found.type === 'SYSTEM' && /^[^,]*,[^,]*,[^,]*,SYSTEM,globalprotect,/.test(record.text.slice(found.index, found.index + 200))) return 0.9;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const rec = parsePanos(record.text);
    if (rec.type === 'GLOBALPROTECT') return { kind: 'context', events: [gpEvent(rec)] };
    if (rec.type === 'SYSTEM' && rec.subtype.toLowerCase() === 'globalprotect') return { kind: 'context', events: [systemEvent(rec)] };
    throw new ParseError(`PAN-OS ${rec.type} log${rec.subtype ? ` (${rec.subtype})` : ''} is not a GlobalProtect log (use the panos detector)`);
  },
};
export default defineDetector(detector);

function gpEvent(rec: PanosRecord): ContextEvent {
  // Realign on the event id if a column was added or dropped before it.
  let f = rec.fields;
  if (!EVENT_ID.test(field(f, G.eventid) ?? '')) {
    const shift = [-1, 1, -2, 2].find((d) => EVENT_ID.test(field(f, G.eventid + d) ?? ''));
    if (shift === undefined) {
      throw new ParseError(`GlobalProtect log: field ${G.eventid + 1} "${(field(f, G.eventid) ?? '').slice(0, 40)}" is not an event id (portal-…, gateway-…)`);
    }
    f = shift > 0 ? [...f.slice(0, 7), ...f.slice(7 + shift)] : [...f.slice(0, 7), ...Array<string>(-shift).fill(''), ...f.slice(7)];
  }
  const fixed: PanosRecord = { ...rec, fields: f };
  const time = panosTime(fixed, G.highres);
  const user = panosUser(field(f, G.user));
  const publicIp = addressField(f, G.public4) ?? addressField(f, G.public6);
  const privateIp = addressField(f, G.private4) ?? addressField(f, G.private6);
  const data = withoutEmpty({
    event_id: field(f, G.eventid),
    stage: field(f, G.stage),
    status: field(f, G.status),
    user: user?.name,
    user_domain: user?.domain,
    user_email: user?.email,
    user_raw: field(f, G.user),
    public_ip: publicIp,
    private_ip: privateIp,
    machine: field(f, G.machine),
    auth_method: field(f, G.auth),
    tunnel_type: field(f, G.tunnel),
    source_region: field(f, G.region),
    host_id: field(f, G.hostid),
    client_serial: field(f, G.serialnumber),
    client_version: field(f, G.clientver),
    client_os: field(f, G.clientos),
    client_os_version: field(f, G.clientosver),
    reason: field(f, G.reason),
    error: field(f, G.error),
    description: field(f, G.description),
    location: field(f, G.location),
    login_duration: num(field(f, G.duration)),
    connect_method: field(f, G.connect),
    error_code: field(f, G.errorcode),
    portal: field(f, G.portal),
    gateway: field(f, G.gateway),
    selection_type: field(f, G.selection),
    attempted_gateways: field(f, G.attempted),
    vsys: field(f, G.vsys),
    device_name: field(f, G.devicename) ?? rec.envelope?.hostname,
    serial: rec.serial || undefined,
    sequence: field(f, G.seqno),
  });
  return { kind: 'vpn_session', time, data, observables: observables(user?.name, publicIp, privateIp, field(f, G.machine)) };
}

// SYSTEM (pre-9.1): 7 vsys, 8 event id, 9 object, 12 module, 13 severity, 14 description, 15 sequence number.
function systemEvent(rec: PanosRecord): ContextEvent {
  const f = rec.fields;
  const time = panosTime(rec);
  const description = field(f, 14) ?? '';
  const facts = describe(description);
  const user = panosUser(facts['user name']);
  const eventId = field(f, 8);
  const status = /-(?:succ|success)$/i.test(eventId ?? '') || /succeeded/i.test(description) ? 'success' : /-fail|failed/i.test(`${eventId} ${description}`) ? 'failure' : undefined;
  const data = withoutEmpty({
    event_id: eventId,
    status,
    user: user?.name,
    user_domain: user?.domain,
    user_email: user?.email,
    public_ip: facts['login from'] ?? facts['public ip'],
    private_ip: facts['private ip'],
    machine: facts['device name'] ?? facts['computer'],
    client_version: facts['client version'],
    client_os_version: facts['client os version'],
    source_region: facts['source region'],
    tunnel_type: facts['vpn type'],
    reason: facts['reason'] ?? facts['error'],
    severity: field(f, 13),
    description: description || undefined,
    device_name: field(f, 22) ?? rec.envelope?.hostname,
    serial: rec.serial || undefined,
  });
  return {
    kind: 'vpn_session',
    time,
    data,
    observables: observables(user?.name, data.public_ip as string | undefined, data.private_ip as string | undefined, data.machine as string | undefined),
  };
}

/** "Label: value, Label: value." pairs of a SYSTEM globalprotect description, keys lower-cased. */
function describe(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const re = /(?:^|[.,]\s*)(Login from|Source region|User name|Private IP|Public IP|Client version|Device name|Computer|Client OS version|VPN type|Reason|Error)\s*:\s*/gi;
  const marks: Array<{ key: string; start: number; end: number }> = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text.slice(0, 4096))) !== null && marks.length < 32) marks.push({ key: m[1]!.toLowerCase(), start: m.index, end: m.index + m[0].length });
  marks.forEach((k, i) => {
    const stop = i + 1 < marks.length ? marks[i + 1]!.start : Math.min(text.length, 4096);
    const value = trimEndWhile(text.slice(k.end, stop), (c) => c === '.' || c === ',' || /\s/.test(c)).trim();
    if (value && !(k.key in out)) out[k.key] = value;
  });
  return out;
}

function observables(user: string | undefined, publicIp: string | undefined, privateIp: string | undefined, machine: string | undefined): Observable[] {
  return defined([
    makeObservable('user', user, 'user'),
    makeObservable('ip', publicIp, 'src'),
    makeObservable('ip', privateIp, 'tunnel'),
    makeObservable('host', machine, 'host'),
  ]);
}

function num(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}
