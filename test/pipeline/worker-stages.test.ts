/**
 * buildWorkerStages (src/pipeline/stages/index.ts): the policy sandbox's worker starts with the stages, so
 * that the first decisions need not wait for it; a thread that decides only now and then (fido start's
 * ingest thread) leaves it to its first decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { buildWorkerStages } from '../../src/pipeline/stages/index.js';
import { defaultSandbox } from '../../src/policy/sandbox.js';
import { openTestStore } from '../support/stores.js';

const demoConfig = fileURLToPath(new URL('../../demo/fido.yaml', import.meta.url));

test('worker stages start the policy sandbox, unless told to leave it to the first decision', async () => {
  const loaded = await loadConfig(demoConfig);
  assert.ok((loaded.config.policy?.rules?.length ?? 0) > 0, 'the demo policy has rules');
  const t = await openTestStore('sqlite');
  const sandbox = defaultSandbox();
  try {
    const lazy = await buildWorkerStages({ store: t.store, loaded, startSandbox: false });
    assert.equal(sandbox.running, false, 'not started with the stages');
    await lazy.close();
    const eager = await buildWorkerStages({ store: t.store, loaded });
    assert.equal(sandbox.running, true, 'started with the stages');
    await eager.close();
    assert.equal(sandbox.running, false, 'closed with them');
  } finally {
    await sandbox.close();
    await t.cleanup();
  }
});
