/**
 * Plain feed downloads → feed records: abuse.ch Feodo Tracker's IP blocklist CSV, abuse.ch URLhaus CSV, and
 * text lists of one indicator per line. All three carry `#` comment lines; abuse.ch files may also repeat
 * their column header, which is recognised and skipped. One unreadable value is counted and skipped rather
 * than failing the whole download (a feed of thousands of lines is not ours to fix); a file that is not CSV
 * at all fails the refresh, which keeps the previous copy.
 */
import { parseCsv, type CsvRecord } from '../../csv.js';
import { guessType, refang } from '../../values.js';
import { countSkip, type FeedValue, type FeedVerdict, type SkipCounts } from './feed-index.js';
import type { PatternIndicatorType } from './stix-pattern.js';

export interface ListDefaults {
  verdict: FeedVerdict;
  score: number;
}

/** CSV records without the comment lines, which are blanked first so that a stray quote in one cannot break parsing. */
function csvRecords(text: string, file: string): CsvRecord[] {
  const blanked = text.replace(/^[ \t]*#.*$/gm, '');
  return parseCsv(blanked, { file });
}

const splitTags = (s: string | undefined): string[] => (s ?? '').split(/[,;]/).map((t) => t.trim()).filter((t) => t && t.toLowerCase() !== 'none');

/**
 * Feodo Tracker: first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware
 * (https://feodotracker.abuse.ch/blocklist/). Every listed address is a botnet C2 server: malicious.
 */
export function feodoValues(text: string, file: string, d: ListDefaults, skipped: SkipCounts): FeedValue[] {
  const out: FeedValue[] = [];
  for (const r of csvRecords(text, file)) {
    const [firstSeen, ip, port, status, lastOnline, malware] = r.fields.map((f) => f.trim());
    if (ip === 'dst_ip') continue;
    if (!ip || r.fields.length < 6) {
      countSkip(skipped, 'bad_row');
      continue;
    }
    out.push({
      type: 'ip',
      value: ip,
      record: {
        id: `line ${r.line}`,
        verdict: d.verdict,
        score: d.score,
        tags: [malware ?? '', 'botnet_cc'],
        references: [`https://feodotracker.abuse.ch/browse/host/${ip}/`],
        first_seen: firstSeen || null,
        last_seen: lastOnline || null,
        valid_until: null,
        detail: { malware: malware || null, port: port ? Number(port) : null, c2_status: status || null },
      },
    });
  }
  return out;
}

/**
 * URLhaus: id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
 * (https://urlhaus.abuse.ch/api/#csv). Malware distribution URLs: malicious.
 */
export function urlhausValues(text: string, file: string, d: ListDefaults, skipped: SkipCounts): FeedValue[] {
  const out: FeedValue[] = [];
  for (const r of csvRecords(text, file)) {
    const [id, added, url, status, lastOnline, threat, tags, link, reporter] = r.fields.map((f) => f.trim());
    if (url === 'url') continue;
    if (!url || r.fields.length < 9) {
      countSkip(skipped, 'bad_row');
      continue;
    }
    out.push({
      type: 'url',
      value: url,
      record: {
        id: id ? `urlhaus ${id}` : `line ${r.line}`,
        verdict: d.verdict,
        score: d.score,
        tags: [threat ?? '', ...splitTags(tags)],
        references: link ? [link] : [],
        first_seen: added || null,
        last_seen: lastOnline || null,
        valid_until: null,
        detail: { url_status: status || null, threat: threat || null, reporter: reporter || null },
      },
    });
  }
  return out;
}

const LIST_TYPES = new Set<string>(['ip', 'cidr', 'domain', 'url', 'email', 'md5', 'sha1', 'sha256']);

/** One indicator per line (IP, CIDR, domain, URL, e-mail address or hash; defanged values are refanged). */
export function textValues(text: string, d: ListDefaults, skipped: SkipCounts): FeedValue[] {
  const out: FeedValue[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const v = refang(line.replace(/(^|\s)[#;].*$/s, '').trim());
    if (!v) return;
    const type = guessType(v);
    if (!type || !LIST_TYPES.has(type)) {
      countSkip(skipped, 'unrecognised_line');
      return;
    }
    out.push({
      type: type as PatternIndicatorType,
      value: v,
      record: { id: `line ${i + 1}`, verdict: d.verdict, score: d.score, tags: [], references: [], first_seen: null, last_seen: null, valid_until: null, detail: {} },
    });
  });
  return out;
}
