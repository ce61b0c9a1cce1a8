import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import panos from '../../src/detectors/panos.js';
import { splitCsvLine } from '../../src/detectors/lib/csv.js';
import { finalizeContext } from '../../src/detectors/lib/observables.js';
import { isPlaceholderText } from '../../src/detectors/lib/placeholders.js';
import { finishes, fixtureLine } from './helpers.js';
import { OTHER_FORMATS, alertOf, assertOthersSniffLow, contextOf, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/panos/, and the THREAT/TRAFFIC lines built below from their documented
// positions) written after PAN-OS "Syslog Field Descriptions" (Threat / Traffic Log Fields, 8.1 … 11.x).

/** A THREAT line from field overrides (0-based CSV index → value), `n` fields long. */
/** The context event as stored: through the gate (placeholders dropped, observables derived). */
function ctx(line: string) {
  return finalizeContext(contextOf(panos, line)[0]!, '2024-01-01T00:00:00.000Z');
}

function threat(over: Record<number, string>, n = 115, header = '<14>Apr  9 20:43:30 PA-5250 '): string {
  const f = Array<string>(n).fill('');
  const base: Record<number, string> = {
    0: '1', 1: '2024/04/09 20:43:29', 2: '012801096514', 3: 'THREAT', 4: 'vulnerability', 5: '2561', 6: '2024/04/09 20:43:29',
    7: '10.84.12.242', 8: '192.0.2.67', 9: '198.51.100.150', 10: '192.0.2.67', 11: 'Outbound-Web', 12: 'corp\\alice', 14: 'web-browsing',
    15: 'vsys1', 16: 'Inside', 17: 'Outside', 18: 'ae1.1324', 19: 'ae2.497', 20: 'default', 21: '2024/04/09 20:43:29', 22: '2398805',
    23: '1', 24: '50833', 25: '80', 26: '14918', 27: '80', 28: '0x1402000', 29: 'tcp', 30: 'reset-both', 31: '"www.example.com/index.php?id=1"',
    32: 'Microsoft Windows SMB Remote Code Execution Vulnerability(32424)', 33: 'computer-and-internet-info', 34: 'critical',
    35: 'client-to-server', 36: '7332568507791862502', 37: '0x8000000000000000', 38: '10.0.0.0-10.255.255.255', 39: 'United States',
  };
  for (const [i, v] of Object.entries({ ...base, ...over })) f[Number(i)] = v;
  return `${header}${f.join(',')}`;
}

test('10.x vulnerability: threat name and id, severity, action, high-resolution time with zone, user split', () => {
  const line = threat({ 59: 'PA-5250', 69: 'code-execution', 107: '2024-04-09T20:43:29.123+02:00', 87: '00:50:56:9f:cd:68' });
  assert.equal(sniff(panos, line), 0.95);
  const a = alertOf(panos, line);
  assert.equal(a.title, 'Microsoft Windows SMB Remote Code Execution Vulnerability');
  assert.deepEqual(a.rule, { id: '32424', name: 'Microsoft Windows SMB Remote Code Execution Vulnerability', category: 'code-execution' });
  assert.equal(a.severity, 95);
  assert.equal(a.severity_label, 'critical');
  assert.deepEqual(a.vendor_severity, { value: 'critical', scale: 'pan-os informational|low|medium|high|critical' });
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2024-04-09T18:43:29.123Z');
  assert.deepEqual(a.src, { ip: '10.84.12.242', port: 50833, user: 'alice' });
  assert.equal(a.dst?.ip, '192.0.2.67');
  assert.equal(a.dst?.port, 80);
  assert.deepEqual(a.user, { name: 'alice', domain: 'corp' });
  assert.equal(a.url, 'http://www.example.com/index.php?id=1');
  assert.equal(a.domain, 'www.example.com');
  assert.equal(a.vendor_id, '012801096514:7332568507791862502');
  assert.ok(a.observables.some((o) => o.type === 'ip' && o.value === '198.51.100.150' && o.role === 'src_nat'));
  assert.ok(a.observables.some((o) => o.type === 'mac' && o.value === '00:50:56:9f:cd:68'));
});

test('generated time in the source zone when there is no high-resolution timestamp (8.1/9.x)', () => {
  const line = threat({}, 75);
  assert.equal(alertOf(panos, line).time, '2024-04-09T20:43:29.000Z');
  assert.equal(alertOf(panos, line, { timeZone: 'America/New_York' }).time, '2024-04-10T00:43:29.000Z');
  // The GlobalProtect-style bogus 1970 high-res value is ignored.
  assert.equal(alertOf(panos, threat({ 107: '1970-01-01T01:00:00.000+01:00' })).time, '2024-04-09T20:43:29.000Z');
});

test('8.1 url subtype: "(9999)" threat id, category in the title, https for port 443, block-url blocked', () => {
  const line =
    fixtureLine('panos', 'threat_url.log', 1);
  const a = alertOf(panos, line);
  assert.equal(a.title, 'URL filtering: malware - tracker.example.net/collect?a=1,b=2');
  assert.deepEqual(a.rule, { id: 'url:malware', name: 'URL category malware', category: 'url' });
  assert.equal(a.url, 'https://tracker.example.net/collect?a=1,b=2');
  assert.equal(a.domain, 'tracker.example.net');
  assert.equal(a.severity_label, 'info');
  assert.equal(a.action, 'blocked');
  assert.equal(a.src?.user, undefined);
  assert.equal(a.vendor_id, '012801096514:7726');
});

test('PAN-OS 4.x/5.x era url line without a host name in the header, sequence number 0', () => {
  const line =
    fixtureLine('panos', 'threat_url.log', 2);
  const a = alertOf(panos, line);
  assert.equal(a.time, '2012-04-10T04:39:56.000Z');
  assert.equal(a.action, 'detected');
  assert.equal(a.url, 'http://loader.example.cn/loader.exe');
  assert.deepEqual(a.user, { name: 'crusher' });
  assert.equal(a.vendor_id, '01606001116:25149:2012-04-10T04:39:56.000Z:9999');
  assert.equal(a.observables.some((o) => o.role === 'src_nat'), false, '0.0.0.0 is "no NAT"');
});

test('virus: file name from the URL field, malware name, a UPN user kept whole (and as e-mail)', () => {
  const a = alertOf(panos, threat({
    4: 'virus', 12: 'bob@corp.example', 30: 'reset-server',
    31: '"download.example.org/pkg/tool.2023.3.4/Setup.exe"', 32: 'Virus/Win32.WGeneric.abc(419149938)', 34: 'medium', 35: 'server-to-client',
  }));
  assert.equal(a.title, 'Virus/Win32.WGeneric.abc');
  assert.deepEqual(a.malware, { name: 'Virus/Win32.WGeneric.abc' });
  assert.equal(a.file?.name, 'Setup.exe');
  assert.equal(a.url, 'http://download.example.org/pkg/tool.2023.3.4/Setup.exe');
  assert.deepEqual(a.user, { name: 'bob@corp.example', email: 'bob@corp.example' });
  assert.equal(a.severity, 50);
  assert.equal(a.event_type, 'THREAT/virus');
});

test('wildfire: verdict in the title, SHA-256 file digest, e-mail fields, allow → allowed', () => {
  const sha = '2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad';
  const a = alertOf(panos, threat({
    4: 'wildfire', 30: 'allow', 31: '"invoice.exe"', 32: 'Windows Executable (EXE)(52020)', 33: 'malicious', 34: 'high',
    43: sha, 44: 'wildfire.paloaltonetworks.com', 47: 'pe', 50: 'billing@vendor.example', 51: 'Invoice 42', 52: 'alice@corp.example',
  }, 80));
  assert.equal(a.title, 'WildFire malicious: invoice.exe (Windows Executable (EXE))');
  assert.equal(a.file?.sha256, sha);
  assert.equal(a.file?.name, 'invoice.exe');
  assert.equal(a.action, 'allowed');
  assert.deepEqual(a.email, { from: 'billing@vendor.example', to: ['alice@corp.example'], subject: 'Invoice 42' });
  assert.ok(a.observables.some((o) => o.type === 'sha256' && o.value === sha));
});

test('spyware DNS detection: queried name is the domain, sinkhole is blocked, realm\\\\user with a doubled backslash', () => {
  const a = alertOf(panos, threat({
    4: 'spyware', 12: 'net.ad.users\\\\empty14', 25: '53', 29: 'udp', 30: 'sinkhole', 31: '"c2.bad-domain.example"',
    32: 'generic:c2.bad-domain.example(109010004)', 34: 'high', 69: 'dns-c2',
  }));
  assert.equal(a.domain, 'c2.bad-domain.example');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.user, { name: 'empty14', domain: 'net.ad.users' });
  assert.equal(a.rule?.category, 'dns-c2');
  assert.deepEqual(a.malware, { name: 'generic:c2.bad-domain.example' });
});

