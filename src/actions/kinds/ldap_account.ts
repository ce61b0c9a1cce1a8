/**
 * ldap_account: disables a directory account over LDAP, and re-enables it on undo. Reversible.
 *
 *   - name: disable-account
 *     kind: ldap_account
 *     flavor: openldap                 # or active_directory
 *     url: ldap://ldap.corp.example:389
 *     start_tls: true
 *     tls_ca_file: corp-ca.pem
 *     bind_dn: cn=fido-disabler,ou=services,dc=corp,dc=example
 *     bind_password: ${env:FIDO_LDAP_DISABLER_PASSWORD}
 *     base_dn: ou=people,dc=corp,dc=example
 *     protected: [admin, "uid=breakglass,ou=people,dc=corp,dc=example"]
 *     protected_groups: [admins, "cn=tier0,ou=groups,dc=corp,dc=example"]
 *
 * Policy: `then: [{ action: disable-account, params: { user: alice }, for: 4h }]`. The account is
 * `params.user` when given, else the incident's `user`; it is found the way the ldap enrichment provider
 * finds one (a DN, `DOMAIN\name`, `name@domain`, a bare account name; lib/ldap-attrs.ts), every value sent
 * inside filter objects, never pasted into filter text.
 *
 * Disabled means: OpenLDAP — ppolicy's administrative lock `pwdAccountLockedTime: 000001010000Z` (or the
 * configured `lock: { attribute, value }`, e.g. `employeeType: disabled`); Active Directory — the ACCOUNTDISABLE
 * bit (0x2) of userAccountControl, other bits kept (lib/ldap-lock.ts). The result records whether the account
 * was disabled before Fido acted; the undo re-enables only what Fido disabled, and says so when it leaves an
 * account disabled. Both directions are idempotent: an account already in the wanted state is left alone.
 * What was read is checkpointed (ActionContext.checkpoint) before the write, so that an attempt after a crash
 * that finds the account disabled records what its earlier attempt saw, not its own effect.
 *
 * Refused (not retried): nothing names a user, the user is not found or the name is ambiguous, the DN is
 * outside base_dn, the account is in `protected`, a member (nested) of `protected_groups`, or the bind
 * account itself; and the server's "invalid credentials" / "insufficient access" (configuration to fix).
 * Retried: connection failures, timeouts, busy/unavailable servers, and a value changed by someone else
 * between Fido's read and its write (the write is conditional: lib/ldap-lock.ts).
 */
import { Type, type Static } from 'typebox';
import { AndFilter, Attribute, Change, Client, EqualityFilter, OrFilter, InvalidCredentialsError, ResultCodeError, type Entry, type Filter } from 'ldapts';
import { ldapConnection, withLdapSession } from '../../util/ldap-session.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import ldapProvider from '../../enrich/providers/ldap.js';
import {
  FLAVOR_DEFAULTS,
  all,
  chainGroupsFilter,
  directGroupsFilter,
  dnUnder,
  first,
  groupMatches,
  parseDn,
  userQuery,
  type UserAttributes,
} from '../../enrich/providers/lib/ldap-attrs.js';
import { ActionError, defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type UndoContext } from '../action.js';
import { readTlsCaFile, secretValue } from '../target-config.js';
import { lockSpec, planDisable, planEnable, type Flavor, type LockSpec, type Modification } from './lib/ldap-lock.js';

const OptionalString = Type.Optional(Type.String({ minLength: 1 }));

