/**
 * The decide stage on a batch of incidents, both dialects: each incident gets its own decision row, outbox
 * rows pointing at that decision, and its own timeline summary — the same as deciding them one by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createDecideStage, idempotencyKey, type DecideStageDeps } from '../../src/pipeline/stages/decide.js';
import { loadPolicy } from '../../src/policy/rules.js';
import type { ActionGuard, PolicyDecision } from '../../src/policy/evaluate.js';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import { alert, enr, incident, insertIncident, T0 } from '../score/fixtures.js';
import { MAIL_AND_WEBHOOK, fileSandbox } from './support.js';

const sandbox = fileSandbox();

const TARGETS = MAIL_AND_WEBHOOK;

const RULES: PolicyRuleConfig[] = [
  { name: 'allowlisted', when: 'enrichment.allowlist.exists(e, e.found)', outcome: 'log' },
  { name: 'critical', when: 'score.total >= 80', outcome: 'escalate', then: [{ action: 'soc-mail' }, { action: 'soar-webhook' }], approval: 'required' },
  { name: 'medium', when: 'score.total >= 50 && incident.alert_count >= 1', outcome: 'notify', then: [{ action: 'soc-mail' }] },
];

const items = (ids: string[]): ClaimedItem[] => ids.map((item_id, i) => ({ id: i + 1, item_id, version: 1, attempts: 1 }));

function stageOf(store: Store, over: Partial<DecideStageDeps> = {}) {
  return createDecideStage({
    store,
    policy: loadPolicy({ rules: RULES, baseDir: '.', targets: TARGETS, providers: ['allowlist'] }),
    configVersion: 'cfg-1',
    targetKinds: TARGETS,
    sandbox,
    now: () => T0 + 10_000,
    ...over,
  });
}

async function run(store: Store, stage: ReturnType<typeof createDecideStage>, ids: string[]) {
  const computed = await stage.compute(items(ids), store.db);
  await store.db.transaction().execute((tx) => stage.write(tx, items(ids), computed));
  return computed;
}

async function setScore(store: Store, id: string, total: number) {
  const score = JSON.stringify({ profile: 'default', total, components: {}, explanation: [] });
  await store.db.updateTable('incidents').set({ score, score_total: total }).where('id', '=', id).execute();
}

for (const dialect of DIALECTS) {
  test(`decide stage on ${dialect}: a batch of incidents, each with its own decision, outbox rows and timeline`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      const id = (n: number) => `01JDBATCH${dialect.slice(0, 2).toUpperCase()}${String(n).padStart(15, '0')}`;
      const totals = [90, 60, 95, 10];
      for (const [n, total] of totals.entries()) {
        const enrichment = n === 2 ? [enr('allowlist', 'host', 'ws-042', { allowlisted: true })] : [];
        await insertIncident(store.db, incident({ id: id(n), alerts: [alert()], enrichment }));
        await setScore(store, id(n), total);
      }
      const ids = [id(0), id(1), 'no-such-incident', id(2), id(3)];
      const computed = await run(store, stageOf(store), ids);
      assert.deepEqual(computed.map((c) => [c.incidentId, c.decision.rule]), [
        [id(0), 'critical'],
        [id(1), 'medium'],
        [id(2), 'allowlisted'],
        [id(3), '(default)'],
      ]);

      const decisions = await store.db.selectFrom('decisions').selectAll().orderBy('id').execute();
      assert.deepEqual(decisions.map((d) => [d.incident_id, d.rule]), computed.map((c) => [c.incidentId, c.decision.rule]));
      const decisionOf = new Map(decisions.map((d) => [d.incident_id, Number(d.id)]));
      for (const d of decisions) {
        const row = await store.db.selectFrom('incidents').select(['decision', 'updated_at']).where('id', '=', d.incident_id).executeTakeFirstOrThrow();
        assert.equal(row.decision, d.doc);
        assert.equal(Number(row.updated_at), T0 + 10_000);
        assert.equal((JSON.parse(d.doc) as PolicyDecision).decided_at, new Date(T0 + 10_000).toISOString());
      }

      const actions = await store.db.selectFrom('actions').selectAll().orderBy('incident_id').orderBy('target').execute();
      assert.deepEqual(
        actions.map((a) => [a.incident_id, a.target, a.state, Number(a.decision_id), a.idempotency_key]),
        [
          [id(0), 'soar-webhook', 'awaiting_approval', decisionOf.get(id(0)), idempotencyKey(id(0), 'webhook', 'soar-webhook')],
          [id(0), 'soc-mail', 'awaiting_approval', decisionOf.get(id(0)), idempotencyKey(id(0), 'email', 'soc-mail')],
          [id(1), 'soc-mail', 'pending', decisionOf.get(id(1)), idempotencyKey(id(1), 'email', 'soc-mail')],
        ],
      );

      const timeline = async () =>
        (await store.db.selectFrom('timeline').select(['incident_id', 'summary']).where('kind', '=', 'decided').orderBy('id').execute()).map((r) => [r.incident_id, r.summary]);
      assert.deepEqual(await timeline(), [
        [id(0), 'rule "critical" → escalate; queued email → soc-mail (awaiting approval), webhook → soar-webhook (awaiting approval)'],
        [id(1), 'rule "medium" → notify; queued email → soc-mail'],
        [id(2), 'rule "allowlisted" → log'],
        [id(3), 'rule "(default)" → log'],
      ]);

      // The same batch again: nothing changed, nothing recorded.
      await run(store, stageOf(store), ids);
      assert.equal((await store.db.selectFrom('decisions').selectAll().execute()).length, 4);

      // A new config version: every incident decides again; queued actions are not queued twice, a new one is.
      await setScore(store, id(1), 85);
      await run(store, stageOf(store, { configVersion: 'cfg-2' }), ids);
      assert.equal((await store.db.selectFrom('decisions').selectAll().execute()).length, 8);
      assert.equal((await store.db.selectFrom('actions').selectAll().execute()).length, 4);
      assert.deepEqual((await timeline()).slice(4), [
        [id(0), 'rule "critical" → escalate; 2 actions already queued earlier'],
        [id(1), 'rule "critical" → escalate; queued webhook → soar-webhook (awaiting approval); 1 action already queued earlier'],
        [id(2), 'rule "allowlisted" → log'],
        [id(3), 'rule "(default)" → log'],
      ]);
      const webhook1 = await store.db.selectFrom('actions').selectAll().where('idempotency_key', '=', idempotencyKey(id(1), 'webhook', 'soar-webhook')).executeTakeFirstOrThrow();
      const latest = await store.db.selectFrom('decisions').select('id').where('incident_id', '=', id(1)).orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.equal(Number(webhook1.decision_id), Number(latest.id));
    } finally {
      await t.cleanup();
    }
  });
}

test('decide stage: with guards, the enrichment and indicators are read for them; without, only what the rules read', async () => {
  const t = await openTestStore('sqlite');
  try {
    const { store } = t;
    const inc = incident({ id: '01JDGUARDS0000000000000000', alerts: [alert({ title: 'seen by the guard' })], enrichment: [enr('inventory', 'host', 'ws-042', { criticality: 'high' })] });
    await insertIncident(store.db, inc);
    await setScore(store, inc.id, 90);
    const seen: Array<[number, number]> = [];
    const guard: ActionGuard = {
      name: 'spy',
      check: (_a, detail) => {
        seen.push([detail.alerts.length, detail.enrichment.length]);
        return { allow: false, reason: 'blocked for the test' };
      },
    };
    const policy = loadPolicy({ rules: [{ name: 'any', when: 'score.total > 1', then: [{ action: 'soc-mail' }] }], baseDir: '.', targets: TARGETS });
    const [withGuard] = await run(store, stageOf(store, { policy, guards: [guard] }), [inc.id]);
    // The protected-names guard reads the directory's answers and the indicators; the alerts only a rule reads.
    assert.deepEqual(seen, [[0, 1]]);
    assert.deepEqual(withGuard!.decision.blocked.map((b) => [b.action.target, b.guard]), [['soc-mail', 'spy']]);
    assert.equal((await store.db.selectFrom('actions').selectAll().execute()).length, 0);
  } finally {
    await t.cleanup();
  }
});
