// The CEL sandbox worker (see sandbox.ts). Plain JavaScript on purpose: a worker thread does not inherit
// the tsx loader on Node 20, and this file only needs the CEL library. Everything that defines the
// environment (variables, limits, the safe matches function's name, the regexp flag) comes from cel.ts
// through workerData, so there is one source of truth. It runs only programs that cel.ts compiled and
// checked, each with the patterns validated for it; it answers each batch on its port, then raises the
// shared flag the main thread waits on.
import { writeFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { Environment } from '@marcbachmann/cel-js';

const { port, signal, spec } = workerData;
// Named as util/thread-name.ts names Fido's threads (best effort, Linux only).
try {
  writeFileSync('/proc/thread-self/comm', 'fido-cel');
} catch {
  // not Linux: the thread keeps its name
}
const MAX_CACHED = 500;

const NONE = new Set();
let allowed = NONE;
const regexps = new Map();

function lookup(pattern) {
  if (!allowed.has(pattern)) return undefined;
  let re = regexps.get(pattern);
  if (!re) {
    if (regexps.size >= MAX_CACHED) regexps.clear();
    re = new RegExp(pattern, spec.regexpFlags);
    regexps.set(pattern, re);
  }
  return re;
}

// Same semantics as safeMatch() in cel.ts: validated patterns only, bounded input.
function safeMatches(input, pattern) {
  const re = lookup(pattern);
  if (!re) throw new Error(`${spec.safeMatches}: pattern was not checked when the rules loaded`);
  const s = input.length > spec.maxMatchInput ? input.slice(0, spec.maxMatchInput) : input;
  re.lastIndex = 0;
  return re.test(s);
}

const env = new Environment({ limits: spec.limits });
for (const [name, type] of Object.entries(spec.variables)) env.registerVariable(name, type);
env.registerFunction(`string.${spec.safeMatches}(string): bool`, safeMatches);
env.registerFunction(`${spec.safeMatches}(string, string): bool`, safeMatches);

const programs = new Map();
let context = {};

function parsed(program) {
  let p = programs.get(program);
  if (!p) {
    if (programs.size >= MAX_CACHED) programs.clear();
    p = env.parse(program);
    programs.set(program, p);
  }
  return p;
}

// A program that does not parse fails each time it is run, with the parser's message, like any other error.
function runner(program) {
  try {
    return parsed(program);
  } catch (e) {
    return () => {
      throw e;
    };
  }
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return 'an int';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

function evaluate(run, patterns) {
  allowed = patterns;
  try {
    const value = run(context);
    if (typeof value === 'boolean') return { ok: true, value };
    return { ok: false, error: `the condition gave ${describe(value)}, not true or false` };
  } catch (e) {
    return { ok: false, error: e?.summary ?? String(e?.message ?? e).split('\n')[0] };
  } finally {
    allowed = NONE;
  }
}

// A batch (sandbox.ts SandboxRequest): every program against every context, in order; for a context, the
// programs after a `final` one that was true are skipped. One answer for the whole batch.
function batch(msg) {
  const programs = msg.programs.map((p) => ({ run: runner(p.program), patterns: new Set(p.patterns), final: p.final }));
  const out = [];
  for (const c of msg.contexts) {
    context = c;
    const results = [];
    for (const p of programs) {
      const r = evaluate(p.run, p.patterns);
      results.push(r);
      if (p.final && r.ok && r.value) break;
    }
    out.push(results);
  }
  context = {};
  return out;
}

port.on('message', (msg) => {
  if (msg?.type !== 'batch') return;
  port.postMessage(batch(msg));
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});

// Ready to take requests.
Atomics.store(signal, 1, 1);
Atomics.notify(signal, 1);
