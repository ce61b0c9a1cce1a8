/**
 * A stand-in for the FortiOS REST API v2 (cmdb) that keeps address objects and address groups, for
 * fortigate_address's contract test and the actions crash test. Shapes follow Fortinet's FortiOS REST API
 * reference (Fortinet Developer Network, "FortiOS REST API" / cmdb firewall/address, firewall/address6,
 * firewall/addrgrp and its `member` sub-table) and the answers its SDK reads (fortinetdev/forti-sdk-go:
 * `{vdom, mkey, status, http_status}`): token as `Authorization: Bearer`, `vdom` as a query parameter, errors as
 * `{"status":"error","http_status":…,"error":…}` with -5 for a duplicate entry, 424 for a failed dependency (an
 * object still referenced), 404 for a missing one.
 */
import type { ContractReply, ContractRequest } from '../contract.js';

const BASE = '/api/v2/cmdb/firewall/';

/** A FortiOS error answer. */
export const fail = (http_status: number, error?: number): ContractReply => ({ status: http_status, json: { status: 'error', http_status, ...(error !== undefined ? { error } : {}) } });
/** A FortiOS success answer. */
export const ok = (extra: Record<string, unknown> = {}): ContractReply => ({ json: { status: 'success', http_status: 200, vdom: 'root', ...extra } });

/** The FortiGate's configuration and what the next answers should be. */
export class FakeFortiGate {
  /** Each group membership change it made: "add <group> <object>", "remove <group> <object>". */
  effects: string[] = [];

  constructor(private readonly token: string) {}

  addresses = new Map<string, Record<string, unknown>>();
  groups = new Map<string, Set<string>>([
    ['fido-blocked', new Set(['placeholder'])],
    ['fido-blocked6', new Set(['placeholder6'])],
  ]);
  next: ContractReply[] = [];

  handle = (r: ContractRequest): ContractReply => {
    const forced = this.next.shift();
    if (forced) return forced;
    if (r.headers.authorization !== `Bearer ${this.token}`) return fail(401);
    if (!r.path.startsWith(BASE)) return fail(404);
    const parts = r.path.slice(BASE.length).split('/').map(decodeURIComponent);
    const [table, name, sub, member] = parts;
    const body = (r.json ?? {}) as { name?: string };
    if (table === 'address' || table === 'address6') {
      if (r.method === 'POST' && !name) {
        if (!body.name) return fail(424, -651);
        if (this.addresses.has(body.name)) return fail(500, -5);
        this.addresses.set(body.name, body);
        return ok({ mkey: body.name });
      }
      const obj = name ? this.addresses.get(name) : undefined;
      if (!obj) return fail(404, -3);
      if (r.method === 'GET') return ok({ results: [obj] });
      if (r.method === 'DELETE') {
        if ([...this.groups.values()].some((g) => g.has(name!))) return fail(424, -23);
        this.addresses.delete(name!);
        return ok({ mkey: name });
      }
    }
    if (table === 'addrgrp' || table === 'addrgrp6') {
      const g = name ? this.groups.get(name) : undefined;
      if (!g) return fail(404, -3);
      if (r.method === 'GET' && !sub) return ok({ results: [{ name, member: [...g].map((m) => ({ name: m, q_origin_key: m })) }] });
      if (sub === 'member' && r.method === 'POST') {
        if (!body.name || !this.addresses.has(body.name)) return fail(424, -3);
        if (g.has(body.name)) return fail(500, -5);
        g.add(body.name);
        this.effects.push(`add ${name} ${body.name}`);
        return ok({ mkey: body.name });
      }
      if (sub === 'member' && r.method === 'DELETE' && member) {
        if (!g.delete(member)) return fail(404, -3);
        this.effects.push(`remove ${name} ${member}`);
        return ok({ mkey: member });
      }
    }
    return fail(405);
  };
}
