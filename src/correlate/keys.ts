/**
 * Incident grouping keys. Alerts about the same entity (host or user) AND the same indicator or rule join
 * one incident within the group window. A key is "entity|thing"; two alerts share an incident when they
 * share any key.
 */
import type { AlertDraft } from '../model/alert.js';
import { parseIp } from '../enrich/values.js';

const MAX_KEYS = 48;
const INDICATOR_TYPES = new Set(['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email']);
const LOCAL_ROLES = new Set(['src', 'host', 'user']);

/** The alert's host as its row and its incident store it: its name in lower case, else its address. */
export function alertHost(a: AlertDraft): string | null {
  return a.host?.name?.toLowerCase() ?? a.host?.ip ?? null;
}

/**
 * A row's host and user columns (an alert's or an incident's) as indicators: a host column holding an
 * address is an `ip`. Ingest counts them among the incident's indicators; enrich asks about them first.
 */
export function columnIndicators(row: { host: string | null; user_name: string | null }): Array<['ip' | 'host' | 'user', string]> {
  const out: Array<['ip' | 'host' | 'user', string]> = [];
  if (row.host) out.push([parseIp(row.host) ? 'ip' : 'host', row.host]);
  if (row.user_name) out.push(['user', row.user_name]);
  return out;
}

/** The alert's user as its row and its incident store it: the name in lower case. */
export function alertUser(a: AlertDraft): string | null {
  return a.user?.name?.toLowerCase() ?? null;
}

/** The entities an alert is about: its host and user; for network alerts without either, the source address. */
export function alertEntities(a: AlertDraft): string[] {
  const out: string[] = [];
  if (a.host?.name) out.push(`host:${a.host.name.toLowerCase()}`);
  else if (a.host?.ip) out.push(`host:${a.host.ip}`);
  if (a.user?.name) out.push(`user:${a.user.name.toLowerCase()}`);
  if (out.length === 0 && a.src?.ip) out.push(`host:${a.src.ip}`);
  return out;
}

/** The things it is about: its rule and its remote indicators (not the entity's own address). */
export function alertSubjects(a: AlertDraft): string[] {
  const out = [`rule:${(a.rule?.id ?? a.title).slice(0, 200)}`];
  for (const o of a.observables) {
    if (INDICATOR_TYPES.has(o.type) && !LOCAL_ROLES.has(o.role)) out.push(`${o.type}:${o.value.slice(0, 300)}`);
  }
  return out;
}

export function groupKeys(a: AlertDraft): string[] {
  const keys: string[] = [];
  for (const e of alertEntities(a)) for (const s of alertSubjects(a)) keys.push(`${e}|${s}`);
  return [...new Set(keys)].slice(0, MAX_KEYS);
}
