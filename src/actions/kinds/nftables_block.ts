/**
 * nftables_block: blocks an offending address by adding it, with a timeout, to a named nftables set, and takes
 * the block back (undo) by deleting the element. Reversible.
 *
 *   actions:
 *     targets:
 *       - name: edge-block
 *         kind: nftables_block
 *         table: fido            # an existing `table inet fido` (see docs/actions/nftables_block.md)
 *         set4: blocked4         # type ipv4_addr; flags timeout
 *         set6: blocked6         # type ipv6_addr; flags timeout
 *         timeout: 1h            # element timeout unless the rule's params say otherwise
 *         never_block: [192.0.2.53/32, 2001:db8::53/128]   # e.g. the organisation's DNS servers
 *
 * What is blocked: `params.address` when the rule gives one; otherwise the incident's first public address,
 * reading its alerts in order, each alert's `src.ip` before its `dst.ip` (the outside party of an inbound attack
 * is the source; of a beacon, the destination). With `allow_private: true` and no public address, the first
 * alert's `src.ip`. Nothing to block is a permanent refusal.
 *
 * Refused, before nft runs: anything that is not an IP address (the value never reaches nft as text that nft
 * parses: commands go as JSON on stdin, and the address is the canonical form ipaddr.js prints); loopback,
 * unspecified, multicast and broadcast always; the `never_block` networks always; other non-public addresses
 * unless `allow_private: true`.
 *
 * nft runs without a shell (execFile, argument array: `nft -j '<JSON commands>'`), as `ip netns exec NS nft …`
 * when `netns` is set.
 * `add element` leaves an element that is already there alone, so a retried execute is harmless (it does not
 * extend the first timeout); deleting an element that is not there ("No such file or directory") is an undo that
 * already happened (expired, or removed by hand). The element's timeout is the safety net that lifts the block
 * even when Fido is down; the rule's `for:` undoes it through the executor.
 */
import { execFile } from 'node:child_process';
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { CidrTable, canonicalIp, parseCidr } from '../../enrich/values.js';
import { offendingAddress, paramDuration as paramShared, vetAddress as vetShared } from './lib/target-address.js';
import { ActionError, defineAction, type ActionContext, type ActionOutcome, type ActionTarget, type UndoContext } from '../action.js';

/** nft identifiers we accept: a safe subset of nft's own grammar (letters, digits, underscore). */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
const NAME = { pattern: NAME_RE.source };

export const NftablesBlockConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('nftables_block'),
    family: Type.Optional(Type.Union([Type.Literal('inet'), Type.Literal('ip'), Type.Literal('ip6')], { description: 'Table family (default inet)' })),
    table: Type.String({ ...NAME, description: 'nftables table that holds the sets' }),
    set4: Type.Optional(Type.String({ ...NAME, description: 'Set of type ipv4_addr with `flags timeout`' })),
    set6: Type.Optional(Type.String({ ...NAME, description: 'Set of type ipv6_addr with `flags timeout`' })),
    timeout: Type.Optional(Duration),
    max_timeout: Type.Optional(Duration),
    netns: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$', description: 'Run nft inside this network namespace (ip netns exec)' })),
    nft_path: Type.Optional(Type.String({ pattern: '^/', description: 'Absolute path of nft (default /usr/sbin/nft)' })),
    ip_path: Type.Optional(Type.String({ pattern: '^/', description: 'Absolute path of ip, for netns (default /usr/sbin/ip)' })),
    allow_private: Type.Optional(Type.Boolean({ description: 'Allow blocking private and other non-public addresses (never loopback). Default false' })),
    never_block: Type.Optional(Type.Array(Type.String(), { description: 'CIDRs never blocked, whatever the rule says (DNS servers, gateways)' })),
    create: Type.Optional(
      Type.Boolean({ description: 'Create the table, the sets and a `fido_block` input chain that drops their sources when missing. Default false' }),
    ),
  },
  { additionalProperties: false },
);
export type NftablesBlockConfig = Static<typeof NftablesBlockConfigSchema>;

const DEFAULT_TIMEOUT_MS = 3_600_000;
const DEFAULT_MAX_TIMEOUT_MS = 7 * 86_400_000;
const NFT_CALL_TIMEOUT_MS = 10_000;
/** The base chain `create: true` makes, dropping what the sets hold (a chain of Fido's own, flushed and rewritten). */
const CHAIN = 'fido_block';

