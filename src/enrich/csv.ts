/**
 * A small RFC 4180 CSV reader for the local enrichment lists (inventory, indicators, net segments). It keeps
 * the line number where every record starts, so that a bad row is reported as `file:line: …` even when quoted
 * fields span several lines. No dependency: the format is small and we want exact control of errors.
 */

export interface CsvRecord {
  /** 1-based line where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvOptions {
  /** Name used in error messages (usually the file path). */
  file?: string;
  /** Skip records whose first field starts with '#' (indicator lists often carry comments). */
  comments?: boolean;
  delimiter?: string;
}

export class CsvError extends Error {
  override readonly name = 'CsvError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

/** Splits text into records; blank lines are skipped, a leading BOM is ignored, CRLF and LF both end records. */
export function parseCsv(text: string, opts: CsvOptions = {}): CsvRecord[] {
  const file = opts.file ?? '(csv)';
  const delim = opts.delimiter ?? ',';
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: CsvRecord[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quotedField = false;
    let endOfRecord = false;
    while (!endOfRecord) {
      const c = src[i];
      if (c === undefined) break;
      if (c === '"' && field === '' && !quotedField) {
        // A quoted field: read up to the closing quote; "" is a literal quote, newlines are kept.
        const r = readQuoted(src, i + 1, line, file);
        field = r.value;
        i = r.end;
        line = r.line;
        quotedField = true;
        const next = src[i];
        if (next !== undefined && next !== delim && next !== '\n' && next !== '\r') {
          throw new CsvError(file, line, `unexpected character ${JSON.stringify(next)} after a closing quote`);
        }
        continue;
      }
      if (c === delim) {
        fields.push(field);
        field = '';
        quotedField = false;
        i++;
      } else if (c === '\n' || c === '\r') {
        i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
        line++;
        endOfRecord = true;
      } else {
        if (quotedField) throw new CsvError(file, line, 'unexpected character after a closing quote');
        field += c;
        i++;
      }
    }
    fields.push(field);
    if (fields.length === 1 && fields[0] === '' && !quotedField) continue; // blank line
    if (opts.comments && fields[0]?.trimStart().startsWith('#')) continue;
    out.push({ line: start, fields });
  }
  return out;
}

function readQuoted(src: string, from: number, line: number, file: string): { value: string; end: number; line: number } {
  const openedAt = line;
  let value = '';
  let i = from;
  for (;;) {
    const c = src[i];
    if (c === undefined) throw new CsvError(file, openedAt, 'unterminated quoted field');
    if (c === '"') {
      if (src[i + 1] === '"') {
        value += '"';
        i += 2;
        continue;
      }
      return { value, end: i + 1, line };
    }
    if (c === '\n' || (c === '\r' && src[i + 1] !== '\n')) line++;
    value += c;
    i++;
  }
}

export interface CsvTable {
  header: string[];
  rows: Array<{ line: number; values: Record<string, string> }>;
}

/**
 * Reads a CSV whose first record is a header. Header names are trimmed and lower-cased; every row must have
 * as many fields as the header (a row with a different count names its line), and `required` columns must
 * exist in the header.
 */
export function parseCsvTable(text: string, opts: CsvOptions & { required?: readonly string[] } = {}): CsvTable {
  const file = opts.file ?? '(csv)';
  const records = parseCsv(text, opts);
  const first = records[0];
  if (!first) return { header: [], rows: [] };
  const header = first.fields.map((h) => h.trim().toLowerCase());
  for (const col of opts.required ?? []) {
    if (!header.includes(col)) throw new CsvError(file, first.line, `header must include "${col}" (found: ${header.join(', ')})`);
  }
  const dup = header.find((h, i) => h !== '' && header.indexOf(h) !== i);
  if (dup) throw new CsvError(file, first.line, `duplicate column "${dup}" in header`);
  const rows = records.slice(1).map((r) => {
    if (r.fields.length !== header.length) {
      throw new CsvError(file, r.line, `expected ${header.length} fields (${header.join(',')}), got ${r.fields.length}`);
    }
    const values: Record<string, string> = {};
    header.forEach((h, i) => {
      if (h !== '') values[h] = (r.fields[i] ?? '').trim();
    });
    return { line: r.line, values };
  });
  return { header, rows };
}
