/**
 * An account name without its domain (`DOMAIN\name`) and realm (`name@domain`): how the directory, a protected
 * list or a list of privileged names spell it. String search, not /@.*$/ (linear by construction).
 */
export function bareAccountName(u: string): string {
  const afterDomain = u.slice(u.lastIndexOf('\\') + 1);
  const at = afterDomain.indexOf('@');
  return at > 0 ? afterDomain.slice(0, at) : afterDomain;
}
