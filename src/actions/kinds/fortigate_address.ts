/**
 * fortigate_address: blocks an offending address on a FortiGate by creating an address object for it and adding
 * that object to an address group that a deny policy uses (FortiOS REST API v2, cmdb). Undo removes the member
 * and deletes the object. Reversible.
 *
 *   actions:
 *     targets:
 *       - name: fgt-edge
 *         kind: fortigate_address
 *         url: https://fgt1.corp.example
 *         api_token: ${env:FORTIGATE_TOKEN}     # REST API admin token, sent as Authorization: Bearer
 *         group: fido-blocked                  # an existing address group (IPv4) used by a deny policy
 *         group6: fido-blocked6                # optional: an addrgrp6 for IPv6 addresses
 *         vdom: root                           # optional
 *         allow_private: true                  # the management interface is on a private address
 *         tls_ca_file: fgt-ca.pem
 *         never_block: [192.0.2.53/32]
 *
 * Which address: lib/target-address.ts (params.address, else the incident's first public src/dst address).
 * The object is named `fido-<address>` (a /32 or /128), so one address is one object whoever asks again.
 *
 * Idempotent both ways: an object that already exists (FortiOS error -5, "duplicate entry") is reused when it
 * holds the same address (refused when it holds another: it is not ours); a member already in the group is
 * left alone; undo takes a 404 (member or object already gone) as done, and keeps an object that something
 * else still references (424) once it is out of our group. FortiGate objects have no expiry: the block lasts
 * until the undo (the rule's `for:`, a false-positive verdict, a person); `timeout` keys do not apply.
 * Reconcile: GET the group and look for the member. An undo row is not reconciled (it is simply made again).
 */
import { Type, type Static } from 'typebox';
import type { ComponentProblem } from '../../component/component.js';
import { canonicalIp } from '../../enrich/values.js';
import { ActionError, defineAction, type ActionContext, type ActionOutcome, type ActionTarget, type Reconciled, type UndoContext } from '../action.js';
import { statusFailure, type FwMethod, type FwResponse } from './lib/fw-http.js';
import { fwSettingsProblems, fwSettingsSchema, openFirewall } from './lib/fw-target.js';

const KIND = 'fortigate_address';
/** FortiOS object names: up to 79 characters; we take a safe subset. */
const OBJECT = /^[A-Za-z0-9][A-Za-z0-9_. :-]{0,78}$/;

/** FortiGate objects do not expire: the timeout keys of the other firewall kinds do not apply. */
const { timeout: _noTimeout, max_timeout: _noMaxTimeout, ...fwKeys } = fwSettingsSchema;

export const FortigateAddressConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal(KIND),
    ...fwKeys,
    api_token: Type.String({ minLength: 1, description: 'REST API admin token, as a secret reference: ${env:NAME} or ${file:/path}' }),
    group: Type.String({ pattern: OBJECT.source, description: 'Address group (firewall addrgrp) that a deny policy uses; IPv4 addresses go here' }),
    group6: Type.Optional(Type.String({ pattern: OBJECT.source, description: 'IPv6 address group (firewall addrgrp6); without it IPv6 addresses are refused' })),
    vdom: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,31}$', description: 'Virtual domain (vdom query parameter)' })),
  },
  { additionalProperties: false },
);
export type FortigateAddressConfig = Static<typeof FortigateAddressConfigSchema>;

function check(cfg: FortigateAddressConfig): ComponentProblem[] {
  return fwSettingsProblems(cfg);
}

/** A FortiOS answer body: `{status, http_status, error?, results?}`; null when the body is not a JSON object. */
interface FortiAnswer {
  status?: unknown;
  http_status?: unknown;
  error?: unknown;
  cli_error?: unknown;
  results?: unknown;
}

function readJson(res: FwResponse): FortiAnswer | null {
  try {
    const v = JSON.parse(res.text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as FortiAnswer) : null;
  } catch {
    return null;
  }
}

/** FortiOS error -5: "A duplicate entry already exists" (answered as 500, or 424 on some versions). */
const isDuplicate = (a: FortiAnswer | null): boolean => a?.error === -5;

/** The paths of one address family. */
function family(v6: boolean) {
  return v6 ? { address: '/api/v2/cmdb/firewall/address6', group: '/api/v2/cmdb/firewall/addrgrp6' } : { address: '/api/v2/cmdb/firewall/address', group: '/api/v2/cmdb/firewall/addrgrp' };
}

