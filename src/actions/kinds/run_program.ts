/**
 * Run a configured program: the escape hatch for responses Fido has no kind for.
 *
 *   actions:
 *     targets:
 *       - name: quarantine-host
 *         kind: run_program
 *         allowed_paths: [/opt/fido/actions/]        # directories (trailing /) or exact files
 *         path: /opt/fido/actions/quarantine.sh
 *         args: [--site, hq]                          # from the configuration only, never from alert data
 *         env: { EDR_TOKEN: '${env:EDR_TOKEN}' }      # the only variables besides PATH
 *         timeout: 60s
 *         undo_path: /opt/fido/actions/release.sh     # optional: makes the target reversible
 *         undo_args: [--site, hq]
 *
 * The program is started directly (no shell: alert text can only ever be data), in a process group of its
 * own, with `{ event: "execute", action, incident, idempotency_key }` as JSON on standard input (the undo
 * program gets `{ event: "undo", action, undo_of: { action, result }, incident, idempotency_key }`). Its
 * environment is PATH and the configured `env`, nothing of Fido's (no secrets inherited).
 *
 * Exit 0 is success; 75 (EX_TEMPFAIL) asks for a retry; any other exit status, or death by a signal, is final.
 * At the timeout (or when the executor gives up on the call) the whole process group is killed (TERM, then
 * KILL a second later) and the attempt is retried, its outcome unknown. stdout and stderr are captured, at most
 * 64 KiB each, and stored with the action's result (exit 0) or quoted in its error.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsc } from 'node:fs';
import { isAbsolute, normalize } from 'node:path';
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { ActionError, defineAction, type ActionContext, type ActionOutcome, type ActionTarget, type UndoContext } from '../action.js';
import { secretValue } from '../target-config.js';

const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

export const RunProgramConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('run_program'),
    path: Type.String({ minLength: 1, description: 'Absolute path of the program; must be inside allowed_paths' }),
    args: Type.Optional(Type.Array(Type.String(), { description: 'Arguments, from the configuration only' })),
    allowed_paths: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Absolute paths the programs may be: a directory (ending in /) allows what is under it, a file itself',
    }),
    env: Type.Optional(Type.Record(Type.String({ pattern: ENV_NAME }), Type.String(), {
        additionalProperties: false,
        description: 'Environment besides PATH; values may be secret references',
      })),
    timeout: Type.Optional(Duration),
    undo_path: Type.Optional(Type.String({ minLength: 1, description: 'Program that takes the action back (makes the target reversible)' })),
    undo_args: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
export type RunProgramConfig = Static<typeof RunProgramConfigSchema>;

const DEFAULT_TIMEOUT_MS = 30_000;
export const MAX_OUTPUT = 64 * 1024;
const KILL_GRACE_MS = 1000;
export const EX_TEMPFAIL = 75;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Why `path` is not an allowed program path, or null. */
function pathProblem(path: string, allowed: readonly string[]): string | null {
  if (!isAbsolute(path)) return `must be an absolute path, got "${path}"`;
  if (normalize(path) !== path || path.endsWith('/')) return `must be a plain absolute path to a file (no "..", "." or "//"), got "${path}"`;
  const ok = allowed.some((a) => (a.endsWith('/') ? path.startsWith(a) : path === a));
  return ok ? null : `${path} is not in allowed_paths`;
}

function check(cfg: RunProgramConfig): ComponentProblem[] {
  const out: ComponentProblem[] = [];
  cfg.allowed_paths.forEach((a, i) => {
    if (!isAbsolute(a) || normalize(a) !== a) out.push({ key: `allowed_paths.${i}`, message: `must be a plain absolute path, got "${a}"` });
  });
  if (out.length) return out;
  const p = pathProblem(cfg.path, cfg.allowed_paths);
  if (p) out.push({ key: 'path', message: p });
  if (cfg.undo_path !== undefined) {
    const u = pathProblem(cfg.undo_path, cfg.allowed_paths);
    if (u) out.push({ key: 'undo_path', message: u });
  }
  if (cfg.undo_args !== undefined && cfg.undo_path === undefined) out.push({ key: 'undo_args', message: 'needs undo_path' });
  return out;
}

// ───────────────────────────── one run ─────────────────────────────

interface Captured {
  text: string;
  truncated: boolean;
}

export interface RunResult {
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  duration_ms: number;
}

