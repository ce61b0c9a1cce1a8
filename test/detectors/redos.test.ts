/**
 * Every regular expression in src/ is checked by recheck (a maintained ReDoS analyser: automata theory where
 * it can decide, fuzzing otherwise), so that a new detector's pattern is checked without anyone listing it.
 *
 * The patterns are collected from the source with the TypeScript parser: regular expression literals,
 * `new RegExp(…)` / `RegExp(…)` whose pattern and flags fold to constants (string literals, templates and
 * String.raw over `const`s of the same file, `+`, `[…].join(…)`), and string patterns given to match,
 * matchAll and search. A constructor call whose pattern cannot be folded must be named in DYNAMIC with the
 * reason its input is safe; a pattern recheck flags may only stay when it is named in BOUNDED with the reason
 * its input is provably short. Entries that no longer match anything fail too, so the lists stay honest.
 *
 * "safe" verdicts are cached under node_modules/.cache (keyed by recheck version, parameters, flags and
 * source): a full check takes about a minute on two cores. FIDO_REDOS_NO_CACHE=1 checks everything again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { check, type AttackPattern, type Diagnostics, type Parameters } from 'recheck';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/**
 * Patterns recheck flags whose input is provably bounded, by file (relative to the repository) and source.
 * Quadratic time on a bounded input is a bounded cost.
 */
const BOUNDED: ReadonlyArray<{ file: string; source: string; reason: string }> = [
  {
    file: 'src/score/engines/fido-classic.ts',
    source: '0+$',
    reason: 'fmt() applies it to n.toFixed(2) of a finite number: at most ~25 characters',
  },
];

/** `new RegExp(x)` calls whose pattern is not a constant, by file and the text of the pattern argument. */
const DYNAMIC: ReadonlyArray<{ file: string; argument: string; reason: string }> = [
  {
    file: 'src/policy/cel.ts',
    argument: 'pattern',
    reason: 'a policy rule\'s own pattern (operator configuration, not record text): checkPattern refuses back-references, look-arounds and what safe-regex2 flags, and it runs on V8\'s linear-time engine when available',
  },
  {
    file: 'src/policy/cel-worker.mjs',
    argument: 'pattern',
    reason: 'the same policy patterns, compiled in the sandbox worker only when cel.ts checked them at load (allowed set), with the linear-time flag when available, on input cut to maxMatchInput',
  },
  {
    file: 'src/policy/cel.ts',
    argument: '`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`',
    reason: 'name is one of VARIABLE_NAMES (fixed identifiers); the pattern is a whole-word test run on the rule text, not on record text',
  },
  {
    file: 'src/backtest/window.ts',
    argument: 'DURATION_PATTERN',
    reason: "config/duration.ts's constant (the configuration schema's duration pattern), not built from input; run on a --since/--until value",
  },
];

// Unknown flags (V8's experimental "l") are left to V8; recheck judges the pattern under the flags it knows.
const KNOWN_FLAGS = new Set('dgimsuy');
// recallTimeout: recheck validates a fuzzed finding again (in its own VM). Its fuzzer has still flagged two
// searches that V8 runs in linear time (PAN-OS start, Carbon Black's malware name): confirmedOnV8 decides.
const PARAMS: Parameters = { timeout: 60_000, recallTimeout: 2_000 };
const CONCURRENCY = 2;

interface Found {
  file: string;
  line: number;
  source: string;
  flags: string;
}

interface Dynamic {
  file: string;
  line: number;
  argument: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return sourceFiles(p);
      return /\.(?:[mc]?ts|[mc]?js)$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
    });
}

/** A string, or a list of strings for `[…]` that a `.join()` may fold; undefined when not a constant. */
type Folded = string | string[] | undefined;

