/**
 * Splits an HTTP intake body into raw records, each as it was sent. JSON bodies (UTF-8, as JSON must be):
 * one object, or an array whose elements are objects (their text in the body) or strings (text lines).
 * NDJSON: one JSON value per line. Text: one record per non-blank line, byte for byte in whatever encoding
 * (recordOfBytes). Errors name the line or element that is wrong; nothing is half-accepted.
 */
import { isUtf8 } from 'node:buffer';
import { FidoError } from '../errors.js';
import { recordOfBytes, type IntakeRecord } from './receiver.js';

export type BodyFormat = 'json' | 'ndjson' | 'text';

/** A body that cannot be taken: `bad_request` names the line or element at fault, `too_large` the limit. */
export class BodyError extends FidoError {
  override name = 'BodyError';
  constructor(message: string, code: 'bad_request' | 'too_large' = 'bad_request') {
    super(code, message);
  }
}

export interface SplitLimits {
  maxRecordBytes: number;
  maxRecords: number;
}

const FORMAT_OF_TYPE: Readonly<Record<string, BodyFormat>> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'text/plain': 'text',
};

/** The content types an intake body may have. */
export const BODY_TYPES: readonly string[] = Object.keys(FORMAT_OF_TYPE);

export function formatOf(contentType: string | undefined): BodyFormat | null {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return FORMAT_OF_TYPE[t] ?? null;
}

/** The lines of a body, as bytes, without their LF or CRLF, blank ones left out; numbered from 1. */
function lines(body: Buffer): Array<{ n: number; bytes: Buffer }> {
  const out: Array<{ n: number; bytes: Buffer }> = [];
  let n = 0;
  for (let from = 0; from <= body.length; ) {
    let to = body.indexOf(0x0a, from);
    if (to < 0) to = body.length;
    n++;
    const end = to > from && body[to - 1] === 0x0d ? to - 1 : to;
    const bytes = body.subarray(from, end);
    if (!isBlank(bytes)) out.push({ n, bytes });
    from = to + 1;
  }
  return out;
}

const isBlank = (bytes: Buffer) => bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0b || b === 0x0c);

function jsonError(e: unknown): string {
  return (e as Error).message.replace(/^JSON\.parse: /, '').slice(0, 200);
}

/** JSON must be UTF-8 (RFC 8259): a body that is not is refused, naming where, instead of stored changed. */
function utf8Text(bytes: Buffer, where: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  throw new BodyError(`${where} is not valid UTF-8 (JSON must be); send records in another encoding as text/plain, where they are kept byte for byte`);
}

/**
 * Where each element of a top-level JSON array stands in its text (start and end offsets), so that each
 * record is stored as it was sent rather than re-serialised. The text is valid JSON (parsed before).
 */
function arrayElementSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (depth === 1 && start < 0) start = i;
      depth++;
      continue;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0 && start >= 0) spans.push([start, trimEnd(text, i)]);
      continue;
    } else if (c === 0x2c && depth === 1) {
      spans.push([start, trimEnd(text, i)]);
      start = -1;
      continue;
    }
    if (depth === 1 && start < 0 && c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) start = i;
  }
  return spans;
}

/** The end of the text before `at`, without trailing JSON whitespace. */
function trimEnd(text: string, at: number): number {
  let end = at;
  while (end > 0 && ' \t\n\r'.includes(text[end - 1]!)) end--;
  return end;
}

export function splitBody(body: Buffer, format: BodyFormat, limits: SplitLimits): IntakeRecord[] {
  let records: Array<{ where: string; record: IntakeRecord }>;
  if (format === 'json') {
    const text = utf8Text(body, 'the body');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new BodyError(`body is not valid JSON: ${jsonError(e)}`);
    }
    if (Array.isArray(value)) {
      const spans = arrayElementSpans(text);
      records = value.map((el, i) => {
        const where = `element ${i}`;
        // A string element is a text record (a syslog line…): its value; an object is stored as it was sent.
        if (typeof el === 'string') return { where, record: { raw: el } };
        if (el && typeof el === 'object' && !Array.isArray(el)) return { where, record: { raw: text.slice(...spans[i]!) } };
        throw new BodyError(`element ${i} is ${Array.isArray(el) ? 'an array' : el === null ? 'null' : `a ${typeof el}`}; expected an object or a string`);
      });
    } else if (value && typeof value === 'object') {
      records = [{ where: 'body', record: { raw: text.trim() } }];
    } else {
      throw new BodyError(`body is ${value === null ? 'null' : `a ${typeof value}`}; expected a JSON object or array`);
    }
  } else if (format === 'ndjson') {
    records = lines(body).map(({ n, bytes }) => {
      const text = utf8Text(bytes, `line ${n}`);
      try {
        JSON.parse(text);
      } catch (e) {
        throw new BodyError(`line ${n} is not valid JSON: ${jsonError(e)}`);
      }
      return { where: `line ${n}`, record: { raw: text } };
    });
  } else {
    records = lines(body).map(({ n, bytes }) => ({ where: `line ${n}`, record: recordOfBytes(bytes) }));
  }
  if (records.length === 0) throw new BodyError('the body holds no records');
  if (records.length > limits.maxRecords) {
    throw new BodyError(`${records.length} records in one request; the limit is ${limits.maxRecords}`, 'too_large');
  }
  for (const { where, record } of records) {
    const size = record.raw_base64 ? Buffer.byteLength(record.raw_base64, 'base64') : Buffer.byteLength(record.raw);
    if (size > limits.maxRecordBytes) throw new BodyError(`${where} is ${size} bytes; the limit per record is ${limits.maxRecordBytes}`, 'too_large');
  }
  return records.map((r) => r.record);
}