async function create(cfg: FortigateAddressConfig, deps: { configDir: string }): Promise<ActionTarget> {
  const fw = openFirewall(KIND, cfg, deps, 'api_token', (token) => ({ Authorization: `Bearer ${token}` }));
  const { http } = fw;

  /** One call; `accept` says which failures are an answer (a duplicate, a 404) rather than an error. */
  async function call(method: FwMethod, path: string, signal: AbortSignal, opts: { json?: unknown; accept?: (status: number, a: FortiAnswer | null) => boolean } = {}) {
    const req = { method, path, query: { vdom: cfg.vdom }, signal, ...(opts.json !== undefined ? { json: opts.json } : {}) };
    const res = await http.send(req);
    const answer = readJson(res);
    const where = http.where(req);
    // FortiOS repeats the status in the body; a 200 whose body says error is an error.
    const status = typeof answer?.http_status === 'number' && answer.status === 'error' ? answer.http_status : res.status;
    if (status >= 200 && status < 300) {
      if (!answer) {
        throw new ActionError(`${KIND}: ${where} answered ${res.status} with a body that is not a FortiOS JSON answer: ${http.scrub(res.text.replace(/\s+/g, ' ').slice(0, 200))}`, true, undefined, method !== 'GET');
      }
      return { answer, status, ok: true };
    }
    if (opts.accept?.(status, answer)) return { answer: answer ?? {}, status, ok: false };
    const said = answer ? JSON.stringify({ error: answer.error, cli_error: answer.cli_error, http_status: answer.http_status }) : res.text;
    // 424 (a failed dependency: a bad value, a missing object) is about the request; 500 may pass later.
    throw statusFailure(KIND, { ...res, status }, where, said, http.scrub);
  }

  const groupOf = (v6: boolean): string => {
    const g = v6 ? cfg.group6 : cfg.group;
    if (!g) throw new ActionError(`${KIND}: no group6 configured for IPv6 addresses`, false);
    return g;
  };
  const seg = encodeURIComponent;

  /** The members of a group, by name; a missing group is a permanent error. */
  async function members(v6: boolean, group: string, signal: AbortSignal): Promise<string[]> {
    const { answer } = await call('GET', `${family(v6).group}/${seg(group)}`, signal);
    const results = Array.isArray(answer.results) ? (answer.results as unknown[]) : null;
    const member = results && typeof results[0] === 'object' && results[0] !== null ? (results[0] as { member?: unknown }).member : undefined;
    if (!Array.isArray(member)) throw new ActionError(`${KIND}: GET ${family(v6).group}/${group} answered without a member list`, true);
    return member.flatMap((m) => (typeof m === 'object' && m !== null && typeof (m as { name?: unknown }).name === 'string' ? [(m as { name: string }).name] : []));
  }

  return {
    name: cfg.name,
    kind: KIND,

    async execute(ctx: ActionContext): Promise<ActionOutcome> {
      const { address, v6, from } = fw.address(ctx);
      const group = groupOf(v6);
      const paths = family(v6);
      const object = `fido-${address}`;
      const body = v6 ? { name: object, ip6: `${address}/128` } : { name: object, subnet: `${address} 255.255.255.255` };
      const comment = `Fido incident ${ctx.incident.id}`.replace(/[^\w .:-]/g, '').slice(0, 255);
      const made = await call('POST', paths.address, ctx.signal, { json: { ...body, comment }, accept: (_s, a) => isDuplicate(a) });
      if (!made.ok) {
        // Already there (a retry, or an earlier block): reuse it only if it blocks the same address.
        const { answer } = await call('GET', `${paths.address}/${seg(object)}`, ctx.signal);
        const found = Array.isArray(answer.results) ? (answer.results[0] as { subnet?: unknown; ip6?: unknown } | undefined) : undefined;
        const holds = v6 ? String(found?.ip6 ?? '').replace(/\/128$/, '') : String(found?.subnet ?? '').split(' ')[0];
        if ((holds ? canonicalIp(holds) : null) !== address) {
          throw new ActionError(`${KIND}: an address object named ${object} exists but holds ${JSON.stringify(String(found?.subnet ?? found?.ip6 ?? ''))}: not reused`, false);
        }
      }
      const added = await call('POST', `${paths.group}/${seg(group)}/member`, ctx.signal, { json: { name: object }, accept: (_s, a) => isDuplicate(a) });
      return { detail: { address, from, object, group, ...(cfg.vdom ? { vdom: cfg.vdom } : {}), created: made.ok, added: added.ok } };
    },

    async undo(ctx: UndoContext): Promise<ActionOutcome> {
      const r = ctx.originalResult;
      // Stored data is checked again like input: it goes into URLs.
      const address = typeof r.address === 'string' ? canonicalIp(r.address) : null;
      if (!address) throw new ActionError(`${KIND}: the action to undo recorded no address`, false);
      const v6 = address.includes(':');
      const object = `fido-${address}`;
      const group = typeof r.group === 'string' && OBJECT.test(r.group) ? r.group : groupOf(v6);
      const paths = family(v6);
      const gone = (s: number) => s === 404;
      const removed = await call('DELETE', `${paths.group}/${seg(group)}/member/${seg(object)}`, ctx.signal, { accept: gone });
      // Referenced elsewhere (another group, a policy): 424. It no longer blocks through our group: leave it.
      const deleted = await call('DELETE', `${paths.address}/${seg(object)}`, ctx.signal, { accept: (s) => s === 404 || s === 424 });
      return { detail: { address, object, group, removed: removed.ok, deleted: deleted.ok, ...(deleted.status === 424 ? { object_kept: 'still referenced' } : {}) } };
    },

    async reconcile(ctx: ActionContext): Promise<Reconciled> {
      if (ctx.action.undo_of) return { done: false };
      const picked = fw.addressOrNull(ctx);
      if (!picked) return { done: false }; // execute will refuse it again, with its reason
      const group = groupOf(picked.v6);
      const object = `fido-${picked.address}`;
      const names = await members(picked.v6, group, ctx.signal);
      return names.includes(object) ? { done: true, detail: { address: picked.address, object, group } } : { done: false };
    },

    close: () => http.close(),
  };
}

const fortigateAddress = defineAction({
  kind: KIND,
  description: 'Creates an address object for the offending IP address on a FortiGate and adds it to a blocked address group (undo: removes and deletes it)',
  schema: FortigateAddressConfigSchema,
  check,
  create,
  reversible: true,
  containment: true,
});
export default fortigateAddress;
