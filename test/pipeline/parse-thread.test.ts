/**
 * The parse thread (src/pipeline/ingest/parse-thread.ts): it parses a batch exactly as ingest does on its own
 * thread (same detectors, time zones, set-aside records, supervisor's watch), and ingest that reads ahead
 * through it derives what ingest alone derives; when the thread fails, ingest parses on its own thread and
 * loses nothing. Real detectors, a real worker thread, a real store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createIngest } from '../../src/pipeline/ingest/index.js';
import { newParseWatch, parseRecords } from '../../src/pipeline/ingest/parse.js';
import { startParseThread, type ParseThreadData } from '../../src/pipeline/ingest/parse-thread.js';
import { createNormalizer, loadDetectors } from '../../src/detectors/lib/registry.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import type { LogRecord } from '../../src/store/log.js';
import { openTestStore } from '../support/stores.js';
import { log } from '../../src/util/log.js';

const sample = (dir: string, file: string) =>
  readFileSync(new URL(`../fixtures/samples/${dir}/${file}`, import.meta.url), 'utf8').split('\n').filter((l) => l.trim() !== '');

const T0 = Date.parse('2026-11-27T10:00:00Z');
/** Snort fast.log lines (no year, no zone: they need the source's zone and the time received), Snort JSON alerts, a Zeek conn record (a context event), and junk. */
const raws = [...sample('snort', 'fast.log').slice(0, 4), ...sample('snort', 'alert_json.jsonl').slice(0, 3), sample('zeek', 'conn.jsonl')[0]!, 'not an alert <script>', '{"half": '];
const records: LogRecord[] = raws.map((raw, i) => ({
  seq: i + 1,
  id: `01JDTEST00000000000000${String(i).padStart(4, '0')}`,
  source: i % 2 === 0 ? 'east' : 'west',
  detector: null,
  received_at: T0 + i * 1000,
  raw,
}));
const data: ParseThreadData = { jsonMappings: [], timeZones: [['east', 'America/New_York']], timeLimitMs: 1000, setAside: [[3, 'parse time limit: stopped by the supervisor']] };

test('the parse thread parses a batch as ingest does on its own thread: alerts, context, quarantine, set-aside records', async () => {
  const normalizer = createNormalizer(await loadDetectors());
  const here = parseRecords(records, normalizer, new Map(data.timeZones), { timeLimitMs: 1000, setAside: new Map(data.setAside) });
  const watch = newParseWatch();
  const parser = await startParseThread({ ...data, watch: watch.buffer as SharedArrayBuffer });
  try {
    const there = await parser.parse(records);
    assert.ok(here.alerts.length >= 4 && here.context.length === 1 && here.quarantine.length === 3, 'the batch has every kind of outcome');
    assert.deepEqual(there.alerts.map(({ json: _json, ...a }) => a), here.alerts);
    assert.deepEqual(there.context, here.context);
    assert.deepEqual(there.quarantine, here.quarantine);
    // The batch's own records come back, not copies, and each alert's JSON text with it.
    assert.ok(there.alerts.every((a) => records.includes(a.record)));
    assert.ok(there.alerts.every((a) => a.json === JSON.stringify(a.alert)));
    assert.match(there.quarantine.find((q) => q.record.seq === 3)!.reason, /stopped by the supervisor/);
    // The supervisor's watch was written by the thread: when it last started a parse, and none running now.
    assert.ok(watch[1]! > 0 && watch[0] === 0);
  } finally {
    await parser.close();
  }
  await assert.rejects(parser.parse(records), /closed/);
});

/** Ingest over the same log, batches of 3: with a parser it reads ahead after every full batch. */
async function derive(parser: Awaited<ReturnType<typeof startParseThread>> | undefined) {
  const t = await openTestStore('sqlite');
  const normalizer = createNormalizer(await loadDetectors());
  const ingest = createIngest({
    store: t.store,
    normalizer,
    timeZones: new Map(data.timeZones),
    correlation: { dedupWindowMs: 600_000, groupWindowMs: 3_600_000 },
    owner: 'test',
    log,
    batchSize: 3,
    ...(parser ? { parser } : {}),
  });
  try {
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const ids: string[] = [];
    for (const r of records) ids.push(...(await intake.accept(r.source, null, [{ raw: r.raw }])).ids);
    while ((await ingest.runBatch()) > 0);
    const db = t.store.db;
    const alerts = await db.selectFrom('alerts').select(['intake_id', 'title', 'host', 'doc', 'incident_id']).orderBy('seq').execute();
    const incidents = await db.selectFrom('incidents').select(['id', 'alert_count']).execute();
    const context = await db.selectFrom('context_events').select(['intake_id', 'kind']).execute();
    const quarantine = await db.selectFrom('quarantine').select(['intake_id', 'reason']).execute();
    // Ids differ between stores (ULIDs): compare by the record's place in the log.
    const place = (id: string | null) => ids.indexOf(id ?? '');
    const incidentPlace = new Map(incidents.map((i) => [i.id, alerts.findIndex((a) => a.incident_id === i.id)]));
    return {
      alerts: alerts.map((a) => ({ record: place(a.intake_id), title: a.title, host: a.host, doc: (JSON.parse(a.doc) as { time: string; observables: unknown }).observables, incident: incidentPlace.get(a.incident_id!) })),
      context: context.map((c) => ({ record: place(c.intake_id), kind: c.kind })),
      quarantine: quarantine.map((q) => ({ record: place(q.intake_id), reason: q.reason })).sort((a, b) => a.record - b.record),
    };
  } finally {
    await ingest.stop();
    await t.cleanup();
  }
}

test('ingest reading ahead through the parse thread derives what ingest alone derives; when the thread fails, it parses on its own thread', async () => {
  const alone = await derive(undefined);
  assert.ok(alone.alerts.length >= 5 && alone.context.length === 1 && alone.quarantine.length === 2, JSON.stringify(alone));
  const parser = await startParseThread({ jsonMappings: [], timeZones: data.timeZones, timeLimitMs: 1000 });
  try {
    assert.deepEqual(await derive(parser), alone);
  } finally {
    await parser.close();
  }
  // A thread that has ended (closed here; a crash looks the same to ingest): every record is still derived.
  assert.deepEqual(await derive(parser), alone);
});