/** Collects a stream up to MAX_OUTPUT bytes and keeps draining it (a blocked writer would hang the program). */
function capture(stream: NodeJS.ReadableStream): () => Captured {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  stream.on('data', (c: Buffer) => {
    if (size >= MAX_OUTPUT) {
      truncated = true;
      return;
    }
    const take = c.subarray(0, MAX_OUTPUT - size);
    if (take.length < c.length) truncated = true;
    chunks.push(take);
    size += take.length;
  });
  return () => ({ text: Buffer.concat(chunks).toString('utf8'), truncated });
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Runs `path args` with `input` on stdin; resolves (never rejects on the program's own failure) when it ended. */
export function runOnce(path: string, args: readonly string[], env: Record<string, string>, input: string, timeoutMs: number, signal: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(path, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, shell: false, cwd: '/' });
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.pid === undefined) return;
      killGroup(child.pid, 'SIGTERM');
      graceTimer ??= setTimeout(() => killGroup(child.pid!, 'SIGKILL'), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => {
      timedOut = true;
      stop();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const out = capture(child.stdout);
    const err = capture(child.stderr);
    // A program that does not read its input (or exits first) closes the pipe: not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.once('error', (e) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      reject(e);
    });
    // 'close': the program exited and every holder of its stdout/stderr (its children) closed them.
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      // Whatever the leader left behind in its group goes with it once a timeout fired.
      if (timedOut && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      if (graceTimer) clearTimeout(graceTimer);
      const o = out();
      const e = err();
      resolve({
        exit_code: code,
        signal: sig,
        timed_out: timedOut,
        stdout: o.text,
        stderr: e.text,
        stdout_truncated: o.truncated,
        stderr_truncated: e.truncated,
        duration_ms: Date.now() - started,
      });
    });
  });
}

function tail(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `…${t.slice(-300)}` : t;
}

/** exit 0 → the result; 75 → retryable; timeout → retryable, outcome unknown; anything else → final. */
export function classify(what: string, r: RunResult): ActionOutcome {
  const said = tail(r.stderr) || tail(r.stdout);
  const suffix = said ? `: ${said}` : '';
  if (r.timed_out) throw new ActionError(`${what} did not finish in time and was killed${suffix}`, true, undefined, true);
  if (r.exit_code === 0) return { detail: { ...r } };
  if (r.exit_code === EX_TEMPFAIL) throw new ActionError(`${what} exited 75 (temporary failure)${suffix}`, true);
  if (r.signal) throw new ActionError(`${what} was killed by ${r.signal}${suffix}`, false);
  throw new ActionError(`${what} exited ${r.exit_code}${suffix}`, false);
}

async function create(cfg: RunProgramConfig): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  for (const [k, p] of [['path', cfg.path], ['undo_path', cfg.undo_path]] as const) {
    if (p === undefined) continue;
    try {
      accessSync(p, fsc.X_OK);
    } catch (e) {
      throw new Error(`${key}.${k}: ${p} is not an executable file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  // PATH only, so that a script's own commands resolve; nothing else of Fido's environment.
  const env: Record<string, string> = { PATH: process.env.PATH ?? DEFAULT_PATH };
  for (const [k, v] of Object.entries(cfg.env ?? {})) env[k] = secretValue(v, `${key}.env.${k}`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;

  async function run(path: string, args: readonly string[], input: Record<string, unknown>, signal: AbortSignal): Promise<ActionOutcome> {
    let r: RunResult;
    try {
      r = await runOnce(path, args, env, JSON.stringify(input), timeoutMs, signal);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // ENOENT, EACCES: the file went away or lost its mode since start; someone has to fix it.
      throw new ActionError(`cannot run ${path}: ${err.code ?? err.message}`, false);
    }
    return classify(path, r);
  }

  const target: ActionTarget = {
    name: cfg.name,
    kind: 'run_program',
    execute: (ctx: ActionContext) =>
      run(cfg.path, cfg.args ?? [], { event: 'execute', action: ctx.action, incident: ctx.incident, idempotency_key: ctx.idempotencyKey }, ctx.signal),
  };
  const undoPath = cfg.undo_path;
  if (undoPath !== undefined) {
    // Only targets with an undo program can undo; the executor sends the others' undos to dead-letter.
    target.undo = (ctx: UndoContext) =>
      run(
        undoPath,
        cfg.undo_args ?? [],
        { event: 'undo', action: ctx.action, undo_of: { action: ctx.original, result: ctx.originalResult }, incident: ctx.incident, idempotency_key: ctx.idempotencyKey },
        ctx.signal,
      );
  }
  return target;
}

const runProgram = defineAction({
  kind: 'run_program',
  description: 'Runs a configured program (no shell) with the incident as JSON on stdin; optional undo program',
  schema: RunProgramConfigSchema,
  check,
  create,
  reversible: true,
});
export default runProgram;