test('scan, flood, file and data subtypes; an RFC 5424 header; "host -" relays', () => {
  const scan = alertOf(panos, threat({ 4: 'scan', 30: 'drop', 31: '', 32: 'TCP Port Scan(8001)', 34: 'medium', 69: 'scan' }, 75, '<14>1 2024-04-09T20:43:30+00:00 fw01 - - - - '));
  assert.equal(scan.title, 'TCP Port Scan');
  assert.equal(scan.rule?.id, '8001');
  assert.equal(scan.action, 'blocked');
  const flood = alertOf(panos, threat({ 4: 'flood', 30: 'drop', 31: '', 32: 'UDP Flood(8502)', 34: 'critical' }, 75, 'Nov 26 12:53:54 FW-DNS-11 - '));
  assert.equal(flood.severity, 95);
  const file = alertOf(panos, threat({ 4: 'file', 30: 'alert', 31: '"C:\\Users\\bob\\report.docx"', 32: 'Microsoft Word 2007+ Document(52042)', 34: 'low' }));
  assert.equal(file.file?.name, 'report.docx');
  assert.equal(file.file?.path, 'C:\\Users\\bob\\report.docx');
  const data = alertOf(panos, threat({ 4: 'data', 30: 'alert', 31: '"payroll.xlsx"', 32: 'Credit Card Numbers(60000)', 34: 'high' }));
  assert.equal(data.title, 'Credit Card Numbers');
  assert.equal(data.file?.name, 'payroll.xlsx');
});

