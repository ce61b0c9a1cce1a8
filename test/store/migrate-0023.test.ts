/**
 * Migration 0023: incident_facets filled from the alerts already placed (each incident's detectors and
 * sources once; alerts of no incident left out), and 0021's alerts (detector / source) indexes dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { DIALECTS, newStorePlace } from '../support/stores.js';
import { dialectFor, openStore } from '../../src/store/store.js';
import { migrate } from '../../src/store/migrate.js';

for (const name of DIALECTS) {
  test(`migration 0023 on ${name}: incident facets from the alerts; the alerts' detector and source indexes dropped`, async () => {
    const place = newStorePlace(name);
    try {
      const dialect = dialectFor({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
      await dialect.prepare?.();
      const db = dialect.connect();
      try {
        await migrate(db, dialect.name, { upTo: '0022_change_feed' });
        const alert = (id: string, incident: string | null, source: string, detector: string) =>
          sql`insert into alerts (id, intake_id, source, detector, fingerprint, time, received_at, title, severity, incident_id, repeat_count, doc, raw)
              values (${id}, ${id}, ${source}, ${detector}, ${`fp-${id}`}, 0, 0, 't', 10, ${incident}, 1, '{}', '')`.execute(db);
        await alert('A1', 'INC1', 'dmz', 'suricata');
        await alert('A2', 'INC1', 'dmz', 'suricata');
        await alert('A3', 'INC1', 'honeypot', 'suricata');
        await alert('A4', 'INC2', 'dmz', 'sigma');
        await alert('A5', null, 'edr', 'crowdstrike');
      } finally {
        await db.destroy();
      }
      const store = await openStore({ databaseUrl: place.url, dataDir: place.dataDir, sqliteSynchronous: 'NORMAL' });
      try {
        const rows = await store.db.selectFrom('incident_facets').selectAll().orderBy('incident_id').orderBy('facet').orderBy('value').execute();
        assert.deepEqual(rows.map((r) => [r.incident_id, r.facet, r.value]), [
          ['INC1', 'detector', 'suricata'],
          ['INC1', 'source', 'dmz'],
          ['INC1', 'source', 'honeypot'],
          ['INC2', 'detector', 'sigma'],
          ['INC2', 'source', 'dmz'],
        ]);
        const indexes =
          name === 'sqlite'
            ? await sql<{ name: string }>`select name from sqlite_master where type = 'index'`.execute(store.db)
            : await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema()`.execute(store.db);
        const have = indexes.rows.map((r) => r.name);
        assert.ok(have.includes('incident_facets_value'));
        assert.ok(!have.includes('alerts_q_detector') && !have.includes('alerts_q_source'), have.join(', '));
      } finally {
        await store.close();
      }
    } finally {
      await place.drop();
    }
  });
}
