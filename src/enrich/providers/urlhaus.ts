/**
 * URLhaus (abuse.ch): is this URL, host or file a known malware distribution point or payload? One POST per
 * subject to the URLhaus API (https://urlhaus-api.abuse.ch/): /v1/url/ for a URL, /v1/host/ for a domain or
 * an IP, /v1/payload/ for an MD5 or SHA-256. A thing URLhaus has never seen is an answer (`unknown`), not an
 * error. External: the layer never sends it private addresses or internal names. See docs/providers/urlhaus.md.
 *
 *   - name: urlhaus
 *     kind: urlhaus
 *     api_key: ${env:ABUSECH_AUTH_KEY}
 *
 * Verdicts (URLhaus lists only malware distribution, so nothing it knows is harmless):
 *   - url: url_status "online" → malicious 100 (serving malware now); anything else ("offline",
 *     "unknown") → suspicious 60 (it did, and may again).
 *   - host: any of its URLs online → malicious 90; none online → suspicious 50 (it hosted malware; a
 *     cleaned-up compromised site looks the same).
 *   - payload: a file URLhaus fetched from a malware URL → malicious 90.
 */
import type { ObservableType } from '../../model/observable.js';
import { intelAnswer } from '../intel.js';
import type { LookupSubject, ProviderAnswer } from '../provider.js';
import { num, objs, str, strs, type Json } from '../json-read.js';
import { abusechTime, defineAbusechProvider, latest, type AbusechRequest } from './lib/abusech.js';

const DEFAULT_URL = 'https://urlhaus-api.abuse.ch/v1';
const SUBJECTS: readonly ObservableType[] = ['url', 'domain', 'ip', 'md5', 'sha256'];
/** URLs, payloads and references kept in an answer's detail: enough to act on, small enough to store. */
const KEEP = 5;

/** The question for a subject: endpoint and form field. */
function requestFor(s: LookupSubject): AbusechRequest {
  switch (s.type) {
    case 'url':
      return { path: '/url/', form: { url: s.value } };
    case 'md5':
      return { path: '/payload/', form: { md5_hash: s.value } };
    case 'sha256':
      return { path: '/payload/', form: { sha256_hash: s.value } };
    default:
      return { path: '/host/', form: { host: s.value } };
  }
}

function urlAnswer(b: Json): ProviderAnswer {
  const status = str(b.url_status);
  const payloads = objs(b.payloads);
  return intelAnswer({
    verdict: status === 'online' ? 'malicious' : 'suspicious',
    score: status === 'online' ? 100 : 60,
    tags: [...strs(b.tags), str(b.threat)],
    references: [str(b.urlhaus_reference)],
    first_seen: abusechTime(b.date_added),
    // last_online is null while the URL is still online: then it was seen now, which the fetch time says.
    last_seen: abusechTime(b.last_online),
    detail: {
      url_status: status,
      threat: str(b.threat),
      host: str(b.host),
      reporter: str(b.reporter),
      blacklists: b.blacklists ?? null,
      payload_count: payloads.length,
      payloads: payloads.slice(0, KEEP).map((p) => ({
        sha256: str(p.response_sha256),
        file_type: str(p.file_type),
        signature: str(p.signature),
        first_seen: abusechTime(p.firstseen),
      })),
    },
  });
}

function hostAnswer(b: Json): ProviderAnswer {
  const urls = objs(b.urls);
  const online = urls.filter((u) => str(u.url_status) === 'online').length;
  return intelAnswer({
    verdict: online > 0 ? 'malicious' : 'suspicious',
    score: online > 0 ? 90 : 50,
    tags: urls.flatMap((u) => [...strs(u.tags), str(u.threat)]),
    references: [str(b.urlhaus_reference)],
    first_seen: abusechTime(b.firstseen),
    // The most recent URL added on this host: when URLhaus last saw it distribute something.
    last_seen: latest(urls.map((u) => abusechTime(u.date_added))),
    detail: {
      url_count: num(b.url_count) ?? urls.length,
      urls_online: online,
      blacklists: b.blacklists ?? null,
      urls: urls.slice(0, KEEP).map((u) => ({ url: str(u.url), url_status: str(u.url_status), threat: str(u.threat), reference: str(u.urlhaus_reference) })),
    },
  });
}

function payloadAnswer(b: Json): ProviderAnswer {
  const urls = objs(b.urls);
  const signature = str(b.signature);
  return intelAnswer({
    verdict: 'malicious',
    score: 90,
    tags: [signature, str(b.file_type)],
    // URLhaus has no page per payload: the pages of the URLs that served it.
    references: urls.slice(0, KEEP).map((u) => str(u.urlhaus_reference)),
    first_seen: abusechTime(b.firstseen),
    last_seen: abusechTime(b.lastseen),
    detail: {
      signature,
      file_type: str(b.file_type),
      file_size: num(b.file_size),
      md5: str(b.md5_hash),
      sha256: str(b.sha256_hash),
      url_count: num(b.url_count) ?? urls.length,
      urls: urls.slice(0, KEEP).map((u) => ({ url: str(u.url), url_status: str(u.url_status) })),
    },
  });
}

const urlhaus = defineAbusechProvider({
  kind: 'urlhaus',
  description: 'URLhaus (abuse.ch): malware distribution URLs, the hosts that serve them and their payloads',
  service: 'URLhaus',
  defaultUrl: DEFAULT_URL,
  subjects: SUBJECTS,
  request: requestFor,
  answer(subject, body) {
    if (subject.type === 'url') return urlAnswer(body);
    if (subject.type === 'md5' || subject.type === 'sha256') return payloadAnswer(body);
    return hostAnswer(body);
  },
});

export default urlhaus;
