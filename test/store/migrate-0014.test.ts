/**
 * Migration 0014: approval bookkeeping leaves the action's params for columns of its own, on a store that
 * holds actions written the old way (a deadline under params.__approval, a denial's reason in last_error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { DIALECTS, newStorePlace } from '../support/stores.js';
import { dialectFor, openStore } from '../../src/store/store.js';
import { migrate } from '../../src/store/migrate.js';
import { applyApprovalTimeouts } from '../../src/actions/approvals.js';

const DUE = Date.parse('2026-11-27T13:00:00.000Z');

for (const name of DIALECTS) {
  test(`migration 0014 on ${name}: approval deadlines and denials move to their own columns`, async () => {
    const place = newStorePlace(name);
    try {
      const dialect = dialectFor({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
      await dialect.prepare?.();
      const db = dialect.connect();
      try {
        await migrate(db, dialect.name, { upTo: '0013_drop_enrich_version' });
        const action = (id: string, state: string, params: unknown, lastError: string | null) =>
          sql`insert into actions (id, incident_id, decision_id, kind, target, idempotency_key, params, state, approval, dry_run, attempts,
                next_attempt_at, lease_owner, lease_until, last_error, result, approved_by, created_at, updated_at)
              values (${id}, 'INC1', null, 'email', 'soc', ${`k-${id}`}, ${JSON.stringify(params)}, ${state}, 'required', 0, 0, 0, null, null,
                ${lastError}, null, null, 0, 0)`.execute(db);
        await action('A1', 'awaiting_approval', { to: 'soc@example.org', __approval: { timeout_at: new Date(DUE).toISOString(), default: 'approve' } }, null);
        await action('A2', 'awaiting_approval', { __approval: { timeout_at: 'never' } }, null);
        await action('A3', 'denied', { to: 'x' }, 'false positive: pentest');
        await action('A4', 'failed', {}, 'connection reset');
      } finally {
        await db.destroy();
      }
      const store = await openStore({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
      try {
        const rows = await store.db
          .selectFrom('actions')
          .select(['id', 'params', 'approval_due_at', 'approval_default', 'denied_by', 'denial_reason', 'last_error'])
          .orderBy('id')
          .execute();
        const plain = rows.map((r) => ({ ...r, approval_due_at: r.approval_due_at === null ? null : Number(r.approval_due_at), params: JSON.parse(r.params) as unknown }));
        assert.deepEqual(plain, [
          { id: 'A1', params: { to: 'soc@example.org' }, approval_due_at: DUE, approval_default: 'approve', denied_by: null, denial_reason: null, last_error: null },
          { id: 'A2', params: {}, approval_due_at: null, approval_default: null, denied_by: null, denial_reason: null, last_error: null },
          { id: 'A3', params: { to: 'x' }, approval_due_at: null, approval_default: null, denied_by: null, denial_reason: 'false positive: pentest', last_error: null },
          { id: 'A4', params: {}, approval_due_at: null, approval_default: null, denied_by: null, denial_reason: null, last_error: 'connection reset' },
        ]);
        // The sweep reads the new columns: the carried-over deadline applies, and only after it.
        assert.equal(await applyApprovalTimeouts(store, DUE - 1), 0);
        assert.equal(await applyApprovalTimeouts(store, DUE), 1);
        const a1 = await store.db.selectFrom('actions').select(['state', 'approved_by']).where('id', '=', 'A1').executeTakeFirstOrThrow();
        assert.deepEqual(a1, { state: 'pending', approved_by: 'system:approval-timeout' });
      } finally {
        await store.close();
      }
    } finally {
      await place.drop();
    }
  });
}
