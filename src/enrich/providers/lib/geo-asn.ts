/**
 * IP → autonomous system from range CSVs (start,end,asn,org; inclusive ranges, e.g. @ip-location-db/asn),
 * held in compact typed arrays and searched by binary search. The default IPv4 file has ~410 000 rows and the
 * IPv6 one ~100 000: as JS objects that would be tens of MB and slow to collect; here a row costs 16 bytes
 * (IPv4) or 40 bytes (IPv6, four 32-bit words per bound) plus its share of the deduplicated org names.
 *
 * Addresses are given as text (1.0.0.0, 2001:200::) or as integers (the `-num` files). An integer is IPv4
 * unless the file's name says ipv6 (asn-ipv6-num.csv): the two cannot be told apart by the value alone.
 * Ranges must not overlap (the published data does not); rows may come in any order.
 */
import { basename } from 'node:path';
import { DataFileError } from '../../localfile.js';

export interface AsnHit {
  asn: number;
  org: string | null;
  /** The range that matched (start-end, IPv6 fully expanded): what the answer is based on. */
  range: string;
}

interface Family {
  /** IPv4: one word per bound; IPv6: four (most significant first). */
  words: 1 | 4;
  starts: Uint32Array;
  ends: Uint32Array;
  asns: Uint32Array;
  /** Index into `orgs`, -1 for none. */
  orgIdx: Int32Array;
  count: number;
}

export class AsnTable {
  constructor(
    readonly file: string,
    private readonly v4: Family,
    private readonly v6: Family,
    private readonly orgs: readonly string[],
  ) {}

  get rows(): number {
    return this.v4.count + this.v6.count;
  }

  get orgCount(): number {
    return this.orgs.length;
  }

  /** `ip` is canonical text (an IPv4 address, or IPv6 as ipaddr.js prints it). */
  lookup(ip: string): AsnHit | null {
    const key = new Uint32Array(4);
    const fam = ip.includes(':') ? this.v6 : this.v4;
    if (fam.count === 0) return null;
    if (fam.words === 1) {
      const n = ipv4Number(ip);
      if (n === null) return null;
      key[0] = n;
    } else if (!parseIpv6Words(ip, key, 0)) return null;
    const i = lastStartAtOrBelow(fam, key);
    if (i < 0 || compareAt(fam.ends, i, fam.words, key) < 0) return null;
    const o = fam.orgIdx[i]!;
    return { asn: fam.asns[i]!, org: o >= 0 ? this.orgs[o]! : null, range: rangeText(fam, i) };
  }
}

