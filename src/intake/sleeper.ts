/**
 * The wait of a receiver's loop that stop() cuts short: `sleep` resolves after `ms`, or at once when `stop()`
 * is called (then and afterwards), so a receiver stops promptly however long its backoff. Used by every receiver
 * that waits (polled.ts, receivers/file.ts, receivers/syslog.ts, bus/loop.ts).
 */
export class Sleeper {
  /** The sleeps in progress (a syslog receiver's connections each wait on their own). */
  private readonly wakers = new Set<() => void>();
  private stopped = false;

  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.wakers.delete(finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      this.wakers.add(finish);
    });
  }

  /** Ends every sleep in progress and makes later ones return at once. */
  stop(): void {
    this.stopped = true;
    for (const wake of [...this.wakers]) wake();
  }

  /** Sleeps wait again (a receiver started after a stop). */
  reset(): void {
    this.stopped = false;
  }
}
