/**
 * Hard time limit for rule evaluation. Conditions run in a worker thread; the caller blocks on a shared
 * flag (Atomics.wait) for at most the time limit, so evaluation stays synchronous — the policy evaluator is
 * a pure function and the decide stage and `fido policy try` call it the same way. A worker that does
 * not answer in time is terminated (a busy thread cannot be interrupted any other way) and replaced on the
 * next call. The worker also has a small heap limit, so an expression that builds huge lists fails instead
 * of exhausting the process.
 *
 * Batches: one round trip carries many contexts (incidents) and every program (rule) to run against each,
 * because the round trip — copying, waking the worker, waiting — costs far more than evaluating a typical
 * condition. The time limit applies to the whole round trip. A batch that overruns is redone context by
 * context, and a context that overruns alone is redone program by program, each with the full limit: so
 * every result is what the condition would give running alone under the limit, a hostile condition can only
 * slow down its own batch, and only the conditions that overrun by themselves count as errors.
 *
 * The checks in cel.ts make an overrun unlikely; this is the backstop for whatever they did not foresee.
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { ENV_SPEC } from './cel.js';
import { chunksOf } from '../util/chunks.js';

/** `timeout` marks a condition stopped by the time limit (as opposed to one that failed by itself). */
export type SandboxResult = { ok: true; value: boolean } | { ok: false; error: string; timeout?: true };

export interface SandboxProgram {
  program: string;
  patterns: readonly string[];
}

export interface BatchProgram extends SandboxProgram {
  /** When this program is true for a context, the programs after it are not run for that context. */
  final?: boolean;
}

export type SandboxRequest = {
  type: 'batch';
  programs: ReadonlyArray<{ program: string; patterns: readonly string[]; final: boolean }>;
  contexts: ReadonlyArray<Record<string, unknown>>;
};

/** Per context, the results of its programs in order, up to and including a true `final` one. */
export type SandboxReply = SandboxResult[][];

export interface SandboxOptions {
  /** Per round trip: a batch, or one condition when a batch that overran is redone one by one. */
  timeLimitMs: number;
  /** For the worker to start (loading the CEL library); not part of any condition's time. */
  startupMs: number;
  heapMb: number;
  /** Contexts per round trip (bounds the copy the worker holds at once). */
  maxBatch: number;
}

export const DEFAULT_SANDBOX_OPTIONS: SandboxOptions = { timeLimitMs: 250, startupMs: 15_000, heapMb: 64, maxBatch: 100 };

interface Live {
  worker: Worker;
  port: MessagePort;
  /** [0]: answer ready, [1]: worker started. */
  signal: Int32Array;
}

export class CelSandbox {
  private live: Live | null = null;
  private readonly opts: SandboxOptions;

  constructor(opts: Partial<SandboxOptions> = {}) {
    this.opts = { ...DEFAULT_SANDBOX_OPTIONS, ...opts };
  }

  /** Evaluates each program against the context, in order; one overrun does not affect the others. */
  evaluate(programs: readonly SandboxProgram[], context: Record<string, unknown>): SandboxResult[] {
    const plain = programs.map((p): BatchProgram => ({ program: p.program, patterns: p.patterns }));
    return this.evaluateBatch(plain, [context])[0] ?? [];
  }

  /**
   * Evaluates the programs against every context: `result[c]` holds the results for `contexts[c]`, in
   * program order, stopping after the first `final` program that is true. An overrun affects no context
   * but the one whose condition overran, and no condition but the one that overran.
   */
  evaluateBatch(programs: readonly BatchProgram[], contexts: ReadonlyArray<Record<string, unknown>>): SandboxReply {
    if (programs.length === 0) return contexts.map(() => []);
    const out: SandboxReply = [];
    for (const chunk of chunksOf(contexts, this.opts.maxBatch)) {
      out.push(...(this.roundTrip(programs, chunk) ?? this.oneByOne(programs, chunk)));
    }
    return out;
  }

