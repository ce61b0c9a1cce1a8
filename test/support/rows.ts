/** Store rows for tests that seed incidents directly, without running intake and the pipeline. */
import type { Alert } from '../../src/model/alert.js';
import type { Db } from '../../src/store/store.js';

/** Writes canonical alerts as rows of `incidentId`, the way the normalize stage stores them (raw apart). */
export async function insertAlertRows(db: Db, incidentId: string, alerts: readonly Alert[], repeatCount = 1): Promise<void> {
  for (const a of alerts) {
    const { raw, ...doc } = a;
    await db
      .insertInto('alerts')
      .values({
        id: a.id,
        intake_id: `in-${a.id}`,
        source: a.source,
        detector: a.detector,
        vendor_id: null,
        fingerprint: `fp-${a.id}`,
        time: Date.parse(a.time),
        received_at: Date.parse(a.received_at),
        title: a.title,
        severity: a.severity,
        rule_id: a.rule?.id ?? null,
        host: a.host?.name ?? null,
        user_name: a.user?.name ?? null,
        incident_id: incidentId,
        repeat_count: repeatCount,
        last_repeat_at: null,
        doc: JSON.stringify(doc),
        raw,
      })
      .execute();
  }
}
