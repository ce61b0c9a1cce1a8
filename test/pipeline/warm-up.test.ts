/**
 * The pipeline's warm-up (pipeline/warm-up.ts) with the demo configuration: made-up alerts go through every
 * stage of a scratch store under the data directory; afterwards nothing of it is left there, the real store
 * beside it is untouched, and this thread's metrics are as if it never ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { warmUp } from '../../src/pipeline/warm-up.js';
import { openStore } from '../../src/store/store.js';
import { isLocalKind, providerKinds } from '../../src/enrich/registry.js';
import { registry } from '../../src/metrics.js';
import { log } from '../../src/util/log.js';
import { tempDir } from '../support/stores.js';

const demoConfig = fileURLToPath(new URL('../../demo/fido.yaml', import.meta.url));

test('warm-up runs made-up alerts through a scratch pipeline and leaves no trace', async () => {
  const dataDir = tempDir();
  const store = await openStore({ databaseUrl: `sqlite:${join(dataDir, 'fido.db')}`, dataDir });
  try {
    // What a crash in an earlier warm-up would have left behind.
    mkdirSync(join(dataDir, '.warm-up'));
    writeFileSync(join(dataDir, '.warm-up', 'fido.db'), 'not a database');
    const result = await warmUp(await loadConfig(demoConfig), { dataDir, alerts: 400, log });
    // Every stage ran: every stored alert is covered by a decision (a tenth are repeats, done at correlate).
    assert.equal(result.alerts, 400);
    assert.ok(result.stored > 300, 'most made-up alerts are alerts, the rest repeats');
    assert.equal(result.decided, result.stored);
    assert.ok(result.incidents >= 300 && result.incidents < 400, `${result.incidents} incidents`);

    assert.equal(existsSync(join(dataDir, '.warm-up')), false);
    assert.deepEqual(readdirSync(dataDir).filter((f) => !f.startsWith('fido.db')), [], 'only the real store is left');
    for (const table of ['intake', 'alerts', 'incidents', 'decisions'] as const) {
      const { n } = await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(n), 0, `${table} of the real store`);
    }
    // The scratch run's counts are gone from this thread's metrics.
    const processed = (await registry.getSingleMetric('fido_stage_processed_total')!.get()).values;
    assert.equal(processed.reduce((sum, v) => sum + v.value, 0), 0);
  } finally {
    await store.close();
  }
});

test('warm-up may use only the provider kinds that answer from this machine; none that asks a service or downloads', () => {
  const local = providerKinds.filter((k) => isLocalKind(k.kind)).map((k) => k.kind);
  assert.deepEqual(local, ['address_history', 'allowlist', 'geoip', 'history', 'indicators', 'inventory', 'netsegments']);
  for (const remote of ['virustotal', 'otx', 'ldap', 'sql_inventory', 'jamf', 'feed']) assert.equal(isLocalKind(remote), false, remote);
  assert.equal(isLocalKind('no-such-kind'), false);
});
