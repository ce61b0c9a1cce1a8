/**
 * Two tables and a column for enrichment.
 *
 * - enrich_quota: calls made to each provider in the current minute, hour, day and month, shared by every Fido
 *   process so that a service's quota (a free tier's 500 lookups a day) holds across restarts and workers
 *   (enrich/quota.ts). One row per provider and period; `start` is the period's start, and a row of an older
 *   period counts from zero again.
 * - address_bindings: which machine and person held an address when (VPN sessions, DHCP leases, sign-ons), so
 *   that an alert resolves to whoever held the address at its time (enrich/address-bindings.ts). `end_at` null:
 *   still held as far as Fido knows. `key` makes a binding reported again (a lease file re-read, a context
 *   event redelivered) one row.
 * - enrichments.cache: whether a stored answer came from the cache (hit, coalesced) or from its source (miss),
 *   for the incident page; null for answers stored before.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('enrich_quota')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('start', 'bigint', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('enrich_quota_pk', ['provider', 'period'])
    .execute();

  await db.schema
    .createTable('address_bindings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('start_at', 'bigint', (c) => c.notNull())
    .addColumn('end_at', 'bigint')
    .addColumn('host', 'text')
    .addColumn('user_name', 'text')
    .addColumn('mac', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await sql`create index address_bindings_ip_start on address_bindings (ip, start_at)`.execute(db);
  await db.schema.alterTable('enrichments').addColumn('cache', 'text').execute();
}
