/**
 * Where a `sql` receiver is, and the queries that read on from there. The cursor is stored in
 * receiver_cursors (`sql:<source>`, key `position`) in the commit of the rows it covers.
 *
 * Two modes:
 * - strict: rows strictly after the last one taken, in (column[, tie_breaker]) order. Cheap; a row that becomes
 *   visible later with a smaller key is never read.
 * - lookback (timestamp + tie-breaker only): each poll reads from (newest timestamp taken − lookback) on and
 *   skips the (timestamp, tie-breaker) pairs it already took, which the cursor remembers for that window
 *   (bounded; past the bound the window shrinks to the remembered keys, see `floor`). Nothing is taken twice.
 */
import { type Cell, type Dialect, type Param, quoteIdent, SqlTimestamp } from './drivers.js';

/** A cursor column's value, typed so that it binds back exactly as it was read. */
export type CursorValue =
  | { k: 'i'; v: string } // integer (decimal text: exact beyond 2^53)
  | { k: 'n'; v: number } // other number
  | { k: 's'; v: string } // text (SQLite timestamps are text)
  | { k: 't'; v: string }; // a timestamp as the database printed it

export interface SqlCursor {
  v: 1;
  /** The cursor's columns when it was written: a changed config must not silently reinterpret it. */
  columns: string[];
  /** The last row taken: strict mode's position; lookback mode's newest timestamp. */
  last: CursorValue[];
  /** Lookback mode: the pairs taken inside the window, as [epoch µs, key, timestamp]. */
  recent?: [number, string, CursorValue][];
  /** Lookback mode: rows before this timestamp are not re-read (the remembered keys were cut at it). */
  floor?: CursorValue | null;
  /**
   * Lookback mode turned on over a strict cursor: only rows after this pair are read, since the rows taken
   * before it are not remembered.
   */
  after?: CursorValue[] | null;
}

export interface CursorSpec {
  column: string;
  tieBreaker: string | null;
  /** Lookback window in ms; 0 = strict mode. */
  lookbackMs: number;
  /** Most keys remembered for the lookback window. */
  maxKeys: number;
}

export function valueOf(cell: Cell, column: string): CursorValue {
  if (typeof cell === 'bigint') return { k: 'i', v: cell.toString() };
  if (typeof cell === 'number') return Number.isInteger(cell) ? { k: 'i', v: String(cell) } : { k: 'n', v: cell };
  if (typeof cell === 'string') return { k: 's', v: cell };
  if (cell instanceof SqlTimestamp) return { k: 't', v: cell.text };
  if (cell instanceof Date) return { k: 's', v: cell.toISOString() };
  throw new Error(`cursor column ${column}: unsupported value type (${cell === null ? 'null' : typeof cell}); use an integer, text or timestamp column`);
}

/** How a cursor value is bound: integers exactly (text for pg, which casts to the column's type). */
export function paramOf(d: Dialect, c: CursorValue): Param {
  if (c.k === 'i') return d === 'postgres' ? c.v : BigInt(c.v);
  return c.v;
}

export const keyOf = (vals: readonly CursorValue[]): string => JSON.stringify(vals);
export const cursorText = (c: SqlCursor | null): string | null => (c ? c.last.map((v) => String(v.v)).join(' / ') : null);

// ---------------------------------------------------------------------------------------------------------
// Timestamps as text: arithmetic that keeps the database's own format (binds and compares as its column does).

