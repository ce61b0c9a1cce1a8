/**
 * Facts reach everything scoped by them (issue 16, item 4): an alert that names only an address gets the
 * machine and person that held the address at its time, as the incident's host and user, and every fact
 * about them (inventory, allowlist, scoring) applies as if the alert had named them. Through the real
 * pipeline (buildPipeline) on a real store, from intake to decision, and found by the API's search.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { buildPipeline } from '../../src/pipeline/build.js';
import { loadIncidentDetail } from '../../src/store/incidents.js';
import { log } from '../../src/util/log.js';
import { auth, testApi } from '../support/api.js';
import { tempDir } from '../support/stores.js';

const FIXTURES = new URL('../fixtures/leases/', import.meta.url);

function config(dir: string): string {
  copyFileSync(new URL('dhcpd.leases', FIXTURES), join(dir, 'dhcpd.leases'));
  copyFileSync(new URL('openvpn-status-v2.log', FIXTURES), join(dir, 'server.status'));
  writeFileSync(join(dir, 'inventory.csv'), 'host,ip,owner,criticality\nlaptop-bob,,bob,high\nkiosk-7,,facilities,low\nbuild-01.corp.example,10.1.5.5,ci,medium\n');
  writeFileSync(
    join(dir, 'fido.yaml'),
    `sources:
  - name: ids
    detector: suricata
  - name: edge
    detector: cef
enrichment:
  providers:
    - { name: inventory, kind: inventory, file: inventory.csv }
    - name: allowlist
      kind: allowlist
      entries:
        - { host: laptop-bob, reason: "bob's pen-test laptop" }
        - { host: build-01.corp.example, reason: "build server fetches from anywhere" }
    - name: addresses
      kind: address_history
      poll: 1h
      files:
        - { path: dhcpd.leases, format: isc_dhcpd }
        - { path: server.status, format: openvpn_status }
scoring:
  profile: default
policy:
  rules:
    - { name: allowlisted, when: "score.components.allowlist < 0.0", outcome: log }
    - { name: notify, when: "score.total >= 0.0", outcome: notify }
`,
  );
  return join(dir, 'fido.yaml');
}

const eve = (time: string, src: string, sid: number) =>
  JSON.stringify({
    timestamp: time,
    event_type: 'alert',
    src_ip: src,
    src_port: 50000,
    dest_ip: '8.8.8.8',
    dest_port: 443,
    proto: 'TCP',
    alert: { signature_id: sid, signature: `test signature ${sid}`, severity: 2 },
  });

test('an alert naming only an address: the holder at its time becomes the incident host/user, and the facts about them apply', async () => {
  const dir = tempDir();
  const loaded = await loadConfig(config(dir));
  const api = await testApi('sqlite');
  const pipeline = await buildPipeline({ store: api.t.store, loaded, owner: 'test', log, ingest: {}, incidents: {} });
  try {
    await api.intake.accept('ids', 'suricata', [
      // 10.1.2.50 was laptop-bob's until 09:00 and kiosk-7's from 09:30 (dhcpd.leases): the alert is at 08:30.
      { raw: eve('2026-12-07T08:30:00Z', '10.1.2.50', 1001) },
      // 10.8.0.6 is alice's VPN tunnel address from 08:00 (OpenVPN status).
      { raw: eve('2026-12-07T09:14:00Z', '10.8.0.6', 1002) },
      // 10.1.5.5 is in the inventory only: no lease, no session.
      { raw: eve('2026-12-07T09:20:00Z', '10.1.5.5', 1003) },
    ]);
    await pipeline.pipeline.drain();
    const rows = await api.t.store.db.selectFrom('incidents').select(['id', 'host', 'user_name', 'title']).orderBy('first_seen').execute();
    assert.equal(rows.length, 3);
    const [bob, alice, build] = rows;

    assert.equal(bob!.host, 'laptop-bob', 'the holder at 08:30, not kiosk-7 which holds it now');
    const bobDetail = (await loadIncidentDetail(api.t.store.db, bob!.id))!;
    const answer = (provider: string, type: string, value: string): Record<string, unknown> | undefined => {
      const e = bobDetail.enrichment.find((x) => x.provider === provider && x.subject.type === type && x.subject.value === value);
      return e && 'data' in e ? e.data : undefined;
    };
    assert.equal(answer('addresses', 'ip', '10.1.2.50')?.host, 'laptop-bob');
    assert.equal(answer('inventory', 'host', 'laptop-bob')?.criticality, 'high', 'inventory facts for the derived host');
    assert.ok(answer('allowlist', 'host', 'laptop-bob'), 'the allowlist entry for the host applies to the alert that named only its address');
    const factors = bobDetail.score?.explanation.map((x) => x.factor) ?? [];
    assert.ok(factors.includes('allowlist'), `allowlist is a scoring factor: ${factors.join(', ')}`);
    assert.equal(bobDetail.decision?.rule, 'allowlisted', 'and policy decides on it');

    assert.equal(alice!.user_name, 'alice', 'the VPN session holder at 09:14');
    assert.equal(alice!.host, '10.8.0.6', 'a VPN session names a person, not a machine: the host stays the address');

    assert.equal(build!.host, 'build-01.corp.example', 'an inventory address names its machine');
    const buildDetail = (await loadIncidentDetail(api.t.store.db, build!.id))!;
    assert.equal(buildDetail.decision?.rule, 'allowlisted');

    // The API's search finds incidents by the names enrichment gave them.
    for (const [q, id] of [['laptop-bob', bob!.id], ['alice', alice!.id], ['build-01', build!.id]] as const) {
      const res = await api.app.inject({ method: 'GET', url: `/api/v1/incidents?q=${q}`, headers: auth('viewer') });
      assert.equal(res.statusCode, 200);
      assert.deepEqual((res.json() as { items: Array<{ id: string }> }).items.map((i) => i.id), [id], q);
    }
  } finally {
    await pipeline.close();
    await api.close();
  }
});

test('an alert that names the host itself gets the same facts: the allowlist applies both ways', async () => {
  const dir = tempDir();
  const loaded = await loadConfig(config(dir));
  const api = await testApi('sqlite');
  const pipeline = await buildPipeline({ store: api.t.store, loaded, owner: 'test', log, ingest: {}, incidents: {} });
  try {
    // The same machine by name, from an address no lease or inventory knows.
    await api.intake.accept('edge', 'cef', [{ raw: 'CEF:0|Acme|Sensor|1.0|100|Beacon to C2|7|rt=Dec 07 2026 08:30:00 UTC src=10.9.9.9 shost=laptop-bob dst=8.8.8.8 dpt=443' }]);
    await pipeline.pipeline.drain();
    const [row] = await api.t.store.db.selectFrom('incidents').select(['id', 'host']).execute();
    const detail = (await loadIncidentDetail(api.t.store.db, row!.id))!;
    assert.ok(detail.enrichment.some((e) => e.provider === 'allowlist' && e.subject.type === 'host' && e.subject.value === 'laptop-bob' && !('error' in e) && e.found));
    assert.ok(detail.score?.explanation.some((x) => x.factor === 'allowlist'));
    assert.equal(detail.decision?.rule, 'allowlisted');
  } finally {
    await pipeline.close();
    await api.close();
  }
});

test("a VPN context event from a real product's log names who held the tunnel address when a later alert came from it", async () => {
  const dir = tempDir();
  const loaded = await loadConfig(config(dir));
  const api = await testApi('sqlite');
  const pipeline = await buildPipeline({ store: api.t.store, loaded, owner: 'test', log, ingest: {}, incidents: {} });
  try {
    // PAN-OS GlobalProtect (test/fixtures/samples/panos_globalprotect): bob on HOST-7 got fd00::abcd at 21:45:14.
    const gp = readFileSync(new URL('../fixtures/samples/panos_globalprotect/globalprotect.log', import.meta.url), 'utf8').split('\n')[0]!;
    await api.intake.accept('gp', 'panos_globalprotect', [{ raw: gp }]);
    await pipeline.pipeline.drain();
    await api.intake.accept('ids', 'suricata', [{ raw: eve('2021-11-09T22:00:00Z', 'fd00::abcd', 1005) }]);
    await pipeline.pipeline.drain();
    const rows = await api.t.store.db.selectFrom('incidents').select(['host', 'user_name']).execute();
    assert.deepEqual(rows, [{ host: 'host-7', user_name: 'bob' }]);
  } finally {
    await pipeline.close();
    await api.close();
  }
});
