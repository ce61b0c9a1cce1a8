/**
 * Address history: who held an address when. Rows of `address_bindings` come from two places, both through
 * recordBindings():
 *
 *  - context events at ingest (bindingsOfContext): a VPN session's tunnel address and user, a DHCP lease's
 *    address with the client's name and MAC, a successful sign-on's client address and user;
 *  - lease and status files read by the address_history provider (ISC dhcpd, Kea, OpenVPN: lease-files.ts).
 *
 * bindingsAt() answers "who held 10.8.0.6 at 09:14": the bindings whose time covers that moment, an open
 * binding (no end known) counting for at most `openFor` of its kind after it began (a sign-on says nothing
 * about who uses the address hours later; a VPN session ends with its disconnect event or leaves the status
 * file). Pure functions for the mapping; the statements are parameterised and the same on SQLite and
 * PostgreSQL.
 */
import { sql } from 'kysely';
import type { Db, Tx } from '../store/store.js';
import type { AddressBindingTable } from '../store/schema.js';
import type { ContextEvent } from '../model/context.js';
import { canonicalIp, normalizeMac } from './values.js';
import type { Holding } from './lease-files.js';
import { pow2ChunksOf } from '../util/chunks.js';

export const BINDING_KINDS = ['vpn', 'dhcp', 'auth'] as const;
export type BindingKind = (typeof BINDING_KINDS)[number];

/** How long an open binding (no end known) is taken to hold, by kind (ms). */
export type OpenFor = Record<BindingKind, number>;
export const DEFAULT_OPEN_FOR: OpenFor = { vpn: 24 * 3_600_000, dhcp: 24 * 3_600_000, auth: 8 * 3_600_000 };

export type BindingRow = Omit<AddressBindingTable, 'updated_at'>;

/** The bindings a batch of context events establish or end; events of other kinds or without an address give none. */
export function bindingsOfContext(events: ReadonlyArray<{ event: ContextEvent; source: string; detector: string }>): BindingRow[] {
  const out: BindingRow[] = [];
  for (const { event: e, source, detector } of events) {
    if (e.kind !== 'vpn' && e.kind !== 'dhcp' && e.kind !== 'auth') continue;
    if (e.outcome === 'failure') continue; // a refused sign-on or lease bound nothing
    // VPN and DHCP give the client an address; a sign-on tells from which address the user came.
    const ip = canonicalIp((e.kind === 'auth' ? (e.assigned_ip ?? e.src?.ip) : e.assigned_ip) ?? '');
    if (!ip) continue;
    const user = e.user?.name?.toLowerCase() ?? null;
    const host = e.host?.name?.toLowerCase() ?? null;
    // A later event of a session (its end) may carry no names: it still ends the binding the start made.
    if (!user && !host && !e.session_id) continue;
    const start = Date.parse(e.start ?? e.time);
    if (!Number.isFinite(start)) continue;
    const endMs = e.end ? Date.parse(e.end) : NaN;
    const from = `${e.kind}:${detector}/${source}`;
    // Events of one session (start, updates, end) are one binding: keyed by the session, not the event.
    const who = e.session_id ?? `${user ?? ''}|${host ?? ''}|${start}`;
    out.push({
      key: `${from}|${ip}|${who}`,
      ip,
      start_at: start,
      end_at: Number.isFinite(endMs) ? endMs : null,
      host,
      user_name: user,
      mac: normalizeMac(e.host?.mac ?? '') ?? null,
      kind: e.kind,
      source: from,
    });
  }
  return out;
}

/**
 * Upserts bindings: a binding seen again keeps its row, learns an end or a name it did not have, and never
 * forgets one (a later event of the session without the user name does not erase it). The earliest start wins.
 */
export async function recordBindings(db: Db | Tx, rows: readonly BindingRow[], now: number): Promise<void> {
  // One row per key within a batch: the database refuses a statement that upserts a key twice.
  const byKey = new Map<string, BindingRow>();
  for (const r of rows) {
    const was = byKey.get(r.key);
    byKey.set(
      r.key,
      was
        ? {
            ...was,
            start_at: Math.min(was.start_at, r.start_at),
            end_at: r.end_at ?? was.end_at,
            host: r.host ?? was.host,
            user_name: r.user_name ?? was.user_name,
            mac: r.mac ?? was.mac,
          }
        : r,
    );
  }
  for (const chunk of pow2ChunksOf([...byKey.values()], 200)) {
    await db
      .insertInto('address_bindings')
      .values(chunk.map((r) => ({ ...r, updated_at: now })))
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          start_at: sql`case when excluded.start_at < address_bindings.start_at then excluded.start_at else address_bindings.start_at end`,
          end_at: sql`coalesce(excluded.end_at, address_bindings.end_at)`,
          host: sql`coalesce(excluded.host, address_bindings.host)`,
          user_name: sql`coalesce(excluded.user_name, address_bindings.user_name)`,
          mac: sql`coalesce(excluded.mac, address_bindings.mac)`,
          updated_at: sql`excluded.updated_at`,
        }),
      )
      .execute();
  }
}

/** Ends the open bindings of `source` whose keys are not in `current` (the sessions gone from a status file). */
export async function endMissing(db: Db, source: string, current: ReadonlySet<string>, at: number): Promise<number> {
  const open = await db.selectFrom('address_bindings').select('key').where('source', '=', source).where('end_at', 'is', null).execute();
  const gone = open.map((r) => r.key).filter((k) => !current.has(k));
  for (const chunk of pow2ChunksOf(gone, 200)) {
    await db.updateTable('address_bindings').set({ end_at: at, updated_at: at }).where('key', 'in', chunk).where('end_at', 'is', null).execute();
  }
  return gone.length;
}

/** A holding (lease-files.ts) as stored: how Fido learnt it instead of the file's own id for it. */
export interface Binding extends Omit<Holding, 'id'> {
  kind: BindingKind;
  source: string;
}

/**
 * The bindings of `ip` that cover `at`, newest start first: ended ones whose span holds `at`, open ones begun
 * at most `openFor[kind]` before it. `limit` bounds the rows read.
 */
export async function bindingsAt(db: Db, ip: string, at: number, openFor: OpenFor = DEFAULT_OPEN_FOR, limit = 20): Promise<Binding[]> {
  const longest = Math.max(...Object.values(openFor));
  const rows = await db
    .selectFrom('address_bindings')
    .select(['ip', 'start_at', 'end_at', 'host', 'user_name', 'mac', 'kind', 'source'])
    .where('ip', '=', ip)
    .where('start_at', '<=', at)
    // Ended after `at`, or open (the kind's bound is applied below, the longest one here).
    .where((eb) => eb.or([eb('end_at', '>=', at), eb.and([eb('end_at', 'is', null), eb('start_at', '>=', at - longest)])]))
    .orderBy('start_at', 'desc')
    .limit(limit)
    .execute();
  return rows
    .filter((r) => r.end_at !== null || Number(r.start_at) >= at - (openFor[r.kind as BindingKind] ?? longest))
    .map((r) => ({
      ip: r.ip,
      start: Number(r.start_at),
      end: r.end_at === null ? null : Number(r.end_at),
      host: r.host,
      user: r.user_name,
      mac: r.mac,
      kind: r.kind as BindingKind,
      source: r.source,
    }));
}
