/** The decide stage on a real store, both dialects: decision rows, incident, timeline and the actions outbox. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createDecideStage, idempotencyKey, type DecideStageDeps } from '../../src/pipeline/stages/decide.js';
import { loadPolicy } from '../../src/policy/rules.js';
import type { PolicyDecision } from '../../src/policy/evaluate.js';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import { incident, insertIncident, T0 } from '../score/fixtures.js';
import { MAIL_AND_WEBHOOK, fileSandbox } from './support.js';

const sandbox = fileSandbox();

const TARGETS = MAIL_AND_WEBHOOK;

const RULES: PolicyRuleConfig[] = [
  { name: 'critical', when: 'score.total >= 80', outcome: 'escalate', then: [{ action: 'soc-mail', params: { to: 'soc' } }, { action: 'soar-webhook' }], approval: { mode: 'required', timeout: '4h', default: 'approve' } },
  { name: 'medium', when: 'score.total >= 50', outcome: 'notify', then: [{ action: 'soc-mail', params: { to: 'soc' } }] },
];

const item = (id: string): ClaimedItem[] => [{ id: 1, item_id: id, version: 1, attempts: 1 }];

function stageOf(store: Store, over: Partial<DecideStageDeps> = {}) {
  return createDecideStage({
    store,
    policy: loadPolicy({ rules: RULES, baseDir: '.', targets: TARGETS }),
    configVersion: 'cfg-1',
    targetKinds: TARGETS,
    sandbox,
    now: () => T0 + 10_000,
    ...over,
  });
}

async function run(store: Store, stage: ReturnType<typeof createDecideStage>, id: string) {
  const computed = await stage.compute(item(id), store.db);
  await store.db.transaction().execute((tx) => stage.write(tx, item(id), computed));
}

async function setScore(store: Store, id: string, total: number) {
  const score = JSON.stringify({ profile: 'default', total, components: {}, explanation: [] });
  await store.db.updateTable('incidents').set({ score, score_total: total }).where('id', '=', id).execute();
}

for (const dialect of DIALECTS) {
  test(`decide stage on ${dialect}: decision, incident, timeline and outbox; idempotent across runs`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      const inc = incident({ id: `01JDDECIDE${dialect.toUpperCase().padEnd(16, '0')}` });
      await insertIncident(store.db, inc);
      await setScore(store, inc.id, 60);
      await run(store, stageOf(store), inc.id);

      const decisions = await store.db.selectFrom('decisions').selectAll().execute();
      assert.equal(decisions.length, 1);
      assert.deepEqual([decisions[0]!.rule, decisions[0]!.outcome, decisions[0]!.dry_run, decisions[0]!.config_version], ['medium', 'notify', 0, 'cfg-1']);
      const doc = JSON.parse(decisions[0]!.doc) as PolicyDecision;
      assert.equal(doc.decided_at, new Date(T0 + 10_000).toISOString());
      const row = await store.db.selectFrom('incidents').select('decision').where('id', '=', inc.id).executeTakeFirstOrThrow();
      assert.equal((JSON.parse(row.decision!) as PolicyDecision).rule, 'medium');

      let actions = await store.db.selectFrom('actions').selectAll().orderBy('target').execute();
      assert.equal(actions.length, 1);
      const a = actions[0]!;
      assert.deepEqual(
        [a.kind, a.target, a.idempotency_key, a.state, a.approval, a.dry_run, a.attempts, Number(a.next_attempt_at), Number(a.decision_id)],
        ['email', 'soc-mail', idempotencyKey(inc.id, 'email', 'soc-mail'), 'pending', 'auto', 0, 0, T0 + 10_000, Number(decisions[0]!.id)],
      );
      assert.deepEqual(JSON.parse(a.params), { to: 'soc' });
      assert.match(a.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);

      // The same decision again: nothing new is recorded or queued.
      await run(store, stageOf(store), inc.id);
      assert.equal((await store.db.selectFrom('decisions').selectAll().execute()).length, 1);
      assert.equal((await store.db.selectFrom('actions').selectAll().execute()).length, 1);

      // A new decision (new config version, higher score) records a decision but soc-mail is never queued twice.
      await setScore(store, inc.id, 90);
      await run(store, stageOf(store, { configVersion: 'cfg-2' }), inc.id);
      await run(store, stageOf(store, { configVersion: 'cfg-3' }), inc.id); // and once more: still no duplicates
      assert.equal((await store.db.selectFrom('decisions').selectAll().execute()).length, 3);
      actions = await store.db.selectFrom('actions').selectAll().orderBy('target').execute();
      assert.deepEqual(actions.map((x) => [x.target, x.state]), [['soar-webhook', 'awaiting_approval'], ['soc-mail', 'pending']]);
      assert.deepEqual([Number(actions[0]!.approval_due_at), actions[0]!.approval_default], [T0 + 10_000 + 4 * 3_600_000, 'approve']);
      assert.ok(!actions[0]!.params.includes('approval'), `the params hold the rule's parameters only: ${actions[0]!.params}`);

      const tl = await store.db.selectFrom('timeline').select(['kind', 'summary']).where('incident_id', '=', inc.id).orderBy('id').execute();
      assert.deepEqual(tl.map((x) => x.kind), ['decided', 'decided', 'decided']);
      assert.equal(tl[0]!.summary, 'rule "medium" → notify; queued email → soc-mail');
      assert.equal(tl[1]!.summary, 'rule "critical" → escalate; queued webhook → soar-webhook (awaiting approval); 1 action already queued earlier');
      assert.equal(tl[2]!.summary, 'rule "critical" → escalate; 2 actions already queued earlier');
    } finally {
      await t.cleanup();
    }
  });

  test(`decide stage on ${dialect}: dry run records the decision and queues nothing`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      const inc = incident({ id: `01JDDRYRUN${dialect.toUpperCase().padEnd(16, '0')}` });
      await insertIncident(store.db, inc);
      await setScore(store, inc.id, 95);
      await run(store, stageOf(store, { dryRun: true }), inc.id);
      const d = await store.db.selectFrom('decisions').selectAll().executeTakeFirstOrThrow();
      assert.equal(d.dry_run, 1);
      assert.equal((await store.db.selectFrom('actions').selectAll().execute()).length, 0);
      const tl = await store.db.selectFrom('timeline').select('summary').executeTakeFirstOrThrow();
      assert.equal(tl.summary, 'rule "critical" → escalate (dry run); not queued (dry run): soc-mail, soar-webhook');
      // Going live later queues the actions: the dry run did not take their idempotency keys.
      await run(store, stageOf(store, { configVersion: 'live' }), inc.id);
      assert.equal((await store.db.selectFrom('actions').selectAll().execute()).length, 2);
    } finally {
      await t.cleanup();
    }
  });
}
