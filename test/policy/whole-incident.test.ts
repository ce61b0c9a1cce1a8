/**
 * Policy sees the whole incident (issue 13, item 3): a decisive alert that arrives as the 101st or the 501st
 * of an incident, with an earlier time stamp than the rest and followed by more alerts, is seen by rules over
 * `alerts`, `incident` and `observables`, and by the score. Records go through the real intake log, ingest
 * and the decide stage on both stores; the incident detail counts and pages through every alert.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore, type TestStore } from '../support/stores.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { createIngest, type RecordNormalizer } from '../../src/pipeline/ingest/index.js';
import { createDecideStage } from '../../src/pipeline/stages/decide.js';
import { loadPolicy } from '../../src/policy/rules.js';
import { countAlerts, loadIncidentAlerts, loadIncidentDetail } from '../../src/store/incidents.js';
import { DIGEST_RECENT } from '../../src/correlate/digest.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { log } from '../../src/util/log.js';
import { MAIL_AND_WEBHOOK, fileSandbox } from './support.js';

const sandbox = fileSandbox();
const draftNormalizer: RecordNormalizer = {
  normalize: (text) => ({ detector: 'draft', alerts: [JSON.parse(text) as AlertDraft] }),
};
const T0 = Date.parse('2026-11-27T10:00:00Z');
const FLOOD_DOMAIN = { type: 'domain' as const, value: 'flood.example', role: 'dst' };
const IOC = '203.0.113.66';

/** The n-th ordinary alert: a scan from ws-1, each with a fingerprint of its own, all sharing the flood domain. */
function ordinary(n: number): string {
  const d: AlertDraft = {
    time: new Date(T0 + n * 1000).toISOString(),
    title: 'Scan',
    severity: 30,
    rule: { id: 'r-flood', name: 'Port scan' },
    host: { name: 'ws-1' },
    dst: { ip: `198.18.${n >> 8}.${n & 255}`, port: 1000 + n },
    observables: [FLOOD_DOMAIN, { type: 'ip', value: `198.18.${n >> 8}.${n & 255}`, role: 'dst' }],
  };
  return JSON.stringify(d);
}

/** The alert that decides: another rule, a known-bad address, same severity, an hour before the others. */
function decisive(): string {
  const d: AlertDraft = {
    time: new Date(T0 - 3_600_000).toISOString(),
    title: 'Cobalt Strike beacon',
    severity: 30,
    rule: { id: 'r-decisive', name: 'Cobalt Strike' },
    host: { name: 'ws-1' },
    dst: { ip: IOC, port: 443 },
    observables: [FLOOD_DOMAIN, { type: 'ip', value: IOC, role: 'dst' }],
  };
  return JSON.stringify(d);
}

const WHENS = {
  alerts: 'alerts.exists(a, a.rule.id == "r-decisive")',
  incident: 'incident.rules.exists(r, r == "Cobalt Strike")',
  observables: `observables.exists(o, o.value == "${IOC}")`,
};

async function decideWith(t: TestStore, incidentId: string, when: string): Promise<string | null> {
  const targets = MAIL_AND_WEBHOOK;
  const stage = createDecideStage({
    store: t.store,
    policy: loadPolicy({ rules: [{ name: 'decisive', when, outcome: 'escalate' }], baseDir: '.', targets }),
    configVersion: 'cfg-1',
    targetKinds: targets,
    sandbox,
  });
  const [d] = await stage.compute([{ id: 1, item_id: incidentId, version: 1, attempts: 1 }], t.store.db);
  return d?.decision.rule ?? null;
}

for (const dialect of DIALECTS) {
  for (const position of [101, 501]) {
    test(`policy on ${dialect}: a decisive alert arriving as alert ${position}, earlier in time and followed by more, decides the incident`, async () => {
      const t = await openTestStore(dialect);
      try {
        const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
        const ingest = createIngest({ store: t.store, normalizer: draftNormalizer, correlation: { dedupWindowMs: 600_000, groupWindowMs: 7_200_000 }, owner: 'test', log, batchSize: 200 });
        const after = DIGEST_RECENT + 30; // enough later alerts that it is not among the newest
        const records = [
          ...Array.from({ length: position - 1 }, (_, i) => ordinary(i)),
          decisive(),
          ...Array.from({ length: after }, (_, i) => ordinary(position + i)),
        ];
        for (let i = 0; i < records.length; i += 100) {
          await intake.accept('test', 'draft', records.slice(i, i + 100).map((raw) => ({ raw })));
        }
        while ((await ingest.runBatch()) > 0);
        await ingest.stop();

        const incidents = await t.store.db.selectFrom('incidents').select(['id', 'alert_count']).execute();
        assert.equal(incidents.length, 1, 'one incident: every alert shares the host and the flood domain');
        const id = incidents[0]!.id;
        assert.equal(Number(incidents[0]!.alert_count), records.length);

        // Without the decisive alert nothing matches; with it, each way of looking at the incident sees it.
        for (const [variable, when] of Object.entries(WHENS)) {
          assert.equal(await decideWith(t, id, when), 'decisive', `a rule over ${variable} sees the decisive alert`);
          assert.equal(await decideWith(t, id, when.replace(/r-decisive|Cobalt Strike|203\.0\.113\.66/, 'absent')), '(default)', `${variable}: the rule can fail`);
        }

        // The detail counts every alert and pages through all of them.
        const detail = await loadIncidentDetail(t.store.db, id);
        assert.ok(detail?.digest);
        assert.deepEqual(
          detail.digest.rules.map((r) => [r.rule_id, r.alerts]),
          [['r-flood', records.length - 1], ['r-decisive', 1]],
        );
        assert.deepEqual(detail.digest.recent, detail.digest.recent.slice().sort(), 'the newest alerts in arrival order (their ids sort by record)');
        assert.equal(await countAlerts(t.store.db, id), records.length);
        const seen: string[] = [];
        for (let cursor: string | undefined; ; ) {
          const page = await loadIncidentAlerts(t.store.db, id, { limit: 64, ...(cursor ? { after: cursor } : {}) });
          assert.equal(page.total, records.length);
          seen.push(...page.items.map((a) => a.rule?.id ?? ''));
          if (!page.next_cursor) break;
          cursor = page.next_cursor;
        }
        assert.equal(seen.length, records.length, 'every alert once');
        assert.equal(seen[0], 'r-decisive', 'oldest first by alert time');
      } finally {
        await t.cleanup();
      }
    });
  }
}
