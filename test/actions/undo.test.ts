/**
 * Undo and expiry (issue 17, item 4): an undo is an outbox action of its own, queued once however many
 * triggers ask (a false-positive verdict, the rule's `for:`, a person through the API or the CLI), run by the
 * executor against the real target (a webhook to a local receiver), and recorded on the timeline and in the
 * audit log with who asked and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createActionExecutor } from '../../src/actions/executor.js';
import { queueExpiredUndos, undoAction, undoRefusal } from '../../src/actions/undo.js';
import webhook, { verifySignature } from '../../src/actions/kinds/webhook.js';
import { auth, testApi } from '../support/api.js';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { startHttp } from '../support/servers.js';
import { FIDO_BIN } from '../support/fido-process.js';
import { insertAction, sampleIncident, seedIncident } from './fixtures.js';
import type { Store } from '../../src/store/store.js';

const T0 = 1_900_000_000_000;
// The API takes ids in ULID form.
const [INC_V, INC_H] = ['01JZZZZZZZZZZZZZZZZZZZZV01', '01JZZZZZZZZZZZZZZZZZZZZH01'];
const [ACT_V1, ACT_V2, ACT_H1, ACT_H2] = ['01JZZZZZZZZZZZZZZZZZZZAV01', '01JZZZZZZZZZZZZZZZZZZZAV02', '01JZZZZZZZZZZZZZZZZZZZAH01', '01JZZZZZZZZZZZZZZZZZZZAH02'];

async function hookTarget(url: string) {
  return webhook.create({ name: 'soar', kind: 'webhook', url, secret: 'hook-secret-123', allow_private: true }, { configDir: '.', publicUrl: 'http://fido.test' });
}

function executorFor(store: Store, target: Awaited<ReturnType<typeof hookTarget>>, now: () => number) {
  return createActionExecutor({ store, targets: new Map([[target.name, target]]), maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, leaseMs: 30_000, owner: 'ex', now });
}

test('what can be undone: a succeeded action of a reversible kind that is not itself an undo nor a dry run', () => {
  const ok = { kind: 'webhook', state: 'succeeded', undo_of: null, dry_run: 0 };
  assert.equal(undoRefusal(ok), null);
  assert.match(undoRefusal({ ...ok, kind: 'email' })!, /kind "email" cannot be undone/);
  assert.match(undoRefusal({ ...ok, state: 'pending' })!, /has not succeeded/);
  assert.match(undoRefusal({ ...ok, undo_of: 'X' })!, /itself an undo/);
  assert.match(undoRefusal({ ...ok, dry_run: 1 })!, /dry run/);
});

for (const dialect of DIALECTS) {
  test(`${dialect}: a rule's time limit undoes the action once, through the outbox, with the undo signed and keyed`, async () => {
    const t = await openTestStore(dialect);
    const hook = await startHttp();
    const target = await hookTarget(hook.url);
    let now = T0;
    try {
      const incident = sampleIncident('INC-U1');
      await seedIncident(t.store.db, incident);
      await insertAction(t.store.db, { id: 'ACT-U1', incident_id: incident.id, kind: 'webhook', target: 'soar', now });
      await t.store.db.updateTable('actions').set({ undo_after_ms: 2 * 3_600_000 }).where('id', '=', 'ACT-U1').execute();
      const ex = executorFor(t.store, target, () => now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const done = await t.store.db.selectFrom('actions').selectAll().where('id', '=', 'ACT-U1').executeTakeFirstOrThrow();
      assert.equal(Number(done.expires_at), T0 + 2 * 3_600_000, 'due two hours after it succeeded');
      // Not yet.
      now = T0 + 3_600_000;
      assert.equal((await ex.runOnce()).undosQueued, 0);
      // Time's up: the sweep queues the undo, and the same round runs it.
      now = T0 + 2 * 3_600_000;
      const round = await ex.runOnce();
      assert.equal(round.undosQueued, 1);
      assert.equal(round.succeeded, 1);
      assert.equal(hook.received.length, 2);
      const undoBody = JSON.parse(hook.received[1]!.body) as { event: string; undo_of: { id: string; idempotency_key: string }; action: { undo_of: string } };
      assert.equal(undoBody.event, 'undo');
      assert.equal(undoBody.undo_of.id, 'ACT-U1');
      assert.equal(hook.received[1]!.headers['idempotency-key'], `${done.idempotency_key}:undo`);
      const h = hook.received[1]!.headers;
      assert.equal(verifySignature('hook-secret-123', String(h['x-fido-timestamp']), hook.received[1]!.body, String(h['x-fido-signature'])), true);
      // Asked again (a verdict, a person): the same undo, nothing new queued or sent.
      const again = await undoAction(t.store, 'ACT-U1', { actor: 'alice', why: 'double check' }, now);
      assert.equal(again.undo_of, 'ACT-U1');
      assert.equal(again.state, 'succeeded');
      assert.equal((await ex.runOnce()).claimed, 0);
      assert.equal(hook.received.length, 2);
      const audit = await t.store.db.selectFrom('audit_log').select(['actor', 'action']).where('subject', 'in', ['action:ACT-U1', `action:${again.id}`]).orderBy('id').execute();
      assert.deepEqual(
        audit.map((a) => `${a.actor} ${a.action}`),
        ['system action.succeeded', 'system action.undo_queued', 'system action.undone'],
      );
      const timeline = await t.store.db.selectFrom('timeline').select('summary').where('incident_id', '=', incident.id).where('kind', '=', 'action').orderBy('id').execute();
      assert.match(timeline[1]!.summary, /undo of webhook → soar queued by system: its time limit ended/);
      assert.match(timeline[2]!.summary, /webhook → soar undone/);
      assert.equal(await queueExpiredUndos(t.store, now + 10 * 3_600_000), 0, 'nothing left to sweep');
    } finally {
      await target.close?.();
      await hook.close();
      await t.cleanup();
    }
  });
}

test('a false-positive verdict undoes what can be undone, in the verdict\'s transaction; by hand: API and CLI; refusals say why', async () => {
  const api = await testApi('sqlite');
  const hook = await startHttp();
  const target = await hookTarget(hook.url);
  try {
    const db = api.t.store.db;
    const now = Date.now();
    for (const id of [INC_V, INC_H]) await seedIncident(db, sampleIncident(id));
    await insertAction(db, { id: ACT_V1, incident_id: INC_V, kind: 'webhook', target: 'soar', now });
    await insertAction(db, { id: ACT_V2, incident_id: INC_V, kind: 'email', target: 'soc-mail', now });
    await insertAction(db, { id: ACT_H1, incident_id: INC_H, kind: 'webhook', target: 'soar', now });
    await insertAction(db, { id: ACT_H2, incident_id: INC_H, kind: 'webhook', target: 'soar', now });
    await db.updateTable('actions').set({ state: 'succeeded', result: '{"status":200}' }).execute();
    await db.updateTable('actions').set({ state: 'dead', result: null }).where('id', '=', ACT_H2).execute();

    // A verdict of true positive undoes nothing; false positive undoes the webhook, and leaves the e-mail.
    const verdict = (id: string, v: string) =>
      api.app.inject({ method: 'POST', url: `/api/v1/incidents/${id}/verdict`, headers: { ...auth('analyst'), 'content-type': 'application/json' }, payload: { verdict: v } });
    assert.equal((await verdict(INC_V, 'true_positive')).statusCode, 200);
    assert.equal((await db.selectFrom('actions').select('id').where('undo_of', 'is not', null).execute()).length, 0);
    assert.equal((await verdict(INC_V, 'false_positive')).statusCode, 200);
    const undos = await db.selectFrom('actions').select(['undo_of', 'state', 'kind']).where('undo_of', 'is not', null).execute();
    assert.deepEqual(undos, [{ undo_of: ACT_V1, state: 'pending', kind: 'webhook' }]);
    const audit = await db.selectFrom('audit_log').select(['actor', 'action', 'detail']).where('action', '=', 'action.undo_queued').execute();
    assert.equal(audit[0]!.actor, 'analyst');
    assert.match(audit[0]!.detail, /false positive/);

    // By hand through the API: 200 with the undo; 409 with the reason; 404; a viewer may not.
    const undo = (id: string, who: 'analyst' | 'viewer' = 'analyst') =>
      api.app.inject({ method: 'POST', url: `/api/v1/actions/${id}/undo`, headers: { ...auth(who), 'content-type': 'application/json' }, payload: { reason: 'scanner, not an attacker' } });
    const ok = await undo(ACT_H1);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((ok.json() as { undo_of: string }).undo_of, ACT_H1);
    const pending = await undo(ACT_H2);
    assert.equal(pending.statusCode, 409);
    assert.match((pending.json() as { message: string }).message, /has not succeeded \(state dead\)/);
    assert.equal((await undo('01ARZ3NDEKTSV4RRFFQ69G5FAV')).statusCode, 404);
    assert.equal((await undo(ACT_V1, 'viewer')).statusCode, 403);

    // The executor runs both undos once against the real receiver.
    const ex = executorFor(api.t.store, target, Date.now);
    assert.equal((await ex.runOnce()).succeeded, 2);
    assert.equal(hook.received.length, 2);
    assert.ok(hook.received.every((r) => (JSON.parse(r.body) as { event: string }).event === 'undo'));

    // The CLI, on the same store: refuses what cannot be undone, with exit 1 and the reason.
    const cli = (id: string) =>
      spawnSync(process.execPath, [FIDO_BIN, 'actions', 'undo', id, '--reason', 'by hand'], {
        env: { ...process.env, FIDO_DATA_DIR: api.t.dataDir, FIDO_DATABASE_URL: api.t.url },
        encoding: 'utf8',
      });
    const refused = cli(ACT_V2);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /kind "email" cannot be undone/);
    const repeat = cli(ACT_V1);
    assert.equal(repeat.status, 0, repeat.stderr);
    assert.equal((JSON.parse(repeat.stdout) as { undo_of: string; state: string }).state, 'succeeded', 'the undo that already ran');
  } finally {
    await target.close?.();
    await hook.close();
    await api.close();
  }
});

test("a rule's `for:` gives reversible actions a time limit, carried to the outbox row; other kinds are refused at load", async () => {
  const { loadPolicyFromConfig, PolicyLoadError } = await import('../../src/policy/rules.js');
  const { planActions } = await import('../../src/policy/evaluate.js');
  const config = (then: unknown[]) =>
    ({
      policy: { rules: [{ name: 'contain', when: 'true', outcome: 'respond', then }] },
      actions: { targets: [{ name: 'soar', kind: 'webhook' }, { name: 'soc-mail', kind: 'email' }] },
    }) as never;
  const p = loadPolicyFromConfig({ config: config([{ action: 'soar', for: '2h' }]), dir: '.' });
  assert.deepEqual(p.rules[0]!.actions, [{ target: 'soar', kind: 'webhook', params: {}, undoAfterMs: 2 * 3_600_000 }]);
  const planned = planActions(p.rules.map((r) => ({ ...r, approval: r.approval })) as never, false);
  assert.equal(planned[0]!.undo_after_ms, 2 * 3_600_000);
  assert.throws(() => loadPolicyFromConfig({ config: config([{ action: 'soc-mail', for: '2h' }]), dir: '.' }), (e: unknown) => {
    assert.ok(e instanceof PolicyLoadError);
    assert.match(e.message, /then\[0\]\.for: actions of kind "email" cannot be undone/);
    return true;
  });
});