/** Folds an expression to a constant using only this file's `const` declarations. */
function fold(e: ts.Expression, sf: ts.SourceFile, depth = 0): Folded {
  if (depth > 20) return undefined;
  const again = (x: ts.Expression) => fold(x, sf, depth + 1);
  const str = (x: ts.Expression) => {
    const v = again(x);
    return typeof v === 'string' ? v : undefined;
  };
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
  if (ts.isNumericLiteral(e)) return String(Number(e.text));
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isNonNullExpression(e)) return again(e.expression);
  if (ts.isTemplateExpression(e)) {
    let out = e.head.text;
    for (const span of e.templateSpans) {
      const v = str(span.expression);
      if (v === undefined) return undefined;
      out += v + span.literal.text;
    }
    return out;
  }
  if (ts.isTaggedTemplateExpression(e) && e.tag.getText(sf) === 'String.raw') {
    const t = e.template;
    if (ts.isNoSubstitutionTemplateLiteral(t)) return rawOf(t, sf);
    let out = rawOf(t.head, sf);
    for (const span of t.templateSpans) {
      const v = str(span.expression);
      if (v === undefined) return undefined;
      out += v + rawOf(span.literal, sf);
    }
    return out;
  }
  if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    const a = str(e.left);
    const b = str(e.right);
    return a === undefined || b === undefined ? undefined : a + b;
  }
  if (ts.isArrayLiteralExpression(e)) {
    const items = e.elements.map((x) => (ts.isSpreadElement(x) ? undefined : str(x)));
    return items.every((x): x is string => x !== undefined) ? items : undefined;
  }
  if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'join') {
    const list = again(e.expression.expression);
    const sep = e.arguments[0] === undefined ? ',' : str(e.arguments[0]);
    return Array.isArray(list) && sep !== undefined ? list.join(sep) : undefined;
  }
  if (ts.isIdentifier(e)) {
    const init = constInitializer(e.text, sf);
    return init ? again(init) : undefined;
  }
  return undefined;
}

/** The raw text of a template part (what String.raw sees), from the source between its delimiters. */
function rawOf(part: ts.TemplateLiteralLikeNode, sf: ts.SourceFile): string {
  if (part.rawText !== undefined) return part.rawText;
  const text = part.getText(sf);
  const open = 1; // ` or }
  const close = text.endsWith('${') ? 2 : 1;
  return text.slice(open, text.length - close);
}

/** The initializer of the one `const name = …` of the file, if there is exactly one. */
function constInitializer(name: string, sf: ts.SourceFile): ts.Expression | undefined {
  const found: ts.Expression[] = [];
  const visit = (n: ts.Node) => {
    if (
      ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer &&
      ts.isVariableDeclarationList(n.parent) && (n.parent.flags & ts.NodeFlags.Const) !== 0
    ) found.push(n.initializer);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found.length === 1 ? found[0] : undefined;
}

/** Every pattern of every file under src/, and the constructor calls that could not be folded. */
function collect(): { found: Found[]; dynamic: Dynamic[]; files: number } {
  const found: Found[] = [];
  const dynamic: Dynamic[] = [];
  const files = sourceFiles(SRC);
  for (const path of files) {
    const file = relative(ROOT, path).split('\\').join('/');
    const kind = /\.[mc]?js$/.test(path) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
    const sf = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true, kind);
    const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    const visit = (n: ts.Node) => {
      if (ts.isRegularExpressionLiteral(n)) {
        const text = n.text;
        const end = text.lastIndexOf('/');
        found.push({ file, line: lineOf(n), source: text.slice(1, end), flags: text.slice(end + 1) });
      } else if ((ts.isNewExpression(n) || ts.isCallExpression(n)) && isRegExpCallee(n.expression, sf)) {
        const [pattern, flags] = n.arguments ?? [];
        if (pattern && !ts.isRegularExpressionLiteral(pattern)) {
          const source = fold(pattern, sf);
          const flagText = flags === undefined ? '' : fold(flags, sf);
          if (typeof source === 'string' && typeof flagText === 'string') found.push({ file, line: lineOf(n), source, flags: flagText });
          else dynamic.push({ file, line: lineOf(n), argument: pattern.getText(sf) });
        }
      } else if (
        ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) &&
        ['match', 'matchAll', 'search'].includes(n.expression.name.text) && n.arguments.length === 1 &&
        (ts.isStringLiteral(n.arguments[0]!) || ts.isNoSubstitutionTemplateLiteral(n.arguments[0]!))
      ) {
        // String.prototype.match('…') builds a RegExp from the string.
        found.push({ file, line: lineOf(n), source: (n.arguments[0] as ts.StringLiteral).text, flags: n.expression.name.text === 'matchAll' ? 'g' : '' });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { found, dynamic, files: files.length };
}

function isRegExpCallee(e: ts.Expression, sf: ts.SourceFile): boolean {
  const t = e.getText(sf);
  return t === 'RegExp' || t === 'globalThis.RegExp';
}

// ---- recheck, with a cache of "safe" verdicts ------------------------------------------------------------

const require = createRequire(import.meta.url);
const RECHECK_VERSION = (require('recheck/package.json') as { version: string }).version;
const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'fido-redos');
const CACHE_FILE = join(CACHE_DIR, `recheck-${RECHECK_VERSION}.json`);
const PARAMS_KEY = JSON.stringify(PARAMS);

type Verdict = { status: 'safe'; checker: string; complexity: string } | { status: 'vulnerable' | 'unknown'; detail: string };

function readCache(): Record<string, Verdict> {
  if (process.env.FIDO_REDOS_NO_CACHE === '1') return {};
  try {
    const data = JSON.parse(readFileSync(CACHE_FILE, 'utf8')) as { params?: string; verdicts?: Record<string, Verdict> };
    return data.params === PARAMS_KEY && data.verdicts ? data.verdicts : {};
  } catch {
    return {};
  }
}

function writeCache(verdicts: Record<string, Verdict>): void {
  const safe = Object.fromEntries(Object.entries(verdicts).filter(([, v]) => v.status === 'safe'));
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(CACHE_FILE, JSON.stringify({ params: PARAMS_KEY, verdicts: safe }));
  } catch {
    // a read-only checkout simply checks everything next time
  }
}

