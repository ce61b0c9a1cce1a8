/**
 * The detector registry as the CLI's commands see it (`fido detectors list|test`, `fido normalize`): the
 * built-in detectors plus the configuration's JSON mappings, and the checks of --detector and --tz.
 */
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { JsonMapping } from '../config/schema.js';
import { loadDetectors, type DetectorRegistry } from '../detectors/lib/registry.js';
import { resolveTimeZone } from '../detectors/lib/time.js';

/**
 * The registry as the CLI sees it: built-in detectors plus the `detectors.json` mappings of the config
 * (--config, else $FIDO_CONFIG, else the demo configuration). A config named explicitly must be valid;
 * the implicit default is used when it can be read and skipped (with a warning) when it cannot.
 */
export async function cliRegistry(configFile?: string): Promise<DetectorRegistry> {
  return loadDetectors({ jsonMappings: await jsonMappings(configFile) });
}

export interface DetectorOptions {
  /** A detector name, or auto (also when absent): auto-detection. */
  detector?: string;
  tz: string;
  config?: string;
}

/**
 * The registry a command parses with (`registry`, else cliRegistry), once its --tz and --detector are
 * checked; undefined when one of them is wrong, after writing "<command>: <reason>" to `err` (a usage
 * error: exit code 2). `knownSuffix` ends the list of known detectors in that message.
 */
export async function commandRegistry(command: string, opts: DetectorOptions, err: Writable, registry?: DetectorRegistry, knownSuffix = ''): Promise<DetectorRegistry | undefined> {
  try {
    resolveTimeZone(opts.tz);
  } catch (e) {
    err.write(`${command}: ${(e as Error).message}\n`);
    return undefined;
  }
  const reg = registry ?? (await cliRegistry(opts.config));
  if (opts.detector !== undefined && opts.detector !== 'auto' && !reg.get(opts.detector)) {
    err.write(`${command}: unknown detector "${opts.detector}" (known: ${reg.list().map((d) => d.name).join(', ')}${knownSuffix})\n`);
    return undefined;
  }
  return reg;
}

async function jsonMappings(configFile: string | undefined): Promise<JsonMapping[]> {
  const explicit = configFile !== undefined || process.env.FIDO_CONFIG !== undefined;
  try {
    // Loaded lazily: the config module pulls in every component registry, which `normalize` rarely needs.
    const { configPath, configKinds } = await import('../config/load.js');
    const { parseConfigText, formatConfigErrors } = await import('../config/validate.js');
    const path = configPath(configFile);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (!explicit) return [];
      throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const parsed = parseConfigText(text, configKinds);
    if (parsed.errors.length) throw new Error(`invalid configuration:\n${formatConfigErrors(path, parsed.errors)}`);
    return parsed.config.detectors?.json ?? [];
  } catch (e) {
    if (explicit) throw e;
    process.stderr.write(`fido: warning: default configuration not used (${(e as Error).message.split('\n')[0]})\n`);
    return [];
  }
}
