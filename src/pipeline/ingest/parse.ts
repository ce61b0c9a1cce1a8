/**
 * Records of the intake log → canonical alerts, context events or quarantine entries. Pure but for the
 * parse time limit: the same records give the same result (ids of a record's second and later alerts come from its id), which is what
 * lets a batch be derived again after a crash.
 */
import type { AlertDraft } from '../../model/alert.js';
import type { AlertDoc } from '../../store/alert-docs.js';
import { severityLabel } from '../../model/alert.js';
import type { ContextEvent } from '../../detectors/detector.js';
import type { LogRecord } from '../../store/log.js';
import { alertFingerprint } from '../../correlate/fingerprint.js';
import { iso } from '../../util/time.js';
import { encodeBase32 } from '../../util/ulid.js';

export type NormalizeResult =
  | { detector: string; alerts: AlertDraft[] }
  | { detector: string; context: ContextEvent[] }
  | { error: string; detector?: string };

/** The detector registry as ingest sees it (detectors/lib/registry.ts provides it). */
export interface RecordNormalizer {
  /** `receivedAt` makes a redone batch yield the same alerts (year inference, records without a time). */
  normalize(text: string, detector: string | null, opts: { receivedAt: Date; timeZone?: string }): NormalizeResult;
}

export interface ParsedAlert {
  /** The alert as stored (its raw text is the record's: `record.raw`). */
  alert: AlertDoc;
  fingerprint: string;
  record: LogRecord;
  /** The alert's JSON text, when the parse thread made it (parse-thread.ts); otherwise ingest makes it. */
  json?: string;
}

export interface ParsedContext {
  id: string;
  event: ContextEvent;
  detector: string;
  record: LogRecord;
}

export interface ParsedQuarantine {
  record: LogRecord;
  reason: string;
  detector: string | null;
}

export interface Parsed {
  alerts: ParsedAlert[];
  context: ParsedContext[];
  quarantine: ParsedQuarantine[];
}

/** Reason of a record set aside because parsing it took too long. */
export const PARSE_TIME_LIMIT = 'parse time limit';
/** Default of `timeLimitMs`: far above any record of a linear parser (256 KB: a few ms). */
export const DEFAULT_PARSE_TIME_LIMIT_MS = 1000;

/**
 * What the thread that parses shows its supervisor (thread/pipeline.ts): the seq of the record it is parsing
 * (0: none) and since when (Date.now()), in a Float64Array over shared memory.
 */
export type ParseWatch = Float64Array;
export const newParseWatch = (): ParseWatch => new Float64Array(new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT));

export interface ParseOptions {
  /**
   * A record whose parse took longer is quarantined ("parse time limit") instead of derived: every parser
   * is meant to be linear (test/detectors/linear-time.test.ts), and this is the last line of defence if one
   * is not, so that the record is set aside once, with its raw text, and not parsed again after a restart.
   */
  timeLimitMs?: number;
  /** Set while each record is parsed, for a supervisor that can stop a parse that does not end. */
  watch?: ParseWatch;
  /** Records not to parse (seq → reason): a supervisor stopped their parse. They are quarantined. */
  setAside?: ReadonlyMap<number, string>;
  /** Milliseconds for the time limit (default performance.now); tests give one that parsers advance. */
  clock?: () => number;
}

/**
 * @param timeZones source name → IANA zone (or offset) of that source's zone-less timestamps (syslog 3164…).
 */
export function parseRecords(records: readonly LogRecord[], normalizer: RecordNormalizer, timeZones: ReadonlyMap<string, string>, opts: ParseOptions = {}): Parsed {
  const out: Parsed = { alerts: [], context: [], quarantine: [] };
  const timeLimitMs = opts.timeLimitMs ?? DEFAULT_PARSE_TIME_LIMIT_MS;
  const { watch, setAside, clock = performance.now.bind(performance) } = opts;
  for (const record of records) {
    const stopped = setAside?.get(record.seq);
    if (stopped !== undefined) {
      out.quarantine.push({ record, reason: stopped, detector: record.detector });
      continue;
    }
    const tz = timeZones.get(record.source);
    if (watch) {
      watch[1] = Date.now();
      watch[0] = record.seq;
    }
    const started = clock();
    const r = normalizer.normalize(record.raw, record.detector, { receivedAt: new Date(record.received_at), ...(tz ? { timeZone: tz } : {}) });
    const took = clock() - started;
    if (watch) watch[0] = 0;
    if (took > timeLimitMs) {
      const detector = 'error' in r ? (r.detector ?? record.detector) : r.detector;
      out.quarantine.push({ record, reason: `${PARSE_TIME_LIMIT}: parsing took ${Math.round(took)} ms (limit ${timeLimitMs} ms)`, detector });
    } else if ('error' in r) {
      out.quarantine.push({ record, reason: r.error, detector: r.detector ?? record.detector });
    } else if (('context' in r ? r.context : r.alerts).length === 0) {
      out.quarantine.push({ record, reason: `${r.detector}: the record holds no alert and no event`, detector: r.detector });
    } else if ('context' in r) {
      r.context.forEach((event, i) => out.context.push({ id: derivedId(record.id, i), event, detector: r.detector, record }));
    } else {
      r.alerts.forEach((draft, i) => {
        // Without `raw`: the document is what ingest stores and caches, and copying each alert again to
        // leave the raw text out cost ingest more than the copy here.
        const alert: AlertDoc = {
          ...draft,
          id: derivedId(record.id, i),
          source: record.source,
          detector: r.detector,
          received_at: iso(record.received_at),
          severity_label: draft.severity_label ?? severityLabel(draft.severity),
        };
        out.alerts.push({ alert, fingerprint: alertFingerprint(record.source, r.detector, draft), record });
      });
    }
  }
  return out;
}

/**
 * The id of a record's i-th alert or event: the record's own id for the first (so the id a 202 returned
 * finds it), and for the others the record's id with its random part counted on — the same on every run.
 */
export function derivedId(recordId: string, i: number): string {
  if (i === 0) return recordId;
  // A ULID is 10 time characters and 16 random ones; replace the last 4 of those by i.
  const tail = encodeBase32(i, 4);
  const candidate = recordId.slice(0, 22) + tail;
  // Never the record's own id (when its last four characters happen to spell i).
  return candidate === recordId ? recordId.slice(0, 21) + (recordId[21] === 'Z' ? '0' : 'Z') + tail : candidate;
}
