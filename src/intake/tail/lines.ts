/** Bytes of a file into records, line by line (pure): complete lines only, over-long ones cut and skipped. */
import { recordOfBytes, type IntakeRecord } from '../receiver.js';

export interface SplitOptions {
  format: 'lines' | 'jsonl';
  maxLineBytes: number;
  batchLines: number;
  /** The chunk starts at offset 0 of the file (a byte order mark there is dropped). */
  atFileStart: boolean;
  /** Hand over a final line without newline too: the chunk ends at the end of a file nobody writes anymore. */
  flush: boolean;
}

export interface LineBatch {
  records: IntakeRecord[];
  /** Bytes of the chunk that this batch accounts for (records, blank lines, skipped overflow). */
  consumed: number;
  /** The chunk ended inside an over-long line: skip to its newline next. */
  skip: boolean;
  truncated: number;
  invalidJson: number;
}

export const NL = 0x0a;

/**
 * Cuts complete lines from `chunk` (read at the cursor), at most `batchLines` records. A partial last line is
 * not consumed, so the next read starts at its beginning: the offset is the only state to persist.
 * `chunk` must be able to hold maxLineBytes + 1 bytes for over-long lines to be recognised.
 */
export function splitLines(chunk: Buffer, skip: boolean, o: SplitOptions): LineBatch {
  const out: LineBatch = { records: [], consumed: 0, skip, truncated: 0, invalidJson: 0 };
  let pos = 0;
  if (skip) {
    const nl = chunk.indexOf(NL);
    if (nl < 0) return { ...out, consumed: chunk.length };
    pos = nl + 1;
    out.skip = false;
  }
  if (o.atFileStart && pos === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) pos = 3;
  while (out.records.length < o.batchLines && pos < chunk.length) {
    const nl = chunk.indexOf(NL, pos);
    const end = nl < 0 ? chunk.length : nl;
    if (end - pos > o.maxLineBytes) {
      const cut = utf8Boundary(chunk, pos + o.maxLineBytes);
      pushRecord(out, chunk.subarray(pos, cut), o.format);
      out.truncated++;
      if (nl < 0) {
        pos = cut;
        out.skip = true;
        break;
      }
      pos = nl + 1;
      continue;
    }
    if (nl < 0) {
      if (o.flush) {
        pushRecord(out, chunk.subarray(pos), o.format);
        pos = chunk.length;
      }
      break;
    }
    pushRecord(out, chunk.subarray(pos, nl), o.format);
    pos = nl + 1;
  }
  out.consumed = pos;
  return out;
}

/** Moves a cut back so that it does not split a UTF-8 character (`at` is the first byte left out). */
function utf8Boundary(buf: Buffer, at: number): number {
  let cut = at;
  while (cut > at - 3 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut;
}

function pushRecord(out: LineBatch, line: Buffer, format: SplitOptions['format']): void {
  const bytes = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
  const record = recordOfBytes(bytes);
  if (record.raw.trim() === '') return;
  if (format === 'jsonl' && !isJson(record.raw)) out.invalidJson++;
  out.records.push(record);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
