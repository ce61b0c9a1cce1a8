/**
 * The panos detector on XML API log entries as the panos puller stores them (element name → text, JSON):
 * the same alert as the syslog CSV line carrying the same values, auto-detected, context for other types.
 * Field names after the XML API's entries (threatid = the name, tid = the number, thr_category, time_generated,
 * high_res_timestamp, device_name …).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import panos from '../../src/detectors/panos.js';
import { loadDetectors, rawRecord } from '../../src/detectors/lib/registry.js';
import { PANOS_XML_LAYOUTS } from '../../src/detectors/lib/panos.js';
import { OTHER_FORMATS, alertOf, contextOf, holdsContract, reasonOf, sniff } from './net-helpers.js';

const base: Record<string, string> = {
  logid: '7170591049594200066', domain: '1', receive_time: '2024/04/09 20:43:29', serial: '012801096514', seqno: '7332568507791862502',
  actionflags: '0x8000000000000000', type: 'THREAT', subtype: 'vulnerability', config_ver: '2561', time_generated: '2024/04/09 20:43:29',
  src: '10.84.12.242', dst: '192.0.2.67', natsrc: '198.51.100.150', natdst: '192.0.2.67', rule: 'Outbound-Web', srcuser: 'corp\\alice',
  dstuser: '', app: 'web-browsing', vsys: 'vsys1', from: 'Inside', to: 'Outside', inbound_if: 'ae1.1324', outbound_if: 'ae2.497',
  logset: 'default', time_received: '2024/04/09 20:43:29', sessionid: '2398805', repeatcnt: '1', sport: '50833', dport: '80',
  natsport: '14918', natdport: '80', flags: '0x1402000', proto: 'tcp', action: 'reset-both', misc: 'www.example.com/index.php?id=1',
  threatid: 'Microsoft Windows SMB Remote Code Execution Vulnerability', tid: '32424', category: 'computer-and-internet-info',
  severity: 'critical', direction: 'client-to-server', srcloc: '10.0.0.0-10.255.255.255', dstloc: 'United States',
  thr_category: 'code-execution', device_name: 'PA-5250', src_mac: '00:50:56:9f:cd:68', high_res_timestamp: '2024-04-09T20:43:29.123+02:00',
};
const json = (over: Record<string, string | undefined> = {}) => JSON.stringify({ ...base, ...over });

/** The syslog CSV line with the same values at the documented positions (the XML names mapped back). */
function csvOf(e: Record<string, string>): string {
  const layout = PANOS_XML_LAYOUTS[e['type']!]!;
  const f = Array<string>(115).fill('');
  const head: Record<string, number> = { receive_time: 1, serial: 2, type: 3, subtype: 4, config_ver: 5, time_generated: 6 };
  for (const [k, i] of Object.entries({ ...head, ...layout })) if (e[k] !== undefined) f[i] = e[k]!.includes(',') ? `"${e[k]}"` : e[k]!;
  f[0] = '1';
  if (e['type'] === 'THREAT') f[32] = e['threatid']!.endsWith(')') ? e['threatid']! : `${e['threatid']}(${e['tid']})`;
  return f.join(',');
}

test('a THREAT entry is the same alert as its syslog line (name + tid joined, high-res time, user, NAT, MAC, vendor_id)', () => {
  const a = alertOf(panos, json());
  assert.deepEqual(a, alertOf(panos, csvOf(base)));
  assert.equal(a.title, 'Microsoft Windows SMB Remote Code Execution Vulnerability');
  assert.deepEqual(a.rule, { id: '32424', name: 'Microsoft Windows SMB Remote Code Execution Vulnerability', category: 'code-execution' });
  assert.equal(a.severity, 95);
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2024-04-09T18:43:29.123Z');
  assert.deepEqual(a.src, { ip: '10.84.12.242', port: 50833, user: 'alice' });
  assert.deepEqual(a.user, { name: 'alice', domain: 'corp' });
  assert.equal(a.url, 'http://www.example.com/index.php?id=1');
  assert.equal(a.vendor_id, '012801096514:7332568507791862502');
  assert.deepEqual(a.device, { name: 'PA-5250', id: '012801096514' });
  assert.ok(a.observables.some((o) => o.type === 'ip' && o.value === '198.51.100.150' && o.role === 'src_nat'));
  assert.ok(a.observables.some((o) => o.type === 'mac' && o.value === '00:50:56:9f:cd:68'));
});

test('url subtype "(9999)", wildfire verdict, a threatid that already carries its id, no tid, generated time in the source zone', () => {
  const url = alertOf(panos, json({ subtype: 'url', threatid: '(9999)', tid: '9999', category: 'malware', dport: '443', misc: 'evil.example/x' }));
  assert.equal(url.title, 'URL filtering: malware - evil.example/x');
  assert.equal(url.rule?.id, 'url:malware');
  assert.equal(url.url, 'https://evil.example/x');
  const wf = alertOf(panos, json({ subtype: 'wildfire', threatid: 'Windows Executable (EXE)', tid: '52020', category: 'malicious', misc: 'invoice.exe', filedigest: 'a'.repeat(64), action: 'allow' }));
  assert.equal(wf.title, 'WildFire malicious: invoice.exe (Windows Executable (EXE))');
  assert.equal(wf.file?.sha256, 'a'.repeat(64));
  assert.equal(wf.action, 'allowed');
  assert.equal(alertOf(panos, json({ threatid: 'Eicar Test File(39040)', tid: undefined })).rule?.id, '39040');
  assert.equal(alertOf(panos, json({ threatid: 'Eicar Test File', tid: undefined })).rule?.id, undefined);
  const local = alertOf(panos, json({ high_res_timestamp: undefined }), { timeZone: 'America/New_York' });
  assert.equal(local.time, '2024-04-10T00:43:29.000Z');
});

