/**
 * The pure half of the directory provider (providers/ldap.ts): attribute defaults per flavour, how a user or
 * host subject becomes an LDAP filter (every value RFC 4515-escaped by building filter objects, never by
 * pasting text), and how account-state attributes read — Active Directory's userAccountControl, lockoutTime
 * and pwdLastSet (Windows FILETIME), OpenLDAP ppolicy's pwdAccountLockedTime and pwdChangedTime. Kept apart
 * so that the AD interpretation, which no test slapd can serve, is tested as functions.
 */
import { AndFilter, EqualityFilter, ExtensibleFilter, Filter, OrFilter, type Entry } from 'ldapts';

export type Flavor = 'openldap' | 'active_directory';

/** The attribute names the provider reads; each may be overridden in the config (`attributes:`). */
export interface UserAttributes {
  account: string;
  upn: string | null;
  mail: string;
  display_name: string;
  title: string;
  department: string;
  manager: string;
  /** AD: memberOf-style group list on the user; null: groups are found by searching `member`. */
  member_of: string | null;
  user_class: string;
  group_class: string;
  group_member: string;
  computer_class: string;
  computer_names: string[];
  computer_os: string | null;
  computer_description: string;
  computer_managed_by: string;
}

export const FLAVOR_DEFAULTS: Record<Flavor, UserAttributes> = {
  openldap: {
    account: 'uid',
    upn: null,
    mail: 'mail',
    display_name: 'displayName',
    title: 'title',
    department: 'departmentNumber',
    manager: 'manager',
    member_of: null,
    user_class: 'inetOrgPerson',
    group_class: 'groupOfNames',
    group_member: 'member',
    computer_class: 'device',
    computer_names: ['cn'],
    computer_os: null,
    computer_description: 'description',
    computer_managed_by: 'owner',
  },
  active_directory: {
    account: 'sAMAccountName',
    upn: 'userPrincipalName',
    mail: 'mail',
    display_name: 'displayName',
    title: 'title',
    department: 'department',
    manager: 'manager',
    member_of: 'memberOf',
    user_class: 'user',
    group_class: 'group',
    group_member: 'member',
    computer_class: 'computer',
    computer_names: ['cn', 'dNSHostName'],
    computer_os: 'operatingSystem',
    computer_description: 'description',
    computer_managed_by: 'managedBy',
  },
};

/** AD's "transitive membership" matching rule: one query for every group a DN is in, however nested. */
export const LDAP_MATCHING_RULE_IN_CHAIN = '1.2.840.113556.1.4.1941';

/** RFC 4515 §3 escaping of an assertion value, for text that must show a filter (logs, tests). */
export function escapeFilterValue(value: string): string {
  return Filter.escape(value);
}

const eq = (attribute: string, value: string) => new EqualityFilter({ attribute, value });
const anyOf = (filters: Filter[]) => (filters.length === 1 ? filters[0]! : new OrFilter({ filters }));

/** A syntactically valid DN (RFC 4514), trimmed around its RDNs, or null: subjects that look like DNs go through it. */
export function parseDn(text: string): string | null {
  if (!/^[A-Za-z][\w.-]*=/.test(text) && !/^\d+(\.\d+)+=/.test(text)) return null;
  try {
    return parseDnStrict(text);
  } catch {
    return null;
  }
}

/** RFC 4514 DN: attr=value pairs separated by unescaped commas (and '+' for multi-valued RDNs). */
function parseDnStrict(text: string): string {
  const rdns: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      const next = text.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(next)) {
        cur += `\\${next}`;
        i += 2;
      } else if (i + 1 < text.length && ' "#+,;<=>\\'.includes(text[i + 1]!)) {
        cur += `\\${text[i + 1]}`;
        i += 1;
      } else throw new Error('bad escape');
    } else if (c === ',') {
      rdns.push(cur);
      cur = '';
    } else if ('"<>;\0'.includes(c)) throw new Error(`unescaped ${c}`);
    else cur += c;
  }
  rdns.push(cur);
  const parts = rdns.map((rdn) => {
    const m = /^\s*([A-Za-z][\w-]*|\d+(?:\.\d+)+)\s*=(.+)$/s.exec(rdn);
    if (!m || m[2]!.trim() === '') throw new Error('bad RDN');
    return `${m[1]}=${m[2]!.trim()}`;
  });
  return parts.join(',');
}

