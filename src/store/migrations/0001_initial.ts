/**
 * The whole schema, written once for both dialects with portable column types. The only dialect branch is
 * the auto-increment key (see `serial`).
 */
import { sql, type Kysely, type ColumnDefinitionBuilder } from 'kysely';

type Db = Kysely<unknown>;
type Dialect = 'sqlite' | 'postgres';

export async function up(db: Db, dialect: Dialect): Promise<void> {
  const serial = (c: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement();
  const idType = dialect === 'postgres' ? 'bigint' : 'integer';

  await db.schema
    .createTable('intake')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('detector', 'text')
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('quarantine')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('intake_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('detector', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('replayed_at', 'bigint')
    .execute();
  await db.schema.createIndex('quarantine_intake').on('quarantine').column('intake_id').unique().execute();
  await db.schema.createIndex('quarantine_created').on('quarantine').columns(['source', 'created_at']).execute();

  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('intake_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('detector', 'text', (c) => c.notNull())
    .addColumn('vendor_id', 'text')
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('severity', 'integer', (c) => c.notNull())
    .addColumn('rule_id', 'text')
    .addColumn('host', 'text')
    .addColumn('user_name', 'text')
    .addColumn('incident_id', 'text')
    .addColumn('repeat_count', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('last_repeat_at', 'bigint')
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('alerts_vendor').on('alerts').columns(['source', 'detector', 'vendor_id']).unique().execute();
  await db.schema.createIndex('alerts_incident').on('alerts').columns(['incident_id', 'time']).execute();
  await db.schema.createIndex('alerts_intake').on('alerts').column('intake_id').execute();
  await db.schema.createIndex('alerts_host').on('alerts').columns(['host', 'time']).execute();
  await db.schema.createIndex('alerts_user').on('alerts').columns(['user_name', 'time']).execute();

  await db.schema
    .createTable('observables')
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('observables_pk', ['alert_id', 'type', 'value', 'role'])
    .execute();
  await db.schema.createIndex('observables_value').on('observables').columns(['type', 'value', 'time']).execute();

  await db.schema
    .createTable('context_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('detector', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('context_kind_time').on('context_events').columns(['kind', 'time']).execute();

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('verdict', 'text')
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addColumn('alert_count', 'integer', (c) => c.notNull())
    .addColumn('severity', 'integer', (c) => c.notNull())
    .addColumn('host', 'text')
    .addColumn('user_name', 'text')
    .addColumn('score_total', 'integer')
    .addColumn('score', 'text')
    .addColumn('decision', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // The list endpoint pages by id (ULIDs sort by creation) with optional status / score filters.
  await db.schema.createIndex('incidents_status').on('incidents').columns(['status', 'id']).execute();
  await db.schema.createIndex('incidents_score').on('incidents').columns(['score_total', 'id']).execute();
  await db.schema.createIndex('incidents_host').on('incidents').columns(['host', 'last_seen']).execute();
  await db.schema.createIndex('incidents_user').on('incidents').columns(['user_name', 'last_seen']).execute();

  await db.schema
    .createTable('incident_keys')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('fingerprints')
    .addColumn('fingerprint', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('timeline')
    .addColumn('id', idType, serial)
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text')
    .addColumn('action_id', 'text')
    .execute();
  await db.schema.createIndex('timeline_incident').on('timeline').columns(['incident_id', 'at']).execute();

  await db.schema
    .createTable('enrich_cache')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('found', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('fetched_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('enrich_cache_pk', ['provider', 'key'])
    .execute();
  await db.schema.createIndex('enrich_cache_expiry').on('enrich_cache').column('expires_at').execute();

  await db.schema
    .createTable('enrichments')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject_type', 'text', (c) => c.notNull())
    .addColumn('subject_value', 'text', (c) => c.notNull())
    .addColumn('found', 'integer', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('fetched_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('enrichments_pk', ['incident_id', 'provider', 'subject_type', 'subject_value'])
    .execute();

  await db.schema
    .createTable('scores')
    .addColumn('id', idType, serial)
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('config_version', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('scores_incident').on('scores').columns(['incident_id', 'id']).execute();

  await db.schema
    .createTable('decisions')
    .addColumn('id', idType, serial)
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('config_version', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('decisions_incident').on('decisions').columns(['incident_id', 'id']).execute();

  await db.schema
    .createTable('actions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('decision_id', idType)
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('approval', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('result', 'text')
    .addColumn('approved_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('actions_state').on('actions').columns(['state', 'next_attempt_at']).execute();
  await db.schema.createIndex('actions_incident').on('actions').column('incident_id').execute();

  await db.schema
    .createTable('action_attempts')
    .addColumn('id', idType, serial)
    .addColumn('action_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('outcome', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('action_attempts_action').on('action_attempts').column('action_id').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', idType, serial)
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_at').on('audit_log').column('at').execute();

  await db.schema
    .createTable('receiver_cursors')
    .addColumn('receiver', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('receiver_cursors_pk', ['receiver', 'key'])
    .execute();

  await db.schema
    .createTable('config_versions')
    .addColumn('version', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();

  await db.schema
    .createTable('stage_queue')
    .addColumn('id', idType, serial)
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('item_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('available_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('stage_queue_item').on('stage_queue').columns(['stage', 'item_id']).unique().execute();
  await db.schema.createIndex('stage_queue_claim').on('stage_queue').columns(['stage', 'available_at', 'id']).execute();

  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('until', 'bigint', (c) => c.notNull())
    .execute();

  void sql; // kept for dialect-specific statements in later migrations
}