test('IPv6 addresses, quoted fields with commas and doubled quotes stay in place', () => {
  const a = alertOf(panos, threat({ 7: '2001:db8::10', 8: '2001:DB8:0:0::20', 9: '::', 31: '"a.example.com/q?x=""1"",y=2"' }));
  assert.equal(a.src?.ip, '2001:db8::10');
  assert.equal(a.dst?.ip, '2001:db8::20');
  assert.equal(a.url, 'http://a.example.com/q?x="1",y=2');
  assert.equal(a.severity, 95, 'fields after the quoted one are not shifted');
});

test('TRAFFIC → flow context: users, addresses, ports, host names, session, start/end, outcome, device', () => {
  const f = Array<string>(110).fill('');
  Object.assign(f, {
    0: '1', 1: '2024/05/01 10:00:05', 2: '012801096514', 3: 'TRAFFIC', 4: 'end', 5: '2561', 6: '2024/05/01 10:00:05', 7: '10.1.1.5', 8: '203.0.113.9',
    9: '198.51.100.2', 10: '203.0.113.9', 11: 'allow-web', 12: 'corp\\carol', 14: 'ssl', 15: 'vsys1', 16: 'trust', 17: 'untrust', 22: '33',
    24: '50000', 25: '443', 29: 'tcp', 30: 'allow', 31: '5000', 32: '1000', 33: '4000', 34: '20', 35: '2024/05/01 09:59:00', 36: '65',
    37: 'business', 46: 'tcp-fin', 52: 'PA-440', 82: 'ws-carol', 90: 'www.example.com',
  });
  const e = ctx(`<14>May  1 10:00:05 PA-440 ${f.join(',')}`);
  assert.equal(e!.kind, 'flow');
  assert.equal(e!.event_type, 'TRAFFIC/end');
  assert.equal(e!.time, '2024-05-01T10:00:05.000Z');
  assert.deepEqual(e!.user, { name: 'carol', domain: 'corp' });
  assert.deepEqual(e!.src, { ip: '10.1.1.5', port: 50000, host: 'ws-carol', user: 'carol' });
  assert.deepEqual(e!.dst, { ip: '203.0.113.9', port: 443, host: 'www.example.com' });
  assert.deepEqual(e!.device, { name: 'PA-440', id: '012801096514' });
  assert.deepEqual(e!.rule, { name: 'allow-web' }, 'the security rule that matched');
  assert.equal(e!.session_id, '33');
  assert.equal(e!.start, '2024-05-01T09:59:00.000Z');
  assert.equal(e!.end, '2024-05-01T10:00:05.000Z');
  assert.equal(e!.outcome, 'success');
  assert.equal(e!.data.bytes, '5000');
  assert.equal(e!.data.endreason, 'tcp-fin');
  assert.ok(e!.observables.some((o) => o.type === 'ip' && o.value === '198.51.100.2' && o.role === 'src_nat'));
  assert.ok(e!.observables.some((o) => o.type === 'ip' && o.value === '10.1.1.5' && o.role === 'src'));
  // A denied session failed; ICMP's port 0 is no port.
  Object.assign(f, { 4: 'deny', 24: '0', 25: '0', 29: 'icmp', 30: 'deny' });
  const d = ctx(f.join(','));
  assert.equal(d!.outcome, 'failure');
  assert.equal(d!.src?.port, undefined);
  assert.equal(d!.end, undefined);
});