  /** Starts the worker now rather than on the first evaluation, which would otherwise wait for it. */
  start(): void {
    this.ensure();
  }

  /** Whether the worker is running (started, and not closed or lost since). */
  get running(): boolean {
    return this.live !== null;
  }

  /** Stops the worker (tests; a long-running process simply keeps it, unreferenced). */
  async close(): Promise<void> {
    const l = this.live;
    this.live = null;
    if (l) await l.worker.terminate();
  }

  /** After a batch overran: each context alone, each with the full limit. */
  private oneByOne(programs: readonly BatchProgram[], contexts: ReadonlyArray<Record<string, unknown>>): SandboxReply {
    return contexts.map((context) => {
      const alone = contexts.length > 1 ? this.roundTrip(programs, [context]) : undefined;
      return alone?.[0] ?? this.programByProgram(programs, context);
    });
  }

  /** A context whose programs overran together: each program alone, each with the full limit. */
  private programByProgram(programs: readonly BatchProgram[], context: Record<string, unknown>): SandboxResult[] {
    const results: SandboxResult[] = [];
    for (const p of programs) {
      // A lone program has just overrun by itself: it is not run again.
      const r = programs.length > 1 ? this.roundTrip([p], [context])?.[0]?.[0] : undefined;
      // No answer also covers a worker that died (e.g. over its heap limit): both are "took too much".
      results.push(r ?? { ok: false, error: `evaluation exceeded the time limit of ${this.opts.timeLimitMs} ms`, timeout: true });
      if (p.final && r?.ok && r.value) break;
    }
    return results;
  }

  /** One request to the worker; undefined when it did not answer within the time limit (it is stopped). */
  private roundTrip(programs: readonly BatchProgram[], contexts: ReadonlyArray<Record<string, unknown>>): SandboxReply | undefined {
    const l = this.ensure();
    Atomics.store(l.signal, 0, 0);
    const request: SandboxRequest = {
      type: 'batch',
      programs: programs.map((p) => ({ program: p.program, patterns: p.patterns, final: p.final === true })),
      contexts,
    };
    l.port.postMessage(request);
    const waited = Atomics.wait(l.signal, 0, 0, this.opts.timeLimitMs);
    const answer = waited === 'timed-out' ? undefined : this.receive(l);
    if (answer && answer.length === contexts.length) return answer;
    this.kill(l);
    return undefined;
  }

  /** The worker posts before it raises the flag; allow a moment for the message to become visible. */
  private receive(l: Live): SandboxReply | undefined {
    for (let i = 0; i < 50; i++) {
      const m = receiveMessageOnPort(l.port);
      if (m) return m.message as SandboxReply;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    return undefined;
  }

  private kill(l: Live): void {
    if (this.live === l) this.live = null;
    l.port.close();
    void l.worker.terminate();
  }

  private ensure(): Live {
    if (this.live) return this.live;
    const signal = new Int32Array(new SharedArrayBuffer(8));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./cel-worker.mjs', import.meta.url), {
      workerData: { port: port2, signal, spec: ENV_SPEC },
      transferList: [port2],
      // The worker is plain JavaScript: it needs no loader, and starts faster without one.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    port1.unref();
    // Errors surface as a missing answer (timeout); the listener keeps them from crashing the process.
    worker.on('error', () => undefined);
    // A worker that died between calls (e.g. over its heap limit) is replaced on the next call.
    worker.on('exit', () => {
      if (this.live?.worker === worker) this.live = null;
    });
    if (Atomics.wait(signal, 1, 0, this.opts.startupMs) === 'timed-out') {
      void worker.terminate();
      throw new Error(`the CEL sandbox worker did not start within ${this.opts.startupMs} ms`);
    }
    this.live = { worker, port: port1, signal };
    return this.live;
  }
}

let shared: CelSandbox | null = null;

/** The process-wide sandbox the policy evaluator uses unless given another. */
export function defaultSandbox(): CelSandbox {
  shared ??= new CelSandbox();
  return shared;
}
