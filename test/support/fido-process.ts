/**
 * Runs the real `fido start` as a child process (the way a user runs it) and finds its URL on stdout.
 * Used by end-to-end and crash tests, which must be able to SIGKILL it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

export const FIDO_BIN = fileURLToPath(new URL('../../bin/fido.js', import.meta.url));

export interface FidoProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Every server a test started and has not seen exit: ended when the test file's tests are done, whatever happened. */
const running = new Set<ChildProcess>();
// Only under the test runner: the bench starts servers with this helper too, outside any test.
if (process.env.NODE_TEST_CONTEXT) {
  after(() => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Starts `fido start` and resolves once it serves. The limit only catches a hang (a start includes the
 * pipeline's warm-up, which on a machine running two suites at once has taken over a minute); a server that
 * does not start in time is killed, so that it cannot keep the test file's process alive.
 */
export async function startFidoProcess(env: Record<string, string>, timeoutMs = 180_000): Promise<FidoProcess> {
  // FIDO_NODE_ARGS: extra node flags for the server (e.g. --cpu-prof to profile a benchmark run).
  const nodeArgs = (process.env.FIDO_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, FIDO_BIN, 'start'], {
    env: { ...process.env, FIDO_LOG_LEVEL: 'warn', FIDO_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fido did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      // Roles without an API (worker, actions) print "(no API in this role)": their url is ''.
      const m = /Fido is running: (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.startsWith('http') ? m[1]! : '');
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`fido exited with ${code} before starting:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export { waitFor } from './wait.js';
