/**
 * The canonical Alerts this process has already parsed, by id. An alert's document never changes once
 * stored, but every stage after normalize read and parsed it again — scoring re-read all of an incident's
 * alerts on each new one, which made parsing most of its time. Kept documents are deep-frozen: they are
 * shared by every reader, and a stage that changed one would corrupt the others' view.
 *
 * Bounded (least recently used go first); a miss costs what reading always did.
 */
import type { Alert } from '../model/alert.js';
import type { Db } from './store.js';
import { parseStored } from '../util/json.js';
import { pow2ChunksOf } from '../util/chunks.js';

/** An Alert as stored in `alerts.doc` (without `raw`). */
export type AlertDoc = Readonly<Omit<Alert, 'raw'>>;

const CHUNK = 400;

export class AlertDocs {
  readonly #docs = new Map<string, AlertDoc>();

  constructor(readonly max = 50_000) {}

  get size(): number {
    return this.#docs.size;
  }

  /** Keeps a document (after the transaction that stored it committed). */
  remember(id: string, doc: Omit<Alert, 'raw'> | Alert): void {
    if ('raw' in doc) {
      const { raw: _raw, ...rest } = doc;
      this.#put(id, deepFreeze(rest));
    } else this.#put(id, deepFreeze(doc));
  }

  /** The documents of `ids`, from memory or else read (and kept) from the store; absent ids are left out. */
  async load(db: Db, ids: readonly string[]): Promise<Map<string, AlertDoc>> {
    const out = new Map<string, AlertDoc>();
    const missing: string[] = [];
    for (const id of ids) {
      const doc = this.#docs.get(id);
      if (doc) {
        this.#put(id, doc); // recently used
        out.set(id, doc);
      } else missing.push(id);
    }
    for (const chunk of pow2ChunksOf(missing, CHUNK)) {
      for (const r of await db.selectFrom('alerts').select(['id', 'doc']).where('id', 'in', chunk).execute()) {
        const doc = deepFreeze(parseStored<Omit<Alert, 'raw'>>(r.doc, 'alert')!);
        this.#put(r.id, doc);
        out.set(r.id, doc);
      }
    }
    return out;
  }

  #put(id: string, doc: AlertDoc): void {
    this.#docs.delete(id);
    this.#docs.set(id, doc);
    if (this.#docs.size > this.max) this.#docs.delete(this.#docs.keys().next().value!);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
