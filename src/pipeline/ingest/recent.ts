/**
 * The bookkeeping shared by ingest's in-memory state (the dedup state, fingerprints.ts; the grouping keys,
 * group-keys.ts): entries by a string key, each in a numbered slot of the owner's columns, in the order they
 * were last touched, so that the least recently touched are forgotten first — once touched longer than
 * `keepMs` before the newest, or past `max` entries. Columns instead of an object per entry: 1,000,000
 * entries as objects took ~450 MB of the ingest thread's heap, which its collector marked again and again.
 */

export interface RecentLimits {
  /** Forget an entry touched this long before the newest touch. */
  keepMs: number;
  /** Most entries. */
  max: number;
}

export class RecentSlots {
  /** Key → slot, in the order last touched (a Map iterates in insertion order). */
  readonly #slots = new Map<string, number>();
  readonly #touchedAt = new NumberColumn();
  /** Slots freed by forgetting, taken again before new ones. */
  readonly #free: number[] = [];
  #used = 0;

  /** `release(slot)`: the owner drops what its columns hold in a forgotten slot (strings it would keep alive). */
  constructor(
    readonly limits: RecentLimits,
    private readonly release: (slot: number) => void,
  ) {}

  get size(): number {
    return this.#slots.size;
  }

  slotOf(key: string): number | undefined {
    return this.#slots.get(key);
  }

  touchedAt(slot: number): number {
    return this.#touchedAt.get(slot);
  }

  /** The slot of `key`, now the most recently touched; a new key takes a freed slot or the next one. */
  touch(key: string, touchedAt: number): number {
    let s = this.#slots.get(key);
    if (s === undefined) {
      s = this.#free.pop() ?? this.#used++;
      // Keys are often cut from a longer text, which the cut would keep alive: keep a copy of its own.
      key = Buffer.from(key, 'utf8').toString('utf8');
    } else this.#slots.delete(key);
    this.#touchedAt.set(s, touchedAt);
    this.#slots.set(key, s);
    return s;
  }

  /**
   * Touches the key of each entry at its `touchedAt`, in order, and lets `put` fill that slot of the owner's
   * columns; returns the newest touch among them (0: none), for forget.
   */
  takeIn<E extends { touchedAt: number }>(entries: ReadonlyMap<string, E>, put: (slot: number, entry: E) => void): number {
    let newest = 0;
    for (const [key, e] of entries) {
      put(this.touch(key, e.touchedAt), e);
      if (e.touchedAt > newest) newest = e.touchedAt;
    }
    return newest;
  }

  /** Forgets, least recently touched first, what was touched before `newest - keepMs` and what is past `max`. */
  forget(newest: number): void {
    const before = newest - this.limits.keepMs;
    for (const [key, s] of this.#slots) {
      if (this.#slots.size <= this.limits.max && this.#touchedAt.get(s) >= before) break;
      this.#slots.delete(key);
      this.release(s);
      this.#free.push(s);
    }
  }
}

/** A column of numbers by slot that grows as slots are added. */
export class NumberColumn {
  #values = new Float64Array(1024);

  get(slot: number): number {
    return this.#values[slot] ?? 0;
  }

  set(slot: number, value: number): void {
    if (slot >= this.#values.length) {
      let length = this.#values.length * 2;
      while (length <= slot) length *= 2;
      const grown = new Float64Array(length);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[slot] = value;
  }
}
