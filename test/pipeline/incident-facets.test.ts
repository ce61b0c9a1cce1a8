/**
 * incident_facets (migration 0023): ingest writes a row for each detector and source an incident's alerts
 * come from, in the batch's transaction, once per pair (repeats and re-deliveries add none); merge moves
 * them; the queue's detector and source filters answer from them. A real intake → ingest run, both dialects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { createPipeline } from '../../src/pipeline/runner.js';
import { createIngest, type RecordNormalizer } from '../../src/pipeline/ingest/index.js';
import { mergeIncidents } from '../../src/store/incident-workflow.js';
import { queryIncidents } from '../../src/store/incident-query.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { log } from '../../src/util/log.js';

// Records are AlertDrafts as JSON; the detector is the one intake was told (the request's).
const normalizer: RecordNormalizer = {
  normalize: (text, detector) => ({ detector: detector ?? 'draft', alerts: [JSON.parse(text) as AlertDraft] }),
};

const T0 = Date.parse('2026-11-27T10:00:00Z');
const MIN = 60_000;
// Alerts of one host join one incident by the indicator they share (their rules differ).
const evil = { type: 'ip', value: '203.0.113.9', role: 'dst' } as const;
const draft = (at: number, host: string, over: Partial<AlertDraft> = {}) =>
  ({ raw: JSON.stringify({ time: new Date(T0 + at).toISOString(), title: 'Beacon', severity: 60, rule: { id: 'r1' }, observables: [evil], host: { name: host }, ...over }) });

for (const dialect of DIALECTS) {
  test(`incident facets on ${dialect}: ingest writes each incident's detectors and sources once; merge moves them; the queue filters by them`, async () => {
    const t = await openTestStore(dialect);
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const ingest = createIngest({ store: t.store, normalizer, correlation: { dedupWindowMs: 10 * MIN, groupWindowMs: 60 * MIN }, owner: 'test', log, batchSize: 100 });
    const pipeline = createPipeline({ store: t.store, ingest, stages: [], owner: 'test', log });
    const db = t.store.db;
    const facets = async () =>
      (await db.selectFrom('incident_facets').selectAll().orderBy('incident_id').orderBy('facet').orderBy('value').execute()).map((f) => [f.incident_id, f.facet, f.value]);
    const incidentOf = async (host: string) => (await db.selectFrom('incidents').select('id').where('host', '=', host).where('merged_into', 'is', null).executeTakeFirstOrThrow()).id;
    const send = async (source: string, detector: string, records: Array<{ raw: string }>) => {
      await intake.accept(source, detector, records);
      await pipeline.drain();
    };
    try {
      // One batch: two detectors from one source into ws-1's incident, the same pair twice.
      await send('dmz', 'suricata', [draft(0, 'ws-1'), draft(MIN, 'ws-1', { rule: { id: 'r2' } })]);
      await send('dmz', 'sigma', [draft(2 * MIN, 'ws-1', { vendor_id: 'v-1' })]);
      const a = await incidentOf('ws-1');
      assert.deepEqual(await facets(), [
        [a, 'detector', 'sigma'],
        [a, 'detector', 'suricata'],
        [a, 'source', 'dmz'],
      ]);
      // A later batch: a new source for ws-1's incident; another host's incident; a repeat and a re-delivery (none new).
      await send('honeypot', 'suricata', [draft(3 * MIN, 'ws-1', { rule: { id: 'r3' } }), draft(3 * MIN, 'ws-2')]);
      await send('dmz', 'suricata', [draft(0, 'ws-1')]);
      await send('dmz', 'sigma', [draft(2 * MIN, 'ws-1', { vendor_id: 'v-1' })]);
      const b = await incidentOf('ws-2');
      const want = [
        [a, 'detector', 'sigma'],
        [a, 'detector', 'suricata'],
        [a, 'source', 'dmz'],
        [a, 'source', 'honeypot'],
        [b, 'detector', 'suricata'],
        [b, 'source', 'honeypot'],
      ].sort((x, y) => (x.join('/') < y.join('/') ? -1 : 1));
      assert.deepEqual(await facets(), want);
      // The facets say what the alerts say: each (incident, detector) and (incident, source) of the alerts once.
      const alerts = await db.selectFrom('alerts').select(['incident_id', 'detector', 'source']).execute();
      const fromAlerts = new Set(alerts.flatMap((x) => [`${x.incident_id}/detector/${x.detector}`, `${x.incident_id}/source/${x.source}`]));
      assert.deepEqual([...fromAlerts].sort(), want.map((f) => f.join('/')));

      const ids = async (q: Parameters<typeof queryIncidents>[1]) => (await queryIncidents(t.store, q)).rows.map((r) => r.id).sort();
      assert.deepEqual(await ids({ detector: 'sigma' }), [a]);
      assert.deepEqual(await ids({ source: 'honeypot' }), [a, b].sort());
      assert.deepEqual(await ids({ source: 'honeypot', fewIncidents: 0 }), [a, b].sort());
      assert.deepEqual(await ids({ detector: 'zeek' }), []);

      // Merged: b's facets are a's; an alert that follows b's keys into a adds a's new pairs only.
      await db.transaction().execute((tx) => mergeIncidents(tx, dialect, a, [b], 'admin', Date.now()));
      await send('edr', 'crowdstrike', [draft(4 * MIN, 'ws-2', { rule: { id: 'r4' } })]);
      assert.deepEqual(await facets(), [
        [a, 'detector', 'crowdstrike'],
        [a, 'detector', 'sigma'],
        [a, 'detector', 'suricata'],
        [a, 'source', 'dmz'],
        [a, 'source', 'edr'],
        [a, 'source', 'honeypot'],
      ]);
      assert.deepEqual(await ids({ detector: 'crowdstrike', fewIncidents: 0 }), [a]);
    } finally {
      await pipeline.stop();
      await intake.close();
      await t.cleanup();
    }
  });
}
