/**
 * The file receiver against a real temp file and a real store (SQLite and PostgreSQL), through the real
 * IntakeWriter (which commits the receiver's position with the records), wrapped to record what it accepted
 * and to push back on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { DIALECTS, openTestStore, tempDir, type TestStore } from '../support/stores.js';
import fileReceiver, { fileLinesTruncated } from '../../src/intake/receivers/file.js';
import { readCursor, receiverName } from '../../src/intake/tail/cursor.js';
import { splitLines, type SplitOptions } from '../../src/intake/tail/lines.js';
import { createReceivers } from '../../src/intake/registry.js';
import { BackpressureError, type AcceptOptions, type AcceptResult, type IntakeRecord, type IntakeWriter, type Receiver } from '../../src/intake/receiver.js';
import { createIntakeWriter, type ManagedIntakeWriter } from '../../src/intake/writer.js';
import type { Store } from '../../src/store/store.js';
import type { DialectName } from '../../src/store/dialect.js';
import type { Logger } from '../../src/util/log.js';
import { waitFor } from '../support/wait.js';

// ---------------------------------------------------------------------------------------------------------
// Harness

interface Batch {
  source: string;
  detector: string | null;
  raws: string[];
}

/**
 * The real intake writer (records and the receiver's position in one commit), recording what it accepted;
 * can be told to refuse with backpressure (once, or until told otherwise).
 */
class RecordingIntake implements IntakeWriter {
  readonly batches: Batch[] = [];
  calls = 0;
  refuseOnce = 0;
  refuseAlways = false;
  readonly writer: ManagedIntakeWriter;

  constructor(store: Store) {
    this.writer = createIntakeWriter(store, { maxBacklog: 1e9 });
  }

  async accept(source: string, detector: string | null, records: readonly IntakeRecord[], options?: AcceptOptions): Promise<AcceptResult> {
    this.calls++;
    if (this.refuseAlways || this.refuseOnce > 0) {
      this.refuseOnce = Math.max(0, this.refuseOnce - 1);
      throw new BackpressureError(0);
    }
    const result = await this.writer.accept(source, detector, records, options);
    this.batches.push({ source, detector, raws: records.map((r) => r.raw) });
    return result;
  }

