/**
 * fido-classic against the worked example of reference/fido-original.md §5.9 ("Cyphort v3 download, flags
 * working"), computed by hand from the spec:
 *
 *   VT file: P = 40 positives (≥ 3) → 15·40 = 600 (T = 1 trojan verdict < 3, so the trojan branch is 0)
 *   VT URL:  4 "malicious site" verdicts (≥ 3) → 15·4 = 60
 *   VT IP:   communicating samples p=25 (≥20: 0.65·25 = 16.25) and p=12 (10–19: 0.75·12 = 9) → C = 25.25
 *            downloaded sample p=5 (3–9: 0.75·5 = 3.75) → D = 3.75;  detected URL p=8 (5–19: 0.6·8 = 4.8) → U
 *            score = 4.5·D + 2·C + 4.5·U = 16.875 + 50.5 + 21.6 = 88.975            ("≈ 89" in the spec)
 *   ThreatGRID: mean threat score 80, feed_weight 10 → 80·10/10 = 80
 *   AlienVault: "malware domain", reliability 9 (> 8 → ×5), risk 6 (> 5 → ×10) → 50
 *   Hash seen twice before (count 2 ≥ 1, < 5) → +10
 *   Raw = 600 + 60 + 88.975 + 80 + 50 + 10 = 888.975 → ÷10 = 88.8975 → round(17.78)·5 = 90 → threat 90
 *   Machine (assetscore): 7 critical patches (≥ 5 → +20), 12 high (≥ 10 → +5) → 25
 *   User: title in the configured list → +25
 *   Total 90 + 25 + 25 = 140 → > 100 → 100 ("Re-image")
 *
 * "If the same host had alerted 6 h earlier", FIDO reset the RAW score to 75 → threat 7.5 → 10, total 60
 * (defect: an escalation meant for the 0–100 scale lowered the score). Fixed: applied after ÷10, threat 88.9
 * is above 50 so it becomes max(88.9, 75) = 88.9 → still 90, total still 100.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Score } from '../../src/model/score.js';
import { explanationSum } from '../../src/score/explain.js';
import { normalise, roundHalfEven } from '../../src/score/engines/fido-classic.js';
import { resolveProfile, scoreIncident } from '../../src/score/index.js';
import { alert, enr, incident, T0 } from './fixtures.js';

const profile = resolveProfile('fido-classic', { 'fido-classic': { user: { titles: ['Chief Financial Officer'] } } });
const sum = (s: Score, factor: string) => s.explanation.filter((l) => l.factor === factor).reduce((a, l) => a + l.points, 0);

const scans = (n: number, result: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`Engine${i}`, { detected: true, result }]));

function workedExample(extra: ReturnType<typeof enr>[] = []) {
  return incident({
    host: 'ws-042',
    alerts: [alert({ detector: 'cyphortv3', title: 'download', severity: 80, observables: [{ type: 'ip', value: '203.0.113.7', role: 'dst' }] })],
    enrichment: [
      enr('virustotal', 'sha256', 'ab'.repeat(32), { positives: 40, scans: { ...scans(1, 'Trojan.Agent'), ...scans(0, '') } }),
      enr('virustotal', 'url', 'http://evil.example/payload.exe', { positives: 4, scans: scans(4, 'malicious site') }),
      enr('virustotal', 'ip', '203.0.113.7', {
        detected_communicating_samples: [{ positives: 25 }, { positives: 12 }],
        detected_downloaded_samples: [{ positives: 5 }],
        detected_urls: [{ positives: 8 }],
      }),
      enr('threatgrid', 'sha256', 'ab'.repeat(32), { threats: [{ score: 80 }] }),
      enr('alienvault', 'domain', 'evil.example', { activity: 'Malware Domain', reliability: 9, risk: 6 }),
      enr('history', 'sha256', 'ab'.repeat(32), { alerts: 2 }),
      enr('inventory', 'host', 'ws-042', { host: 'ws-042', patches: { critical: 7, high: 12, low: 30 } }),
      enr('directory', 'user', 'alice', { title: 'Chief Financial Officer' }),
      ...extra,
    ],
  });
}

test('fido-classic reproduces the worked example of §5.9: threat 90, machine 25, user 25, total 100', () => {
  const s = scoreIncident(workedExample(), profile, T0);
  assert.deepEqual(s.components, { threat: 90, machine: 25, user: 25 });
  assert.equal(s.total, 100);
  assert.equal(explanationSum(s), 100);
  // Each feed is its own line, in threat points (raw ÷ 10, rounded); one line brings the sum to FIDO's 90.
  assert.equal(sum(s, 'threat.vt_file'), 60);
  assert.equal(sum(s, 'threat.vt_url'), 6);
  assert.equal(sum(s, 'threat.vt_ip'), 2 + 5 + 2); // 16.875, 50.5, 21.6 raw
  assert.equal(sum(s, 'threat.threatgrid'), 8);
  assert.equal(sum(s, 'threat.alienvault'), 5);
  assert.equal(sum(s, 'threat.seen_before'), 1);
  assert.equal(sum(s, 'threat.normalise'), 1);
  assert.match(s.explanation.find((l) => l.factor === 'threat.normalise')!.evidence, /threat 88\.90 rounded to a multiple of 5/);
  assert.equal(sum(s, 'total.normalise'), -40);
});

test('fixed: an earlier alert on the same host 6 h before no longer lowers the threat (FIDO: total 60)', () => {
  const prev = enr('history', 'host', 'ws-042', { alerts: 1, last_seen: new Date(T0 - 6 * 3_600_000).toISOString() });
  const s = scoreIncident(workedExample([prev]), profile, T0);
  assert.equal(s.components.threat, 90);
  assert.equal(s.total, 100);
  const l = s.explanation.find((x) => x.factor === 'threat.previous_alert')!;
  assert.equal(l.points, 0);
  assert.match(l.evidence, /last alerted 6 h before this incident: threat above 50 → at least 75/);
});

test('previous-alert windows on the 0–100 scale: a weak threat is raised by 15 (4–12 h) or 25 (≥ 12 h)', () => {
  const weak = (hoursAgo: number) =>
    incident({
      host: 'ws-042',
      enrichment: [
        enr('alienvault', 'ip', '203.0.113.7', { activity: 'malware host', reliability: 9, risk: 9 }), // 5 × 20 = 100 raw → 10
        enr('history', 'host', 'ws-042', { last_seen: new Date(T0 - hoursAgo * 3_600_000).toISOString() }),
      ],
    });
  const at = (h: number) => scoreIncident(weak(h), profile, T0).components.threat;
  assert.equal(at(0.2), 10); // same incident: unchanged (FIDO suppressed the alert instead)
  assert.equal(at(2), 10); // 30 min – 4 h: callbacks, unchanged
  assert.equal(at(6), 25); // 10 + 15
  assert.equal(at(24), 35); // 10 + 25
});

test('fixed: VirusTotal trojan verdicts count when they outweigh positives; IP sightings use ≥ like the others', () => {
  const s = scoreIncident(
    incident({ enrichment: [enr('virustotal', 'md5', 'd41d8cd98f00b204e9800998ecf8427e', { positives: 5, scans: scans(5, 'Troj/Agent-XYZ') })] }),
    profile,
    T0,
  );
  // trojan 30·5 = 150 > regular 15·5 = 75 (FIDO always kept 75)
  assert.equal(sum(s, 'threat.vt_file'), 15);
  assert.match(s.explanation.find((l) => l.factor === 'threat.vt_file')!.evidence, /5 trojan verdicts × 30/);

  const seen = scoreIncident(
    incident({
      alerts: [alert({ observables: [{ type: 'ip', value: '203.0.113.7', role: 'dst' }] })],
      enrichment: [enr('history', 'ip', '203.0.113.7', { alerts: 1 })],
    }),
    profile,
    T0,
  );
  assert.equal(sum(seen, 'threat.seen_before'), 1); // count 1 ≥ 1 (FIDO needed > 1 for IPs)
});

test('fixed: AlienVault exact-5 tiers and multi-valued activities', () => {
  const av = (data: Record<string, unknown>) => scoreIncident(incident({ enrichment: [enr('alienvault', 'ip', '198.51.100.9', data)] }), profile, T0);
  const five = av({ activity: 'Malware IP', reliability: 5, risk: 5 }).explanation.find((l) => l.factor === 'threat.alienvault');
  assert.match(five!.evidence, /raw 10 ÷ 10/); // low tiers: 5 × 2 (FIDO: nothing at exactly 5)
  const multi = av({ activity: 'Scanning Host;C and C', reliability: 9, risk: 9 });
  assert.equal(sum(multi, 'threat.alienvault'), 10); // 20 × 5 = 100 raw
});

test('antivirus alerts: trojan with no action taken, and a partially removed generic detection', () => {
  const s = (action: 'allowed' | 'quarantined') =>
    scoreIncident(incident({ alerts: [alert({ detector: 'antivirus', action, malware: { name: 'Troj/Agent-ABC' } })] }), profile, T0);
  assert.equal(sum(s('allowed'), 'threat.antivirus'), 4); // 20 × 2 = 40 raw
  assert.equal(s('allowed').components.threat, 5);
  assert.equal(sum(s('quarantined'), 'threat.antivirus'), 1); // 10 × 1 = 10 raw (FIDO: multiplier absent → 0)
});

test('machine posture: unmanaged host, antivirus not running, PCI (no points)', () => {
  const notInInventory = scoreIncident(incident({ enrichment: [enr('inventory', 'host', 'ws-042', {}, false)] }), profile, T0);
  assert.equal(notInInventory.components.machine, 50);
  const avOff = scoreIncident(incident({ enrichment: [enr('inventory', 'host', 'ws-042', { av: { installed: true, running: false }, tags: ['pci'] })] }), profile, T0);
  assert.equal(avOff.components.machine, 50);
  assert.equal(avOff.explanation.find((l) => l.factor === 'machine.pci')!.points, 0);
  const off = resolveProfile('fido-classic', { 'fido-classic': { asset_score: false } });
  assert.deepEqual(scoreIncident(incident({ enrichment: [enr('inventory', 'host', 'ws-042', {}, false)] }), off, T0).components, { threat: 0, machine: 0, user: 0 });
});

test('FIDO arithmetic: banker\'s rounding to multiples of 5, capped at 100', () => {
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(-2.5), -2);
  assert.equal(normalise(12.5), 10); // 12.5 / 5 = 2.5 → 2
  assert.equal(normalise(17.5), 20); // 3.5 → 4
  assert.equal(normalise(88.8975), 90);
  assert.equal(normalise(140), 100);
  assert.equal(normalise(-3), 0);
});
