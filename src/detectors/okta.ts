/**
 * Okta System Log events (developer.okta.com "System Log API" LogEvent object; GET /api/v1/logs, and the
 * same objects in Okta's log streams), one event per record: uuid, published, eventType, version,
 * severity (DEBUG|INFO|WARN|ERROR), displayMessage, actor{id, type, alternateId, displayName},
 * client{ipAddress, userAgent{rawUserAgent, os, browser}, geographicalContext{city, country…}, device, zone},
 * outcome{result (SUCCESS|FAILURE|SKIPPED|ALLOW|DENY|CHALLENGE|UNKNOWN), reason}, target[]{type, alternateId…},
 * debugContext.debugData{risk "{level=HIGH, reasons=…}", behaviors "{New Device=POSITIVE, …}",
 * threatSuspected "true"|"false", requestUri, url…}, securityContext{asNumber, asOrg, isp, domain, isProxy},
 * request.ipChain[]{ip}, authenticationContext, transaction.
 *
 * Security events become alerts (base severity; raised to 75 for risk level HIGH or threatSuspected,
 * to 50 for risk MEDIUM):
 *   security.threat.detected (ThreatInsight) 75, security.attack.start 75, security.breached_credential.detected 75,
 *   user.account.report_suspicious_activity_by_enduser 75, security.session.detect_client_roaming 60,
 *   security.request.blocked 50, user.account.lock / user.account.lock.limit 50,
 *   user.mfa.okta_verify.deny_push (push denied: MFA fatigue?) 50, user.session.impersonation.initiate 50,
 *   user.account.privilege.grant / group.privilege.grant / user.session.access_admin_app? (admin rights) 50,
 *   application.policy.sign_on.deny_access 40, policy.evaluate_sign_on with outcome DENY 40,
 *   user.session.start / user.authentication.* with outcome FAILURE and risk level MEDIUM/HIGH 50,
 *   and any event with debugData.threatSuspected "true" or risk level HIGH.
 * Everything else (successful sign-ons, MFA verifications, policy ALLOW, directory and app changes…) is
 * routine and becomes a context event, for enrichment and history: kind "auth" for sign-on, session, MFA,
 * sign-on policy and OAuth token events, "audit" for the rest (directory, group, application, policy and
 * system changes). Context fields:
 *   event_type  eventType; time published
 *   user        the actor (a User: alternateId, e-mail kept whole and as email)
 *   src         client.ipAddress (else the first ipChain address), src.user the actor
 *   host        the device object (Identity Engine: the client's registered device): name, id, os_platform +
 *               os_version; the os is client.userAgent.os when there is one. Without a device object only the
 *               os: Okta then names no machine
 *   outcome     outcome.result SUCCESS|ALLOW → success, FAILURE|DENY → failure, other values → unknown
 *   session_id  authenticationContext.externalSessionId (the Okta session), else debugData.rootSessionId
 *   data        the event as it was (minus published); observables + ipChain addresses, target users
 *
 *   time        published; vendor_id uuid
 *   title       displayMessage (else eventType); rule id eventType, name displayMessage, category the
 *               eventType's first segment (security, user, policy…)
 *   vendor_severity  the event's severity word plus the risk level when there is one
 *   action      outcome.result SUCCESS|ALLOW → allowed, FAILURE|DENY → blocked, CHALLENGE → detected;
 *               account locks and security.request.blocked → blocked
 *   src         client.ipAddress (the caller; the first public ipChain address when client has none),
 *               src.user the actor
 *   user        the actor (alternateId: e-mail-like login, kept as e-mail when it is one); for privilege
 *               grants and impersonation the target user, the actor staying as src.user
 *   host        the device object when the event has one (name, id, os_platform + os_version); else none
 *   event_type  eventType
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { parseTimestamp } from './lib/time.js';
import { Reader, defined, ipList, splitAccount } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';

const ALERT_EVENTS: Record<string, number> = {
  'security.threat.detected': 75,
  'security.attack.start': 75,
  'security.breached_credential.detected': 75,
  'user.account.report_suspicious_activity_by_enduser': 75,
  'user.account.report_suspicious_activity': 75,
  'security.session.detect_client_roaming': 60,
  'security.request.blocked': 50,
  'user.account.lock': 50,
  'user.account.lock.limit': 50,
  'user.mfa.okta_verify.deny_push': 50,
  'user.mfa.okta_verify.deny_push_upgrade_needed': 50,
  'user.session.impersonation.initiate': 50,
  'user.account.privilege.grant': 50,
  'group.privilege.grant': 50,
  'application.policy.sign_on.deny_access': 40,
};

/** Events about a user that someone else (an admin, Okta support) acted on: the target is "the" user. */
const TARGET_USER_EVENTS = new Set(['user.account.privilege.grant', 'user.session.impersonation.initiate', 'group.privilege.grant']);

