import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { DialectName } from './dialect.js';
import * as m0001 from './migrations/0001_initial.js';
import * as m0002 from './migrations/0002_wakeups_and_decision_latency.js';
import * as m0003 from './migrations/0003_enrichment_revision.js';
import * as m0004 from './migrations/0004_log_structured_pipeline.js';
import * as m0005 from './migrations/0005_incident_digest.js';
import * as m0006 from './migrations/0006_intake_raw_bytes.js';
import * as m0007 from './migrations/0007_incremental_enrichment.js';
import * as m0008 from './migrations/0008_shared_enrichment_passes.js';
import * as m0009 from './migrations/0009_fingerprints_in_memory.js';
import * as m0010 from './migrations/0010_fractional_score_totals.js';
import * as m0011 from './migrations/0011_group_keys_in_memory.js';
import * as m0012 from './migrations/0012_observation_log.js';
import * as m0013 from './migrations/0013_drop_enrich_version.js';
import * as m0014 from './migrations/0014_action_approval_columns.js';
import * as m0015 from './migrations/0015_quota_and_address_history.js';
import * as m0016 from './migrations/0016_action_undo.js';
import * as m0017 from './migrations/0017_kill_switch.js';
import * as m0018 from './migrations/0018_follow_and_guards.js';
import * as m0019 from './migrations/0019_action_checkpoint.js';
import * as m0020 from './migrations/0020_incident_workflow.js';
import * as m0021 from './migrations/0021_queue_indexes.js';
import * as m0022 from './migrations/0022_change_feed.js';
import * as m0023 from './migrations/0023_incident_facets.js';
import * as m0024 from './migrations/0024_web_accounts.js';
import * as m0025 from './migrations/0025_audit_subject.js';
import * as m0026 from './migrations/0026_alert_counts.js';
import * as m0027 from './migrations/0027_backtests.js';
import * as m0028 from './migrations/0028_decisions_rule.js';
import * as m0029 from './migrations/0029_receiver_status.js';
import * as m0030 from './migrations/0030_intake_dedup_key.js';

interface Migration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

/** Ordered; append new migrations, never edit a released one. */
const MIGRATIONS: Array<[string, Migration]> = [
  ['0001_initial', m0001],
  ['0002_wakeups_and_decision_latency', m0002],
  ['0003_enrichment_revision', m0003],
  ['0004_log_structured_pipeline', m0004],
  ['0005_incident_digest', m0005],
  ['0006_intake_raw_bytes', m0006],
  ['0007_incremental_enrichment', m0007],
  ['0008_shared_enrichment_passes', m0008],
  ['0009_fingerprints_in_memory', m0009],
  ['0010_fractional_score_totals', m0010],
  ['0011_group_keys_in_memory', m0011],
  ['0012_observation_log', m0012],
  ['0013_drop_enrich_version', m0013],
  ['0014_action_approval_columns', m0014],
  ['0015_quota_and_address_history', m0015],
  ['0016_action_undo', m0016],
  ['0017_kill_switch', m0017],
  ['0018_follow_and_guards', m0018],
  ['0019_action_checkpoint', m0019],
  ['0020_incident_workflow', m0020],
  ['0021_queue_indexes', m0021],
  ['0022_change_feed', m0022],
  ['0023_incident_facets', m0023],
  ['0024_web_accounts', m0024],
  ['0025_audit_subject', m0025],
  ['0026_alert_counts', m0026],
  ['0027_backtests', m0027],
  ['0028_decisions_rule', m0028],
  ['0029_receiver_status', m0029],
  ['0030_intake_dedup_key', m0030],
];

export interface MigrateOptions {
  /**
   * Stop after this migration (it and those before it are applied; later ones are left pending). For tests
   * that build a store at an earlier release's schema and then upgrade it. Unknown names throw.
   */
  upTo?: string;
}

/** Applies pending migrations, each in its own transaction, recording them in fido_migrations. */
export async function migrate(db: Kysely<Database>, dialect: DialectName, options: MigrateOptions = {}): Promise<string[]> {
  const last = options.upTo === undefined ? MIGRATIONS.length - 1 : MIGRATIONS.findIndex(([name]) => name === options.upTo);
  if (last < 0) throw new Error(`migrate: no migration named "${options.upTo}"`);
  const raw = db as unknown as Kysely<{ fido_migrations: { name: string; applied_at: number } }>;
  await raw.schema
    .createTable('fido_migrations')
    .ifNotExists()
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  const applied: string[] = [];
  for (const [name, migration] of MIGRATIONS.slice(0, last + 1)) {
    const done = await raw.selectFrom('fido_migrations').select('name').where('name', '=', name).executeTakeFirst();
    if (done) continue;
    await raw.transaction().execute(async (tx) => {
      if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(727100)`.execute(tx);
      const again = await tx.selectFrom('fido_migrations').select('name').where('name', '=', name).executeTakeFirst();
      if (again) return;
      await migration.up(tx as unknown as Kysely<unknown>, dialect);
      await tx.insertInto('fido_migrations').values({ name, applied_at: Date.now() }).execute();
      applied.push(name);
    });
  }
  return applied;
}
