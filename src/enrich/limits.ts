/**
 * The limits of the enrichment layer: a FIFO semaphore whose waiters give up after a bound, a token bucket
 * with reservations, and a consecutive-failure circuit breaker, all on an injectable clock.
 *
 * Hand-written on purpose (issue 14 looked at cockatiel, the maintained choice): cockatiel's bulkhead bounds
 * how many may queue but not how long one waits (Fido's `queue_wait`), it has no rate limiter (Fido's
 * `rate_per_second`/`max_wait` with reservations, so that waiters are served in order without polling),
 * and its breaker and timers read the system clock, where the tests step a manual clock through cool-downs
 * and refills. The three classes are small and tested one by one (test/enrich/layer.test.ts).
 */


/** Time source of the layer; tests inject a manual clock to step through TTLs, cool-downs and token refills. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

// ---------------------------------------------------------------------------------------------------------
// Limits: concurrency, rate, breaker

/** FIFO counting semaphore whose waiters give up after a bound. */
export class Slots {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.active;
  }
  get waiting(): number {
    return this.queue.length;
  }

  acquire(clock: Clock, waitMs: number): Promise<boolean> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(true);
    }
    if (waitMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = new AbortController();
      // release() hands its slot straight to the next waiter, so `active` stays the same.
      const grant = () => {
        timer.abort();
        resolve(true);
      };
      this.queue.push(grant);
      void clock.sleep(waitMs, timer.signal).then(() => {
        if (timer.signal.aborted) return;
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(false);
      });
    });
  }

  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }
}

/**
 * Token bucket with reservations: a caller that must wait takes its token in advance (the balance goes
 * negative) and sleeps exactly until it is due, so waiters are served in order and nobody polls.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
  }

  /** 0: go now; n > 0: go in n ms (the token is yours); null: not within maxWaitMs (nothing taken). */
  reserve(now: number, maxWaitMs: number): number | null {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    const wait = Math.ceil(((1 - this.tokens) / this.rate) * 1000);
    if (wait > maxWaitMs) return null;
    this.tokens -= 1;
    return wait;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Opens after N consecutive failures; after the cool-down lets one trial call through (half-open). */
export class Breaker {
  failures = 0;
  openedAt: number | null = null;
  private trial = false;
  constructor(
    readonly threshold: number,
    readonly cooldownMs: number,
  ) {}

  state(now: number): BreakerState {
    if (this.openedAt === null) return 'closed';
    return now - this.openedAt >= this.cooldownMs ? 'half_open' : 'open';
  }

  admit(now: number): boolean {
    const s = this.state(now);
    if (s === 'closed') return true;
    if (s === 'open' || this.trial) return false;
    this.trial = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = null;
    this.trial = false;
  }

  failure(now: number): void {
    this.failures++;
    // A failed trial re-opens at once; otherwise open when the run of failures reaches the threshold.
    if (this.trial || this.failures >= this.threshold) this.openedAt = now;
    this.trial = false;
  }

  /** The call ended without telling us anything about the provider (e.g. shutdown). */
  neutral(): void {
    this.trial = false;
  }
}