const okta: Detector = {
  name: 'okta',
  description: 'Okta System Log events JSON: security events as alerts, routine sign-ons and changes as auth context',
  format: 'json',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (!isObject(j) || typeof own(j, 'eventType') !== 'string' || typeof own(j, 'published') !== 'string') return 0;
    const marks = ['uuid', 'actor', 'outcome', 'displayMessage', 'legacyEventType', 'securityContext', 'debugContext'].filter((k) => own(j, k) !== undefined).length;
    return marks >= 3 ? 0.97 : marks >= 1 ? 0.7 : 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('Okta System Log event must be a JSON object');
    const r = new Reader(j);
    const ev = read(r);
    const base = baseSeverity(ev);
    if (base === undefined) return { kind: 'context', events: [contextOf(ev)] };
    return { kind: 'alerts', alerts: [alertOf(ev, base)] };
  },
};
export default defineDetector(okta);

interface Event {
  r: Reader;
  type: string;
  time: string;
  result?: string;
  reason?: string;
  risk?: string;
  threatSuspected: boolean;
  behaviors?: string;
  clientIp?: string;
  chainIps: string[];
  actor: Reader;
  targets: Reader[];
}

function read(r: Reader): Event {
  const type = r.req('eventType');
  const time = parseTimestamp(r.req('published'), { field: 'published' });
  const outcome = r.sub('outcome');
  const debug = r.sub('debugContext').sub('debugData');
  const risk = debug.loose('risk') ?? debug.loose('logOnlySecurityData');
  const chain = r.sub('request').objects('ipChain', 16).flatMap((x) => ipList(x.loose('ip')));
  return {
    r,
    type,
    time,
    result: outcome.str('result')?.toUpperCase(),
    reason: outcome.str('reason'),
    risk: riskLevel(risk),
    threatSuspected: (debug.loose('threatSuspected') ?? '').toLowerCase() === 'true',
    behaviors: debug.loose('behaviors'),
    clientIp: ipList(r.sub('client').loose('ipAddress'))[0],
    chainIps: chain,
    actor: r.sub('actor'),
    targets: r.objects('target', 32),
  };
}

