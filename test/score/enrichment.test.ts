/**
 * The default profile reading the enrichment providers: threat intelligence in the common shape (agreement,
 * age, harmless verdicts), the local indicator list in the same factor, the directory (ldap: disabled,
 * locked, VIP, privileged, department) and geography (geoip: listed countries and ASNs). Answers are built
 * in the providers' exact shapes (answers.ts). Expected points are worked out by hand in the comments from
 * the shipped settings: malicious 25, suspicious 10, benign −5, agreement [0.6, 0.85, 1], a local list
 * worth 3 sources, harmless needs 2 sources, ages: grace 30 days then half-life 90 days for ip/domain/url.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Enrichment } from '../../src/model/enrichment.js';
import type { Score } from '../../src/model/score.js';
import { explanationSum } from '../../src/score/explain.js';
import { ProfileError, resolveProfile, scoreIncident, type ProfileOverrides } from '../../src/score/index.js';
import { agreementFactor } from '../../src/score/intel.js';
import { alert, enr, incident, T0 } from './fixtures.js';
import { daysAgo, geoip, intel, ldapUser, otx, threatgrid, vt } from './answers.js';

const profile = resolveProfile('default');
const line = (s: Score, factor: string) => s.explanation.find((l) => l.factor === factor);
const IP = '203.0.113.7';
const HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Scores an incident with these answers, checking the promise that the lines add up to the total. */
function score(enrichment: Enrichment[], overrides?: ProfileOverrides, over: Parameters<typeof incident>[0] = {}): Score {
  const p = overrides ? resolveProfile('default', overrides) : profile;
  const s = scoreIncident(incident({ alerts: [alert({ severity: 50 })], enrichment, ...over }), p, T0);
  assert.equal(explanationSum(s), s.total, 'the lines add up to the total');
  const components = Object.values(s.components).reduce((a, b) => a + b, 0);
  assert.equal(components + (line(s, 'total.clamp')?.points ?? 0), s.total);
  return s;
}

const abuseipdb = (verdict: 'malicious' | 'harmless', score: number, lastSeen = daysAgo(1)) =>
  intel('abuseipdb', 'ip', IP, { verdict, score, last_seen: lastSeen, detail: { reports: 40, confidence: score } });

test('agreement: one provider saying malicious counts less than two, two less than three', () => {
  const one = score([vt('ip', IP, { malicious: 9, harmless: 60 })]);
  const two = score([vt('ip', IP, { malicious: 9, harmless: 60 }), otx('ip', IP, 6)]);
  const three = score([vt('ip', IP, { malicious: 9, harmless: 60 }), otx('ip', IP, 6), abuseipdb('malicious', 100)]);
  assert.equal(line(one, 'threat.indicator')!.points, 15); // 25 × 0.6
  assert.equal(line(two, 'threat.indicator')!.points, 21); // 25 × 0.85 = 21.25
  assert.equal(line(three, 'threat.indicator')!.points, 25); // 25 × 1
  assert.equal(line(one, 'threat.indicator')!.evidence, `ip:${IP} is malicious per virustotal — agreement 1 source → ×0.6 of 25`);
  assert.match(line(three, 'threat.indicator')!.evidence, /^ip:203\.0\.113\.7 is malicious per virustotal, otx, abuseipdb — 3 sources agree$/);
  // severity 50 → medium 12, no other threat line
  assert.equal(three.components.threat, 12 + 25);
});

test('a suspicious verdict (VirusTotal with 1 engine) counts as suspicious, scaled by agreement', () => {
  const s = score([vt('domain', 'evil.example', { malicious: 1, harmless: 70 })]);
  assert.equal(line(s, 'threat.indicator')!.points, 6); // 10 × 0.6
  assert.match(line(s, 'threat.indicator')!.evidence, /domain:evil\.example is suspicious per virustotal/);
});

