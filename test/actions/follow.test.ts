/**
 * Tickets follow their incident (actions/follow.ts), through the real parts: the decide stage queues the ticket
 * and, when the incident's score or decision changes, an update; the executor runs the update only after the
 * ticket exists; a verdict given over the API closes it; a decision made again with the same result queues
 * nothing; a ticket that never got created has its follow-ups skipped. The ticket system is the ServiceNow
 * stand-in (test/support/contracts/servicenow.ts), on both store dialects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import servicenowTicket from '../../src/actions/kinds/servicenow_ticket.js';
import { createDecideStage } from '../../src/pipeline/stages/decide.js';
import { loadPolicy } from '../../src/policy/rules.js';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import { DIALECTS } from '../support/stores.js';
import { startContract } from '../support/contract.js';
import { servicenowServer } from '../support/contracts/servicenow.js';
import { auth, testApi } from '../support/api.js';
import { incident, insertIncident, T0 } from '../score/fixtures.js';
import { fileSandbox } from '../policy/support.js';
import { testExecutor } from './support.js';

const sandbox = fileSandbox();
const TARGETS = new Map([['snow', 'servicenow_ticket']]);
const RULES: PolicyRuleConfig[] = [
  { name: 'critical', when: 'score.total >= 80', outcome: 'escalate', then: [{ action: 'snow' }] },
  { name: 'medium', when: 'score.total >= 50', outcome: 'notify', then: [{ action: 'snow' }] },
];

const items = (ids: string[]): ClaimedItem[] => ids.map((item_id, i) => ({ id: i + 1, item_id, version: 1, attempts: 1 }));

async function decide(store: Store, ids: string[], now: number) {
  const stage = createDecideStage({ store, policy: loadPolicy({ rules: RULES, baseDir: '.', targets: TARGETS }), configVersion: 'cfg-1', targetKinds: TARGETS, sandbox, now: () => now });
  const computed = await stage.compute(items(ids), store.db);
  await store.db.transaction().execute((tx) => stage.write(tx, items(ids), computed));
}

async function setScore(store: Store, id: string, total: number) {
  const score = JSON.stringify({ profile: 'default', total, components: { threat: total }, explanation: [{ factor: 'threat.indicator', points: total, evidence: 'c2 on feed' }] });
  await store.db.updateTable('incidents').set({ score, score_total: total }).where('id', '=', id).execute();
}

const rows = (store: Store, id: string) => store.db.selectFrom('actions').selectAll().where('incident_id', '=', id).orderBy('id').execute();

for (const dialect of DIALECTS) {
  test(`on ${dialect}: a ticket is created once, updated when the score and decision change, closed by the verdict`, async () => {
    const snow = servicenowServer();
    const server = await startContract(snow.handler);
    const api = await testApi(dialect);
    const store = api.t.store;
    const { user, password } = snow.credentials;
    const target = await servicenowTicket.create(
      { name: 'snow', kind: 'servicenow_ticket', url: server.url, username: user, password, allow_private: true },
      { configDir: '.', publicUrl: 'https://fido.corp.example' },
    );
    let now = T0 + 10_000;
    const executor = testExecutor(store, 'snow', target, () => now);
    try {
      const id = `01JDTCKT${dialect === 'sqlite' ? 'SQ' : 'PG'}0000000000000001`;
      await insertIncident(store.db, incident({ id }));
      await setScore(store, id, 60);
      await decide(store, [id], now);
      // Raised before the ticket exists: the update waits for it instead of failing.
      await setScore(store, id, 90);
      now += 1000;
      await decide(store, [id], now);
      let all = await rows(store, id);
      assert.deepEqual(all.map((r) => [r.follow_event, r.state]), [[null, 'pending'], ['update', 'pending']]);
      assert.equal(all[0]!.rule, 'medium');

      now += 1000;
      const first = await executor.runOnce();
      assert.equal(first.succeeded, 1, 'only the create runs: the update waits for its ticket');
      assert.equal(snow.counts.created, 1);
      const second = await executor.runOnce();
      assert.equal(second.succeeded, 1);
      const [record] = snow.byIncident(id);
      assert.ok(record, 'the ticket names its incident');
      assert.equal(snow.counts.updated, 1);
      assert.match(record.work_notes.join('\n'), /90/, 'the work note gives the new score');

      // Decided again with the same result (a new alert that changes nothing): no update.
      now += 1000;
      await decide(store, [id], now);
      assert.equal((await rows(store, id)).length, 2);

      // The verdict over the API closes the ticket, once however often it is given.
      for (let i = 0; i < 2; i++) {
        const r = await api.app.inject({ method: 'POST', url: `/api/v1/incidents/${id}/verdict`, headers: auth('analyst'), payload: { verdict: 'true_positive', status: 'closed', note: 'confirmed C2' } });
        assert.equal(r.statusCode, 200, r.body);
      }
      all = await rows(store, id);
      const close = all.find((r) => r.follow_event === 'close');
      assert.ok(close);
      assert.equal(all.filter((r) => r.follow_event === 'close').length, 1);
      now = Date.now() + 1000; // the API queued the close at the wall clock's time
      assert.equal((await executor.runOnce()).succeeded, 1);
      assert.equal(snow.counts.resolved, 1);
      assert.equal(snow.counts.created, 1, 'one ticket for the incident from start to end');
      const audit = await store.db.selectFrom('audit_log').select('action').where('subject', 'like', 'action:%').execute();
      assert.ok(audit.some((a) => a.action === 'action.updated'));
      assert.ok(audit.some((a) => a.action === 'action.closed'));
      assert.ok(audit.some((a) => a.action === 'action.close_queued'));
    } finally {
      await target.close?.();
      await api.close();
      await server.close();
    }
  });
}

test('the follow-ups of a ticket that was never created are skipped, not run and not left waiting', async () => {
  const snow = servicenowServer();
  const server = await startContract(snow.handler);
  const api = await testApi('sqlite');
  const store = api.t.store;
  // Wrong password: the create fails for good (401 is permanent).
  const target = await servicenowTicket.create(
    { name: 'snow', kind: 'servicenow_ticket', url: server.url, username: snow.credentials.user, password: 'wrong-password', allow_private: true },
    { configDir: '.', publicUrl: 'https://fido.corp.example' },
  );
  let now = T0 + 10_000;
  const executor = testExecutor(store, 'snow', target, () => now);
  try {
    const id = '01JDTCKTSK0000000000000001';
    await insertIncident(store.db, incident({ id }));
    await setScore(store, id, 60);
    await decide(store, [id], now);
    await setScore(store, id, 95);
    now += 1000;
    await decide(store, [id], now);
    now += 1000;
    const round = await executor.runOnce();
    assert.equal(round.dead, 1);
    const next = await executor.runOnce();
    assert.equal(next.skipped, 1);
    const all = await rows(store, id);
    assert.deepEqual(all.map((r) => [r.follow_event, r.state]), [[null, 'dead'], ['update', 'skipped']]);
    assert.match(all[1]!.last_error ?? '', /did not succeed/);
    // A verdict on an incident whose ticket never existed queues no close.
    const r = await api.app.inject({ method: 'POST', url: `/api/v1/incidents/${id}/verdict`, headers: auth('analyst'), payload: { verdict: 'benign' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((await rows(store, id)).length, 2);
    assert.equal(snow.counts.created + snow.counts.updated + snow.counts.resolved, 0);
  } finally {
    await target.close?.();
    await api.close();
    await server.close();
  }
});
