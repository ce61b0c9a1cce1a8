/**
 * The organisation's directory over LDAP — OpenLDAP or Active Directory: who a user is (account, display
 * name, title, department, e-mail, manager), which groups they are in (nested), whether the account is
 * disabled or locked, how old its password is, and whether it counts as privileged or VIP; and for a host,
 * its computer object (OS, description, managed by, groups, disabled). The directory is the organisation's
 * own service: not `external`, so the layer does send it user and host names.
 *
 *   - name: directory
 *     kind: ldap
 *     flavor: active_directory
 *     url: ldaps://dc1.corp.example:636
 *     tls_ca_file: corp-ca.pem
 *     bind_dn: CN=svc-fido,OU=Service Accounts,DC=corp,DC=example
 *     bind_password: ${env:FIDO_LDAP_PASSWORD}
 *     base_dn: OU=Staff,DC=corp,DC=example
 *     computer_base_dn: OU=Computers,DC=corp,DC=example
 *     privileged_groups: [Domain Admins, "CN=Tier0,OU=Groups,DC=corp,DC=example"]
 *     vip_rules: ["title=Chief Executive Officer"]
 *
 * One connection per lookup (connect, optional StartTLS, bind, a few searches, unbind); TLS certificates are
 * always verified, against `tls_ca_file` when set. Every subject reaches the server inside filter objects
 * (BER-encoded assertion values), never pasted into filter text, so `*)(uid=*` is just an odd name. Searches
 * are paged (`page_size`). Caching, rate limits and timeouts are the layer's.
 */
import { Type, type Static } from 'typebox';
import { EqualityFilter, InvalidCredentialsError, ResultCodeError, type Entry, type Filter } from 'ldapts';
import { ldapConnection, withLdapSession } from '../../util/ldap-session.js';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { RemoteError, SecretString, readCaFile, secretSetting } from '../remote.js';
import {
  FLAVOR_DEFAULTS,
  adAccountState,
  all,
  chainGroupsFilter,
  directGroupsFilter,
  dnUnder,
  first,
  groupMatches,
  hostFilter,
  matchesRule,
  openldapAccountState,
  parseDn,
  parseRule,
  rdnValue,
  userQuery,
  type AccountState,
  type AttributeRule,
  type Flavor,
  type UserAttributes,
} from './lib/ldap-attrs.js';

const OptionalString = Type.Optional(Type.String({ minLength: 1 }));

