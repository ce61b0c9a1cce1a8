/**
 * Names the calling thread as the operating system shows it (`top -H`, `ps -L`, perf, /proc/PID/task/TID/comm),
 * so that an operator can tell which of Fido's threads is busy, and the benchmark can count each one's CPU
 * time apart from the runtime's own threads (V8's compiler and garbage collector, libuv), which keep the name
 * `node`. Linux only, best effort: elsewhere, or if /proc is not mounted, nothing happens. Linux keeps 15
 * bytes of a name.
 */
import { writeFileSync } from 'node:fs';

export function nameThisThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // not Linux, or no /proc: the thread keeps its name
  }
}