function check(cfg: NftablesBlockConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  const family = cfg.family ?? 'inet';
  if (!cfg.set4 && !cfg.set6) problems.push({ key: 'set4', message: 'name at least one set (set4 for IPv4, set6 for IPv6)' });
  if (family === 'ip' && cfg.set6) problems.push({ key: 'set6', message: 'a table of family ip cannot hold IPv6 addresses (use family inet)' });
  if (family === 'ip6' && cfg.set4) problems.push({ key: 'set4', message: 'a table of family ip6 cannot hold IPv4 addresses (use family inet)' });
  (cfg.never_block ?? []).forEach((c, i) => {
    if (!parseCidr(c)) problems.push({ key: `never_block[${i}]`, message: `"${c}" is not an IP address or CIDR` });
  });
  for (const key of ['timeout', 'max_timeout'] as const) {
    const v = cfg[key];
    if (v !== undefined && parseDuration(v, key) < 1000) problems.push({ key, message: 'must be at least 1s (nftables counts element timeouts in seconds)' });
  }
  return problems;
}

// What to block: lib/target-address.ts (shared with the other kinds that block an address).
export { offendingAddress };
const KIND = 'nftables_block';
const vetAddress = (raw: unknown, from: string, allowPrivate: boolean, never: CidrTable<string>) => vetShared(KIND, raw, from, allowPrivate, never);
const paramDuration = (value: unknown, key: string) => paramShared(KIND, value, key);

// ───────────────────────────── running nft ─────────────────────────────

interface NftFailure {
  /** nft's or ip's own words (stderr), trimmed. */
  said: string;
  /** The object (table, set, element) does not exist. */
  missing: boolean;
}