test('age: intel about an address last seen long ago counts less; a file hash does not age', () => {
  // 210 days: 180 past the 30-day grace = two half-lives → weight 0.25 → factor 0.6 × 0.25 = 0.15 → 25 × 0.15 = 3.75
  const old = score([vt('ip', IP, { malicious: 9, harmless: 60 }, daysAgo(210))]);
  assert.equal(line(old, 'threat.indicator')!.points, 4);
  assert.match(line(old, 'threat.indicator')!.evidence, /virustotal \(last seen 210 days ago, ×0\.25\) — agreement 0\.25 sources → ×0\.15 of 25/);
  // within the grace: no discount
  assert.equal(line(score([vt('ip', IP, { malicious: 9 }, daysAgo(29))]), 'threat.indicator')!.points, 15);
  // a hash last analysed 3 years ago is still the same malware
  const hash = score([vt('sha256', HASH, { malicious: 50, undetected: 10 }, daysAgo(1100))]);
  assert.equal(line(hash, 'threat.indicator')!.points, 15);
  assert.doesNotMatch(line(hash, 'threat.indicator')!.evidence, /last seen/);
  // a fresh and an old source: 1 + 0.25 = 1.25 sources → 0.6 + 0.25 × (0.85 − 0.6) = 0.6625 → 16.56
  const mixed = score([vt('ip', IP, { malicious: 9 }), otx('ip', IP, 6, { lastSeen: daysAgo(210) })]);
  assert.equal(line(mixed, 'threat.indicator')!.points, 17);
  // tunable: a longer half-life discounts less (180 days past grace, half-life 180 → 0.5 → 0.3 → 7.5)
  const tuned = score([vt('ip', IP, { malicious: 9 }, daysAgo(210))], { default: { threat: { indicator: { age: { half_life_days: 180 } } } } });
  assert.equal(line(tuned, 'threat.indicator')!.points, 8);
});

test('harmless: several providers saying harmless lower the threat; one alone does not; they never outvote malicious', () => {
  const clean = [vt('domain', 'example.org', { harmless: 70, undetected: 10 }), otx('domain', 'example.org', 3, { allowlisted: true })];
  const two = score(clean);
  assert.equal(line(two, 'threat.indicator')!.points, -4); // −5 × 0.85 = −4.25
  assert.match(line(two, 'threat.indicator')!.evidence, /domain:example\.org is benign per virustotal, otx — 2 sources agree/);
  assert.equal(line(score(clean.slice(0, 1)), 'threat.indicator'), undefined, 'one harmless source is not enough');
  // two harmless outweigh one suspicious …
  const sus = score([...clean, intel('urlhaus', 'domain', 'example.org', { verdict: 'suspicious', score: 50, last_seen: daysAgo(1) })]);
  assert.equal(line(sus, 'threat.indicator')!.points, -4);
  assert.match(line(sus, 'threat.indicator')!.evidence, /urlhaus says suspicious/);
  // … but a malicious verdict stands, the dissent named in the evidence
  const mal = score([...clean, intel('threatfox', 'domain', 'example.org', { verdict: 'malicious', score: 90, last_seen: daysAgo(1) })]);
  assert.equal(line(mal, 'threat.indicator')!.points, 15);
  assert.match(line(mal, 'threat.indicator')!.evidence, /is malicious per threatfox — agreement 1 source → ×0\.6 of 25; virustotal, otx say benign/);
});

test('unknown: a service that never heard of the indicator says nothing (found: false, verdict unknown)', () => {
  const unknown = intel('virustotal', 'ip', IP, { verdict: 'unknown', score: 0 }, false);
  const s = score([unknown]);
  assert.equal(line(s, 'threat.indicator'), undefined);
  assert.equal(s.components.threat, 12);
});