function verdictOf(d: Diagnostics, source: string, flags: string): Verdict {
  if (d.status === 'safe') return { status: 'safe', checker: d.checker, complexity: d.complexity.type };
  if (d.status === 'vulnerable') {
    const detail = `${d.complexity.summary}; attack ${d.attack.pattern.slice(0, 120)}`;
    // The automaton checker proves; the fuzzer only finds, in recheck's own VM: V8 has the last word.
    if (d.checker === 'fuzz') {
      const v8 = onV8(source, flags, d.attack);
      if (v8.linear) return { status: 'safe', checker: 'fuzz, linear on V8', complexity: v8.figures };
      return { status: 'vulnerable', detail: `${detail}; on V8 ${v8.figures}` };
    }
    return { status: 'vulnerable', detail };
  }
  return { status: 'unknown', detail: `${d.error.kind}${'message' in d.error ? `: ${d.error.message}` : ''}` };
}

async function checkAll(patterns: ReadonlyArray<{ source: string; flags: string }>): Promise<{ verdicts: Map<string, Verdict>; checked: number }> {
  const cache = readCache();
  const verdicts = new Map<string, Verdict>();
  const todo: Array<{ key: string; source: string; flags: string }> = [];
  for (const p of patterns) {
    const key = keyOf(p);
    if (verdicts.has(key) || todo.some((t) => t.key === key)) continue;
    const cached = cache[key];
    if (cached?.status === 'safe') verdicts.set(key, cached);
    else todo.push({ key, source: p.source, flags: recheckFlags(p.flags) });
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < todo.length) {
        const t = todo[next++]!;
        verdicts.set(t.key, verdictOf(await check(t.source, t.flags, PARAMS), t.source, t.flags));
      }
    }),
  );
  writeCache({ ...cache, ...Object.fromEntries(verdicts) });
  return { verdicts, checked: todo.length };
}

/**
 * Runs a fuzzed attack on V8 at about 64 and 256 KiB (its pumps repeated r and 4r times): linear when the
 * larger takes under 100 ms or grows less than 8 times. Super-linear work there is seconds (quadratic: 4·10⁹
 * and 7·10¹⁰ steps), linear work milliseconds, so the verdict does not hang on the machine's load.
 */
function onV8(source: string, flags: string, attack: Pick<AttackPattern, 'pumps' | 'suffix'>, kib = 64): { linear: boolean; figures: string } {
  const perRep = attack.pumps.reduce((n, p) => n + p.pump.length, 0) || 1;
  const reps = Math.max(1, Math.floor((kib * 1024) / perRep));
  const build = (r: number) => attack.pumps.map((p) => p.prefix + p.pump.repeat(r)).join('') + attack.suffix;
  const re = new RegExp(source, flags.replace(/[gy]/g, ''));
  const time = (text: string) => {
    const t0 = performance.now();
    re.exec(text);
    return performance.now() - t0;
  };
  const [small, large] = [build(reps), build(4 * reps)];
  // The best of five, the two sizes interleaved: a burst of other work on the machine slows one round of both,
  // not every round of one (a slowed small run made a quadratic ratio look linear).
  let [a, b] = [Infinity, Infinity];
  for (let i = 0; i < 5; i++) [a, b] = [Math.min(a, time(small)), Math.min(b, time(large))];
  const ratio = b / Math.max(a, 1);
  return { linear: b < 100 || ratio < 8, figures: `${small.length} chars ${a.toFixed(1)} ms, ${large.length} chars ${b.toFixed(1)} ms (×${ratio.toFixed(1)})` };
}

function keyOf(p: { source: string; flags: string }): string {
  return `${recheckFlags(p.flags)}/${p.source}`;
}