export const LdapAccountSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('ldap_account'),
    url: Type.String({ description: 'ldap://host[:port] or ldaps://host[:port]' }),
    start_tls: Type.Optional(Type.Boolean({ description: 'Upgrade an ldap:// connection with StartTLS before binding' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of the private CA that signed the directory certificate' })),
    bind_dn: Type.String({ minLength: 1, description: 'A service account allowed to write the lock attribute only' }),
    bind_password: Type.String({ minLength: 1, description: 'A secret reference such as ${env:FIDO_LDAP_DISABLER_PASSWORD}' }),
    base_dn: Type.String({ minLength: 1, description: 'Where accounts are searched; nothing outside it is touched' }),
    group_base_dn: Type.Optional(Type.String({ minLength: 1, description: 'Where protected groups are searched (default: base_dn)' })),
    flavor: Type.Optional(Type.Union([Type.Literal('openldap'), Type.Literal('active_directory')])),
    attributes: Type.Optional(
      Type.Object(
        { account: OptionalString, upn: OptionalString, mail: OptionalString, user_class: OptionalString, group_class: OptionalString, group_member: OptionalString, member_of: OptionalString },
        { additionalProperties: false },
      ),
    ),
    lock: Type.Optional(
      Type.Object(
        { attribute: Type.String({ minLength: 1 }), value: Type.String({ minLength: 1 }) },
        { additionalProperties: false, description: 'OpenLDAP only: the attribute value that disables (default pwdAccountLockedTime: 000001010000Z)' },
      ),
    ),
    protected: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Account names or DNs never disabled' })),
    protected_groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Group DNs or CNs whose members (nested) are never disabled' })),
    max_group_depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type LdapAccountConfig = Static<typeof LdapAccountSchema>;

const DEFAULT_TIMEOUT_MS = 10_000;

/** The URL and DN checks are the enrichment provider's (same URL rules), plus this kind's own lists. */
function check(cfg: LdapAccountConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = ldapProvider.check!({
    name: cfg.name,
    kind: 'ldap',
    url: cfg.url,
    base_dn: cfg.base_dn,
    bind_dn: cfg.bind_dn,
    bind_password: cfg.bind_password,
    ...(cfg.start_tls !== undefined ? { start_tls: cfg.start_tls } : {}),
    ...(cfg.group_base_dn ? { group_base_dn: cfg.group_base_dn } : {}),
  });
  for (const list of ['protected', 'protected_groups'] as const) {
    (cfg[list] ?? []).forEach((v, i) => {
      if (v.includes('=') && !parseDn(v)) problems.push({ key: `${list}[${i}]`, message: `"${v}" is not a valid DN` });
    });
  }
  if (cfg.lock && cfg.flavor === 'active_directory') problems.push({ key: 'lock', message: 'Active Directory is disabled through userAccountControl; lock is for openldap' });
  return problems;
}

/** What execute stores with the action, and what undo reads back (ctx.originalResult). */
export interface DisableResult extends Record<string, unknown> {
  user: string;
  dn: string;
  flavor: Flavor;
  attribute: string;
  /** false: Fido disabled it; true: it was disabled already; null (results from before checkpoints): a retried attempt found it disabled and could not tell whether its own earlier attempt did it. */
  disabled_before: boolean | null;
  changed: boolean;
  previous: string | null;
}

/** The names the account is protected under: its DN, account name and UPN. */
function isProtected(entry: Entry, refs: readonly string[], a: UserAttributes): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/,\s+/g, ',');
  const names = [first(entry, a.account), first(entry, a.upn)].filter((x): x is string => !!x).map((x) => x.toLowerCase());
  return refs.find((r) => (r.includes('=') ? norm(r) === norm(entry.dn) : names.includes(r.toLowerCase()))) ?? null;
}

async function create(cfg: LdapAccountConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const flavor: Flavor = cfg.flavor ?? 'openldap';
  const a: UserAttributes = { ...FLAVOR_DEFAULTS[flavor], ...(cfg.attributes ?? {}) };
  const spec: LockSpec = lockSpec(flavor, cfg.lock);
  const password = secretValue(cfg.bind_password, `${key}.bind_password`);
  const ca = readTlsCaFile(cfg, deps.configDir);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;
  const url = new URL(cfg.url);
  const groupBase = cfg.group_base_dn ?? cfg.base_dn;
  const maxDepth = cfg.max_group_depth ?? 8;
  const attrs = [a.account, a.upn, a.mail, a.member_of, spec.attribute].filter((x): x is string => !!x);

  /** An LDAP failure as the executor's retry rule; never with the password. */
  const fail = (what: string, e: unknown): ActionError => {
    if (e instanceof ActionError) return e;
    let msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    if (password.length >= 4) msg = msg.split(password).join('[secret]');
    if (e instanceof InvalidCredentialsError) return new ActionError(`${key}: ${what}: invalid credentials (check bind_dn and bind_password)`, false);
    if (e instanceof ResultCodeError) {
      const code = e.code;
      if (code === 50) return new ActionError(`${key}: ${what}: insufficient access (LDAP 50): the bind account needs write access to ${spec.attribute}`, false);
      // 16/20: the value changed between our read and our write; 51-53 busy/unavailable/unwilling; 80 other.
      const retry = code === 16 || code === 20 || (code >= 51 && code <= 53) || code === 80;
      return new ActionError(`${key}: ${what}: ${msg} (LDAP ${code})`, retry);
    }
    return new ActionError(`${key}: ${what}: ${msg}`, true);
  };

  /** A bound connection for `work` (util/ldap-session.ts); an abort (the executor's call timeout) closes it at once. */
  function withClient<T>(signal: AbortSignal, work: (c: Client) => Promise<T>): Promise<T> {
    const options = {
      ...ldapConnection(cfg, ca, password),
      connectTimeoutMs: timeoutMs,
      timeoutMs,
      fail,
      aborted: () => new ActionError(`${key}: no answer from ${url.host} before the call's time limit`, true),
    };
    return withLdapSession(options, signal, work);
  }

  async function search(c: Client, base: string, filter: Filter | string, attributes: string[], scope: 'base' | 'sub' = 'sub'): Promise<Entry[]> {
    try {
      return (await c.search(base, { scope, filter, attributes, paged: { pageSize: 500 } })).searchEntries;
    } catch (e) {
      if (e instanceof ResultCodeError && e.code === 32) return [];
      throw fail(`search under ${base}`, e);
    }
  }

  async function modify(c: Client, dn: string, changes: Modification[]): Promise<void> {
    const ldapChanges = changes.map((m) => new Change({ operation: m.operation, modification: new Attribute({ type: m.attribute, values: m.values }) }));
    await c.modify(dn, ldapChanges).catch((e: unknown) => Promise.reject(fail(`modify ${dn}`, e)));
  }

  /** The one account `user` names, or a refusal. */
  async function findAccount(c: Client, user: string): Promise<Entry> {
    const q = userQuery('user', user, a);
    if (!q) throw new ActionError(`${key}: "${user}" is not a user name, e-mail address or DN`, false);
    if ('dn' in q && !dnUnder(q.dn, cfg.base_dn)) throw new ActionError(`${key}: ${q.dn} is outside base_dn; refused`, false);
    let entries = 'dn' in q ? await search(c, q.dn, new EqualityFilter({ attribute: 'objectClass', value: a.user_class }), attrs, 'base') : await search(c, cfg.base_dn, q.filter, attrs);
    if (entries.length > 1 && 'prefer' in q && q.prefer) {
      const p = q.prefer.toLowerCase();
      const exact = entries.filter((e) => [first(e, a.upn), first(e, a.mail)].some((v) => v?.toLowerCase() === p));
      if (exact.length > 0) entries = exact;
    }
    if (entries.length === 0) throw new ActionError(`${key}: no account "${user}" under ${cfg.base_dn}`, false);
    if (entries.length > 1) throw new ActionError(`${key}: "${user}" is ambiguous (${entries.map((e) => e.dn).join('; ')}); refused`, false);
    return entries[0]!;
  }

  /** Every group the entry is in: AD's in-chain query plus memberOf; elsewhere level by level up `member`. */
  async function groupsOf(c: Client, entry: Entry): Promise<string[]> {
    if (flavor === 'active_directory') {
      const found = (await search(c, groupBase, chainGroupsFilter(entry.dn, a), ['1.1'])).map((e) => e.dn);
      return [...found, ...all(entry, a.member_of)];
    }
    const seen = new Set<string>();
    let frontier = [entry.dn];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const found = await search(c, groupBase, directGroupsFilter(frontier, a), ['1.1']);
      frontier = found.map((g) => g.dn).filter((dn) => !seen.has(dn.toLowerCase()));
      for (const dn of frontier) seen.add(dn.toLowerCase());
    }
    return [...seen];
  }

  /** The protected_groups entries that name no group visible under the group base. */
  async function missingGroups(c: Client, refs: readonly string[]): Promise<string[]> {
    const names = refs.filter((r) => !r.includes('='));
    const cls = new EqualityFilter({ attribute: 'objectClass', value: a.group_class });
    const found = names.length === 0 ? [] : await search(c, groupBase, new AndFilter({ filters: [cls, new OrFilter({ filters: names.map((n) => new EqualityFilter({ attribute: 'cn', value: n })) })] }), ['1.1']);
    const missing: string[] = [];
    for (const ref of refs) {
      if (!ref.includes('=')) {
        if (!found.some((g) => groupMatches(g.dn, ref))) missing.push(ref);
      } else if (!dnUnder(ref, groupBase) || (await search(c, ref, cls, ['1.1'], 'base')).length === 0) missing.push(ref);
    }
    return missing;
  }

  async function refuseProtected(c: Client, entry: Entry): Promise<void> {
    if (dnUnder(entry.dn, cfg.bind_dn) && dnUnder(cfg.bind_dn, entry.dn)) throw new ActionError(`${key}: ${entry.dn} is the account Fido binds as; refused`, false);
    const named = isProtected(entry, cfg.protected ?? [], a);
    if (named) throw new ActionError(`${key}: ${entry.dn} is protected (protected: ${named}); refused`, false);
    const refs = cfg.protected_groups ?? [];
    if (refs.length === 0) return;
    // Fail closed: a protected group that cannot be seen (a typo, outside group_base_dn, no read access)
    // would otherwise protect nobody.
    const missing = await missingGroups(c, refs);
    if (missing.length > 0) throw new ActionError(`${key}: protected group(s) ${missing.join(', ')} not found under ${groupBase}; refusing rather than risk disabling a protected account`, false);
    const groups = await groupsOf(c, entry);
    const hit = refs.find((r) => groups.some((g) => groupMatches(g, r)));
    if (hit) throw new ActionError(`${key}: ${entry.dn} is a member of protected group ${hit}; refused`, false);
  }

  async function execute(ctx: ActionContext): Promise<ActionOutcome> {
    const param = ctx.action.params.user;
    const user = typeof param === 'string' && param.trim() ? param.trim() : ctx.incident.user;
    if (!user) throw new ActionError(`${key}: no user to disable (neither params.user nor the incident's user)`, false);
    return withClient(ctx.signal, async (c) => {
      const entry = await findAccount(c, user);
      await refuseProtected(c, entry);
      let plan;
      try {
        plan = planDisable(flavor, spec, all(entry, spec.attribute));
      } catch (e) {
        throw new ActionError(`${key}: ${entry.dn}: ${(e as Error).message}`, false);
      }
      // An earlier attempt's checkpoint is the state before Fido acted: disabled now may be its own write.
      const prior = ctx.priorCheckpoint;
      const fromPrior = prior?.dn === entry.dn && typeof prior.disabled_before === 'boolean';
      const before = fromPrior
        ? { disabled_before: prior.disabled_before as boolean, previous: typeof prior.previous === 'string' ? prior.previous : null }
        : { disabled_before: plan.disabledBefore, previous: plan.previous };
      if (!fromPrior) await ctx.checkpoint({ dn: entry.dn, ...before });
      if (plan.changes.length > 0) await modify(c, entry.dn, plan.changes);
      const detail: DisableResult = { user, dn: entry.dn, flavor, attribute: spec.attribute, ...before, changed: plan.changes.length > 0 };
      return { detail };
    });
  }

  async function undo(ctx: UndoContext): Promise<ActionOutcome> {
    const r = ctx.originalResult as Partial<DisableResult>;
    if (typeof r.dn !== 'string') return { detail: { re_enabled: false, reason: 'the action recorded no account: nothing to take back' } };
    if (r.disabled_before !== false) {
      const why = r.disabled_before === null ? 'Fido could not tell whether it disabled the account (a retried attempt found it disabled)' : 'the account was already disabled before Fido acted';
      return { detail: { dn: r.dn, re_enabled: false, reason: `${why}; left disabled` } };
    }
    const dn = r.dn;
    return withClient(ctx.signal, async (c) => {
      const entry = (await search(c, dn, '(objectClass=*)', [spec.attribute], 'base'))[0];
      if (!entry) return { detail: { dn, re_enabled: false, reason: 'the account no longer exists' } };
      const changes = planEnable(flavor, spec, all(entry, spec.attribute), typeof r.previous === 'string' ? r.previous : null);
      if (changes.length === 0) return { detail: { dn, re_enabled: false, reason: 'the account is not disabled any more: nothing to take back' } };
      await modify(c, dn, changes);
      return { detail: { dn, re_enabled: true } };
    });
  }

  return { name: cfg.name, kind: 'ldap_account', execute, undo };
}

const ldapAccount = defineAction({
  kind: 'ldap_account',
  description: 'Disables a directory account (OpenLDAP ppolicy lock / AD ACCOUNTDISABLE) over LDAP; undo re-enables what it disabled',
  schema: LdapAccountSchema,
  check,
  create,
  reversible: true,
  containment: true,
});
export default ldapAccount;
