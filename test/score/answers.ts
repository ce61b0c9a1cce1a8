/**
 * Enrichment answers in the exact shapes Fido's providers produce, built with the providers' own pure
 * builders where they export them (intelData, vtVerdict, otxScore, threatgridVerdict), and by hand after
 * the provider code otherwise (ldap.ts lookupUser, geoip.ts answer). Used by the scoring tests.
 */
import type { Enrichment } from '../../src/model/enrichment.js';
import type { ObservableType } from '../../src/model/observable.js';
import { intelData, verdictOfScore, type IntelInput } from '../../src/enrich/intel.js';
import { vtVerdict, type EngineStats } from '../../src/enrich/providers/virustotal.js';
import { otxScore } from '../../src/enrich/providers/otx.js';
import { threatgridVerdict } from '../../src/enrich/providers/threatgrid.js';
import { enr, T0 } from './fixtures.js';

const DAY = 86_400_000;
export const daysAgo = (d: number): string => new Date(T0 - d * DAY).toISOString();

const HASH_TYPES: ReadonlySet<ObservableType> = new Set(['md5', 'sha1', 'sha256']);

/** Any intel provider's found answer (what intelAnswer returns as data). */
export function intel(provider: string, type: ObservableType, value: string, input: IntelInput, found = true): Enrichment {
  return enr(provider, type, value, intelData(input) as unknown as Record<string, unknown>, found);
}

/** virustotal.ts answerOf: engine counts → verdict/score, detail.engines, last_analysis_date as last_seen. */
export function vt(type: ObservableType, value: string, engines: Partial<EngineStats>, lastSeen = daysAgo(1), provider = 'virustotal'): Enrichment {
  const e: EngineStats = { malicious: 0, suspicious: 0, harmless: 0, undetected: 0, ...engines };
  const gui = HASH_TYPES.has(type) ? 'file' : type === 'ip' ? 'ip-address' : type;
  return intel(provider, type, value, {
    ...vtVerdict(e),
    tags: ['peexe'],
    references: [`https://www.virustotal.com/gui/${gui}/${encodeURIComponent(value)}`],
    first_seen: daysAgo(400),
    last_seen: lastSeen,
    detail: { engines: e, reputation: -12 },
  });
}

/** otx.ts answerOf: pulses → score 30 + 10·pulses; allowlisted → harmless 0. */
export function otx(type: ObservableType, value: string, pulses: number, o: { allowlisted?: boolean; lastSeen?: string; provider?: string } = {}): Enrichment {
  const score = o.allowlisted ? 0 : otxScore(pulses);
  return intel(o.provider ?? 'otx', type, value, {
    verdict: o.allowlisted ? 'harmless' : verdictOfScore(score),
    score,
    tags: ['emotet'],
    references: [`https://otx.alienvault.com/indicator/${type}/${value}`],
    first_seen: daysAgo(300),
    last_seen: o.lastSeen ?? daysAgo(2),
    detail: { pulses, pulse_names: ['Emotet C2'], ...(o.allowlisted ? { allowlisted: ['majestic'] } : {}) },
  });
}

/** threatgrid.ts answerOf: the latest scored submission's threat_score is the score. */
export function threatgrid(value: string, threatScore: number, type: ObservableType = 'sha256'): Enrichment {
  return intel('threatgrid', type, value, {
    verdict: threatgridVerdict(threatScore),
    score: threatScore,
    tags: ['ransomware'],
    references: ['https://panacea.threatgrid.com/mask/samples/abc123'],
    first_seen: daysAgo(20),
    last_seen: daysAgo(3),
    detail: { threat_score: threatScore, submissions: 2, sample: 'abc123', filename: 'invoice.exe', behaviours: [{ name: 'ransomware-files', title: 'Ransomware', threat: 95 }] },
  });
}

export interface LdapUser {
  title?: string | null;
  department?: string | null;
  groups?: string[];
  disabled?: boolean;
  locked?: boolean;
  privileged?: boolean;
  vip?: boolean;
}

/** ldap.ts lookupUser: groups as {dn, name}, account state, privileged/vip flags. */
export function ldapUser(account: string, u: LdapUser = {}, provider = 'ldap'): Enrichment {
  const groups = (u.groups ?? ['Staff']).map((name) => ({ dn: `CN=${name},OU=Groups,DC=corp,DC=example`, name }));
  return enr(provider, 'user', account, {
    dn: `CN=${account},OU=Staff,DC=corp,DC=example`,
    account,
    upn: `${account}@corp.example`,
    display_name: account[0]!.toUpperCase() + account.slice(1),
    title: u.title ?? null,
    department: u.department ?? null,
    email: `${account}@corp.example`,
    manager: { dn: 'CN=boss,OU=Staff,DC=corp,DC=example', display_name: 'Boss' },
    groups,
    groups_truncated: false,
    disabled: u.disabled ?? false,
    locked: u.locked ?? false,
    locked_at: u.locked ? daysAgo(0.1) : null,
    password_age_days: 40,
    privileged: u.privileged ?? false,
    vip: u.vip ?? false,
  });
}

/** geoip.ts answer: country code and name, AS number and organisation, the databases used. */
export function geoip(ip: string, country: string, countryName: string, asn: number | null, asOrg: string | null, provider = 'geoip'): Enrichment {
  return enr(provider, 'ip', ip, {
    country,
    country_name: countryName,
    asn,
    as_org: asOrg,
    sources: { country: 'geo-whois-asn-country.mmdb', country_name: 'icu', ...(asn !== null ? { asn: 'asn-ipv4-num.csv' } : {}) },
  });
}
