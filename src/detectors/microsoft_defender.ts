/**
 * Microsoft Defender alerts, in the JSON its APIs return:
 *
 *   - Defender for Endpoint (MDE) alert resource, GET https://api.security.microsoft.com/api/alerts
 *     (learn.microsoft.com "Alert resource type"): id, title, severity, category, detectionSource,
 *     detectorId, threatFamilyName, alertCreationTime, firstEventTime, machineId, computerDnsName,
 *     relatedUser{userName, domainName}, mitreTechniques[], evidence[] (with $expand=evidence; some
 *     collectors split it into one object per record, so an object is accepted too) whose entityType is
 *     File, Process, User, Ip, Url, Registry…;
 *   - Microsoft Graph security alert (alerts_v2, GET /security/alerts_v2, "alert resource type"):
 *     "@odata.type": "#microsoft.graph.security.alert", providerAlertId, serviceSource, detectorId,
 *     title, severity, category, createdDateTime, firstActivityDateTime, threatFamilyName,
 *     threatDisplayName, alertWebUrl, evidence[] of #microsoft.graph.security.<kind>Evidence: device,
 *     file, process, user, ip, url, mailbox, analyzedMessage, networkConnection, registryKey…;
 *   - Microsoft 365 Defender incidents (GET https://api.security.microsoft.com/api/incidents, "List incidents"):
 *     incidentId, incidentName, alerts[] (or one alert object, as collectors split them) whose alertId, title,
 *     firstActivity, creationTime, detectionSource, devices[] {deviceDnsName, mdatpDeviceId, osPlatform} and
 *     entities[] (the MDE evidence columns: entityType, fileName, filePath, sha1, processCommandLine,
 *     accountName, ipAddress, url…) are read as an MDE alert; and the Graph incident
 *     ("#microsoft.graph.security.incident") with its alerts[] of Graph alerts. One alert per alert of the
 *     incident; an incident without alerts is one alert of its own (displayName/incidentName, severity);
 *   - the legacy SIEM API / connector record (AlertId, AlertTitle, AlertTime, ComputerDnsName, Sha1…);
 *   - a list page of any of these ({"value": [...]}, as the APIs page): one alert per element.
 * These are alerts. The Advanced Hunting streaming API records ({"category": "AdvancedHunting-<Table>",
 * "properties": {…}}, sent to Event Hub or storage) are context events, kind by table (see AH_KINDS):
 *   event_type   the table (DeviceLogonEvents…); time Timestamp; host DeviceName, DeviceId, OSPlatform
 *   user         AccountName/AccountDomain/AccountUpn, else the InitiatingProcessAccount* columns
 *   src / dst    LocalIP:LocalPort → RemoteIP:RemotePort (swapped for InboundConnectionAccepted); logons:
 *                src = RemoteIP, RemoteDeviceName; Identity*, CloudAppEvents, UrlClickEvents: IPAddress:Port →
 *                DestinationIPAddress:DestinationPort (DestinationDeviceName)
 *   outcome      ActionType LogonSuccess / ConnectionSuccess → success, LogonFailed / ConnectionFailed → failure
 *   file         FileName, FolderPath, SHA1, SHA256, MD5, FileSize; url RemoteUrl | FileOriginUrl | Url (a bare
 *                host name in RemoteUrl is dst.host and domain instead); host.mac MacAddress (DeviceNetworkInfo)
 *   email        Email tables: SenderFromAddress | SenderMailFromAddress, RecipientEmailAddress, Subject;
 *                src SenderIPv4 | SenderIPv6
 *   process      DeviceProcessEvents: FileName, ProcessCommandLine, ProcessId, InitiatingProcessFileName as
 *                the parent; other tables: the InitiatingProcess* columns
 *   data         properties, as sent
 *
 *   event_type   "<api>/<detectionSource>": alert/WindowsDefenderAv (MDE), alerts_v2/antivirus (Graph),
 *                incident/WindowsDefenderAv (M365 incidents API), siem/<Source> (SIEM API)
 *   time         firstEventTime | firstActivityDateTime | firstActivity (when the activity began), else the
 *                creation time
 *   title, rule  title; rule.id detectorId, else the title (MDE and incident alerts have no detector id: the
 *                title is the detection's stable name); rule.name title, rule.category category
 *   severity     Informational 5, Low 25, Medium 50, High 75 (lib/severity.ts words); UnSpecified/unknown 40
 *   action       evidence detectionStatus / remediationStatus: blocked|prevented → blocked, remediated →
 *                quarantined; else a title saying "was prevented/blocked" → blocked; else detected
 *   host         computerDnsName, machineId (MDE); deviceEvidence deviceDnsName, mdeDeviceId, osPlatform,
 *                its first routable ipInterfaces address (Graph); devices[0] (incidents API)
 *   user         relatedUser (MDE); userEvidence, else processEvidence, else the device's logged-on user
 *                (Graph): accountName, domainName, userPrincipalName
 *   file         the first File evidence (else the process image): fileName, filePath + fileName, sha1,
 *                sha256, md5, fileSize
 *   process      the first Process evidence: image name, processCommandLine, processId, parent image name
 *   dst / src    Ip evidence (Graph roles attacker/source put it on the src side), networkConnection evidence
 *   url, domain  Url evidence (its host as the domain), else alertWebUrl (the portal link of the alert)
 *   email        analyzedMessage evidence: sender, recipient, subject
 *   malware      threatFamilyName | threatDisplayName | threatName
 *   vendor_id    id (the same alert id in both APIs)
 *   observables  every hash, address, URL and account of every evidence item
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import type { ContextKind, ContextOutcome } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { canonicalIp, hostOfUrl, makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseTimestamp } from './lib/time.js';
import { MAX_PAGE_ITEMS, Reader, baseName, defined, itemOrPageScore, joinPath, mapPageOf, personFirst, realHash, splitAccount, type Account } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';

const SCALE = 'defender Informational|Low|Medium|High (UnSpecified)';
const MAX_EVIDENCE = 200;

const defender: Detector = {
  name: 'microsoft_defender',
  description: 'Microsoft Defender for Endpoint /api/alerts, Graph security alerts_v2 and incidents, M365 Defender incidents API JSON; Advanced Hunting streaming events as context',
  format: 'json',
  sniff(record: RawRecord): number {
    if (huntingTable(record.json)) return 0.95;
    return itemOrPageScore(record.json, 'value', shapeScore, 0.93);
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('Defender record must be a JSON object');
    const table = huntingTable(j);
    if (table) return { kind: 'context', events: [huntingEvent(new Reader(j), table)] };
    const page = mapPageOf(j, 'value', (x) => shapeScore(x) > 0, (x) => recordAlerts(x));
    return { kind: 'alerts', alerts: page ? page.flat() : recordAlerts(j) };
  },
};
export default defineDetector(defender);

/** graph: Graph alerts_v2; mde: MDE /api/alerts; m365: an alert of the M365 Defender incidents API; siem: SIEM API. */
type Shape = 'graph' | 'mde' | 'm365' | 'siem' | 'graphIncident' | 'm365Incident';

