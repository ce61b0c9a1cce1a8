/**
 * What an external provider (a threat-intelligence or geography service outside the organisation) may be
 * told. Asking VirusTotal about 10.20.5.21 or "alice" tells a third party about the network and its people and
 * answers nothing, so such providers are never asked about private or reserved addresses, host names, user
 * names, MAC addresses, or names under the organisation's own domains (`enrichment.internal_domains`), unless
 * the provider's entry sets `share_internal: true`. Hashes, public addresses and outside names are shared.
 */
import type { LookupSubject } from './provider.js';
import { classifyAddress, describeAddress } from '../util/outbound.js';

/** Suffixes that never name something on the Internet (RFC 6761, 6762, 8375 and common private use). */
const PRIVATE_SUFFIXES = ['local', 'localhost', 'localdomain', 'internal', 'intranet', 'lan', 'home', 'corp', 'private', 'home.arpa', 'test', 'invalid', 'example'];

/** Why this subject is withheld from an external provider, or null when it may be shared. */
export function withheldReason(subject: LookupSubject, internalDomains: readonly string[]): string | null {
  switch (subject.type) {
    case 'host':
      return 'host names are internal';
    case 'user':
      return 'user names are internal';
    case 'mac':
      return 'MAC addresses are internal';
    case 'ip':
      return addressReason(subject.value);
    case 'domain':
      return domainReason(subject.value, internalDomains);
    case 'email': {
      const at = subject.value.lastIndexOf('@');
      return at < 0 ? 'not an e-mail address' : domainReason(subject.value.slice(at + 1), internalDomains);
    }
    case 'url': {
      let host: string;
      try {
        host = new URL(subject.value).hostname.replace(/^\[|\]$/g, '');
      } catch {
        return 'not a URL';
      }
      return classifyAddress(host) ? addressReason(host) : domainReason(host, internalDomains);
    }
    default:
      return null;
  }
}

function addressReason(value: string): string | null {
  const c = classifyAddress(value);
  if (!c) return 'not an IP address';
  return c.public ? null : `${c.address} is not public (${describeAddress(c)})`;
}

function domainReason(domain: string, internalDomains: readonly string[]): string | null {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (!d.includes('.')) return 'a single-label name is internal';
  const under = (suffix: string) => d === suffix || d.endsWith(`.${suffix}`);
  const mine = internalDomains.find((s) => under(s.toLowerCase().replace(/^\.|\.$/g, '')));
  if (mine) return `${mine} is an internal domain`;
  const reserved = PRIVATE_SUFFIXES.find(under);
  return reserved ? `.${reserved} names are not public` : null;
}