test('Elastic pipeline records (real firewalls): THREAT subtypes carry event_type, users, domains, files and the device', () => {
  const virus = alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 2));
  assert.equal(virus.event_type, 'THREAT/virus');
  assert.equal(virus.file?.name, 'commons-digester3-3.2.jar');
  assert.equal(virus.rule?.id, '419149938');
  assert.equal(virus.device?.name, 'AC-PA5250');
  assert.ok(!virus.observables.some((o) => o.role === 'device'), 'the firewall is not an indicator');
  const xff = alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 3));
  assert.equal(xff.user, undefined, '"x-fwd-for: <ip>" is not a user');
  assert.ok(xff.observables.some((o) => o.type === 'ip' && o.value === '10.34.32.4' && o.role === 'src_xff'), 'but its address is the client behind the proxy');
  assert.equal(xff.url, 'https://dev-prod06.example.net:443/');
  const file = alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 6));
  assert.equal(file.event_type, 'THREAT/file');
  assert.deepEqual(file.user, { name: 'steve', domain: 'contoso' });
  assert.equal(file.file?.name, 'elastic-agent.exe');
  const dns = alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 7));
  assert.equal(dns.domain, 'domain.dev', 'the wildcard of "*.domain.dev" is not part of the domain');
  assert.equal(dns.action, 'blocked');
  assert.deepEqual(alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 9)).user, { name: 'src_username' }, '".\\user" is a local account');
  const doubled = alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 10));
  assert.deepEqual(doubled.user, { name: 'src-user#name', domain: 'src_domain..name' });
  assert.equal(doubled.dst?.user, 'dst-user#name');
  const query = alertOf(panos, fixtureLine('panos', 'elastic_threat.log', 11));
  assert.equal(query.url, 'https://keyvalueservice.icloud.com:443?q=30');
  assert.equal(query.domain, 'keyvalueservice.icloud.com');
});

