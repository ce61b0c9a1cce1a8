/**
 * How the offline commands (`fido normalize`, `fido detectors test`) split their input into records: one
 * code path, so that both read a file the same way and agree on every input.
 *
 * - A file named `<name>.whole.<ext>`, or `--whole`: the whole input is one record.
 * - Input that is one record by nature is read whole too: an e-mail message (its first line is a mail header
 *   such as `Subject:` or `Received:`: a FireEye notification e-mail), an XML document (`<?xml`), a Zeek TSV
 *   log (`#separator`, whose header defines the columns of the rows after it).
 * - Snort's alert_full blocks (`[**] [gid:sid:rev] …`, several lines each) are records separated by blank lines.
 * - A JSON array (the input starts with `[`, or a `.json` file holding one JSON value): one record per element.
 * - Anything else: one record per non-blank line.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export const RECORD_FILE_EXTENSIONS = ['.jsonl', '.ndjson', '.json', '.log', '.txt', '.cef', '.leef', '.eml', '.xml'] as const;

/** A record file that is one record as a whole (<name>.whole.<ext>) rather than one record per line. */
export function isWholeRecordFile(file: string): boolean {
  return /\.whole\.[^./\\]+$/i.test(file);
}

export interface InputRecord {
  /** Where the record starts: "line N", or "element N" inside a JSON array. */
  where: string;
  text: string;
}

/** The mail header fields a message starts with (RFC 5322 and the common transport ones). */
const MAIL_HEADER = /^(?:subject|from|to|cc|date|received|return-path|delivered-to|message-id|mime-version|content-type|reply-to|sender|dkim-signature|authentication-results|arc-seal|x-[a-z0-9-]{1,64}):[ \t]/i;

type Shape = 'whole' | 'blocks' | 'array' | 'lines';

/** How to read an input whose first non-blank line is `first`. */
export function shapeOf(first: string): Shape {
  const s = first.trimStart();
  if (MAIL_HEADER.test(s) || s.startsWith('<?xml') || s.startsWith('#separator')) return 'whole';
  if (s.startsWith('[**]')) return 'blocks';
  if (s.startsWith('[')) return 'array';
  return 'lines';
}

/** The records of a file, read as `shapeOf` says; a `*.whole.*` file is one record, byte for byte; a `.json` file one JSON value or array. */
export async function* fileRecords(file: string): AsyncGenerator<InputRecord> {
  if (isWholeRecordFile(file)) {
    const text = await readFile(file, 'utf8');
    if (text.trim() !== '') yield { where: 'line 1', text };
    return;
  }
  yield* readRecords(createReadStream(file, { encoding: 'utf8' }), { json: file.toLowerCase().endsWith('.json') });
}

/** The records of a stream of text. `whole`: the stream is one record; `json`: try it as one JSON value first. */
export async function* readRecords(input: Readable, opts: { whole?: boolean; json?: boolean } = {}): AsyncGenerator<InputRecord> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let shape: Shape | undefined = opts.whole ? 'whole' : opts.json ? 'array' : undefined;
  /** The lines of the record being gathered (whole, blocks, array), and the line it starts on. */
  const held: string[] = [];
  let start = 1;
  for await (const line of lines) {
    n++;
    if (shape === undefined) {
      if (line.trim() === '') continue;
      shape = shapeOf(line);
    }
    if (shape === 'lines') {
      if (line.trim() !== '') yield { where: `line ${n}`, text: line };
    } else if (shape === 'blocks' && line.trim() === '') {
      if (held.length) yield { where: `line ${start}`, text: held.join('\n') };
      held.length = 0;
    } else {
      if (held.length === 0) start = n;
      held.push(line);
    }
  }
  if (held.length === 0) return;
  const text = held.join('\n');
  if (shape === 'whole' || shape === 'blocks') {
    yield { where: `line ${start}`, text };
    return;
  }
  // An array: one record per element; a single JSON value (a .json file): one record; else lines after all.
  const value = parseJson(text);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const el: unknown = value[i];
      yield { where: `element ${i}`, text: typeof el === 'string' ? el : (JSON.stringify(el) ?? String(el)) };
    }
    return;
  }
  if (value !== undefined && opts.json) {
    yield { where: `line ${start}`, text: JSON.stringify(value) };
    return;
  }
  for (let i = 0; i < held.length; i++) if (held[i]!.trim() !== '') yield { where: `line ${start + i}`, text: held[i]! };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