/** -1, 0, 1 as the bound at row `i` compares with `key`. */
function compareAt(arr: Uint32Array, i: number, words: number, key: Uint32Array): number {
  const base = i * words;
  for (let w = 0; w < words; w++) {
    const a = arr[base + w]!;
    const b = key[w]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

function lastStartAtOrBelow(f: Family, key: Uint32Array): number {
  let lo = 0;
  let hi = f.count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (compareAt(f.starts, mid, f.words, key) <= 0) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function rangeText(f: Family, i: number): string {
  const text = (arr: Uint32Array) => {
    if (f.words === 1) {
      const n = arr[i]!;
      return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    }
    const parts: string[] = [];
    for (let w = 0; w < 4; w++) {
      const v = arr[i * 4 + w]!;
      parts.push((v >>> 16).toString(16), (v & 0xffff).toString(16));
    }
    return parts.join(':');
  };
  return `${text(f.starts)}-${text(f.ends)}`;
}

export function ipv4Number(text: string): number | null {
  const p = text.split('.');
  if (p.length !== 4) return null;
  let n = 0;
  for (const s of p) {
    if (!/^\d{1,3}$/.test(s)) return null;
    const b = Number(s);
    if (b > 255) return null;
    n = n * 256 + b;
  }
  return n;
}

/** Writes an IPv6 address's four 32-bit words at `out[at..at+3]`; false when the text is not one. */
export function parseIpv6Words(text: string, out: Uint32Array, at: number): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const head = groupsOf(halves[0] ?? '');
  const tail = groupsOf(halves[1] ?? '');
  if (!head || !tail) return false;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return false;
  const all = [...head, ...Array<number>(missing).fill(0), ...tail];
  for (let w = 0; w < 4; w++) out[at + w] = ((all[w * 2]! << 16) | all[w * 2 + 1]!) >>> 0;
  return true;
}

/** "2001:db8" → [0x2001, 0xdb8]; a dotted IPv4 last group counts as two. Null when malformed. */
function groupsOf(part: string): number[] | null {
  if (part === '') return [];
  const list = part.split(':');
  const out: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const g = list[i]!;
    if (g.includes('.') && i === list.length - 1) {
      const n = ipv4Number(g);
      if (n === null) return null;
      out.push(n >>> 16, n & 0xffff);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
    else return null;
  }
  return out;
}

/**
 * parseIpv6Words on bytes [from, to) of a file, without making strings: the IPv6 file has 200 000 addresses.
 * Only hex groups and one "::"; anything else (a dotted tail) returns false and the caller takes the text path.
 */
function ipv6WordsAt(buf: Buffer, from: number, to: number, out: Uint32Array): boolean {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let n = 0;
  let gap = -1;
  let i = from;
  if (to - from >= 2 && buf[from] === 58 && buf[from + 1] === 58) {
    gap = 0;
    i += 2;
  }
  while (i < to) {
    let v = 0;
    let digits = 0;
    for (; i < to && digits < 5; i++, digits++) {
      const c = buf[i]!;
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
    }
    if (digits === 0 || digits > 4 || n === 8) return false;
    groups[n++] = v;
    if (i === to) break;
    if (buf[i] !== 58) return false;
    i++;
    if (buf[i] === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === to) return false;
  }
  if (gap < 0 ? n !== 8 : n > 7) return false;
  if (gap >= 0) {
    const shift = 8 - n;
    for (let k = n - 1; k >= gap; k--) groups[k + shift] = groups[k]!;
    for (let k = gap; k < gap + shift; k++) groups[k] = 0;
  }
  for (let w = 0; w < 4; w++) out[w] = ((groups[w * 2]! << 16) | groups[w * 2 + 1]!) >>> 0;
  return true;
}

const TWO32 = 2n ** 32n;
const MAX128 = 2n ** 128n - 1n;

/** An address field of a row → words at out[at..]; `v6File` decides what a bare integer is. */
function parseBound(field: string, v6File: boolean, out: Uint32Array, at: number): 4 | 6 | null {
  if (field.includes(':')) return parseIpv6Words(field, out, at) ? 6 : null;
  if (field.includes('.')) {
    const n = ipv4Number(field);
    if (n === null) return null;
    out[at] = n;
    return 4;
  }
  if (!/^\d+$/.test(field)) return null;
  if (!v6File) {
    const n = Number(field);
    if (n > 0xffffffff) return null;
    out[at] = n;
    return 4;
  }
  let big = BigInt(field);
  if (big > MAX128) return null;
  for (let w = 3; w >= 0; w--) {
    out[at + w] = Number(big % TWO32);
    big /= TWO32;
  }
  return 6;
}

/** The org cell, bytes [from, to) without the line end: plain, or quoted with "" for a quote. */
function orgCell(buf: Buffer, from: number, to: number): string {
  // A fresh string per cell: a slice of one big string would keep the whole file's text alive.
  let s = buf.toString('utf8', from, to).trim();
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1).replaceAll('""', '"');
  return s;
}

/** The unsigned decimal in bytes [from, to), or -1 if there is anything else (or nothing). */
function decimalAt(buf: Buffer, from: number, to: number): number {
  if (from >= to || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

class FamilyBuilder {
  starts: Uint32Array;
  ends: Uint32Array;
  asns: Uint32Array;
  orgIdx: Int32Array;
  count = 0;
  constructor(
    readonly words: 1 | 4,
    capacity: number,
  ) {
    this.starts = new Uint32Array(capacity * words);
    this.ends = new Uint32Array(capacity * words);
    this.asns = new Uint32Array(capacity);
    this.orgIdx = new Int32Array(capacity);
  }

  /** Trimmed to its rows and sorted by start (the published files already are: then no copy is sorted). */
  finish(): Family {
    const w = this.words;
    let f: Family = {
      words: w,
      starts: this.starts.slice(0, this.count * w),
      ends: this.ends.slice(0, this.count * w),
      asns: this.asns.slice(0, this.count),
      orgIdx: this.orgIdx.slice(0, this.count),
      count: this.count,
    };
    const cmp = (a: number, b: number) => {
      for (let k = 0; k < w; k++) {
        const x = f.starts[a * w + k]!;
        const y = f.starts[b * w + k]!;
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    };
    let sorted = true;
    for (let i = 1; i < f.count && sorted; i++) sorted = cmp(i - 1, i) <= 0;
    if (!sorted) {
      const order = Array.from({ length: f.count }, (_, i) => i).sort(cmp);
      const g: Family = { ...f, starts: new Uint32Array(f.starts.length), ends: new Uint32Array(f.ends.length), asns: new Uint32Array(f.count), orgIdx: new Int32Array(f.count) };
      order.forEach((from, to) => {
        g.starts.set(f.starts.subarray(from * w, from * w + w), to * w);
        g.ends.set(f.ends.subarray(from * w, from * w + w), to * w);
        g.asns[to] = f.asns[from]!;
        g.orgIdx[to] = f.orgIdx[from]!;
      });
      f = g;
    }
    return f;
  }
}

/**
 * Parses one range CSV (a header line, if any, is skipped); errors name the file and line. Works on the bytes:
 * the 21 MB default file parses in about a second and keeps only its typed arrays and its distinct org names.
 */
export function parseAsnCsv(buf: Buffer, file: string): AsnTable {
  let lines = 1;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++;
  const v6File = /ipv6|v6/i.test(basename(file));
  // Capacity for every row in the family the file name suggests; the other family grows on demand.
  const v4 = new FamilyBuilder(1, v6File ? 16 : lines);
  const v6 = new FamilyBuilder(4, v6File ? lines : 16);
  const orgIds = new Map<string, number>();
  const orgs: string[] = [];
  const tmpS = new Uint32Array(4);
  const tmpE = new Uint32Array(4);
  const text = (from: number, to: number) => buf.toString('latin1', from, to).trim();
  /** One address field into `out`: the common case (a plain IPv4 integer) without making a string. */
  const bound = (from: number, to: number, out: Uint32Array): 4 | 6 | null => {
    const n = v6File ? -1 : decimalAt(buf, from, to);
    if (n >= 0) {
      if (n > 0xffffffff) return null;
      out[0] = n;
      return 4;
    }
    if (buf.indexOf(58, from) >= 0 && buf.indexOf(58, from) < to && ipv6WordsAt(buf, from, to, out)) return 6;
    return parseBound(text(from, to), v6File, out, 0);
  };
  let pos = 0;
  let line = 0;
  while (pos < buf.length) {
    let nl = buf.indexOf(10, pos);
    if (nl < 0) nl = buf.length;
    const start = pos;
    const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
    pos = nl + 1;
    line++;
    if (end === start || buf[start] === 35 /* # */) continue;
    const c1 = buf.indexOf(44, start);
    const c2 = c1 < 0 || c1 >= end ? -1 : buf.indexOf(44, c1 + 1);
    if (c2 < 0 || c2 >= end) {
      if (text(start, end) === '') continue;
      throw new DataFileError(file, line, 'expected start,end,asn,org');
    }
    let c3 = buf.indexOf(44, c2 + 1);
    if (c3 < 0 || c3 > end) c3 = end;
    const fs = bound(start, c1, tmpS);
    if (fs === null) {
      if (line === 1) continue; // a header
      throw new DataFileError(file, line, `"${text(start, c1)}" is not an address`);
    }
    if (bound(c1 + 1, c2, tmpE) !== fs) throw new DataFileError(file, line, `"${text(c1 + 1, c2)}" is not an address of the same family as the start`);
    let asn = decimalAt(buf, c2 + 1, c3);
    if (asn < 0) asn = Number(text(c2 + 1, c3) || 'x');
    if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff) throw new DataFileError(file, line, `"${text(c2 + 1, c3)}" is not an AS number`);
    const org = c3 < end ? orgCell(buf, c3 + 1, end) : '';
    let oi = -1;
    if (org) {
      oi = orgIds.get(org) ?? -1;
      if (oi < 0) {
        oi = orgs.length;
        orgs.push(org);
        orgIds.set(org, oi);
      }
    }
    const b = fs === 4 ? v4 : v6;
    if (b.count === b.asns.length) grow(b);
    const w = b.words;
    b.starts.set(tmpS.subarray(0, w), b.count * w);
    b.ends.set(tmpE.subarray(0, w), b.count * w);
    b.asns[b.count] = asn;
    b.orgIdx[b.count] = oi;
    b.count++;
  }
  return new AsnTable(file, v4.finish(), v6.finish(), orgs);
}

function grow(b: FamilyBuilder): void {
  const cap = b.asns.length * 2;
  const re = <A extends Uint32Array | Int32Array>(a: A, n: number): A => {
    const x = new (a.constructor as new (n: number) => A)(n);
    x.set(a);
    return x;
  };
  b.starts = re(b.starts, cap * b.words);
  b.ends = re(b.ends, cap * b.words);
  b.asns = re(b.asns, cap);
  b.orgIdx = re(b.orgIdx, cap);
}
