import { sql } from 'kysely';
import type { Db } from './store.js';

/** Appends to the audit log: who did what to which subject. Never pass secrets in `detail`. */
export async function audit(db: Db, actor: string, action: string, subject: string, detail: Record<string, unknown>): Promise<void> {
  await db.insertInto('audit_log').values({ at: Date.now(), actor, action, subject, detail: JSON.stringify(detail) }).execute();
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}

/**
 * An incident's audit trail, newest first: what people and Fido did to it (`incident.*`) and to its actions
 * (`action.*`, subject `action:<id>`). Paged by the id of the last entry shown.
 */
export async function listIncidentAudit(db: Db, incidentId: string, page: { limit: number; before?: number }): Promise<{ items: AuditEntry[]; next_cursor: string | null }> {
  const actionSubjects = db.selectFrom('actions').select(sql<string>`'action:' || id`.as('subject')).where('incident_id', '=', incidentId);
  let q = db
    .selectFrom('audit_log')
    .selectAll()
    .where((eb) => eb.or([eb('subject', '=', incidentId), eb('subject', 'in', actionSubjects)]))
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.before !== undefined) {
    const from = await db.selectFrom('audit_log').select(['at', 'id']).where('id', '=', page.before).executeTakeFirst();
    if (!from) return { items: [], next_cursor: null };
    q = q.where((eb) => eb.or([eb('at', '<', from.at), eb.and([eb('at', '=', from.at), eb('id', '<', from.id)])]));
  }
  const rows = await q.execute();
  const shown = rows.slice(0, page.limit);
  return {
    items: shown.map((r) => ({ id: Number(r.id), at: new Date(Number(r.at)).toISOString(), actor: r.actor, action: r.action, subject: r.subject, detail: parseDetail(r.detail) })),
    next_cursor: rows.length > page.limit ? String(shown[shown.length - 1]!.id) : null,
  };
}

function parseDetail(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { text };
  }
}
