import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auth, testApi, type TestApi } from '../support/api.js';
import { DIALECTS } from '../support/stores.js';

// Issue 13 item 2: the configuration chooses a source's detector; a per-request choice is the admin's, on the record.
const post = (api: TestApi, source: string, role: 'analyst' | 'admin', detector?: string) =>
  api.app.inject({
    method: 'POST',
    url: `/api/v1/alerts/${source}${detector === undefined ? '' : `?detector=${detector}`}`,
    headers: { ...auth(role), 'content-type': 'text/plain' },
    payload: 'CEF:0|V|P|1|2|name|5|src=10.0.0.1',
  });

async function intakeRows(api: TestApi) {
  return api.t.store.db.selectFrom('intake').select(['id', 'source', 'detector']).orderBy('seq').execute();
}
async function auditRows(api: TestApi) {
  const rows = await api.t.store.db.selectFrom('audit_log').selectAll().where('action', '=', 'intake.detector_override').orderBy('id').execute();
  return rows.map((r) => ({ actor: r.actor, subject: r.subject, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

for (const dialect of DIALECTS) {
  test(`detector choice on ${dialect}: the configured detector, or an admin's recorded override`, async () => {
    const api = await testApi(dialect, {
      sources: [
        { name: 'ids', detector: 'suricata' },
        { name: 'fw', detector: 'auto' },
        { name: 'plain' }, // no detector: auto
      ],
      allowUndeclared: true,
    });
    try {
      // An analyst may name what the configuration names; that is no override and is not recorded.
      assert.equal((await post(api, 'ids', 'analyst')).statusCode, 202);
      assert.equal((await post(api, 'ids', 'analyst', 'suricata')).statusCode, 202);
      assert.equal((await post(api, 'fw', 'analyst', 'auto')).statusCode, 202);
      assert.equal((await post(api, 'plain', 'analyst', 'auto')).statusCode, 202);
      assert.deepEqual(
        (await intakeRows(api)).map((r) => [r.source, r.detector]),
        [['ids', 'suricata'], ['ids', 'suricata'], ['fw', null], ['plain', null]],
      );

      // Anything else is refused to an analyst, with a message that names the source, both detectors and the role.
      for (const [source, detector, configured] of [
        ['ids', 'cef', 'suricata'],
        ['ids', 'auto', 'suricata'], // auto-detection instead of the declared parser is a choice too
        ['fw', 'fireeye', 'auto'],
        ['plain', 'cisco_ftd', 'auto'],
      ] as const) {
        const r = await post(api, source, 'analyst', detector);
        assert.equal(r.statusCode, 403, `${source}?detector=${detector}`);
        const body = r.json() as { error: string; message: string };
        assert.equal(body.error, 'forbidden');
        assert.equal(
          body.message,
          `source "${source}" is configured with detector "${configured}"; choosing another per request (?detector=${detector}) needs the admin role`,
        );
      }
      assert.equal((await intakeRows(api)).length, 4, 'nothing refused reached the intake log');
      assert.deepEqual(await auditRows(api), [], 'no override happened, none is recorded');

      // An admin may override; each override is in the audit log, and the records carry the detector chosen.
      const over = await post(api, 'ids', 'admin', 'cef');
      assert.equal(over.statusCode, 202);
      const auto = await post(api, 'ids', 'admin', 'auto');
      assert.equal(auto.statusCode, 202);
      const undeclared = await post(api, 'new-sensor', 'admin', 'cef');
      assert.equal(undeclared.statusCode, 202);
      assert.equal((await post(api, 'ids', 'admin', 'suricata')).statusCode, 202, 'naming the configured detector is no override');
      const rows = await intakeRows(api);
      assert.deepEqual(
        rows.slice(4).map((r) => [r.source, r.detector]),
        [['ids', 'cef'], ['ids', null], ['new-sensor', 'cef'], ['ids', 'suricata']],
      );
      assert.deepEqual(await auditRows(api), [
        { actor: 'admin', subject: 'ids', detail: { detector: 'cef', configured: 'suricata', declared: true, records: 1 } },
        { actor: 'admin', subject: 'ids', detail: { detector: 'auto', configured: 'suricata', declared: true, records: 1 } },
        { actor: 'admin', subject: 'new-sensor', detail: { detector: 'cef', configured: 'auto', declared: false, records: 1 } },
      ]);
    } finally {
      await api.close();
    }
  });
}
