/**
 * What the action kinds share: reading a target's configuration (secret references, a private CA file) and
 * the incident's link on the API that messages and payloads carry.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { isSecretRef, resolveSecretRefs } from '../config/secrets.js';

/** A config value that may be a secret reference (`${env:…}`, `${file:…}`): resolved when it is one, as written otherwise. */
export function secretValue(value: string, key: string): string;
export function secretValue(value: string | undefined, key: string): string | undefined;
export function secretValue(value: string | undefined, key: string): string | undefined {
  if (value === undefined) return undefined;
  return isSecretRef(value) ? resolveSecretRefs(value, key) : value;
}

/** The PEM text of a target's `tls_ca_file` (relative to the config file's folder); undefined when none is set. */
export function readTlsCaFile(target: { name: string; tls_ca_file?: string }, configDir: string): string | undefined {
  if (!target.tls_ca_file) return undefined;
  const file = resolvePath(configDir, target.tls_ca_file);
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`actions.targets.${target.name}.tls_ca_file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The incident's link on the API; only http(s) base URLs produce a link. */
export function incidentUrl(publicUrl: string, incidentId: string): string | null {
  // The look-behind enters a run of slashes at its first one only (/\/+$/ rescanned the run from each).
  const base = publicUrl.replace(/(?<!\/)\/+$/, '');
  if (!/^https?:\/\//i.test(base)) return null;
  return `${base}/api/v1/incidents/${encodeURIComponent(incidentId)}`;
}
