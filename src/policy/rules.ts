/**
 * Loading policy rules (DESIGN.md §8): from `policy.rules` in fido.yaml and from the YAML files listed in
 * `policy.files` (each holding `rules: [...]`, or a bare list), in that order — the order is the order of
 * evaluation. Every rule is checked and compiled once, at load: its shape, its `when` (CEL, including the
 * regular-expression checks in cel.ts), and that each `then[].action` names a configured target. Problems
 * are collected, not thrown one at a time, and each names the file, the rule and the line.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, isScalar, type Document } from 'yaml';
import { Value } from 'typebox/value';
import { parseDuration } from '../config/duration.js';
import { PolicyFallbackSchema, PolicyRuleSchema, type FidoConfig, type PolicyFallbackConfig, type PolicyRuleConfig } from '../config/schema.js';
import { CelCompileError, compileCondition, type CompiledCondition } from './cel.js';
import { isReversibleKind } from '../actions/undo.js';

export interface RuleOrigin {
  file: string;
  line: number | null;
}

export interface CompiledAction {
  /** The configured target name (`actions.targets[].name`). */
  target: string;
  /** That target's kind (email, webhook, …). */
  kind: string;
  params: Record<string, unknown>;
  /** `for:` — undone this long after it succeeded (reversible kinds only). */
  undoAfterMs?: number;
}

export interface RuleApproval {
  mode: 'auto' | 'required';
  /** With `required`: after this long, `default` applies. No timeout: a human must decide. */
  timeoutMs?: number;
  default?: 'approve' | 'deny';
}

export interface CompiledRule {
  name: string;
  description?: string;
  when: CompiledCondition;
  outcome: string;
  actions: CompiledAction[];
  approval: RuleApproval;
  dryRun: boolean;
  continue: boolean;
  origin: RuleOrigin;
}

/**
 * `policy.fallback`: what a decision gets when a rule's `when` fails (an error or the time limit), since the
 * failed rule might have matched (evaluate.ts applies it).
 */
export interface CompiledFallback {
  outcome: string;
  actions: CompiledAction[];
  approval: RuleApproval;
}

/** Notify for review, with no actions: a failed rule is never taken as "no match", even without config. */
export const DEFAULT_FALLBACK: Readonly<CompiledFallback> = Object.freeze({ outcome: 'notify', actions: [], approval: { mode: 'auto' as const } });

export interface CompiledPolicy {
  rules: readonly CompiledRule[];
  /** Absent: DEFAULT_FALLBACK. */
  fallback?: CompiledFallback;
  /** Configured enrichment provider names: each is a key of `enrichment` in the rule context. */
  providers: readonly string[];
  /** Target name → kind. */
  targets: ReadonlyMap<string, string>;
}

export interface PolicyError {
  file: string;
  rule: string | null;
  /** Config key when the problem is not in a rule (e.g. `policy.fallback`). */
  key?: string;
  line: number | null;
  message: string;
}

export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(readonly errors: readonly PolicyError[]) {
    super(`invalid policy:\n${formatPolicyErrors(errors)}`);
  }
}

export function formatPolicyErrors(errors: readonly PolicyError[]): string {
  return errors.map((e) => `${e.file}${e.line ? `:${e.line}` : ''}: ${e.rule ? `rule "${e.rule}": ` : ''}${e.message}`).join('\n');
}

export interface PolicySources {
  /** `policy.rules` as parsed from the config. */
  rules?: readonly unknown[];
  /** `policy.files`, relative to baseDir. */
  files?: readonly string[];
  /** `policy.fallback` as parsed from the config. */
  fallback?: unknown;
  baseDir: string;
  /** Target name → kind, from `actions.targets`. */
  targets: ReadonlyMap<string, string>;
  providers?: readonly string[];
  /** The config file and its text, so that errors in inline rules carry line numbers. */
  configFile?: string;
  configText?: string;
}

/** Compiles every rule or throws PolicyLoadError listing every problem. */
export function loadPolicy(src: PolicySources): CompiledPolicy {
  const errors: PolicyError[] = [];
  const rules: CompiledRule[] = [];
  const configFile = src.configFile ?? 'fido.yaml';
  const configDoc = src.configText !== undefined ? yamlDoc(src.configText) : undefined;
  (src.rules ?? []).forEach((raw, i) => {
    const at = (key?: string) => lineIn(configDoc, ['policy', 'rules', i, ...(key ? [key] : [])]);
    compileRule(raw, { file: configFile, at, whenNode: () => nodeIn(configDoc, ['policy', 'rules', i, 'when']) }, src.targets, rules, errors);
  });
  for (const f of src.files ?? []) loadFile(resolve(src.baseDir, f), f, src.targets, rules, errors);
  duplicates(rules, errors);
  const fallback = compileFallback(src.fallback, configFile, (key) => lineIn(configDoc, ['policy', 'fallback', ...(key ? [key] : [])]), src.targets, errors);
  if (errors.length) throw new PolicyLoadError(errors);
  return { rules, fallback: fallback ?? DEFAULT_FALLBACK, providers: [...(src.providers ?? [])], targets: new Map(src.targets) };
}

