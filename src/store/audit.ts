import type { Db } from './store.js';

/** Appends to the audit log: who did what to which subject. Never pass secrets in `detail`. */
export async function audit(db: Db, actor: string, action: string, subject: string, detail: Record<string, unknown>): Promise<void> {
  await db.insertInto('audit_log').values({ at: Date.now(), actor, action, subject, detail: JSON.stringify(detail) }).execute();
}
