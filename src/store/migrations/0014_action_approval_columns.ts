/**
 * Approval bookkeeping gets columns of its own. An approval's deadline and default used to travel inside the
 * action's `params` under a reserved key (`__approval`), so API answers showed Fido's internals as if they
 * were the action's parameters, and the timeout sweep had to scan params with LIKE; a denial kept its
 * reason in `last_error` and its author only in the audit log. Now: `approval_due_at` and
 * `approval_default` (indexed for the sweep), `denied_by` and `denial_reason`; existing rows are carried over
 * (a denial's author, never recorded on the row, stays null).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table actions add column approval_due_at bigint`.execute(db);
  await sql`alter table actions add column approval_default text`.execute(db);
  await sql`alter table actions add column denied_by text`.execute(db);
  await sql`alter table actions add column denial_reason text`.execute(db);
  await sql`create index actions_approval_due on actions (approval_due_at) where approval_due_at is not null`.execute(db);

  const rows = await sql<{ id: string; params: string }>`select id, params from actions where params like ${'%"__approval"%'}`.execute(db);
  for (const r of rows.rows) {
    const params = parseObject(r.params);
    const a = params.__approval as { timeout_at?: unknown; default?: unknown } | undefined;
    if (!a || typeof a !== 'object') continue;
    const due = typeof a.timeout_at === 'number' ? a.timeout_at : typeof a.timeout_at === 'string' ? Date.parse(a.timeout_at) : NaN;
    delete params.__approval;
    await sql`update actions set params = ${JSON.stringify(params)},
      approval_due_at = ${Number.isFinite(due) ? due : null},
      approval_default = ${Number.isFinite(due) ? (a.default === 'approve' ? 'approve' : 'deny') : null}
      where id = ${r.id}`.execute(db);
  }
  await sql`update actions set denial_reason = last_error, last_error = null where state = 'denied'`.execute(db);
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {}; // params Fido wrote are JSON objects; anything else has no approval to carry over
  }
}
