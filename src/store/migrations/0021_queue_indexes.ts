/**
 * The incident queue's indexes (issue 18; store/incident-query.ts, measured by bench/queue.ts). Each list
 * sorts by a key and then id, descending, and pages by (key, id): an index on exactly that pair gives a page
 * without sorting. The score key is coalesce(score_total, -1), verbatim as the queries write it, so that the
 * not yet scored sort last in both stores. The default queue (open statuses by score) has an index with the
 * status first. Host and user match case-insensitively on lower(). Detector and source are the incident's
 * alerts' (alerts has no index leading with either). Assignee and tags use migration 0020's indexes; the
 * unassigned have one of their own. Free text: see the end.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  for (const statement of [
    sql`create index incidents_q_score on incidents ((coalesce(score_total, -1)), id)`,
    sql`create index incidents_q_status_score on incidents (status, (coalesce(score_total, -1)), id)`,
    sql`create index incidents_q_last_seen on incidents (last_seen, id)`,
    sql`create index incidents_q_first_seen on incidents (first_seen, id)`,
    sql`create index incidents_q_alert_count on incidents (alert_count, id)`,
    sql`create index incidents_q_host on incidents ((lower(host)))`,
    sql`create index incidents_q_user on incidents ((lower(user_name)))`,
    sql`create index alerts_q_detector on alerts (detector, incident_id)`,
    sql`create index alerts_q_source on alerts (source, incident_id)`,
    // The unowned queue (assignee none, by status and score); `where assignee is null` must be literal in the query.
    sql`create index incidents_q_unassigned on incidents (status, (coalesce(score_total, -1)), id) where assignee is null`,
  ]) {
    await statement.execute(db);
  }
  // Free text is a substring match. On SQLite a scan, of this index: the three columns (and id) instead of the
  // incident rows with their documents, ~20x faster. (Not a b-tree on PostgreSQL: an entry there has a size
  // limit, ~2.7 kB, that a long title would break ingest on.)
  if (dialect === 'sqlite') await sql`create index incidents_q_text on incidents (title, host, user_name, id)`.execute(db);
  else await trigramIndex(db);
}

/**
 * On PostgreSQL, a trigram index (pg_trgm) answers the queue's `lower(col) like '%text%'` without a scan. The
 * extension ships with PostgreSQL (contrib) and is trusted (13+: a database owner may create it); it goes in
 * `public`, beside Fido's schema rather than in it, so that dropping Fido's schema leaves it for others.
 * Where it is missing or may not be created, free text scans (slower, still correct).
 */
async function trigramIndex(db: Kysely<unknown>): Promise<void> {
  const available = await sql`select 1 from pg_available_extensions where name = 'pg_trgm'`.execute(db);
  if (available.rows.length === 0) return;
  await sql`savepoint fido_trgm`.execute(db);
  try {
    await sql`create extension if not exists pg_trgm schema public`.execute(db);
    await sql`release savepoint fido_trgm`.execute(db);
  } catch {
    await sql`rollback to savepoint fido_trgm`.execute(db);
  }
  // Wherever it was installed (by us or before, in whichever schema).
  const found = await sql<{ schema: string }>`select n.nspname as schema from pg_opclass c join pg_namespace n on n.oid = c.opcnamespace
    where c.opcname = 'gin_trgm_ops' order by n.nspname = 'public' desc limit 1`.execute(db);
  const schema = found.rows[0]?.schema;
  if (schema === undefined) return;
  const ops = sql`${sql.id(schema)}.gin_trgm_ops`;
  await sql`create index incidents_q_trgm on incidents using gin (lower(title) ${ops}, lower(host) ${ops}, lower(user_name) ${ops})`.execute(db);
}
