/**
 * ThreatFox (abuse.ch): is this IP, domain, URL or file hash a known indicator of compromise (a C2, a payload
 * delivery site), of which malware family, and how sure is the reporter? One JSON POST per subject to
 * https://threatfox-api.abuse.ch/api/v1/: {"query":"search_ioc","search_term":…} for an IP (its ip:port IOCs
 * too), a domain or a URL; {"query":"search_hash","hash":…} for an MD5 or SHA-256 (the IOCs of the samples
 * with that hash). Nothing found ("no_result") is an answer (`unknown`). See docs/providers/threatfox.md.
 *
 *   - name: threatfox
 *     kind: threatfox
 *     api_key: ${env:ABUSECH_AUTH_KEY}
 *
 * Verdict: every ThreatFox IOC is reported as malicious, with a confidence_level (0–100) from its reporter.
 * The score is the highest confidence among the matching IOCs; 75 or more → malicious, less → suspicious
 * (never harmless: a low-confidence report is still a report).
 */
import type { ObservableType } from '../../model/observable.js';
import { intelAnswer, intelUnknown } from '../intel.js';
import type { LookupSubject, ProviderAnswer } from '../provider.js';
import { num, objs, str, strs, type Json } from '../json-read.js';
import { abusechTime, defineAbusechProvider, earliest, latest, type AbusechRequest } from './lib/abusech.js';

const DEFAULT_URL = 'https://threatfox-api.abuse.ch/api/v1';
const SUBJECTS: readonly ObservableType[] = ['ip', 'domain', 'url', 'md5', 'sha256'];
const MALICIOUS_FROM = 75;
const KEEP = 5;

function requestFor(s: LookupSubject): AbusechRequest {
  if (s.type === 'md5' || s.type === 'sha256') return { path: '/', json: { query: 'search_hash', hash: s.value } };
  // An IP is stored as "ip:port": search loosely and keep the IOCs of exactly this IP (matches below).
  // Domains and URLs are stored as they are: ask for exact matches only.
  return { path: '/', json: s.type === 'ip' ? { query: 'search_ioc', search_term: s.value } : { query: 'search_ioc', search_term: s.value, exact_match: true } };
}

/** Whether an IOC of a search_ioc answer is about the subject itself, not one that merely contains it. */
function matches(s: LookupSubject, ioc: string | null): boolean {
  if (ioc === null) return false;
  if (s.type === 'md5' || s.type === 'sha256') return true; // search_hash lists the IOCs linked to the sample
  if (s.type === 'ip') {
    const v = ioc.toLowerCase();
    return v === s.value || (s.value.includes(':') ? v.startsWith(`[${s.value}]:`) : v.startsWith(`${s.value}:`));
  }
  return s.type === 'domain' ? ioc.toLowerCase() === s.value : ioc === s.value;
}

function iocAnswer(iocs: Json[]): ProviderAnswer {
  const confidence = Math.max(0, ...iocs.map((i) => num(i.confidence_level) ?? 0));
  const id = (i: Json) => str(i.id);
  return intelAnswer({
    verdict: confidence >= MALICIOUS_FROM ? 'malicious' : 'suspicious',
    score: confidence,
    tags: iocs.flatMap((i) => [...strs(i.tags), str(i.malware_printable)]),
    references: iocs.flatMap((i) => [id(i) ? `https://threatfox.abuse.ch/ioc/${encodeURIComponent(id(i)!)}/` : null, str(i.reference)]),
    first_seen: earliest(iocs.map((i) => abusechTime(i.first_seen))),
    last_seen: latest(iocs.map((i) => abusechTime(i.last_seen) ?? abusechTime(i.first_seen))),
    detail: {
      malware: [...new Set(iocs.map((i) => str(i.malware_printable)).filter((m) => m !== null))],
      threat_types: [...new Set(iocs.map((i) => str(i.threat_type)).filter((t) => t !== null))],
      confidence_level: confidence,
      ioc_count: iocs.length,
      iocs: iocs.slice(0, KEEP).map((i) => ({
        ioc: str(i.ioc),
        ioc_type: str(i.ioc_type),
        threat_type: str(i.threat_type),
        malware: str(i.malware_printable),
        confidence_level: num(i.confidence_level),
      })),
    },
  });
}

const threatfox = defineAbusechProvider({
  kind: 'threatfox',
  description: 'ThreatFox (abuse.ch): IOCs (C2 IPs and ports, domains, URLs, sample hashes) with malware family and confidence',
  service: 'ThreatFox',
  defaultUrl: DEFAULT_URL,
  subjects: SUBJECTS,
  request: requestFor,
  answer(subject, body, malformed) {
    if (!Array.isArray(body.data)) throw malformed('has no list in "data"');
    const iocs = objs(body.data).filter((i) => matches(subject, str(i.ioc)));
    // A loose IP search can find only other IPs that start alike: ThreatFox does not know this one.
    return iocs.length === 0 ? intelUnknown() : iocAnswer(iocs);
  },
});

export default threatfox;
