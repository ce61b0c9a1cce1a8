import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from 'typebox/value';
import { incidentAssets, mergeAssets, type AssetAnswerInput } from '../../src/enrich/assets.js';
import { loadIncidentDetail, loadIncidentDetails } from '../../src/store/incidents.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { auth, testApi } from '../support/api.js';
import { insertIncident } from './support.js';
import type { Store } from '../../src/store/store.js';
import type { ObservableType } from '../../src/model/observable.js';
import { parseConfigText } from '../../src/config/validate.js';
import { configKinds } from '../../src/config/load.js';

type Subject = { type: ObservableType; value: string };

const NOW = Date.parse('2026-11-27T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(ms).toISOString();

/** An inventory answer in the shape all four inventory kinds give. */
function answer(provider: string, fetchedAt: number, data: Record<string, unknown>, subject: Subject = { type: 'host', value: 'ws-042' }): AssetAnswerInput {
  return {
    provider,
    subject,
    found: true,
    fetched_at: at(fetchedAt),
    data: { host: 'ws-042.corp.example', ips: [], macs: [], owner: null, os: null, criticality: null, tags: [], attributes: {}, matched_by: 'host', ...data },
  };
}

// The CMDB export (CSV), JAMF (with its own last contact) and a SQL inventory that is days behind.
const cmdb = answer('cmdb', NOW - HOUR, { ips: ['10.1.2.3'], owner: 'alice', os: 'Windows 11', criticality: 'medium', tags: ['workstation', 'PCI'], attributes: { location: 'Floor 3' } });
const jamf = answer('jamf', NOW - 2 * HOUR, {
  host: 'WS-042',
  ips: ['10.1.2.3', '10.9.9.9', 'not-an-ip'],
  macs: ['3c:52:82:0a:42:01'],
  owner: 'alice.smith',
  os: 'windows 11',
  tags: ['pci'],
  attributes: { serialNumber: 'C02X', lastContactTime: at(NOW - 10 * MIN) },
  last_seen: at(NOW - 10 * MIN),
});
const sqlinv = answer('sqlinv', NOW - 3 * DAY, { owner: 'alice', criticality: 'high', ips: ['10.1.2.4'], attributes: { location: 'Floor 4' } });

test('mergeAssets: configured precedence first; a provider without a value leaves it to the next; every value says its source', () => {
  const m = mergeAssets([cmdb, jamf, sqlinv], { precedence: ['jamf', 'cmdb'], now: NOW });
  assert.deepEqual(m.owner, { value: 'alice.smith', source: 'jamf', fetched_at: at(NOW - 2 * HOUR), last_seen: at(NOW - 10 * MIN) });
  assert.deepEqual(m.criticality, { value: 'medium', source: 'cmdb', fetched_at: at(NOW - HOUR), last_seen: null }, 'jamf has none: the next in precedence gives it');
  assert.equal(m.host?.value, 'WS-042');
  assert.equal(m.os?.source, 'jamf');
  assert.deepEqual(m.attributes.location, { value: 'Floor 3', source: 'cmdb', fetched_at: at(NOW - HOUR), last_seen: null }, 'unlisted sqlinv comes after the listed ones');
  assert.equal(m.attributes.serialNumber?.source, 'jamf');
  assert.deepEqual(
    m.sources.map((s) => s.provider),
    ['jamf', 'cmdb', 'sqlinv'],
  );
  // Disagreements are listed best first; the same value in other letter case, or a short name and its FQDN, is not one.
  assert.deepEqual(m.conflicts, [
    { field: 'owner', values: [{ value: 'alice.smith', source: 'jamf' }, { value: 'alice', source: 'cmdb' }, { value: 'alice', source: 'sqlinv' }] },
    { field: 'criticality', values: [{ value: 'medium', source: 'cmdb' }, { value: 'high', source: 'sqlinv' }] },
    { field: 'attributes.location', values: [{ value: 'Floor 3', source: 'cmdb' }, { value: 'Floor 4', source: 'sqlinv' }] },
  ]);
  // Precedence the other way round flips the owner.
  const flipped = mergeAssets([cmdb, jamf, sqlinv], { precedence: ['sqlinv', 'cmdb', 'jamf'], now: NOW });
  assert.equal(flipped.owner?.source, 'sqlinv');
  assert.deepEqual(flipped.criticality?.value, 'high');
});

test('mergeAssets: without precedence the fresher answer wins, by its own last_seen (or lastContactTime) before fetched_at', () => {
  const m = mergeAssets([cmdb, jamf, sqlinv], { now: NOW });
  assert.deepEqual(
    m.sources.map((s) => s.provider),
    ['jamf', 'cmdb', 'sqlinv'],
    'jamf last seen 10 min ago beats the cmdb fetched an hour ago, although jamf was fetched earlier',
  );
  assert.equal(m.owner?.value, 'alice.smith');

  // A record fetched a minute ago but last heard of two days ago is old news.
  const staleRecord = answer('jamf', NOW - MIN, { owner: 'bob', last_seen: at(NOW - 2 * DAY) });
  assert.equal(mergeAssets([staleRecord, cmdb], { now: NOW }).owner?.source, 'cmdb');
  // Without last_seen, attributes.lastContactTime is the record's time.
  const byContact = answer('jamf', NOW - MIN, { owner: 'bob', attributes: { lastContactTime: at(NOW - 2 * DAY) } });
  const m2 = mergeAssets([byContact, cmdb], { now: NOW });
  assert.equal(m2.owner?.source, 'cmdb');
  assert.equal(m2.sources[1]?.last_seen, at(NOW - 2 * DAY));
  // An unreadable last_seen falls back to fetched_at.
  const garbled = answer('jamf', NOW - MIN, { owner: 'bob', last_seen: 'yesterday-ish' });
  assert.equal(mergeAssets([garbled, cmdb], { now: NOW }).owner?.source, 'jamf');
  // Equal freshness and no precedence: the order given decides, so the result is stable.
  const a = answer('a', NOW - HOUR, { owner: 'x' });
  const b = answer('b', NOW - HOUR, { owner: 'y' });
  assert.equal(mergeAssets([a, b], { now: NOW }).owner?.value, 'x');
  assert.equal(mergeAssets([b, a], { now: NOW }).owner?.value, 'y');
});

test('mergeAssets: answers older than max_age are left out and listed as stale', () => {
  const m = mergeAssets([cmdb, jamf, sqlinv], { maxAgeMs: DAY, now: NOW });
  assert.deepEqual(m.sources.map((s) => s.provider), ['jamf', 'cmdb']);
  assert.deepEqual(m.stale, [{ provider: 'sqlinv', fetched_at: at(NOW - 3 * DAY), last_seen: null }]);
  assert.equal(m.criticality?.value, 'medium');
  assert.ok(!m.conflicts.some((c) => c.field === 'criticality'), 'a stale answer does not disagree');
  assert.ok(!m.ips.some((i) => i.value === '10.1.2.4'), 'nor add addresses');
  // The age is the record's own: JAMF fetched now but last in contact 2 days ago is stale.
  const old = answer('jamf', NOW, { owner: 'bob', last_seen: at(NOW - 2 * DAY) });
  const all = mergeAssets([old], { maxAgeMs: DAY, now: NOW });
  assert.equal(all.owner, null);
  assert.deepEqual(all.sources, []);
  assert.equal(all.stale[0]?.provider, 'jamf');
});

test('mergeAssets: ips, macs and tags are unions naming every source; invalid items dropped', () => {
  const m = mergeAssets([cmdb, jamf, sqlinv], { precedence: ['cmdb'], now: NOW });
  // Best answer's items first: cmdb (precedence), then jamf (fresher), then sqlinv.
  assert.deepEqual(m.ips, [
    { value: '10.1.2.3', sources: ['cmdb', 'jamf'] },
    { value: '10.9.9.9', sources: ['jamf'] },
    { value: '10.1.2.4', sources: ['sqlinv'] },
  ]);
  assert.deepEqual(m.macs, [{ value: '3c:52:82:0a:42:01', sources: ['jamf'] }]);
  assert.deepEqual(m.tags, [
    { value: 'workstation', sources: ['cmdb'] },
    { value: 'PCI', sources: ['cmdb', 'jamf'] },
  ], 'tags match case-insensitively; the best source spells it');
});

test('mergeAssets: one vote per provider (its freshest answer); misses, errors and other shapes are ignored', () => {
  const older = answer('cmdb', NOW - 5 * HOUR, { owner: 'old-owner', ips: ['10.0.0.99'] }, { type: 'ip', value: '10.0.0.99' });
  const m = mergeAssets([older, cmdb], { now: NOW });
  assert.deepEqual(m.sources.map((s) => s.provider), ['cmdb']);
  assert.equal(m.owner?.value, 'alice');
  assert.deepEqual(m.conflicts, [], 'a provider does not disagree with its own older answer');
  assert.deepEqual(m.ips.map((i) => i.value), ['10.1.2.3']);

  const others: AssetAnswerInput[] = [
    { provider: 'segments', fetched_at: at(NOW), found: true, data: { zone: 'corporate', criticality: 'critical' } },
    { provider: 'leases', fetched_at: at(NOW), found: true, data: { host: 'ws-042', user: 'alice' } },
    { ...answer('inv2', NOW, { owner: 'zed' }), found: false },
  ];
  const n = mergeAssets([...others, cmdb], { now: NOW });
  assert.deepEqual(n.sources.map((s) => s.provider), ['cmdb']);
  assert.equal(n.criticality?.value, 'medium');
  const empty = mergeAssets([], { now: NOW });
  assert.deepEqual(empty, { host: null, owner: null, os: null, criticality: null, ips: [], macs: [], tags: [], attributes: {}, sources: [], stale: [], conflicts: [] });
  // A criticality word outside the scale is not a criticality.
  assert.equal(mergeAssets([answer('x', NOW, { criticality: 'Tier 1' })], { now: NOW }).criticality, null);
});

test('incidentAssets: a host, its FQDN and the addresses that resolve to it are one machine; other machines stay apart', () => {
  const rows: AssetAnswerInput[] = [
    // The incident's host asked by short name; the CSV knows the FQDN.
    answer('cmdb', NOW - HOUR, { host: 'ws-042.corp.example', owner: 'alice' }, { type: 'host', value: 'ws-042' }),
    // JAMF answered about the address; the enrich stage then asked about the derived FQDN.
    answer('jamf', NOW - HOUR, { host: 'ws-042.corp.example', owner: 'alice.smith' }, { type: 'ip', value: '10.1.2.3' }),
    answer('jamf', NOW - HOUR, { host: 'ws-042.corp.example', owner: 'alice.smith' }, { type: 'host', value: 'ws-042.corp.example' }),
    // A second machine known only through its address.
    answer('cmdb', NOW - HOUR, { host: 'db-pay-01.corp.example', criticality: 'critical' }, { type: 'ip', value: '10.20.5.21' }),
    // Same short name in two domains: two machines.
    answer('cmdb', NOW - HOUR, { host: 'ws-050.corp.example' }, { type: 'ip', value: '10.1.2.50' }),
    answer('cmdb', NOW - HOUR, { host: 'ws-050.lab.example' }, { type: 'ip', value: '10.9.2.50' }),
    // Not asset answers.
    { provider: 'segments', subject: { type: 'ip', value: '10.1.2.3' }, fetched_at: at(NOW), found: true, data: { zone: 'corporate' } },
    { provider: 'inv', subject: { type: 'host', value: 'ws-050' }, fetched_at: at(NOW), found: false, data: { ambiguous: ['ws-050.corp.example', 'ws-050.lab.example'] } },
  ];
  const assets = incidentAssets(rows, { precedence: ['cmdb'], now: NOW });
  assert.deepEqual(
    assets.map((a) => [a.name, a.subjects.map((s) => `${s.type}:${s.value}`)]),
    [
      ['db-pay-01.corp.example', ['ip:10.20.5.21']],
      ['ws-042', ['host:ws-042', 'host:ws-042.corp.example', 'ip:10.1.2.3']],
      ['ws-050.corp.example', ['ip:10.1.2.50']],
      ['ws-050.lab.example', ['ip:10.9.2.50']],
    ],
  );
  const ws = assets[1]!;
  assert.equal(ws.owner?.source, 'cmdb');
  assert.deepEqual(ws.conflicts, [{ field: 'owner', values: [{ value: 'alice', source: 'cmdb' }, { value: 'alice.smith', source: 'jamf' }] }]);
  assert.equal(assets[0]!.criticality?.value, 'critical');
});

test('config: enrichment.assets takes a precedence list and a max_age, and nothing else', () => {
  assert.equal(Value.Check(ConfigSchema, { enrichment: { assets: { precedence: ['jamf', 'cmdb'], max_age: '30d' } } }), true);
  assert.equal(Value.Check(ConfigSchema, { enrichment: { assets: { max_age: 'soon' } } }), false);
  assert.equal(Value.Check(ConfigSchema, { enrichment: { assets: { order: ['jamf'] } } }), false);
  // A precedence entry must name a configured provider (a typo would silently change nothing).
  const parsed = parseConfigText(
    ['enrichment:', '  providers:', '    - { name: jamf, kind: inventory, file: a.csv }', '  assets:', '    precedence: [jamf, jamff]'].join('\n'),
    configKinds,
  );
  assert.deepEqual(
    parsed.errors.map((e) => [e.key, e.line, e.message]),
    [['enrichment.assets.precedence[1]', 5, 'no enrichment provider is named "jamff"']],
  );
});

/** Stored answers as the enrich stage writes them. */
async function seedAnswers(store: Store, id: string): Promise<void> {
  await insertIncident(store.db, { id, time: NOW - HOUR, host: 'ws-042' });
  const row = (provider: string, type: string, value: string, fetchedAt: number, data: Record<string, unknown>, found = 1, error: string | null = null) => ({
    incident_id: id,
    provider,
    subject_type: type,
    subject_value: value,
    found,
    data: JSON.stringify(data),
    error,
    fetched_at: fetchedAt,
    revision: null,
  });
  const asset = (d: Record<string, unknown>) => ({ host: 'ws-042.corp.example', ips: ['10.1.2.3'], macs: [], owner: null, os: null, criticality: null, tags: [], attributes: {}, ...d });
  await store.db
    .insertInto('enrichments')
    .values([
      row('cmdb', 'host', 'ws-042', NOW - HOUR, asset({ owner: 'alice', criticality: 'medium' })),
      row('jamf', 'ip', '10.1.2.3', NOW - 2 * HOUR, asset({ owner: 'alice.smith', last_seen: at(NOW - 10 * MIN), attributes: { serialNumber: 'C02X' } })),
      row('sqlinv', 'host', 'ws-042', NOW - 3 * DAY, asset({ criticality: 'high' })),
      row('segments', 'ip', '10.1.2.3', NOW, { zone: 'corporate', criticality: 'low' }),
      row('broken', 'host', 'ws-042', NOW, {}, 0, 'timeout: no answer'),
    ])
    .execute();
}

const ID = '01JABCDEFGHJKMNPQRSTVWXYZ0';

for (const dialect of DIALECTS) test(`incident detail on ${dialect}: assets merged from the stored answers, with precedence and max_age; the stages do not pay for it`, async () => {
  const t = await openTestStore(dialect);
  try {
    await seedAnswers(t.store, ID);
    const plain = await loadIncidentDetail(t.store.db, ID);
    assert.equal(plain?.assets?.length, 1);
    const a = plain!.assets![0]!;
    assert.equal(a.name, 'ws-042');
    assert.deepEqual(a.subjects, [{ type: 'host', value: 'ws-042' }, { type: 'ip', value: '10.1.2.3' }]);
    // Without configured precedence, freshness: jamf's own last_seen (10 min) beats the others' fetch times.
    assert.deepEqual(a.sources.map((s) => s.provider), ['jamf', 'cmdb', 'sqlinv']);
    assert.equal(a.owner?.value, 'alice.smith');
    assert.equal(a.criticality?.value, 'medium');
    assert.deepEqual(a.conflicts.map((c) => c.field), ['owner', 'criticality']);

    const configured = await loadIncidentDetail(t.store.db, ID, { assets: { precedence: ['sqlinv', 'cmdb'], maxAgeMs: 7 * DAY, now: () => NOW } });
    const b = configured!.assets![0]!;
    assert.equal(b.criticality?.source, 'sqlinv');
    assert.equal(b.owner?.source, 'cmdb');
    const aged = await loadIncidentDetail(t.store.db, ID, { assets: { maxAgeMs: DAY, now: () => NOW } });
    assert.deepEqual(aged!.assets![0]!.stale.map((s) => s.provider), ['sqlinv']);

    const forStages = await loadIncidentDetails(t.store.db, [ID], { parts: { alerts: 'covering', raw: false, enrichment: 'found', history: false } });
    assert.equal(forStages.get(ID)?.assets, undefined);
    assert.equal((await loadIncidentDetails(t.store.db, [ID], { parts: { enrichment: 'found', assets: true } })).get(ID)?.assets?.length, 1, 'asked for');
    // An incident the inventories know nothing about has no `assets` key at all.
    await insertIncident(t.store.db, { id: 'I-none', time: NOW, host: 'ws-999' });
    assert.equal('assets' in (await loadIncidentDetail(t.store.db, 'I-none'))!, false);
  } finally {
    await t.cleanup();
  }
});

test('GET /incidents/{id} carries the merged assets through the response schema', async () => {
  const api = await testApi('sqlite');
  try {
    await seedAnswers(api.t.store, ID);
    const res = await api.app.inject({ method: 'GET', url: `/api/v1/incidents/${ID}`, headers: auth('viewer') });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { assets: Array<Record<string, unknown>> };
    const asset = body.assets[0]!;
    assert.equal(asset.name, 'ws-042');
    assert.deepEqual(asset.owner, { value: 'alice.smith', source: 'jamf', fetched_at: at(NOW - 2 * HOUR), last_seen: at(NOW - 10 * MIN) });
    assert.deepEqual(asset.os, null);
    assert.deepEqual((asset.attributes as Record<string, { source: string }>).serialNumber?.source, 'jamf');
    assert.deepEqual((asset.ips as unknown[])[0], { value: '10.1.2.3', sources: ['jamf', 'cmdb', 'sqlinv'] });
    assert.equal((asset.conflicts as unknown[]).length, 2);
  } finally {
    await api.close();
  }
});
