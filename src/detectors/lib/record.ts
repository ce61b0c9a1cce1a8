/**
 * Helpers shared by the JSON detectors of endpoint, cloud and identity products (CrowdStrike, Defender,
 * SentinelOne, Carbon Black, Sophos Central, GuardDuty, Okta…), on top of values.ts:
 *
 *   - `Reader`: typed, own-property access to one nested object that names the full path in errors
 *     ("event.NetworkAccesses[0].RemotePort is a string…"), treats null and blank strings as absent, and
 *     offers lenient variants for fields a detector can live without;
 *   - account, path and hash idioms that endpoint products share: DOMAIN\user, user@domain, Windows and
 *     device paths, placeholder hashes (all zeros), comma-joined IP lists, IPv4 as integers;
 *   - API list pages ({"value": […]}, {"findings": […]}…) read element by element, bounded.
 */
import { ParseError } from '../detector.js';
import { canonicalIp, normalizeEmail, normalizeHash, type HashType } from './observables.js';
import { excerpt, trimEndChars } from './text.js';
import { isObject, optArray, optInt, optObject, optString, own, toInt, toNumber, type JsonObject } from './values.js';

/** Typed access to one object of a record; every error names the path from the record's root. */
export class Reader {
  constructor(
    readonly obj: JsonObject,
    /** Path of this object from the record root, '' for the root. */
    readonly at = '',
  ) {}

  where(key: string): string {
    return this.at ? `${this.at}.${key}` : key;
  }

  has(key: string): boolean {
    const v = own(this.obj, key);
    return v !== undefined && v !== null;
  }

  raw(key: string): unknown {
    return own(this.obj, key);
  }

  /** A string (numbers as text); null, absent and blank → undefined; another type → ParseError. */
  str(key: string): string | undefined {
    const v = optString(this.obj, key, this.where(key));
    return v === undefined || v.trim() === '' ? undefined : v;
  }

  /** Like str, but a value of the wrong type is ignored instead of rejected (for fields nothing relies on). */
  loose(key: string): string | undefined {
    const v = own(this.obj, key);
    if (typeof v === 'string') return v.trim() === '' ? undefined : v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    return undefined;
  }

