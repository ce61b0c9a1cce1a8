/**
 * Small helpers for vendor records whose field names vary between product versions and transports (the
 * same FireEye alert arrives as "md5sum", "md5Sum" or an XML element; Lastline's CEF, LEEF and JSON forms
 * name one field three ways), plus the "which side is ours" question that network detectors answer.
 * Owned by the fireeye / lastline / cyphort / protectwise / sophos_av detectors (snort reads its ports
 * with portOf too); pure, never throws.
 */
import ipaddr from 'ipaddr.js';
import { canonicalIp, normalizeDomain, normalizeUrl } from './observables.js';
import { scalarString } from './text.js';
import { isObject, own, type JsonObject } from './values.js';

/** The first of `keys` that the object owns with a non-blank scalar value (numbers as text). */
export function pickString(obj: JsonObject | undefined, ...keys: string[]): string | undefined {
  if (!obj) return undefined;
  for (const key of keys) {
    const s = scalarString(own(obj, key));
    if (s !== undefined && s.trim() !== '') return s.trim();
  }
  return undefined;
}

/** The first of `keys` that the object owns as an object. */
export function pickObject(obj: JsonObject | undefined, ...keys: string[]): JsonObject | undefined {
  if (!obj) return undefined;
  for (const key of keys) {
    const v = own(obj, key);
    if (isObject(v)) return v;
  }
  return undefined;
}

/**
 * A value that may be one item or a list of items (XML-to-JSON converters, FireEye among them, turn a
 * single child into an object and several into an array) as a list of objects; at most `max` items.
 */
export function objectList(v: unknown, max = 256): JsonObject[] {
  if (Array.isArray(v)) return v.slice(0, max).filter(isObject);
  return isObject(v) ? [v] : [];
}

/** The first of `keys` whose value is (or holds) objects, as a list. */
export function pickList(obj: JsonObject | undefined, ...keys: string[]): JsonObject[] {
  if (!obj) return [];
  for (const key of keys) {
    const list = objectList(own(obj, key));
    if (list.length) return list;
  }
  return [];
}

/**
 * Case-insensitive view of a flat key → value map (CEF extensions, LEEF attributes, key=value logs): the
 * first spelling seen wins. Keys are compared lower-cased with "_" and "-" removed, so devTime, dev_time
 * and DEVTIME are one key.
 */
export class LooseFields {
  private readonly map = new Map<string, string>();

  constructor(...sources: Array<Record<string, string> | undefined>) {
    for (const src of sources) {
      if (!src) continue;
      for (const [k, v] of Object.entries(src)) {
        const key = looseKey(k);
        if (!this.map.has(key) && typeof v === 'string') this.map.set(key, v);
      }
    }
  }

  /** The first of `keys` present with a non-blank value, trimmed. */
  get(...keys: string[]): string | undefined {
    for (const k of keys) {
      const v = this.map.get(looseKey(k));
      if (v !== undefined && v.trim() !== '') return v.trim();
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.map.has(looseKey(key));
  }

  get size(): number {
    return this.map.size;
  }
}

export function looseKey(k: string): string {
  return k.toLowerCase().replace(/[_\-\s]/g, '');
}

/** Flattens a JSON object's scalar members (one level) into strings, for LooseFields. */
export function scalarMembers(obj: JsonObject): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(obj)) {
    const s = scalarString(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

// ---- which side is ours -----------------------------------------------------------------------------------

const INTERNAL_RANGES = new Set(['private', 'loopback', 'linkLocal', 'uniqueLocal', 'carrierGradeNat']);

/** RFC 1918 / RFC 4193 / loopback / link-local / CGNAT: an address inside the organisation. */
export function isInternalIp(value: unknown): boolean {
  const ip = canonicalIp(value);
  if (!ip) return false;
  try {
    return INTERNAL_RANGES.has(ipaddr.parse(ip).range());
  } catch {
    return false;
  }
}

/**
 * Which end of a connection is the organisation's machine: the one with an internal address when exactly
 * one has; otherwise `fallback` (the vendor's convention for that record type).
 */
export function internalSide(srcIp: unknown, dstIp: unknown, fallback: 'src' | 'dst' | undefined): 'src' | 'dst' | undefined {
  const s = isInternalIp(srcIp);
  const d = isInternalIp(dstIp);
  if (s && !d) return 'src';
  if (d && !s) return 'dst';
  return fallback;
}

/** An unspecified address ("0.0.0.0", "::") carries no information: treat it as absent. */
export function meaningfulIp(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ip = canonicalIp(value);
  if (ip === '0.0.0.0' || ip === '::') return undefined;
  return value;
}

/** The last path segment of a Windows or POSIX path (no segment: undefined). */
export function baseName(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const name = path.split(/[\\/]/).pop();
  return name && name.trim() !== '' ? name : undefined;
}

/** Splits a recipient list written as "a@x, b@y; c@z". */
export function splitAddresses(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  const list = value.split(/[,;]\s*/).map((s) => s.trim()).filter((s) => s !== '');
  return list.length ? list.slice(0, 100) : undefined;
}

/** A port written as text, digits only: 0-65535, else undefined. */
export function portOf(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,5}$/.test(v) && Number(v) <= 65535 ? Number(v) : undefined;
}

/** The first candidate that normalises to a URL, as written. */
export function firstUrl(...candidates: Array<string | undefined>): string | undefined {
  for (const c of candidates) if (c && normalizeUrl(c)) return c;
  return undefined;
}

/** The first candidate that is a domain name, as written. */
export function firstDomain(...candidates: Array<string | undefined>): string | undefined {
  for (const c of candidates) if (c && normalizeDomain(c)) return c;
  return undefined;
}
