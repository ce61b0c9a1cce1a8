/**
 * The safe expression language of policy rules: CEL (@marcbachmann/cel-js). CEL has no loops, recursion or
 * side effects and cannot reach JavaScript prototypes; what remains dangerous is time, and this file closes
 * each way an expression could take long:
 *
 *  - Regular expressions (`matches()`), the classic ReDoS. Every pattern must be a string literal, so it is
 *    known when the rules load; it must be at most 256 characters, free of backreferences and lookaround,
 *    pass the safe-regex star-height check, and compile on V8's linear-time engine (the `l` flag) when the
 *    runtime offers it. An unsafe pattern is a load error naming the rule. At run time `matches()` is
 *    replaced (by rewriting the call) with Fido's own function (cel-worker.mjs), which only runs the
 *    patterns validated for that rule and looks at no more than the first 4096 characters of its input.
 *  - Work proportional to data: lists in the context are capped (context.ts), macros (`exists`, `all`,
 *    `map`, …) may nest at most two deep, and the AST size is bounded.
 *  - Everything else: evaluation runs in a worker thread (sandbox.ts) with a hard time limit; a worker that
 *    overruns is terminated and the condition that overran counts as an error (batches that overrun are
 *    redone one by one to find it), so no expression can stall the pipeline.
 *
 * Numbers (docs/policy.md): the counts, severities, scores and ports Fido computes are CEL `int`; numbers
 * that come from outside (enrichment `data`) are `double`. Comparisons mix freely (`data.score > 3` works);
 * arithmetic does not (`double + int` is an error): write `2.0`, or convert with `int()` / `double()`.
 */
import v8 from 'node:v8';
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import safeRegex from 'safe-regex2';

export const CEL_LIMITS = Object.freeze({
  maxExpressionChars: 4096,
  maxAstNodes: 2000,
  maxDepth: 64,
  maxPatternChars: 256,
  /** Repetitions allowed per pattern by the safe-regex check. */
  maxPatternRepetitions: 25,
  /** matches() examines at most this many characters of its input. */
  maxMatchInput: 4096,
  maxMacroNesting: 2,
});

/** The variables a rule's `when` can use (context.ts builds them). */
export const POLICY_VARIABLES = Object.freeze({
  incident: 'map',
  alerts: 'list',
  score: 'map',
  enrichment: 'map',
  observables: 'list',
} as const);

/** The name `matches` is rewritten to; also usable directly, with the same checks. */
export const SAFE_MATCHES = 'fido_matches';
const MATCH_NAMES = new Set(['matches', SAFE_MATCHES]);
const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

export class CelCompileError extends Error {
  override readonly name = 'CelCompileError';
  constructor(
    message: string,
    /** Character offset in the expression, when known. */
    readonly offset?: number,
  ) {
    super(message);
  }
}

export type PolicyVariable = keyof typeof POLICY_VARIABLES;
const VARIABLE_NAMES = Object.keys(POLICY_VARIABLES) as PolicyVariable[];

/** A checked condition: what the author wrote, what runs, the patterns it may use and the variables it reads. */
export interface CompiledCondition {
  readonly source: string;
  readonly program: string;
  readonly patterns: readonly string[];
  /**
   * The policy variables the program can read (a superset: see variablesOf). Only these are built and sent
   * to the sandbox, so a policy that looks at `score` alone costs no alert or enrichment conversion.
   */
  readonly variables: readonly PolicyVariable[];
}

// ───────────────────────────── regular expressions ─────────────────────────────

/**
 * The `l` flag selects V8's linear-time regexp engine: matching time is bounded by pattern × input size,
 * whatever the pattern. Node 20 ships it behind a V8 flag, which only makes the flag legal and changes no
 * other regular expression; it is enabled once here (process-wide, so worker threads get it too).
 */
export const LINEAR_FLAG: '' | 'l' = (() => {
  const probe = () => {
    try {
      new RegExp('a', 'l');
      return true;
    } catch {
      return false;
    }
  };
  if (probe()) return 'l';
  try {
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
  } catch {
    return '';
  }
  return probe() ? 'l' : '';
})();

