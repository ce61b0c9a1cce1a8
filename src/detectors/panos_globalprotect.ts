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
 * Every record becomes ONE context event of kind "vpn" — these are not incidents: enrichment uses them to map
 * a tunnel (private) address to a user and machine at a given time. Failed logins stay context too (outcome
 * "failure", with the error in data); a policy can count them.
 *   event_type   the Event ID (gateway-auth, portal-prelogin, globalprotectgateway-auth-succ …)
 *   user         Source User (domain\user split; "pre-logon" is no user)
 *   src          Public IP (else Public IPv6): the client's address on the Internet
 *   assigned_ip  Private IP (else Private IPv6): the tunnel address the gateway gave the client
 *   host         Machine Name, Host ID, Client OS
 *   device       Device Name (10.x), else the syslog host; the firewall serial as id
 *   outcome      Status success/failure (SYSTEM: the -succ/-fail event id, "succeeded"/"failed")
 *   start, end   logout events: end = the event time, start = end − Login Duration (seconds)
 *   data         the remaining fields by name (stage, auth method, tunnel type, portal, gateway, error …)
 */
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { addressField, field, findPanosCsv, panosDevice, panosTime, panosUser, parsePanos, type PanosRecord } from './lib/panos.js';
import { trimEndWhile } from './lib/text.js';
import { compact, withoutEmpty } from './lib/values.js';

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
  const data = withoutEmpty({
    stage: field(f, G.stage),
    status: field(f, G.status),
    user_raw: field(f, G.user),
    auth_method: field(f, G.auth),
    tunnel_type: field(f, G.tunnel),
    source_region: field(f, G.region),
    client_serial: field(f, G.serialnumber),
    client_version: field(f, G.clientver),
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
    sequence: field(f, G.seqno),
  });
  return vpnEvent(fixed, {
    time,
    eventId: field(f, G.eventid),
    user: field(f, G.user),
    publicIp: addressField(f, G.public4) ?? addressField(f, G.public6),
    privateIp: addressField(f, G.private4) ?? addressField(f, G.private6),
    host: { name: field(f, G.machine), id: field(f, G.hostid), os: field(f, G.clientos) },
    outcome: outcomeOf(field(f, G.status)),
    duration: num(field(f, G.duration)),
    deviceIndex: G.devicename,
    data,
  });
}

// SYSTEM (pre-9.1): 7 vsys, 8 event id, 9 object, 12 module, 13 severity, 14 description, 15 sequence number.
function systemEvent(rec: PanosRecord): ContextEvent {
  const f = rec.fields;
  const time = panosTime(rec);
  const description = field(f, 14) ?? '';
  const facts = describe(description);
  const eventId = field(f, 8);
  const status = /-(?:succ|success)$/i.test(eventId ?? '') || /succeeded/i.test(description) ? 'success' : /-fail|failed/i.test(`${eventId} ${description}`) ? 'failure' : undefined;
  return vpnEvent(rec, {
    time,
    eventId,
    user: facts['user name'],
    publicIp: facts['login from'] ?? facts['public ip'],
    privateIp: facts['private ip'],
    host: { name: facts['device name'] ?? facts['computer'] },
    outcome: status,
    deviceIndex: 22,
    data: withoutEmpty({
      client_version: facts['client version'],
      client_os_version: facts['client os version'],
      source_region: facts['source region'],
      tunnel_type: facts['vpn type'],
      reason: facts['reason'] ?? facts['error'],
      severity: field(f, 13),
      description: description || undefined,
    }),
  });
}

interface VpnFacts {
  time: string;
  eventId?: string;
  user?: string;
  publicIp?: string;
  privateIp?: string;
  host: { name?: string; id?: string; os?: string };
  outcome?: 'success' | 'failure';
  /** Login Duration in seconds (logout events). */
  duration?: number;
  deviceIndex: number;
  data: Record<string, unknown>;
}

/** The canonical VPN event both log layouts share. */
function vpnEvent(rec: PanosRecord, v: VpnFacts): ContextEvent {
  const user = panosUser(v.user);
  const logout = /logout/i.test(v.eventId ?? '');
  const ms = Date.parse(v.time);
  return {
    kind: 'vpn',
    event_type: v.eventId,
    time: v.time,
    user: user ? compact({ ...user }) : undefined,
    src: compact({ ip: v.publicIp, user: user?.name }),
    assigned_ip: v.privateIp,
    host: compact(v.host),
    device: panosDevice(rec, v.deviceIndex),
    outcome: v.outcome,
    start: logout && v.duration !== undefined && Number.isFinite(ms) ? new Date(ms - v.duration * 1000).toISOString() : undefined,
    end: logout ? v.time : undefined,
    data: { event_id: v.eventId, serial: rec.serial || undefined, ...v.data },
    observables: [],
  };
}

function outcomeOf(status: string | undefined): 'success' | 'failure' | undefined {
  const s = status?.toLowerCase();
  return s === 'success' ? 'success' : s === 'failure' || s === 'fail' || s === 'failed' ? 'failure' : undefined;
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

function num(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}