  get raws(): string[] {
    return this.batches.flatMap((b) => b.raws);
  }
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rig {
  t: TestStore;
  dir: string;
  path: string;
  logs: string[];
  /** A receiver for source `source` on `path`, stopped at the end of the test if still running. */
  receiver(opts?: { intake?: IntakeWriter; owner?: string; source?: string; detector?: string; settings?: Record<string, unknown> }): Promise<Receiver>;
  intake: RecordingIntake;
}

async function withRig(dialect: DialectName, fn: (rig: Rig) => Promise<void>): Promise<void> {
  const t = await openTestStore(dialect);
  const dir = tempDir('fido-file-');
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) as unknown as Logger;
  const started: Receiver[] = [];
  const intake = new RecordingIntake(t.store);
  const path = join(dir, 'alerts.log');
  const rig: Rig = {
    t,
    dir,
    path,
    logs,
    intake,
    async receiver(o = {}) {
      const name = o.source ?? 'tail';
      const settings = { kind: 'file', path: 'alerts.log', poll_interval: '20ms', ...o.settings };
      const source = { name, ...(o.detector ? { detector: o.detector } : {}), receiver: settings };
      const [r] = await createReceivers([source], {
        store: t.store,
        intake: o.intake ?? intake,
        log,
        configDir: dir,
        owner: o.owner ?? 'proc-1',
      });
      assert.ok(r);
      started.push(r);
      return r;
    },
  };
  try {
    await fn(rig);
  } finally {
    for (const r of started) await r.stop();
    await intake.writer.close();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Descriptors this process holds on `file` (Linux), to check that stop() closes them. */
function openFds(file: string): number {
  if (!existsSync('/proc/self/fd')) return 0;
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;
}

// ---------------------------------------------------------------------------------------------------------
// Pure line splitting

const opts = (o: Partial<SplitOptions> = {}): SplitOptions => ({
  format: 'lines',
  maxLineBytes: 256,
  batchLines: 100,
  atFileStart: false,
  flush: false,
  ...o,
});

test('splitLines: complete lines only, CRLF, blank lines, BOM, batch limit, flush', () => {
  const b = splitLines(Buffer.from('\uFEFFa\r\n\n  \nb\npart'), false, opts({ atFileStart: true }));
  assert.deepEqual(b.records.map((r) => r.raw), ['a', 'b']);
  assert.equal(b.consumed, Buffer.byteLength('\uFEFFa\r\n\n  \nb\n'));
  assert.equal(b.skip, false);

  const limited = splitLines(Buffer.from('1\n2\n3\n'), false, opts({ batchLines: 2 }));
  assert.deepEqual(limited.records.map((r) => r.raw), ['1', '2']);
  assert.equal(limited.consumed, 4);

  const flushed = splitLines(Buffer.from('x\ntail'), false, opts({ flush: true }));
  assert.deepEqual(flushed.records.map((r) => r.raw), ['x', 'tail']);
  assert.equal(flushed.consumed, 6);
});

test('splitLines: a line that is not UTF-8 keeps its exact bytes beside its decoding', () => {
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
  const b = splitLines(Buffer.concat([Buffer.from('ok\n'), latin1, Buffer.from('\r\n')]), false, opts());
  assert.deepEqual(b.records[0], { raw: 'ok' });
  assert.equal(b.records[1]!.raw, latin1.toString('utf8'));
  assert.deepEqual(Buffer.from(b.records[1]!.raw_base64!, 'base64'), latin1);
});

test('splitLines: over-long lines are cut on a character boundary and the rest skipped', () => {
  const long = 'a' + 'é'.repeat(200); // 401 bytes; byte 256 is inside an é
  const b = splitLines(Buffer.from(`${long}\nnext\n`), false, opts());
  assert.deepEqual(b.records.map((r) => r.raw), ['a' + 'é'.repeat(127), 'next']);
  assert.equal(b.truncated, 1);

  // No newline yet: hand over the head, then skip through the newline in later chunks.
  const head = splitLines(Buffer.from('x'.repeat(300)), false, opts());
  assert.deepEqual(head.records.map((r) => r.raw), ['x'.repeat(256)]);
  assert.deepEqual([head.consumed, head.skip], [256, true]);
  const more = splitLines(Buffer.from('x'.repeat(44)), true, opts());
  assert.deepEqual([more.records.length, more.consumed, more.skip], [0, 44, true]);
  const end = splitLines(Buffer.from('xx\nafter\n'), true, opts());
  assert.deepEqual(end.records.map((r) => r.raw), ['after']);
  assert.equal(end.skip, false);
});

test('splitLines: jsonl counts invalid lines but still hands them over', () => {
  const b = splitLines(Buffer.from('{"a":1}\nnot json {\n[1,2]\n'), false, opts({ format: 'jsonl' }));
  assert.deepEqual(b.records.map((r) => r.raw), ['{"a":1}', 'not json {', '[1,2]']);
  assert.equal(b.invalidJson, 1);
});

test('settings are checked where the receiver is built, and the message names the source and key', async () => {
  const deps = { store: {} as never, intake: { accept: () => Promise.reject(new Error('not reached')) } satisfies IntakeWriter, log: pino({ level: 'silent' }) as unknown as Logger, configDir: '/tmp', owner: 'x' };
  const built = (receiver: Record<string, unknown>) => createReceivers([{ name: 's1', receiver: receiver as { kind: string } }], deps);
  await assert.rejects(built({ kind: 'file', path: 'a', format: 'xml' }), /^Error: sources\.s1\.receiver\.format: /);
  await assert.rejects(built({ kind: 'file', path: 'a', poll_interval: '1ms' }), /^Error: sources\.s1\.receiver\.poll_interval: must be at least 10ms/);
  await assert.rejects(built({ kind: 'carrier-pigeon' }), /sources\.s1\.receiver\.kind: unknown receiver kind "carrier-pigeon" \(known: file, http, imap, kafka, nats, pull, rabbitmq, sql, syslog\)/);
  assert.equal(fileReceiver.kind, 'file');
});

// ---------------------------------------------------------------------------------------------------------
// Against a real file and store

for (const dialect of DIALECTS) {
  test(`file receiver on ${dialect}: partial lines wait; a restart resumes without re-reading`, () =>
    withRig(dialect, async ({ path, receiver, intake, t }) => {
      writeFileSync(path, 'one\ntw');
      const r1 = await receiver();
      await r1.start();
      await waitFor('first line', () => intake.raws.length === 1);
      appendFileSync(path, 'o\nthree\n');
      await waitFor('three lines', () => intake.raws.length === 3);
      assert.deepEqual(intake.raws, ['one', 'two', 'three']);
      assert.ok(intake.batches.every((b) => b.source === 'tail' && b.detector === null));
      await r1.stop();
      assert.equal(openFds(path), 0, 'stop closes the file');
      assert.equal((await readCursor(t.store.db, 'tail'))?.offset, statSync(path).size);
      assert.equal(await t.store.db.selectFrom('leases').select('name').executeTakeFirst(), undefined, 'stop releases the lease');

      appendFileSync(path, 'four\nfi'); // written while Fido is down
      const r2 = await receiver();
      await r2.start();
      await waitFor('line written while stopped', () => intake.raws.length === 4);
      appendFileSync(path, 've\n');
      await waitFor('completed line', () => intake.raws.length === 5);
      assert.deepEqual(intake.raws, ['one', 'two', 'three', 'four', 'five']);
    }));

  test(`file receiver on ${dialect}: rotation delivers the old file's last lines once, then the new file`, () =>
    withRig(dialect, async ({ path, receiver, intake, t }) => {
      writeFileSync(path, 'a1\na2\n');
      await (await receiver()).start();
      await waitFor('first lines', () => intake.raws.length === 2);
      // One synchronous block: the receiver (same event loop) sees the state only after all of it.
      appendFileSync(path, 'a3\n');
      renameSync(path, `${path}.1`);
      appendFileSync(`${path}.1`, 'a4 from a writer that has not reopened\nfinal without newline');
      writeFileSync(path, 'b1\nb2\n');
      await waitFor('new file', () => intake.raws.includes('b2'));
      appendFileSync(path, 'b3\n');
      await waitFor('appended to the new file', () => intake.raws.includes('b3'));
      assert.deepEqual(intake.raws, ['a1', 'a2', 'a3', 'a4 from a writer that has not reopened', 'final without newline', 'b1', 'b2', 'b3']);
      const cursor = await readCursor(t.store.db, 'tail');
      assert.equal(cursor?.ino, String(statSync(path, { bigint: true }).ino));
    }));

  test(`file receiver on ${dialect}: rotation while stopped reads the rest of the old file first`, () =>
    withRig(dialect, async ({ path, receiver, intake }) => {
      writeFileSync(path, 'a1\n');
      const r1 = await receiver();
      await r1.start();
      await waitFor('first line', () => intake.raws.length === 1);
      await r1.stop();
      appendFileSync(path, 'a2\n');
      renameSync(path, `${path}.1`);
      writeFileSync(path, 'b1\n');
      await (await receiver()).start();
      await waitFor('new file', () => intake.raws.includes('b1'));
      assert.deepEqual(intake.raws, ['a1', 'a2', 'b1']);
    }));

  test(`file receiver on ${dialect}: truncation (copytruncate) restarts at 0 without re-reading`, () =>
    withRig(dialect, async ({ path, receiver, intake }) => {
      writeFileSync(path, 'line-1\nline-2\nline-3\n');
      await (await receiver()).start();
      await waitFor('first lines', () => intake.raws.length === 3);
      copyFileSync(path, `${path}.1`);
      truncateSync(path, 0);
      appendFileSync(path, 'n1\n');
      await waitFor('line after truncation', () => intake.raws.includes('n1'));
      // Truncated and regrown past the old offset before a poll: told apart by the first bytes.
      copyFileSync(path, `${path}.2`);
      truncateSync(path, 0);
      appendFileSync(path, `r1 ${'x'.repeat(60)}\nr2\n`);
      await waitFor('regrown file', () => intake.raws.includes('r2'));
      assert.deepEqual(intake.raws, ['line-1', 'line-2', 'line-3', 'n1', `r1 ${'x'.repeat(60)}`, 'r2']);
    }));

  test(`file receiver on ${dialect}: start_at end skips existing lines, only the first time`, () =>
    withRig(dialect, async ({ path, receiver, intake, t }) => {
      writeFileSync(path, 'old1\nold2\npart');
      const settings = { start_at: 'end' };
      const r1 = await receiver({ settings, detector: 'auto' });
      await r1.start();
      await waitFor('position recorded', async () => (await readCursor(t.store.db, 'tail')) !== undefined);
      appendFileSync(path, 'ial\nnew1\n');
      await waitFor('new lines', () => intake.raws.length === 2);
      await r1.stop();
      appendFileSync(path, 'new2\n');
      await (await receiver({ settings })).start();
      await waitFor('line written while stopped', () => intake.raws.length === 3);
      assert.deepEqual(intake.raws, ['partial', 'new1', 'new2']);
      assert.equal(intake.batches[0]!.detector, null, '"auto" means auto-detection');
    }));

  test(`file receiver on ${dialect}: a file that does not exist yet is waited for and read whole`, () =>
    withRig(dialect, async ({ path, receiver, intake, logs }) => {
      await (await receiver({ settings: { start_at: 'end' } })).start();
      await waitFor('receiver waiting', () => logs.some((l) => l.includes('waiting for the file to exist')));
      writeFileSync(path, 'w1\nw2\n');
      await waitFor('lines of the new file', () => intake.raws.length === 2);
      assert.deepEqual(intake.raws, ['w1', 'w2']);
    }));

  test(`file receiver on ${dialect}: jsonl hands invalid lines over as raw text; detector is passed`, () =>
    withRig(dialect, async ({ path, receiver, intake, logs }) => {
      writeFileSync(path, '{"a":1}\nnot json {\n\n{"b":[2]}\r\n');
      await (await receiver({ detector: 'suricata', settings: { format: 'jsonl' } })).start();
      await waitFor('invalid line logged (after its batch was accepted)', () => logs.some((l) => l.includes('not JSON')));
      assert.deepEqual(intake.raws, ['{"a":1}', 'not json {', '{"b":[2]}']);
      assert.ok(intake.batches.every((b) => b.detector === 'suricata'));
    }));

  test(`file receiver on ${dialect}: over-long lines are cut, counted, and the rest skipped`, () =>
    withRig(dialect, async ({ path, receiver, intake }) => {
      const source = `long-${dialect}`;
      writeFileSync(path, `short\n${'x'.repeat(300)}`);
      await (await receiver({ source, settings: { max_line_bytes: 256 } })).start();
      await waitFor('head of the long line', () => intake.raws.length === 2);
      appendFileSync(path, 'yyy\nafter\n');
      await waitFor('line after the long one', () => intake.raws.length === 3);
      assert.deepEqual(intake.raws, ['short', 'x'.repeat(256), 'after']);
      const metric = await fileLinesTruncated.get();
      assert.equal(metric.values.find((v) => v.labels.source === source)?.value, 1);
    }));

  test(`file receiver on ${dialect}: backpressure holds the batch and the cursor until accepted`, () =>
    withRig(dialect, async ({ path, receiver, intake, t }) => {
      intake.refuseAlways = true;
      writeFileSync(path, 'p1\np2\n');
      await (await receiver()).start();
      await waitFor('retries under backpressure', () => intake.calls >= 3);
      const held = await readCursor(t.store.db, 'tail');
      assert.ok(held == null || held.offset === 0, 'nothing acknowledged while refused');
      intake.refuseAlways = false;
      intake.refuseOnce = 1;
      await waitFor('batch accepted', () => intake.raws.length === 2);
      await waitFor('cursor written', async () => (await readCursor(t.store.db, 'tail'))?.offset === 6);
      assert.deepEqual(intake.batches.map((b) => b.raws), [['p1', 'p2']]);
    }));

  test(`file receiver on ${dialect}: the lease lets one of two processes tail the file`, () =>
    withRig(dialect, async ({ path, receiver, t }) => {
      const a = new RecordingIntake(t.store);
      const b = new RecordingIntake(t.store);
      try {
        writeFileSync(path, '');
        const ra = await receiver({ intake: a, owner: 'proc-a' });
        const rb = await receiver({ intake: b, owner: 'proc-b' });
        await Promise.all([ra.start(), rb.start()]);
        for (let i = 1; i <= 5; i++) appendFileSync(path, `l${i}\n`);
        await waitFor('five lines', () => a.raws.length + b.raws.length >= 5);
        const [holder, other, holderReceiver] = a.raws.length > 0 ? [a, b, ra] : [b, a, rb];
        assert.deepEqual(holder.raws, ['l1', 'l2', 'l3', 'l4', 'l5']);
        assert.equal(other.calls, 0);

        await holderReceiver.stop(); // releases the lease: the other takes over from the cursor
        appendFileSync(path, 'l6\n');
        await waitFor('takeover', () => other.raws.length === 1);
        assert.deepEqual(other.raws, ['l6']);
        assert.equal(holder.raws.length, 5);
        const lease = await t.store.db.selectFrom('leases').select(['name', 'owner']).executeTakeFirstOrThrow();
        assert.equal(lease.name, receiverName('tail'));
        assert.equal(lease.owner, other === a ? 'proc-a' : 'proc-b');
      } finally {
        await Promise.all([a.writer.close(), b.writer.close()]);
      }
    }));

  test(`file receiver on ${dialect}: a live lease of another process blocks; an expired one is taken`, () =>
    withRig(dialect, async ({ path, receiver, intake, t }) => {
      await t.store.db.insertInto('leases').values({ name: receiverName('tail'), owner: 'ghost', until: Date.now() + 60_000 }).execute();
      writeFileSync(path, 'g1\n');
      await (await receiver()).start();
      await sleep(300); // several polls: a correct receiver reads nothing (this can only pass wrongly, not fail)
      assert.equal(intake.calls, 0);
      await t.store.db.updateTable('leases').set({ until: Date.now() - 1 }).execute();
      await waitFor('taken over expired lease', () => intake.raws.length === 1);
      assert.deepEqual(intake.raws, ['g1']);
    }));
}
