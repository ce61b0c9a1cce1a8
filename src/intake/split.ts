/**
 * Splits an HTTP intake body into raw records. JSON bodies: one object, or an array whose elements are
 * objects (re-serialised) or strings (text lines). NDJSON: one JSON value per line. Text: one record per
 * non-blank line. Errors name the line or element that is wrong; nothing is half-accepted.
 */
export type BodyFormat = 'json' | 'ndjson' | 'text';

export class BodyError extends Error {
  override readonly name = 'BodyError';
  constructor(
    message: string,
    readonly status: 400 | 413,
  ) {
    super(message);
  }
}

export interface SplitLimits {
  maxRecordBytes: number;
  maxRecords: number;
}

export function formatOf(contentType: string | undefined): BodyFormat | null {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (t === 'application/json') return 'json';
  if (t === 'application/x-ndjson' || t === 'application/ndjson' || t === 'application/jsonl') return 'ndjson';
  if (t === 'text/plain') return 'text';
  return null;
}

function lines(body: string): Array<{ n: number; text: string }> {
  const out: Array<{ n: number; text: string }> = [];
  let n = 0;
  for (const raw of body.split('\n')) {
    n++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() !== '') out.push({ n, text });
  }
  return out;
}

function jsonError(e: unknown): string {
  return (e as Error).message.replace(/^JSON\.parse: /, '').slice(0, 200);
}

export function splitBody(body: string, format: BodyFormat, limits: SplitLimits): string[] {
  let records: Array<{ where: string; raw: string }>;
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (e) {
      throw new BodyError(`body is not valid JSON: ${jsonError(e)}`, 400);
    }
    if (Array.isArray(value)) {
      records = value.map((el, i) => {
        if (typeof el === 'string') return { where: `element ${i}`, raw: el };
        if (el && typeof el === 'object' && !Array.isArray(el)) return { where: `element ${i}`, raw: JSON.stringify(el) };
        throw new BodyError(`element ${i} is ${Array.isArray(el) ? 'an array' : el === null ? 'null' : `a ${typeof el}`}; expected an object or a string`, 400);
      });
    } else if (value && typeof value === 'object') {
      records = [{ where: 'body', raw: body.trim() }];
    } else {
      throw new BodyError(`body is ${value === null ? 'null' : `a ${typeof value}`}; expected a JSON object or array`, 400);
    }
  } else if (format === 'ndjson') {
    records = lines(body).map(({ n, text }) => {
      try {
        JSON.parse(text);
      } catch (e) {
        throw new BodyError(`line ${n} is not valid JSON: ${jsonError(e)}`, 400);
      }
      return { where: `line ${n}`, raw: text };
    });
  } else {
    records = lines(body).map(({ n, text }) => ({ where: `line ${n}`, raw: text }));
  }
  if (records.length === 0) throw new BodyError('the body holds no records', 400);
  if (records.length > limits.maxRecords) {
    throw new BodyError(`${records.length} records in one request; the limit is ${limits.maxRecords}`, 413);
  }
  for (const r of records) {
    const size = Buffer.byteLength(r.raw);
    if (size > limits.maxRecordBytes) throw new BodyError(`${r.where} is ${size} bytes; the limit per record is ${limits.maxRecordBytes}`, 413);
  }
  return records.map((r) => r.raw);
}