/** The policy of a loaded config (config/load.ts LoadedConfig). */
export function loadPolicyFromConfig(loaded: { config: FidoConfig; dir: string; file?: string; text?: string }): CompiledPolicy {
  const { config } = loaded;
  return loadPolicy({
    rules: config.policy?.rules ?? [],
    files: config.policy?.files ?? [],
    fallback: config.policy?.fallback,
    baseDir: loaded.dir,
    targets: targetKinds(config),
    providers: (config.enrichment?.providers ?? []).map((p) => p.name),
    ...(loaded.file !== undefined ? { configFile: loaded.file } : {}),
    ...(loaded.text !== undefined ? { configText: loaded.text } : {}),
  });
}

/** `actions.targets` as name → kind: what the decide stage and the loader need to know about targets. */
export function targetKinds(config: FidoConfig): Map<string, string> {
  return new Map((config.actions?.targets ?? []).map((t) => [t.name, t.kind]));
}

// ───────────────────────────── files ─────────────────────────────

function loadFile(path: string, shown: string, targets: ReadonlyMap<string, string>, rules: CompiledRule[], errors: PolicyError[]): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    errors.push({ file: shown, rule: null, line: null, message: `cannot read policy file (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    return;
  }
  const doc = yamlDoc(text);
  if (doc.doc.errors.length) {
    for (const e of doc.doc.errors) errors.push({ file: shown, rule: null, line: doc.lc.linePos(e.pos[0]).line, message: e.message.split('\n')[0] ?? 'invalid YAML' });
    return;
  }
  const root: unknown = doc.doc.toJS({ maxAliasCount: 100 });
  const base: Array<string | number> = Array.isArray(root) ? [] : ['rules'];
  const list = Array.isArray(root) ? root : (root as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) {
    errors.push({ file: shown, rule: null, line: 1, message: 'expected `rules:` with a list of rules (or a bare list)' });
    return;
  }
  list.forEach((raw, i) => {
    const at = (key?: string) => lineIn(doc, [...base, i, ...(key ? [key] : [])]);
    compileRule(raw, { file: shown, at, whenNode: () => nodeIn(doc, [...base, i, 'when']) }, targets, rules, errors);
  });
}

interface YamlDoc {
  doc: Document;
  lc: LineCounter;
}

function yamlDoc(text: string): YamlDoc {
  const lc = new LineCounter();
  return { doc: parseDocument(text, { lineCounter: lc, prettyErrors: false }), lc };
}

function nodeIn(d: YamlDoc | undefined, path: ReadonlyArray<string | number>): { line: number; block: boolean } | null {
  if (!d) return null;
  const node = d.doc.getIn(path, true);
  if (!isNode(node) || !node.range) return null;
  const block = isScalar(node) && (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED');
  return { line: d.lc.linePos(node.range[0]).line, block };
}

function lineIn(d: YamlDoc | undefined, path: ReadonlyArray<string | number>): number | null {
  for (let n = path.length; n > 0; n--) {
    const found = nodeIn(d, path.slice(0, n));
    if (found) return found.line;
  }
  return null;
}

// ───────────────────────────── one rule ─────────────────────────────

interface Where {
  file: string;
  at(key?: string): number | null;
  whenNode(): { line: number; block: boolean } | null;
}

function compileRule(raw: unknown, where: Where, targets: ReadonlyMap<string, string>, rules: CompiledRule[], errors: PolicyError[]): void {
  const name = typeof (raw as { name?: unknown })?.name === 'string' ? (raw as { name: string }).name : null;
  const fail = (message: string, key?: string, line?: number | null) => errors.push({ file: where.file, rule: name, line: line ?? where.at(key), message });
  const shapeErrors = [...Value.Errors(PolicyRuleSchema, raw)].filter((e) => e.keyword !== 'boolean');
  if (shapeErrors.length) {
    for (const e of shapeErrors) {
      const path = e.instancePath
        .split('/')
        .slice(1)
        .reduce((s, p) => (/^\d+$/.test(p) ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
      const { additionalProperties: extra, requiredProperties: missing } = e.params as { additionalProperties?: unknown; requiredProperties?: unknown };
      const key = e.instancePath.split('/')[1] || (Array.isArray(extra) ? String(extra[0]) : undefined);
      const at = path ? `${path}: ` : '';
      if (Array.isArray(extra)) fail(`${at}unknown key ${extra.map((x) => `"${String(x)}"`).join(', ')}`, key);
      else if (Array.isArray(missing)) fail(`${at}${missing.map((x) => `"${String(x)}"`).join(', ')} is required`, key);
      else fail(`${at}${e.message}`, key);
    }
    return;
  }
  const rule = raw as PolicyRuleConfig;
  const before = errors.length;
  const when = compileWhen(rule.when, where, fail);
  const actions = actionsOf(rule.then, targets, fail);
  const approval = approvalOf(rule, fail);
  if (errors.length > before || !when || !approval) return;
  rules.push({
    name: rule.name,
    ...(rule.description !== undefined ? { description: rule.description } : {}),
    when,
    outcome: rule.outcome ?? (actions.length ? 'notify' : 'log'),
    actions,
    approval,
    dryRun: rule.dry_run ?? false,
    continue: rule.continue ?? false,
    origin: { file: where.file, line: where.at() },
  });
}

function compileWhen(source: string, where: Where, fail: (m: string, key?: string, line?: number | null) => void): CompiledCondition | null {
  try {
    return compileCondition(source);
  } catch (e) {
    if (!(e instanceof CelCompileError)) throw e;
    const node = where.whenNode();
    let line = node?.line ?? where.at('when');
    if (line !== null && node && e.offset !== undefined) {
      // Point into multi-line expressions: block scalars start on the line after `when: |`.
      const newlines = source.slice(0, e.offset).split('\n').length - 1;
      line += (node.block ? 1 : 0) + newlines;
    }
    fail(`when: ${e.message}`, 'when', line);
    return null;
  }
}

/** `then:` resolved against the configured targets. */
function actionsOf(then: PolicyRuleConfig['then'], targets: ReadonlyMap<string, string>, fail: (m: string, key?: string) => void): CompiledAction[] {
  return (then ?? []).flatMap((t, i): CompiledAction[] => {
    const kind = targets.get(t.action);
    if (kind !== undefined) {
      const action: CompiledAction = { target: t.action, kind, params: { ...(t.params ?? {}) } };
      if (t.for === undefined) return [action];
      if (!isReversibleKind(kind)) {
        fail(`then[${i}].for: actions of kind "${kind}" cannot be undone, so they cannot be given a time limit`, 'then');
        return [action];
      }
      try {
        return [{ ...action, undoAfterMs: parseDuration(t.for, `then[${i}].for`) }];
      } catch (e) {
        fail((e as Error).message, 'then');
        return [action];
      }
    }
    const known = [...targets.keys()].join(', ') || 'none configured';
    fail(`then[${i}]: unknown action target "${t.action}" (targets: ${known})`, 'then');
    return [];
  });
}

/** `policy.fallback`, checked like a rule's `outcome`/`then`/`approval`; null when absent or invalid. */
function compileFallback(
  raw: unknown,
  file: string,
  at: (key?: string) => number | null,
  targets: ReadonlyMap<string, string>,
  errors: PolicyError[],
): CompiledFallback | null {
  if (raw === undefined || raw === null) return null;
  const fail = (message: string, key?: string) =>
    errors.push({ file, rule: null, key: `policy.fallback${key ? `.${key}` : ''}`, line: at(key), message: `fallback: ${message}` });
  const before = errors.length;
  for (const e of Value.Errors(PolicyFallbackSchema, raw)) {
    if (e.keyword === 'boolean') continue;
    fail(`${e.instancePath || '(value)'}: ${e.message}`, e.instancePath.split('/')[1] || undefined);
  }
  if (errors.length > before) return null;
  const cfg = raw as PolicyFallbackConfig;
  const actions = actionsOf(cfg.then, targets, fail);
  const approval = approvalOf(cfg, fail);
  if (errors.length > before || !approval) return null;
  return { outcome: cfg.outcome ?? DEFAULT_FALLBACK.outcome, actions, approval };
}

function approvalOf(rule: Pick<PolicyRuleConfig, 'approval'>, fail: (m: string, key?: string) => void): RuleApproval | null {
  const a = rule.approval ?? 'auto';
  if (typeof a === 'string') return { mode: a };
  if (a.mode === 'auto' && (a.timeout !== undefined || a.default !== undefined)) {
    fail('approval: timeout and default only apply with mode: required', 'approval');
    return null;
  }
  if (a.timeout === undefined) {
    if (a.default !== undefined) fail('approval: default needs a timeout', 'approval');
    return a.default !== undefined ? null : { mode: a.mode };
  }
  try {
    // Without an explicit default, an unanswered request is denied: acting on silence is the unsafe choice.
    return { mode: a.mode, timeoutMs: parseDuration(a.timeout, 'approval.timeout'), default: a.default ?? 'deny' };
  } catch (e) {
    fail((e as Error).message, 'approval');
    return null;
  }
}

function duplicates(rules: readonly CompiledRule[], errors: PolicyError[]): void {
  const seen = new Map<string, CompiledRule>();
  for (const r of rules) {
    const first = seen.get(r.name);
    if (first) {
      errors.push({ file: r.origin.file, rule: r.name, line: r.origin.line, message: `duplicate rule name (first defined in ${first.origin.file}${first.origin.line ? `:${first.origin.line}` : ''})` });
    } else seen.set(r.name, r);
  }
}