test('TRAFFIC, SYSTEM and CONFIG entries are the same context as their syslog lines; other types keep their fields as data', () => {
  const traffic = {
    receive_time: '2024/04/09 20:43:29', serial: '012801096514', seqno: '991', type: 'TRAFFIC', subtype: 'end', time_generated: '2024/04/09 20:43:29',
    src: '10.0.0.5', dst: '203.0.113.9', srcuser: 'corp\\bob', sport: '50000', dport: '443', proto: 'tcp', action: 'allow', bytes: '1200',
    start: '2024/04/09 20:43:00', session_end_reason: 'tcp-fin', device_name: 'fw1', sessionid: '77',
  };
  const [t] = contextOf(panos, JSON.stringify(traffic));
  assert.deepEqual(t, contextOf(panos, csvOf(traffic))[0]);
  assert.equal(t!.kind, 'flow');
  assert.equal(t!.event_type, 'TRAFFIC/end');
  assert.deepEqual(t!.src, { ip: '10.0.0.5', port: 50000, user: 'bob' });
  assert.equal(t!.outcome, 'success');
  const system = { receive_time: '2024/04/09 20:43:29', serial: '012801096514', seqno: '5', type: 'SYSTEM', subtype: 'auth', time_generated: '2024/04/09 20:43:29', eventid: 'auth-success', severity: 'informational', opaque: "authenticated for user 'admin'. From: 10.1.1.1." };
  const [s] = contextOf(panos, JSON.stringify(system));
  assert.equal(s!.kind, 'auth');
  assert.equal(s!.user?.name, 'admin');
  assert.equal(s!.src?.ip, '10.1.1.1');
  const config = { receive_time: '2024/04/09 20:43:29', serial: '012801096514', seqno: '6', type: 'CONFIG', subtype: '0', time_generated: '2024/04/09 20:43:29', host: '10.3.3.3', cmd: 'set', admin: 'admin', client: 'Web', result: 'Succeeded', path: 'vsys  vsys1 rulebase' };
  const [c] = contextOf(panos, JSON.stringify(config));
  assert.deepEqual(c, contextOf(panos, csvOf(config))[0]);
  assert.equal(c!.kind, 'audit');
  assert.equal(c!.outcome, 'success');
  assert.equal(c!.src?.ip, '10.3.3.3');
  const userid = { receive_time: '2024/04/09 20:43:29', serial: '012801096514', seqno: '8', type: 'USERID', subtype: 'login', time_generated: '2024/04/09 20:43:29', ip: '10.2.2.2', user: 'corp\\carol', device_name: 'fw1' };
  const [u] = contextOf(panos, JSON.stringify(userid));
  assert.equal(u!.event_type, 'USERID/login');
  assert.equal((u!.data as Record<string, string>)['user'], 'corp\\carol');
  assert.deepEqual(u!.device, { name: 'fw1', id: '012801096514' });
  assert.ok(u!.observables.some((o) => o.value === '10.2.2.2'));
});

test('auto-detection: an entry is panos (not another JSON detector); other JSON is not panos; the CSV path is unchanged', async () => {
  assert.equal(sniff(panos, json()), 0.9);
  const reg = await loadDetectors();
  const found = reg.detect(rawRecord(json()));
  assert.ok('detector' in found && found.detector.name === 'panos', JSON.stringify('reason' in found ? found.reason : ''));
  const traffic = reg.detect(rawRecord(JSON.stringify({ type: 'TRAFFIC', receive_time: '2024/04/09 20:43:29', serial: '1', seqno: '2' })));
  assert.ok('detector' in traffic && traffic.detector.name === 'panos');
  for (const [name, text] of Object.entries(OTHER_FORMATS)) if (name !== 'panos' && name !== 'globalprotect') assert.ok(sniff(panos, text) < 0.5, `${name} is not panos`);
  // Look-alikes: not a PAN-OS type, a time in another form, neither serial nor seqno, an array.
  assert.equal(sniff(panos, json({ type: 'ALERT' })), 0);
  assert.equal(sniff(panos, json({ receive_time: '2024-04-09T20:43:29Z' })), 0);
  assert.equal(sniff(panos, JSON.stringify({ type: 'THREAT', receive_time: '2024/04/09 20:43:29' })), 0);
  assert.equal(sniff(panos, `[${json()}]`), 0);
  assert.equal(sniff(panos, OTHER_FORMATS['panos']!), 0.95);
  assert.match(reasonOf(panos, '{"type":"THREAT"}'), /not a PAN-OS XML API log entry/);
});

test('property: arbitrary string values in an entry never crash the detector', () => {
  const keys = Object.keys(base);
  fc.assert(
    fc.property(fc.constantFrom(...keys), fc.string({ maxLength: 200 }), (k, v) => {
      holdsContract(panos, json({ [k]: v }));
    }),
    { numRuns: 300 },
  );
});