/** Whether `dn` is `base` or below it (case-insensitive, spaces after commas ignored). */
export function dnUnder(dn: string, base: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/,\s+/g, ',');
  const d = norm(dn);
  const b = norm(base);
  return d === b || d.endsWith(`,${b}`);
}

/** The first RDN's value (`cn=admins,ou=groups,…` → `admins`). */
export function rdnValue(dn: string): string {
  const first = /^[^=]+=((?:\\.|[^,\\])*)/.exec(dn)?.[1] ?? dn;
  return first.replace(/\\([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\(.)/g, '$1');
}

export type UserQuery = { dn: string } | { filter: Filter; prefer: string | null };

/**
 * How a user or email subject is looked up: a DN is read directly; `DOMAIN\user` searches the account name;
 * `user@domain` the UPN, the mail and the account name (the local part, for directories without UPNs), with
 * the exact UPN/mail preferred; a bare name the account name and UPN.
 */
export function userQuery(type: 'user' | 'email', value: string, a: UserAttributes): UserQuery | null {
  const v = value.trim();
  if (!v) return null;
  const cls = eq('objectClass', a.user_class);
  const and = (f: Filter) => new AndFilter({ filters: [cls, f] });
  if (type === 'user' && v.includes('=')) {
    const dn = parseDn(v);
    return dn ? { dn } : null;
  }
  const backslash = type === 'user' ? /^([^\\]+)\\([^\\]+)$/.exec(v) : null;
  if (backslash) return { filter: and(eq(a.account, backslash[2]!)), prefer: null };
  const at = v.lastIndexOf('@');
  if (at > 0) {
    const exact = [...(a.upn ? [eq(a.upn, v)] : []), eq(a.mail, v)];
    const local = type === 'user' ? [eq(a.account, v.slice(0, at))] : [];
    return { filter: and(anyOf([...exact, ...local])), prefer: v };
  }
  if (type === 'email') return null;
  return { filter: and(anyOf([eq(a.account, v), ...(a.upn ? [eq(a.upn, v)] : [])])), prefer: null };
}

/** Computer objects by any of their name attributes; an FQDN also matches its first label. */
export function hostFilter(value: string, a: UserAttributes): Filter | null {
  const v = value.trim();
  if (!v) return null;
  const names = new Set([v]);
  const short = v.split('.')[0];
  if (short && short !== v) names.add(short);
  const filters = a.computer_names.flatMap((attr) => [...names].map((n) => eq(attr, n)));
  return new AndFilter({ filters: [eq('objectClass', a.computer_class), anyOf(filters)] });
}

/** AD: every group `dn` belongs to, directly or nested, in one search. */
export function chainGroupsFilter(dn: string, a: UserAttributes): Filter {
  return new AndFilter({
    filters: [eq('objectClass', a.group_class), new ExtensibleFilter({ matchType: a.group_member, rule: LDAP_MATCHING_RULE_IN_CHAIN, value: dn })],
  });
}

/** OpenLDAP: the groups that list any of `dns` as a member (one level; the caller walks up). */
export function directGroupsFilter(dns: readonly string[], a: UserAttributes): Filter {
  return new AndFilter({ filters: [eq('objectClass', a.group_class), anyOf(dns.map((d) => eq(a.group_member, d)))] });
}

// ───────────────────────────── attribute values ─────────────────────────────

/** One string value of an attribute (the first), or null. */
export function first(entry: Entry, attr: string | null): string | null {
  if (!attr) return null;
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key ? entry[key] : undefined;
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return null;
  return Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

export function all(entry: Entry, attr: string | null): string[] {
  if (!attr) return [];
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attr.toLowerCase());
  const v = key ? entry[key] : undefined;
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/** Windows FILETIME (100 ns ticks since 1601-01-01 UTC) → epoch ms; 0 and "never" (2^63-1) → null. */
export function fileTimeToMs(value: string | null): number | null {
  if (!value || !/^\d+$/.test(value)) return null;
  const ticks = BigInt(value);
  if (ticks === 0n || ticks >= 0x7fffffffffffffffn) return null;
  return Number(ticks / 10_000n) - 11_644_473_600_000;
}

/** LDAP GeneralizedTime (`20261120093000Z`, optional fraction or offset) → epoch ms, or null. */
export function generalizedTimeToMs(value: string | null): number | null {
  const m = value ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{4})$/.exec(value) : null;
  if (!m) return null;
  const [, y, mo, d, h, mi = '0', s = '0', frac = '0', tz] = m;
  let t = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi, +s, Math.round(Number(`0.${frac}`) * 1000));
  if (tz !== 'Z') t -= (tz!.startsWith('-') ? -1 : 1) * (Number(tz!.slice(1, 3)) * 60 + Number(tz!.slice(3))) * 60_000;
  return t;
}

/** ppolicy's value for "locked by an administrator, not by failed binds" (slapo-ppolicy(5)). */
export const PPOLICY_ADMIN_LOCK = '000001010000Z';

export interface AccountState {
  disabled: boolean;
  locked: boolean;
  /** When the lock was set (ms), if known. */
  locked_at: number | null;
  /** When the password was last set (ms), if known. */
  password_set_at: number | null;
}

/** AD: userAccountControl bit 0x2 (ACCOUNTDISABLE); lockoutTime > 0 (FILETIME) is a lockout; pwdLastSet. */
export function adAccountState(entry: Entry): AccountState {
  const uac = Number(first(entry, 'userAccountControl') ?? '0');
  const lockedAt = fileTimeToMs(first(entry, 'lockoutTime'));
  return {
    disabled: Number.isFinite(uac) && (uac & 0x2) !== 0,
    locked: lockedAt !== null,
    locked_at: lockedAt,
    password_set_at: fileTimeToMs(first(entry, 'pwdLastSet')),
  };
}

/** OpenLDAP ppolicy: pwdAccountLockedTime 000001010000Z = disabled by an administrator; another time = locked. */
export function openldapAccountState(entry: Entry): AccountState {
  const lock = first(entry, 'pwdAccountLockedTime');
  const adminLock = lock === PPOLICY_ADMIN_LOCK;
  const lockedAt = adminLock ? null : generalizedTimeToMs(lock);
  return {
    disabled: adminLock,
    locked: lockedAt !== null,
    locked_at: lockedAt,
    password_set_at: generalizedTimeToMs(first(entry, 'pwdChangedTime')),
  };
}

/** `attr=value` rules (`title=Chief Executive Officer`), matched case-insensitively against an entry. */
export interface AttributeRule {
  attribute: string;
  value: string;
}

export function parseRule(text: string): AttributeRule | null {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) return null;
  return { attribute: text.slice(0, i).trim(), value: text.slice(i + 1).trim() };
}

export function matchesRule(entry: Entry, rule: AttributeRule): boolean {
  return all(entry, rule.attribute).some((v) => v.toLowerCase() === rule.value.toLowerCase());
}

/** A group reference from the config is a DN (`cn=admins,ou=groups,…`) or a bare CN (`admins`). */
export function groupMatches(groupDn: string, ref: string): boolean {
  return ref.includes('=') ? groupDn.toLowerCase().replace(/,\s+/g, ',') === ref.toLowerCase().replace(/,\s+/g, ',') : rdnValue(groupDn).toLowerCase() === ref.toLowerCase();
}
