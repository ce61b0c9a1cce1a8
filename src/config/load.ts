/**
 * Loads fido.yaml: FIDO_CONFIG, else the demo configuration that ships in demo/. Validates it (errors name
 * key and line), folds policy files into the version hash, then resolves secret references.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProviders, isLocalKind, providerKinds } from '../enrich/registry.js';
import { openStore } from '../store/store.js';
import { actionKinds } from '../actions/registry.js';
import { receiverKinds } from '../intake/registry.js';
import { markChecked } from '../component/instantiate.js';
import type { FidoConfig } from './schema.js';
import { detectorErrors, formatConfigErrors, parseConfigText, secretErrors, type ConfigError, type ConfigKinds, type ParsedConfig } from './validate.js';
import { loadDetectors } from '../detectors/lib/registry.js';
import { resolveSecretsDeep } from './secrets.js';
import { loadPolicyFromConfig, PolicyLoadError } from '../policy/rules.js';
import { resolveProfile, ProfileError } from '../score/profile.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../demo/fido.yaml', import.meta.url));

export const configKinds: ConfigKinds = { receivers: receiverKinds, providers: providerKinds, actions: actionKinds };

export interface LoadedConfig {
  config: FidoConfig;
  /** Short hash of the config text and the policy files it names: recorded with every decision. */
  version: string;
  file: string;
  /** Relative paths in the config resolve against this directory. */
  dir: string;
  /** The text as written (secret references unresolved), stored in config_versions. */
  text: string;
}

export class ConfigInvalidError extends Error {
  override readonly name = 'ConfigInvalidError';
  constructor(
    readonly file: string,
    readonly errors: readonly ConfigError[],
  ) {
    super(`invalid configuration:\n${formatConfigErrors(file, errors)}`);
  }
}

export function configPath(file?: string): string {
  return resolve(file ?? process.env.FIDO_CONFIG ?? DEMO_CONFIG);
}

/**
 * Validates without resolving secrets: for `fido config validate`. Beyond the schema, it compiles the
 * policy rules (CEL, regex checks, action targets) and resolves the scoring profile, as `fido start` would.
 */
export async function checkConfigFile(file?: string): Promise<{ file: string; errors: ConfigError[] }> {
  const path = configPath(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { file: path, errors: [{ key: '(file)', line: null, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? 'error'}` }] };
  }
  const parsed = parseConfigText(text, configKinds);
  if (parsed.errors.length) return { file: path, errors: parsed.errors };
  // Secrets are checked (set, readable), never resolved into anything shown.
  const errors: ConfigError[] = [...secretErrors(parsed), ...(await unknownDetectors(parsed)), ...(await dataFileErrors(parsed, dirname(path)))];
  try {
    loadPolicyFromConfig({ config: parsed.config, dir: dirname(path), file: path, text });
  } catch (e) {
    if (!(e instanceof PolicyLoadError)) throw e;
    for (const p of e.errors) {
      const key = p.key ?? (p.rule ? `policy rule "${p.rule}"${p.file !== path ? ` (${p.file})` : ''}` : `policy (${p.file})`);
      errors.push({ key, line: p.file === path ? p.line : null, message: p.message });
    }
  }
  try {
    resolveProfile(parsed.config.scoring?.profile ?? 'default', parsed.config.scoring?.profiles ?? {});
  } catch (e) {
    if (!(e instanceof ProfileError)) throw e;
    errors.push({ key: 'scoring', line: null, message: e.message });
  }
  return { file: path, errors };
}

/**
 * What `fido start` would find wrong in the data files the providers read (an inventory, segments, an
 * allowlist, an indicators list: missing, unreadable, malformed): each local provider is built, as start
 * builds it, against an empty store in memory, and closed again. Providers that ask a service are not
 * called: validate never reaches out.
 */
async function dataFileErrors(parsed: ParsedConfig, configDir: string): Promise<ConfigError[]> {
  const entries = parsed.config.enrichment?.providers ?? [];
  if (!entries.some((e) => isLocalKind(e.kind))) return [];
  const errors: ConfigError[] = [];
  const store = await openStore({ databaseUrl: 'sqlite::memory:', dataDir: configDir });
  try {
    for (const [i, entry] of entries.entries()) {
      if (!isLocalKind(entry.kind)) continue;
      try {
        for (const p of await createProviders([entry], { store, configDir })) await p.close?.();
      } catch (e) {
        // instantiate() names the entry by its name; the key here names it by position, as the other checks do.
        const message = (e as Error).message.replace(`enrichment.providers.${entry.name}: `, '');
        errors.push({ key: `enrichment.providers[${i}]`, line: parsed.lineOf(['enrichment', 'providers', i]), message });
      }
    }
  } finally {
    await store.close();
  }
  return errors;
}

export async function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const path = configPath(file);
  const text = readFileSync(path, 'utf8');
  const parsed = parseConfigText(text, configKinds);
  if (parsed.errors.length) throw new ConfigInvalidError(path, parsed.errors);
  const dir = dirname(path);
  const hash = createHash('sha256').update(text);
  for (const f of parsed.config.policy?.files ?? []) {
    try {
      hash.update(readFileSync(resolve(dir, f)));
    } catch (e) {
      throw new ConfigInvalidError(path, [{ key: 'policy.files', line: null, message: `cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? 'error'}` }]);
    }
  }
  const problems = [...secretErrors(parsed, env), ...(await unknownDetectors(parsed))];
  if (problems.length) throw new ConfigInvalidError(path, problems);
  const config = resolveSecretsDeep(parsed.config, '', env);
  // Checked above, with line numbers: building them does not check them again (component/instantiate.ts).
  for (const entry of [...(config.enrichment?.providers ?? []), ...(config.actions?.targets ?? [])]) markChecked(entry);
  for (const source of config.sources ?? []) if (source.receiver) markChecked(source.receiver);
  return { config, version: hash.digest('hex').slice(0, 16), file: path, dir, text };
}

/** Sources naming a detector that neither Fido nor the configuration's JSON mappings define. */
async function unknownDetectors(parsed: ParsedConfig): Promise<ConfigError[]> {
  const { config } = parsed;
  if (!(config.sources ?? []).some((s) => s.detector !== undefined && s.detector !== 'auto')) return [];
  let names: string[];
  try {
    names = (await loadDetectors({ jsonMappings: config.detectors?.json ?? [] })).list().map((d) => d.name);
  } catch (e) {
    // A bad mapping: the schema check reports it, and start refuses it with its own message.
    return [{ key: 'detectors.json', line: null, message: (e as Error).message }];
  }
  return detectorErrors(parsed, names);
}