/** Why a pattern is refused, or null when it is safe to run. */
export function checkPattern(pattern: string): string | null {
  const L = CEL_LIMITS;
  if (pattern.length > L.maxPatternChars) return `pattern is ${pattern.length} characters; the limit is ${L.maxPatternChars}`;
  try {
    new RegExp(pattern);
  } catch (e) {
    return `not a valid regular expression: ${(e as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(pattern)) return 'backreferences are not allowed (they defeat linear-time matching)';
  if (/\(\?<?[=!]/.test(pattern)) return 'lookahead/lookbehind is not allowed (it defeats linear-time matching)';
  if (!safeRegex(pattern, { limit: L.maxPatternRepetitions })) {
    return 'pattern may take exponential time (a repetition inside a repetition, or too many repetitions)';
  }
  if (LINEAR_FLAG) {
    try {
      new RegExp(pattern, LINEAR_FLAG);
    } catch {
      return 'pattern uses a feature the linear-time regexp engine cannot run';
    }
  }
  return null;
}

// ───────────────────────────── the environment ─────────────────────────────

/**
 * Everything that defines the environment rules run in. The sandbox worker (cel-worker.mjs, plain JS)
 * builds its environment from this object, so checking here and running there cannot drift apart.
 */
export const ENV_SPEC = Object.freeze({
  variables: POLICY_VARIABLES,
  // Every limit @marcbachmann/cel-js 8 has (lib/options.js). All are structural, checked when an expression
  // is parsed; the library has no run-time budget (iterations, string or list sizes), so run-time cost is
  // bounded by the context caps (context.ts), macro nesting (above), the sandbox's time and heap limits, and
  // the fallback when a condition fails anyway (evaluate.ts).
  limits: Object.freeze({ maxAstNodes: CEL_LIMITS.maxAstNodes, maxDepth: CEL_LIMITS.maxDepth, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 16 }),
  safeMatches: SAFE_MATCHES,
  maxMatchInput: CEL_LIMITS.maxMatchInput,
  regexpFlags: LINEAR_FLAG,
});

/** The environment used to parse and type-check rules (it never evaluates them: the sandbox does). */
function checkingEnvironment(): Environment {
  const env = new Environment({ limits: { ...ENV_SPEC.limits } });
  for (const [name, type] of Object.entries(ENV_SPEC.variables)) env.registerVariable(name, type);
  const refuse = (): boolean => {
    throw new Error('conditions are evaluated in the sandbox');
  };
  env.registerFunction(`string.${SAFE_MATCHES}(string): bool`, refuse);
  env.registerFunction(`${SAFE_MATCHES}(string, string): bool`, refuse);
  return env;
}

const checker = checkingEnvironment();

// ───────────────────────────── compiling ─────────────────────────────

interface Splice {
  start: number;
  end: number;
  text: string;
}

interface Walk {
  patterns: Set<string>;
  splices: Splice[];
}

/**
 * Parses, validates and type-checks a condition. Throws CelCompileError with the reason and, when known,
 * the offset of the offending part. Pure apart from the module-level environment (read-only here).
 */
export function compileCondition(source: string): CompiledCondition {
  if (source.length > CEL_LIMITS.maxExpressionChars) {
    throw new CelCompileError(`expression is ${source.length} characters; the limit is ${CEL_LIMITS.maxExpressionChars}`);
  }
  let ast: ASTNode;
  try {
    ast = checker.parse(source).ast;
  } catch (e) {
    throw celError(e);
  }
  const w: Walk = { patterns: new Set(), splices: [] };
  walk(ast, source, 0, w);
  const program = applySplices(source, w.splices);
  const checked = checker.check(program);
  if (!checked.valid) throw celError(checked.error);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw new CelCompileError(`a condition must be true or false, but this expression gives ${checked.type}`);
  }
  return Object.freeze({ source, program, patterns: Object.freeze([...w.patterns]), variables: variablesOf(program) });
}

/**
 * The variables a program may read. CEL names a variable only by writing it (there is no lookup by string,
 * no reflection, no scope object), so every variable the program can reach has its name in the text as a
 * whole word. Counting every such word — also inside a string literal, a comment, a field name or a macro's
 * own variable — can only add variables, never miss one. Were one missing anyway, evaluation would fail with
 * "Unknown variable" (an error on the decision), not see a wrong value.
 */
export function variablesOf(program: string): PolicyVariable[] {
  return VARIABLE_NAMES.filter((name) => new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(program));
}

function celError(e: unknown): CelCompileError {
  if (e instanceof CelCompileError) return e;
  const err = e as { summary?: string; message?: string; range?: { start: number } } | undefined;
  const summary = err?.summary ?? err?.message?.split('\n')[0] ?? 'invalid expression';
  return new CelCompileError(summary, err?.range?.start);
}

function children(node: ASTNode): ASTNode[] {
  const out: ASTNode[] = [];
  const visit = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    if ('op' in v) out.push(v as ASTNode);
    else if (Array.isArray(v)) v.forEach(visit);
  };
  visit(node.args);
  return out;
}

function walk(node: ASTNode, source: string, nesting: number, w: Walk): void {
  if (node.op === 'rcall' || node.op === 'call') {
    const name = node.args[0];
    if (MATCH_NAMES.has(name)) matchCall(node, source, w);
    if (node.op === 'rcall' && MACROS.has(name)) {
      if (nesting + 1 > CEL_LIMITS.maxMacroNesting) {
        throw new CelCompileError(`${name}() nested more than ${CEL_LIMITS.maxMacroNesting} deep; split the condition or filter first`, node.range.start);
      }
      const [, receiver, args] = node.args;
      walk(receiver, source, nesting, w);
      for (const a of args) walk(a, source, nesting + 1, w);
      return;
    }
  }
  for (const c of children(node)) walk(c, source, nesting, w);
}

type CallNode = Extract<ASTNode, { op: 'call' | 'rcall' }>;

/** Validates the literal pattern of a matches() call and records the rewrite to the safe function. */
function matchCall(node: CallNode, source: string, w: Walk): void {
  // s.matches(p): receiver + [p]; matches(s, p): [s, p]. The rewrite spans from the receiver's end (or the
  // call's start) to the first argument.
  const { args, from, arity } =
    node.op === 'rcall'
      ? { args: node.args[2], from: node.args[1].range.end, arity: 1 }
      : { args: node.args[1], from: node.range.start, arity: 2 };
  const pattern = args[arity - 1];
  if (!pattern || args.length !== arity) throw new CelCompileError('matches() takes one pattern', node.range.start);
  if (pattern.op !== 'value' || typeof pattern.args !== 'string') {
    throw new CelCompileError('the pattern of matches() must be a quoted string, so that it can be checked when the rules load', pattern.range.start);
  }
  const problem = checkPattern(pattern.args);
  if (problem) throw new CelCompileError(`unsafe pattern ${JSON.stringify(clip(pattern.args))} in matches(): ${problem}`, pattern.range.start);
  w.patterns.add(pattern.args);
  const gap = source.slice(from, args[0]!.range.start);
  const m = (node.op === 'rcall' ? /^(\s*\.\s*)(matches|fido_matches)(\s*\(\s*)$/ : /^()(matches|fido_matches)(\s*\(\s*)$/).exec(gap);
  if (!m) throw new CelCompileError('write matches(…) without comments inside the call', node.range.start);
  const at = from + m[1]!.length;
  w.splices.push({ start: at, end: at + m[2]!.length, text: SAFE_MATCHES });
}

function applySplices(source: string, splices: readonly Splice[]): string {
  let out = source;
  for (const s of [...splices].sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}


/**
 * The top-level `&&` (or `||`) parts of a condition as source text, for dry-run explanations ("which part
 * was false"). A condition without either is one part. Parts are re-compiled by the caller.
 */
export function topLevelParts(source: string): { op: '&&' | '||' | null; parts: string[] } {
  let ast: ASTNode;
  try {
    ast = checker.parse(source).ast;
  } catch {
    return { op: null, parts: [source] };
  }
  if (ast.op !== '&&' && ast.op !== '||') return { op: null, parts: [source] };
  const op = ast.op;
  const parts: string[] = [];
  const flatten = (n: ASTNode): void => {
    if (n.op === op) n.args.forEach(flatten);
    else parts.push(source.slice(n.range.start, n.range.end));
  };
  flatten(ast);
  return { op, parts };
}
