/**
 * Hard time limit for rule evaluation. Conditions run in a worker thread; the caller blocks on a shared
 * flag (Atomics.wait) for at most the time limit, so evaluation stays synchronous — the policy evaluator is
 * a pure function and the decide stage, dry-run and backtest all call it the same way. A worker that does
 * not answer in time is terminated (a busy thread cannot be interrupted any other way) and replaced on the
 * next call; the condition counts as an error. The worker also has a small heap limit, so an expression
 * that builds huge lists fails instead of exhausting the process.
 *
 * The checks in cel.ts make an overrun unlikely; this is the backstop for whatever they did not foresee.
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { ENV_SPEC } from './cel.js';

export type SandboxResult = { ok: true; value: boolean } | { ok: false; error: string };

export type SandboxRequest =
  | { type: 'context'; context: Record<string, unknown> }
  | { type: 'eval'; program: string; patterns: readonly string[] };

export interface SandboxOptions {
  /** Per condition. */
  timeLimitMs: number;
  /** For the worker to start (loading the CEL library); not part of any condition's time. */
  startupMs: number;
  heapMb: number;
}

export const DEFAULT_SANDBOX_OPTIONS: SandboxOptions = { timeLimitMs: 250, startupMs: 15_000, heapMb: 64 };

interface Live {
  worker: Worker;
  port: MessagePort;
  /** [0]: answer ready, [1]: worker started. */
  signal: Int32Array;
  /** The context object the worker currently holds (identity, to avoid re-sending it). */
  context: object | null;
}

export class CelSandbox {
  private live: Live | null = null;
  private readonly opts: SandboxOptions;

  constructor(opts: Partial<SandboxOptions> = {}) {
    this.opts = { ...DEFAULT_SANDBOX_OPTIONS, ...opts };
  }

  /** Evaluates each program against the context, in order; one overrun does not affect the others. */
  evaluate(programs: ReadonlyArray<{ program: string; patterns: readonly string[] }>, context: Record<string, unknown>): SandboxResult[] {
    return programs.map((p) => this.one(p.program, p.patterns, context));
  }

  /** Stops the worker (tests; a long-running process simply keeps it, unreferenced). */
  async close(): Promise<void> {
    const l = this.live;
    this.live = null;
    if (l) await l.worker.terminate();
  }

  private one(program: string, patterns: readonly string[], context: Record<string, unknown>): SandboxResult {
    const l = this.ensure();
    if (l.context !== context) {
      l.port.postMessage({ type: 'context', context } satisfies SandboxRequest);
      l.context = context;
    }
    Atomics.store(l.signal, 0, 0);
    l.port.postMessage({ type: 'eval', program, patterns } satisfies SandboxRequest);
    const waited = Atomics.wait(l.signal, 0, 0, this.opts.timeLimitMs);
    const answer = waited === 'timed-out' ? undefined : this.receive(l);
    if (answer) return answer;
    this.kill(l);
    return { ok: false, error: `evaluation exceeded the time limit of ${this.opts.timeLimitMs} ms` };
  }

  /** The worker posts before it raises the flag; allow a moment for the message to become visible. */
  private receive(l: Live): SandboxResult | undefined {
    for (let i = 0; i < 50; i++) {
      const m = receiveMessageOnPort(l.port);
      if (m) return m.message as SandboxResult;
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
    this.live = { worker, port: port1, signal, context: null };
    return this.live;
  }
}

let shared: CelSandbox | null = null;

/** The process-wide sandbox the policy evaluator uses unless given another. */
export function defaultSandbox(): CelSandbox {
  shared ??= new CelSandbox();
  return shared;
}