function recheckFlags(flags: string): string {
  return [...flags].filter((f) => KNOWN_FLAGS.has(f)).join('');
}

// ---- the tests ---------------------------------------------------------------------------------------

const collected = collect();

test('the collector finds the patterns of src/ (literals, folded constructors, string patterns)', () => {
  const { found, files } = collected;
  assert.ok(files > 100 && found.length > 400, `${found.length} patterns in ${files} files`);
  const ftd = found.filter((f) => f.file === 'src/detectors/cisco_ftd.ts' && f.source.startsWith('^Deny '));
  assert.equal(ftd.length, 1, 'the String.raw template with ${ADDR} is folded');
  assert.ok(ftd[0]!.source.includes(String.raw`(?:(\S{1,64}?):)?`), ftd[0]!.source);
  assert.ok(found.some((f) => f.file === 'src/detectors/sophos_av.ts' && f.source.includes('InsertedAt|EventID') && f.flags === 'g'), 'KNOWN_KEYS.join() is folded');
  for (const f of found) assert.doesNotThrow(() => new RegExp(f.source, recheckFlags(f.flags)), `${f.file}:${f.line} /${f.source}/${f.flags}`);
});

test('every RegExp built at run time from something that is not a constant is named, with a reason', () => {
  const unknown = collected.dynamic.filter((d) => !DYNAMIC.some((a) => a.file === d.file && a.argument === d.argument));
  assert.deepEqual(unknown.map((d) => `${d.file}:${d.line} new RegExp(${d.argument})`), [], 'fold the pattern to constants, or add it to DYNAMIC with why its input is safe');
  const stale = DYNAMIC.filter((a) => !collected.dynamic.some((d) => d.file === a.file && d.argument === a.argument));
  assert.deepEqual(stale, [], 'DYNAMIC entries that match nothing any more');
});

test('recheck finds no regular expression in src/ that takes super-linear time (BOUNDED excepted)', async () => {
  const { found } = collected;
  const t0 = performance.now();
  const { verdicts, checked } = await checkAll(found);
  const failures: string[] = [];
  const allowed = new Set<(typeof BOUNDED)[number]>();
  for (const f of found) {
    const v = verdicts.get(keyOf(f))!;
    if (v.status === 'safe') continue;
    const bound = BOUNDED.find((b) => b.file === f.file && b.source === f.source);
    if (bound && v.status === 'vulnerable') {
      allowed.add(bound);
      continue;
    }
    failures.push(`${f.file}:${f.line} /${f.source}/${f.flags} — ${v.status}: ${v.detail}`);
  }
  const byChecker: Record<string, number> = { automaton: 0, fuzz: 0, 'fuzz, linear on V8': 0 };
  for (const v of verdicts.values()) if (v.status === 'safe') byChecker[v.checker] = (byChecker[v.checker] ?? 0) + 1;
  console.log(
    `recheck ${RECHECK_VERSION}: ${found.length} patterns (${verdicts.size} distinct), ${checked} checked now in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `safe: ${byChecker.automaton} proved (automaton), ${byChecker.fuzz} by fuzzing, ${byChecker['fuzz, linear on V8']} flagged by fuzzing but linear on V8; allowed as bounded: ${allowed.size}; failing: ${failures.length}`,
  );
  assert.deepEqual(failures, [], 'rewrite these to be linear by construction (or scan by hand); see the attack strings');
  // Only entries whose pattern is gone are stale: whether recheck flags a pattern can depend on its fuzzer's draw.
  const gone = BOUNDED.filter((b) => !found.some((f) => f.file === b.file && f.source === b.source));
  assert.deepEqual(gone, [], 'BOUNDED entries whose pattern no longer exists: remove them');
});

test('a fuzzed finding is judged on V8: a linear search passes, a quadratic one does not', () => {
  // Carbon Black's malware-name pattern with the attack recheck's fuzzer once reported (V8: linear).
  const carbonBlack = String.raw`\b(?:known (?:virus|malware)|malware|virus|ransomware)\s*\(([^()]{1,200})\)`;
  assert.equal(onV8(carbonBlack, 'i', { pumps: [{ prefix: '', pump: 'MALWARE( ', bias: 0 }, { prefix: '', pump: 'MALWARE(', bias: 0 }], suffix: '\t\t\tRE( (' }).linear, true);
  // Spaces before a character that never comes, searched from every position: quadratic on V8 too.
  assert.equal(onV8(String.raw`\s*#`, '', { pumps: [{ prefix: '', pump: ' ', bias: 0 }], suffix: 'x' }, 4).linear, false);
});
