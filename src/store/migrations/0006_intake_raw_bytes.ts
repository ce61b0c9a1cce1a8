/**
 * intake.raw_base64: the exact bytes of a record that is not valid UTF-8, so that raw is stored byte for byte
 * (issue 13): `raw` keeps their decoding for the detectors and for people, this column the bytes themselves.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('intake').addColumn('raw_base64', 'text').execute();
}