test('other log types: canonical context per type (Elastic pipeline records)', () => {
  const line = (n: number) => ctx(fixtureLine('panos', 'elastic_other.log', n));
  const sys = line(1);
  assert.equal(sys.kind, 'status');
  assert.equal(sys.event_type, 'SYSTEM/general');
  assert.deepEqual(sys.device, { name: 'PA-VM' });
  const cfg = line(2);
  assert.equal(cfg.kind, 'audit');
  assert.equal(cfg.event_type, 'CONFIG');
  assert.deepEqual(cfg.user, { name: 'admin' });
  assert.equal(cfg.src?.ip, '81.2.69.193');
  assert.equal(cfg.outcome, 'success');
  assert.equal(line(3).outcome, 'failure');
  const uid = line(4);
  assert.equal(uid.kind, 'auth');
  assert.equal(uid.event_type, 'USERID/login');
  assert.deepEqual(uid.user, { name: 'name', domain: 'domain' });
  assert.equal(uid.src?.ip, '81.2.69.193');
  assert.deepEqual(uid.device, { name: 'FW01', id: '013101001305' });
  assert.equal(line(6).device?.id, undefined, 'a "<serial-number>" placeholder is no serial');
  const auth = line(8);
  assert.equal(auth.kind, 'auth');
  assert.equal(auth.src?.ip, 'fe80::4e7:1ab2:f6aa:82fa');
  assert.deepEqual(auth.user, { name: 'user' });
  assert.deepEqual(auth.host, { name: 'src-hostname', os: 'src-os-family', mac: 'aa:aa:aa:aa:aa:aa' });
  assert.equal(auth.session_id, 'session-id');
  assert.equal(auth.device?.name, 'device-name');
  const hip = line(9);
  assert.equal(hip.event_type, 'HIPMATCH');
  assert.deepEqual(hip.host, { name: 'PC12345', ip: '10.20.30.40', id: 'd275bcbe-3a07-4e69-85c5-3ad9192c212e' });
  assert.deepEqual(hip.user, { name: 'mustermanm', domain: 'domain' });
  const tls = line(11);
  assert.equal(tls.kind, 'tls');
  assert.equal(tls.domain, 'com.example.com');
  assert.deepEqual(tls.dst, { ip: '81.2.69.144', port: 443, host: 'com.example.com' });
  assert.equal(tls.outcome, 'failure', 'the handshake error fails the session');
  assert.equal(tls.session_id, '33288');
  assert.equal(tls.device?.name, 'PA-VM');
  assert.equal(line(13).host?.ip, '81.2.69.142');
  const tunnel = line(14);
  assert.equal(tunnel.kind, 'flow');
  assert.deepEqual(tunnel.src, { ip: '10.0.0.10', port: 9000 });
  assert.equal(tunnel.device?.name, 'd-name');
  assert.equal(line(15).kind, 'flow');
  assert.equal(line(16).device?.name, 'device-name');
  const audit = line(17);
  assert.equal(audit.kind, 'audit');
  assert.equal(audit.event_type, 'AUDIT/gui-op');
  assert.deepEqual(audit.user, { name: 'suser' });
  assert.equal(audit.outcome, 'success');
  assert.deepEqual(audit.device, { ip: '192.168.0.1', id: '01111111111' }, 'the syslog host is an address');
  assert.equal(audit.data.command, '<debug><dataplane><packet-diag><show><setting/></show></packet-diag></dataplane></debug>');
});

test('CORRELATION: the correlation object is the rule, the source the host', () => {
  const a = alertOf(panos, fixtureLine('panos', 'elastic_other.log', 12));
  assert.equal(a.event_type, 'CORRELATION');
  assert.deepEqual(a.rule, { id: 'o-id', name: 'o-name', category: 'cat' });
  assert.equal(a.title, 'o-name: evidence');
  assert.deepEqual(a.host, { ip: '81.2.69.142' });
  assert.deepEqual(a.user, { name: 'src-user' });
  assert.equal(a.severity, 75);
});

test('SYSTEM auth: the administrator and client address from the description', () => {
  const line = '1,2024/05/01 10:00:05,012801096514,SYSTEM,auth,2561,2024/05/01 10:00:05,,auth-fail,,0,0,general,medium,"failed authentication for user \'admin\'. Reason: Invalid username or password. From: 10.0.0.9.",55,0x0,0,0,0,0,,PA-440';
  const e = ctx(line);
  assert.equal(e!.kind, 'auth');
  assert.deepEqual(e!.user, { name: 'admin' });
  assert.equal(e!.src?.ip, '10.0.0.9');
  assert.equal(e!.outcome, 'failure');
});

test('SYSTEM and CONFIG logs are context; GLOBALPROTECT is left to panos_globalprotect', () => {
  const sys = ctx(fixtureLine('panos', 'system_config.log', 1));
  assert.equal(sys!.kind, 'status');
  assert.equal(sys!.data.type, 'SYSTEM');
  assert.equal(sys!.data.subtype, 'general');
  const cfg = ctx(fixtureLine('panos', 'system_config.log', 2));
  assert.equal(cfg!.kind, 'audit');
  assert.deepEqual(cfg!.user, { name: 'admin' });
  assert.ok(sniff(panos, OTHER_FORMATS.globalprotect!) < 0.9);
});

test('sniff: PAN-OS CSV high; other formats, other CSV and look-alikes low', () => {
  assert.equal(sniff(panos, OTHER_FORMATS.panos!), 0.95);
  assertOthersSniffLow(panos, 'panos', 'globalprotect');
  assert.equal(sniff(panos, '1,2024/01/01 00:00:00,123,NOTATYPE,x,1,2024/01/01 00:00:00'), 0);
  assert.equal(sniff(panos, 'a,b,c,d,e,f,g,h'), 0);
});

