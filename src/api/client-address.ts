/**
 * Client addresses as the HTTP limits count them (connections per address, failed-token attempts per address).
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack listener reports) is the IPv4 address it carries, so
 * one client is one key whichever way the socket was opened.
 */
import ipaddr from 'ipaddr.js';

/** The canonical text of an address; anything that does not parse is kept as it is (it is still one client). */
export function canonicalAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return ipaddr.isValid(address) ? ipaddr.process(address).toString() : address;
}

/**
 * The key that failed-token attempts are counted under: the address for IPv4, its /64 for IPv6 — whoever holds
 * one IPv6 address usually holds the whole /64 and could otherwise start afresh with each of its 2^64 addresses.
 * (Connections are counted per exact address: legitimate hosts share a /64 LAN and each holds connections,
 * while failed attempts are rare for legitimate clients, so sharing their budget costs them little.)
 */
export function failedAuthKey(address: string | undefined): string {
  if (!address || !ipaddr.isValid(address)) return canonicalAddress(address);
  const a = ipaddr.process(address);
  if (a.kind() === 'ipv4') return a.toString();
  const parts = (a as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/** A matcher for `server.trust_proxy` entries (addresses or CIDRs); throws naming the entry that does not parse. */
export function addressMatcher(entries: readonly string[], key = 'server.trust_proxy'): (address: string | undefined) => boolean {
  const ranges = entries.map((e, i): [ipaddr.IPv4 | ipaddr.IPv6, number] => {
    try {
      if (e.includes('/')) {
        const [addr, bits] = ipaddr.parseCIDR(e);
        // 10.0.0.0/8 written as ::ffff:10.0.0.0/104 is the same range; compare in IPv4 then.
        return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
          ? [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96]
          : [addr, bits];
      }
      const addr = ipaddr.process(e);
      return [addr, addr.kind() === 'ipv4' ? 32 : 128];
    } catch {
      throw new Error(`${key}[${i}]: "${e}" is not an IP address or CIDR range`);
    }
  });
  if (ranges.length === 0) return () => false;
  return (address) => {
    if (!address || !ipaddr.isValid(address)) return false;
    const a = ipaddr.process(address);
    return ranges.some(([r, bits]) => r.kind() === a.kind() && a.match(r, bits));
  };
}
