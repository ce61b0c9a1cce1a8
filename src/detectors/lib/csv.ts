/**
 * One CSV line → fields, as firewalls and IDSes write them (PAN-OS syslog, Snort alert_csv, pfSense):
 *
 *   - fields are separated by `separator` (default ","); a field that starts with `"` is quoted, ends at the
 *     next `"` that is not doubled (`""` stands for one `"`), and may hold separators;
 *   - text after a closing quote up to the next separator is kept as written (`"a"b` → `ab`): devices that
 *     quote carelessly lose nothing;
 *   - with `braces`, a field that starts with `{` runs to its first `}` whatever separators it holds
 *     (PAN-OS "Link Switches": `{name, tag, type}`); an unclosed brace is an ordinary field;
 *   - an unterminated quote (a truncated line) keeps the rest of the line as that field and sets
 *     `unterminated`, so the caller can decide whether the record is still usable.
 *
 * A single left-to-right scan: linear in the input whatever it holds. At most `maxFields` fields are
 * returned (`truncated` says there were more) so a hostile line cannot fan out into millions of strings.
 */
export interface CsvOptions {
  separator?: string;
  maxFields?: number;
  braces?: boolean;
}

export interface CsvLine {
  fields: string[];
  /** A quoted field ran to the end of the line without its closing quote. */
  unterminated: boolean;
  /** There were more than maxFields fields; the rest were not split. */
  truncated: boolean;
}

export const DEFAULT_MAX_FIELDS = 1024;

export function splitCsvLine(line: string, opts: CsvOptions = {}): CsvLine {
  const sep = opts.separator ?? ',';
  const max = opts.maxFields ?? DEFAULT_MAX_FIELDS;
  const fields: string[] = [];
  let unterminated = false;
  let i = 0;
  const n = line.length;
  for (;;) {
    if (fields.length >= max) return { fields, unterminated, truncated: true };
    let value = '';
    if (line[i] === '"') {
      i++;
      let closed = false;
      let start = i;
      while (i < n) {
        const q = line.indexOf('"', i);
        if (q < 0) break;
        if (line[q + 1] === '"') {
          value += line.slice(start, q + 1);
          i = q + 2;
          start = i;
          continue;
        }
        value += line.slice(start, q);
        i = q + 1;
        closed = true;
        break;
      }
      if (!closed) {
        value += line.slice(start);
        i = n;
        unterminated = true;
      }
      // Anything between the closing quote and the next separator is kept.
      const next = line.indexOf(sep, i);
      const end = next < 0 ? n : next;
      value += line.slice(i, end);
      i = end;
    } else {
      const start = i;
      if (opts.braces && line[i] === '{') {
        // A brace-wrapped list: separators count again after its closing brace (or, unbalanced, at once).
        const close = line.indexOf('}', i);
        const sepAfter = line.indexOf(sep, i);
        if (close >= 0 && (sepAfter < 0 || sepAfter < close)) i = close;
      }
      const next = line.indexOf(sep, i);
      i = next < 0 ? n : next;
      value = line.slice(start, i);
    }
    fields.push(value);
    if (i >= n) return { fields, unterminated, truncated: false };
    i += sep.length; // the separator
    if (i >= n) {
      fields.push(''); // a trailing separator means one last empty field
      return { fields, unterminated, truncated: fields.length > max };
    }
  }
}