async function create(cfg: NftablesBlockConfig): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const family = cfg.family ?? 'inet';
  const allowPrivate = cfg.allow_private ?? false;
  const never = new CidrTable<string>();
  for (const text of cfg.never_block ?? []) {
    const c = parseCidr(text)!; // check() above refused what does not parse
    never.add(c, c.text);
  }
  const defaultTimeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;
  const maxTimeoutMs = cfg.max_timeout !== undefined ? parseDuration(cfg.max_timeout, `${key}.max_timeout`) : DEFAULT_MAX_TIMEOUT_MS;
  const nftPath = cfg.nft_path ?? '/usr/sbin/nft';
  const [file, prefix] = cfg.netns ? [cfg.ip_path ?? '/usr/sbin/ip', ['netns', 'exec', cfg.netns, nftPath]] : [nftPath, []];
  const where = `${family} ${cfg.table}`;

  /**
   * One `nft -j '<json>'` run (the JSON is one argument: no shell, and nothing in it is parsed as nft's own
   * language); resolves with stdout, rejects with an ActionError. Not `-f -`: nft opens /dev/stdin, which fails
   * on the socket pairs node gives a child for stdin.
   */
  function nft(commands: unknown[], signal: AbortSignal, onFailure: (f: NftFailure) => ActionError | 'ok' | null): Promise<string> {
    return new Promise((resolve, reject) => {
      const args = [...prefix, '-j', JSON.stringify({ nftables: commands })];
      execFile(file, args, { signal, timeout: NFT_CALL_TIMEOUT_MS, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (e.code === 'ENOENT' || e.code === 'EACCES') return reject(new ActionError(`nftables_block: cannot run ${file}: ${e.code} (set nft_path/ip_path)`, false));
        if (signal.aborted || e.name === 'AbortError' || e.killed) return reject(new ActionError('nftables_block: nft did not finish before the timeout', true));
        const said = (stderr || e.message).replace(/\s+/g, ' ').trim().slice(0, 400);
        if (/Cannot open network namespace/i.test(said)) return reject(new ActionError(`nftables_block: network namespace ${cfg.netns} does not exist: ${said}`, false));
        if (/Operation not permitted|Permission denied/i.test(said)) return reject(new ActionError(`nftables_block: not allowed to change nftables (needs CAP_NET_ADMIN): ${said}`, false));
        const mapped = onFailure({ said, missing: /No such file or directory/i.test(said) });
        if (mapped === 'ok') return resolve('');
        if (mapped) return reject(mapped);
        // Anything else (a busy kernel, a ruleset being replaced) may pass on a later attempt.
        return reject(new ActionError(`nftables_block: nft failed: ${said}`, true));
      });
    });
  }

  const setName = (v6: boolean): string => {
    const s = v6 ? cfg.set6 : cfg.set4;
    if (!s) throw new ActionError(`nftables_block: no ${v6 ? 'set6' : 'set4'} configured for ${v6 ? 'IPv6' : 'IPv4'} addresses`, false);
    return s;
  };

  let created = false;
  /** `create: true`: table, sets and Fido's chain, in one transaction; `add` is idempotent, the chain is rewritten whole. */
  async function ensure(signal: AbortSignal): Promise<void> {
    if (!cfg.create || created) return;
    const base = { family, table: cfg.table };
    const sets: Array<[string, 'ipv4_addr' | 'ipv6_addr', string]> = [];
    if (cfg.set4) sets.push([cfg.set4, 'ipv4_addr', 'ip']);
    if (cfg.set6) sets.push([cfg.set6, 'ipv6_addr', 'ip6']);
    const commands: unknown[] = [
      { add: { table: { family, name: cfg.table } } },
      ...sets.map(([name, type]) => ({ add: { set: { ...base, name, type, flags: ['timeout'] } } })),
      { add: { chain: { ...base, name: CHAIN, type: 'filter', hook: 'input', prio: -10, policy: 'accept' } } },
      { flush: { chain: { ...base, name: CHAIN } } },
      ...sets.map(([name, , proto]) => ({
        add: {
          rule: {
            ...base,
            chain: CHAIN,
            expr: [{ match: { op: '==', left: { payload: { protocol: proto, field: 'saddr' } }, right: `@${name}` } }, { counter: null }, { drop: null }],
          },
        },
      })),
    ];
    await nft(commands, signal, (f) => new ActionError(`nftables_block: cannot create table ${where} and its sets: ${f.said}`, false));
    created = true;
  }

  return {
    name: cfg.name,
    kind: 'nftables_block',

    async execute(ctx: ActionContext): Promise<ActionOutcome> {
      const params = ctx.action.params ?? {};
      const picked = offendingAddress(params, ctx.incident, allowPrivate);
      if (!picked) {
        throw new ActionError('nftables_block: nothing to block (no params.address and no public src/dst address in the incident\'s alerts)', false);
      }
      const { address, v6 } = vetAddress(picked.value, picked.from, allowPrivate, never);
      const set = setName(v6);
      let timeoutMs = params.timeout !== undefined ? paramDuration(params.timeout, 'params.timeout') : defaultTimeoutMs;
      // The rule's `for:` (when the action record carries it) also bounds the element, so the block ends on time
      // even if Fido is down then.
      const forMs = (ctx.action as { undo_after_ms?: unknown }).undo_after_ms;
      if (typeof forMs === 'number' && forMs > 0) timeoutMs = Math.min(timeoutMs, forMs);
      timeoutMs = Math.min(timeoutMs, maxTimeoutMs);
      const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
      await ensure(ctx.signal);
      const elem = { family, table: cfg.table, name: set, elem: [{ elem: { val: address, timeout: seconds } }] };
      await nft([{ add: { element: elem } }], ctx.signal, (f) =>
        f.missing ? new ActionError(`nftables_block: set ${set} of table ${where} does not exist (create it, or set create: true): ${f.said}`, false) : null,
      );
      return { detail: { address, from: picked.from, family, table: cfg.table, set, timeout_s: seconds, ...(cfg.netns ? { netns: cfg.netns } : {}) } };
    },

    async undo(ctx: UndoContext): Promise<ActionOutcome> {
      const r = ctx.originalResult;
      // Stored data is checked again like input: it goes to nft.
      const address = typeof r.address === 'string' ? canonicalIp(r.address) : null;
      if (!address) throw new ActionError('nftables_block: the action to undo recorded no address', false);
      const set = typeof r.set === 'string' && NAME_RE.test(r.set) ? r.set : setName(address.includes(':'));
      const elem = { family, table: cfg.table, name: set, elem: [address] };
      let already = false;
      await nft([{ delete: { element: elem } }], ctx.signal, (f) => {
        // Expired, removed by hand, or the set itself is gone: the block is not there, which is what undo wants.
        if (!f.missing) return null;
        already = true;
        return 'ok';
      });
      return { detail: { address, set, table: cfg.table, removed: !already } };
    },
  };
}

const nftablesBlock = defineAction({
  kind: 'nftables_block',
  description: 'Adds the offending IP address, with a timeout, to an nftables set (undo: deletes the element)',
  schema: NftablesBlockConfigSchema,
  check,
  create,
  reversible: true,
  containment: true,
});
export default nftablesBlock;
