/**
 * A rig for `pull` receiver tests: a real SQLite store and IntakeWriter (recording what it committed), pull
 * receivers built from entries as fido.yaml would give them (through createReceivers, so the vendor's schema
 * and checks run), and the pino log lines, for "never logs the secret" checks.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { createReceivers } from '../../src/intake/registry.js';
import type { IntakeWriter, Receiver, ReceiverStatus } from '../../src/intake/receiver.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import type { Logger } from '../../src/util/log.js';
import { RecordingIntake } from './intake.js';
import { openTestStore, tempDir, type TestStore } from './stores.js';
import { waitFor } from './wait.js';

export interface PullRig {
  store: TestStore;
  intake: RecordingIntake;
  logs: string[];
  dir: string;
  /** Builds and starts a pull receiver for source `o.source` (default "api") from `entry` (kind: pull is added). */
  receiver(entry: Record<string, unknown>, o?: { source?: string; intake?: IntakeWriter; detector?: string }): Promise<Receiver>;
  /** Waits until `n` records were committed in all; returns them parsed. */
  waitRecords(n: number): Promise<unknown[]>;
  /** Stops a receiver (and forgets it). */
  stop(r: Receiver): Promise<void>;
}

export const waitState = (r: Receiver, what: string, ok: (s: ReceiverStatus) => boolean): Promise<ReceiverStatus> =>
  waitFor(what, () => (ok(r.status!()) ? r.status!() : null));

export async function withPullRig(fn: (rig: PullRig) => Promise<void>): Promise<void> {
  const dir = tempDir('fido-pull-');
  const store = await openTestStore('sqlite');
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) as unknown as Logger;
  const writer = createIntakeWriter(store.store, { maxBacklog: 1e9 });
  const intake = new RecordingIntake(writer);
  const started = new Set<Receiver>();
  const rig: PullRig = {
    store,
    intake,
    logs,
    dir,
    async receiver(entry, o = {}) {
      const receiver = { kind: 'pull', interval: '20ms', allow_private: true, requests_per_minute: 60_000, ...entry };
      const source = { name: o.source ?? 'api', receiver, ...(o.detector ? { detector: o.detector } : {}) };
      const [r] = await createReceivers([source as never], { store: store.store, intake: o.intake ?? intake, log, configDir: dir, owner: 'proc-1' });
      assert.ok(r, 'a pull receiver is built');
      started.add(r);
      await r.start();
      return r;
    },
    waitRecords: (n) => waitFor(`${n} records`, () => intake.committed.length >= n).then(() => intake.committed.map((x) => JSON.parse(x) as unknown)),
    async stop(r) {
      started.delete(r);
      await r.stop();
    },
  };
  try {
    await fn(rig);
  } finally {
    intake.releaseCrash();
    for (const r of started) await r.stop();
    await writer.close();
    await store.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
