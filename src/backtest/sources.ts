/**
 * What a backtest compares against the stored decisions: a changed policy (a rules file like `policy.files`,
 * or a whole fido.yaml) and/or a scoring profile, each read and checked the way Fido reads them at start —
 * loadPolicy compiles every rule and names the file, rule and line of each problem.
 *
 * A rules file is compiled against the configured targets, providers and `policy.fallback` (what it is
 * meant to replace the rules of); a whole fido.yaml brings its own. Text (from the API) goes through the
 * same loader as a file, under the name the caller gives it, so its errors read the same.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import type { FidoConfig } from '../config/schema.js';
import { configKinds } from '../config/load.js';
import { formatConfigErrors, parseConfigText } from '../config/validate.js';
import { loadPolicy, loadPolicyFromConfig, targetKinds, type CompiledPolicy } from '../policy/rules.js';
import { resolveProfile, type ResolvedProfile } from '../score/profile.js';

/** The configuration a backtest starts from (the one Fido runs with). */
export interface BaseConfig {
  config: FidoConfig;
  /** Relative paths in it resolve against this directory. */
  dir: string;
  file: string;
  text: string;
}

/** A changed policy that cannot be used; the message names the file (and line) of each problem. */
export class BacktestInputError extends Error {
  override readonly name = 'BacktestInputError';
}

export interface ChangedPolicy {
  policy: CompiledPolicy;
  /** The config the policy came from: the whole file when one was given, else the base. */
  config: FidoConfig;
}

/** The policy Fido runs with (`policy.rules` and `policy.files` of the base config). */
export function configuredPolicy(base: BaseConfig): CompiledPolicy {
  return loadPolicyFromConfig({ config: base.config, dir: base.dir, file: base.file, text: base.text });
}

/** Reads a changed policy from a file: `rules:` (or a bare list) like `policy.files`, or a whole fido.yaml. */
export function policyFromFile(base: BaseConfig, file: string): ChangedPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BacktestInputError(`${file}: cannot read policy file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (isWholeConfig(text)) return policyFromConfigText(text, file, dirname(file));
  return { policy: rulesFile(base, process.cwd(), file), config: base.config };
}

/**
 * The same from text (the API's body): YAML or JSON (JSON is YAML). `name` is what errors call it. A rules
 * file is compiled from a private temporary copy, so that the loader and its line numbers are the file's.
 */
export function policyFromText(base: BaseConfig, text: string, name = 'policy'): ChangedPolicy {
  if (isWholeConfig(text)) return policyFromConfigText(text, name, base.dir);
  const dir = mkdtempSync(join(tmpdir(), 'fido-backtest-'));
  try {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return { policy: rulesFile(base, dir, name), config: base.config };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A named scoring profile, resolved with the overrides of `config` (scoring.profiles). */
export function backtestProfile(name: string, config: FidoConfig): ResolvedProfile {
  return resolveProfile(name, config.scoring?.profiles ?? {});
}

function rulesFile(base: BaseConfig, baseDir: string, file: string): CompiledPolicy {
  try {
    return loadPolicy({
      files: [file],
      baseDir,
      fallback: base.config.policy?.fallback,
      targets: targetKinds(base.config),
      providers: (base.config.enrichment?.providers ?? []).map((p) => p.name),
      configFile: base.file,
      configText: base.text,
    });
  } catch (e) {
    throw asInputError(e);
  }
}

function policyFromConfigText(text: string, file: string, dir: string): ChangedPolicy {
  const parsed = parseConfigText(text, configKinds);
  if (parsed.errors.length) throw new BacktestInputError(`invalid config:\n${formatConfigErrors(file, parsed.errors)}`);
  try {
    return { policy: loadPolicyFromConfig({ config: parsed.config, dir, file, text }), config: parsed.config };
  } catch (e) {
    throw asInputError(e);
  }
}

/** A mapping with `policy:` and no `rules:` is a whole configuration; anything else is a rules file. */
function isWholeConfig(text: string): boolean {
  const doc = parseDocument(text, { prettyErrors: false });
  // Broken YAML is left to the rules loader, whose error names the line.
  if (doc.errors.length) return false;
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return false;
  }
  return typeof root === 'object' && root !== null && !Array.isArray(root) && 'policy' in root && !('rules' in root);
}

function asInputError(e: unknown): unknown {
  return e instanceof Error && e.name === 'PolicyLoadError' ? new BacktestInputError(e.message) : e;
}
