/**
 * A PEM setting: the PEM text itself (typically a `${file:…}` or `${env:…}` reference, resolved at load), or the
 * path of a PEM file, relative to the config file. Shared by every TLS listener (the API server, syslog).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export function pem(value: string, configDir: string): string {
  return value.includes('-----BEGIN') ? value : readFileSync(resolve(configDir, value), 'utf8');
}
