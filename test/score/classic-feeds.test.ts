/**
 * fido-classic fed by Fido's own providers: VirusTotal (v3, common intel shape with detail.engines), AlienVault
 * OTX (pulses), a Threat Grid sandbox report (threat_score) and the LDAP directory, compared with FIDO's matrix
 * (reference/fido-original.md §5) computed by hand. How each answer enters the matrix is in the header of
 * src/score/engines/fido-classic.ts and in docs/scoring.md:
 *   VT file: P = engines.malicious, T = 0 (v3 keeps no per-engine text) → 15·P when P ≥ 3
 *   VT URL/domain/IP object: engines.malicious = "malicious site" verdicts → 15·M when M ≥ 3
 *   Threat Grid: threat_score × 10 ÷ feed weight 10
 *   OTX: risk = score ÷ 10 (>8: 20, >5: 10, else 5) × reliability = pulses (>8: 5, >5: 3, else 2)
 *   raw ÷ 10, each component rounded to a multiple of 5 (banker's rounding on the quotient), capped at 100.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Enrichment } from '../../src/model/enrichment.js';
import type { Score } from '../../src/model/score.js';
import { explanationSum } from '../../src/score/explain.js';
import { resolveProfile, scoreIncident, type ProfileOverrides } from '../../src/score/index.js';
import { alert, incident, T0 } from './fixtures.js';
import { intel, ldapUser, otx, threatgrid, vt } from './answers.js';

const HASH = 'ab'.repeat(32);
const IP = '203.0.113.7';
const lines = (s: Score) => s.explanation.map((l) => [l.factor, l.points] as const);
const line = (s: Score, factor: string) => s.explanation.find((l) => l.factor === factor);

function score(enrichment: Enrichment[], overrides: ProfileOverrides = {}): Score {
  const s = scoreIncident(incident({ host: 'ws-042', alerts: [alert({ detector: 'cyphortv3', severity: 80 })], enrichment }), resolveProfile('fido-classic', overrides), T0);
  assert.equal(explanationSum(s), s.total, 'the lines add up to the total');
  return s;
}

test('VirusTotal, Threat Grid and OTX answers through the matrix: a strong case, by hand', () => {
  const s = score(
    [
      vt('sha256', HASH, { malicious: 40, undetected: 30 }), // P = 40 → 15·40 = 600 → 60
      vt('url', 'http://evil.example/dl.exe', { malicious: 4, harmless: 80 }), // M = 4 → 15·4 = 60 → 6
      threatgrid(HASH, 80), // 80·10/10 = 80 → 8
      otx('domain', 'evil.example', 6), // score 90: risk 9 → 20; 6 pulses → 3; 60 → 6
      ldapUser('alice', { title: 'Chief Financial Officer', department: 'Finance' }),
    ],
    { 'fido-classic': { user: { titles: ['chief financial officer'], departments: ['finance'] } } },
  );
  // raw 600 + 60 + 80 + 60 = 800 → ÷10 = 80 → threat 80; user 25 + 30 = 55; total 135 → 100
  assert.deepEqual(lines(s), [
    ['threat.vt_file', 60],
    ['threat.vt_url', 6],
    ['threat.threatgrid', 8],
    ['threat.alienvault', 6],
    ['user.title', 25],
    ['user.department', 30],
    ['total.normalise', -35],
  ]);
  assert.deepEqual(s.components, { threat: 80, machine: 0, user: 55 });
  assert.equal(s.total, 100);
  assert.match(line(s, 'threat.vt_file')!.evidence, /40 positives × 15 → raw 600 ÷ 10/);
  assert.match(line(s, 'threat.alienvault')!.evidence, /"malicious in 6 pulses", risk 9 \(×20\) reliability 6 \(×3\)/);
  assert.match(line(s, 'user.title')!.evidence, /title "Chief Financial Officer" \(ldap\)/);
});

test('a weaker case with FIDO rounding, and the directory VIP flag standing for FIDO\'s title list', () => {
  const s = score([
    vt('sha256', HASH, { malicious: 5, undetected: 60 }), // 15·5 = 75 → 7.5 (line 8)
    threatgrid(HASH, 64), // 64 → 6.4 (line 6)
    otx('ip', IP, 3), // score 60: risk 6 → 10; 3 pulses → 2; 20 → 2
    ldapUser('alice', { vip: true }),
  ]);
  // exact 7.5 + 6.4 + 2 = 15.9 → 15.9 / 5 = 3.18 → 3 → threat 15 (lines 8 + 6 + 2 = 16, normalise −1)
  assert.deepEqual(lines(s), [
    ['threat.vt_file', 8],
    ['threat.threatgrid', 6],
    ['threat.alienvault', 2],
    ['threat.normalise', -1],
    ['user.vip', 25],
  ]);
  assert.deepEqual(s.components, { threat: 15, machine: 0, user: 25 });
  assert.equal(s.total, 40);
});

test('what FIDO would not score is not scored: few engines, a harmless or allowlisted answer, an unknown one', () => {
  const s = score([
    vt('sha256', HASH, { malicious: 2, undetected: 60 }), // P = 2 < 3
    vt('url', 'http://ok.example/', { harmless: 80 }),
    otx('domain', 'ok.example', 4, { allowlisted: true }),
    intel('threatgrid', 'sha256', HASH, { verdict: 'unknown', score: 0, detail: { submissions: 0 } }, false),
  ]);
  assert.deepEqual(lines(s), []);
  assert.equal(s.total, 0);
});

test('a VirusTotal v3 IP object scores by the URL rule (engines calling it malicious)', () => {
  const s = score([vt('ip', IP, { malicious: 5, harmless: 60 })]);
  // 15·5 = 75 → 7.5 (line 8); 7.5 / 5 = 1.5 → banker's 2 → threat 10 (normalise +2)
  assert.deepEqual(lines(s), [
    ['threat.vt_url', 8],
    ['threat.normalise', 2],
  ]);
  assert.equal(s.total, 10);
});

test('OTX at its strongest reaches FIDO\'s AlienVault maximum (20 × 5 = 100 raw)', () => {
  const s = score([otx('ip', IP, 9)]); // score 100: risk 10 → 20; 9 pulses → 5
  assert.equal(line(s, 'threat.alienvault')!.points, 10);
  assert.equal(s.total, 10);
});

test('provider names per source are settings; privileged counts only when given a weight', () => {
  const answers = [vt('sha256', HASH, { malicious: 10 }, undefined, 'vt-prod'), ldapUser('alice', { privileged: true }, 'corp-ad')];
  const named = { providers: { virustotal: ['vt-prod'], directory: ['corp-ad'] } };
  assert.deepEqual(lines(score(answers)), []);
  const s = score(answers, { 'fido-classic': { ...named, user: { privileged_weight: 10 } } });
  assert.deepEqual(lines(s), [
    ['threat.vt_file', 15], // 15·10 = 150 → 15
    ['user.privileged', 10],
  ]);
  assert.match(line(s, 'user.privileged')!.evidence, /user:alice is marked privileged \(corp-ad\)/);
  assert.deepEqual(lines(score(answers, { 'fido-classic': named })), [['threat.vt_file', 15]]);
});
