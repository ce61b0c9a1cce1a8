/**
 * The pure half of the `ldap_account` action (kinds/ldap_account.ts): what "disabled" means per directory
 * flavour and which LDAP modifications disable or re-enable an account, from the attribute values read just
 * before. Kept apart so that Active Directory's userAccountControl arithmetic is tested as functions.
 *
 * Every change that replaces a value is written as `delete: <the value read>` + `add: <the new value>` in one
 * modify request: LDAP applies a modify atomically, and the delete fails (noSuchAttribute) when someone changed
 * the value since it was read, so a concurrent change is never overwritten (the action retries and re-reads).
 */

export type Flavor = 'openldap' | 'active_directory';

/** AD's userAccountControl flag ACCOUNTDISABLE (Microsoft, "userAccountControl attribute"). */
export const AD_ACCOUNTDISABLE = 0x2;
/** What AD gives a normal user account (NORMAL_ACCOUNT, 0x200). */
export const AD_NORMAL_ACCOUNT = 0x200;

/** ppolicy's administrative lock (slapo-ppolicy(5)): permanent, whatever pwdLockoutDuration says. */
export const PPOLICY_LOCK = { attribute: 'pwdAccountLockedTime', value: '000001010000Z' } as const;

/** Lock attributes known to hold one value: a value already there is replaced (and restored on undo), not added to. */
const SINGLE_VALUED = new Set(['pwdaccountlockedtime', 'nsaccountlock']);

/** How an account is marked disabled: an attribute and the value that means "disabled". */
export interface LockSpec {
  attribute: string;
  value: string;
}

export interface Modification {
  operation: 'add' | 'delete';
  attribute: string;
  values: string[];
}

export interface DisablePlan {
  /** The account was disabled already (by this lock, or AD's flag): nothing is changed. */
  disabledBefore: boolean;
  changes: Modification[];
  /** The value replaced (a single-valued lock attribute's other value, AD's userAccountControl), for the undo. */
  previous: string | null;
}

/** The attribute that holds the disabled state, per flavour. */
export function lockSpec(flavor: Flavor, configured?: LockSpec): LockSpec {
  if (flavor === 'active_directory') return { attribute: 'userAccountControl', value: String(AD_ACCOUNTDISABLE) };
  return configured ?? { ...PPOLICY_LOCK };
}

/** userAccountControl as a number; absent or not a number is refused (an AD user always has one). */
export function parseUac(values: readonly string[]): number | null {
  const v = values[0];
  if (v === undefined || !/^-?\d+$/.test(v.trim())) return null;
  // A 32-bit flag word; AD writes it as a signed decimal.
  return Number(v.trim()) >>> 0;
}

export const adDisabled = (uac: number): boolean => (uac & AD_ACCOUNTDISABLE) !== 0;
/** Sets ACCOUNTDISABLE, keeping every other flag. */
export const adDisable = (uac: number): number => (uac | AD_ACCOUNTDISABLE) >>> 0;
/** Clears ACCOUNTDISABLE, keeping every other flag. */
export const adEnable = (uac: number): number => (uac & ~AD_ACCOUNTDISABLE) >>> 0;

const swap = (attribute: string, from: string, to: string): Modification[] => [
  { operation: 'delete', attribute, values: [from] },
  { operation: 'add', attribute, values: [to] },
];

const has = (values: readonly string[], v: string) => values.some((x) => x.toLowerCase() === v.toLowerCase());

/**
 * What disabling takes, given the lock attribute's current values. Throws when AD's userAccountControl is
 * unreadable (the bind account may not read it, or the entry is no user).
 */
export function planDisable(flavor: Flavor, spec: LockSpec, current: readonly string[]): DisablePlan {
  if (flavor === 'active_directory') {
    const uac = parseUac(current);
    if (uac === null) throw new Error(`the entry has no readable userAccountControl`);
    if (adDisabled(uac)) return { disabledBefore: true, changes: [], previous: String(uac) };
    return { disabledBefore: false, changes: swap(spec.attribute, current[0]!, String(adDisable(uac))), previous: String(uac) };
  }
  if (has(current, spec.value)) return { disabledBefore: true, changes: [], previous: null };
  // ppolicy: a lock by failed binds (another time) is replaced by the administrative one, and put back on undo.
  if (SINGLE_VALUED.has(spec.attribute.toLowerCase()) && current.length > 0) {
    return { disabledBefore: false, changes: swap(spec.attribute, current[0]!, spec.value), previous: current[0]! };
  }
  return { disabledBefore: false, changes: [{ operation: 'add', attribute: spec.attribute, values: [spec.value] }], previous: null };
}

/**
 * What re-enabling takes: clear what `planDisable` set, if it is still there (an empty plan when someone
 * re-enabled the account already), and put back the value it replaced.
 */
export function planEnable(flavor: Flavor, spec: LockSpec, current: readonly string[], previous: string | null): Modification[] {
  if (flavor === 'active_directory') {
    const uac = parseUac(current);
    if (uac === null || !adDisabled(uac)) return [];
    return swap(spec.attribute, current[0]!, String(adEnable(uac)));
  }
  const ours = current.find((x) => x.toLowerCase() === spec.value.toLowerCase());
  if (ours === undefined) return [];
  const back: Modification[] = previous !== null && SINGLE_VALUED.has(spec.attribute.toLowerCase()) ? [{ operation: 'add', attribute: spec.attribute, values: [previous] }] : [];
  return [{ operation: 'delete', attribute: spec.attribute, values: [ours] }, ...back];
}