test('the local indicator list and intel providers feed the same factor; the list counts as three sources', () => {
  const list = enr('indicators', 'ip', IP, { verdict: 'malicious', sources: ['abuse.ch'], matches: [] });
  assert.equal(line(score([list]), 'threat.indicator')!.evidence, `ip:${IP} is malicious per abuse.ch (indicators)`);
  assert.equal(line(score([list]), 'threat.indicator')!.points, 25);
  const both = score([list, vt('ip', IP, { malicious: 9 })]);
  assert.equal(line(both, 'threat.indicator')!.points, 25);
  assert.match(line(both, 'threat.indicator')!.evidence, /per abuse\.ch \(indicators\), virustotal — 2 sources agree/);
  // a list's benign entry still lowers the threat as before
  assert.equal(line(score([enr('indicators', 'ip', IP, { verdict: 'benign', sources: ['soc'] })]), 'threat.indicator')!.points, -5);
  // its weight is a setting: worth one source, it is like any other provider
  assert.equal(line(score([list], { default: { threat: { indicator: { own_list_sources: 1 } } } }), 'threat.indicator')!.points, 15);
});

test('the strongest indicator counts, further malicious ones add a little, bounded', () => {
  const s = score([
    vt('sha256', HASH, { malicious: 50 }),
    otx('sha256', HASH, 6),
    threatgrid(HASH, 95),
    vt('ip', IP, { malicious: 9 }),
    vt('domain', 'evil.example', { malicious: 4 }),
    vt('url', 'http://evil.example/a', { malicious: 4 }),
  ]);
  assert.equal(line(s, 'threat.indicator')!.points, 25);
  assert.match(line(s, 'threat.indicator')!.evidence, /^sha256:e3b0c442/);
  assert.equal(line(s, 'threat.indicators_more')!.points, 10); // 3 more × 5, at most 10
  assert.match(line(s, 'threat.indicators_more')!.evidence, /^3 more malicious indicators: ip:203\.0\.113\.7, domain:evil\.example, url:/);
});

test('providers.intel restricts which providers count as intelligence', () => {
  const answers = [vt('ip', IP, { malicious: 9 }), otx('ip', IP, 6)];
  const only = score(answers, { default: { providers: { intel: ['otx'] } } });
  assert.match(line(only, 'threat.indicator')!.evidence, /per otx — agreement 1 source/);
  assert.equal(line(score(answers, { default: { providers: { intel: [] } } }), 'threat.indicator'), undefined);
  // answers not in the intel shape (no numeric score) are not intelligence, whatever their provider
  assert.equal(line(score([enr('misp', 'ip', IP, { verdict: 'malicious' })]), 'threat.indicator'), undefined);
});

test('directory: a disabled account and a locked one are threat lines naming the provider and the fact', () => {
  const s = score([ldapUser('alice', { disabled: true, locked: true })]);
  assert.equal(line(s, 'threat.disabled_account')!.points, 10);
  assert.equal(line(s, 'threat.disabled_account')!.evidence, 'user:alice: the account is disabled (ldap); activity on a disabled account is suspicious');
  assert.equal(line(s, 'threat.locked_account')!.points, 5);
  assert.match(line(s, 'threat.locked_account')!.evidence, /^user:alice: the account is locked out since 2026-11-27T\d\d:\d\d:\d\d\.\d{3}Z \(ldap\)$/);
  assert.equal(s.components.threat, 12 + 10 + 5);
  const active = score([ldapUser('alice')]);
  assert.equal(line(active, 'threat.disabled_account'), undefined);
  assert.equal(line(active, 'threat.locked_account'), undefined);
});

test('directory: VIP and privileged flags, LDAP group objects, bounded user component', () => {
  const vip = score([ldapUser('carol', { vip: true, title: 'Chief Executive Officer' })], undefined, { user: 'carol' });
  assert.equal(line(vip, 'user.vip')!.points, 10);
  assert.equal(line(vip, 'user.vip')!.evidence, 'user:carol is marked VIP (ldap)');
  const byGroup = score([ldapUser('bob', { groups: ['Staff', 'Domain Admins'] })]);
  assert.equal(line(byGroup, 'user.privileged')!.points, 15);
  assert.equal(line(byGroup, 'user.privileged')!.evidence, 'user:bob is in group "Domain Admins" (ldap)');
  const flagged = score([ldapUser('bob', { privileged: true, vip: true })]);
  assert.equal(line(flagged, 'user.privileged')!.evidence, 'user:bob is marked privileged (ldap)');
  assert.equal(line(flagged, 'user.cap')!.points, -5); // 15 + 10 → 20
  assert.equal(flagged.components.user, 20);
});