  /** The first of several keys that holds a non-blank string. */
  first(...keys: string[]): string | undefined {
    for (const k of keys) {
      const v = this.str(k);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  req(key: string): string {
    const v = this.str(key);
    if (v === undefined) throw new ParseError(`missing ${this.where(key)}`);
    return v;
  }

  int(key: string): number | undefined {
    return optInt(this.obj, key, this.where(key));
  }

  /** A finite number (or numeric string); another type → ParseError. */
  num(key: string): number | undefined {
    const v = own(this.obj, key);
    if (v === undefined || v === null || v === '') return undefined;
    const n = toNumber(v);
    if (n === undefined) throw new ParseError(`${this.where(key)} is ${describe(v)}, expected a number`);
    return n;
  }

  bool(key: string): boolean | undefined {
    const v = own(this.obj, key);
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    return undefined;
  }

  /** A nested object as a Reader; absent/null → undefined; another type → ParseError. */
  object(key: string): Reader | undefined {
    const v = optObject(this.obj, key, this.where(key));
    return v ? new Reader(v, this.where(key)) : undefined;
  }

  /** A nested object, or an empty Reader when absent (for chains of optional sections). */
  sub(key: string): Reader {
    return this.object(key) ?? new Reader({}, this.where(key));
  }

  arr(key: string): unknown[] {
    return optArray(this.obj, key, this.where(key)) ?? [];
  }

  /** The objects of an array field as Readers (other elements skipped), at most `max`. */
  objects(key: string, max = 256): Reader[] {
    const out: Reader[] = [];
    const list = this.arr(key);
    for (let i = 0; i < list.length && out.length < max; i++) {
      const v = list[i];
      if (isObject(v)) out.push(new Reader(v, `${this.where(key)}[${i}]`));
    }
    return out;
  }

  /** The strings of an array field (numbers as text), or a single string as a one-element list; at most `max`. */
  strings(key: string, max = 256): string[] {
    const v = own(this.obj, key);
    const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
    const out: string[] = [];
    for (const x of list) {
      if (out.length >= max) break;
      if (typeof x === 'string' && x.trim() !== '') out.push(x);
      else if (typeof x === 'number' && Number.isFinite(x)) out.push(String(x));
    }
    return out;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${excerpt(v, 32)}"`;
  return `a ${typeof v}`;
}

// ---- accounts ---------------------------------------------------------------------------------------------

export interface Account {
  name?: string;
  domain?: string;
  email?: string;
}

/**
 * "CORP\alice" → {name: alice, domain: CORP}; "alice@corp.example" → {name: alice@corp.example, email};
 * "\alice" and ".\alice" (no domain, a local account) → {name: alice}; anything else → {name}. A separate
 * domain wins over none.
 */
export function splitAccount(value: string | undefined, domain?: string): Account | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  const slash = v.indexOf('\\');
  if (slash >= 0 && slash < v.length - 1) {
    const d = v.slice(0, slash).trim();
    const name = v.slice(slash + 1).trim();
    // ".\user" is a local account of the machine: "." names no domain. "CORP\alice@corp.example" keeps its address.
    return { name, domain: (d && d !== '.' ? d : undefined) ?? nonBlank(domain), email: normalizeEmail(name) };
  }
  const email = normalizeEmail(v);
  return { name: v, domain: nonBlank(domain), email };
}

const SERVICE_ACCOUNTS = new Set(['system', 'local service', 'network service', 'localsystem', 'anonymous logon', '-', 'n/a', 'unknown']);

/** Windows built-in service identities (NT AUTHORITY\SYSTEM…): not a person to contact or disable. */
export function isServiceAccount(a: Account | undefined): boolean {
  if (!a?.name) return true;
  const n = a.name.trim().toLowerCase();
  return SERVICE_ACCOUNTS.has(n) || (a.domain ?? '').trim().toLowerCase() === 'nt authority' || /^(dwm|umfd)-\d+$/.test(n) || n.endsWith('$');
}

/** The first account that is a person (not a built-in service identity), else the first given. */
export function personFirst(...accounts: Array<Account | undefined>): Account | undefined {
  const present = accounts.filter((a): a is Account => a !== undefined && a.name !== undefined);
  return present.find((a) => !isServiceAccount(a)) ?? present[0];
}

function nonBlank(s: string | undefined): string | undefined {
  return s !== undefined && s.trim() !== '' ? s.trim() : undefined;
}

// ---- hosts ------------------------------------------------------------------------------------------------

/** "CORP\WS-042" (how some consoles name a machine) → WS-042. */
export function machineName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const slash = v.lastIndexOf('\\');
  const name = slash >= 0 ? v.slice(slash + 1) : v;
  return name === '' ? undefined : name;
}

/** The first valid IP of a list: an array, "10.0.0.1,10.0.0.2", or an IPv4 as a 32-bit integer. */
export function firstIp(value: unknown): string | undefined {
  return ipList(value)[0];
}

export function ipList(value: unknown, max = 32): string[] {
  const out: string[] = [];
  const visit = (v: unknown) => {
    if (out.length >= max) return;
    if (Array.isArray(v)) {
      for (const x of v.slice(0, max)) visit(x);
    } else if (typeof v === 'number') {
      const ip = ipv4FromInt(v);
      if (ip) out.push(ip);
    } else if (typeof v === 'string') {
      for (const part of v.split(/[,;\s]+/).slice(0, max)) {
        const ip = canonicalIp(part);
        if (ip && !out.includes(ip)) out.push(ip);
      }
    }
  };
  visit(value);
  return out.slice(0, max);
}

/** 167772161 → 10.0.0.1 (CB EDR and others store IPv4 as a signed or unsigned 32-bit integer); 0 → undefined. */
export function ipv4FromInt(n: unknown): string | undefined {
  const i = toInt(n);
  if (i === undefined || i === 0 || i < -2147483648 || i > 4294967295) return undefined;
  const u = i < 0 ? i + 4294967296 : i;
  return [u >>> 24, (u >>> 16) & 255, (u >>> 8) & 255, u & 255].join('.');
}

// ---- paths ------------------------------------------------------------------------------------------------

/** Last component of a Windows, device (\Device\HarddiskVolume3\…) or POSIX path. */
export function baseName(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const p = trimEndChars(path.trim(), '\\/');
  const i = Math.max(p.lastIndexOf('\\'), p.lastIndexOf('/'));
  const name = p.slice(i + 1);
  return name === '' ? undefined : name;
}

/** A directory and a file name, joined with the directory's own separator; a path already ending in the name is kept. */
export function joinPath(dir: string | undefined, name: string | undefined): string | undefined {
  if (dir === undefined) return name;
  if (name === undefined) return dir;
  if (baseName(dir)?.toLowerCase() === name.toLowerCase()) return dir;
  const sep = dir.includes('\\') || !dir.includes('/') ? '\\' : '/';
  return dir.endsWith(sep) ? `${dir}${name}` : `${dir}${sep}${name}`;
}

// ---- hashes -----------------------------------------------------------------------------------------------

/**
 * A hash worth looking up: valid hex of the right length and not a placeholder (all one digit, such as the
 * all-zero SHA1/MD5 that endpoint products send when they did not compute it). Lower-case.
 */
export function realHash(value: unknown, type?: HashType): string | undefined {
  const h = normalizeHash(value, type);
  if (!h || /^(.)\1*$/.test(h.value)) return undefined;
  return h.value;
}

/** Hashes named in free text ("SHA-256: 19648CE8…"), by label. */
export function labelledHash(text: string | undefined, type: HashType): string | undefined {
  if (!text) return undefined;
  const m = LABELLED_HASH[type].exec(text.slice(0, 65536));
  return m ? realHash(m[1], type) : undefined;
}

// Literals (not built at run time) so that the ReDoS check of the test suite sees them.
const LABELLED_HASH: Record<HashType, RegExp> = {
  sha256: /\bsha-?256\s*[:=]\s*([0-9a-f]{64})\b/i,
  sha1: /\bsha-?1\s*[:=]\s*([0-9a-f]{40})\b/i,
  md5: /\bmd5\s*[:=]\s*([0-9a-f]{32})\b/i,
};

// ---- API pages --------------------------------------------------------------------------------------------

/** Most list elements one record may turn into (a whole API page is one record). */
export const MAX_PAGE_ITEMS = 1000;

/**
 * The elements of an API list page ({"value": […]}, {"findings": […]}…) when `v` is such a page whose
 * elements `isItem` accepts (only the first few are checked); undefined when it is not a page.
 */
export function pageOf(v: unknown, key: string, isItem: (item: unknown) => boolean): unknown[] | undefined {
  if (!isObject(v)) return undefined;
  const list = own(v, key);
  if (!Array.isArray(list)) return undefined;
  if (list.length === 0) return Object.keys(v).length <= 4 ? [] : undefined;
  return list.slice(0, 3).every(isItem) ? list : undefined;
}

/** Maps every element of a page, naming the element in any error; an empty page is an error too. */
export function mapPage<T>(list: unknown[], what: string, fn: (item: unknown) => T): T[] {
  if (list.length === 0) throw new ParseError(`an empty ${what} page: nothing to parse`);
  if (list.length > MAX_PAGE_ITEMS) throw new ParseError(`a ${what} page of ${list.length} elements; at most ${MAX_PAGE_ITEMS} per record`);
  return list.map((item, i) => {
    try {
      return fn(item);
    } catch (e) {
      if (e instanceof ParseError) throw new ParseError(`${what}[${i}]: ${e.message}`);
      throw e;
    }
  });
}

/**
 * The sniff score of a JSON record that is one item (`itemScore`, when above 0) or else an API page of items
 * under `key` (`pageScore`, when the page is not empty and its first items pass `isItem`).
 */
export function itemOrPageScore(
  j: unknown,
  key: string,
  itemScore: (x: unknown) => number,
  pageScore: number,
  isItem: (x: unknown) => boolean = (x) => itemScore(x) > 0,
): number {
  const single = itemScore(j);
  if (single > 0) return single;
  const page = pageOf(j, key, isItem);
  return page && page.length > 0 ? pageScore : 0;
}

/** When `j` is not itself an item but an API page of items under `key`: every item mapped by `fn` (see mapPage); else undefined. */
export function mapPageOf<T>(j: unknown, key: string, isItem: (x: unknown) => boolean, fn: (item: unknown) => T): T[] | undefined {
  if (isItem(j)) return undefined;
  const page = pageOf(j, key, isItem);
  return page ? mapPage(page, key, fn) : undefined;
}

/** Drops undefined entries. */
export function defined<T>(list: Array<T | undefined>): T[] {
  return list.filter((x): x is T => x !== undefined);
}
