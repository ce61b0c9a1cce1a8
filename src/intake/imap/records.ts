/**
 * What an accepted e-mail becomes in the intake log:
 *  - its text body (text/plain; else the HTML body as text, which mailparser converts: scripts and styles
 *    dropped, tags removed), one record, when it holds more than white space;
 *  - each attachment that is text (text/*, JSON, XML, message/rfc822; or a generic type with a .json, .xml,
 *    .txt, .log or .csv name), one record each, its bytes exactly as sent (recordOfBytes) — e.g. a FireEye
 *    JSON or XML notification;
 *  - nothing for binary attachments (PDFs, images, archives): they are listed in `skipped` for the log;
 *  - when none of that yields a record, one record holding the whole raw message, so that the pipeline
 *    quarantines it and nothing is silently lost.
 */
import type { ParsedMail } from 'mailparser';
import { recordOfBytes, type IntakeRecord } from '../receiver.js';

export interface SkippedPart {
  filename: string | null;
  content_type: string;
  bytes: number;
}

export interface MessageRecords {
  records: IntakeRecord[];
  /** Binary attachments, not made records. */
  skipped: SkippedPart[];
  /** True when the records are the raw message (nothing usable in it). */
  raw: boolean;
}

const TEXT_NAMES = ['.json', '.xml', '.txt', '.log', '.csv', '.jsonl', '.ndjson'];
const GENERIC_TYPES = new Set(['application/octet-stream', 'application/binary', 'application/unknown', '']);

/** An attachment that is text by its type (or, for a generic type, by its name). */
export function isTextPart(contentType: string, filename: string | null | undefined): boolean {
  const t = contentType.toLowerCase().trim();
  if (t.startsWith('text/')) return true;
  if (t === 'application/json' || t === 'application/xml' || t === 'application/x-ndjson' || t === 'application/jsonl' || t === 'message/rfc822') return true;
  if (t.endsWith('+json') || t.endsWith('+xml')) return true;
  if (GENERIC_TYPES.has(t) && filename) {
    const name = filename.toLowerCase();
    return TEXT_NAMES.some((ext) => name.endsWith(ext));
  }
  return false;
}

function hasText(s: string | undefined): s is string {
  if (!s) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') return true;
  }
  return false;
}

/** The text without the line breaks at its end (mailparser adds one; the wire format ends lines with CRLF). */
function withoutTrailingBreaks(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === '\n' || s[end - 1] === '\r')) end--;
  return s.slice(0, end);
}

/** The records of one parsed message (`raw`: its source, used when nothing else is usable). */
export function messageRecords(mail: ParsedMail, raw: Buffer): MessageRecords {
  const records: IntakeRecord[] = [];
  const skipped: SkippedPart[] = [];
  // mailparser fills `text` from the HTML body when there is no text/plain part.
  if (hasText(mail.text)) records.push({ raw: withoutTrailingBreaks(mail.text) });
  for (const a of mail.attachments) {
    if (isTextPart(a.contentType, a.filename)) {
      if (a.content.length > 0) records.push(recordOfBytes(a.content));
    } else {
      skipped.push({ filename: a.filename ?? null, content_type: a.contentType, bytes: a.size ?? a.content.length });
    }
  }
  if (records.length === 0) return { records: [recordOfBytes(raw)], skipped, raw: true };
  return { records, skipped, raw: false };
}