const EVENT_TYPE_PREFIX: Record<'graph' | 'mde' | 'm365', string> = { graph: 'alerts_v2', mde: 'alert', m365: 'incident' };

function shapeOf(j: unknown): Shape | undefined {
  if (!isObject(j)) return undefined;
  const odata = own(j, '@odata.type');
  if (typeof odata === 'string' && /^#microsoft\.graph\.security\.alert$/i.test(odata)) return 'graph';
  if (typeof odata === 'string' && /^#microsoft\.graph\.security\.incident$/i.test(odata)) return 'graphIncident';
  const str = (k: string) => typeof own(j, k) === 'string';
  const alerts = own(j, 'alerts');
  const hasAlerts = Array.isArray(alerts) || isObject(alerts);
  if (own(j, 'incidentId') !== undefined && (str('incidentName') || own(j, 'redirectIncidentId') !== undefined) && hasAlerts) return 'm365Incident';
  if (str('alertId') && str('title') && (Array.isArray(own(j, 'devices')) || own(j, 'entities') !== undefined) && own(j, 'serviceSource') !== undefined) return 'm365';
  if (str('providerAlertId') && str('serviceSource') && str('title')) return 'graph';
  if (str('id') && str('title') && (str('computerDnsName') || str('machineId') || str('alertCreationTime')) && (own(j, 'detectionSource') !== undefined || own(j, 'investigationState') !== undefined || own(j, 'relatedUser') !== undefined)) return 'mde';
  if (str('AlertId') && str('AlertTitle') && (str('LinkToWDATP') || str('ComputerDnsName') || str('AlertTime'))) return 'siem';
  return undefined;
}

function shapeScore(j: unknown): number {
  const s = shapeOf(j);
  if (s === undefined) return 0;
  return s === 'graph' || s === 'graphIncident' ? 0.97 : s === 'siem' ? 0.9 : 0.95;
}

/** The alerts of one record: one alert, or every alert of an incident. */
function recordAlerts(v: unknown): AlertDraft[] {
  const shape = shapeOf(v);
  if (!isObject(v) || (shape !== 'graphIncident' && shape !== 'm365Incident')) return [alertOf(v)];
  const r = new Reader(v);
  const raw = r.raw('alerts');
  const list = isObject(raw) ? [new Reader(raw, 'alerts')] : r.objects('alerts', MAX_PAGE_ITEMS);
  if (list.length === 0) return [incidentAlert(r, shape)];
  return list.map((a) => apiAlert(a, shape === 'graphIncident' ? 'graph' : 'm365'));
}

/** An incident that lists no alerts: the incident itself is the alert. */
function incidentAlert(r: Reader, shape: 'graphIncident' | 'm365Incident'): AlertDraft {
  const title = r.first('displayName', 'incidentName') ?? 'Microsoft Defender incident';
  const sevWord = r.str('severity');
  const time = r.first('createdDateTime', 'createdTime', 'lastUpdateDateTime', 'lastUpdateTime');
  return {
    vendor_id: `incident:${r.loose('id') ?? r.loose('incidentId') ?? ''}`,
    event_type: shape === 'graphIncident' ? 'incidents' : 'incident',
    time: time ? parseTimestamp(time, { field: 'createdTime' }) : receivedTime(),
    title,
    rule: { name: title, category: 'incident' },
    severity: severityOf(sevWord),
    vendor_severity: sevWord ? { value: sevWord, scale: SCALE } : undefined,
    action: 'detected',
    url: r.str('incidentWebUrl'),
    observables: [],
  };
}

function alertOf(v: unknown): AlertDraft {
  if (!isObject(v)) throw new ParseError('alert must be a JSON object');
  const shape = shapeOf(v);
  const r = new Reader(v);
  if (shape === 'siem') return siemAlert(r);
  return apiAlert(r, shape === 'graph' || shape === 'm365' ? shape : 'mde');
}

// ---- evidence -----------------------------------------------------------------------------------------------

interface Facts {
  host: { name?: string; id?: string; os?: string; ip?: string };
  users: Account[];
  files: Array<{ name?: string; path?: string; md5?: string; sha1?: string; sha256?: string; size?: number }>;
  processes: Array<{ name?: string; command_line?: string; pid?: number; parent_name?: string }>;
  src?: { ip?: string; port?: number };
  dst?: { ip?: string; port?: number };
  urls: string[];
  domains: string[];
  email?: { from?: string; to?: string[]; subject?: string };
  /** The MDE device id an entity names (incidents API entities carry it). */
  deviceId?: string;
  statuses: string[];
  extra: Array<Observable | undefined>;
}

/** evidence (MDE, Graph) or entities (incidents API): an array, or one object where a collector split them. */
function evidenceList(r: Reader): Reader[] {
  const key = r.has('evidence') || !r.has('entities') ? 'evidence' : 'entities';
  const raw = r.raw(key);
  if (isObject(raw)) return [new Reader(raw, key)];
  return r.objects(key, MAX_EVIDENCE);
}

/** The kind of an evidence item: MDE entityType or the Graph @odata.type ("…security.fileEvidence" → file). */
function kindOf(e: Reader): string {
  const odata = e.loose('@odata.type');
  if (odata) return odata.replace(/^.*\./, '').replace(/Evidence$/i, '').toLowerCase();
  return (e.loose('entityType') ?? '').toLowerCase();
}

function fileFrom(f: Reader | undefined): Facts['files'][number] | undefined {
  if (!f) return undefined;
  const name = f.str('fileName');
  const dir = f.str('filePath');
  return compact({
    name: name ?? baseName(dir),
    path: dir && name ? joinPath(dir, name) : dir,
    md5: realHash(f.str('md5'), 'md5'),
    sha1: realHash(f.str('sha1'), 'sha1'),
    sha256: realHash(f.str('sha256'), 'sha256'),
    size: f.int('fileSize'),
  });
}

function accountFrom(a: Reader | undefined): Account | undefined {
  if (!a) return undefined;
  const upn = a.str('userPrincipalName');
  const name = a.first('accountName', 'userName') ?? upn;
  const acc = splitAccount(name, a.str('domainName'));
  if (acc && upn) acc.email ??= splitAccount(upn)?.email;
  return acc;
}

function collect(items: Reader[]): Facts {
  const f: Facts = { host: {}, users: [], files: [], processes: [], urls: [], domains: [], statuses: [], extra: [] };
  for (const e of items) {
    const kind = kindOf(e);
    for (const k of ['detectionStatus', 'remediationStatus']) {
      const s = e.loose(k);
      if (s) f.statuses.push(s.toLowerCase());
    }
    const roles = e.strings('roles').map((x) => x.toLowerCase());
    f.deviceId ??= e.loose('deviceId');
    switch (kind) {
      case 'device': {
        f.host.name ??= e.first('deviceDnsName', 'hostName');
        f.host.id ??= e.first('mdeDeviceId', 'azureAdDeviceId');
        f.host.os ??= realOs(e.str('osPlatform'));
        f.host.ip ??= e.strings('ipInterfaces', 32).map((x) => canonicalIp(x)).find((ip) => ip !== undefined && routable(ip));
        for (const u of e.objects('loggedOnUsers', 16)) f.users.push(...defined([accountFrom(u)]).map((a) => ({ ...a, loggedOn: true }) as Account));
        break;
      }
      case 'file': {
        const file = fileFrom(e.object('fileDetails') ?? e);
        if (file) f.files.push(file);
        break;
      }
      case 'process': {
        const image = e.object('imageFile');
        const imageFile = fileFrom(image);
        const parent = e.object('parentProcessImageFile');
        f.processes.push(
          compact({
            name: imageFile?.name ?? e.str('fileName') ?? baseName(e.str('processCommandLine')?.replace(/^\s*(?:"([^"]+)"|(\S+)).*$/s, '$1$2')),
            command_line: e.str('processCommandLine'),
            pid: e.int('processId'),
            parent_name: parent?.str('fileName') ?? e.str('parentProcessFileName'),
          }) ?? {},
        );
        const mdeFile = image ? undefined : fileFrom(e);
        if (imageFile) f.files.push({ ...imageFile, fromProcess: true } as Facts['files'][number]);
        else if (mdeFile && (mdeFile.sha1 || mdeFile.sha256)) f.files.push({ ...mdeFile, fromProcess: true } as Facts['files'][number]);
        const user = accountFrom(e.object('userAccount')) ?? accountFrom(e);
        if (user) f.users.push({ ...user, fromProcess: true } as Account);
        const parentFile = fileFrom(parent);
        f.extra.push(makeObservable('sha1', parentFile?.sha1, 'parent'), makeObservable('sha256', parentFile?.sha256, 'parent'));
        break;
      }
      case 'user':
      case 'account': {
        const user = accountFrom(e.object('userAccount')) ?? accountFrom(e);
        if (user) f.users.push(user);
        break;
      }
      case 'mailbox': {
        const user = accountFrom(e.object('userAccount'));
        const address = e.first('primaryAddress', 'mailboxAddress');
        if (user || address) f.users.push({ ...(user ?? { name: address }), email: user?.email ?? splitAccount(address)?.email });
        break;
      }
      case 'ip': {
        const ip = e.first('ipAddress', 'address');
        if (roles.some((x) => x === 'attacker' || x === 'source')) f.src ??= { ip };
        else if (!f.dst) f.dst = { ip };
        else f.extra.push(makeObservable('ip', ip, 'dst'));
        break;
      }
      case 'networkconnection': {
        const s = e.object('sourceAddress');
        const d = e.object('destinationAddress');
        f.src ??= compact({ ip: s?.str('ipAddress'), port: e.int('sourcePort') });
        f.dst ??= compact({ ip: d?.str('ipAddress'), port: e.int('destinationPort') });
        break;
      }
      case 'url': {
        const url = e.str('url');
        if (url) f.urls.push(url);
        break;
      }
      case 'dns':
      case 'domain': {
        const d = e.first('domainName', 'dnsServerIp');
        if (d) f.domains.push(d);
        break;
      }
      case 'mailmessage': {
        // Incidents API MailMessage entity: sender, recipient, subject.
        const to = e.str('recipient');
        f.email ??= compact({ from: e.str('sender'), to: to ? [to] : undefined, subject: e.str('subject') });
        break;
      }
      case 'analyzedmessage': {
        const from = e.object('p1Sender')?.str('emailAddress') ?? e.object('p2Sender')?.str('emailAddress');
        const to = e.str('recipientEmailAddress');
        f.email ??= compact({ from, to: to ? [to] : undefined, subject: e.str('subject') });
        f.extra.push(makeObservable('ip', e.str('senderIp'), 'email'));
        for (const u of e.strings('urls', 32)) f.extra.push(makeObservable('url', u, 'email'));
        break;
      }
      default:
        break;
    }
    // MDE evidence items carry the same columns whatever their entityType: collect any indicator present.
    // (Read leniently: other evidence kinds may use these names for other shapes.)
    f.extra.push(
      makeObservable('sha1', realHash(e.loose('sha1'), 'sha1'), 'file'),
      makeObservable('sha256', realHash(e.loose('sha256'), 'sha256'), 'file'),
      makeObservable('ip', e.loose('ipAddress'), 'evidence'),
      makeObservable('url', e.loose('url'), 'evidence'),
    );
  }
  return f;
}

function routable(ip: string): boolean {
  return !/^(127\.|169\.254\.|0\.)/.test(ip) && ip !== '::1' && !ip.startsWith('fe80:');
}

// ---- alerts -------------------------------------------------------------------------------------------------

const TIME_FIELDS: Record<'graph' | 'mde' | 'm365', string[]> = {
  graph: ['firstActivityDateTime', 'createdDateTime', 'lastUpdateDateTime'],
  mde: ['firstEventTime', 'alertCreationTime', 'lastUpdateTime'],
  m365: ['firstActivity', 'creationTime', 'lastUpdatedTime'],
};

function apiAlert(r: Reader, shape: 'graph' | 'mde' | 'm365'): AlertDraft {
  const evidence = collect(evidenceList(r));
  const title = r.first('title') ?? r.first('threatDisplayName', 'threatFamilyName');
  if (!title) throw new ParseError('missing title');
  const timeKeys = TIME_FIELDS[shape];
  const timeText = r.first(...timeKeys);
  const device = r.objects('devices', 16)[0];
  const source = r.str('detectionSource');
  const sevWord = r.str('severity');
  const related = r.object('relatedUser');
  const relatedUser = related ? splitAccount(related.str('userName'), related.str('domainName')) : undefined;
  const processUsers = evidence.users.filter((u) => (u as { fromProcess?: boolean }).fromProcess);
  const loggedOn = evidence.users.filter((u) => (u as { loggedOn?: boolean }).loggedOn);
  const direct = evidence.users.filter((u) => !processUsers.includes(u) && !loggedOn.includes(u));
  const user = relatedUser ?? personFirst(...direct, ...processUsers, ...loggedOn);
  const file = evidence.files.find((x) => !(x as { fromProcess?: boolean }).fromProcess) ?? evidence.files[0];
  const urlIndicator = evidence.urls[0];
  const link = r.str('alertWebUrl');
  return {
    vendor_id: r.first('id', 'alertId'),
    event_type: `${EVENT_TYPE_PREFIX[shape]}${source ? `/${source}` : ''}`,
    time: timeText ? parseTimestamp(timeText, { field: r.where(timeKeys[0]!) }) : receivedTime(),
    title,
    rule: compact({ id: r.str('detectorId') ?? r.str('title'), name: r.str('title'), category: r.str('category') }),
    severity: severityOf(sevWord),
    vendor_severity: sevWord ? { value: sevWord, scale: SCALE } : undefined,
    action: actionOf(evidence.statuses, title),
    src: evidence.src,
    dst: evidence.dst,
    host: compact({
      name: evidence.host.name ?? r.str('computerDnsName') ?? device?.str('deviceDnsName'),
      id: evidence.host.id ?? r.str('machineId') ?? device?.first('mdatpDeviceId', 'aadDeviceId') ?? evidence.deviceId,
      os: evidence.host.os ?? realOs(device?.str('osPlatform')),
      ip: evidence.host.ip,
    }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    file: file ? compact({ name: file.name, path: file.path, md5: file.md5, sha1: file.sha1, sha256: file.sha256, size: file.size }) : undefined,
    process: evidence.processes[0] && Object.keys(evidence.processes[0]).length ? evidence.processes[0] : undefined,
    url: urlIndicator ?? link,
    domain: hostOfUrl(urlIndicator) ?? evidence.domains[0],
    email: evidence.email,
    malware: compact({ name: r.first('threatFamilyName', 'threatDisplayName', 'threatName') ?? threatInTitle(title) }),
    observables: defined([
      ...evidence.extra,
      ...evidence.users.map((u) => makeObservable('user', u.name, 'user')),
      ...evidence.urls.slice(1).map((u) => makeObservable('url', u, 'url')),
      ...evidence.domains.slice(1).map((d) => makeObservable('domain', d, 'dst')),
      ...evidence.files.slice(1).flatMap((x) => [makeObservable('sha1', x.sha1, 'file'), makeObservable('sha256', x.sha256, 'file'), makeObservable('md5', x.md5, 'file')]),
    ]),
  };
}

/** Antivirus alert titles name the threat in quotes: "'Mountsi' malware was detected", "'Presenoker' unwanted software was prevented". */
function threatInTitle(title: string): string | undefined {
  return /^'([^']{1,200})'\s+(?:malware|unwanted software|hacktool|ransomware|exploit|backdoor|trojan|virus|worm)\b/i.exec(title)?.[1];
}

function severityOf(word: string | undefined): number {
  if (!word || /^(unspecified|unknown)/i.test(word)) return UNKNOWN_SEVERITY;
  return wordSeverity(word) ?? UNKNOWN_SEVERITY;
}

function actionOf(statuses: string[], title: string): DetectorAction {
  if (statuses.some((s) => s === 'blocked' || s === 'prevented')) return 'blocked';
  if (statuses.some((s) => s === 'remediated' || s === 'quarantined')) return 'quarantined';
  if (/\bwas (prevented|blocked|stopped)\b/i.test(title)) return 'blocked';
  if (/\bwas (remediated|quarantined)\b/i.test(title)) return 'quarantined';
  return 'detected';
}

/** The legacy SIEM API / SIEM connector flat record. */
function siemAlert(r: Reader): AlertDraft {
  const title = r.req('AlertTitle');
  const sevWord = r.str('Severity');
  const time = r.first('FirstSeen', 'AlertTime', 'LastProcessedTimeUtc');
  const user = splitAccount(r.str('UserName'), r.str('UserDomain'));
  const remediation = r.first('RemediationAction');
  const remediated = r.bool('RemediationIsSuccess');
  const fileName = r.str('FileName');
  const dir = r.str('FilePath');
  const source = r.first('DetectionSource', 'Source');
  return {
    vendor_id: r.str('AlertId'),
    event_type: source ? `siem/${source}` : 'siem',
    time: time ? parseTimestamp(time, { field: 'AlertTime' }) : receivedTime(),
    title,
    rule: compact({ id: r.first('IocUniqueId', 'CreatorIocUniqueId'), name: title, category: r.str('Category') }),
    severity: severityOf(sevWord),
    vendor_severity: sevWord ? { value: sevWord, scale: SCALE } : undefined,
    action: remediation && remediated !== false ? (/quarantin/i.test(remediation) ? 'quarantined' : 'blocked') : 'detected',
    host: compact({ name: r.first('ComputerDnsName', 'MachineName'), id: r.str('MachineId'), ip: r.first('InternalIPv4List', 'IpAddress')?.split(/[;,]/)[0] }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    file: compact({ name: fileName, path: dir && fileName ? joinPath(dir, fileName) : dir, md5: realHash(r.str('Md5'), 'md5'), sha1: realHash(r.str('Sha1'), 'sha1'), sha256: realHash(r.str('Sha256'), 'sha256') }),
    url: r.str('Url') ?? r.str('LinkToWDATP'),
    malware: compact({ name: r.first('ThreatName', 'ThreatFamily'), family: r.str('ThreatFamily') }),
    observables: defined([makeObservable('ip', r.str('IocValue'), 'ioc'), makeObservable('domain', r.str('IocValue'), 'ioc')]),
  };
}

/** osPlatform "Other" (what the incidents API says of an unclassified device) names no OS. */
function realOs(os: string | undefined): string | undefined {
  return os && !/^other$/i.test(os) ? os : undefined;
}

// ---- Advanced Hunting streaming API: context ----------------------------------------------------------------

const AH_KINDS: Record<string, ContextKind> = {
  deviceprocessevents: 'process',
  devicenetworkevents: 'flow',
  devicelogonevents: 'auth',
  identitylogonevents: 'auth',
  devicefileevents: 'file',
  deviceimageloadevents: 'file',
  devicefilecertificateinfo: 'file',
  emailevents: 'email',
  emailattachmentinfo: 'email',
  // EmailUrlInfo names a URL found in a message (by NetworkMessageId), not a sender or recipient: kind other.
  emailpostdeliveryevents: 'email',
  deviceinfo: 'status',
  devicenetworkinfo: 'status',
};

/** "AdvancedHunting-DeviceLogonEvents" → DeviceLogonEvents, when the record is one Advanced Hunting row. */
function huntingTable(j: unknown): string | undefined {
  if (!isObject(j) || !isObject(own(j, 'properties'))) return undefined;
  const category = own(j, 'category');
  if (typeof category !== 'string') return undefined;
  const m = /^AdvancedHunting-([A-Za-z]{1,64})$/.exec(category);
  return m?.[1];
}

function huntingOutcome(action: string | undefined): ContextOutcome | undefined {
  if (!action) return undefined;
  if (/^(Logon|Connection)Success$/i.test(action)) return 'success';
  if (/^(Logon|Connection)Failed$/i.test(action)) return 'failure';
  return undefined;
}

function huntingEvent(r: Reader, table: string): ContextEvent {
  const p = r.sub('properties');
  const lower = table.toLowerCase();
  const kind = AH_KINDS[lower] ?? 'other';
  const action = p.str('ActionType');
  const time = p.first('Timestamp') ?? r.first('time');
  const account = (prefix: string) => {
    const acc = splitAccount(p.str(`${prefix}Name`), p.str(`${prefix}Domain`));
    if (acc) acc.email ??= splitAccount(p.str(`${prefix}Upn`))?.email;
    return acc;
  };
  const user = personFirst(account('Account'), account('InitiatingProcessAccount')) ?? splitAccount(p.str('AccountUpn'));
  // Port 0 is what the tables hold when there is none.
  const local = compact({ ip: p.str('LocalIP'), port: p.int('LocalPort') || undefined });
  // RemoteUrl is often a bare host name (DeviceNetworkEvents): then it names the server, not a URL.
  const rawUrl = p.first('RemoteUrl', 'FileOriginUrl', 'Url');
  const isUrl = rawUrl !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl);
  const remoteUrl = p.str('RemoteUrl');
  const bareHost = !isUrl && remoteUrl && /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(remoteUrl) ? remoteUrl : undefined;
  const remote = compact({ ip: p.first('RemoteIP', 'IPAddress'), port: p.int('RemotePort') || undefined, host: p.str('RemoteDeviceName') ?? bareHost });
  const inbound = kind === 'auth' || action === 'InboundConnectionAccepted';
  // Identity (Defender for Identity), CloudAppEvents, UrlClickEvents: IPAddress:Port is the actor's side,
  // DestinationIPAddress:DestinationPort (DestinationDeviceName) the server's.
  const actorTable = lower.startsWith('identity') || lower === 'cloudappevents' || lower === 'urlclickevents';
  const actor = compact({ ip: p.str('IPAddress'), port: p.int('Port') || undefined });
  const target = compact({ ip: p.str('DestinationIPAddress'), port: p.int('DestinationPort') || undefined, host: p.str('DestinationDeviceName') });
  const isProcess = lower === 'deviceprocessevents';
  const fileName = p.str('FileName');
  const folder = p.str('FolderPath');
  const file = compact({
    name: fileName ?? baseName(folder),
    path: joinPath(folder, folder ? fileName : undefined),
    sha1: realHash(p.str('SHA1'), 'sha1'),
    sha256: realHash(p.str('SHA256'), 'sha256'),
    md5: realHash(p.str('MD5'), 'md5'),
  });
  // Email tables: the sender, one recipient per row, the subject; the sending server's address is the source.
  const recipient = p.str('RecipientEmailAddress');
  const email = compact({ from: p.first('SenderFromAddress', 'SenderMailFromAddress'), to: recipient ? [recipient] : undefined, subject: p.str('Subject') });
  const sender = kind === 'email' ? compact({ ip: p.first('SenderIPv4', 'SenderIPv6') }) : undefined;
  return {
    kind,
    event_type: table,
    time: time ? parseTimestamp(time, { field: 'properties.Timestamp' }) : receivedTime(),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    src: actorTable ? actor : inbound ? remote : (local ?? sender),
    dst: actorTable ? target : inbound ? (kind === 'auth' ? undefined : local) : remote,
    host: compact({ name: p.str('DeviceName'), id: p.str('DeviceId'), os: p.str('OSPlatform'), mac: p.str('MacAddress') }),
    outcome: huntingOutcome(action),
    // AlertInfo: the detection that fired (the alert itself comes from the alert APIs).
    rule: lower === 'alertinfo' ? compact({ name: p.str('Title'), category: p.str('Category') }) : undefined,
    url: isUrl ? rawUrl : undefined,
    domain: bareHost,
    email,
    // FileSize alone (DeviceEvents give it for what is not a file) names no file.
    file: file ? { ...file, size: p.int('FileSize') } : undefined,
    process: isProcess
      ? compact({ name: fileName, command_line: p.str('ProcessCommandLine'), pid: p.int('ProcessId'), parent_name: p.str('InitiatingProcessFileName') })
      : compact({ name: p.str('InitiatingProcessFileName'), command_line: p.str('InitiatingProcessCommandLine'), pid: p.int('InitiatingProcessId') || undefined, parent_name: p.str('InitiatingProcessParentFileName') }),
    data: p.obj,
    observables: [],
  };
}