test('directory: department points only where the profile maps departments', () => {
  const finance = ldapUser('dave', { department: 'Finance' });
  assert.equal(line(score([finance]), 'user.department'), undefined);
  const s = score([finance], { default: { user: { departments: { finance: 8, marketing: 2 } } } });
  assert.equal(line(s, 'user.department')!.points, 8);
  assert.equal(line(s, 'user.department')!.evidence, 'user:dave works in department "Finance" (ldap)');
  assert.throws(() => resolveProfile('default', { default: { user: { departments: { finance: 'high' } } } }), (e: unknown) => e instanceof ProfileError && /user\.departments\.finance/.test(e.message));
});

test('geography: nothing by default; listed countries and ASNs add their points, the largest effect once, bounded', () => {
  const answers = [geoip(IP, 'KP', 'North Korea', 64496, 'Example Hosting'), geoip('198.51.100.9', 'DE', 'Germany', 3320, 'Deutsche Telekom AG')];
  const plain = score(answers);
  assert.equal(plain.explanation.filter((l) => l.factor.startsWith('geo.')).length, 0);
  assert.equal(plain.components.geo, 0);
  const s = score(answers, { default: { geo: { countries: { kp: 10, DE: -2 }, asns: { AS64496: 4 } } } });
  assert.equal(line(s, 'geo.country')!.points, 10);
  assert.equal(line(s, 'geo.country')!.evidence, `ip:${IP} is in country KP (North Korea) (geoip)`);
  assert.equal(line(s, 'geo.asn')!.points, 4);
  assert.equal(line(s, 'geo.asn')!.evidence, `ip:${IP} is in AS64496 "Example Hosting" (geoip)`);
  assert.equal(s.components.geo, 14);
  const capped = score(answers, { default: { geo: { max: 12, countries: { KP: 10 }, asns: { '64496': 4 } } } });
  assert.equal(line(capped, 'geo.cap')!.points, -2);
  assert.equal(capped.components.geo, 12);
});

test('a realistic incident: every new factor together, and the lines add up', () => {
  const s = score(
    [
      vt('ip', IP, { malicious: 12, harmless: 55 }),
      otx('ip', IP, 7),
      geoip(IP, 'KP', 'North Korea', 64496, 'Example Hosting'),
      ldapUser('alice', { disabled: true, vip: true, department: 'Finance' }),
      enr('inventory', 'host', 'ws-042', { host: 'ws-042', criticality: 'high', tags: [] }),
    ],
    { default: { geo: { countries: { KP: 10 } }, user: { departments: { finance: 5 } } } },
    { alerts: [alert({ severity: 75, action: 'allowed' })] },
  );
  // threat: severity high 20 + allowed 8 + indicator 21 (2 sources) + disabled 10 = 59 (max 60)
  assert.equal(s.components.threat, 59);
  // asset 12; user: vip 10 + department 5 = 15; geo 10
  assert.deepEqual(
    { asset: s.components.asset, user: s.components.user, geo: s.components.geo },
    { asset: 12, user: 15, geo: 10 },
  );
  assert.equal(s.total, 59 + 12 + 15 + 10);
});

test('the agreement factor interpolates and never exceeds its last entry', () => {
  const t = [0.6, 0.85, 1];
  assert.deepEqual([0, 0.5, 1, 1.5, 2, 3, 7].map((n) => Number(agreementFactor(n, t).toFixed(4))), [0, 0.3, 0.6, 0.725, 0.85, 1, 1]);
  assert.throws(() => resolveProfile('default', { default: { threat: { indicator: { agreement: [1.5] } } } }), /threat\.indicator\.agreement\.0/);
});
