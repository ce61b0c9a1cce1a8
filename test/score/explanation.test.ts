/**
 * The promise of every score: its explanation lines are integers that add up exactly to the total shown,
 * the total lies in 0–100, and the components are the sums of their lines. Checked over many generated
 * incidents, including malformed enrichment data, for both shipped profiles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DETECTOR_ACTIONS, type Alert } from '../../src/model/alert.js';
import type { Enrichment } from '../../src/model/enrichment.js';
import { OBSERVABLE_TYPES } from '../../src/model/observable.js';
import { componentOf, explanationSum } from '../../src/score/explain.js';
import { resolveProfile, scoreIncident } from '../../src/score/index.js';
import { alert, enr, incident, T0 } from './fixtures.js';

const PROVIDERS = ['netsegments', 'inventory', 'allowlist', 'history', 'indicators', 'directory', 'virustotal', 'threatgrid', 'alienvault', 'otx', 'ldap', 'geoip', 'other'];

const junk = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined));

const data = fc.record(
  {
    criticality: fc.oneof(fc.constantFrom('low', 'medium', 'high', 'critical', 'HIGH'), junk),
    zone: fc.oneof(fc.constantFrom('pci', 'dmz', 'guest', 'internal'), junk),
    tags: fc.oneof(fc.array(fc.constantFrom('pci', 'crown-jewel', 'vip', 'Domain Admins', 'x'), { maxLength: 4 }), junk),
    groups: fc.oneof(fc.array(fc.constantFrom('domain admins', 'executive', 'staff'), { maxLength: 3 }), junk),
    verdict: fc.oneof(fc.constantFrom('malicious', 'suspicious', 'benign', 'harmless', 'unknown'), junk),
    // the common intel shape (src/enrich/intel.ts) and what fido-classic reads from its detail
    score: fc.oneof(fc.nat(100), junk),
    detail: fc.oneof(fc.record({ engines: fc.oneof(fc.record({ malicious: fc.nat(60) }), junk), pulses: fc.oneof(fc.nat(12), junk), threat_score: fc.oneof(fc.nat(100), junk) }), junk),
    // ldap and geoip answers
    disabled: fc.oneof(fc.boolean(), junk),
    locked: fc.oneof(fc.boolean(), junk),
    vip: fc.oneof(fc.boolean(), junk),
    department: fc.oneof(fc.constantFrom('Finance', 'IT'), junk),
    country: fc.oneof(fc.constantFrom('KP', 'de'), junk),
    asn: fc.oneof(fc.constantFrom(64496, 3320), junk),
    sources: fc.oneof(fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }), junk),
    verdicts: fc.oneof(
      fc.record({ true_positive: fc.nat(20), false_positive: fc.nat(20), benign: fc.oneof(fc.nat(5), junk) }),
      junk,
    ),
    last_seen: fc.oneof(fc.constant(new Date(T0 - 3_600_000).toISOString()), fc.constant('2020-01-01T00:00:00Z'), junk),
    alerts: fc.oneof(fc.nat(30), junk),
    entries: fc.oneof(
      fc.array(
        fc.record({ match: fc.string({ maxLength: 10 }), reason: fc.string({ maxLength: 10 }), rules: fc.array(fc.constantFrom('2031412', 'x'), { maxLength: 2 }), expires: fc.oneof(fc.constant(null), fc.constant('2020-01-01'), fc.constant('2030-01-01')) }),
        { maxLength: 2 },
      ),
      junk,
    ),
    positives: fc.oneof(fc.nat(70), junk),
    detected_urls: fc.oneof(fc.array(fc.record({ positives: fc.nat(40) }), { maxLength: 4 }), junk),
    detected_communicating_samples: fc.oneof(fc.array(fc.record({ positives: fc.nat(40) }), { maxLength: 4 }), junk),
    threat_score: fc.oneof(fc.nat(100), junk),
    activity: fc.oneof(fc.constantFrom('Malware Host', 'C and C;Spamming', 'scanning'), junk),
    reliability: fc.oneof(fc.nat(10), junk),
    risk: fc.oneof(fc.nat(10), junk),
    patches: fc.oneof(fc.record({ critical: fc.nat(10), high: fc.nat(20) }), junk),
    av: fc.oneof(fc.record({ installed: fc.boolean(), running: fc.boolean() }), junk),
    title: fc.oneof(fc.constantFrom('CFO', 'engineer'), junk),
  },
  { requiredKeys: [] },
);

const enrichment: fc.Arbitrary<Enrichment> = fc
  .record({
    provider: fc.constantFrom(...PROVIDERS),
    type: fc.constantFrom(...OBSERVABLE_TYPES),
    value: fc.constantFrom('ws-042', '10.1.2.3', '203.0.113.7', 'evil.example', 'alice', 'ab'.repeat(32)),
    data,
    found: fc.boolean(),
  })
  .map((e) => enr(e.provider, e.type, e.value, e.data as Record<string, unknown>, e.found));

const alerts: fc.Arbitrary<Alert[]> = fc.array(
  fc
    .record({
      severity: fc.integer({ min: 0, max: 100 }),
      action: fc.option(fc.constantFrom(...DETECTOR_ACTIONS), { nil: undefined }),
      detector: fc.constantFrom('suricata', 'crowdstrike', 'antivirus', 'sophos'),
      rule: fc.option(fc.record({ id: fc.constantFrom('2031412', '1') }), { nil: undefined }),
      user: fc.option(fc.record({ name: fc.constantFrom('alice', 'CORP\\Administrator', 'root') }), { nil: undefined }),
    })
    .map((a) => alert({ ...a, ...(a.action ? {} : { action: undefined }) })),
  { minLength: 0, maxLength: 6 },
);

const incidents = fc
  .record({ alerts, enrichment: fc.array(enrichment, { maxLength: 12 }), extra: fc.nat(40), host: fc.constantFrom('ws-042', null, 'unknown') })
  .map((x) => incident({ alerts: x.alerts, enrichment: x.enrichment, alert_count: x.alerts.length + x.extra, host: x.host }));

// Factors the generator must reach, so that the property is not passing on trivial scores only.
const EXPECTED: Record<string, string[]> = {
  default: [
    'threat.severity', 'threat.detector_action', 'threat.indicator', 'threat.indicators_more', 'threat.disabled_account', 'threat.locked_account', 'asset.criticality', 'asset.zone',
    'user.privileged', 'user.privileged_name', 'user.vip', 'user.department', 'geo.country', 'geo.asn', 'history.true_positives', 'history.false_positives', 'allowlist', 'repeats.alerts', 'total.clamp',
  ],
  'fido-classic': ['threat.vt_file', 'threat.vt_ip', 'threat.threatgrid', 'threat.alienvault', 'threat.antivirus', 'threat.seen_before', 'threat.normalise', 'machine.patches', 'machine.av', 'user.title', 'user.vip'],
};

for (const name of ['default', 'fido-classic']) {
  test(`${name}: explanation lines add up to the total for generated incidents`, () => {
    const profile = resolveProfile(name, {
      'fido-classic': { user: { titles: ['cfo'], departments: [] } },
      default: { geo: { countries: { kp: 10, DE: -3 }, asns: { AS64496: 8 } }, user: { departments: { finance: 5 } } },
    });
    const seen = new Set<string>();
    fc.assert(
      fc.property(incidents, (inc) => {
        const s = scoreIncident(inc, profile, T0);
        for (const l of s.explanation) seen.add(l.factor);
        assert.equal(explanationSum(s), s.total);
        assert.ok(s.total >= 0 && s.total <= 100, `total ${s.total}`);
        for (const l of s.explanation) {
          assert.ok(Number.isInteger(l.points), `${l.factor}: ${l.points}`);
          assert.equal(typeof l.evidence, 'string');
          assert.ok(l.evidence.length > 0);
        }
        // Components are the sums of their lines; only total.* lines stand outside them.
        const outside = s.explanation.filter((l) => componentOf(l.factor) === 'total').reduce((a, l) => a + l.points, 0);
        const inside = Object.values(s.components).reduce((a, b) => a + b, 0);
        assert.equal(inside + outside, s.total);
      }),
      { numRuns: 400, seed: 20261127 },
    );
    assert.deepEqual(EXPECTED[name]!.filter((f) => !seen.has(f)), [], 'factors never produced by the generator');
  });
}

test('scoring is pure: the same input gives the same score', () => {
  const profile = resolveProfile('default');
  fc.assert(
    fc.property(incidents, (inc) => {
      assert.deepEqual(scoreIncident(inc, profile, T0), scoreIncident(structuredClone(inc), profile, T0));
    }),
    { numRuns: 100, seed: 7 },
  );
});
