/**
 * The pipeline's composition root (src/pipeline/build.ts): it builds the parts asked for from the
 * configuration, and what it builds runs an alert from the intake log to a decision. The policy sandbox's
 * worker starts with the incident stages, so that the first decisions need not wait for it; a thread that
 * decides only now and then (fido start's ingest thread) leaves it to its first decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { buildPipeline, pipelineSettings } from '../../src/pipeline/build.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { defaultSandbox } from '../../src/policy/sandbox.js';
import { log } from '../../src/util/log.js';
import { openTestStore } from '../support/stores.js';

const demoConfig = fileURLToPath(new URL('../../demo/fido.yaml', import.meta.url));

test('pipeline settings resolve the configured durations and time zones, with the documented defaults', () => {
  const defaults = pipelineSettings({});
  assert.deepEqual(defaults.correlation, { dedupWindowMs: 600_000, groupWindowMs: 7_200_000 });
  assert.equal(defaults.coalesceMs, undefined);
  assert.equal(defaults.timeZones.size, 0);
  const set = pipelineSettings({
    correlation: { dedup_window: '30s', group_window: '1h' },
    pipeline: { parse_time_limit: '2s', coalesce_when_behind: '250ms' },
    sources: [{ name: 'fw', detector: 'auto', time_zone: 'Europe/Paris' }, { name: 'ids', detector: 'suricata' }],
  });
  assert.deepEqual(set.correlation, { dedupWindowMs: 30_000, groupWindowMs: 3_600_000 });
  assert.equal(set.parseTimeLimitMs, 2000);
  assert.equal(set.coalesceMs, 250);
  assert.deepEqual([...set.timeZones], [['fw', 'Europe/Paris']]);
  assert.throws(() => pipelineSettings({ correlation: { dedup_window: 'soon' } }), /correlation\.dedup_window/);
});

test('buildPipeline builds the parts asked for, and they take an alert from intake to a decision', async () => {
  const loaded = await loadConfig(demoConfig);
  const t = await openTestStore('sqlite');
  try {
    const ingestOnly = await buildPipeline({ store: t.store, loaded, owner: 'test', log, ingest: {} });
    assert.ok(ingestOnly.ingest);
    assert.deepEqual(ingestOnly.stages, []);
    await ingestOnly.close();
    const stagesOnly = await buildPipeline({ store: t.store, loaded, owner: 'test', log, incidents: {} });
    assert.equal(stagesOnly.ingest, undefined);
    assert.deepEqual(stagesOnly.stages.map((s) => s.name), ['enrich', 'score', 'decide']);
    await stagesOnly.close();

    const whole = await buildPipeline({ store: t.store, loaded, owner: 'test', log, ingest: {}, incidents: {} });
    const intake = createIntakeWriter(t.store, { maxBacklog: 1000 });
    const eve = {
      timestamp: new Date().toISOString(),
      event_type: 'alert',
      src_ip: '10.1.2.3',
      src_port: 50000,
      dest_ip: '203.0.113.9',
      dest_port: 443,
      proto: 'TCP',
      alert: { signature_id: 2_000_001, signature: 'test signature', severity: 1 },
    };
    await intake.accept('dmz-suricata', 'suricata', [{ raw: JSON.stringify(eve) }]);
    await intake.close();
    await whole.pipeline.drain();
    await whole.close();
    const decisions = await t.store.db.selectFrom('decisions').select(['outcome']).execute();
    assert.equal(decisions.length, 1, 'the alert reached a decision');
  } finally {
    await t.cleanup();
  }
});

test('the incident stages start the policy sandbox, unless told to leave it to the first decision', async () => {
  const loaded = await loadConfig(demoConfig);
  assert.ok((loaded.config.policy?.rules?.length ?? 0) > 0, 'the demo policy has rules');
  const t = await openTestStore('sqlite');
  const sandbox = defaultSandbox();
  try {
    const lazy = await buildPipeline({ store: t.store, loaded, owner: 'test', log, incidents: { startSandbox: false } });
    assert.equal(sandbox.running, false, 'not started with the stages');
    await lazy.close();
    const eager = await buildPipeline({ store: t.store, loaded, owner: 'test', log, incidents: {} });
    assert.equal(sandbox.running, true, 'started with the stages');
    await eager.close();
    assert.equal(sandbox.running, false, 'closed with them');
  } finally {
    await sandbox.close();
    await t.cleanup();
  }
});
