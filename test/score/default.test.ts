/** The default profile, factor by factor (docs/scoring.md describes the same numbers). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Score } from '../../src/model/score.js';
import { explanationSum } from '../../src/score/explain.js';
import { ProfileError, resolveProfile, scoreIncident } from '../../src/score/index.js';
import { alert, enr, incident, T0 } from './fixtures.js';

const profile = resolveProfile('default');
const line = (s: Score, factor: string) => s.explanation.find((l) => l.factor === factor);

const malicious = enr('indicators', 'ip', '203.0.113.7', { verdict: 'malicious', sources: ['abuse.ch'] });
const onAsset = (criticality: string) => enr('inventory', 'host', 'ws-042', { host: 'ws-042', criticality, tags: [] });

test('a malicious indicator on a critical asset scores higher than the same on a workstation', () => {
  const alerts = [alert({ severity: 75, action: 'allowed' })];
  const critical = scoreIncident(incident({ alerts, enrichment: [malicious, onAsset('critical')] }), profile, T0);
  const workstation = scoreIncident(incident({ alerts, enrichment: [malicious, onAsset('low')] }), profile, T0);
  assert.ok(critical.total > workstation.total, `${critical.total} vs ${workstation.total}`);
  // severity high 20 + allowed 8 + malicious 25 = threat 53; asset critical 20 vs low 0.
  assert.equal(critical.components.threat, 53);
  assert.equal(critical.components.asset, 20);
  assert.equal(critical.total, 73);
  assert.equal(workstation.total, 53);
  assert.match(line(critical, 'threat.indicator')!.evidence, /ip:203\.0\.113\.7 is malicious per abuse\.ch \(indicators\)/);
  assert.match(line(critical, 'asset.criticality')!.evidence, /host ws-042 has criticality "critical" \(inventory\)/);
});

test('network segment criticality and zone count when the inventory knows nothing', () => {
  const seg = enr('netsegments', 'ip', '10.9.8.7', { segment: 'card-data', zone: 'pci', criticality: 'high' });
  const s = scoreIncident(incident({ enrichment: [seg] }), profile, T0);
  assert.equal(line(s, 'asset.criticality')!.points, 12);
  assert.equal(line(s, 'asset.zone')!.points, 10);
  assert.equal(s.components.asset, 22);
});

test('allowlisted: one large negative line naming the entry and its reason', () => {
  const alerts = [alert({ severity: 75, rule: { id: '2031412' } })];
  const entry = { match: 'host:vulnscan-01', reason: 'weekly vulnerability scan', rules: [], expires: '2027-06-30T23:59:59.999Z' };
  const allow = enr('allowlist', 'host', 'vulnscan-01', { allowlisted: true, unconditional: true, entries: [entry] });
  const before = scoreIncident(incident({ alerts, enrichment: [malicious] }), profile, T0);
  const after = scoreIncident(incident({ alerts, enrichment: [malicious, allow] }), profile, T0);
  const l = line(after, 'allowlist')!;
  assert.equal(l.points, -60);
  assert.match(l.evidence, /host:vulnscan-01 is allowlisted \(host:vulnscan-01\): weekly vulnerability scan, until 2027-06-30/);
  assert.equal(before.total, 45);
  assert.equal(after.total, 0); // 45 − 60 → clamped at 0, with a line saying so
  assert.equal(line(after, 'total.clamp')!.points, 15);
  assert.equal(explanationSum(after), 0);
});

test('a rule-scoped allowlist entry covers only alerts of that rule; an expired one is explained but not applied', () => {
  const scoped = enr('allowlist', 'host', 'vulnscan-01', { entries: [{ match: 'host:vulnscan-01', reason: 'scanner', rules: ['2031412'] }] });
  const other = scoreIncident(incident({ alerts: [alert({ rule: { id: '999' } })], enrichment: [scoped] }), profile, T0);
  assert.equal(line(other, 'allowlist'), undefined);
  const same = scoreIncident(incident({ alerts: [alert({ rule: { id: '2031412' } })], enrichment: [scoped] }), profile, T0);
  assert.equal(line(same, 'allowlist')!.points, -60);
  assert.match(line(same, 'allowlist')!.evidence, /for rule 2031412/);

  const expired = enr('allowlist', 'host', 'ws-042', { entries: [{ match: 'host:ws-042', reason: 'old', rules: [], expires: '2026-01-01T00:00:00Z' }] });
  const e = scoreIncident(incident({ enrichment: [expired] }), profile, T0);
  assert.equal(line(e, 'allowlist')!.points, 0);
  assert.match(line(e, 'allowlist')!.evidence, /expired 2026-01-01T00:00:00\.000Z; not applied/);
});

test('prior false positives lower the score; prior true positives raise it', () => {
  const hist = (verdicts: Record<string, number>) => enr('history', 'host', 'ws-042', { alerts: 5, verdicts, last_seen: new Date(T0 - 86_400_000).toISOString() });
  const base = scoreIncident(incident({ alerts: [alert({ severity: 75 })] }), profile, T0).total;
  const fp = scoreIncident(incident({ alerts: [alert({ severity: 75 })], enrichment: [hist({ true_positive: 0, false_positive: 3, benign: 1 })] }), profile, T0);
  const tp = scoreIncident(incident({ alerts: [alert({ severity: 75 })], enrichment: [hist({ true_positive: 2, false_positive: 0, benign: 0 })] }), profile, T0);
  assert.equal(line(fp, 'history.false_positives')!.points, -20); // 4 × −5, floor −20
  assert.match(line(fp, 'history.false_positives')!.evidence, /host:ws-042 \(history\): 4 earlier incidents closed as false positive or benign/);
  assert.equal(fp.total, base - 20);
  assert.equal(line(tp, 'history.true_positives')!.points, 10);
  assert.equal(tp.total, base + 10);
});

test('false positives of the same detection rule count when history breaks verdicts down by rule', () => {
  const h = enr('history', 'host', 'ws-042', {
    verdicts: { true_positive: 0, false_positive: 1, benign: 0 },
    rules: { '2031412': { verdicts: { false_positive: 3 } } },
  });
  const s = scoreIncident(incident({ alerts: [alert({ rule: { id: '2031412' } })], enrichment: [h] }), profile, T0);
  assert.equal(line(s, 'history.false_positives')!.points, -15);
  assert.match(line(s, 'history.false_positives')!.evidence, /for rule 2031412/);
});

test('history older than the window is ignored', () => {
  const old = enr('history', 'host', 'ws-042', { verdicts: { false_positive: 5 }, last_seen: '2025-01-01T00:00:00Z' });
  assert.equal(line(scoreIncident(incident({ enrichment: [old] }), profile, T0), 'history.false_positives'), undefined);
});

test('what the detector did: blocked lowers, allowed raises, the worst case counts', () => {
  const score = (...actions: Array<'allowed' | 'blocked'>) => scoreIncident(incident({ alerts: actions.map((action) => alert({ severity: 75, action })) }), profile, T0);
  assert.equal(line(score('blocked'), 'threat.detector_action')!.points, -10);
  assert.equal(line(score('blocked', 'allowed'), 'threat.detector_action')!.points, 8);
  assert.match(line(score('blocked', 'allowed'), 'threat.detector_action')!.evidence, /"allowed" \(1 of 2 alerts\)/);
});

test('privileged users: by directory group, else by account name', () => {
  const dir = enr('directory', 'user', 'alice', { groups: ['Staff', 'Domain Admins'] });
  const s = scoreIncident(incident({ enrichment: [dir] }), profile, T0);
  assert.equal(line(s, 'user.privileged')!.points, 15);
  assert.match(line(s, 'user.privileged')!.evidence, /user:alice is in group "Domain Admins" \(directory\)/);
  const byName = scoreIncident(incident({ user: 'CORP\\Administrator' }), profile, T0);
  assert.equal(line(byName, 'user.privileged_name')!.points, 10);
});

test('repeats: alerts beyond the first and a second detector', () => {
  const s = scoreIncident(incident({ alerts: [alert(), alert({ detector: 'crowdstrike' })], alert_count: 9 }), profile, T0);
  assert.equal(line(s, 'repeats.alerts')!.points, 10); // 8 × 2 = 16, capped by the line's own maximum
  assert.equal(line(s, 'repeats.detectors')!.points, 5);
  assert.equal(line(s, 'repeats.cap')!.points, -5); // 15 → component maximum 10
  assert.equal(s.components.repeats, 10);
});

test('a component over its maximum gets a cap line; the total over 100 gets a clamp line', () => {
  const intel = ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map((ip) => enr('indicators', 'ip', ip, { verdict: 'malicious' }));
  const s = scoreIncident(
    incident({
      alerts: [alert({ severity: 95, action: 'allowed' }), alert({ detector: 'crowdstrike', severity: 95 })],
      alert_count: 20,
      enrichment: [
        ...intel,
        onAsset('critical'),
        enr('netsegments', 'ip', '10.0.0.5', { zone: 'pci', criticality: 'critical' }),
        enr('directory', 'user', 'alice', { groups: ['domain admins', 'executive'] }),
        enr('history', 'host', 'ws-042', { verdicts: { true_positive: 9 } }),
      ],
    }),
    profile,
    T0,
  );
  // threat 28 + 8 + 25 + 10 = 71 → cap −11 → 60
  assert.equal(line(s, 'threat.cap')!.points, -11);
  assert.equal(s.components.threat, 60);
  assert.equal(s.total, 100);
  assert.ok(line(s, 'total.clamp')!.points < 0);
  assert.equal(explanationSum(s), 100);
});

test('profiles: overrides merge into the built-in, new names extend one, bad keys are named', () => {
  const tuned = resolveProfile('default', { default: { allowlist: { points: -40 }, providers: { indicators: ['misp', 'abusech'] } } });
  assert.equal(tuned.settings.engine, 'default');
  assert.notEqual(tuned.version, profile.version);
  const viaMisp = enr('misp', 'ip', '203.0.113.7', { verdict: 'malicious', source: 'misp' });
  assert.equal(line(scoreIncident(incident({ enrichment: [viaMisp] }), tuned, T0), 'threat.indicator')!.points, 25);
  assert.equal(line(scoreIncident(incident({ enrichment: [viaMisp] }), profile, T0), 'threat.indicator'), undefined);

  const strict = resolveProfile('strict', { strict: { extends: 'default', threat: { max: 70 } } });
  assert.equal(strict.name, 'strict');
  assert.equal(scoreIncident(incident(), strict, T0).profile, 'strict');

  assert.throws(() => resolveProfile('default', { default: { treat: { max: 1 } } }), (e: unknown) => e instanceof ProfileError && /treat/.test(e.message));
  assert.throws(() => resolveProfile('default', { default: { threat: { max: 1.5 } } }), /threat\.max: must be integer/);
  assert.throws(() => resolveProfile('nope'), /unknown profile/);
  assert.throws(() => resolveProfile('x', { x: { extends: 'nope' } }), /extends unknown profile "nope"/);
  assert.throws(() => resolveProfile('default', { default: { engine: 'fido-classic' } }), /cannot change/);
});

test('evidence stays one readable line even for hostile subject values', () => {
  const evil = enr('indicators', 'url', `http://evil.example/${'a'.repeat(500)}\n\u001b[31mFAKE`, { verdict: 'malicious' });
  const l = line(scoreIncident(incident({ enrichment: [evil] }), profile, T0), 'threat.indicator')!;
  assert.ok(!/[\n\u001b]/.test(l.evidence));
  assert.ok(l.evidence.length < 200);
});
