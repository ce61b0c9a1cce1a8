/**
 * FIDO_ROLE splits Fido into processes that share one store: here api, worker and actions run as three
 * processes on one SQLite file (WAL; transactions take the write lock up front), as on a small server that
 * wants its intake isolated from the pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { startFidoProcess, waitFor, type FidoProcess } from '../support/fido-process.js';
import { startPeers } from '../support/e2e.js';

const TOKEN = 'roles-admin-token-0123456789';

test('api, worker and actions processes on one SQLite file', { timeout: 180_000 }, async () => {
  const peers = await startPeers('fido-roles-', TOKEN);
  const { dir, smtp, env } = peers;
  const procs: FidoProcess[] = [];
  try {
    const api = await startFidoProcess({ ...env, FIDO_ROLE: 'api' });
    procs.push(api, await startFidoProcess({ ...env, FIDO_ROLE: 'worker' }), await startFidoProcess({ ...env, FIDO_ROLE: 'actions' }));
    let n = 0;
    for (let i = 0; i < 10; i++) {
      const body = Array.from({ length: 30 }, () => {
        n++;
        return JSON.stringify({ timestamp: new Date().toISOString(), flow_id: 9e14 + n, event_type: 'alert', src_ip: `10.8.0.${n % 25}`, dest_ip: '203.0.113.7', src_port: n, dest_port: 443, proto: 'TCP', alert: { signature_id: 5000000 + (n % 2), signature: `ROLES ${n % 2}`, category: 'c', severity: 1 } });
      }).join('\n');
      const r = await fetch(`${api.url}/api/v1/alerts/ids`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' }, body });
      assert.equal(r.status, 202);
    }
    const count = (q: string) => {
      const db = new Sqlite(join(dir, 'fido.db'), { readonly: true });
      try {
        return (db.prepare(q).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    await waitFor('the worker and the executor to finish', async () =>
      count('select count(*) n from stage_queue') === 0 && count("select count(*) n from actions where state in ('pending','running')") === 0 && count('select count(*) n from actions') > 0 ? true : undefined,
    120_000);
    assert.equal(count('select count(*) n from alerts'), n);
    assert.equal(count('select count(*) n from incidents where decision is null'), 0);
    assert.equal(count("select count(*) n from actions where state <> 'succeeded'"), 0);
    assert.equal(smtp.messages.length, count("select count(*) n from actions where kind = 'email'"));
  } finally {
    for (const p of procs) await p.kill('SIGKILL');
    await peers.close();
  }
});
