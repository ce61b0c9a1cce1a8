/**
 * Scale-out on PostgreSQL: two Fido instances on one schema share the work through leased claims
 * (FOR UPDATE SKIP LOCKED). Every alert posted to either is correlated once, every incident is decided,
 * and each action runs once, whichever instance claims it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { startFido, type Fido } from '../../src/app.js';
import { PG_URL, tempDir } from '../support/stores.js';
import { selfSignedCert, startHttp, startSmtp } from '../support/servers.js';
import { writeE2eConfig } from '../support/config.js';
import { waitFor } from '../support/fido-process.js';

const TOKEN = 'scaleout-admin-token-0123456789';

function alert(n: number): string {
  const host = n % 40;
  return JSON.stringify({
    timestamp: new Date().toISOString(),
    flow_id: 7e14 + n,
    event_type: 'alert',
    src_ip: `10.7.0.${host}`,
    dest_ip: '203.0.113.7',
    src_port: 20000 + n,
    dest_port: 443,
    proto: 'TCP',
    alert: { action: 'allowed', signature_id: 4000000 + (n % 4), signature: `SCALE rule ${n % 4}`, category: 'c', severity: 1 },
  });
}

test('two instances on one PostgreSQL schema share the pipeline and the outbox without doing anything twice', { timeout: 180_000 }, async () => {
  const dir = tempDir('fido-scale-');
  const cert = selfSignedCert(dir);
  const smtp = await startSmtp(cert, 'fido', 'smtp-pass');
  const hook = await startHttp();
  const schema = `fido_scale_${randomBytes(4).toString('hex')}`;
  const env = { ...process.env, E2E_SMTP_PASSWORD: 'smtp-pass', E2E_HOOK_SECRET: 's', FIDO_BOOTSTRAP_TOKEN: TOKEN, FIDO_DATA_DIR: dir, FIDO_DATABASE_URL: `${PG_URL}?schema=${schema}` };
  const loaded = await loadConfig(writeE2eConfig({ dir, smtpPort: smtp.port, caFile: cert.certFile, webhookUrl: hook.url }), env);
  const fidos: Fido[] = [];
  const c = new pg.Client({ connectionString: PG_URL });
  try {
    fidos.push(await startFido({ loaded, env, port: 0 }), await startFido({ loaded, env, port: 0 }));
    let posted = 0;
    for (let round = 0; round < 20; round++) {
      const f = fidos[round % 2]!;
      const body = Array.from({ length: 25 }, () => alert(posted++)).join('\n');
      const r = await fetch(`${f.url}/api/v1/alerts/ids`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' }, body });
      assert.equal(r.status, 202);
    }
    await c.connect();
    await c.query(`set search_path = ${schema}`);
    const one = async (q: string) => Number((await c.query<{ n: string }>(q)).rows[0]!.n);
    await waitFor('both instances to drain the work', async () =>
      (await one('select count(*) n from stage_queue')) === 0 && (await one("select count(*) n from actions where state in ('pending','running')")) === 0 ? true : undefined,
    120_000);

    assert.equal(await one('select count(*) n from alerts'), posted);
    assert.equal(await one('select count(*) n from alerts where incident_id is null'), 0);
    const incidents = await one('select count(*) n from incidents');
    // Every host's alerts share the C2 indicator, so each host is one incident, whichever instance correlated it.
    assert.equal(incidents, 40, 'one incident per host: no group split across instances');
    assert.equal(await one('select count(*) n from incidents where decision is null'), 0);
    const actions = await one('select count(*) n from actions');
    assert.ok(actions > 0);
    assert.equal(await one("select count(*) n from actions where state <> 'succeeded'"), 0);
    const keys = smtp.messages.map((m) => String(m.headers.get('x-fido-idempotency-key')));
    assert.equal(new Set(keys).size, keys.length, 'no e-mail sent twice');
    assert.equal(keys.length, await one("select count(*) n from actions where kind = 'email'"));
    const hookKeys = hook.received.map((r) => String(r.headers['idempotency-key']));
    assert.equal(new Set(hookKeys).size, hookKeys.length, 'no webhook sent twice');
    assert.equal(hookKeys.length, await one("select count(*) n from actions where kind = 'webhook'"));
  } finally {
    for (const f of fidos) await f.stop();
    await smtp.close();
    await hook.close();
    await c.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await c.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
