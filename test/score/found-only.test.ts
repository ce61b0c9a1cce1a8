/**
 * readsUnfoundAnswers(): the score stage reads only enrichment rows that found something when the engine
 * says it looks at nothing else. Checked here: for `default`, dropping the misses and errors never changes a
 * score (over generated incidents); fido-classic does read a miss, and says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Enrichment } from '../../src/model/enrichment.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { OBSERVABLE_TYPES } from '../../src/model/observable.js';
import { readsUnfoundAnswers, resolveProfile, scoreIncident } from '../../src/score/index.js';
import { alert, enr, incident, T0 } from './fixtures.js';

const PROVIDERS = ['netsegments', 'inventory', 'allowlist', 'history', 'indicators', 'directory', 'other'];

const data = fc.record(
  {
    criticality: fc.constantFrom('low', 'medium', 'high', 'critical'),
    zone: fc.constantFrom('pci', 'dmz', 'guest', 'internal'),
    tags: fc.array(fc.constantFrom('pci', 'crown-jewel', 'vip', 'Domain Admins'), { maxLength: 3 }),
    groups: fc.array(fc.constantFrom('domain admins', 'executive', 'staff'), { maxLength: 2 }),
    verdict: fc.constantFrom('malicious', 'suspicious', 'benign'),
    verdicts: fc.record({ true_positive: fc.nat(20), false_positive: fc.nat(20), benign: fc.nat(5) }),
    last_seen: fc.constant(new Date(T0 - 3_600_000).toISOString()),
    alerts: fc.nat(30),
    allowlisted: fc.boolean(),
    entries: fc.array(fc.record({ match: fc.constantFrom('host:ws-042', 'ip:10.1.2.3'), reason: fc.constant('lab') }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

type Row = IncidentDetail['enrichment'][number];

const row: fc.Arbitrary<Row> = fc
  .record({
    provider: fc.constantFrom(...PROVIDERS),
    type: fc.constantFrom(...OBSERVABLE_TYPES),
    value: fc.constantFrom('ws-042', '10.1.2.3', '203.0.113.7', 'alice'),
    data,
    found: fc.boolean(),
    error: fc.boolean(),
  })
  .map((e): Row => {
    const en = enr(e.provider, e.type, e.value, e.data as Record<string, unknown>, e.found);
    return e.error ? { provider: en.provider, subject: en.subject, fetched_at: en.fetched_at, error: 'timeout' } : en;
  });

const incidents = fc
  .record({
    enrichment: fc.array(row, { maxLength: 14 }),
    severities: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 4 }),
    host: fc.constantFrom('ws-042', null),
  })
  .map((x) => incident({ alerts: x.severities.map((severity) => alert({ severity })), enrichment: x.enrichment, host: x.host }));

const foundOnly = (d: IncidentDetail): IncidentDetail => ({ ...d, enrichment: d.enrichment.filter((e) => !('error' in e) && (e as Enrichment).found) });

test('default: misses and errors never change a score, so the score stage need not read them', () => {
  const profile = resolveProfile('default');
  assert.equal(readsUnfoundAnswers(profile), false);
  let misses = 0;
  const seen = new Set<string>();
  fc.assert(
    fc.property(incidents, (inc) => {
      misses += inc.enrichment.length - foundOnly(inc).enrichment.length;
      const full = scoreIncident(inc, profile, T0);
      for (const l of full.explanation) seen.add(l.factor);
      assert.deepEqual(scoreIncident(foundOnly(inc), profile, T0), full);
    }),
    { numRuns: 400, seed: 20261128 },
  );
  assert.ok(misses > 100, 'the generator produces misses and errors');
  // Not passing on trivial scores: the answers that found something do count.
  const reached = ['threat.indicator', 'asset.criticality', 'asset.zone', 'user.privileged', 'history.true_positives', 'history.false_positives', 'allowlist'];
  assert.deepEqual(reached.filter((f) => !seen.has(f)), []);
});

test('fido-classic reads misses (a host the inventory does not know), and says so', () => {
  const profile = resolveProfile('fido-classic');
  assert.equal(readsUnfoundAnswers(profile), true);
  const inc = incident({ host: 'ws-042', alerts: [alert({ detector: 'suricata' })], enrichment: [enr('inventory', 'host', 'ws-042', {}, false)] });
  assert.notDeepEqual(scoreIncident(foundOnly(inc), profile, T0), scoreIncident(inc, profile, T0));
});