const TSP = /^(\d{4})-(\d{2})-(\d{2})([T ])(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

interface ParsedTs {
  /** Epoch microseconds (a zoneless timestamp is taken as UTC; only differences matter). */
  micros: number;
  sep: string;
  fracDigits: number;
  zone: string;
  offsetMicros: number;
}

function parseTs(text: string): ParsedTs | null {
  const m = TSP.exec(text);
  if (!m) return null;
  const [, y, mo, d, sep, h, mi, s, frac = '', zone = ''] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const fracMicros = frac ? Math.floor(Number(`0.${frac}`) * 1e6 + 1e-6) : 0;
  let offsetMicros = 0;
  if (zone && zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMicros = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60e6;
  }
  return { micros: ms * 1000 + fracMicros - offsetMicros, sep: sep!, fracDigits: frac.length, zone, offsetMicros };
}

/** Epoch µs of a timestamp cursor value; null when it is not a timestamp. */
export function microsOf(c: CursorValue): number | null {
  return c.k === 't' || c.k === 's' ? (parseTs(c.v)?.micros ?? null) : null;
}

/** `c` minus `ms`, printed as `c` is (rounded down: the window may only grow). */
export function minusMs(c: CursorValue, ms: number): CursorValue {
  const p = c.k === 't' || c.k === 's' ? parseTs(c.v) : null;
  if (!p || (c.k !== 't' && c.k !== 's')) throw new Error(`lookback needs a timestamp cursor column; got ${JSON.stringify(c.v)}`);
  const wall = p.micros - ms * 1000 + p.offsetMicros;
  const secs = Math.floor(wall / 1e6);
  const d = new Date(secs * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  let text = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}${p.sep}${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (p.fracDigits > 0) {
    const micros = pad(wall - secs * 1e6, 6);
    text += `.${(micros + '0'.repeat(Math.max(0, p.fracDigits - 6))).slice(0, p.fracDigits)}`;
  }
  return { k: c.k, v: text + p.zone };
}

// ---------------------------------------------------------------------------------------------------------
// Queries

export interface Poll {
  sql: string;
  params: Param[];
}

/** Trailing `;` and blanks off: the query becomes a subquery (a scan from the end: linear, unlike /[;\s]+$/). */
export function plainQuery(query: string): string {
  let end = query.length;
  while (end > 0 && (query[end - 1] === ';' || /\s/.test(query[end - 1]!))) end--;
  return query.slice(0, end).trim();
}

/**
 * The user's SELECT wrapped as a subquery, filtered past the cursor (values bound, never spliced), ordered by
 * the cursor columns, limited. Rows whose cursor columns are NULL can never be ordered: they are skipped.
 */
export function buildPoll(d: Dialect, query: string, spec: CursorSpec, cursor: SqlCursor | null, batchSize: number): Poll {
  const params: Param[] = [];
  const bind = (p: Param): string => {
    params.push(p);
    return d === 'postgres' ? `$${params.length}` : '?';
  };
  const col = `q.${quoteIdent(d, spec.column)}`;
  const tie = spec.tieBreaker ? `q.${quoteIdent(d, spec.tieBreaker)}` : null;
  const where = [`${col} IS NOT NULL`, ...(tie ? [`${tie} IS NOT NULL`] : [])];
  let limit = batchSize;
  if (cursor) {
    const [c0, c1] = cursor.last;
    if (spec.lookbackMs > 0) {
      where.push(`${col} >= ${bind(paramOf(d, minusMs(c0!, spec.lookbackMs)))}`);
      if (cursor.floor) where.push(`${col} >= ${bind(paramOf(d, cursor.floor))}`);
      const after = cursor.recent === undefined ? cursor.last : cursor.after;
      if (after) {
        const t = paramOf(d, after[0]!);
        where.push(`(${col} > ${bind(t)} OR (${col} = ${bind(t)} AND ${tie} > ${bind(paramOf(d, after[1]!))}))`);
      }
      // The window's rows already taken come back too: room for all of them plus a full batch of new ones.
      limit += cursor.recent?.length ?? 0;
    } else if (tie) {
      const t = paramOf(d, c0!);
      where.push(`(${col} > ${bind(t)} OR (${col} = ${bind(t)} AND ${tie} > ${bind(paramOf(d, c1!))}))`);
    } else {
      where.push(`${col} > ${bind(paramOf(d, c0!))}`);
    }
  }
  const order = tie ? `${col}, ${tie}` : col;
  const sql = `SELECT * FROM (${plainQuery(query)}) q WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${bind(limit)}`;
  return { sql, params };
}

/** A polled row's cursor values. */
export function rowKey(row: Record<string, Cell>, spec: CursorSpec): CursorValue[] {
  const cols = spec.tieBreaker ? [spec.column, spec.tieBreaker] : [spec.column];
  return cols.map((c) => {
    if (!(c in row)) throw new Error(`cursor column ${c} is not among the query's columns (${Object.keys(row).join(', ')})`);
    return valueOf(row[c]!, c);
  });
}

/** The part of a poll's rows that is new, and the cursor after taking them (same cursor when nothing is new). */
export function advance(spec: CursorSpec, cursor: SqlCursor | null, rows: readonly Record<string, Cell>[], batchSize: number): { take: Record<string, Cell>[]; next: SqlCursor | null } {
  const columns = spec.tieBreaker ? [spec.column, spec.tieBreaker] : [spec.column];
  if (spec.lookbackMs <= 0) {
    const take = rows.slice(0, batchSize);
    const lastRow = take.at(-1);
    return { take, next: lastRow ? { v: 1, columns, last: rowKey(lastRow, spec) } : cursor };
  }
  const recent = new Map((cursor?.recent ?? []).map((r) => [r[1], r]));
  const take: Record<string, Cell>[] = [];
  let last = cursor?.last ?? null;
  let lastMicros = last ? micros(last[0]!) : -Infinity;
  for (const row of rows) {
    if (take.length >= batchSize) break;
    const key = rowKey(row, spec);
    const k = keyOf(key);
    if (recent.has(k)) continue;
    const m = micros(key[0]!);
    take.push(row);
    recent.set(k, [m, k, key[0]!]);
    if (m >= lastMicros) {
      last = key;
      lastMicros = m;
    }
  }
  if (take.length === 0) return { take, next: cursor };
  // Forget what every later poll's window starts after; past maxKeys, raise the floor instead.
  const windowStart = micros(minusMs(last![0]!, spec.lookbackMs));
  let kept = [...recent.values()].filter((r) => r[0] >= windowStart).sort((a, b) => a[0] - b[0]);
  let floor = cursor?.floor ?? null;
  const after = cursor ? (cursor.recent === undefined ? cursor.last : (cursor.after ?? null)) : null;
  if (kept.length > spec.maxKeys) {
    const cut = kept[kept.length - spec.maxKeys]!;
    kept = kept.filter((r) => r[0] >= cut[0]);
    floor = cut[2];
  }
  return { take, next: { v: 1, columns, last: last!, recent: kept, floor, ...(after ? { after } : {}) } };
}

function micros(c: CursorValue): number {
  const m = microsOf(c);
  if (m === null) throw new Error(`lookback needs a timestamp cursor column (YYYY-MM-DD HH:MM:SS[.ffffff][zone]); got ${JSON.stringify(c.v)}`);
  return m;
}

/** A stored cursor, checked; throws naming what is wrong. */
export function parseCursor(text: string, spec: CursorSpec): SqlCursor {
  const c = JSON.parse(text) as Partial<SqlCursor>;
  const columns = spec.tieBreaker ? [spec.column, spec.tieBreaker] : [spec.column];
  if (c.v !== 1 || !Array.isArray(c.last) || !Array.isArray(c.columns)) throw new Error('stored cursor is unreadable');
  if (keyOf(c.columns as unknown as CursorValue[]) !== keyOf(columns as unknown as CursorValue[]) || c.last.length !== columns.length) {
    throw new Error(
      `stored cursor is for column(s) ${c.columns.join(', ')} but the config says ${columns.join(', ')}; delete the receiver_cursors row of this source to read the table again from the start`,
    );
  }
  return c as SqlCursor;
}
