/**
 * The one implementation of a named lease: work that one process at a time may do on a shared store (the
 * ingest of the intake log, the tailing of one file) is done by whoever holds its lease. A holder renews
 * after a third of the lease, so a slow batch or a database hiccup does not lose it; a process that dies
 * loses it when it runs out; a process that stops gives it back at once. Where the lease lives is the
 * backing's: a row of `leases` (leasesTable) or the columns of the record it guards (store/log.ts's cursor,
 * whose writes are fenced on the owner).
 *
 * Leases of queue items and outbox rows (store/queue.ts, actions/executor.ts) are a different thing: one
 * per row, taken by the claim that selects the row, and are not built on this.
 */
import type { Db } from './store.js';

export interface LeaseBacking {
  /** Takes or renews the lease when it is free, expired, or already `owner`'s; true when `owner` holds it. */
  take(owner: string, now: number, until: number): Promise<boolean>;
  /** Gives it up if `owner` holds it. */
  give(owner: string): Promise<void>;
}

export class Lease {
  private until = 0;
  private renewAt = 0;

  constructor(
    private readonly backing: LeaseBacking,
    private readonly owner: string,
    private readonly ms: number,
  ) {}

  /** Whether this process holds the lease, renewing it when a third of it has passed. */
  async hold(now = Date.now()): Promise<boolean> {
    if (now < this.renewAt) return true;
    const ok = await this.backing.take(this.owner, now, now + this.ms);
    this.until = ok ? now + this.ms : 0;
    this.renewAt = ok ? now + this.ms / 3 : 0;
    return ok;
  }

  /** Hands the lease over at once instead of making the next process wait for it to run out. */
  async release(): Promise<void> {
    if (this.until === 0) return;
    this.until = this.renewAt = 0;
    await this.backing.give(this.owner);
  }
}

/** A lease kept as a row of the `leases` table, by name. */
export function leasesTable(db: Db, name: string): LeaseBacking {
  return {
    async take(owner, now, until) {
      const row = await db
        .insertInto('leases')
        .values({ name, owner, until })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({ owner, until })
            .where((eb) => eb.or([eb('leases.owner', '=', owner), eb('leases.until', '<', now)])),
        )
        .returning('owner')
        .executeTakeFirst();
      return row !== undefined;
    },
    async give(owner) {
      await db.deleteFrom('leases').where('name', '=', name).where('owner', '=', owner).execute();
    },
  };
}
