import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine, sampleLines } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const okta = await runner('okta');
const reg = await registry();
const signOn = sampleLine('okta', 'system_log.jsonl', 1);
const verify = sampleLine('okta', 'system_log.jsonl', 2);
const groupAdd = sampleLine('okta', 'system_log.jsonl', 6);

test('every sample is auto-detected as okta; all six are routine context: sign-ons auth, directory changes audit', () => {
  const kinds = autoDetectedSamples(okta, 'okta', 6, 'context').map(({ result }) => ('context' in result ? result.context[0]!.kind : 'alert'));
  assert.deepEqual(kinds, ['auth', 'auth', 'auth', 'auth', 'auth', 'audit']);
});

test('context events carry the canonical fields: event type, actor, client address, OS, outcome, session', () => {
  const c = okta.context(signOn);
  assert.equal(c.kind, 'auth');
  assert.equal(c.event_type, 'policy.evaluate_sign_on');
  assert.deepEqual(c.user, { name: 'xxxxxx@elastic.co', email: 'xxxxxx@elastic.co' });
  assert.deepEqual(c.src, { ip: '175.16.199.1', user: 'xxxxxx@elastic.co' });
  assert.deepEqual(c.host, { os: 'Mac OS X' });
  assert.equal(c.outcome, 'success');
  assert.equal(c.session_id, '102bZDNFfWaQSyEZQuDgWt-uQ');
  const g = okta.context(groupAdd);
  assert.equal(g.kind, 'audit');
  assert.equal(g.event_type, 'group.user_membership.add');
  assert.equal(g.user?.name, 'actor.user@test.com');
  assert.ok(g.observables.some((o) => o.type === 'user' && o.value === 'target.user@test.com' && o.role === 'target'));
  const end = okta.context(fixtureLine('okta', 'elastic_system_events.jsonl', 1));
  assert.equal(end.event_type, 'user.session.end');
  assert.equal(end.session_id, '102nZHzd6OHSfGG51vsoc22gw');
  const failed = okta.context(variant(verify, (e) => { e.outcome = { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' }; }));
  assert.equal(failed.outcome, 'failure');
  assert.equal(okta.context(variant(verify, (e) => { e.outcome = { result: 'SKIPPED' }; })).outcome, 'unknown');
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(okta, 'okta');
});

test('context events carry the event, the client address and the actor', () => {
  const c = okta.context(signOn);
  assert.equal(c.time, '2020-02-14T20:18:57.762Z');
  assert.equal(c.data.eventType, 'policy.evaluate_sign_on');
  assert.deepEqual((c.data.outcome as Record<string, unknown>).result, 'ALLOW');
  assert.ok(c.observables.some((o) => o.type === 'ip' && o.value === '175.16.199.1' && o.role === 'src'));
  assert.ok(c.observables.some((o) => o.type === 'email' && o.value === 'xxxxxx@elastic.co'));
  const v = okta.context(verify);
  assert.equal(v.data.eventType, 'user.authentication.verify');
  assert.ok(v.observables.some((o) => o.type === 'ip' && o.value === '67.43.156.14'));
  assert.equal(okta.context(groupAdd).data.eventType, 'group.user_membership.add');
});

/** A sample event with fields replaced (outcome, debugData…). */
function variant(base: string, patch: (e: Record<string, any>) => void): string {
  const e = JSON.parse(base) as Record<string, any>;
  patch(e);
  return JSON.stringify(e);
}

test('policy.evaluate_sign_on with outcome DENY is an alert; the actor is the user', () => {
  const a = okta.alert(variant(signOn, (e) => { e.outcome = { result: 'DENY', reason: 'Sign-on policy evaluation resulted in DENY' }; }));
  assert.equal(a.vendor_id, '3af594f9-4f67-11ea-abd3-1f5d113f2546');
  assert.equal(a.time, '2020-02-14T20:18:57.762Z');
  assert.equal(a.title, 'Evaluation of sign-on policy');
  assert.equal(a.event_type, 'policy.evaluate_sign_on');
  assert.deepEqual(a.rule, { id: 'policy.evaluate_sign_on', name: 'Evaluation of sign-on policy', category: 'policy' });
  assert.equal(a.action, 'blocked');
  assert.equal(a.severity, 40);
  assert.deepEqual(a.src, { ip: '175.16.199.1', user: 'xxxxxx@elastic.co' });
  assert.deepEqual(a.user, { name: 'xxxxxx@elastic.co', email: 'xxxxxx@elastic.co' });
});

test('user.session.start FAILURE: risk decides alert or context', () => {
  const start = (risk: string) => variant(verify, (e) => {
    e.eventType = 'user.session.start';
    e.displayMessage = 'User login to Okta';
    e.outcome = { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' };
    e.debugContext.debugData.risk = risk;
  });
  const high = okta.alert(start('{reasons=Anomalous Location, level=HIGH}'));
  assert.equal(high.severity, 75);
  assert.equal(high.action, 'blocked');
  assert.equal(high.vendor_severity?.value, 'INFO, risk HIGH');
  assert.equal(high.src?.ip, '67.43.156.14');
  assert.equal(okta.alert(start('{level=MEDIUM}')).severity, 50);
  assert.equal(okta.context(start('{level=LOW}')).kind, 'auth'); // a mistyped password is routine
  const success = variant(verify, (e) => { e.eventType = 'user.session.start'; e.outcome = { result: 'SUCCESS' }; });
  assert.equal(okta.context(success).kind, 'auth');
});

test('security events are alerts: ThreatInsight, account lock, MFA push denied, privilege grant', () => {
  const threat = okta.alert(variant(verify, (e) => {
    e.eventType = 'security.threat.detected';
    e.displayMessage = 'Request from suspicious actor';
    e.outcome = { result: 'DENY', reason: 'Password Spray' };
    e.debugContext.debugData.threatSuspected = 'true';
  }));
  assert.equal(threat.severity, 75);
  assert.equal(threat.rule?.category, 'security');
  const lock = okta.alert(variant(verify, (e) => { e.eventType = 'user.account.lock'; e.outcome = { result: 'SUCCESS' }; }));
  assert.equal(lock.action, 'blocked');
  assert.equal(lock.severity, 50);
  const deny = okta.alert(variant(verify, (e) => { e.eventType = 'user.mfa.okta_verify.deny_push'; e.outcome = { result: 'FAILURE' }; }));
  assert.equal(deny.rule?.id, 'user.mfa.okta_verify.deny_push');
  const grant = okta.alert(variant(groupAdd, (e) => { e.eventType = 'user.account.privilege.grant'; e.displayMessage = 'Grant user privilege'; }));
  assert.deepEqual(grant.user, { name: 'target.user@test.com', email: 'target.user@test.com' }); // the target, not the admin
  assert.equal(grant.src?.user, 'actor.user@test.com');
  assert.equal(grant.action, 'allowed');
  const suspicious = okta.alert(variant(signOn, (e) => { e.debugContext.debugData.threatSuspected = 'true'; }));
  assert.equal(suspicious.severity, 75);
  assert.ok(obs(suspicious).includes('email:xxxxxx@elastic.co:user'));
});

test('malformed events are rejected with a reason', () => {
  assert.match(okta.error(variant(signOn, (e) => { e.published = 'yesterday'; })), /published/);
  assert.match(okta.error(variant(signOn, (e) => { delete e.eventType; })), /eventType/);
  assert.match(okta.error(variant(signOn, (e) => { e.target = 'x'; })), /target/);
  assert.match(okta.error(variant(signOn, (e) => { e.outcome = 'DENY'; })), /outcome/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('okta', reg, [signOn, groupAdd]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(okta.detector, sampleLines('okta', '.jsonl').map((l) => l.text));
});

test('real Elastic records (samples/okta/elastic_system_events_2023.jsonl): risk HIGH sign-ons are alerts, the rest context', () => {
  const line = (n: number) => fixtureLine('okta', 'elastic_system_events_2023.jsonl', n);
  // user.session.start SUCCESS with risk HIGH in debugData.logOnlySecurityData (JSON form): an alert, allowed.
  const start = okta.alert(line(1));
  assert.equal(okta.run(line(1), 'auto').detector, 'okta');
  assert.equal(start.event_type, 'user.session.start');
  assert.equal(start.severity, 75);
  assert.equal(start.action, 'allowed');
  assert.equal(start.vendor_severity?.value, 'INFO, risk HIGH');
  assert.deepEqual(start.src, { ip: '81.2.69.144', user: 'test@test.com' });
  assert.equal(start.host, undefined); // no device object: Okta names no machine
  // user.authentication.verify SUCCESS with risk "{reasons=…, level=HIGH}".
  const verify = okta.alert(line(2));
  assert.equal(verify.vendor_id, 'c32ae8ec-7a68-11ed-b8a7-9134a086ef85');
  assert.equal(verify.severity, 75);
  assert.equal(verify.user?.name, 'Snipped_User@domain.com');
  // app.user_management by the Okta system principal: audit, no user, the target user as an observable.
  const app = okta.context(line(3));
  assert.equal(app.kind, 'audit');
  assert.equal(app.user, undefined);
  assert.equal(app.src, undefined); // client.ipAddress null, empty ipChain
  assert.ok(app.observables.some((o) => o.type === 'user' && o.value === 'domain.user@test.com' && o.role === 'target'));
  // user.authentication.sso with an empty client: the address from ipChain, the machine from the device object.
  const sso = okta.context(line(4));
  assert.equal(sso.kind, 'auth');
  assert.deepEqual(sso.src, { ip: '192.168.1.10', user: 'test.user@test.com' });
  assert.deepEqual(sso.host, { name: 'MacBookPro14,2', id: 'abcdefghijklmnop', os: 'OSX 12.6.6' });
  assert.equal(sso.outcome, 'success');
  // user.authentication.auth_via_mfa (Okta FastPass): auth, client OS, Okta session.
  const mfa = okta.context(line(5));
  assert.equal(mfa.kind, 'auth');
  assert.deepEqual(mfa.host, { os: 'Mac OS X' });
  assert.equal(mfa.session_id, 'idx123456asdsajA');
  // device.user.add: audit; the further ipChain address is an observable.
  const dev = okta.context(line(6));
  assert.equal(dev.kind, 'audit');
  assert.equal(dev.event_type, 'device.user.add');
  assert.deepEqual(dev.src, { ip: '192.168.1.10', user: 'john.doe@elastic.co' });
  assert.ok(dev.observables.some((o) => o.type === 'ip' && o.value === '175.16.199.18' && o.role === 'src'));
});

test('the device object maps to host on alerts too; a non-object device is ignored', () => {
  const line = fixtureLine('okta', 'elastic_system_events_2023.jsonl', 4);
  const a = okta.alert(variant(line, (e) => { e.debugContext = { debugData: { threatSuspected: 'true' } }; }));
  assert.deepEqual(a.host, { name: 'MacBookPro14,2', id: 'abcdefghijklmnop', os: 'OSX 12.6.6' });
  assert.equal(okta.context(variant(line, (e) => { e.device = 'laptop'; })).host, undefined);
});
