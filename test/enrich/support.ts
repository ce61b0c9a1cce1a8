/** Helpers for the enrichment tests: a manual clock and scriptable providers. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/enrich/limits.js';
import type { EnrichmentProvider, LookupSubject, ProviderAnswer, ProviderDeps } from '../../src/enrich/provider.js';
import type { ObservableType } from '../../src/model/observable.js';
import type { Store } from '../../src/store/store.js';
import type { AlertDoc } from '../../src/store/alert-docs.js';
import { logObservations, ObservationTally, recordObservations } from '../../src/store/observations.js';
import { columnIndicators } from '../../src/correlate/keys.js';
import { enrichLookups } from '../../src/metrics.js';

/** Time stands still until advance(); sleepers wake in order of their due time. */
export class ManualClock implements Clock {
  private sleepers: Array<{ at: number; wake: () => void }> = [];
  constructor(public t = Date.UTC(2026, 10, 27, 12, 0, 0)) {}

  now = (): number => this.t;

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const s = { at: this.t + ms, wake: resolve };
      this.sleepers.push(s);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((x) => x !== s);
          resolve();
        },
        { once: true },
      );
    });
  }

  get pending(): number {
    return this.sleepers.length;
  }

  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t).sort((a, b) => a.at - b.at);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.wake();
    await settle();
  }
}

/** Lets queued promise callbacks and immediates run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export interface ScriptedProvider extends EnrichmentProvider {
  calls: LookupSubject[];
  /** The subjects of each lookupMany call (when the provider has one). */
  batches: LookupSubject[][];
  active: number;
  maxActive: number;
}

/**
 * A provider whose answer is computed by `answer`; it records calls and the peak concurrency. With `many` it
 * also answers many subjects at once (lookupMany).
 */
export function scripted(
  name: string,
  answer: (s: LookupSubject, signal: AbortSignal) => Promise<ProviderAnswer> | ProviderAnswer,
  opts: {
    local?: boolean;
    inMemory?: boolean;
    subjects?: ObservableType[];
    many?: (subjects: readonly LookupSubject[], signal: AbortSignal) => Promise<ProviderAnswer[]> | ProviderAnswer[];
  } = {},
): ScriptedProvider {
  const p: ScriptedProvider = {
    name,
    kind: 'scripted',
    subjects: opts.subjects ?? ['ip', 'domain', 'host', 'user', 'sha256'],
    local: opts.local ?? false,
    ...(opts.inMemory ? { inMemory: true } : {}),
    calls: [],
    batches: [],
    active: 0,
    maxActive: 0,
    async lookup(subject, signal) {
      p.calls.push(subject);
      p.active++;
      p.maxActive = Math.max(p.maxActive, p.active);
      try {
        return await answer(subject, signal);
      } finally {
        p.active--;
      }
    },
  };
  const many = opts.many;
  if (many) {
    p.lookupMany = async (subjects, signal) => {
      p.batches.push([...subjects]);
      return many(subjects, signal);
    };
  }
  return p;
}

/** A ManualClock that counts the timers it was asked for. */
export class CountingClock extends ManualClock {
  sleeps = 0;
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps++;
    return super.sleep(ms, signal);
  }
}

export async function metric(provider: string, result: string): Promise<number> {
  const v = (await enrichLookups.get()).values.find((x) => x.labels.provider === provider && x.labels.result === result);
  return v?.value ?? 0;
}

let seq = 0;
/** A unique provider name per test, so the process-wide metrics do not mix between tests. */
export const uniqueName = (base: string) => `${base}-${process.pid}-${++seq}`;

export function dataDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fido-enrich-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Deps for file-backed providers, which never touch the store. */
export function fileDeps(configDir: string, now: () => number = Date.now): ProviderDeps {
  return { store: null as unknown as Store, configDir, now };
}

type AnyDb = Store['db'];

/** Inserts an incident row with the given essentials (times in epoch ms). */
export async function insertIncident(
  db: AnyDb,
  i: { id: string; time: number; host?: string | null; user?: string | null; verdict?: string | null; status?: string; title?: string; score?: number | null },
): Promise<void> {
  await db
    .insertInto('incidents')
    .values({
      id: i.id,
      title: i.title ?? `incident ${i.id}`,
      status: i.status ?? 'new',
      verdict: i.verdict ?? null,
      first_seen: i.time,
      last_seen: i.time,
      alert_count: 1,
      severity: 50,
      host: i.host ?? null,
      user_name: i.user ?? null,
      score_total: i.score ?? null,
      score: null,
      decision: null,
      created_at: i.time,
      updated_at: i.time,
    })
    .execute();
}

/**
 * Inserts an alert and its observables ([type, value, role]). With `seq` (its record's place in the log), as
 * ingest stores one: the indicators new to the incident are marked with it and the incident's last_seq moves
 * on; without, they count as old (seen by any enrichment), as rows from before migration 0007. With
 * `logged`, its indicators go to observation_log as ingest writes them while behind (at `seq`), not folded.
 */
export async function insertAlert(
  db: AnyDb,
  a: { id: string; incident: string | null; time: number; host?: string | null; user?: string | null; repeats?: number; observables?: Array<[string, string, string]>; seq?: number; logged?: boolean },
): Promise<void> {
  await db
    .insertInto('alerts')
    .values({
      id: a.id,
      intake_id: `in-${a.id}`,
      source: 'test',
      detector: 'test',
      vendor_id: a.id,
      fingerprint: `fp-${a.id}`,
      time: a.time,
      received_at: a.time,
      title: `alert ${a.id}`,
      severity: 50,
      rule_id: null,
      host: a.host ?? null,
      user_name: a.user ?? null,
      incident_id: a.incident,
      repeat_count: a.repeats ?? 1,
      last_repeat_at: null,
      doc: '{}',
      raw: '',
      seq: a.seq ?? null,
    })
    .execute();
  // Its indicators in its incident, as ingest records them (store/observations.ts).
  if (a.incident === null) return;
  const tally = new ObservationTally();
  const doc = { observables: (a.observables ?? []).map(([type, value, role]) => ({ type, value, role })) } as unknown as AlertDoc;
  const also = columnIndicators({ host: a.host ?? null, user_name: a.user ?? null });
  for (let i = 0; i < (a.repeats ?? 1); i++) tally.addAlert(a.incident, doc, a.time, i > 0, also, a.seq ?? 0);
  if (a.logged) await logObservations(db, a.seq ?? 0, tally.rows());
  else await recordObservations(db, tally.rows());
  if (a.seq !== undefined) await db.updateTable('incidents').set({ last_seq: a.seq }).where('id', '=', a.incident).where('last_seq', '<', a.seq).execute();
}
