/**
 * One bound LDAP session over ldapts, for every part of Fido that talks LDAP (the directory provider, the
 * account action): connect (TLS from the first byte for ldaps://, or StartTLS), bind, run the work, always
 * unbind; an abort closes the socket and rejects at once, so a directory that never answers cannot hold a lookup
 * or an action past its time limit. Errors go through the caller's `fail`, which turns them into its own kind
 * (a provider's RemoteError, an action's ActionError) and keeps the password out of them.
 */
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';

export interface LdapSessionOptions {
  url: string;
  startTls: boolean;
  /** PEM of a private CA; certificates are always verified. */
  ca?: string | undefined;
  bindDn?: string | undefined;
  password?: string | undefined;
  connectTimeoutMs: number;
  /** Per-operation timeout (ldapts `timeout`), if any. */
  timeoutMs?: number;
  /** The caller's error for a failed step (`what`: "bind as …", "StartTLS with …"). */
  fail: (what: string, e: unknown) => Error;
  /** The error an abort rejects with. */
  aborted: (signal: AbortSignal) => Error;
}

/** The connection half of the options, from an entry's `url`, `start_tls` and `bind_dn` (both LDAP components have them). */
export function ldapConnection(
  cfg: { url: string; start_tls?: boolean; bind_dn?: string },
  ca: string | undefined,
  password: string | undefined,
): Pick<LdapSessionOptions, 'url' | 'startTls' | 'ca' | 'bindDn' | 'password'> {
  return { url: cfg.url, startTls: cfg.start_tls ?? false, ca, bindDn: cfg.bind_dn, password };
}

/** TLS options for the URL's host: verification on, TLS 1.2 at least, SNI unless the host is an address. */
export function ldapTlsOptions(url: URL, ca?: string): ConnectionOptions {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}), ...(isIP(host) ? {} : { servername: url.hostname }) };
}

export async function withLdapSession<T>(o: LdapSessionOptions, signal: AbortSignal, work: (client: Client) => Promise<T>): Promise<T> {
  if (signal.aborted) throw o.aborted(signal);
  const url = new URL(o.url);
  const tls = ldapTlsOptions(url, o.ca);
  const client = new Client({
    url: o.url,
    connectTimeout: o.connectTimeoutMs,
    ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}),
    // ldapts speaks TLS from the first byte whenever tlsOptions are given: only for ldaps://.
    ...(url.protocol === 'ldaps:' ? { tlsOptions: tls } : {}),
    strictDN: true,
  });
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      void client.unbind().catch(() => {});
      reject(o.aborted(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  const run = async () => {
    if (o.startTls) await client.startTLS(tls).catch((e: unknown) => Promise.reject(o.fail(`StartTLS with ${url.host}`, e)));
    if (o.bindDn) await client.bind(o.bindDn, o.password).catch((e: unknown) => Promise.reject(o.fail(`bind as ${o.bindDn}`, e)));
    return work(client);
  };
  try {
    return await Promise.race([run(), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.unbind().catch(() => {});
  }
}
