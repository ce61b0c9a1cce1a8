/**
 * Which senders the imap receiver accepts: a list of entries, each an exact address ("alerts@fireeye.example")
 * or a whole domain ("@fireeye.example": exactly that domain, not its subdomains; list those separately).
 * Matched against the message's From address, case-insensitively. Nothing else is read: the display name is
 * ignored (it may say anything, "alerts@fireeye.example" <evil@attacker.example> is evil@attacker.example),
 * and a From with several addresses, a group, or none is refused. Without require_authentication the From
 * header is whatever the sender wrote: the list then only filters, it does not authenticate.
 */

export type SenderRule = { address: string } | { domain: string };

/** The rule for one configured entry, or an error message. */
export function parseSenderRule(entry: string): SenderRule | string {
  const e = entry.trim().toLowerCase();
  if (e.startsWith('@')) {
    const domain = e.slice(1);
    return validDomain(domain) ? { domain } : `"${entry}" is not "@domain"`;
  }
  const at = e.lastIndexOf('@');
  if (at <= 0 || !validDomain(e.slice(at + 1)) || hasSpaceOrBracket(e.slice(0, at))) return `"${entry}" is not an address or "@domain"`;
  return { address: e };
}

function hasSpaceOrBracket(s: string): boolean {
  for (const c of s) if (c === ' ' || c === '\t' || c === '<' || c === '>' || c === '"' || c === ',') return true;
  return false;
}

function validDomain(d: string): boolean {
  if (d.length === 0 || d.length > 253 || d.startsWith('.') || d.endsWith('.') || d.includes('..')) return false;
  for (const c of d) {
    const ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c === '-' || c === '.' || c > '\u007f';
    if (!ok) return false;
  }
  return true;
}

export interface FromAddress {
  address: string;
  domain: string;
}

/**
 * The one From address of a message from the parsed From header's mailboxes; a reason when there is not
 * exactly one usable address.
 */
export function singleFrom(mailboxes: ReadonlyArray<{ address?: string | undefined; group?: unknown }>): FromAddress | { reason: string } {
  if (mailboxes.length === 0) return { reason: 'no From address' };
  if (mailboxes.length > 1) return { reason: 'several From addresses' };
  const m = mailboxes[0]!;
  if (m.group !== undefined || !m.address) return { reason: 'the From header is a group or has no address' };
  const address = m.address.trim().toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return { reason: 'the From address has no domain' };
  return { address, domain: address.slice(at + 1) };
}

/** True when one rule accepts the address. */
export function senderAllowed(from: FromAddress, rules: readonly SenderRule[]): boolean {
  return rules.some((r) => ('address' in r ? r.address === from.address : r.domain === from.domain));
}