/** "{level=HIGH, reasons=…}" or a JSON-ish "risk":{"level":"HIGH"} → HIGH. */
function riskLevel(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const m = /level["']?\s*[=:]\s*["']?(LOW|MEDIUM|HIGH|NONE|UNKNOWN)/i.exec(text.slice(0, 4096));
  return m ? m[1]!.toUpperCase() : undefined;
}

/** The alert's base severity, or undefined when the event is routine (context). */
function baseSeverity(ev: Event): number | undefined {
  let base = Object.hasOwn(ALERT_EVENTS, ev.type) ? ALERT_EVENTS[ev.type] : undefined;
  if (base === undefined && ev.type === 'policy.evaluate_sign_on' && ev.result === 'DENY') base = 40;
  if (base === undefined && (ev.type === 'user.session.start' || ev.type.startsWith('user.authentication.')) && ev.result === 'FAILURE' && (ev.risk === 'MEDIUM' || ev.risk === 'HIGH')) base = 50;
  if (base === undefined && (ev.threatSuspected || ev.risk === 'HIGH')) base = 60;
  if (base === undefined) return undefined;
  if (ev.risk === 'HIGH' || ev.threatSuspected) return Math.max(base, 75);
  if (ev.risk === 'MEDIUM') return Math.max(base, 50);
  return base;
}

function actionOf(ev: Event): DetectorAction {
  if (ev.type === 'security.request.blocked' || ev.type.startsWith('user.account.lock')) return 'blocked';
  switch (ev.result) {
    case 'SUCCESS':
    case 'ALLOW':
      return 'allowed';
    case 'FAILURE':
    case 'DENY':
      return 'blocked';
    case 'CHALLENGE':
      return 'detected';
    default:
      return ev.result ? 'unknown' : 'detected';
  }
}

function accountOf(x: Reader | undefined): { name?: string; email?: string } | undefined {
  if (!x) return undefined;
  const login = x.str('alternateId');
  const name = login && login !== 'unknown' ? login : x.str('displayName');
  const acc = splitAccount(name);
  return acc ? compact({ name: acc.name, email: acc.email }) : undefined;
}

function isUser(x: Reader): boolean {
  return (x.loose('type') ?? '').toLowerCase() === 'user';
}

function alertOf(ev: Event, severity: number): AlertDraft {
  const r = ev.r;
  const actor = isUser(ev.actor) || !ev.actor.has('type') ? accountOf(ev.actor) : undefined;
  const targetUser = ev.targets.find(isUser);
  const user = TARGET_USER_EVENTS.has(ev.type) && targetUser ? accountOf(targetUser) : (actor ?? accountOf(targetUser));
  const display = r.str('displayMessage');
  const sevWord = r.str('severity');
  const vendorValue = [sevWord, ev.risk ? `risk ${ev.risk}` : undefined, ev.threatSuspected ? 'threatSuspected' : undefined].filter(Boolean).join(', ');
  const srcIp = ev.clientIp ?? ev.chainIps[0];
  return {
    vendor_id: r.str('uuid'),
    event_type: ev.type,
    time: ev.time,
    title: display ?? ev.type,
    rule: compact({ id: ev.type, name: display, category: ev.type.split('.')[0] }),
    severity,
    vendor_severity: vendorValue ? { value: vendorValue, scale: 'okta severity DEBUG|INFO|WARN|ERROR; debugData risk LOW|MEDIUM|HIGH' } : undefined,
    action: actionOf(ev),
    src: compact({ ip: srcIp, user: actor?.name }),
    user: user ? compact({ name: user.name, email: user.email }) : undefined,
    host: hostOf(r, undefined),
    observables: defined<Observable>([
      ...ev.chainIps.filter((ip) => ip !== srcIp).map((ip) => makeObservable('ip', ip, 'src')),
      makeObservable('email', actor?.email, 'src'),
      ...ev.targets.filter(isUser).slice(0, 8).map((t) => makeObservable('user', accountOf(t)?.name, 'target')),
    ]),
  };
}

/** Sign-on, session, MFA, sign-on policy and token events: who signed on from where. */
const AUTH_EVENT = /^(?:user\.session\.|user\.authentication\.|user\.mfa\.|policy\.evaluate_sign_on|app\.oauth2\.|user\.account\.(?:lock|unlock))/;

function contextOf(ev: Event): ContextEvent {
  const { published: _published, ...data } = ev.r.obj;
  const actor = isUser(ev.actor) || !ev.actor.has('type') ? accountOf(ev.actor) : undefined;
  const session = ev.r.sub('authenticationContext').loose('externalSessionId') ?? ev.r.sub('debugContext').sub('debugData').loose('rootSessionId');
  const srcIp = ev.clientIp ?? ev.chainIps[0];
  return {
    kind: AUTH_EVENT.test(ev.type) ? 'auth' : 'audit',
    event_type: ev.type,
    time: ev.time,
    user: actor,
    src: compact({ ip: srcIp, user: actor?.name }),
    host: hostOf(ev.r, ev.r.sub('client').sub('userAgent').loose('os')),
    outcome: outcomeOf(ev.result),
    session_id: session === 'unknown' ? undefined : session,
    data,
    observables: defined([
      ...ev.chainIps.filter((ip) => ip !== srcIp).map((ip) => makeObservable('ip', ip, 'src')),
      ...ev.targets.filter(isUser).slice(0, 8).map((t) => makeObservable('user', accountOf(t)?.name, 'target')),
    ]),
  };
}

/**
 * The machine: the top-level device object (Okta Identity Engine, on sign-ons with a registered device:
 * name, id, os_platform, os_version…), else only the client's operating system.
 */
function hostOf(r: Reader, clientOs: string | undefined): { name?: string; id?: string; os?: string } | undefined {
  const d = isObject(r.raw('device')) ? r.sub('device') : undefined;
  const deviceOs = d ? [d.loose('os_platform'), d.loose('os_version')].filter((x) => x !== undefined).join(' ') || undefined : undefined;
  return compact({ name: d?.loose('name'), id: d?.loose('id'), os: clientOs ?? deviceOs });
}

function outcomeOf(result: string | undefined): ContextEvent['outcome'] {
  if (result === undefined) return undefined;
  if (result === 'SUCCESS' || result === 'ALLOW') return 'success';
  return result === 'FAILURE' || result === 'DENY' ? 'failure' : 'unknown';
}
