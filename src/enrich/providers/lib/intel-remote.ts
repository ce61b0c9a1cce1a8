/**
 * What the threat-intelligence providers that ask a SaaS API with one API key share (virustotal.ts, otx.ts,
 * threatgrid.ts): their common config keys, the check of `url`, building the client from an entry, and the
 * small readers that take a vendor's JSON apart without trusting its shape. Not a provider itself: it lives
 * in lib/, which discovery (component/discover.ts) does not read.
 */
import { SecretString, RemoteError, createRemoteClient, readCaFile, remoteSettingsSchema, retryAfterMs, secretSetting, statusError } from '../../remote.js';
import type { RemoteClient, RemoteErrorReason, RemoteResponse } from '../../remote.js';
import { providerSettingsSchema } from '../../settings.js';
import type { ProviderDeps } from '../../provider.js';
import type { ComponentProblem } from '../../../component/component.js';
import { outboundUrlProblem } from '../../../util/outbound.js';

/** Keys of every entry: the layer's settings, url/allow_private/tls_ca_file, and the API key. */
export const intelRemoteKeys = {
  ...providerSettingsSchema,
  ...remoteSettingsSchema,
  api_key: SecretString,
};

interface RemoteEntry {
  name: string;
  api_key: string;
  url?: string;
  allow_private?: boolean;
  tls_ca_file?: string;
}

/** `check`: a url that the outbound guard would refuse, reported by `fido config validate` as at start. */
export function checkUrl(cfg: { url?: string; allow_private?: boolean }): ComponentProblem[] {
  if (cfg.url === undefined) return [];
  const problem = outboundUrlProblem(cfg.url, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'url', message: problem }] : [];
}

export interface IntelRemote {
  client: RemoteClient;
  /** Config path of the entry, for messages. */
  key: string;
  /** Cuts the API key out of text that came back from the service (some echo it). */
  scrub(text: string): string;
  /** What a message may say about a request: method, host and path (never the query or headers). */
  where(path: string): string;
}

/** The client of an entry: its url (or the vendor's), the key in the headers `headers` makes of it. */
export function openIntelRemote(cfg: RemoteEntry, deps: ProviderDeps, o: { defaultUrl: string; headers: (apiKey: string) => Record<string, string> }): IntelRemote {
  const key = `enrichment.providers.${cfg.name}`;
  const apiKey = secretSetting(cfg.api_key, `${key}.api_key`);
  const client = createRemoteClient({
    key,
    baseUrl: cfg.url ?? o.defaultUrl,
    headers: o.headers(apiKey),
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
  });
  const base = client.baseUrl;
  const basePath = base.pathname.replace(/\/$/, '');
  return {
    client,
    key,
    scrub: (text) => (apiKey.length >= 4 ? text.split(apiKey).join('[secret]') : text),
    where: (path) => `GET ${base.host}${basePath}${path}`,
  };
}

/**
 * A RemoteError for a non-2xx answer (remote.ts's reading of the status), with the reason the vendor's own
 * error code gives when it says more than the status (a quota error under a 400 or a 403).
 */
export function vendorError(res: RemoteResponse, r: IntelRemote, path: string, reason?: RemoteErrorReason): RemoteError {
  const e = statusError(res, r.where(path), r.scrub);
  if (!reason || reason === e.reason) return e;
  const retry = reason === 'ratelimited' ? (e.retryAfterMs ?? retryAfterMs(res.headers['retry-after'])) : undefined;
  return new RemoteError(e.message, reason, e.status, retry);
}

/** A 2xx body that is not what the API documents. */
export function malformed(r: IntelRemote, path: string, what: string, status = 200): RemoteError {
  return new RemoteError(`${r.where(path)} answered ${status} but ${what}`, 'malformed', status);
}

// --- Readers for untrusted JSON --------------------------------------------------------------------------

export type Json = Record<string, unknown>;

export function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** The strings of an array (other items dropped). */
export function strs(v: unknown): string[] {
  return arr(v).filter((x): x is string => typeof x === 'string');
}