const AttributesSchema = Type.Object(
  {
    account: OptionalString,
    upn: OptionalString,
    mail: OptionalString,
    display_name: OptionalString,
    title: OptionalString,
    department: OptionalString,
    manager: OptionalString,
    member_of: OptionalString,
    user_class: OptionalString,
    group_class: OptionalString,
    group_member: OptionalString,
    computer_class: OptionalString,
    computer_names: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    computer_os: OptionalString,
    computer_description: OptionalString,
    computer_managed_by: OptionalString,
  },
  { additionalProperties: false },
);

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('ldap'),
    ...providerSettingsSchema,
    url: Type.String({ description: 'ldap://host[:port] or ldaps://host[:port]' }),
    start_tls: Type.Optional(Type.Boolean({ description: 'Upgrade an ldap:// connection with StartTLS before binding' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of the private CA that signed the directory certificate' })),
    bind_dn: Type.Optional(Type.String({ minLength: 1 })),
    bind_password: Type.Optional(SecretString),
    base_dn: Type.String({ minLength: 1, description: 'Where users are searched' }),
    group_base_dn: Type.Optional(Type.String({ minLength: 1, description: 'Where groups are searched (default: base_dn)' })),
    computer_base_dn: Type.Optional(Type.String({ minLength: 1, description: 'Where computer objects are searched; without it, no host subjects' })),
    flavor: Type.Optional(Type.Union([Type.Literal('openldap'), Type.Literal('active_directory')])),
    attributes: Type.Optional(AttributesSchema),
    privileged_groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Group DNs or CNs' })),
    vip_groups: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    privileged_rules: Type.Optional(Type.Array(Type.String({ pattern: '^[^=]+=.+$' }), { description: 'attribute=value' })),
    vip_rules: Type.Optional(Type.Array(Type.String({ pattern: '^[^=]+=.+$' }))),
    disabled_rules: Type.Optional(Type.Array(Type.String({ pattern: '^[^=]+=.+$' }), { description: 'attribute=value that means disabled' })),
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    max_group_depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  },
  { additionalProperties: false },
);

export type LdapConfig = Static<typeof Schema>;

const DAY_MS = 86_400_000;
const CONNECT_TIMEOUT_MS = 10_000;

function dnProblems(cfg: LdapConfig): Array<{ key: string; message: string }> {
  const keys = [
    'base_dn',
    'group_base_dn',
    'computer_base_dn',
    'bind_dn',
    ...(cfg.privileged_groups ?? []).map((_, i) => `privileged_groups[${i}]`),
    ...(cfg.vip_groups ?? []).map((_, i) => `vip_groups[${i}]`),
  ];
  const out: Array<{ key: string; message: string }> = [];
  for (const key of keys) {
    const m = /^(\w+)(?:\[(\d+)\])?$/.exec(key)!;
    const raw = (cfg as unknown as Record<string, unknown>)[m[1]!];
    const value = m[2] !== undefined ? (raw as string[])[Number(m[2])] : raw;
    if (typeof value !== 'string') continue;
    // Group lists may name a CN instead of a DN.
    if (m[2] !== undefined && !value.includes('=')) continue;
    if (!parseDn(value)) out.push({ key, message: `"${value}" is not a valid DN` });
  }
  return out;
}

function urlProblem(cfg: LdapConfig): string | null {
  let u: URL;
  try {
    u = new URL(cfg.url);
  } catch {
    return 'not a valid URL';
  }
  if (u.protocol !== 'ldap:' && u.protocol !== 'ldaps:') return 'only ldap:// and ldaps:// URLs are allowed';
  if (u.username || u.password) return 'credentials in the URL are not allowed; use bind_dn and bind_password';
  if ((u.pathname && u.pathname !== '/') || u.search) return 'give only scheme, host and port (the base DN is base_dn)';
  if (cfg.start_tls && u.protocol === 'ldaps:') return 'start_tls is for ldap:// URLs; ldaps:// is already TLS';
  return null;
}

/** A user's or computer's answer is built from one entry plus the groups, resolved on the same connection. */
interface Session {
  search(base: string, filter: Filter | string, attributes: string[], scope?: 'base' | 'sub'): Promise<Entry[]>;
}

const ldap = defineProvider({
  kind: 'ldap',
  description: 'Directory (OpenLDAP / Active Directory): users, their manager, nested groups and account state; computer objects',
  schema: Schema,
  check(cfg) {
    const problems = dnProblems(cfg);
    const url = urlProblem(cfg);
    if (url) problems.unshift({ key: 'url', message: url });
    if (cfg.bind_password && !cfg.bind_dn) problems.push({ key: 'bind_dn', message: 'bind_password is set but bind_dn is not' });
    if (cfg.bind_dn && !cfg.bind_password) problems.push({ key: 'bind_password', message: 'bind_dn needs bind_password' });
    return problems;
  },
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const key = `enrichment.providers.${cfg.name}`;
    const problem = urlProblem(cfg) ? { key: 'url', message: urlProblem(cfg)! } : dnProblems(cfg)[0];
    if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
    const flavor: Flavor = cfg.flavor ?? 'openldap';
    const a: UserAttributes = { ...FLAVOR_DEFAULTS[flavor], ...(cfg.attributes ?? {}) };
    const password = cfg.bind_password ? secretSetting(cfg.bind_password, `${key}.bind_password`) : undefined;
    const ca = readCaFile(cfg.tls_ca_file, deps.configDir, key);
    const pageSize = cfg.page_size ?? 500;
    const maxDepth = cfg.max_group_depth ?? 8;
    const groupBase = cfg.group_base_dn ?? cfg.base_dn;
    const rules = (list: string[] | undefined) => (list ?? []).map(parseRule).filter((r): r is AttributeRule => r !== null);
    const privilegedRules = rules(cfg.privileged_rules);
    const vipRules = rules(cfg.vip_rules);
    const disabledRules = rules(cfg.disabled_rules);
    const stateAttrs = flavor === 'active_directory' ? ['userAccountControl', 'lockoutTime', 'pwdLastSet'] : ['pwdAccountLockedTime', 'pwdChangedTime'];
    const ruleAttrs = [...privilegedRules, ...vipRules, ...disabledRules].map((r) => r.attribute);
    const userAttrs = [a.account, a.upn, a.mail, a.display_name, 'cn', a.title, a.department, a.manager, a.member_of, ...stateAttrs, ...ruleAttrs].filter(
      (x): x is string => !!x,
    );

    /** What failed, never with the password (ldapts' messages carry none; scrubbed anyway). */
    const fail = (what: string, e: unknown): RemoteError => {
      if (e instanceof RemoteError) return e;
      let msg = e instanceof Error ? e.message : String(e);
      if (password && password.length >= 4) msg = msg.split(password).join('[secret]');
      msg = msg.split('\n')[0]!;
      if (e instanceof InvalidCredentialsError) return new RemoteError(`${key}: ${what}: invalid credentials`, 'auth');
      if (e instanceof ResultCodeError) {
        const code = e.code;
        // 48-50: auth method / credentials / access rights; 51-53: busy, unavailable, unwilling.
        const reason = code >= 48 && code <= 50 ? 'auth' : code >= 51 && code <= 53 ? 'server' : 'client';
        return new RemoteError(`${key}: ${what}: ${msg} (LDAP ${code})`, reason);
      }
      return new RemoteError(`${key}: ${what}: ${msg}`, 'transport');
    };

    /** A bound session (util/ldap-session.ts) with the paged, not-found-tolerant search the lookups use. */
    function withSession<T>(signal: AbortSignal, work: (s: Session) => Promise<T>): Promise<T> {
      const options = {
        ...ldapConnection(cfg, ca, password),
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        fail,
        aborted: (sig: AbortSignal) => (sig.reason instanceof Error ? sig.reason : new Error('aborted')),
      };
      return withLdapSession(options, signal, (client) =>
        work({
          async search(base, filter, attributes, scope = 'sub') {
            try {
              const r = await client.search(base, { scope, filter, attributes, paged: { pageSize } });
              return r.searchEntries;
            } catch (e) {
              // A base-scope read of a DN that does not exist is "not found", not a failure.
              if (e instanceof ResultCodeError && e.code === 32) return [];
              throw fail(`search under ${base}`, e);
            }
          },
        }),
      );
    }

    /** Every group `dn` is in: AD in one transitive query; elsewhere level by level up `member`, bounded. */
    async function groupsOf(s: Session, dn: string, entry: Entry): Promise<{ dns: string[]; truncated: boolean }> {
      if (flavor === 'active_directory') {
        const found = await s.search(groupBase, chainGroupsFilter(dn, a), ['1.1']);
        const dns = found.map((e) => e.dn);
        // Groups outside group_base_dn still show in memberOf (direct ones only).
        for (const g of all(entry, a.member_of)) if (!dns.some((d) => d.toLowerCase() === g.toLowerCase())) dns.push(g);
        return { dns, truncated: false };
      }
      const seen = new Map<string, string>();
      let frontier = [dn];
      for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
        const found = await s.search(groupBase, directGroupsFilter(frontier, a), ['1.1']);
        frontier = [];
        for (const g of found) {
          const k = g.dn.toLowerCase();
          if (seen.has(k) || k === dn.toLowerCase()) continue; // a cycle: already counted
          seen.set(k, g.dn);
          frontier.push(g.dn);
        }
      }
      return { dns: [...seen.values()], truncated: frontier.length > 0 };
    }

    const flags = (entry: Entry, groups: string[], refs: string[] | undefined, rs: AttributeRule[]) =>
      groups.some((g) => (refs ?? []).some((r) => groupMatches(g, r))) || rs.some((r) => matchesRule(entry, r));

    async function lookupUser(subject: LookupSubject, signal: AbortSignal): Promise<ProviderAnswer> {
      const q = userQuery(subject.type as 'user' | 'email', subject.value, a);
      if (!q) return { found: false, data: { reason: 'not a user name, e-mail address or DN' } };
      if ('dn' in q && !dnUnder(q.dn, cfg.base_dn)) return { found: false, data: { reason: 'DN outside base_dn' } };
      return withSession(signal, async (s) => {
        let entries = 'dn' in q ? await s.search(q.dn, new EqualityFilter({ attribute: 'objectClass', value: a.user_class }), userAttrs, 'base') : await s.search(cfg.base_dn, q.filter, userAttrs);
        if (entries.length > 1 && 'prefer' in q && q.prefer) {
          const p = q.prefer.toLowerCase();
          const exact = entries.filter((e) => [first(e, a.upn), first(e, a.mail)].some((v) => v?.toLowerCase() === p));
          if (exact.length > 0) entries = exact;
        }
        if (entries.length === 0) return { found: false, data: {} };
        // Two accounts for one name: say so rather than pick one.
        if (entries.length > 1) return { found: false, data: { ambiguous: entries.map((e) => e.dn) } };
        const e = entries[0]!;
        const state: AccountState = flavor === 'active_directory' ? adAccountState(e) : openldapAccountState(e);
        const managerDn = first(e, a.manager);
        let manager: { dn: string; display_name: string | null } | null = null;
        if (managerDn) {
          const m = (await s.search(managerDn, '(objectClass=*)', [a.display_name, 'cn'], 'base'))[0];
          manager = { dn: managerDn, display_name: m ? (first(m, a.display_name) ?? first(m, 'cn')) : null };
        }
        const groups = await groupsOf(s, e.dn, e);
        const now = deps.now();
        return {
          found: true,
          data: {
            dn: e.dn,
            account: first(e, a.account),
            upn: first(e, a.upn),
            display_name: first(e, a.display_name) ?? first(e, 'cn'),
            title: first(e, a.title),
            department: first(e, a.department),
            email: first(e, a.mail),
            manager,
            groups: groups.dns.map((dn) => ({ dn, name: rdnValue(dn) })),
            groups_truncated: groups.truncated,
            disabled: state.disabled || disabledRules.some((r) => matchesRule(e, r)),
            locked: state.locked,
            locked_at: state.locked_at === null ? null : new Date(state.locked_at).toISOString(),
            password_age_days: state.password_set_at === null ? null : Math.max(0, Math.floor((now - state.password_set_at) / DAY_MS)),
            privileged: flags(e, groups.dns, cfg.privileged_groups, privilegedRules),
            vip: flags(e, groups.dns, cfg.vip_groups, vipRules),
          },
        };
      });
    }

    async function lookupHost(subject: LookupSubject, signal: AbortSignal): Promise<ProviderAnswer> {
      const filter = hostFilter(subject.value, a);
      if (!filter || !cfg.computer_base_dn) return { found: false, data: {} };
      const base = cfg.computer_base_dn;
      const attrs = [...a.computer_names, a.computer_os, a.computer_description, a.computer_managed_by, a.member_of, ...(flavor === 'active_directory' ? ['userAccountControl'] : ['pwdAccountLockedTime'])].filter(
        (x): x is string => !!x,
      );
      return withSession(signal, async (s) => {
        const entries = await s.search(base, filter, attrs);
        if (entries.length !== 1) return { found: false, data: entries.length > 1 ? { ambiguous: entries.map((e) => e.dn) } : {} };
        const e = entries[0]!;
        const groups = await groupsOf(s, e.dn, e);
        const state = flavor === 'active_directory' ? adAccountState(e) : openldapAccountState(e);
        return {
          found: true,
          data: {
            dn: e.dn,
            name: first(e, a.computer_names[0] ?? 'cn'),
            dns_name: a.computer_names.length > 1 ? first(e, a.computer_names[1]!) : null,
            os: first(e, a.computer_os),
            description: first(e, a.computer_description),
            managed_by: first(e, a.computer_managed_by),
            groups: groups.dns.map((dn) => ({ dn, name: rdnValue(dn) })),
            disabled: state.disabled,
          },
        };
      });
    }

    return {
      name: cfg.name,
      kind: 'ldap',
      subjects: cfg.computer_base_dn ? ['user', 'email', 'host'] : ['user', 'email'],
      local: false,
      lookup: (subject, signal) => (subject.type === 'host' ? lookupHost(subject, signal) : lookupUser(subject, signal)),
    };
  },
});

export default ldap;