test('malformed, truncated and hostile records: a reason, never a crash or a hang', () => {
  assert.match(reasonOf(panos, 'hello world'), /not a PAN-OS CSV log/);
  assert.match(reasonOf(panos, '1,2024/04/09 20:43:29,012801096514,THREAT,url,2049,2024/04/09 20:43:29,10.0.0.1,10.0.0.2'), /THREAT log has 9 fields; at least 35 expected/);
  assert.match(reasonOf(panos, threat({ 31: '"unterminated, value, runs to the end' }, 33)), /quoted field is not closed|fields/);
  assert.match(reasonOf(panos, threat({ 1: '2024/13/45 99:99:99', 6: '2024/13/45 99:99:99' })), /generated time/);
  // 1 MB field, control characters, injection strings.
  const big = 'A'.repeat(1 << 20);
  finishes(() => holdsContract(panos, threat({ 31: `"${big}"`, 32: `${big}(1)` })));
  finishes(() => holdsContract(panos, threat({ 32: 'x\u0000\u001b[31m\r\nFAKE LOG LINE(1)', 11: "'; DROP TABLE alerts; --", 12: '<script>alert(1)</script>' })));
  const hostile = alertOf(panos, threat({ 32: 'Evil\u001b[2J\r\ninjected(77)' }));
  assert.equal(hostile.title, 'Evil[2J\ninjected');
  finishes(() => holdsContract(panos, `${'1,2024/04/09 20:43:29,0,THREAT,'.repeat(20000)}`));
  finishes(() => holdsContract(panos, `1,2024/04/09 20:43:29,0,THREAT,url,${'"'.repeat(100000)}`));
  finishes(() => holdsContract(panos, `1,2024/04/09 20:43:29,0,TRAFFIC,end,1,2024/04/09 20:43:29,${',{'.repeat(100000)}`));
});

test('csv splitter: quotes, doubled quotes, braces, trailing separator, field cap', () => {
  assert.deepEqual(splitCsvLine('a,"b,c",d').fields, ['a', 'b,c', 'd']);
  assert.deepEqual(splitCsvLine('"x""y",z').fields, ['x"y', 'z']);
  assert.deepEqual(splitCsvLine('a,{l1, t1, w},b', { braces: true }).fields, ['a', '{l1, t1, w}', 'b']);
  assert.deepEqual(splitCsvLine('a,{unclosed,b', { braces: true }).fields, ['a', '{unclosed', 'b']);
  assert.deepEqual(splitCsvLine('a,b,').fields, ['a', 'b', '']);
  assert.equal(splitCsvLine('"open,ended').unterminated, true);
  assert.equal(splitCsvLine(','.repeat(5000), { maxFields: 100 }).truncated, true);
  assert.deepEqual(splitCsvLine('1, 2, 3', { separator: ', ' }).fields, ['1', '2', '3']);
});

test('property: any THREAT line built from the documented positions maps its fields back', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
  // Words that mean "none" (NA, unknown…) are not facts: the gate drops them, so they cannot map back.
  const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ._-]{0,30}$/).filter((s) => s.trim() === s && !isPlaceholderText(s));
  fc.assert(
    fc.property(ipv4, ipv4, fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), word, fc.integer({ min: 1, max: 999999 }),
      fc.constantFrom('informational', 'low', 'medium', 'high', 'critical'), word,
      (src, dst, sport, dport, name, id, sev, user) => {
        const a = alertOf(panos, threat({ 7: src, 8: dst, 24: String(sport), 25: String(dport), 32: `${name}(${id})`, 34: sev, 12: `dom\\${user}` }));
        assert.equal(a.src?.ip, src);
        assert.equal(a.dst?.ip, dst);
        assert.equal(a.src?.port, sport);
        assert.equal(a.dst?.port, dport);
        assert.equal(a.rule?.id, String(id));
        assert.equal(a.title, name);
        assert.equal(a.vendor_severity?.value, sev);
        assert.equal(a.user?.name, user.trim());
      }),
    { numRuns: 150 },
  );
});

test('property: arbitrary text and mutated records never crash the detector', () => {
  const base = threat({});
  junkHoldsContract(panos, base, 400);
});
