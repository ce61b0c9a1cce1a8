/**
 * incidents.digest: what every alert of the incident contributes to the rules and the score (distinct rules
 * with their most severe alert, the newest alerts), kept by ingest as it places alerts (correlate/digest.ts).
 * Policy saw only a window of a large incident's alerts before; this migration folds every stored alert of
 * every incident in, in arrival order, so an upgraded store decides as a new one would.
 */
import { sql, type Kysely } from 'kysely';
import { emptyDigest, foldAlert, writeDigest, type IncidentDigest } from '../../correlate/digest.js';

const PAGE = 5000;

interface Row {
  id: string;
  incident_id: string;
  seq: number | string;
  source: string;
  detector: string;
  title: string;
  severity: number;
  doc: string;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('incidents').addColumn('digest', 'text').execute();
  const digests = new Map<string, IncidentDigest>();
  // Keyset pages over (seq, id): an intake record may hold several alerts.
  let after: { seq: number; id: string } | null = null;
  for (;;) {
    const page: Row[] = (
      await sql<Row>`select "id", "incident_id", "seq", "source", "detector", "title", "severity", "doc" from "alerts"
        where "incident_id" is not null and "duplicate_of" is null
        ${after ? sql`and ("seq" > ${after.seq} or ("seq" = ${after.seq} and "id" > ${after.id}))` : sql``}
        order by "seq", "id" limit ${PAGE}`.execute(db)
    ).rows;
    for (const r of page) {
      let d = digests.get(r.incident_id);
      if (!d) digests.set(r.incident_id, (d = emptyDigest()));
      foldAlert(d, { id: r.id, source: r.source, detector: r.detector, title: r.title, severity: Number(r.severity), rule: ruleOf(r.doc) });
    }
    if (page.length < PAGE) break;
    const last = page[page.length - 1]!;
    after = { seq: Number(last.seq), id: last.id };
  }
  for (const [id, d] of digests) await sql`update "incidents" set "digest" = ${writeDigest(d)} where "id" = ${id}`.execute(db);
}

function ruleOf(doc: string): { id?: string; name?: string } | undefined {
  try {
    const rule = (JSON.parse(doc) as { rule?: { id?: unknown; name?: unknown } }).rule;
    if (!rule) return undefined;
    return { ...(typeof rule.id === 'string' ? { id: rule.id } : {}), ...(typeof rule.name === 'string' ? { name: rule.name } : {}) };
  } catch {
    return undefined;
  }
}
